"""Config, reauth, reconfigure and options flow steps of an access-card sync entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from .cardsync import (
    DEFAULT_TABLE,
    CardDatabase,
    CardSyncAuthError,
    CardSyncCaFileError,
    CardSyncColumnMissingError,
    CardSyncConnectionError,
    CardSyncError,
    CardSyncPermissionError,
    CardSyncTableMissingError,
    CardSyncTimeoutError,
    CardSyncTlsError,
    CardSyncUnknownDatabaseError,
    InvalidTableNameError,
    format_groups,
    parse_groups,
)
from .const import (
    CONF_DATABASE,
    CONF_GROUPS,
    CONF_KIND,
    CONF_TABLE,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    CONF_TLS_VERIFY,
    DEFAULT_CARDS_SCAN_INTERVAL,
    DEFAULT_MYSQL_PORT,
    MAX_CARDS_SCAN_INTERVAL,
    MIN_CARDS_SCAN_INTERVAL,
    EntryKind,
)
from .coordinator_cards import (
    CardsCoordinator,
    async_db_settings,
    cards_title,
    cards_unique_id,
)

_TEXT = selector.TextSelector()
_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)


def _int_box(minimum: int, maximum: int) -> selector.NumberSelector:
    """Return a number box selector for integers."""
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum, max=maximum, step=1, mode=selector.NumberSelectorMode.BOX
        )
    )


async def async_validate_cards(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Connect and check the table; return form errors and their placeholders."""
    try:
        settings = await async_db_settings(hass, data)
    except CardSyncCaFileError:
        return {CONF_TLS_CA_FILE: "cards_ca_file"}, {}
    except InvalidTableNameError:
        return {CONF_TABLE: "cards_invalid_table_name"}, {}
    database = CardDatabase(settings, pool_size=1)
    try:
        await database.check()
    except CardSyncAuthError:
        return {"base": "cards_invalid_auth"}, {}
    except CardSyncUnknownDatabaseError:
        return {CONF_DATABASE: "cards_unknown_database"}, {}
    except CardSyncTableMissingError:
        return {CONF_TABLE: "cards_table_missing"}, {}
    except CardSyncColumnMissingError as err:
        return {CONF_TABLE: "cards_column_missing"}, {"columns": ", ".join(err.columns)}
    except CardSyncPermissionError as err:
        return {"base": "cards_no_permission"}, {"privilege": err.privilege}
    except CardSyncTlsError:
        return {"base": "cards_tls_error"}, {}
    except CardSyncTimeoutError:
        return {"base": "cards_timeout"}, {}
    except CardSyncConnectionError:
        return {"base": "cards_cannot_connect"}, {}
    except CardSyncError as err:
        return {"base": "cards_database_error"}, {"error": str(err)}
    finally:
        await database.close()
    return {}, {}


def _placeholders(extra: Mapping[str, str]) -> dict[str, str]:
    """Return every placeholder the card steps' texts use."""
    return {"columns": "", "privilege": "", "error": "", **extra}


class CardsFlowMixin(ConfigFlow):
    """Steps that add, reconfigure or re-authenticate a card sync."""

    _draft: dict[str, Any]

    async def async_step_reconfigure_cards(self) -> ConfigFlowResult:
        """Start changing the server, database or table of a card sync."""
        self._draft = dict(self._get_reconfigure_entry().data)
        return await self.async_step_cards()

    async def async_step_cards(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where the interface table is and how to log in."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        reconfigure = self.source == "reconfigure"
        if user_input is not None:
            data = {**self._draft, **user_input, CONF_KIND: EntryKind.CARDS}
            if reconfigure and not user_input.get(CONF_PASSWORD):
                # An empty password field keeps the stored password.
                data[CONF_PASSWORD] = self._get_reconfigure_entry().data[CONF_PASSWORD]
            data[CONF_PORT] = int(data[CONF_PORT])
            data[CONF_TABLE] = str(data.get(CONF_TABLE) or DEFAULT_TABLE).strip()
            data[CONF_HOST] = str(data[CONF_HOST]).strip()
            data[CONF_DATABASE] = str(data[CONF_DATABASE]).strip()
            data[CONF_TLS_CA_FILE] = str(data.get(CONF_TLS_CA_FILE) or "").strip()
            scan_interval = int(
                data.pop(CONF_SCAN_INTERVAL, DEFAULT_CARDS_SCAN_INTERVAL)
            )
            unique_id = cards_unique_id(data)
            if reconfigure:
                entry = self._get_reconfigure_entry()
                for other in self._async_current_entries(include_ignore=False):
                    if (
                        other.unique_id == unique_id
                        and other.entry_id != entry.entry_id
                    ):
                        return self.async_abort(reason="cards_already_configured")
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured(error="cards_already_configured")
            errors, found = await async_validate_cards(self.hass, data)
            placeholders = found
            if not errors:
                if reconfigure:
                    return self.async_update_reload_and_abort(
                        self._get_reconfigure_entry(),
                        unique_id=unique_id,
                        title=cards_title(data),
                        data=data,
                    )
                return self.async_create_entry(
                    title=cards_title(data),
                    data=data,
                    options={CONF_SCAN_INTERVAL: scan_interval, CONF_GROUPS: {}},
                )
            self._draft.update(
                {
                    key: value
                    for key, value in user_input.items()
                    if key != CONF_PASSWORD
                }
            )
        return self.async_show_form(
            step_id="cards",
            data_schema=self._cards_schema(reconfigure),
            errors=errors,
            description_placeholders=_placeholders(placeholders),
        )

    def _cards_schema(self, reconfigure: bool) -> vol.Schema:
        """Return the connection form, filled in with what is known."""
        draft = self._draft
        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_HOST, default=draft.get(CONF_HOST, "")): _TEXT,
            vol.Required(
                CONF_PORT, default=draft.get(CONF_PORT, DEFAULT_MYSQL_PORT)
            ): _int_box(1, 65535),
            vol.Required(CONF_DATABASE, default=draft.get(CONF_DATABASE, "")): _TEXT,
            vol.Required(CONF_USERNAME, default=draft.get(CONF_USERNAME, "")): _TEXT,
            # The stored password is never sent back to the browser.
            (
                vol.Optional(CONF_PASSWORD)
                if reconfigure
                else vol.Required(CONF_PASSWORD)
            ): _PASSWORD,
            vol.Required(
                CONF_TABLE, default=draft.get(CONF_TABLE, DEFAULT_TABLE)
            ): _TEXT,
            vol.Required(
                CONF_TLS, default=draft.get(CONF_TLS, False)
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_TLS_CA_FILE, default=draft.get(CONF_TLS_CA_FILE, "")
            ): _TEXT,
            vol.Required(
                CONF_TLS_VERIFY, default=draft.get(CONF_TLS_VERIFY, True)
            ): selector.BooleanSelector(),
        }
        if not reconfigure:
            fields[
                vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_CARDS_SCAN_INTERVAL)
            ] = _int_box(MIN_CARDS_SCAN_INTERVAL, MAX_CARDS_SCAN_INTERVAL)
        return vol.Schema(fields)

    async def async_step_cards_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start asking for a new password after the server refused the old one."""
        return await self.async_step_cards_reauth_confirm()

    async def async_step_cards_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the user name and the new password."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            errors, placeholders = await async_validate_cards(self.hass, data)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, data=data, reason="cards_reauth_successful"
                )
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_USERNAME, default=entry.data.get(CONF_USERNAME, "")
                ): _TEXT,
                vol.Required(CONF_PASSWORD): _PASSWORD,
            }
        )
        return self.async_show_form(
            step_id="cards_reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "title": entry.title,
                **_placeholders(placeholders),
            },
        )


class CardsOptionsFlow(OptionsFlow):
    """Sync interval and the names of the access groups."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Start with the menu."""
        return await self.async_step_cards_options()

    async def async_step_cards_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what can be changed."""
        return self.async_show_menu(
            step_id="cards_options", menu_options=["cards_settings", "cards_groups"]
        )

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Store the entry's options with some changed."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def async_step_cards_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how often the table is read."""
        if user_input is not None:
            return self._save(
                **{CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL])}
            )
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=self.config_entry.options.get(
                        CONF_SCAN_INTERVAL, DEFAULT_CARDS_SCAN_INTERVAL
                    ),
                ): _int_box(MIN_CARDS_SCAN_INTERVAL, MAX_CARDS_SCAN_INTERVAL)
            }
        )
        return self.async_show_form(step_id="cards_settings", data_schema=schema)

    async def async_step_cards_groups(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name each io_group_id code after its lobby-phone access group."""
        errors: dict[str, str] = {}
        placeholders = {"lines": ""}
        text = format_groups(self.config_entry.options.get(CONF_GROUPS, {}))
        if user_input is not None:
            text = user_input.get(CONF_GROUPS, "")
            groups, bad = parse_groups(text)
            if not bad:
                return self._save(**{CONF_GROUPS: groups})
            errors = {CONF_GROUPS: "cards_invalid_groups"}
            placeholders["lines"] = ", ".join(map(str, bad))
        unknown = "-"
        coordinator = getattr(self.config_entry, "runtime_data", None)
        if isinstance(coordinator, CardsCoordinator):
            unknown = ", ".join(coordinator.engine.unknown_groups()) or "-"
        schema = vol.Schema(
            {
                vol.Optional(CONF_GROUPS, default=text): selector.TextSelector(
                    selector.TextSelectorConfig(multiline=True)
                )
            }
        )
        return self.async_show_form(
            step_id="cards_groups",
            data_schema=schema,
            errors=errors,
            description_placeholders={**placeholders, "unknown": unknown},
        )

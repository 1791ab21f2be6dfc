"""Config, reauth, reconfigure and options flow steps of an access-card sync entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
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

from ..const import CONF_KIND, EntryKind
from ..helpers import async_finish_update, number_box
from .const import (
    CONF_DATABASE,
    CONF_GROUPS,
    CONF_TABLE,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    CONF_TLS_VERIFY,
    DEFAULT_MYSQL_PORT,
    DEFAULT_SCAN_INTERVAL,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
)
from .coordinator import CardsCoordinator, async_db_settings, cards_title
from .engine.database import CardDatabase
from .engine.errors import (
    CardSyncColumnMissingError,
    CardSyncError,
    CardSyncPermissionError,
)
from .engine.model import DEFAULT_TABLE, format_groups, parse_groups
from .errors import ERROR_FIELDS, ERROR_KEYS

_TEXT = selector.TextSelector()
_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)


async def async_validate_cards(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Connect and check the table; return form errors and their placeholders."""
    database: CardDatabase | None = None
    try:
        database = CardDatabase(await async_db_settings(hass, data), pool_size=1)
        await database.check()
    except CardSyncError as err:
        key = ERROR_KEYS.key(err)
        placeholders = {"error": str(err)}
        if isinstance(err, CardSyncColumnMissingError):
            placeholders["columns"] = ", ".join(err.columns)
        if isinstance(err, CardSyncPermissionError):
            placeholders["privilege"] = err.privilege
        return {ERROR_FIELDS.get(key, "base"): key}, placeholders
    finally:
        if database is not None:
            await database.close()
    return {}, {}


def _cleaned(data: dict[str, Any]) -> dict[str, Any]:
    """Return the connection settings as stored: numbers as numbers, text stripped."""
    data[CONF_PORT] = int(data[CONF_PORT])
    data[CONF_TABLE] = str(data.get(CONF_TABLE) or DEFAULT_TABLE).strip()
    for key in (CONF_HOST, CONF_DATABASE, CONF_USERNAME):
        data[key] = str(data[key]).strip()
    data[CONF_TLS_CA_FILE] = str(data.get(CONF_TLS_CA_FILE) or "").strip()
    return data


def _table_of(data: Mapping[str, Any]) -> tuple[str, int, str, str]:
    """Return which interface table a card sync reads: server, port, database, table."""
    return (
        str(data[CONF_HOST]).lower(),
        int(data.get(CONF_PORT, DEFAULT_MYSQL_PORT)),
        str(data[CONF_DATABASE]),
        str(data.get(CONF_TABLE, DEFAULT_TABLE)),
    )


def _login_of(data: Mapping[str, Any]) -> tuple[str, int, str]:
    """Return where a password is sent: server, port and user name."""
    return (
        str(data[CONF_HOST]).lower(),
        int(data.get(CONF_PORT, DEFAULT_MYSQL_PORT)),
        str(data[CONF_USERNAME]),
    )


def _placeholders(extra: Mapping[str, str]) -> dict[str, str]:
    """Return every placeholder the card steps' texts use."""
    return {"columns": "", "privilege": "", "error": "", **extra}


class CardsFlowMixin(ConfigFlow):
    """Steps that add, reconfigure or re-authenticate a card sync."""

    _draft: dict[str, Any]

    async def async_step_cards(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask where the interface table is and how to log in."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        reconfigure = self.source == SOURCE_RECONFIGURE
        if reconfigure and not self._draft:
            self._draft = dict(self._get_reconfigure_entry().data)
        if user_input is not None:
            data = _cleaned({**self._draft, **user_input, CONF_KIND: EntryKind.CARDS})
            scan_interval = int(data.pop(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
            if reconfigure:
                entry = self._get_reconfigure_entry()
                if _table_of(data)[2:] != _table_of(entry.data)[2:]:
                    return self.async_abort(reason="cards_different_database")
                if any(
                    _table_of(other.data) == _table_of(data)
                    for other in self._async_current_entries(include_ignore=False)
                    if other.entry_id != entry.entry_id
                    and other.data.get(CONF_KIND) == EntryKind.CARDS
                ):
                    return self.async_abort(reason="already_configured")
                if not user_input.get(CONF_PASSWORD):
                    if _login_of(data) != _login_of(entry.data):
                        # A stored password goes only to the server it was given for.
                        errors[CONF_PASSWORD] = "cards_password_required"
                    data[CONF_PASSWORD] = entry.data[CONF_PASSWORD]
            elif any(
                _table_of(other.data) == _table_of(data)
                for other in self._async_current_entries(include_ignore=False)
                if other.data.get(CONF_KIND) == EntryKind.CARDS
            ):
                return self.async_abort(reason="already_configured")
            if not errors:
                errors, placeholders = await async_validate_cards(self.hass, data)
            if not errors:
                if reconfigure:
                    return async_finish_update(
                        self,
                        self._get_reconfigure_entry(),
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
            ): number_box(1, 65535),
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
            # On unless turned off: with TLS on, a server that does not
            # offer it gets nothing, and the form says how to go on.
            vol.Required(
                CONF_TLS, default=draft.get(CONF_TLS, True)
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_TLS_CA_FILE, default=draft.get(CONF_TLS_CA_FILE, "")
            ): _TEXT,
            vol.Required(
                CONF_TLS_VERIFY, default=draft.get(CONF_TLS_VERIFY, True)
            ): selector.BooleanSelector(),
        }
        if not reconfigure:
            fields[vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL)] = (
                number_box(MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL)
            )
        return vol.Schema(fields)

    async def async_step_reauth(
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
                return async_finish_update(
                    self, entry, data=data, reason="reauth_successful"
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

    async def async_step_cards_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what can be changed."""
        return self.async_show_menu(
            step_id="cards_options", menu_options=["cards_settings", "cards_groups"]
        )

    #: The options open at the menu.
    async_step_init = async_step_cards_options

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
                        CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL
                    ),
                ): number_box(MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL)
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

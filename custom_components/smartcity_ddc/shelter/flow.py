"""Config, reconfigure and options flow steps of a shelter entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import voluptuous as vol

from ..const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_KIND,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_SLAVE,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    DEFAULT_BAUDRATE,
    DEFAULT_TCP_PORT,
    EntryKind,
)
from ..helpers import (
    async_finish_update,
    dropdown,
    line_config,
    line_pool,
    number_box,
    serial_line_fields,
    serial_line_input,
    serial_ports,
)
from ..line import LineConflictError, Parity, Transport
from .const import (
    CONF_ADDED_UNITS,
    CONF_POWER_RULE,
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
    CONF_UNIT_PORTS,
    DEFAULT_SCAN_INTERVAL,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    PowerRule,
)
from .coordinator import build_profile
from .engine.client import DdcClient
from .engine.errors import ProfileError
from .engine.profile import RELAY_TYPES, Profile, Unit, UnitType
from .errors import ERROR_KEYS, SHELTER_ERRORS
from .names import async_unit_names

_BAUDRATES = ["2400", "4800", "9600", "19200", "38400", "57600", "115200"]
_PORTS = [str(port) for port in range(1, 17)]


def _line_match(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stored values that say which DDC an entry is: its line and slave id."""
    if data[CONF_TRANSPORT] == Transport.SERIAL:
        where = {CONF_SERIAL_PORT: data[CONF_SERIAL_PORT]}
    else:
        where = {CONF_HOST: data[CONF_HOST], CONF_PORT: data[CONF_PORT]}
    return {CONF_KIND: EntryKind.SHELTER, CONF_SLAVE: data[CONF_SLAVE], **where}


async def async_validate_shelter(
    hass: HomeAssistant, data: Mapping[str, Any], profile: Profile
) -> dict[str, str]:
    """Poll the DDC once with a profile; return form errors."""
    pool = line_pool(hass)
    try:
        line = pool.acquire(line_config(data))
    except LineConflictError as err:
        return {"base": ERROR_KEYS.key(err)}
    try:
        snapshot = await DdcClient(line, int(data[CONF_SLAVE]), profile).poll(full=True)
    except SHELTER_ERRORS as err:
        return {"base": ERROR_KEYS.key(err)}
    finally:
        await pool.release(line)
    if not snapshot.raw:
        return {"base": "shelter_not_a_ddc"}
    return {}


class ShelterFlowMixin(ConfigFlow):
    """Steps that add a shelter or change how Home Assistant reaches its DDC."""

    _draft: dict[str, Any]

    async def async_step_shelter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how Home Assistant reaches the DDC's RS-485 line."""
        if self.source == SOURCE_RECONFIGURE and not self._draft:
            self._draft = dict(self._get_reconfigure_entry().data)
        if user_input is not None:
            self._draft[CONF_TRANSPORT] = user_input[CONF_TRANSPORT]
            if user_input[CONF_TRANSPORT] == Transport.SERIAL:
                return await self.async_step_shelter_serial()
            return await self.async_step_shelter_network()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TRANSPORT,
                    default=self._draft.get(CONF_TRANSPORT, Transport.TCP),
                ): dropdown([t.value for t in Transport], "line_transport")
            }
        )
        return self.async_show_form(step_id="shelter", data_schema=schema)

    def _common_fields(self) -> dict[vol.Marker, Any]:
        """Return the slave id and poll interval (new entries only: reconfigure keeps the DDC)."""
        if self.source == SOURCE_RECONFIGURE:
            return {}
        return {
            vol.Required(
                CONF_SLAVE, default=self._draft.get(CONF_SLAVE, 1)
            ): number_box(1, 247),
            vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): number_box(
                MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL
            ),
        }

    def _placeholders(self) -> dict[str, str]:
        """Return the slave id a reconfigure keeps (shown in the step's text)."""
        return {"slave": str(self._draft.get(CONF_SLAVE, ""))}

    async def async_step_shelter_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect by Modbus TCP or through an RS-485/Ethernet gateway."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result, errors = await self._async_finish_shelter(user_input)
            if result is not None:
                return result
            self._draft.update(user_input)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_HOST, default=self._draft.get(CONF_HOST, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_PORT, default=self._draft.get(CONF_PORT, DEFAULT_TCP_PORT)
                ): number_box(1, 65535),
                **self._common_fields(),
            }
        )
        return self.async_show_form(
            step_id="shelter_network",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    async def async_step_shelter_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect through a USB RS-485 adapter on this machine."""
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = {**user_input, **serial_line_input(user_input)}
            result, errors = await self._async_finish_shelter(user_input)
            if result is not None:
                return result
            self._draft.update(user_input)
        ports = await self.hass.async_add_executor_job(serial_ports)
        draft = self._draft
        schema = vol.Schema(
            {
                **serial_line_fields(
                    draft,
                    ports,
                    _BAUDRATES,
                    baudrate=DEFAULT_BAUDRATE,
                    parity=Parity.NONE,
                ),
                **self._common_fields(),
            }
        )
        return self.async_show_form(
            step_id="shelter_serial",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    async def _async_finish_shelter(
        self, user_input: dict[str, Any]
    ) -> tuple[ConfigFlowResult | None, dict[str, str]]:
        """Validate the connection, then create or update the entry."""
        data = {**self._draft, **user_input, CONF_KIND: EntryKind.SHELTER}
        data[CONF_SLAVE] = int(data[CONF_SLAVE])
        if data[CONF_TRANSPORT] == Transport.SERIAL:
            for key in (CONF_HOST, CONF_PORT):
                data.pop(key, None)
        else:
            data[CONF_PORT] = int(data[CONF_PORT])
            for key in (
                CONF_SERIAL_PORT,
                CONF_BAUDRATE,
                CONF_BYTESIZE,
                CONF_PARITY,
                CONF_STOPBITS,
            ):
                data.pop(key, None)
        scan_interval = int(data.pop(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
        reconfigure = self.source == SOURCE_RECONFIGURE
        if reconfigure:
            entry = self._get_reconfigure_entry()
            if any(
                other.entry_id != entry.entry_id
                and all(
                    other.data.get(key) == value
                    for key, value in _line_match(data).items()
                )
                for other in self._async_current_entries(include_ignore=False)
            ):
                return self.async_abort(reason="already_configured"), {}
            profile = await self.hass.async_add_executor_job(
                build_profile, entry.options
            )
        else:
            self._async_abort_entries_match(_line_match(data))
            profile = await self.hass.async_add_executor_job(build_profile, {})
        if errors := await async_validate_shelter(self.hass, data, profile):
            return None, errors
        where = (
            data[CONF_SERIAL_PORT]
            if data[CONF_TRANSPORT] == Transport.SERIAL
            else data[CONF_HOST]
        )
        title = f"DDC {data[CONF_SLAVE]} @ {where}"
        if reconfigure:
            return async_finish_update(
                self, self._get_reconfigure_entry(), title=title, data=data
            ), {}
        return self.async_create_entry(
            title=title,
            data=data,
            options={
                CONF_SCAN_INTERVAL: scan_interval,
                CONF_POWER_RULE: PowerRule.REFUSE,
            },
        ), {}


class ShelterOptionsFlow(OptionsFlow):
    """Poll interval, power rule, unit layout and profile override of a shelter."""

    async def async_step_shelter_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what can be changed."""
        return self.async_show_menu(
            step_id="shelter_options",
            menu_options=[
                "shelter_settings",
                "shelter_units",
                "shelter_relay_port",
                "shelter_add_relay",
                "shelter_profile",
            ],
        )

    #: The options open at the menu.
    async_step_init = async_step_shelter_options

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Store the entry's options with some changed."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def _base_profile_units(self) -> list[Unit]:
        """Return the units of the profile before the site's removals."""
        options = {
            key: value
            for key, value in self.config_entry.options.items()
            if key != CONF_REMOVED_UNITS
        }
        profile = await self.hass.async_add_executor_job(build_profile, options)
        return list(profile.units)

    async def async_step_shelter_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Poll interval and what a power command does in schedule mode."""
        if user_input is not None:
            return self._save(
                **{
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                    CONF_POWER_RULE: user_input[CONF_POWER_RULE],
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
                ): number_box(MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL),
                vol.Required(
                    CONF_POWER_RULE,
                    default=options.get(CONF_POWER_RULE, PowerRule.REFUSE),
                ): dropdown([rule.value for rule in PowerRule], "shelter_power_rule"),
            }
        )
        return self.async_show_form(step_id="shelter_settings", data_schema=schema)

    async def _unit_options(
        self, units: list[Unit], *, port: bool = False
    ) -> list[selector.SelectOptionDict]:
        """Return the units as choices labelled with their names (and relay port)."""
        names = await async_unit_names(self.hass, units)
        return [
            selector.SelectOptionDict(
                value=f"{unit.device_id}.{unit.unit_id}",
                label=f"{names[unit.uid]} (DO{unit.port})"
                if port
                else f"{names[unit.uid]} ({unit.device_id}.{unit.unit_id})",
            )
            for unit in units
        ]

    async def async_step_shelter_units(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose which units of the layout this shelter has."""
        units = await self._base_profile_units()
        ids = [f"{unit.device_id}.{unit.unit_id}" for unit in units]
        errors: dict[str, str] = {}
        removed = set(self.config_entry.options.get(CONF_REMOVED_UNITS, []))
        selected = [uid for uid in ids if uid not in removed]
        if user_input is not None:
            keep = set(user_input["units"])
            if keep:
                return self._save(
                    **{CONF_REMOVED_UNITS: [uid for uid in ids if uid not in keep]}
                )
            errors = {"base": "shelter_no_units"}
            selected = []
        schema = vol.Schema(
            {
                vol.Required("units", default=selected): dropdown(
                    await self._unit_options(units), multiple=True
                )
            }
        )
        return self.async_show_form(
            step_id="shelter_units", data_schema=schema, errors=errors
        )

    async def async_step_shelter_relay_port(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move a relay unit to the DO port it is actually wired to."""
        units = [
            unit
            for unit in await self._base_profile_units()
            if unit.type in RELAY_TYPES
        ]
        errors: dict[str, str] = {}
        issues = ""
        if user_input is not None:
            ports = {
                **self.config_entry.options.get(CONF_UNIT_PORTS, {}),
                user_input["unit"]: int(user_input["port"]),
            }
            if not (issues := await self._layout_issues(CONF_UNIT_PORTS, ports)):
                return self._save(**{CONF_UNIT_PORTS: ports})
            errors = {"base": "shelter_invalid_layout"}
        schema = vol.Schema(
            {
                vol.Required("unit"): dropdown(
                    await self._unit_options(units, port=True)
                ),
                vol.Required("port"): dropdown(_PORTS),
            }
        )
        return self.async_show_form(
            step_id="shelter_relay_port",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def async_step_shelter_add_relay(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a unit on a spare relay output (DO9-DO16 in the standard layout)."""
        errors: dict[str, str] = {}
        issues = ""
        if user_input is not None:
            unit = {
                "id": user_input["unit_id"].strip().lower(),
                "type": user_input["unit_type"],
                "name": {"ko": user_input["name_ko"], "en": user_input["name_en"]},
                "port": int(user_input["port"]),
            }
            added = [*self.config_entry.options.get(CONF_ADDED_UNITS, []), unit]
            if not (issues := await self._layout_issues(CONF_ADDED_UNITS, added)):
                return self._save(**{CONF_ADDED_UNITS: added})
            errors = {"base": "shelter_invalid_layout"}
        relay_types = sorted(
            t.value for t in RELAY_TYPES if t is not UnitType.EXTERNALSW
        )
        schema = vol.Schema(
            {
                vol.Required("unit_id", default="d091.u001"): selector.TextSelector(),
                vol.Required("unit_type", default=UnitType.RELAY.value): dropdown(
                    relay_types, "shelter_unit_type"
                ),
                vol.Required("name_ko"): selector.TextSelector(),
                vol.Required("name_en"): selector.TextSelector(),
                vol.Required("port", default="9"): dropdown(_PORTS),
            }
        )
        return self.async_show_form(
            step_id="shelter_add_relay",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def async_step_shelter_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Paste a site profile (YAML or JSON); empty restores the standard shelter."""
        errors: dict[str, str] = {}
        issues = ""
        if user_input is not None:
            text = user_input.get(CONF_PROFILE, "").strip()
            if not (issues := await self._layout_issues(CONF_PROFILE, text)):
                return self._save(**{CONF_PROFILE: text})
            errors = {CONF_PROFILE: "shelter_invalid_profile"}
        schema = vol.Schema(
            {
                vol.Optional(
                    CONF_PROFILE,
                    default=self.config_entry.options.get(CONF_PROFILE, ""),
                ): selector.TextSelector(selector.TextSelectorConfig(multiline=True))
            }
        )
        return self.async_show_form(
            step_id="shelter_profile",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def _layout_issues(self, key: str, value: Any) -> str:
        """Return the profile's problems with one option changed, one per line ('' if none)."""
        options = {**self.config_entry.options, key: value}
        try:
            await self.hass.async_add_executor_job(build_profile, options)
        except ProfileError as err:
            return "\n".join(f"- {issue}" for issue in err.issues)
        return ""

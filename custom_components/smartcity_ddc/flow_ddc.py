"""Config and options flow steps of a shelter DDC entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import serial.tools.list_ports
import voluptuous as vol

from .const import (
    CONF_ADDED_UNITS,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_KIND,
    CONF_PARITY,
    CONF_POWER_RULE,
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
    CONF_SERIAL_PORT,
    CONF_SLAVE,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    CONF_UNIT_PORTS,
    DEFAULT_BAUDRATE,
    DEFAULT_DDC_SCAN_INTERVAL,
    DEFAULT_TCP_PORT,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    EntryKind,
    PowerRule,
)
from .coordinator import build_profile, entry_unique_id, line_config, line_pool
from .ddc import (
    DdcClient,
    DdcConnectionError,
    DdcError,
    DdcNoResponseError,
    DdcTimeoutError,
    LineConflictError,
    ProfileError,
    Transport,
    UnitType,
)
from .ddc.profile import RELAY_TYPES

_BAUDRATES = ["2400", "4800", "9600", "19200", "38400", "57600", "115200"]
_PARITIES = ["N", "E", "O"]


def _int_box(minimum: int, maximum: int, step: int = 1) -> selector.NumberSelector:
    """Return a number box selector for integers."""
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum, max=maximum, step=step, mode=selector.NumberSelectorMode.BOX
        )
    )


def _select(
    options: list[str], key: str | None = None, *, custom: bool = False
) -> selector.SelectSelector:
    """Return a dropdown selector, translated when a key is given."""
    config = selector.SelectSelectorConfig(
        options=options, custom_value=custom, mode=selector.SelectSelectorMode.DROPDOWN
    )
    if key is not None:
        config["translation_key"] = key
    return selector.SelectSelector(config)


def _serial_ports() -> list[str]:
    """List the serial ports of this machine (blocking)."""
    return sorted(
        port.device for port in serial.tools.list_ports.comports(include_links=True)
    )


async def async_validate_ddc(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> dict[str, str]:
    """Poll the DDC once with the standard profile; return form errors."""
    pool = line_pool(hass)
    try:
        line = pool.acquire(line_config(data))
    except LineConflictError:
        return {"base": "line_conflict"}
    try:
        profile = await hass.async_add_executor_job(build_profile, {})
        snapshot = await DdcClient(line, int(data[CONF_SLAVE]), profile).poll(full=True)
    except DdcNoResponseError:
        return {"base": "no_ddc_at_slave"}
    except DdcTimeoutError:
        return {"base": "timeout"}
    except DdcConnectionError:
        return {"base": "cannot_connect"}
    except DdcError:
        return {"base": "not_a_ddc"}
    finally:
        await pool.release(line)
    if not snapshot.raw:
        return {"base": "not_a_ddc"}
    return {}


class DdcFlowMixin(ConfigFlow):
    """Steps that add or reconfigure a DDC; mixed into the integration's flow."""

    _draft: dict[str, Any]

    async def async_step_reconfigure_ddc(self) -> ConfigFlowResult:
        """Start changing the connection of an existing DDC entry."""
        self._draft = dict(self._get_reconfigure_entry().data)
        return await self.async_step_ddc()

    async def async_step_ddc(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how Home Assistant reaches the DDC's RS-485 line."""
        if user_input is not None:
            self._draft[CONF_TRANSPORT] = user_input[CONF_TRANSPORT]
            if user_input[CONF_TRANSPORT] == Transport.SERIAL:
                return await self.async_step_ddc_serial()
            return await self.async_step_ddc_network()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TRANSPORT,
                    default=self._draft.get(CONF_TRANSPORT, Transport.TCP),
                ): _select([t.value for t in Transport], CONF_TRANSPORT)
            }
        )
        return self.async_show_form(step_id="ddc", data_schema=schema)

    def _common_fields(self) -> dict[vol.Marker, Any]:
        """Return the slave id and (new entries only) poll interval fields."""
        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_SLAVE, default=self._draft.get(CONF_SLAVE, 1)): _int_box(
                1, 247
            )
        }
        if self.source != "reconfigure":
            fields[
                vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_DDC_SCAN_INTERVAL)
            ] = _int_box(MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL)
        return fields

    async def async_step_ddc_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect by Modbus TCP or through an RS-485/Ethernet gateway."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result, errors = await self._async_finish_ddc(user_input)
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
                ): _int_box(1, 65535),
                **self._common_fields(),
            }
        )
        return self.async_show_form(
            step_id="ddc_network", data_schema=schema, errors=errors
        )

    async def async_step_ddc_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Connect through a USB RS-485 adapter on this machine."""
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = {
                **user_input,
                CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
                CONF_BYTESIZE: int(user_input[CONF_BYTESIZE]),
                CONF_STOPBITS: int(user_input[CONF_STOPBITS]),
            }
            result, errors = await self._async_finish_ddc(user_input)
            if result is not None:
                return result
            self._draft.update(user_input)
        ports = await self.hass.async_add_executor_job(_serial_ports)
        draft = self._draft
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SERIAL_PORT,
                    default=draft.get(CONF_SERIAL_PORT, ports[0] if ports else ""),
                ): _select(ports, custom=True),
                vol.Required(
                    CONF_BAUDRATE,
                    default=str(draft.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
                ): _select(_BAUDRATES),
                vol.Required(
                    CONF_BYTESIZE, default=str(draft.get(CONF_BYTESIZE, 8))
                ): _select(["7", "8"]),
                vol.Required(CONF_PARITY, default=draft.get(CONF_PARITY, "N")): _select(
                    _PARITIES, CONF_PARITY
                ),
                vol.Required(
                    CONF_STOPBITS, default=str(draft.get(CONF_STOPBITS, 1))
                ): _select(["1", "2"]),
                **self._common_fields(),
            }
        )
        return self.async_show_form(
            step_id="ddc_serial", data_schema=schema, errors=errors
        )

    async def _async_finish_ddc(
        self, user_input: dict[str, Any]
    ) -> tuple[ConfigFlowResult | None, dict[str, str]]:
        """Validate the connection, then create or update the entry."""
        data = {**self._draft, **user_input, CONF_KIND: EntryKind.DDC}
        data[CONF_SLAVE] = int(data[CONF_SLAVE])
        if CONF_PORT in data:
            data[CONF_PORT] = int(data[CONF_PORT])
        scan_interval = int(data.pop(CONF_SCAN_INTERVAL, DEFAULT_DDC_SCAN_INTERVAL))
        unique_id = entry_unique_id(data)
        if self.source == "reconfigure":
            entry = self._get_reconfigure_entry()
            for other in self._async_current_entries(include_ignore=False):
                if other.unique_id == unique_id and other.entry_id != entry.entry_id:
                    return self.async_abort(reason="already_configured"), {}
        else:
            await self.async_set_unique_id(unique_id)
            self._abort_if_unique_id_configured()
        if errors := await async_validate_ddc(self.hass, data):
            return None, errors
        where = (
            data[CONF_SERIAL_PORT]
            if data[CONF_TRANSPORT] == Transport.SERIAL
            else data[CONF_HOST]
        )
        title = f"DDC {data[CONF_SLAVE]} @ {where}"
        if self.source == "reconfigure":
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(),
                unique_id=unique_id,
                title=title,
                data=data,
            ), {}
        return self.async_create_entry(
            title=title,
            data=data,
            options={
                CONF_SCAN_INTERVAL: scan_interval,
                CONF_POWER_RULE: PowerRule.REFUSE,
            },
        ), {}


class DdcOptionsFlow(OptionsFlow):
    """Poll interval, power rule, unit layout and profile override of a DDC."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what can be changed."""
        return self.async_show_menu(
            step_id="init",
            menu_options=["settings", "units", "relay_port", "add_relay", "profile"],
        )

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Store the entry's options with some changed."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def _base_profile_units(self) -> list[Any]:
        """Return the units of the profile before the site's removals."""
        options = {
            key: value
            for key, value in self.config_entry.options.items()
            if key != CONF_REMOVED_UNITS
        }
        profile = await self.hass.async_add_executor_job(build_profile, options)
        return list(profile.units)

    async def async_step_settings(
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
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_DDC_SCAN_INTERVAL),
                ): _int_box(MIN_SCAN_INTERVAL, MAX_SCAN_INTERVAL),
                vol.Required(
                    CONF_POWER_RULE,
                    default=options.get(CONF_POWER_RULE, PowerRule.REFUSE),
                ): _select([rule.value for rule in PowerRule], CONF_POWER_RULE),
            }
        )
        return self.async_show_form(step_id="settings", data_schema=schema)

    async def async_step_units(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose which units of the layout this shelter has."""
        units = await self._base_profile_units()
        ids = [f"{unit.device_id}.{unit.unit_id}" for unit in units]
        if user_input is not None:
            keep = set(user_input["units"])
            if not keep:
                return self.async_show_form(
                    step_id="units",
                    data_schema=self._units_schema(units, ids, []),
                    errors={"base": "no_units"},
                )
            return self._save(
                **{CONF_REMOVED_UNITS: [uid for uid in ids if uid not in keep]}
            )
        removed = set(self.config_entry.options.get(CONF_REMOVED_UNITS, []))
        return self.async_show_form(
            step_id="units",
            data_schema=self._units_schema(
                units, ids, [i for i in ids if i not in removed]
            ),
        )

    def _units_schema(
        self, units: list[Any], ids: list[str], selected: list[str]
    ) -> vol.Schema:
        """Return a multi-select of units labelled with their names."""
        korean = self.hass.config.language == "ko"
        options = [
            selector.SelectOptionDict(
                value=uid, label=f"{unit.name_ko if korean else unit.name_en} ({uid})"
            )
            for uid, unit in zip(ids, units, strict=True)
        ]
        return vol.Schema(
            {
                vol.Required("units", default=selected): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=options,
                        multiple=True,
                        mode=selector.SelectSelectorMode.LIST,
                    )
                )
            }
        )

    async def async_step_relay_port(
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
            options = {**self.config_entry.options, CONF_UNIT_PORTS: ports}
            if not (issues := await self._profile_issues(options)):
                return self._save(**{CONF_UNIT_PORTS: ports})
            errors = {"base": "invalid_layout"}
        korean = self.hass.config.language == "ko"
        schema = vol.Schema(
            {
                vol.Required("unit"): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[
                            selector.SelectOptionDict(
                                value=f"{unit.device_id}.{unit.unit_id}",
                                label=f"{unit.name_ko if korean else unit.name_en} (DO{unit.port})",
                            )
                            for unit in units
                        ],
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required("port"): _select([str(port) for port in range(1, 17)]),
            }
        )
        return self.async_show_form(
            step_id="relay_port",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def async_step_add_relay(
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
            options = {**self.config_entry.options, CONF_ADDED_UNITS: added}
            if not (issues := await self._profile_issues(options)):
                return self._save(**{CONF_ADDED_UNITS: added})
            errors = {"base": "invalid_layout"}
        relay_types = sorted(
            t.value for t in RELAY_TYPES if t is not UnitType.EXTERNALSW
        )
        schema = vol.Schema(
            {
                vol.Required("unit_id", default="d091.u001"): selector.TextSelector(),
                vol.Required("unit_type", default=UnitType.RELAY.value): _select(
                    relay_types, "unit_type"
                ),
                vol.Required("name_ko"): selector.TextSelector(),
                vol.Required("name_en"): selector.TextSelector(),
                vol.Required("port", default="9"): _select(
                    [str(port) for port in range(1, 17)]
                ),
            }
        )
        return self.async_show_form(
            step_id="add_relay",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def async_step_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Paste a site profile (YAML or JSON); empty restores the standard shelter."""
        errors: dict[str, str] = {}
        issues = ""
        if user_input is not None:
            text = user_input.get(CONF_PROFILE, "").strip()
            options = {**self.config_entry.options, CONF_PROFILE: text}
            if not (issues := await self._profile_issues(options)):
                return self._save(**{CONF_PROFILE: text})
            errors = {CONF_PROFILE: "invalid_profile"}
        schema = vol.Schema(
            {
                vol.Optional(
                    CONF_PROFILE,
                    default=self.config_entry.options.get(CONF_PROFILE, ""),
                ): selector.TextSelector(selector.TextSelectorConfig(multiline=True))
            }
        )
        return self.async_show_form(
            step_id="profile",
            data_schema=schema,
            errors=errors,
            description_placeholders={"issues": issues},
        )

    async def _profile_issues(self, options: Mapping[str, Any]) -> str:
        """Return the profile's problems with these options, one per line ('' if none)."""
        try:
            await self.hass.async_add_executor_job(build_profile, options)
        except ProfileError as err:
            return "\n".join(f"- {issue}" for issue in err.issues)
        return ""

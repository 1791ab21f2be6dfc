"""Flow steps of a meter site: the site (add, rename), its settings, and each meter as a subentry."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.util import slugify
import voluptuous as vol

from ..const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DEFAULT_TCP_PORT,
    DOMAIN,
    EntryKind,
)
from ..helpers import dropdown, line_pool, number_box
from ..line import LineError, RegisterKind, Transport
from .config import MeterConfig
from .const import (
    CONF_ENTITY,
    CONF_GAP_HOURS,
    CONF_LEAK_THRESHOLD,
    CONF_METER_ID,
    CONF_Q3,
    CONF_Q4,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_SCALE,
    CONF_SOURCE,
    CONF_WORD_ORDER,
    DEFAULT_GAP_HOURS,
    DEFAULT_SCALE,
    DEFAULT_SCAN_INTERVAL,
    SUBENTRY_METER,
    MeterSource,
)
from .engine.model import DEFAULT_LEAK_THRESHOLD, DEFAULT_Q3, DEFAULT_Q4
from .errors import ERROR_KEYS

#: Meter ids become statistic ids (smartcity_ddc:water_<id>): lowercase words joined by "_".
METER_ID: Final = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
METER_ID_MAX: Final = 40
#: What a meter read over Modbus stores besides its id and rated flows.
_MODBUS_KEYS: Final = (
    CONF_TRANSPORT,
    CONF_HOST,
    CONF_PORT,
    CONF_SLAVE,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_SCALE,
    CONF_WORD_ORDER,
)


def _site_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Return the communication gap and leak threshold fields."""
    return {
        vol.Required(
            CONF_GAP_HOURS,
            default=defaults.get(CONF_GAP_HOURS, DEFAULT_GAP_HOURS),
        ): number_box(1, 168, 1, "h"),
        vol.Required(
            CONF_LEAK_THRESHOLD,
            default=defaults.get(CONF_LEAK_THRESHOLD, DEFAULT_LEAK_THRESHOLD * 1000),
        ): number_box(0.1, 1000, 0.1, "L/h"),
    }


def _site_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the site thresholds as stored."""
    return {
        CONF_GAP_HOURS: float(user_input[CONF_GAP_HOURS]),
        CONF_LEAK_THRESHOLD: float(user_input[CONF_LEAK_THRESHOLD]),
    }


def _site_name_error(
    hass: HomeAssistant, name: str, entry_id: str | None = None
) -> str | None:
    """Return why a site name can't be used: no letter or digit, or another site's name."""
    if not any(char.isalnum() for char in name):
        return "meters_invalid_name"
    if any(
        slugify(other.title) == slugify(name)
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.data.get(CONF_KIND) == EntryKind.METERS and other.entry_id != entry_id
    ):
        return "meters_name_taken"
    return None


class MetersFlowMixin(ConfigFlow):
    """Steps that add or rename a meter site; its meters are added as subentries."""

    async def async_step_meters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the site and set its status thresholds (reconfigure: rename it)."""
        reconfigure = self.source == SOURCE_RECONFIGURE
        entry = self._get_reconfigure_entry() if reconfigure else None
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if error := _site_name_error(
                self.hass, name, entry.entry_id if entry else None
            ):
                errors[CONF_NAME] = error
            elif entry is not None:
                return self.async_update_reload_and_abort(
                    entry, title=name, data={**entry.data, CONF_NAME: name}
                )
            else:
                return self.async_create_entry(
                    title=name,
                    data={CONF_KIND: EntryKind.METERS, CONF_NAME: name},
                    options={
                        **_site_options(user_input),
                        CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
                    },
                )
        fields: dict[vol.Marker, Any] = {
            vol.Required(
                CONF_NAME, default=entry.title if entry else vol.UNDEFINED
            ): selector.TextSelector()
        }
        if entry is None:
            fields |= _site_fields(user_input or {})
        return self.async_show_form(
            step_id="meters", data_schema=vol.Schema(fields), errors=errors
        )


class MetersOptionsFlow(OptionsFlow):
    """A site's communication gap, leak threshold and Modbus poll interval."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Start with the site's settings."""
        return await self.async_step_meters_settings()

    async def async_step_meters_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Communication gap, leak threshold and Modbus poll interval."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    **self.config_entry.options,
                    **_site_options(user_input),
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                **_site_fields(options),
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
                ): number_box(10, 3600, 1, "s"),
            }
        )
        return self.async_show_form(step_id="meters_settings", data_schema=schema)


async def async_validate_modbus_meter(
    hass: HomeAssistant, meter: MeterConfig
) -> dict[str, str]:
    """Read a meter's index registers once; return form errors."""
    assert meter.line is not None
    pool = line_pool(hass)
    try:
        line = pool.acquire(meter.line)
    except LineError as err:
        return {"base": ERROR_KEYS.key(err)}
    try:
        await line.read(meter.slave, meter.index_request)
    except LineError as err:
        return {"base": ERROR_KEYS.key(err)}
    finally:
        await pool.release(line)
    return {}


def meter_ids(hass: HomeAssistant) -> set[str]:
    """Return the id of every meter of every site (ids name statistics, so they are unique)."""
    return {
        str(subentry.data.get(CONF_METER_ID))
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_METER
    }


class MeterSubentryFlow(ConfigSubentryFlow):
    """Add a meter to a site, or change one: name, rated flows, where its readings come from."""

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}

    def _meter_fields(self) -> dict[vol.Marker, Any]:
        """Return the name, rated flow and source fields, filled from the draft."""
        draft = self._draft
        return {
            vol.Required(
                CONF_NAME, default=draft.get(CONF_NAME, "")
            ): selector.TextSelector(),
            vol.Required(CONF_Q3, default=draft.get(CONF_Q3, DEFAULT_Q3)): number_box(
                0.01, 10000, 0.001, "m³/h"
            ),
            vol.Required(CONF_Q4, default=draft.get(CONF_Q4, DEFAULT_Q4)): number_box(
                0.01, 10000, 0.001, "m³/h"
            ),
            vol.Required(
                CONF_SOURCE, default=draft.get(CONF_SOURCE, MeterSource.PUSH)
            ): dropdown([source.value for source in MeterSource], "meters_source"),
        }

    def _take_meter_fields(self, user_input: dict[str, Any]) -> dict[str, str]:
        """Copy name, flows and source into the draft; return form errors."""
        q3, q4 = float(user_input[CONF_Q3]), float(user_input[CONF_Q4])
        if not 0 < q3 <= q4:
            return {CONF_Q4: "meters_invalid_flow"}
        if not user_input[CONF_NAME].strip():
            return {CONF_NAME: "meters_invalid_name"}
        self._draft.update(
            {
                CONF_NAME: user_input[CONF_NAME].strip(),
                CONF_Q3: q3,
                CONF_Q4: q4,
                CONF_SOURCE: user_input[CONF_SOURCE],
            }
        )
        return {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a meter: id, name, rated flows and where its readings come from."""
        errors: dict[str, str] = {}
        if user_input is not None:
            meter_id = user_input[CONF_METER_ID].strip().lower()
            self._draft = {CONF_METER_ID: meter_id}
            if not METER_ID.fullmatch(meter_id) or len(meter_id) > METER_ID_MAX:
                errors[CONF_METER_ID] = "meters_invalid_meter_id"
            elif meter_id in meter_ids(self.hass):
                errors[CONF_METER_ID] = "meters_meter_exists"
            elif not (errors := self._take_meter_fields(user_input)):
                return await self._async_step_source()
            self._draft.update(user_input)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_METER_ID, default=self._draft.get(CONF_METER_ID, "")
                ): selector.TextSelector(),
                **self._meter_fields(),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a meter's name, rated flows or source (its id stays)."""
        if not self._draft:
            subentry = self._get_reconfigure_subentry()
            self._draft = {**subentry.data, CONF_NAME: subentry.title}
        errors: dict[str, str] = {}
        if user_input is not None and not (
            errors := self._take_meter_fields(user_input)
        ):
            return await self._async_step_source()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(self._meter_fields()),
            errors=errors,
            description_placeholders={"meter": self._draft[CONF_METER_ID]},
        )

    async def _async_step_source(self) -> SubentryFlowResult:
        """Continue with the settings of the meter's source."""
        source = MeterSource(self._draft[CONF_SOURCE])
        if source is MeterSource.SENSOR:
            return await self.async_step_sensor()
        if source is MeterSource.MODBUS:
            return await self.async_step_modbus()
        return self._save_meter()

    async def async_step_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose the sensor that carries the meter's index."""
        if user_input is not None:
            self._draft[CONF_ENTITY] = user_input[CONF_ENTITY]
            return self._save_meter()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_ENTITY, default=self._draft.get(CONF_ENTITY, vol.UNDEFINED)
                ): selector.EntitySelector(
                    selector.EntitySelectorConfig(domain="sensor")
                )
            }
        )
        return self.async_show_form(step_id="sensor", data_schema=schema)

    async def async_step_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Where the meter's uint32 index register is: line, slave, address, scale."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft.update(
                {
                    **user_input,
                    CONF_PORT: int(user_input[CONF_PORT]),
                    CONF_SLAVE: int(user_input[CONF_SLAVE]),
                    CONF_REGISTER: int(user_input[CONF_REGISTER]),
                    CONF_SCALE: float(user_input[CONF_SCALE]),
                }
            )
            meter = MeterConfig.from_data(draft, name=draft[CONF_NAME])
            if not (errors := await async_validate_modbus_meter(self.hass, meter)):
                return self._save_meter()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TRANSPORT, default=draft.get(CONF_TRANSPORT, Transport.TCP)
                ): dropdown(
                    [Transport.TCP.value, Transport.RTU_OVER_TCP.value],
                    "line_transport",
                ),
                vol.Required(
                    CONF_HOST, default=draft.get(CONF_HOST, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_PORT, default=draft.get(CONF_PORT, DEFAULT_TCP_PORT)
                ): number_box(1, 65535),
                vol.Required(CONF_SLAVE, default=draft.get(CONF_SLAVE, 1)): number_box(
                    1, 247
                ),
                vol.Required(
                    CONF_REGISTER, default=draft.get(CONF_REGISTER, 0)
                ): number_box(0, 65534),
                vol.Required(
                    CONF_REGISTER_KIND,
                    default=draft.get(CONF_REGISTER_KIND, RegisterKind.HOLDING),
                ): dropdown(
                    [RegisterKind.HOLDING.value, RegisterKind.INPUT.value],
                    "meters_register_kind",
                ),
                vol.Required(
                    CONF_SCALE, default=draft.get(CONF_SCALE, DEFAULT_SCALE)
                ): number_box(0.0001, 1000, "any", "m³"),
                vol.Required(
                    CONF_WORD_ORDER, default=draft.get(CONF_WORD_ORDER, "big")
                ): dropdown(["big", "little"], "meters_word_order"),
            }
        )
        return self.async_show_form(step_id="modbus", data_schema=schema, errors=errors)

    def _save_meter(self) -> SubentryFlowResult:
        """Store the draft as a new meter, or as the meter being reconfigured."""
        draft = self._draft
        source = MeterSource(draft[CONF_SOURCE])
        data = {
            key: draft[key] for key in (CONF_METER_ID, CONF_Q3, CONF_Q4, CONF_SOURCE)
        }
        if source is MeterSource.SENSOR:
            data[CONF_ENTITY] = draft[CONF_ENTITY]
        elif source is MeterSource.MODBUS:
            data.update({key: draft[key] for key in _MODBUS_KEYS})
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=draft[CONF_NAME],
                data=data,
            )
        return self.async_create_entry(
            title=draft[CONF_NAME], data=data, unique_id=data[CONF_METER_ID]
        )


class BusSubentryFlow(ConfigSubentryFlow):
    """Add an RS-485 meter bus to a site (its flow steps are still to come)."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Not offered yet."""
        return self.async_abort(reason="meters_bus_not_ready")

"""Config and options flow steps of a water-meter site entry."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Final, Literal

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.util import slugify
import voluptuous as vol

from .const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    CONF_WATER_ENTITY,
    CONF_WATER_GAP_HOURS,
    CONF_WATER_LEAK_THRESHOLD,
    CONF_WATER_METER_ID,
    CONF_WATER_METERS,
    CONF_WATER_Q3,
    CONF_WATER_Q4,
    CONF_WATER_REGISTER,
    CONF_WATER_REGISTER_KIND,
    CONF_WATER_SCALE,
    CONF_WATER_SOURCE,
    CONF_WATER_WORD_ORDER,
    DEFAULT_TCP_PORT,
    DEFAULT_WATER_GAP_HOURS,
    DEFAULT_WATER_SCALE,
    DEFAULT_WATER_SCAN_INTERVAL,
    DOMAIN,
    EntryKind,
    WaterSource,
)
from .coordinator import line_pool
from .coordinator_water import MeterConfig
from .ddc import (
    DdcDeviceError,
    DdcError,
    DdcTimeoutError,
    LineConflictError,
    ReadRequest,
    RegisterKind,
    Transport,
)
from .water import DEFAULT_LEAK_THRESHOLD, DEFAULT_Q3, DEFAULT_Q4

#: Meter ids become statistic ids (smartcity_ddc:water_<id>): lowercase words joined by "_".
METER_ID: Final = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
METER_ID_MAX: Final = 40
_MODBUS_KEYS: Final = (
    CONF_TRANSPORT,
    CONF_HOST,
    CONF_PORT,
    CONF_SLAVE,
    CONF_WATER_REGISTER,
    CONF_WATER_REGISTER_KIND,
    CONF_WATER_SCALE,
    CONF_WATER_WORD_ORDER,
)


def _box(
    minimum: float,
    maximum: float,
    step: float | Literal["any"] = 1,
    unit: str | None = None,
) -> selector.NumberSelector:
    """Return a number box selector."""
    config = selector.NumberSelectorConfig(
        min=minimum, max=maximum, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def _select(options: list[str], key: str) -> selector.SelectSelector:
    """Return a translated dropdown selector."""
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=options,
            translation_key=key,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    )


def _site_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Return the gap and leak threshold fields."""
    return {
        vol.Required(
            CONF_WATER_GAP_HOURS,
            default=defaults.get(CONF_WATER_GAP_HOURS, DEFAULT_WATER_GAP_HOURS),
        ): _box(1, 168, 1, "h"),
        vol.Required(
            CONF_WATER_LEAK_THRESHOLD,
            default=defaults.get(
                CONF_WATER_LEAK_THRESHOLD, DEFAULT_LEAK_THRESHOLD * 1000
            ),
        ): _box(0.1, 1000, 0.1, "L/h"),
    }


def _site_unique_id(name: str) -> str | None:
    """Return the unique id of a site name, or None if the name has no letter or digit."""
    if not any(char.isalnum() for char in name):
        return None
    return f"water:{slugify(name)}"


def _site_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the site thresholds as stored."""
    return {
        CONF_WATER_GAP_HOURS: float(user_input[CONF_WATER_GAP_HOURS]),
        CONF_WATER_LEAK_THRESHOLD: float(user_input[CONF_WATER_LEAK_THRESHOLD]),
    }


class WaterFlowMixin(ConfigFlow):
    """Steps that add or rename a water-meter site; mixed into the integration's flow."""

    async def async_step_water(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the site and set its status thresholds; meters are added in the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if (unique_id := _site_unique_id(name)) is None:
                errors[CONF_NAME] = "water_invalid_name"
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured(error="water_already_configured")
                return self.async_create_entry(
                    title=name,
                    data={CONF_KIND: EntryKind.WATER, CONF_NAME: name},
                    options={
                        **_site_options(user_input),
                        CONF_SCAN_INTERVAL: DEFAULT_WATER_SCAN_INTERVAL,
                        CONF_WATER_METERS: [],
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME): selector.TextSelector(),
                **_site_fields(user_input or {}),
            }
        )
        return self.async_show_form(step_id="water", data_schema=schema, errors=errors)

    async def async_step_water_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Rename a water-meter site."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if (unique_id := _site_unique_id(name)) is None:
                errors[CONF_NAME] = "water_invalid_name"
            elif any(
                other.unique_id == unique_id and other.entry_id != entry.entry_id
                for other in self._async_current_entries(include_ignore=False)
            ):
                return self.async_abort(reason="water_already_configured")
            else:
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=name,
                    data={**entry.data, CONF_NAME: name},
                )
        schema = vol.Schema(
            {vol.Required(CONF_NAME, default=entry.title): selector.TextSelector()}
        )
        return self.async_show_form(
            step_id="water_reconfigure", data_schema=schema, errors=errors
        )


async def async_validate_water_modbus(
    hass: HomeAssistant, meter: MeterConfig
) -> dict[str, str]:
    """Read a meter's index register once; return form errors."""
    assert meter.line is not None
    pool = line_pool(hass)
    try:
        line = pool.acquire(meter.line)
    except LineConflictError:
        return {"base": "water_line_conflict"}
    try:
        await line.read(
            meter.slave, ReadRequest(meter.register_kind, meter.register, 2)
        )
    except DdcTimeoutError:
        return {"base": "water_timeout"}
    except DdcDeviceError:
        return {"base": "water_read_refused"}
    except DdcError:
        return {"base": "water_cannot_connect"}
    finally:
        await pool.release(line)
    return {}


class WaterOptionsFlow(OptionsFlow):
    """Thresholds of a water site, and its meters: add, edit, remove."""

    def __init__(self) -> None:
        """Start with no meter being edited."""
        self._draft: dict[str, Any] = {}

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Open the water site's menu."""
        return await self.async_step_water()

    async def async_step_water(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what can be changed."""
        return self.async_show_menu(
            step_id="water",
            menu_options=["water_settings", "water_add", "water_edit", "water_remove"],
        )

    def _meters(self) -> list[dict[str, Any]]:
        """Return the site's meters as stored."""
        return [
            dict(meter)
            for meter in self.config_entry.options.get(CONF_WATER_METERS, [])
        ]

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Store the entry's options with some changed."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def async_step_water_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Communication gap, leak threshold and Modbus poll interval."""
        if user_input is not None:
            return self._save(
                **_site_options(user_input),
                **{CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL])},
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                **_site_fields(options),
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(
                        CONF_SCAN_INTERVAL, DEFAULT_WATER_SCAN_INTERVAL
                    ),
                ): _box(10, 3600, 1, "s"),
            }
        )
        return self.async_show_form(step_id="water_settings", data_schema=schema)

    def _meter_fields(self) -> dict[vol.Marker, Any]:
        """Return the name, rated flow and source fields, filled from the draft."""
        draft = self._draft
        return {
            vol.Required(
                CONF_NAME, default=draft.get(CONF_NAME, "")
            ): selector.TextSelector(),
            vol.Required(
                CONF_WATER_Q3, default=draft.get(CONF_WATER_Q3, DEFAULT_Q3)
            ): _box(0.01, 10000, 0.001, "m³/h"),
            vol.Required(
                CONF_WATER_Q4, default=draft.get(CONF_WATER_Q4, DEFAULT_Q4)
            ): _box(0.01, 10000, 0.001, "m³/h"),
            vol.Required(
                CONF_WATER_SOURCE,
                default=draft.get(CONF_WATER_SOURCE, WaterSource.PUSH),
            ): _select([source.value for source in WaterSource], "water_source"),
        }

    def _take_meter_fields(self, user_input: dict[str, Any]) -> dict[str, str]:
        """Copy name, flows and source into the draft; return form errors."""
        q3, q4 = float(user_input[CONF_WATER_Q3]), float(user_input[CONF_WATER_Q4])
        if not 0 < q3 <= q4:
            return {CONF_WATER_Q4: "water_invalid_flow"}
        if not user_input[CONF_NAME].strip():
            return {CONF_NAME: "water_invalid_name"}
        self._draft.update(
            {
                CONF_NAME: user_input[CONF_NAME].strip(),
                CONF_WATER_Q3: q3,
                CONF_WATER_Q4: q4,
                CONF_WATER_SOURCE: user_input[CONF_WATER_SOURCE],
            }
        )
        return {}

    def _meter_id_taken(self, meter_id: str) -> bool:
        """Return True if any water site already has a meter with this id."""
        return any(
            meter[CONF_WATER_METER_ID] == meter_id
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.data.get(CONF_KIND) == EntryKind.WATER
            for meter in entry.options.get(CONF_WATER_METERS, [])
        )

    async def async_step_water_add(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a meter: id, name, rated flows and where its readings come from."""
        errors: dict[str, str] = {}
        if user_input is not None:
            meter_id = user_input[CONF_WATER_METER_ID].strip().lower()
            self._draft = {CONF_WATER_METER_ID: meter_id}
            if not METER_ID.fullmatch(meter_id) or len(meter_id) > METER_ID_MAX:
                errors[CONF_WATER_METER_ID] = "water_invalid_meter_id"
            elif self._meter_id_taken(meter_id):
                errors[CONF_WATER_METER_ID] = "water_meter_exists"
            elif not (errors := self._take_meter_fields(user_input)):
                return await self._async_step_source()
            self._draft.update(user_input)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_WATER_METER_ID,
                    default=self._draft.get(CONF_WATER_METER_ID, ""),
                ): selector.TextSelector(),
                **self._meter_fields(),
            }
        )
        return self.async_show_form(
            step_id="water_add", data_schema=schema, errors=errors
        )

    async def async_step_water_edit(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the meter to change."""
        meters = self._meters()
        if not meters:
            return self.async_abort(reason="water_no_meters")
        if user_input is not None:
            self._draft = next(
                meter
                for meter in meters
                if meter[CONF_WATER_METER_ID] == user_input["meter"]
            )
            return await self.async_step_water_meter()
        schema = vol.Schema(
            {vol.Required("meter"): self._meter_selector(meters, multiple=False)}
        )
        return self.async_show_form(step_id="water_edit", data_schema=schema)

    async def async_step_water_meter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change a meter's name, rated flows or source (its id stays)."""
        errors: dict[str, str] = {}
        if user_input is not None and not (
            errors := self._take_meter_fields(user_input)
        ):
            return await self._async_step_source()
        return self.async_show_form(
            step_id="water_meter",
            data_schema=vol.Schema(self._meter_fields()),
            errors=errors,
            description_placeholders={"meter": self._draft[CONF_WATER_METER_ID]},
        )

    async def _async_step_source(self) -> ConfigFlowResult:
        """Continue with the settings of the meter's source."""
        source = WaterSource(self._draft[CONF_WATER_SOURCE])
        if source is WaterSource.SENSOR:
            return await self.async_step_water_sensor()
        if source is WaterSource.MODBUS:
            return await self.async_step_water_modbus()
        return self._save_meter()

    async def async_step_water_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the sensor that carries the meter's index."""
        if user_input is not None:
            self._draft[CONF_WATER_ENTITY] = user_input[CONF_WATER_ENTITY]
            return self._save_meter()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_WATER_ENTITY,
                    default=self._draft.get(CONF_WATER_ENTITY, vol.UNDEFINED),
                ): selector.EntitySelector(
                    selector.EntitySelectorConfig(domain="sensor")
                )
            }
        )
        return self.async_show_form(step_id="water_sensor", data_schema=schema)

    async def async_step_water_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Where the meter's uint32 index register is: line, slave, address, scale."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft.update(
                {
                    **user_input,
                    CONF_PORT: int(user_input[CONF_PORT]),
                    CONF_SLAVE: int(user_input[CONF_SLAVE]),
                    CONF_WATER_REGISTER: int(user_input[CONF_WATER_REGISTER]),
                    CONF_WATER_SCALE: float(user_input[CONF_WATER_SCALE]),
                }
            )
            errors = await async_validate_water_modbus(
                self.hass, MeterConfig.from_options(draft)
            )
            if not errors:
                return self._save_meter()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TRANSPORT, default=draft.get(CONF_TRANSPORT, Transport.TCP)
                ): _select([Transport.TCP, Transport.RTU_OVER_TCP], "water_transport"),
                vol.Required(
                    CONF_HOST, default=draft.get(CONF_HOST, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_PORT, default=draft.get(CONF_PORT, DEFAULT_TCP_PORT)
                ): _box(1, 65535),
                vol.Required(CONF_SLAVE, default=draft.get(CONF_SLAVE, 1)): _box(
                    1, 247
                ),
                vol.Required(
                    CONF_WATER_REGISTER, default=draft.get(CONF_WATER_REGISTER, 0)
                ): _box(0, 65534),
                vol.Required(
                    CONF_WATER_REGISTER_KIND,
                    default=draft.get(CONF_WATER_REGISTER_KIND, RegisterKind.HOLDING),
                ): _select(
                    [RegisterKind.HOLDING, RegisterKind.INPUT], "water_register_kind"
                ),
                vol.Required(
                    CONF_WATER_SCALE,
                    default=draft.get(CONF_WATER_SCALE, DEFAULT_WATER_SCALE),
                ): _box(0.0001, 1000, "any", "m³"),
                vol.Required(
                    CONF_WATER_WORD_ORDER,
                    default=draft.get(CONF_WATER_WORD_ORDER, "big"),
                ): _select(["big", "little"], "water_word_order"),
            }
        )
        return self.async_show_form(
            step_id="water_modbus", data_schema=schema, errors=errors
        )

    def _save_meter(self) -> ConfigFlowResult:
        """Store the draft meter, replacing the meter with its id if there is one."""
        draft = self._draft
        source = WaterSource(draft[CONF_WATER_SOURCE])
        meter = {
            key: draft[key]
            for key in (
                CONF_WATER_METER_ID,
                CONF_NAME,
                CONF_WATER_Q3,
                CONF_WATER_Q4,
                CONF_WATER_SOURCE,
            )
        }
        if source is WaterSource.SENSOR:
            meter[CONF_WATER_ENTITY] = draft[CONF_WATER_ENTITY]
        elif source is WaterSource.MODBUS:
            meter.update({key: draft[key] for key in _MODBUS_KEYS})
        meters = self._meters()
        ids = [m[CONF_WATER_METER_ID] for m in meters]
        if meter[CONF_WATER_METER_ID] in ids:
            meters[ids.index(meter[CONF_WATER_METER_ID])] = meter
        else:
            meters.append(meter)
        return self._save(**{CONF_WATER_METERS: meters})

    def _meter_selector(
        self, meters: list[dict[str, Any]], *, multiple: bool
    ) -> selector.SelectSelector:
        """Return a list of the site's meters labelled 'name (id)'."""
        return selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=[
                    selector.SelectOptionDict(
                        value=meter[CONF_WATER_METER_ID],
                        label=f"{meter[CONF_NAME]} ({meter[CONF_WATER_METER_ID]})",
                    )
                    for meter in meters
                ],
                multiple=multiple,
                mode=selector.SelectSelectorMode.LIST
                if multiple
                else selector.SelectSelectorMode.DROPDOWN,
            )
        )

    async def async_step_water_remove(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove meters; their devices go, their long-term statistics stay."""
        meters = self._meters()
        if not meters:
            return self.async_abort(reason="water_no_meters")
        if user_input is not None:
            remove = set(user_input["meters"])
            return self._save(
                **{
                    CONF_WATER_METERS: [
                        meter
                        for meter in meters
                        if meter[CONF_WATER_METER_ID] not in remove
                    ]
                }
            )
        schema = vol.Schema(
            {vol.Required("meters"): self._meter_selector(meters, multiple=True)}
        )
        return self.async_show_form(step_id="water_remove", data_schema=schema)

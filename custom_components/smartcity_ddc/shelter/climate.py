"""Climate: the shelter's cooler/heater (LG unit mirrored by the DDC)."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.climate import ClimateEntity, ClimateEntityDescription
from homeassistant.components.climate.const import (
    ATTR_HVAC_MODE,
    ClimateEntityFeature,
    HVACMode,
)
from homeassistant.const import ATTR_TEMPERATURE, PRECISION_TENTHS, UnitOfTemperature
from homeassistant.helpers.entity import Entity

from .coordinator import ShelterCoordinator
from .engine.profile import Key, Unit, UnitType
from .entity import DdcUnitEntity

#: DDC cooler modes and Home Assistant's HVAC modes; the DDC's "auto" is heat_cool.
_HVAC_MODES: Final = {
    "cool": HVACMode.COOL,
    "dry": HVACMode.DRY,
    "fan_only": HVACMode.FAN_ONLY,
    "auto": HVACMode.HEAT_COOL,
    "heat": HVACMode.HEAT,
}
_DDC_MODES: Final = {hvac: ddc for ddc, hvac in _HVAC_MODES.items()}

COOLER = ClimateEntityDescription(key="climate", name=None, translation_key="cooler")


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return a climate entity for every cooler/heater."""
    return [
        CoolerClimate(coordinator, unit)
        for unit in coordinator.profile.units
        if unit.type is UnitType.COOLER
    ]


class CoolerClimate(DdcUnitEntity, ClimateEntity):
    """Power, mode, fan speed and the seasonal target of the cooler/heater.

    The DDC keeps a summer target (used in cool, dry and auto) and a winter
    target (used in heat); the target shown and set is the one the current
    mode uses.
    """

    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _attr_precision = PRECISION_TENTHS
    _attr_target_temperature_step = 0.5

    def __init__(self, coordinator: ShelterCoordinator, unit: Unit) -> None:
        """Derive modes, fan modes and limits from the profile."""
        super().__init__(coordinator, unit, COOLER)
        points = unit.points
        self._attr_hvac_modes = [HVACMode.OFF]
        if Key.MODE in points:
            self._attr_hvac_modes += [
                _HVAC_MODES[mode] for mode in points[Key.MODE].options()
            ]
        features = ClimateEntityFeature.TURN_ON | ClimateEntityFeature.TURN_OFF
        if Key.SPEED in points:
            features |= ClimateEntityFeature.FAN_MODE
            self._attr_fan_modes = list(points[Key.SPEED].options())
        target = points.get(Key.SUMMER_TARGET) or points.get(Key.WINTER_TARGET)
        if target is not None:
            features |= ClimateEntityFeature.TARGET_TEMPERATURE
            self._attr_min_temp = target.minimum if target.minimum is not None else 16.0
            self._attr_max_temp = target.maximum if target.maximum is not None else 30.0
        self._attr_supported_features = features

    @property
    def available(self) -> bool:
        """Return False while the DDC or the cooler's power can't be read."""
        return super().available and self.unit_state.power is not None

    @property
    def hvac_mode(self) -> HVACMode | None:
        """Return off, or the mode the cooler runs in."""
        state = self.unit_state
        if state.power is False:
            return HVACMode.OFF
        if state.power is None or state.mode is None:
            return None
        return _HVAC_MODES[state.mode]

    @property
    def current_temperature(self) -> float | None:
        """Return the room temperature the cooler measures."""
        return self.unit_state.current_temperature

    def _target_key(self, mode: str | None) -> Key:
        """Return which seasonal target a DDC mode uses."""
        return Key.WINTER_TARGET if mode == "heat" else Key.SUMMER_TARGET

    @property
    def target_temperature(self) -> float | None:
        """Return the target of the current mode."""
        state = self.unit_state
        value = state.value(self._target_key(state.mode))
        return value if isinstance(value, float) else None

    @property
    def fan_mode(self) -> str | None:
        """Return the fan speed."""
        return self.unit_state.speed

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Switch off, or set the mode and switch on (power rule applies)."""
        if hvac_mode is HVACMode.OFF:
            await self.coordinator.async_set_power(self.unit.uid, False)
            return
        if self.unit_state.power is not True:
            # Refuse before touching the mode, so nothing is half done.
            await self.coordinator.async_check_power_rule(self.unit.uid)
        await self.coordinator.async_set_value(
            self.unit.uid, Key.MODE, _DDC_MODES[hvac_mode]
        )
        if self.unit_state.power is not True:
            await self.coordinator.async_set_power(self.unit.uid, True)

    async def async_turn_on(self) -> None:
        """Switch on in the current mode."""
        await self.coordinator.async_set_power(self.unit.uid, True)

    async def async_turn_off(self) -> None:
        """Switch off."""
        await self.coordinator.async_set_power(self.unit.uid, False)

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Set the target of the given (or current) mode."""
        if (
            hvac_mode := kwargs.get(ATTR_HVAC_MODE)
        ) is not None and hvac_mode is not HVACMode.OFF:
            await self.async_set_hvac_mode(hvac_mode)
        mode = self.unit_state.mode
        await self.coordinator.async_set_value(
            self.unit.uid, self._target_key(mode), float(kwargs[ATTR_TEMPERATURE])
        )

    async def async_set_fan_mode(self, fan_mode: str) -> None:
        """Set the fan speed."""
        await self.coordinator.async_set_value(self.unit.uid, Key.SPEED, fan_mode)

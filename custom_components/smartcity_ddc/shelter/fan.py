"""Fan: the heat-recovery ventilator."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.fan import (
    FanEntity,
    FanEntityDescription,
    FanEntityFeature,
)
from homeassistant.helpers.entity import Entity
from homeassistant.util.percentage import (
    ordered_list_item_to_percentage,
    percentage_to_ordered_list_item,
)

from .coordinator import ShelterCoordinator
from .engine.profile import Key, Unit, UnitType
from .entity import DdcUnitEntity

#: The ventilator's running speeds, slowest first; "stop" is 0 %.
SPEEDS: Final = ["low", "medium", "high"]

VENTILATOR = FanEntityDescription(key="fan", name=None, translation_key="ventilator")


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return a fan entity for every ventilator."""
    return [
        VentilatorFan(coordinator, unit)
        for unit in coordinator.profile.units
        if unit.type is UnitType.EXCHANGER
    ]


class VentilatorFan(DdcUnitEntity, FanEntity):
    """Power, three speeds and the ventilation mode as presets."""

    def __init__(self, coordinator: ShelterCoordinator, unit: Unit) -> None:
        """Derive speeds and presets from the profile."""
        super().__init__(coordinator, unit, VENTILATOR)
        features = FanEntityFeature.TURN_ON | FanEntityFeature.TURN_OFF
        if Key.SPEED in unit.points:
            features |= FanEntityFeature.SET_SPEED
            self._attr_speed_count = len(SPEEDS)
        if Key.MODE in unit.points:
            features |= FanEntityFeature.PRESET_MODE
            self._attr_preset_modes = list(unit.points[Key.MODE].options())
        self._attr_supported_features = features

    @property
    def available(self) -> bool:
        """Return False while the DDC or the ventilator's power can't be read."""
        return super().available and self.unit_state.power is not None

    @property
    def is_on(self) -> bool | None:
        """Return whether the ventilator runs."""
        return self.unit_state.power

    @property
    def percentage(self) -> int | None:
        """Return the speed as a percentage (stop is 0 %)."""
        speed = self.unit_state.speed
        if speed is None:
            return None
        if speed not in SPEEDS:
            return 0
        return ordered_list_item_to_percentage(SPEEDS, speed)

    @property
    def preset_mode(self) -> str | None:
        """Return the ventilation mode."""
        return self.unit_state.mode

    async def async_set_percentage(self, percentage: int) -> None:
        """Set the speed; 0 % switches the ventilator off."""
        if percentage == 0:
            await self.async_turn_off()
            return
        await self._async_ensure_on()
        speed = percentage_to_ordered_list_item(SPEEDS, percentage)
        await self.coordinator.async_set_value(self.unit.uid, Key.SPEED, speed)

    async def async_set_preset_mode(self, preset_mode: str) -> None:
        """Set the ventilation mode (always allowed, also in schedule mode)."""
        await self.coordinator.async_set_value(self.unit.uid, Key.MODE, preset_mode)

    async def async_turn_on(
        self,
        percentage: int | None = None,
        preset_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Switch on, optionally at a speed or in a mode."""
        await self._async_ensure_on()
        if preset_mode is not None:
            await self.async_set_preset_mode(preset_mode)
        if percentage:
            await self.async_set_percentage(percentage)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        await self.coordinator.async_set_power(self.unit.uid, False)

    async def _async_ensure_on(self) -> None:
        """Switch on unless already running (power rule applies)."""
        if self.unit_state.power is not True:
            await self.coordinator.async_set_power(self.unit.uid, True)

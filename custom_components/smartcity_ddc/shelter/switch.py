"""Switches: relay power, and whether each unit follows its schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import (
    SwitchDeviceClass,
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.helpers.entity import Entity

from .coordinator import ShelterCoordinator
from .engine.profile import RELAY_TYPES, Key, Unit, UnitType
from .entity import DdcUnitEntity


@dataclass(frozen=True, kw_only=True)
class DdcSwitchEntityDescription(SwitchEntityDescription):
    """A switch bound to one boolean point of a unit."""

    point: Key
    exists_fn: Callable[[Unit], bool]


SWITCHES: tuple[DdcSwitchEntityDescription, ...] = (
    DdcSwitchEntityDescription(
        key="power",
        name=None,
        device_class=SwitchDeviceClass.SWITCH,
        point=Key.POWER,
        exists_fn=lambda unit: (
            unit.type in RELAY_TYPES
            and unit.type is not UnitType.EXTERNALSW
            and unit.points[Key.POWER].write is not None
        ),
    ),
    DdcSwitchEntityDescription(
        key="auto",
        translation_key="follow_schedule",
        entity_category=EntityCategory.CONFIG,
        point=Key.AUTO,
        exists_fn=lambda unit: Key.AUTO in unit.points,
    ),
)


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return the switches of every unit in the profile."""
    return [
        DdcSwitch(coordinator, unit, description)
        for unit in coordinator.profile.units
        for description in SWITCHES
        if description.exists_fn(unit)
    ]


class DdcSwitch(DdcUnitEntity, SwitchEntity):
    """Relay power or schedule mode of a unit, as the DDC confirms it."""

    entity_description: DdcSwitchEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return the confirmed state."""
        value = self.unit_state.value(self.entity_description.point)
        return value if isinstance(value, bool) else None

    @property
    def available(self) -> bool:
        """Return False while the DDC or this register can't be read."""
        return super().available and self.is_on is not None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on and confirm."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off and confirm."""
        await self._async_set(False)

    async def _async_set(self, on: bool) -> None:
        """Write power (honouring the power rule) or the schedule mode."""
        if self.entity_description.point is Key.POWER:
            await self.coordinator.async_set_power(self.unit.uid, on)
        else:
            await self.coordinator.async_set_value(self.unit.uid, Key.AUTO, on)

"""Binary sensors of a shelter: the doors' external push switches."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.helpers.entity import Entity

from .coordinator import ShelterCoordinator
from .engine.profile import UnitType
from .entity import DdcUnitEntity

EXTERNAL_SWITCH = BinarySensorEntityDescription(
    key="pressed", name=None, translation_key="external_switch"
)


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return the external switch input of every door switch unit."""
    return [
        ExternalSwitchSensor(coordinator, unit, EXTERNAL_SWITCH)
        for unit in coordinator.profile.units
        if unit.type is UnitType.EXTERNALSW
    ]


class ExternalSwitchSensor(DdcUnitEntity, BinarySensorEntity):
    """On while the door's external switch input is active."""

    @property
    def is_on(self) -> bool | None:
        """Return the input state the DDC reports."""
        return self.unit_state.power

    @property
    def available(self) -> bool:
        """Return False while the DDC or this input can't be read."""
        return super().available and self.is_on is not None

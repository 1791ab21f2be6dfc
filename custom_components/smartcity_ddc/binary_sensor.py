"""Binary sensors: the automatic doors' external push switches."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DdcCoordinator
from .ddc import UnitType
from .entity import DdcUnitEntity

PARALLEL_UPDATES = 0

EXTERNAL_SWITCH = BinarySensorEntityDescription(
    key="pressed", name=None, translation_key="external_switch"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of an entry, whatever its kind."""
    coordinator = entry.runtime_data
    if isinstance(coordinator, DdcCoordinator):
        async_add_entities(
            ExternalSwitchSensor(coordinator, unit, EXTERNAL_SWITCH)
            for unit in coordinator.profile.units
            if unit.type is UnitType.EXTERNALSW
        )


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

"""Entities of a shelter: the DDC is the hub device, each unit a device linked to it."""

from __future__ import annotations

from typing import Final

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription

from ..entity import SmartCityEntity, child_device
from .const import MANUFACTURER
from .coordinator import ShelterCoordinator
from .engine.profile import Unit
from .engine.state import UnitState
from .names import given_name

#: Device models: the SPEC §2 catalog, in English and Korean (a model is not translated).
UNIT_MODELS: Final = {
    "lighting": "Lighting (조명)",
    "cooler": "Cooler/heater (냉난방기)",
    "exchanger": "Heat-recovery ventilator (전열교환기)",
    "aircurtain": "Air curtain (에어커튼)",
    "bench": "Heated bench (온열벤치)",
    "door": "Automatic door (자동문)",
    "sensor": "Integrated sensor (통합센서)",
    "externalsw": "Door external switch (자동문외부스위치)",
    "relay": "Relay output (릴레이)",
}


def unit_device(coordinator: ShelterCoordinator, unit: Unit) -> DeviceInfo:
    """Describe a unit's device: named by the site's profile, or translated after its type."""
    hass = coordinator.hass
    named = given_name(hass, unit)
    naming = (
        DeviceInfo(name=named)
        if named
        else DeviceInfo(
            translation_key=unit.type.value,
            translation_placeholders={"number": str(unit.number)},
        )
    )
    return child_device(
        hass,
        coordinator.config_entry.entry_id,
        unit.uid,
        DeviceInfo(manufacturer=MANUFACTURER, model=UNIT_MODELS[unit.type], **naming),
    )


class DdcUnitEntity(SmartCityEntity[ShelterCoordinator]):
    """An entity of one unit; it writes its state only when its unit changed."""

    _written: tuple[bool, UnitState] | None = None

    def __init__(
        self,
        coordinator: ShelterCoordinator,
        unit: Unit,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its unit's device."""
        super().__init__(
            coordinator,
            description,
            part=unit.uid,
            device=unit_device(coordinator, unit),
        )
        self.unit = unit

    @property
    def unit_state(self) -> UnitState:
        """Return this unit's part of the latest snapshot."""
        return self.coordinator.data.unit(self.unit.uid)

    def _seen(self) -> tuple[bool, UnitState]:
        """Return what this entity's state is computed from."""
        return (self.coordinator.last_update_success, self.unit_state)

    async def async_added_to_hass(self) -> None:
        """Remember what the state written on adding is computed from."""
        await super().async_added_to_hass()
        self._written = self._seen()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state when this unit's values or the DDC's reachability changed.

        A poll or a command usually changes one or two units of a DDC; the
        entities of the others would write the same state again. After a
        refused command to this unit the state is written even if unchanged.
        """
        republish = self.unit.uid in self.coordinator.republish
        if (seen := self._seen()) == self._written and not republish:
            return
        self._written = seen
        self._attr_force_update = republish
        try:
            super()._handle_coordinator_update()
        finally:
            self._attr_force_update = False

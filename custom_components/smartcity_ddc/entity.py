"""Base entities: DDC units and water meters are devices linked to their hub; a card sync is one device."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .compat import via_hub
from .const import DOMAIN, MANUFACTURER, UNIT_MODELS
from .coordinator import DdcCoordinator
from .coordinator_cards import CardsCoordinator
from .coordinator_water import MeterConfig, WaterCoordinator
from .ddc import Unit, UnitState
from .helpers import unit_device_identifier, water_meter_identifier
from .water import MeterSummary


class DdcEntity(CoordinatorEntity[DdcCoordinator]):
    """An entity of the DDC itself (the hub device)."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: DdcCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the DDC device."""
        super().__init__(coordinator)
        entry_id = coordinator.config_entry.entry_id
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry_id)})


class DdcUnitEntity(CoordinatorEntity[DdcCoordinator]):
    """An entity of one unit; unavailable whenever its value is unknown."""

    _attr_has_entity_name = True
    _written: tuple[bool, UnitState] | None = None

    def __init__(
        self, coordinator: DdcCoordinator, unit: Unit, description: EntityDescription
    ) -> None:
        """Attach the entity to its unit's device."""
        super().__init__(coordinator)
        entry_id = coordinator.config_entry.entry_id
        self.unit = unit
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_{unit.uid}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={unit_device_identifier(entry_id, unit.uid)},
            name=coordinator.unit_name(unit.uid),
            manufacturer=MANUFACTURER,
            model=UNIT_MODELS[unit.type],
            model_id=f"{unit.device_id}.{unit.unit_id}",
            **via_hub(coordinator.hass, entry_id),
        )

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


# --- card sync ----------------------------------------------------------------------


class CardsEntity(CoordinatorEntity[CardsCoordinator]):
    """An entity of a card sync; its figures come from the local registry."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: CardsCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the card sync's device."""
        super().__init__(coordinator)
        entry_id = coordinator.config_entry.entry_id
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry_id)})

    @property
    def available(self) -> bool:
        """Stay available while the server is down: the registry is local."""
        return True


# --- water meters ------------------------------------------------------------------


class WaterSiteEntity(CoordinatorEntity[WaterCoordinator]):
    """An entity of a water site's device (the 검침집계)."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: WaterCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the site device."""
        super().__init__(coordinator)
        entry_id = coordinator.config_entry.entry_id
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry_id)})


class WaterMeterEntity(CoordinatorEntity[WaterCoordinator]):
    """An entity of one water meter; it updates only when its meter changed."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: WaterCoordinator,
        meter: MeterConfig,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its meter's device."""
        super().__init__(coordinator)
        entry_id = coordinator.config_entry.entry_id
        self.meter_id = meter.meter_id
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_water_{meter.meter_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={water_meter_identifier(entry_id, meter.meter_id)},
            name=meter.name,
            model="Water meter",
            model_id=meter.meter_id,
            **via_hub(coordinator.hass, entry_id),
        )

    @property
    def summary(self) -> MeterSummary:
        """Return this meter's statistics as of the latest update."""
        return self.coordinator.data.meters[self.meter_id]

    @callback
    def _handle_coordinator_update(self) -> None:
        """Skip the state write when another meter's reading caused the update."""
        changed = self.coordinator.data.changed
        if changed is None or self.meter_id in changed:
            super()._handle_coordinator_update()

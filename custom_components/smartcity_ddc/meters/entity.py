"""Entities of a meter site: the site is the hub device, each meter a device of its own subentry."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription

from ..entity import SmartCityEntity, child_device
from .coordinator import MeterConfig, MetersCoordinator
from .engine.stats import MeterSummary


def meter_part(meter_id: str) -> str:
    """Return the part a meter adds to its device identifier and unique ids."""
    return f"water_{meter_id}"


class SiteEntity(SmartCityEntity[MetersCoordinator]):
    """An entity of a site's device (the 검침집계)."""


class MeterEntity(SmartCityEntity[MetersCoordinator]):
    """An entity of one meter; it writes its state only when its meter changed."""

    def __init__(
        self,
        coordinator: MetersCoordinator,
        meter: MeterConfig,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its meter's device, in the meter's subentry."""
        part = meter_part(meter.meter_id)
        super().__init__(
            coordinator,
            description,
            part=part,
            device=child_device(
                coordinator.hass,
                coordinator.config_entry.entry_id,
                part,
                DeviceInfo(
                    name=meter.name, model="Water meter", serial_number=meter.meter_id
                ),
            ),
        )
        self.meter_id = meter.meter_id
        self.subentry_id = meter.subentry_id

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

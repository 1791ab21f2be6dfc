"""Entities of a meter site: the site is the hub device, each meter a device of its own subentry."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription

from ..entity import SmartCityEntity, child_device
from .config import MeterConfig, MeterView
from .coordinator import MetersCoordinator
from .engine.model import Medium
from .engine.stats import MeterSummary

#: Device models of meters (a model, not translated, as for the shelter's units).
MODELS = {Medium.WATER: "Water meter", Medium.ELECTRICITY: "Electricity meter"}


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
        part = meter.part
        super().__init__(
            coordinator,
            description,
            part=part,
            device=child_device(
                coordinator.hass,
                coordinator.config_entry.entry_id,
                part,
                DeviceInfo(
                    name=meter.name,
                    model=MODELS[meter.medium],
                    serial_number=meter.meter_id,
                ),
            ),
        )
        self.meter = meter
        self.meter_id = meter.meter_id
        self.subentry_id = meter.subentry_id

    @property
    def view(self) -> MeterView:
        """Return what this meter's entities show, as of the latest update."""
        return self.coordinator.data.meters[self.meter_id]

    @property
    def summary(self) -> MeterSummary:
        """Return this meter's statistics as of the latest update."""
        return self.view.summary

    @callback
    def _handle_coordinator_update(self) -> None:
        """Skip the state write when another meter's reading caused the update."""
        changed = self.coordinator.data.changed
        if changed is None or self.meter_id in changed:
            super()._handle_coordinator_update()

"""Binary sensors: the doors' external push switches; card-sync and water-meter problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DdcCoordinator
from .coordinator_cards import CardsCoordinator
from .coordinator_water import WaterCoordinator
from .ddc import UnitType
from .entity import CardsEntity, DdcUnitEntity, WaterMeterEntity
from .water import Status

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
    elif isinstance(coordinator, CardsCoordinator):
        async_add_entities([CardsSyncProblemSensor(coordinator, CARDS_SYNC_PROBLEM)])
    elif isinstance(coordinator, WaterCoordinator):
        async_add_entities(
            WaterProblemSensor(coordinator, meter, description)
            for meter in coordinator.meters.values()
            for description in WATER_PROBLEMS
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


# --- Card sync -----------------------------------------------------------------

CARDS_SYNC_PROBLEM = BinarySensorEntityDescription(
    key="cards_sync_problem",
    translation_key="cards_sync_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
    entity_category=EntityCategory.DIAGNOSTIC,
)


class CardsSyncProblemSensor(CardsEntity, BinarySensorEntity):
    """On while the sync fails, rejected rows wait for a look, or group codes lack a name."""

    @property
    def _error(self) -> str | None:
        """Return the translation key of the last failure, if the last sync failed."""
        if self.coordinator.last_update_success:
            return None
        err = self.coordinator.last_exception
        if isinstance(err, HomeAssistantError) and err.translation_key:
            return err.translation_key
        return "cards_database_error"

    @property
    def is_on(self) -> bool:
        """Return True while something needs attention."""
        data = self.coordinator.data
        return (
            self._error is not None
            or data.unacknowledged_rejected > 0
            or bool(data.unknown_groups)
        )

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Return what the problem is (no personal data)."""
        data = self.coordinator.data
        return {
            "error": self._error,
            "unacknowledged_rejected_rows": data.unacknowledged_rejected,
            "unknown_group_codes": sorted(data.unknown_groups),
        }


# --- water meters ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WaterProblemEntityDescription(BinarySensorEntityDescription):
    """On while a meter has one of the problems its status can show."""

    problem: Status


WATER_PROBLEMS: tuple[WaterProblemEntityDescription, ...] = (
    WaterProblemEntityDescription(
        key="communication_fault",
        translation_key="water_communication_fault",
        device_class=BinarySensorDeviceClass.PROBLEM,
        problem=Status.COMMUNICATION_FAULT,
    ),
    WaterProblemEntityDescription(
        key="meter_fault",
        translation_key="water_meter_fault",
        device_class=BinarySensorDeviceClass.PROBLEM,
        problem=Status.METER_FAULT,
    ),
    WaterProblemEntityDescription(
        key="leak",
        translation_key="water_leak",
        device_class=BinarySensorDeviceClass.PROBLEM,
        problem=Status.LEAK,
    ),
    WaterProblemEntityDescription(
        key="over_q4",
        translation_key="water_over_q4",
        device_class=BinarySensorDeviceClass.PROBLEM,
        problem=Status.OVER_Q4,
    ),
    WaterProblemEntityDescription(
        key="low_battery",
        translation_key="water_low_battery",
        device_class=BinarySensorDeviceClass.BATTERY,
        problem=Status.LOW_BATTERY,
    ),
    WaterProblemEntityDescription(
        key="backflow",
        translation_key="water_backflow",
        device_class=BinarySensorDeviceClass.PROBLEM,
        problem=Status.BACKFLOW,
    ),
)


class WaterProblemSensor(WaterMeterEntity, BinarySensorEntity):
    """On while the meter's status rules find this problem."""

    entity_description: WaterProblemEntityDescription

    @property
    def is_on(self) -> bool:
        """Return whether the problem is present now."""
        return self.entity_description.problem in self.summary.problems

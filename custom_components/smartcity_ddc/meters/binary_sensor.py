"""Binary sensors of a meter site: one per problem a meter's status can show."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.helpers.entity import Entity

from .coordinator import MetersCoordinator
from .engine.model import Status
from .entity import MeterEntity


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


def entities(coordinator: MetersCoordinator) -> list[Entity]:
    """Return every meter's problem sensors."""
    return [
        WaterProblemSensor(coordinator, meter, description)
        for meter in coordinator.meters.values()
        for description in WATER_PROBLEMS
    ]


class WaterProblemSensor(MeterEntity, BinarySensorEntity):
    """On while the meter's status rules find this problem."""

    entity_description: WaterProblemEntityDescription

    @property
    def is_on(self) -> bool:
        """Return whether the problem is present now."""
        return self.entity_description.problem in self.summary.problems

"""Binary sensors of a meter site: one per problem a meter's status can show, by medium."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.helpers.entity import Entity

from .coordinator import MetersCoordinator
from .engine.model import Medium, Status
from .entity import MeterEntity


@dataclass(frozen=True, kw_only=True)
class ProblemEntityDescription(BinarySensorEntityDescription):
    """On while a meter has one of the problems its status can show."""

    problem: Status


#: problem, water translation key, electricity translation key, device class.
_PROBLEMS: Final = (
    (Status.COMMUNICATION_FAULT, "water_communication_fault",
     "electricity_communication_fault", BinarySensorDeviceClass.PROBLEM),
    (Status.METER_FAULT, "water_meter_fault", "electricity_meter_fault",
     BinarySensorDeviceClass.PROBLEM),
    (Status.LEAK, "water_leak", "", BinarySensorDeviceClass.PROBLEM),
    (Status.OVER_Q4, "water_over_q4", "", BinarySensorDeviceClass.PROBLEM),
    (Status.LOW_BATTERY, "water_low_battery", "", BinarySensorDeviceClass.BATTERY),
    (Status.BACKFLOW, "water_backflow", "", BinarySensorDeviceClass.PROBLEM),
    (Status.RELAY_OPEN, "", "electricity_relay_open", BinarySensorDeviceClass.PROBLEM),
    (Status.LOW_CREDIT, "water_low_credit", "electricity_low_credit",
     BinarySensorDeviceClass.PROBLEM),
)  # fmt: skip

PROBLEM_SENSORS: Final[dict[Medium, tuple[ProblemEntityDescription, ...]]] = {
    medium: tuple(
        ProblemEntityDescription(
            key=problem.value,
            translation_key=water if medium is Medium.WATER else electricity,
            device_class=device_class,
            problem=problem,
        )
        for problem, water, electricity, device_class in _PROBLEMS
        if (water if medium is Medium.WATER else electricity)
    )
    for medium in Medium
}


def entities(coordinator: MetersCoordinator) -> list[Entity]:
    """Return a sensor for each problem a meter's status can show."""
    return [
        ProblemSensor(coordinator, meter, description)
        for meter in coordinator.meters.values()
        for description in PROBLEM_SENSORS[meter.medium]
        if description.problem in meter.problems
    ]


class ProblemSensor(MeterEntity, BinarySensorEntity):
    """On while the meter's status rules find this problem."""

    entity_description: ProblemEntityDescription

    @property
    def is_on(self) -> bool:
        """Return whether the problem is present now."""
        return self.entity_description.problem in self.summary.problems

"""Sensors of a shelter: the air-quality sensor's measurements, and the load of the DDC's line."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTemperature
from homeassistant.helpers.entity import Entity

from ..compat import MICROGRAMS_PER_CUBIC_METER, PARTS_PER_BILLION, PARTS_PER_MILLION
from ..entity import SmartCityEntity
from .coordinator import ShelterCoordinator
from .engine.profile import Key
from .entity import DdcUnitEntity


@dataclass(frozen=True, kw_only=True)
class DdcSensorEntityDescription(SensorEntityDescription):
    """A sensor bound to one numeric point of a unit."""

    point: Key
    state_class: SensorStateClass | str | None = SensorStateClass.MEASUREMENT


AIR_SENSORS: tuple[DdcSensorEntityDescription, ...] = (
    DdcSensorEntityDescription(
        key="pm10",
        point=Key.PM10,
        device_class=SensorDeviceClass.PM10,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
    ),
    DdcSensorEntityDescription(
        key="pm2_5",
        point=Key.PM2_5,
        device_class=SensorDeviceClass.PM25,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
    ),
    DdcSensorEntityDescription(
        key="pm1_0",
        point=Key.PM1_0,
        device_class=SensorDeviceClass.PM1,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
    ),
    DdcSensorEntityDescription(
        key="co2",
        point=Key.CO2,
        device_class=SensorDeviceClass.CO2,
        native_unit_of_measurement=PARTS_PER_MILLION,
    ),
    DdcSensorEntityDescription(
        key="voc",
        # Home Assistant has no Korean name for this device class.
        translation_key="voc",
        point=Key.VOC,
        device_class=SensorDeviceClass.VOLATILE_ORGANIC_COMPOUNDS_PARTS,
        native_unit_of_measurement=PARTS_PER_BILLION,
    ),
    DdcSensorEntityDescription(
        key="temperature",
        point=Key.TEMPERATURE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
    ),
    DdcSensorEntityDescription(
        key="humidity",
        point=Key.HUMIDITY,
        device_class=SensorDeviceClass.HUMIDITY,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
    ),
)


LINE_LOAD = SensorEntityDescription(
    key="line_load",
    translation_key="line_load",
    entity_category=EntityCategory.DIAGNOSTIC,
    native_unit_of_measurement=PERCENTAGE,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
)


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return a sensor for every measured value of every unit, and the line's load."""
    return [
        LineLoadSensor(coordinator, LINE_LOAD),
        *(
            DdcSensor(coordinator, unit, description)
            for unit in coordinator.profile.units
            for description in AIR_SENSORS
            if description.point in unit.points
        ),
    ]


class LineLoadSensor(SmartCityEntity[ShelterCoordinator], SensorEntity):
    """How much of its line's time the DDCs on it need, on the DDC's own device.

    Above 100 % they can't all be polled at their interval: each is polled
    in turn, later than asked, and a repair issue says what to do.
    """

    @property
    def native_value(self) -> float:
        """Return the line's load in percent (wire model, corrected by measured round trips)."""
        return round(self.coordinator.client.line.load * 100, 1)


class DdcSensor(DdcUnitEntity, SensorEntity):
    """A measured value; unavailable when the register holds an invalid value."""

    entity_description: DdcSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """Return the decoded, range-checked value."""
        value = self.unit_state.value(self.entity_description.point)
        return (
            value
            if isinstance(value, int | float) and not isinstance(value, bool)
            else None
        )

    @property
    def available(self) -> bool:
        """Return False while the DDC or this register can't be read."""
        return super().available and self.native_value is not None

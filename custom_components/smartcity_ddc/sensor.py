"""Sensors: the shelter's air quality."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONCENTRATION_MICROGRAMS_PER_CUBIC_METER,
    CONCENTRATION_PARTS_PER_BILLION,
    CONCENTRATION_PARTS_PER_MILLION,
    PERCENTAGE,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DdcCoordinator
from .ddc import Key
from .entity import DdcUnitEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DdcSensorEntityDescription(SensorEntityDescription):
    """A sensor bound to one numeric point of a unit."""

    point: Key


AIR_SENSORS: tuple[DdcSensorEntityDescription, ...] = (
    DdcSensorEntityDescription(
        key="pm10",
        point=Key.PM10,
        device_class=SensorDeviceClass.PM10,
        native_unit_of_measurement=CONCENTRATION_MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="pm2_5",
        point=Key.PM2_5,
        device_class=SensorDeviceClass.PM25,
        native_unit_of_measurement=CONCENTRATION_MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="pm1_0",
        point=Key.PM1_0,
        device_class=SensorDeviceClass.PM1,
        native_unit_of_measurement=CONCENTRATION_MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="co2",
        point=Key.CO2,
        device_class=SensorDeviceClass.CO2,
        native_unit_of_measurement=CONCENTRATION_PARTS_PER_MILLION,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="voc",
        point=Key.VOC,
        device_class=SensorDeviceClass.VOLATILE_ORGANIC_COMPOUNDS_PARTS,
        native_unit_of_measurement=CONCENTRATION_PARTS_PER_BILLION,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="temperature",
        point=Key.TEMPERATURE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
    DdcSensorEntityDescription(
        key="humidity",
        point=Key.HUMIDITY,
        device_class=SensorDeviceClass.HUMIDITY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of an entry, whatever its kind."""
    coordinator = entry.runtime_data
    if isinstance(coordinator, DdcCoordinator):
        async_add_entities(
            DdcSensor(coordinator, unit, description)
            for unit in coordinator.profile.units
            for description in AIR_SENSORS
            if description.point in unit.points
        )


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

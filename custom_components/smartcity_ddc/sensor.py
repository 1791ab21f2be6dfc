"""Sensors: the shelter's air quality; the card registry and its sync."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    EntityCategory,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import DdcCoordinator
from .coordinator_cards import CardsCoordinator, CardsData
from .ddc import Key
from .entity import CardsEntity, DdcUnitEntity

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
    elif isinstance(coordinator, CardsCoordinator):
        async_add_entities(
            [
                *(
                    CardsSensor(coordinator, description)
                    for description in CARDS_SENSORS
                ),
                *(
                    CardsGroupSensor(coordinator, code, name)
                    for code, name in sorted(coordinator.groups.items())
                ),
            ]
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


# --- Card sync -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CardsSensorEntityDescription(SensorEntityDescription):
    """A figure of the card registry or of the last sync."""

    value_fn: Callable[[CardsData], StateType | datetime]
    attrs_fn: Callable[[CardsData], Mapping[str, Any]] | None = None


def _summary_value(data: CardsData, name: str) -> int | None:
    """Return a count of the last successful sync."""
    return None if data.last_summary is None else int(getattr(data.last_summary, name))


CARDS_SENSORS: tuple[CardsSensorEntityDescription, ...] = (
    CardsSensorEntityDescription(
        key="cards_registered",
        translation_key="cards_registered",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.total,
        attrs_fn=lambda data: {
            "managers": data.managers,
            "residents": data.total - data.managers,
            "by_group": dict(sorted(data.by_group.items())),
            "unknown_group_cards": sum(data.unknown_groups.values()),
        },
    ),
    CardsSensorEntityDescription(
        key="cards_last_sync",
        translation_key="cards_last_sync",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.last_success,
    ),
    CardsSensorEntityDescription(
        key="cards_rows_applied",
        translation_key="cards_rows_applied",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: _summary_value(data, "applied"),
        attrs_fn=lambda data: {
            "issued": _summary_value(data, "issued"),
            "deleted": _summary_value(data, "deleted"),
        },
    ),
    CardsSensorEntityDescription(
        key="cards_rows_rejected",
        translation_key="cards_rows_rejected",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: _summary_value(data, "rejected"),
        attrs_fn=lambda data: {"unacknowledged": data.unacknowledged_rejected},
    ),
)


class CardsSensor(CardsEntity, SensorEntity):
    """A count or time of the card registry and its sync."""

    entity_description: CardsSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the figure."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return counts that belong with the figure (no personal data)."""
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.coordinator.data)


class CardsGroupSensor(CardsEntity, SensorEntity):
    """The cards of one lobby-phone access group."""

    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: CardsCoordinator, code: str, name: str) -> None:
        """Name the sensor after the group; its code is an attribute."""
        super().__init__(
            coordinator,
            SensorEntityDescription(
                key=f"cards_group_{code}", translation_key="cards_group"
            ),
        )
        self.code = code
        self._attr_translation_placeholders = {"group": name}
        self._attr_extra_state_attributes = {"code": code}

    @property
    def native_value(self) -> int:
        """Return the number of cards in the group."""
        return self.coordinator.data.by_group.get(self.code, 0)

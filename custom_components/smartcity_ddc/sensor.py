"""Sensors: the shelter's air quality; the card registry; water meters and their site's 검침집계."""

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
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfTemperature,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .compat import MICROGRAMS_PER_CUBIC_METER, PARTS_PER_BILLION, PARTS_PER_MILLION
from .coordinator import DdcCoordinator
from .coordinator_cards import CardsCoordinator, CardsData
from .coordinator_water import WaterCoordinator
from .ddc import Key
from .entity import CardsEntity, DdcUnitEntity, WaterMeterEntity, WaterSiteEntity
from .water import MeterSummary, Signal, SiteAggregate, Status

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
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="pm2_5",
        point=Key.PM2_5,
        device_class=SensorDeviceClass.PM25,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="pm1_0",
        point=Key.PM1_0,
        device_class=SensorDeviceClass.PM1,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="co2",
        point=Key.CO2,
        device_class=SensorDeviceClass.CO2,
        native_unit_of_measurement=PARTS_PER_MILLION,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DdcSensorEntityDescription(
        key="voc",
        # Home Assistant has no Korean name for this device class.
        translation_key="voc",
        point=Key.VOC,
        device_class=SensorDeviceClass.VOLATILE_ORGANIC_COMPOUNDS_PARTS,
        native_unit_of_measurement=PARTS_PER_BILLION,
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
    elif isinstance(coordinator, WaterCoordinator):
        async_add_entities(
            [
                *(
                    WaterMeterSensor(coordinator, meter, description)
                    for meter in coordinator.meters.values()
                    for description in WATER_METER_SENSORS
                ),
                *(
                    WaterSiteSensor(coordinator, description)
                    for description in WATER_SITE_SENSORS
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


# --- water meters ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WaterMeterSensorEntityDescription(SensorEntityDescription):
    """A statistic of one water meter."""

    value_fn: Callable[[MeterSummary], StateType | datetime]


def _usage(
    key: str, translation_key: str, value_fn: Callable[[MeterSummary], float | None]
) -> WaterMeterSensorEntityDescription:
    """Describe a usage figure in m³."""
    return WaterMeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.WATER,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
        value_fn=value_fn,
    )


def _count(
    key: str, translation_key: str, value_fn: Callable[[MeterSummary], float | None]
) -> WaterMeterSensorEntityDescription:
    """Describe a reading count (a day's, or a daily average)."""
    return WaterMeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        suggested_display_precision=1,
        value_fn=value_fn,
    )


def _rate(
    key: str, translation_key: str, value_fn: Callable[[MeterSummary], float | None]
) -> WaterMeterSensorEntityDescription:
    """Describe a read rate in %."""
    return WaterMeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        value_fn=value_fn,
    )


def _signal(
    key: str,
    translation_key: str,
    unit: str,
    value_fn: Callable[[Signal], float | None],
) -> WaterMeterSensorEntityDescription:
    """Describe a radio quality figure of the meter's terminal."""
    return WaterMeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda s: None if s.signal is None else value_fn(s.signal),
    )


WATER_METER_SENSORS: tuple[WaterMeterSensorEntityDescription, ...] = (
    WaterMeterSensorEntityDescription(
        key="index",
        name=None,
        device_class=SensorDeviceClass.WATER,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
        value_fn=lambda s: s.index,
    ),
    _usage(
        "last_interval_usage",
        "water_last_interval_usage",
        lambda s: s.last_interval_usage,
    ),
    WaterMeterSensorEntityDescription(
        key="flow_rate",
        translation_key="water_flow_rate",
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        suggested_display_precision=3,
        value_fn=lambda s: s.flow_rate,
    ),
    _usage("usage_today", "water_usage_today", lambda s: s.usage_today),
    _usage("usage_yesterday", "water_usage_yesterday", lambda s: s.usage_yesterday),
    _usage("usage_avg_7d", "water_usage_avg_7d", lambda s: s.usage_avg_7d),
    _usage("usage_avg_30d", "water_usage_avg_30d", lambda s: s.usage_avg_30d),
    _count("readings_today", "water_readings_today", lambda s: s.readings_today),
    _count(
        "readings_yesterday", "water_readings_yesterday", lambda s: s.readings_yesterday
    ),
    _count("readings_avg_7d", "water_readings_avg_7d", lambda s: s.readings_avg_7d),
    _count("readings_avg_30d", "water_readings_avg_30d", lambda s: s.readings_avg_30d),
    _rate(
        "hourly_rate_yesterday",
        "water_hourly_rate_yesterday",
        lambda s: s.hourly_rate_yesterday,
    ),
    _rate("hourly_rate_7d", "water_hourly_rate_7d", lambda s: s.hourly_rate_7d),
    _rate("hourly_rate_30d", "water_hourly_rate_30d", lambda s: s.hourly_rate_30d),
    _rate(
        "daily_rate_yesterday",
        "water_daily_rate_yesterday",
        lambda s: s.daily_rate_yesterday,
    ),
    _rate("daily_rate_7d", "water_daily_rate_7d", lambda s: s.daily_rate_7d),
    _rate("daily_rate_30d", "water_daily_rate_30d", lambda s: s.daily_rate_30d),
    WaterMeterSensorEntityDescription(
        key="last_reading",
        translation_key="water_last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda s: None
        if s.last_reading is None
        else dt_util.utc_from_timestamp(s.last_reading),
    ),
    WaterMeterSensorEntityDescription(
        key="status",
        translation_key="water_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in Status],
        value_fn=lambda s: s.status.value,
    ),
    _signal("rssi", "water_rssi", SIGNAL_STRENGTH_DECIBELS_MILLIWATT, lambda g: g.rssi),
    _signal("rsrq", "water_rsrq", SIGNAL_STRENGTH_DECIBELS, lambda g: g.rsrq),
    _signal("rsrp", "water_rsrp", SIGNAL_STRENGTH_DECIBELS_MILLIWATT, lambda g: g.rsrp),
    _signal("snr", "water_snr", SIGNAL_STRENGTH_DECIBELS, lambda g: g.snr),
)


class WaterMeterSensor(WaterMeterEntity, SensorEntity):
    """A statistic of one meter; unknown until the meter has the data for it."""

    entity_description: WaterMeterSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the statistic from the meter's latest summary."""
        return self.entity_description.value_fn(self.summary)


@dataclass(frozen=True, kw_only=True)
class WaterSiteSensorEntityDescription(SensorEntityDescription):
    """A figure of the site's 검침집계 for today or yesterday."""

    value_fn: Callable[[SiteAggregate], float | None]
    yesterday: bool = False


def _site_usage(
    key: str,
    translation_key: str,
    value_fn: Callable[[SiteAggregate], float | None],
    *,
    yesterday: bool = False,
) -> WaterSiteSensorEntityDescription:
    """Describe a usage figure of the 검침집계 in m³."""
    return WaterSiteSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.WATER,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
        value_fn=value_fn,
        yesterday=yesterday,
    )


def _site_count(
    key: str,
    translation_key: str,
    value_fn: Callable[[SiteAggregate], float | None],
    *,
    yesterday: bool = False,
) -> WaterSiteSensorEntityDescription:
    """Describe a count of the 검침집계."""
    return WaterSiteSensorEntityDescription(
        key=key, translation_key=translation_key, value_fn=value_fn, yesterday=yesterday
    )


def _site_rate(
    key: str,
    translation_key: str,
    *,
    yesterday: bool = False,
) -> WaterSiteSensorEntityDescription:
    """Describe the mean hourly read rate of the 검침집계."""
    return WaterSiteSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        value_fn=lambda a: a.read_rate,
        yesterday=yesterday,
    )


WATER_SITE_SENSORS: tuple[WaterSiteSensorEntityDescription, ...] = (
    _site_count("meters", "water_site_meters", lambda a: a.meters),
    _site_usage(
        "total_usage_today", "water_site_total_usage_today", lambda a: a.total_usage
    ),
    _site_usage(
        "total_usage_yesterday",
        "water_site_total_usage_yesterday",
        lambda a: a.total_usage,
        yesterday=True,
    ),
    _site_count(
        "meters_read_today", "water_site_meters_read_today", lambda a: a.meters_read
    ),
    _site_count(
        "meters_read_yesterday",
        "water_site_meters_read_yesterday",
        lambda a: a.meters_read,
        yesterday=True,
    ),
    _site_count("readings_today", "water_site_readings_today", lambda a: a.readings),
    _site_count(
        "readings_yesterday",
        "water_site_readings_yesterday",
        lambda a: a.readings,
        yesterday=True,
    ),
    _site_rate("read_rate_today", "water_site_read_rate_today"),
    _site_rate("read_rate_yesterday", "water_site_read_rate_yesterday", yesterday=True),
    _site_usage(
        "average_usage_today",
        "water_site_average_usage_today",
        lambda a: a.average_usage,
    ),
    _site_usage(
        "average_usage_yesterday",
        "water_site_average_usage_yesterday",
        lambda a: a.average_usage,
        yesterday=True,
    ),
    _site_usage("max_usage_today", "water_site_max_usage_today", lambda a: a.max_usage),
    _site_usage(
        "max_usage_yesterday",
        "water_site_max_usage_yesterday",
        lambda a: a.max_usage,
        yesterday=True,
    ),
    _site_usage("min_usage_today", "water_site_min_usage_today", lambda a: a.min_usage),
    _site_usage(
        "min_usage_yesterday",
        "water_site_min_usage_yesterday",
        lambda a: a.min_usage,
        yesterday=True,
    ),
)


class WaterSiteSensor(WaterSiteEntity, SensorEntity):
    """A figure of the site's 검침집계."""

    entity_description: WaterSiteSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """Return the figure from today's or yesterday's aggregate."""
        data = self.coordinator.data
        aggregate = data.yesterday if self.entity_description.yesterday else data.today
        return self.entity_description.value_fn(aggregate)

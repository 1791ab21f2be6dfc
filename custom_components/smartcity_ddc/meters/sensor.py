"""Sensors of a meter site: each meter's index and statistics, and the site's 검침집계."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import MetersCoordinator
from .engine.model import Signal, Status
from .engine.stats import MeterSummary, SiteAggregate
from .entity import MeterEntity, SiteEntity


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


def entities(coordinator: MetersCoordinator) -> list[Entity]:
    """Return every meter's sensors and the site's."""
    return [
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


class WaterMeterSensor(MeterEntity, SensorEntity):
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


class WaterSiteSensor(SiteEntity, SensorEntity):
    """A figure of the site's 검침집계."""

    entity_description: WaterSiteSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """Return the figure from today's or yesterday's aggregate."""
        data = self.coordinator.data
        aggregate = data.yesterday if self.entity_description.yesterday else data.today
        return self.entity_description.value_fn(aggregate)

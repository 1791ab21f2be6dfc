"""Sensors of a meter site: each meter's index, statistics and live values, and the 검침집계.

Water and electricity meters have the same statistics in their own units
(m³ and kWh); one table describes both, with each medium's translation key
(names and icons differ), and each meter gets the rows of its medium.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

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
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTime,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .config import MeterConfig, MeterView
from .coordinator import MetersCoordinator
from .engine.bus import ReadStatus
from .engine.model import Medium, Signal, Status
from .engine.prepaid import CreditUnit
from .engine.stats import SiteAggregate
from .entity import MeterEntity, SiteEntity

#: Device class, unit and display precision of an index or a usage, per medium.
_AMOUNT: Final = {
    Medium.WATER: (SensorDeviceClass.WATER, UnitOfVolume.CUBIC_METERS, 3),
    Medium.ELECTRICITY: (SensorDeviceClass.ENERGY, UnitOfEnergy.KILO_WATT_HOUR, 2),
}
#: The rate an index rises at: a flow (m³/h) or a power (kW).
_RATE: Final = {
    Medium.WATER: (
        SensorDeviceClass.VOLUME_FLOW_RATE,
        UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        3,
    ),
    Medium.ELECTRICITY: (SensorDeviceClass.POWER, UnitOfPower.KILO_WATT, 3),
}


@dataclass(frozen=True, kw_only=True)
class MeterSensorEntityDescription(SensorEntityDescription):
    """A figure of one meter."""

    value_fn: Callable[[MeterView], StateType | datetime]
    #: Whether a meter has the sensor at all (a live value its source reports).
    exists_fn: Callable[[MeterConfig], bool] = lambda meter: True


type _Build = Callable[
    [Medium, str, str, Callable[[MeterView], Any]], MeterSensorEntityDescription
]


def _amount(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe a usage figure in the medium's unit."""
    device_class, unit, precision = _AMOUNT[medium]
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        value_fn=value_fn,
    )


def _index(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe the meter's index: its device's main sensor, for the Energy dashboard."""
    device_class, unit, precision = _AMOUNT[medium]
    return MeterSensorEntityDescription(
        key=key,
        name=None,
        device_class=device_class,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        value_fn=value_fn,
    )


def _rate(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe the rate worked out from the index: a flow or a power."""
    device_class, unit, precision = _RATE[medium]
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        value_fn=value_fn,
    )


def _count(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe a reading count (a day's, or a daily average)."""
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        suggested_display_precision=1,
        value_fn=value_fn,
    )


def _percent(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe a read rate in %."""
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        value_fn=value_fn,
    )


def _timestamp(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe a time (epoch seconds in the view)."""
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda view: None
        if (value := value_fn(view)) is None
        else dt_util.utc_from_timestamp(value),
    )


def _status(
    medium: Medium, key: str, translation_key: str, value_fn: Callable[[MeterView], Any]
) -> MeterSensorEntityDescription:
    """Describe the meter's status: normal or one of its problems (options per meter)."""
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.ENUM,
        value_fn=value_fn,
    )


#: key, water translation key, electricity translation key, kind, value.
_STATISTICS: Final[
    tuple[tuple[str, str, str, _Build, Callable[[MeterView], Any]], ...]
] = (
    ("index", "", "", _index, lambda v: v.summary.index),
    (
        "last_interval_usage",
        "water_last_interval_usage",
        "electricity_last_interval_usage",
        _amount,
        lambda v: v.summary.last_interval_usage,
    ),
    (
        "flow_rate",
        "water_flow_rate",
        "electricity_power_from_index",
        _rate,
        lambda v: v.summary.flow_rate,
    ),  # fmt: skip
    (
        "usage_today",
        "water_usage_today",
        "electricity_usage_today",
        _amount,
        lambda v: v.summary.usage_today,
    ),  # fmt: skip
    (
        "usage_yesterday",
        "water_usage_yesterday",
        "electricity_usage_yesterday",
        _amount,
        lambda v: v.summary.usage_yesterday,
    ),  # fmt: skip
    (
        "usage_avg_7d",
        "water_usage_avg_7d",
        "electricity_usage_avg_7d",
        _amount,
        lambda v: v.summary.usage_avg_7d,
    ),  # fmt: skip
    (
        "usage_avg_30d",
        "water_usage_avg_30d",
        "electricity_usage_avg_30d",
        _amount,
        lambda v: v.summary.usage_avg_30d,
    ),  # fmt: skip
    (
        "readings_today",
        "water_readings_today",
        "electricity_readings_today",
        _count,
        lambda v: v.summary.readings_today,
    ),  # fmt: skip
    (
        "readings_yesterday",
        "water_readings_yesterday",
        "electricity_readings_yesterday",
        _count,
        lambda v: v.summary.readings_yesterday,
    ),  # fmt: skip
    (
        "readings_avg_7d",
        "water_readings_avg_7d",
        "electricity_readings_avg_7d",
        _count,
        lambda v: v.summary.readings_avg_7d,
    ),  # fmt: skip
    (
        "readings_avg_30d",
        "water_readings_avg_30d",
        "electricity_readings_avg_30d",
        _count,
        lambda v: v.summary.readings_avg_30d,
    ),  # fmt: skip
    (
        "hourly_rate_yesterday",
        "water_hourly_rate_yesterday",
        "electricity_hourly_rate_yesterday",
        _percent,
        lambda v: v.summary.hourly_rate_yesterday,
    ),  # fmt: skip
    (
        "hourly_rate_7d",
        "water_hourly_rate_7d",
        "electricity_hourly_rate_7d",
        _percent,
        lambda v: v.summary.hourly_rate_7d,
    ),  # fmt: skip
    (
        "hourly_rate_30d",
        "water_hourly_rate_30d",
        "electricity_hourly_rate_30d",
        _percent,
        lambda v: v.summary.hourly_rate_30d,
    ),  # fmt: skip
    (
        "daily_rate_yesterday",
        "water_daily_rate_yesterday",
        "electricity_daily_rate_yesterday",
        _percent,
        lambda v: v.summary.daily_rate_yesterday,
    ),  # fmt: skip
    (
        "daily_rate_7d",
        "water_daily_rate_7d",
        "electricity_daily_rate_7d",
        _percent,
        lambda v: v.summary.daily_rate_7d,
    ),  # fmt: skip
    (
        "daily_rate_30d",
        "water_daily_rate_30d",
        "electricity_daily_rate_30d",
        _percent,
        lambda v: v.summary.daily_rate_30d,
    ),  # fmt: skip
    (
        "last_reading",
        "water_last_reading",
        "electricity_last_reading",
        _timestamp,
        lambda v: v.summary.last_reading,
    ),  # fmt: skip
    (
        "status",
        "water_status",
        "electricity_status",
        _status,
        lambda v: v.summary.status.value,
    ),  # fmt: skip
)


def _signal(
    key: str,
    translation_key: str,
    unit: str,
    value_fn: Callable[[Signal], float | None],
) -> MeterSensorEntityDescription:
    """Describe a radio quality figure of a water meter's terminal."""
    return MeterSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda v: None
        if v.summary.signal is None
        else value_fn(v.summary.signal),
    )


def _live(
    key: str,
    device_class: SensorDeviceClass,
    unit: str,
    value_fn: Callable[[MeterView], float | None],
) -> MeterSensorEntityDescription:
    """Describe a value a bus meter reports with each read (named by its device class)."""
    return MeterSensorEntityDescription(
        key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=value_fn,
        exists_fn=lambda meter: meter.on_bus,
    )


#: What only one medium has.
_EXTRAS: Final[dict[Medium, tuple[MeterSensorEntityDescription, ...]]] = {
    Medium.WATER: (
        _signal(
            "rssi", "water_rssi", SIGNAL_STRENGTH_DECIBELS_MILLIWATT, lambda g: g.rssi
        ),
        _signal("rsrq", "water_rsrq", SIGNAL_STRENGTH_DECIBELS, lambda g: g.rsrq),
        _signal(
            "rsrp", "water_rsrp", SIGNAL_STRENGTH_DECIBELS_MILLIWATT, lambda g: g.rsrp
        ),
        _signal("snr", "water_snr", SIGNAL_STRENGTH_DECIBELS, lambda g: g.snr),
    ),  # fmt: skip
    Medium.ELECTRICITY: (
        _live(
            "power",
            SensorDeviceClass.POWER,
            UnitOfPower.KILO_WATT,
            lambda v: v.live.power,
        ),  # fmt: skip
        _live(
            "voltage",
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
            lambda v: v.live.voltage,
        ),  # fmt: skip
        _live(
            "current",
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
            lambda v: v.live.current,
        ),  # fmt: skip
    ),
}

#: Credit and how long it lasts, for prepaid meters.
PREPAID_SENSORS: Final = (
    MeterSensorEntityDescription(
        key="balance",
        translation_key="prepaid_balance",
        suggested_display_precision=2,
        value_fn=lambda v: None if v.prepaid is None else v.prepaid.balance,
    ),
    MeterSensorEntityDescription(
        key="days_left",
        translation_key="prepaid_days_left",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=1,
        value_fn=lambda v: None if v.prepaid is None else v.prepaid.days_left,
    ),
)


#: How the latest read of a bus meter went: "ok" or exactly what went wrong.
READ_STATUS: Final = MeterSensorEntityDescription(
    key="read_status",
    translation_key="bus_read_status",
    device_class=SensorDeviceClass.ENUM,
    options=[status.value for status in ReadStatus],
    entity_category=EntityCategory.DIAGNOSTIC,
    value_fn=lambda v: v.read_status,
    exists_fn=lambda meter: meter.on_bus,
)


def meter_sensors(meter: MeterConfig) -> tuple[MeterSensorEntityDescription, ...]:
    """Return the sensors of one meter: its medium's statistics, extras and credit."""
    water = meter.medium is Medium.WATER
    statistics = tuple(
        build(meter.medium, key, water_key if water else electricity_key, value_fn)
        for key, water_key, electricity_key, build, value_fn in _STATISTICS
    )
    prepaid = PREPAID_SENSORS if meter.prepaid else ()
    return tuple(
        description
        for description in (
            *statistics,
            *_EXTRAS[meter.medium],
            *prepaid,
            READ_STATUS,
        )
        if description.exists_fn(meter)
    )


def entities(coordinator: MetersCoordinator) -> list[Entity]:
    """Return every meter's sensors and the site's, per medium it has meters of."""
    media = {meter.medium for meter in coordinator.meters.values()} or {Medium.WATER}
    return [
        *(
            MeterSensor(coordinator, meter, description)
            for meter in coordinator.meters.values()
            for description in meter_sensors(meter)
        ),
        *(
            SiteSensor(coordinator, description)
            for description in SITE_SENSORS
            if description.medium in media
        ),
    ]


class MeterSensor(MeterEntity, SensorEntity):
    """A figure of one meter; unknown until the meter has the data for it."""

    entity_description: MeterSensorEntityDescription

    def __init__(
        self,
        coordinator: MetersCoordinator,
        meter: MeterConfig,
        description: MeterSensorEntityDescription,
    ) -> None:
        """Bind the description; a balance is in the ledger's unit."""
        super().__init__(coordinator, meter, description)
        if description.key == "status":
            self._attr_options = [
                Status.NORMAL.value,
                *(status.value for status in meter.problems),
            ]
        if description.key == "balance" and meter.prepaid is not None:
            # Money in the currency Home Assistant is set to; kWh as stored energy.
            if meter.prepaid.unit is CreditUnit.MONEY:
                self._attr_device_class = SensorDeviceClass.MONETARY
                self._attr_state_class = SensorStateClass.TOTAL
                self._attr_native_unit_of_measurement = coordinator.hass.config.currency
            else:
                self._attr_device_class = SensorDeviceClass.ENERGY_STORAGE
                self._attr_state_class = SensorStateClass.MEASUREMENT
                self._attr_native_unit_of_measurement = UnitOfEnergy.KILO_WATT_HOUR

    @property
    def native_value(self) -> StateType | datetime:
        """Return the figure from the meter's latest view."""
        return self.entity_description.value_fn(self.view)


@dataclass(frozen=True, kw_only=True)
class SiteSensorEntityDescription(SensorEntityDescription):
    """A figure of the site's 검침집계 for one medium, today or yesterday."""

    medium: Medium
    value_fn: Callable[[SiteAggregate], float | None]
    yesterday: bool = False


def _site(
    medium: Medium,
    key: str,
    translation_key: str,
    value_fn: Callable[[SiteAggregate], float | None],
    kind: str,
    yesterday: bool,
) -> SiteSensorEntityDescription:
    """Describe a figure of the 검침집계: a usage, a count or the mean read rate."""
    extra: dict[str, Any] = {}
    if kind == "usage":
        device_class, unit, precision = _AMOUNT[medium]
        extra = {
            "device_class": device_class,
            "native_unit_of_measurement": unit,
            "suggested_display_precision": precision,
        }
    elif kind == "rate":
        extra = {
            "native_unit_of_measurement": PERCENTAGE,
            "suggested_display_precision": 1,
        }
    return SiteSensorEntityDescription(
        # Water's keys came first and stay as they were.
        key=key if medium is Medium.WATER else f"{medium}_{key}",
        translation_key=translation_key,
        medium=medium,
        value_fn=value_fn,
        yesterday=yesterday,
        **extra,
    )


#: key, water translation key, electricity translation key, value, kind, yesterday.
_SITE: Final[
    tuple[
        tuple[str, str, str, Callable[[SiteAggregate], float | None], str, bool], ...
    ]
] = (
    ("meters", "water_site_meters", "electricity_site_meters",
     lambda a: a.meters, "count", False),
    ("total_usage_today", "water_site_total_usage_today",
     "electricity_site_total_usage_today", lambda a: a.total_usage, "usage", False),
    ("total_usage_yesterday", "water_site_total_usage_yesterday",
     "electricity_site_total_usage_yesterday", lambda a: a.total_usage, "usage",
     True),
    ("meters_read_today", "water_site_meters_read_today",
     "electricity_site_meters_read_today", lambda a: a.meters_read, "count", False),
    ("meters_read_yesterday", "water_site_meters_read_yesterday",
     "electricity_site_meters_read_yesterday", lambda a: a.meters_read, "count",
     True),
    ("readings_today", "water_site_readings_today",
     "electricity_site_readings_today", lambda a: a.readings, "count", False),
    ("readings_yesterday", "water_site_readings_yesterday",
     "electricity_site_readings_yesterday", lambda a: a.readings, "count", True),
    ("read_rate_today", "water_site_read_rate_today",
     "electricity_site_read_rate_today", lambda a: a.read_rate, "rate", False),
    ("read_rate_yesterday", "water_site_read_rate_yesterday",
     "electricity_site_read_rate_yesterday", lambda a: a.read_rate, "rate", True),
    ("average_usage_today", "water_site_average_usage_today",
     "electricity_site_average_usage_today", lambda a: a.average_usage, "usage",
     False),
    ("average_usage_yesterday", "water_site_average_usage_yesterday",
     "electricity_site_average_usage_yesterday", lambda a: a.average_usage,
     "usage", True),
    ("max_usage_today", "water_site_max_usage_today",
     "electricity_site_max_usage_today", lambda a: a.max_usage, "usage", False),
    ("max_usage_yesterday", "water_site_max_usage_yesterday",
     "electricity_site_max_usage_yesterday", lambda a: a.max_usage, "usage", True),
    ("min_usage_today", "water_site_min_usage_today",
     "electricity_site_min_usage_today", lambda a: a.min_usage, "usage", False),
    ("min_usage_yesterday", "water_site_min_usage_yesterday",
     "electricity_site_min_usage_yesterday", lambda a: a.min_usage, "usage", True),
)  # fmt: skip

SITE_SENSORS: Final = tuple(
    _site(medium, key, water if medium is Medium.WATER else electricity, value, kind, yesterday)
    for medium in Medium
    for key, water, electricity, value, kind, yesterday in _SITE
)  # fmt: skip


class SiteSensor(SiteEntity, SensorEntity):
    """A figure of the site's 검침집계."""

    entity_description: SiteSensorEntityDescription

    @property
    def native_value(self) -> float | None:
        """Return the figure from today's or yesterday's aggregate of its medium."""
        today, yesterday = self.coordinator.data.aggregates[
            self.entity_description.medium
        ]
        return self.entity_description.value_fn(
            yesterday if self.entity_description.yesterday else today
        )

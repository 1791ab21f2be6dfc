"""Ten days of two meters in Seoul, every statistic worked out by hand.

Meter m101 (a household) is read hourly at HH:05 from day 1 00:05. The
interval ending at HH:05 on day k uses k litres during the day (intervals
ending 06:05 .. 23:05: 18 of them) and nothing at night (ending 00:05 ..
05:05). Because no water flows from 23:05 to 06:05, each whole day's usage
is exactly 18 k litres, however the usage is spread over the intervals.

Disturbances:
* day 3: no readings at 10:05, 11:05, 12:05 (21 readings, 21 valid hours);
* day 5: the 15:05 reading carries the meter-fault flag (24 readings, 23 valid hours);
* day 6: an extra reading at 14:35 (25 readings, 24 valid hours);
* day 8: no reading at all, and nobody home (0 L).

Meter m102 is read hourly from day 9 00:05 and uses 5 L in every interval,
night included: a leak.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import seoul
from .helpers import at, push, value

SKIPPED = {(3, 10), (3, 11), (3, 12), *((8, hour) for hour in range(24))}


def used_101(day: int, hour: int) -> float:
    """m³ m101 used in the interval ending at HH:05 of day."""
    return 0.0 if hour <= 5 or day == 8 else 0.001 * day


async def _run(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Play the readings up to day 10 12:05, checking a few moments on the way."""
    index_101, index_102 = 100.0, 50.0
    first = True
    for day in range(1, 11):
        for hour in range(24):
            if (day, hour) > (10, 12):
                return
            if not first:
                index_101 += used_101(day, hour)
            first = False
            if (day, hour) == (8, 12):
                await at(hass, freezer, seoul(8, 12))
                # Last reading day 7 23:05, more than 3 h ago.
                assert value(hass, "sensor.unit_101_status") == "communication_fault"
                assert value(hass, "binary_sensor.unit_101_communication_fault") == "on"
            if (day, hour) == (10, 0):
                await at(hass, freezer, seoul(10, 0))
                # Midnight: day 9 is now "yesterday"; nothing read today yet.
                assert value(hass, "sensor.unit_101_usage_today") == 0.0
                assert value(hass, "sensor.unit_101_usage_yesterday") == pytest.approx(
                    0.162
                )
                assert value(hass, "sensor.unit_101_readings_today") == 0
                assert value(hass, "sensor.unit_101_readings_yesterday") == 24
            await at(hass, freezer, seoul(day, hour, 5))
            if (day, hour) not in SKIPPED:
                if (day, hour) == (5, 15):
                    await push(hass, "m101", 0.0, flags=["meter_fault"])
                else:
                    await push(hass, "m101", round(index_101, 3))
            if (day, hour) == (6, 14):
                await at(hass, freezer, seoul(6, 14, 35))
                await push(hass, "m101", round(index_101 + used_101(6, 15) / 2, 3))
            if day >= 9:
                if (day, hour) != (9, 0):
                    index_102 += 0.005
                await push(hass, "m102", round(index_102, 3))


async def test_ten_days_of_two_meters(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await _run(hass, freezer)
    await at(hass, freezer, seoul(10, 12, 30))

    def m101(key: str) -> float | str | None:
        return value(hass, f"sensor.unit_101_{key}")

    # Index: 100 + 18 L x (1+2+...+9 - 8) + 7 x 10 L today = 100 + 0.666 + 0.070.
    assert value(hass, "sensor.unit_101") == pytest.approx(100.736)
    # Newest interval 11:05 -> 12:05 on day 10: 10 L in one hour.
    assert m101("last_interval_usage") == pytest.approx(0.010)
    assert m101("flow_rate") == pytest.approx(0.010)
    assert m101("last_reading") == "2026-01-14T03:05:00+00:00"
    # Today: intervals ending 06:05 .. 12:05 at 10 L = 0.070 m³.
    assert m101("usage_today") == pytest.approx(0.070)
    # Yesterday, day 9: 18 x 9 L.
    assert m101("usage_yesterday") == pytest.approx(0.162)
    # 7 days = days 3..9, all covered: 54+72+90+108+126+0+162 = 612 L / 7.
    assert m101("average_daily_usage_7_days") == pytest.approx(0.612 / 7, abs=1e-6)
    # 30 days: history starts day 1 00:05, so day 1 is not whole; days 2..9: (36 + 612) / 8.
    assert m101("average_daily_usage_30_days") == pytest.approx(0.081)
    # Readings today 00:05 .. 12:05 = 13; yesterday 24.
    assert m101("readings_today") == 13
    assert m101("readings_yesterday") == 24
    # Days 3..9: 21 + 24 + 24 + 25 + 24 + 0 + 24 = 142 readings.
    assert m101("average_readings_per_day_7_days") == pytest.approx(142 / 7, abs=1e-6)
    # The meter was added on day 1, so 30 days means days 1..9: 24 + 24 + 142 = 190.
    assert m101("average_readings_per_day_30_days") == pytest.approx(190 / 9, abs=1e-6)
    # Valid hours days 3..9: 21 + 24 + 23 + 24 + 24 + 0 + 24 = 140 of 7 x 24 = 168.
    assert m101("hourly_read_rate_yesterday") == 100.0
    assert m101("hourly_read_rate_7_days") == pytest.approx(100 * 140 / 168, abs=1e-6)
    # Days 1..9: 24 + 24 + 140 = 188 of 216 hours.
    assert m101("hourly_read_rate_30_days") == pytest.approx(100 * 188 / 216, abs=1e-6)
    # Days with a valid reading: all but day 8.
    assert m101("daily_read_rate_yesterday") == 100.0
    assert m101("daily_read_rate_7_days") == pytest.approx(100 * 6 / 7, abs=1e-6)
    assert m101("daily_read_rate_30_days") == pytest.approx(100 * 8 / 9, abs=1e-6)
    assert m101("status") == "normal"

    # m102 used 5 L in every hour since day 9 00:05: a leak.
    assert value(hass, "sensor.unit_102_status") == "leak"
    assert value(hass, "binary_sensor.unit_102_leak_suspected") == "on"
    assert value(hass, "binary_sensor.unit_101_leak_suspected") == "off"
    # Day 9 from its first reading at 00:05: 23 intervals of 5 L, plus 55 of the
    # 60 minutes of the interval ending day 10 00:05 = 0.115 + 0.0045833.
    used_102_day9 = 0.115 + 0.005 * 55 / 60
    assert value(hass, "sensor.unit_102_usage_yesterday") == pytest.approx(
        used_102_day9, abs=1e-6
    )
    # Today: 5 minutes of that interval plus 12 intervals = 0.0004167 + 0.060.
    used_102_today = 0.005 * 5 / 60 + 0.060
    assert value(hass, "sensor.unit_102_usage_today") == pytest.approx(
        used_102_today, abs=1e-6
    )
    # Day 9 is not whole (first reading 00:05): no average yet.
    assert value(hass, "sensor.unit_102_average_daily_usage_7_days") is None
    # Days 3..9 counted (added day 1); only day 9 had readings.
    assert value(
        hass, "sensor.unit_102_average_readings_per_day_7_days"
    ) == pytest.approx(24 / 7, abs=1e-6)
    assert value(hass, "sensor.unit_102_hourly_read_rate_7_days") == pytest.approx(
        100 * 24 / 168, abs=1e-6
    )
    assert value(hass, "sensor.unit_102_daily_read_rate_7_days") == pytest.approx(
        100 / 7, abs=1e-6
    )

    def site(key: str) -> float | str | None:
        return value(hass, f"sensor.hanbit_apartments_{key}")

    assert site("meters") == 2
    # Yesterday both meters were read 24 times.
    assert site("meters_read_yesterday") == 2
    assert site("readings_yesterday") == 48
    assert site("read_rate_yesterday") == 100.0
    assert site("total_usage_yesterday") == pytest.approx(
        0.162 + used_102_day9, abs=1e-6
    )
    assert site("average_usage_per_meter_yesterday") == pytest.approx(
        (0.162 + used_102_day9) / 2, abs=1e-6
    )
    assert site("highest_usage_of_a_meter_yesterday") == pytest.approx(0.162)
    assert site("lowest_usage_of_a_meter_yesterday") == pytest.approx(
        used_102_day9, abs=1e-6
    )
    # Today each has 13 readings in 13 hours: 13/24 = 54.17 %.
    assert site("meters_read_today") == 2
    assert site("readings_today") == 26
    assert site("read_rate_today") == pytest.approx(100 * 13 / 24, abs=1e-6)
    assert site("total_usage_today") == pytest.approx(0.070 + used_102_today, abs=1e-6)
    assert site("average_usage_per_meter_today") == pytest.approx(
        (0.070 + used_102_today) / 2, abs=1e-6
    )
    assert site("highest_usage_of_a_meter_today") == pytest.approx(0.070)
    assert site("lowest_usage_of_a_meter_today") == pytest.approx(
        used_102_today, abs=1e-6
    )

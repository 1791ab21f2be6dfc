"""Every status rule of a meter, through its status and problem entities."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import push_meter, seoul
from .helpers import at, push, value

PROBLEMS = (
    "communication_fault",
    "meter_fault",
    "leak_suspected",
    "above_q4",
    "battery",
    "backflow",
)


def problems(hass: HomeAssistant, meter: str = "unit_101") -> set[str]:
    """Return the problem binary sensors that are on."""
    return {
        problem
        for problem in PROBLEMS
        if value(hass, f"binary_sensor.{meter}_{problem}") == "on"
    }


def status(hass: HomeAssistant, meter: str = "unit_101") -> Any:
    """Return the status sensor's state."""
    return value(hass, f"sensor.{meter}_status")


async def test_communication_fault_after_the_gap(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    # Setup at 00:00: m102 never reports; it counts from when it was added.
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 10.0)
    await at(hass, freezer, seoul(1, 3, 0))
    assert status(hass, "unit_102") == "normal"
    # The poll at 03:05 re-evaluates: m102 silent for 3 h 5 min; m101 for 2 h 5 min.
    await at(hass, freezer, seoul(1, 3, 5))
    assert status(hass, "unit_102") == "communication_fault"
    assert problems(hass, "unit_102") == {"communication_fault"}
    assert status(hass) == "normal"
    # Exactly 3 h after m101's reading is not longer than the gap; 5 min more is.
    await at(hass, freezer, seoul(1, 4, 0))
    assert status(hass) == "normal"
    await at(hass, freezer, seoul(1, 4, 5))
    assert status(hass) == "communication_fault"
    # A reading clears it at once.
    await push(hass, "m101", 10.0)
    assert status(hass) == "normal"
    assert problems(hass) == set()


@pytest.mark.parametrize("water_settings", [{"gap_hours": 1}])
async def test_gap_is_a_site_option(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await push(hass, "m101", 10.0)
    await at(hass, freezer, seoul(1, 1, 5))
    assert status(hass) == "communication_fault"


async def test_meter_fault_and_low_battery_come_from_the_flags(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 5))
    await push(hass, "m101", 10.0, flags=["low_battery"])
    assert status(hass) == "low_battery"
    assert problems(hass) == {"battery"}
    await at(hass, freezer, seoul(1, 1, 5))
    # The terminal lost the meter: index meaningless, flag set.
    await push(hass, "m101", 0, flags=["meter_fault", "low_battery"])
    assert status(hass) == "meter_fault"
    assert problems(hass) == {"meter_fault", "battery"}
    # The broken reading neither moves the index nor the statistics.
    assert value(hass, "sensor.unit_101") == 10.0
    assert value(hass, "sensor.unit_101_readings_today") == 2
    await at(hass, freezer, seoul(1, 2, 5))
    await push(hass, "m101", 10.01)
    assert status(hass) == "normal"
    assert problems(hass) == set()


async def test_backflow_from_the_flag_or_a_falling_index(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 5))
    await push(hass, "m101", 10.0)
    await at(hass, freezer, seoul(1, 1, 5))
    await push(hass, "m101", 9.98, flags=["backflow"])
    assert status(hass) == "backflow"
    assert value(hass, "sensor.unit_101_last_interval_usage") == pytest.approx(-0.02)
    await at(hass, freezer, seoul(1, 2, 5))
    # Newest reading without a flag but broken; the newest valid interval still
    # went backwards (10.0 -> 9.98).
    await push(hass, "m101", 0, flags=["meter_fault"])
    assert problems(hass) == {"meter_fault", "backflow"}
    await at(hass, freezer, seoul(1, 3, 5))
    await push(hass, "m101", 9.99)
    assert problems(hass) == set()


@pytest.mark.parametrize(
    "water_meters",
    [[push_meter("m101", "Unit 101"), push_meter("m102", "Unit 102", q3=4.0, q4=5.0)]],
)
async def test_over_q4_against_each_meters_own_q4(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    await push(hass, "m101", 10.0)
    await push(hass, "m102", 10.0)
    await at(hass, freezer, seoul(1, 0, 10))
    # 0.6 m³ in 10 minutes = 3.6 m³/h: above m101's Q4 (3.125), below m102's (5).
    await push(hass, "m101", 10.6)
    await push(hass, "m102", 10.6)
    assert value(hass, "sensor.unit_101_flow_rate") == pytest.approx(3.6)
    assert status(hass) == "over_q4"
    assert problems(hass) == {"above_q4"}
    assert status(hass, "unit_102") == "normal"
    await at(hass, freezer, seoul(1, 0, 20))
    # Exactly Q4 (0.5208333 m³ in 10 min = 3.125 m³/h) is not above it.
    await push(hass, "m101", round(10.6 + 3.125 / 6, 6))
    assert status(hass) == "normal"


async def test_leak_needs_flow_in_every_hour_of_a_day(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    # 1 L (the default threshold, 1 L/h) in every hour from day 1 00:05.
    for hour in range(26):
        await at(hass, freezer, seoul(1, 0, 5 + 60 * hour))
        await push(hass, "m101", round(10 + 0.001 * hour, 3))
        if hour == 24:
            # Newest day 2 00:05: the hours since day 1 00:00 include 00:00-00:05, before the first reading.
            assert status(hass) == "normal"
    # Newest day 2 01:05: each hour from day 1 01:00 to day 2 01:00 got 1 L.
    assert status(hass) == "leak"
    assert problems(hass) == {"leak_suspected"}
    # An hour without flow.
    await at(hass, freezer, seoul(2, 2, 5))
    await push(hass, "m101", 10.025)
    assert status(hass) == "normal"


@pytest.mark.parametrize(
    ("water_settings", "expected"),
    [({"leak_threshold": 1.0}, "leak"), ({"leak_threshold": 2.0}, "normal")],
)
async def test_leak_threshold_is_a_site_option(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    expected: str,
) -> None:
    hass = hass_seoul
    # 1.5 L every hour for 26 hours: above a 1 L/h threshold, below 2 L/h.
    for hour in range(26):
        await at(hass, freezer, seoul(1, 0, 5 + 60 * hour))
        await push(hass, "m101", round(10 + 0.0015 * hour, 4))
    assert status(hass) == expected

"""The record_water_reading action: readings in, bad ones refused with a reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.smartcity_ddc.const import DOMAIN

from .conftest import seoul
from .helpers import at, push, value


@pytest.mark.parametrize(
    ("reading", "key"),
    [
        ({"index": "12,5"}, "meters_reading_non_numeric"),
        ({"index": None}, "meters_reading_non_numeric"),
        ({"index": float("nan")}, "meters_reading_non_numeric"),
        ({"index": -0.5}, "meters_reading_negative"),
        # Below the 10.0 m³ read at 01:00, without the backflow flag.
        ({"index": 9.99}, "meters_reading_backwards"),
        # A late reading above the later one.
        ({"index": 10.5, "timestamp": seoul(1, 0, 30)}, "meters_reading_backwards"),
        ({"index": 11.0, "timestamp": seoul(1, 2, 6)}, "meters_reading_future"),
        ({"index": 10.0, "timestamp": seoul(1, 1)}, "meters_reading_duplicate"),
        (
            {"index": 1.0, "timestamp": seoul(1, 1) - timedelta(days=41)},
            "meters_reading_too_old",
        ),
    ],
)
async def test_bad_readings_are_refused_and_change_nothing(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    reading: dict[str, Any],
    key: str,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    await push(hass, "m101", 9.0)
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 10.0)
    await at(hass, freezer, seoul(1, 1, 30))
    before = {s.entity_id: s.state for s in hass.states.async_all()}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "record_water_reading", {"meter": "m101", **reading}, blocking=True
        )
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["meter"] == "m101"
    await hass.async_block_till_done()
    assert {s.entity_id: s.state for s in hass.states.async_all()} == before
    assert value(hass, "sensor.unit_101_readings_today") == 2


async def test_unknown_meter_is_refused(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await push(hass_seoul, "m999", 1.0)
    assert err.value.translation_key == "meters_unknown_meter"
    assert err.value.translation_placeholders == {"meter": "m999"}


async def test_unknown_flag_is_a_schema_error(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    with pytest.raises(vol.Invalid):
        await push(hass_seoul, "m101", 1.0, flags=["on_fire"])
    # An open relay is read from the meter, never pushed.
    with pytest.raises(vol.Invalid):
        await push(hass_seoul, "m101", 1.0, flags=["relay_open"])


async def test_late_readings_are_placed_where_they_belong(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(2, 12, 0))
    # A meter-data platform delivers yesterday's readings late, newest first:
    # 23:00 102.0, then 01:00 100.0, then 13:00 101.5 (timestamps in any form).
    await push(hass, "m101", 102.0, timestamp="2026-01-05T23:00:00+09:00")
    await push(hass, "m101", 100.0, timestamp=seoul(1, 1))
    # A time without a zone is local (Seoul) time.
    await push(hass, "m101", "101.5", timestamp="2026-01-05 13:00:00")
    # Yesterday: 01:00 -> 23:00 = 2.0 m³; newest interval 13:00 -> 23:00 = 0.5 m³ in 10 h.
    assert value(hass, "sensor.unit_101_usage_yesterday") == pytest.approx(2.0)
    assert value(hass, "sensor.unit_101_readings_yesterday") == 3
    assert value(hass, "sensor.unit_101_last_interval_usage") == pytest.approx(0.5)
    assert value(hass, "sensor.unit_101_flow_rate") == pytest.approx(0.05)
    assert value(hass, "sensor.unit_101") == 102.0
    assert value(hass, "sensor.unit_101_last_reading") == "2026-01-05T14:00:00+00:00"
    # Last reading 13 h ago.
    assert value(hass, "sensor.unit_101_status") == "communication_fault"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_signal_of_the_newest_reading(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 10.0, rssi=-97, rsrq=-11.5, rsrp="-105", snr=4.25)
    assert value(hass, "sensor.unit_101_rssi") == -97
    assert value(hass, "sensor.unit_101_rsrq") == -11.5
    assert value(hass, "sensor.unit_101_rsrp") == -105
    assert value(hass, "sensor.unit_101_snr") == 4.25
    # A late reading's signal is old news; a reading without signal keeps the last.
    await push(hass, "m101", 9.0, timestamp=seoul(1, 0, 0), rssi=-60)
    await at(hass, freezer, seoul(1, 2, 0))
    await push(hass, "m101", 10.5)
    assert value(hass, "sensor.unit_101_rssi") == -97
    assert value(hass, "sensor.unit_102_rssi") is None


async def test_signal_sensors_are_disabled_by_default(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    assert hass_seoul.states.get("sensor.unit_101_rssi") is None
    assert value(hass_seoul, "sensor.unit_101_status") == "normal"


@pytest.mark.parametrize(
    ("index", "key"),
    [
        ("ten", "meters_reading_non_numeric"),
        (-1, "meters_reading_negative"),
        (1e10, "meters_reading_implausible"),
    ],
)
async def test_a_correction_that_is_no_reading_is_refused(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    index: Any,
    key: str,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    await push(hass, "m101", 9.0)
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 10.0)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "correct_water_reading",
            {"meter": "m101", "timestamp": seoul(1, 0, 0), "index": index},
            blocking=True,
        )
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["meter"] == "m101"
    # The reading stays as it was.
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(1.0)
    assert value(hass, "sensor.unit_101_readings_today") == 2

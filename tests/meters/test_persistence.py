"""A site's history survives restarts: Home Assistant storage, saved on unload and after changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.smartcity_ddc.const import DOMAIN

from .conftest import push_meter, remove_meter, seoul, site_entry
from .helpers import at, push, value


def key(entry: MockConfigEntry) -> str:
    """Return the storage key of a site's history."""
    return f"smartcity_ddc.water_{entry.entry_id}"


async def _two_days(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Read m101 at 12:00 on day 1 (5.0 m³) and day 2 (5.24 m³), m102 once."""
    await at(hass, freezer, seoul(1, 12))
    await push(hass, "m101", 5.0, rssi=-88)
    await push(hass, "m102", 1.0, flags=["low_battery"])
    await at(hass, freezer, seoul(2, 12))
    await push(hass, "m101", 5.24)


async def test_history_survives_unload_and_setup(
    hass_seoul: HomeAssistant,
    water_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    hass = hass_seoul
    water_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    await _two_days(hass, freezer)
    # 0.24 m³ over 24 h, half of it today (00:00-12:00).
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(0.12)
    assert await hass.config_entries.async_unload(water_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[key(water_entry)]["data"]["meters"]
    assert stored["m101"]["t"] == [int(seoul(1, 12).timestamp()), 86400]
    assert stored["m102"]["f"] == [[0, 2]]

    assert await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    assert water_entry.state is ConfigEntryState.LOADED
    assert value(hass, "sensor.unit_101") == 5.24
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(0.12)
    assert value(hass, "sensor.unit_101_usage_yesterday") == pytest.approx(0.12)
    assert value(hass, "sensor.unit_101_readings_yesterday") == 1
    assert value(hass, "sensor.unit_102_status") == "communication_fault"
    assert value(hass, "binary_sensor.unit_102_battery") == "on"
    # Readings continue where they left off: the index may not go backwards.
    await at(hass, freezer, seoul(2, 13))
    await push(hass, "m101", 5.25)
    assert value(hass, "sensor.unit_101_last_interval_usage") == pytest.approx(0.01)


async def test_changes_are_saved_within_a_minute(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 12))
    await push(hass, "m101", 5.0)
    assert key(setup_water) not in hass_storage
    await at(hass, freezer, seoul(1, 12) + timedelta(seconds=61))
    assert hass_storage[key(setup_water)]["data"]["meters"]["m101"]["i"] == [5.0]


async def test_unsaved_readings_are_written_when_home_assistant_stops(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant stops without unloading entries: the readings of the last minute still reach the disk."""
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 12))
    await push(hass, "m101", 5.0)
    await at(hass, freezer, seoul(1, 12) + timedelta(seconds=30))
    assert key(setup_water) not in hass_storage
    # What Home Assistant fires last when it stops, after which nothing runs.
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert hass_storage[key(setup_water)]["data"]["meters"]["m101"]["i"] == [5.0]
    assert setup_water.state is ConfigEntryState.LOADED


async def test_a_save_waiting_for_the_recorder_gives_way_to_a_newer_write(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    water_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unload while a delayed save waits for the recorder: the unload's newer write stays."""
    hass = hass_seoul
    water_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    recorder = get_instance(hass)
    waiting, release = asyncio.Event(), asyncio.Event()
    recorder_done = recorder.async_block_till_done

    async def slow_recorder() -> None:
        waiting.set()
        await release.wait()
        await recorder_done()

    await at(hass, freezer, seoul(1, 12))
    await push(hass, "m101", 5.0)
    monkeypatch.setattr(recorder, "async_block_till_done", slow_recorder)
    # The save falls due and waits for the recorder (not awaited here: it hangs).
    due = seoul(1, 12) + timedelta(seconds=61)
    freezer.move_to(due)
    async_fire_time_changed(hass, due)
    async with asyncio.timeout(10):
        await waiting.wait()
    # Meanwhile a second reading, then the entry unloads and writes both.
    await push(hass, "m101", 5.1)
    assert await hass.config_entries.async_unload(water_entry.entry_id)
    assert hass_storage[key(water_entry)]["data"]["meters"]["m101"]["i"] == [5.0, 5.1]
    # The waiting save ends after that: it must not put the older history back.
    release.set()
    await hass.async_block_till_done()
    assert hass_storage[key(water_entry)]["data"]["meters"]["m101"]["i"] == [5.0, 5.1]


async def test_an_unreadable_stored_meter_starts_afresh(
    hass_seoul: HomeAssistant,
    water_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass = hass_seoul
    hass_storage[key(water_entry)] = {
        "version": 1,
        "minor_version": 1,
        "key": key(water_entry),
        "data": {
            "format": 1,
            "meters": {
                "m101": {
                    "added": 0,
                    "origin": None,
                    "compacted_until": 0,
                    "t": [5, 0],
                    "i": [1, 2],
                    "f": [],
                    "w": [],
                    "signal": None,
                },
                "m102": {
                    "added": int(seoul(1, 0).timestamp()),
                    "origin": None,
                    "compacted_until": 0,
                    "t": [int(seoul(1, 0).timestamp())],
                    "i": [42.0],
                    "f": [],
                    "w": [],
                    "signal": None,
                },
            },
        },
    }
    water_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    assert "history of meter m101 is unreadable" in caplog.text
    assert value(hass, "sensor.unit_101") is None
    assert value(hass, "sensor.unit_102") == 42.0


async def test_removed_meters_and_sites_leave_no_history(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    hass = hass_seoul
    await _two_days(hass, freezer)
    remove_meter(hass, setup_water, "m102")
    await hass.async_block_till_done()
    assert set(hass_storage[key(setup_water)]["data"]["meters"]) == {"m101", "m102"}
    # Saved on the next unload without the removed meter.
    await hass.config_entries.async_reload(setup_water.entry_id)
    await hass.async_block_till_done()
    assert set(hass_storage[key(setup_water)]["data"]["meters"]) == {"m101"}
    assert hass.states.get("sensor.unit_102") is None
    await hass.config_entries.async_remove(setup_water.entry_id)
    await hass.async_block_till_done()
    assert key(setup_water) not in hass_storage


async def test_removing_a_site_leaves_the_other_sites_repairs(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    other = site_entry([push_meter("m301", "Unit 301")])
    other.add_to_hass(hass)
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    issues = ir.async_get(hass)
    # Without the recorder each site has its repair.
    for entry in (setup_water, other):
        issue_id = f"meters_recorder_missing_{entry.entry_id}"
        assert issues.async_get_issue(DOMAIN, issue_id) is not None
    await hass.config_entries.async_remove(setup_water.entry_id)
    await hass.async_block_till_done()
    gone = f"meters_recorder_missing_{setup_water.entry_id}"
    assert issues.async_get_issue(DOMAIN, gone) is None
    kept = f"meters_recorder_missing_{other.entry_id}"
    assert issues.async_get_issue(DOMAIN, kept) is not None
    await hass.config_entries.async_unload(other.entry_id)

"""Nothing lost, nothing poisoned: readings reach the disk within a bounded time, only those
allowed may record them, impossible readings are refused, and an administrator can repair one."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from datetime import timedelta
import threading
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.tasks import RecorderTask
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)

from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.meters import coordinator as coordinator_module
from custom_components.smartcity_ddc.meters.const import SAVE_DELAY

from .conftest import push_meter, seoul
from .helpers import at, push, value
from .test_statistics import rows

RECORD = "record_water_reading"
CORRECT = "correct_water_reading"


def _stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> list[int]:
    """Return the timestamps of m101's readings on disk."""
    data = hass_storage.get(f"{DOMAIN}.water_{entry.entry_id}")
    if data is None:
        return []
    stamps, total = [], 0
    for delta in data["data"]["meters"]["m101"]["t"]:
        total += delta
        stamps.append(total)
    return stamps


async def test_readings_every_thirty_seconds_reach_the_disk_within_a_minute(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    hass = hass_seoul
    start = seoul(1, 8)
    pushed: list[int] = []
    # 30 minutes of a reading every 30 s: a save that each reading pushed back
    # would never happen.
    for step in range(60):
        when = start + timedelta(seconds=30 * step)
        await at(hass, freezer, when)
        await push(hass, "m101", 100 + step * 0.001)
        pushed.append(int(when.timestamp()))
        on_disk = set(_stored(hass_storage, setup_water))
        # What a power cut now would lose: at most the last SAVE_DELAY seconds.
        lost = [t for t in pushed if t not in on_disk]
        assert all(t > when.timestamp() - SAVE_DELAY for t in lost), step
    assert len(_stored(hass_storage, setup_water)) >= 58


async def _admin_call(hass: HomeAssistant, service: str, data: dict[str, Any]) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


async def test_only_administrators_and_automations_record_readings(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_read_only_user: MockUser,
    hass_admin_user: MockUser,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 1))
    for service in (RECORD, CORRECT):
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN,
                service,
                {"meter": "m101", "index": 5.0, "timestamp": seoul(1, 1)},
                blocking=True,
                context=Context(user_id=hass_read_only_user.id),
            )
    assert value(hass, "sensor.unit_101") is None
    await hass.services.async_call(
        DOMAIN,
        RECORD,
        {"meter": "m101", "index": 5.0},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert value(hass, "sensor.unit_101") == 5.0


@pytest.fixture
def water_meters() -> list[dict[str, Any]]:
    """A pushed meter and one that follows a sensor."""
    return [
        push_meter("m101", "Unit 101"),
        push_meter("m102", "Unit 102", source="sensor", entity_id="sensor.wallpad"),
    ]


async def test_a_meter_fed_by_its_sensor_takes_no_pushed_readings(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    with pytest.raises(ServiceValidationError) as err:
        await push(hass, "m102", 7.0)
    assert err.value.translation_key == "meters_reading_not_pushed"
    assert value(hass, "sensor.unit_102") is None


@pytest.mark.parametrize(
    "index",
    [10**400, 1e308, 1e10, "9" * 400, "1e400"],
    ids=["int-overflow", "1e308", "above-any-meter", "long-text", "inf-text"],
)
async def test_impossible_numbers_are_refused_with_a_reason(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    index: Any,
) -> None:
    hass = hass_seoul
    with pytest.raises(ServiceValidationError) as err:
        await push(hass, "m101", index)
    assert err.value.translation_key in (
        "meters_reading_implausible",
        "meters_reading_non_numeric",
    )
    assert len(err.value.translation_placeholders["index"]) <= 64
    assert value(hass, "sensor.unit_101") is None


async def test_a_poisoned_reading_is_refused_and_a_wrong_one_can_be_removed(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0))
    await push(hass, "m101", 100.0)
    await at(hass, freezer, seoul(1, 1))
    # 900 m³ in an hour: a 15 mm meter (Q4 3.125 m³/h) cannot pass it.
    with pytest.raises(ServiceValidationError) as err:
        await push(hass, "m101", 1000.0)
    assert err.value.translation_key == "meters_reading_implausible"
    # A wrong one that is possible slips in (12 m³ in an hour, over Q4)...
    await push(hass, "m101", 112.0)
    await at(hass, freezer, seoul(1, 2))
    # ...and makes the real next reading look backwards.
    with pytest.raises(ServiceValidationError) as err:
        await push(hass, "m101", 100.4)
    assert err.value.translation_key == "meters_reading_backwards"
    assert (await rows(hass))[-1][2] == pytest.approx(12.0)
    # An administrator removes it: statistics are rewritten, the real one goes in.
    await _admin_call(hass, CORRECT, {"meter": "m101", "timestamp": seoul(1, 1)})
    await push(hass, "m101", 100.4)
    assert value(hass, "sensor.unit_101") == 100.4
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(0.4)
    assert await rows(hass) == [
        (seoul(0, 23), 100.0, 0.0),
        (seoul(1, 0), 100.2, 0.2),
        (seoul(1, 1), 100.4, 0.4),
    ]
    # A reading that isn't there can't be corrected.
    with pytest.raises(ServiceValidationError) as err:
        await _admin_call(
            hass, CORRECT, {"meter": "m101", "timestamp": seoul(1, 1, 30), "index": 1}
        )
    assert err.value.translation_key == "meters_no_reading_at"
    # Replacing an index rewrites the rows too.
    await _admin_call(
        hass, CORRECT, {"meter": "m101", "timestamp": seoul(1, 2), "index": 100.6}
    )
    assert (await rows(hass))[-1] == (seoul(1, 1), 100.6, pytest.approx(0.6))


async def test_statistics_sums_stay_right_when_the_history_on_disk_is_older(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A power cut after rows were written but before the history was: no sum counts twice."""
    hass = hass_seoul
    key = f"{DOMAIN}.water_{setup_water.entry_id}"
    await at(hass, freezer, seoul(1, 0, 5))
    await push(hass, "m101", 100.0)
    await hass.config_entries.async_reload(setup_water.entry_id)
    await hass.async_block_till_done()
    # On disk: the first reading; no whole hour yet, so no statistics origin.
    on_disk = hass_storage[key]
    assert on_disk["data"]["meters"]["m101"]["origin"] is None
    await at(hass, freezer, seoul(1, 2, 5))
    await push(hass, "m101", 100.5)
    # 0.5 m³ over 00:05-02:05: I(02:00) = 100 + 0.5 x 115/120.
    assert (await rows(hass))[-1] == (seoul(1, 1), 100.479167, 0.479167)
    # Killed now: the rows are in the recorder, the history's save never happened.
    setup_water.runtime_data._save_timer()  # the pending save dies with the process
    setup_water.runtime_data._save_timer = None
    setup_water.runtime_data._loaded = False  # and so does the save on unload
    await hass.config_entries.async_unload(setup_water.entry_id)
    hass_storage[key] = on_disk
    assert await hass.config_entries.async_setup(setup_water.entry_id)
    await hass.async_block_till_done()
    await at(hass, freezer, seoul(1, 3, 5))
    await push(hass, "m101", 100.8)
    # The 02:05 reading is lost; 00:05-03:05 now spreads 0.8 m³ over 3 h:
    # I(03:00) = 100 + 0.8 x 175/180. The sum counts from the same origin as
    # before the cut (100.0), not from the sum already written (0.48 more).
    assert (await rows(hass))[-1] == (seoul(1, 2), 100.777778, 0.777778)


async def test_statistics_sums_stay_right_when_the_history_was_never_saved(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A power cut after rows were written but before the history's first save: one origin still."""
    hass = hass_seoul
    key = f"{DOMAIN}.water_{setup_water.entry_id}"
    # On disk: the site as it was set up, without a reading.
    on_disk = copy.deepcopy(hass_storage.get(key))
    await at(hass, freezer, seoul(1, 0, 5))
    await push(hass, "m101", 100.0)
    await at(hass, freezer, seoul(1, 2, 5))
    await push(hass, "m101", 100.5)
    # I(01:00) = 100 + 0.5 x 55/120, I(02:00) = 100 + 0.5 x 115/120; origin 100.0.
    assert await rows(hass) == [
        (seoul(1, 0), 100.229167, 0.229167),
        (seoul(1, 1), 100.479167, 0.479167),
    ]
    # Killed now: rows in the recorder, the history never reached the disk.
    setup_water.runtime_data._save_timer()  # the pending save dies with the process
    setup_water.runtime_data._save_timer = None
    setup_water.runtime_data._loaded = False  # and so does the save on unload
    await hass.config_entries.async_unload(setup_water.entry_id)
    # Every save after the setup died with the process.
    if on_disk is None:
        hass_storage.pop(key, None)
    else:
        hass_storage[key] = on_disk
    assert await hass.config_entries.async_setup(setup_water.entry_id)
    await hass.async_block_till_done()
    await at(hass, freezer, seoul(1, 3, 5))
    await push(hass, "m101", 100.8)
    await at(hass, freezer, seoul(1, 4, 5))
    await push(hass, "m101", 101.0)
    # The meter goes on (100.8 after 100.479 at 02:00): its sum counts from
    # 100.0 as before, so 02:00-04:00 adds what the index rose. 03:00 has no
    # row: no reading before it survived. I(04:00) = 100.8 + 0.2 x 55/60.
    found = await rows(hass)
    assert found == [
        (seoul(1, 0), 100.229167, 0.229167),
        (seoul(1, 1), 100.479167, 0.479167),
        (seoul(1, 3), 100.983333, 0.983333),
    ]


@dataclass
class _HoldRecorder(RecorderTask):
    """Keeps the recorder's thread busy until released, as a slow disk would."""

    release: threading.Event

    def run(self, instance: Recorder) -> None:
        """Wait for the release (bounded)."""
        self.release.wait(30)


async def test_the_history_is_saved_only_after_the_recorder_wrote_its_rows(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A crash right after a save must not lose rows of the readings saved: rows a day old are not imported again."""
    hass = hass_seoul
    key = f"{DOMAIN}.water_{setup_water.entry_id}"
    await at(hass, freezer, seoul(1, 0, 59, 40))
    await push(hass, "m101", 100.0)
    release = threading.Event()
    get_instance(hass).queue_task(_HoldRecorder(release))
    try:
        await at(hass, freezer, seoul(1, 1, 0, 20))
        await push(hass, "m101", 100.01)
        # The save falls due while the recorder has not written the 01:00 row.
        due = seoul(1, 1, 0, 41)
        freezer.move_to(due)
        async_fire_time_changed(hass, due)
        for _ in range(20):
            await asyncio.sleep(0)
        stored = hass_storage.get(key, {"data": {"meters": {}}})["data"]["meters"]
        assert not stored.get("m101", {}).get("t")
    finally:
        release.set()
    await hass.async_block_till_done()
    assert hass_storage[key]["data"]["meters"]["m101"]["i"] == [100.0, 100.01]
    # I(01:00) = 100 + 0.01 x 20/40.
    assert await rows(hass) == [(seoul(1, 0), 100.005, 0.005)]


async def test_a_recorder_that_never_finishes_does_not_hold_the_readings_back(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stuck recorder (a locked database) costs the statistics, not the readings."""
    hass = hass_seoul
    # The save waits no time at all for the recorder here (10 s in use).
    monkeypatch.setattr(coordinator_module, "RECORDER_WAIT", 0)
    key = f"{DOMAIN}.water_{setup_water.entry_id}"
    await at(hass, freezer, seoul(1, 1))
    release = threading.Event()
    get_instance(hass).queue_task(_HoldRecorder(release))
    try:
        await push(hass, "m101", 100.0)
        due = seoul(1, 1) + timedelta(seconds=SAVE_DELAY + 1)
        freezer.move_to(due)
        async_fire_time_changed(hass, due)
        # Bounded: the save needs a few turns of the loop, not the recorder.
        for _ in range(100):
            if key in hass_storage:
                break
            await asyncio.sleep(0)
        assert hass_storage[key]["data"]["meters"]["m101"]["i"] == [100.0]
        assert "the recorder did not write the meter statistics" in caplog.text
    finally:
        release.set()
    await hass.async_block_till_done()

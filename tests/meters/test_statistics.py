"""Hourly usage in Home Assistant's long-term statistics, read back from the recorder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smartcity_ddc import compat
from custom_components.smartcity_ddc.const import DOMAIN

from .conftest import add_meter, push_meter, remove_meter, seoul
from .helpers import at, push, value

STAT = "smartcity_ddc:water_m101"


async def rows(
    hass: HomeAssistant, statistic_id: str = STAT
) -> list[tuple[datetime, float, float]]:
    """Return (start in Seoul, state, sum) of every hourly row of a statistic."""
    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        seoul(-30, 0),
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return [
        (
            datetime.fromtimestamp(row["start"], seoul(1, 0).tzinfo),
            pytest.approx(row["state"], abs=1e-6),
            pytest.approx(row["sum"], abs=1e-6),
        )
        for row in found.get(statistic_id, [])
    ]


async def test_hourly_usage_rows_and_backfill(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 5))
    await push(hass, "m101", 100.0)
    assert await rows(hass) == []
    await at(hass, freezer, seoul(1, 3, 5))
    await push(hass, "m101", 100.3)
    # 0.3 m³ over 00:05-03:05 = 0.1 m³/h. Hour ends 01:00, 02:00, 03:00 are
    # covered; the sum counts from the first reading (100.0).
    # I(01:00) = 100 + 0.1 x 55/60 = 100.091667, then +0.1 each hour.
    assert await rows(hass) == [
        (seoul(1, 0), 100.091667, 0.091667),
        (seoul(1, 1), 100.191667, 0.191667),
        (seoul(1, 2), 100.291667, 0.291667),
    ]
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={STAT})
    )
    meta = metadata[STAT][1]
    assert (meta["has_sum"], meta["source"], meta["unit_of_measurement"]) == (
        True,
        DOMAIN,
        "m³",
    )
    assert meta["name"] == "Unit 101"

    # The 01:05 reading arrives late: 100.25. Now 00:05-01:05 used 0.25 m³
    # (0.25 m³/h) and 01:05-03:05 0.05 m³ (0.025 m³/h):
    # I(01:00) = 100 + 0.25 x 55/60 = 100.229167
    # I(02:00) = 100.25 + 0.025 x 55/60 = 100.272917
    # I(03:00) = 100.25 + 0.025 x 115/60 = 100.297917
    await push(hass, "m101", 100.25, timestamp=seoul(1, 1, 5))
    assert await rows(hass) == [
        (seoul(1, 0), 100.229167, 0.229167),
        (seoul(1, 1), 100.272917, 0.272917),
        (seoul(1, 2), 100.297917, 0.297917),
    ]
    # The daily usage agrees with the rows: I(03:05) - I(00:05).
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(0.3)


async def test_a_meter_added_again_continues_its_statistic(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    await push(hass, "m101", 100.0)
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 100.5)
    # Readings on the hour cover the end of the hour before the first one too:
    # its row has the first index and a sum of zero.
    assert await rows(hass) == [(seoul(0, 23), 100.0, 0.0), (seoul(1, 0), 100.5, 0.5)]
    # The meter is replaced: removed, then added again with a new index.
    remove_meter(hass, setup_water, "m101")
    await hass.async_block_till_done()
    add_meter(hass, setup_water, push_meter("m101", "Unit 101"))
    await hass.async_block_till_done()
    assert value(hass, "sensor.unit_101") is None
    await at(hass, freezer, seoul(1, 2, 0))
    await push(hass, "m101", 3.0)
    await at(hass, freezer, seoul(1, 3, 0))
    await push(hass, "m101", 3.2)
    # The new meter counts from its first reading (3.0), continuing the old
    # statistic's sum (0.5): row 01:00-02:00 ends at 3.0 with 0.5, the next at 3.2 with 0.7.
    assert await rows(hass) == [
        (seoul(0, 23), 100.0, 0.0),
        (seoul(1, 0), 100.5, 0.5),
        (seoul(1, 1), 3.0, 0.5),
        (seoul(1, 2), 3.2, 0.7),
    ]


async def test_without_the_recorder_a_repair_issue_explains(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    hass = hass_seoul
    issue = issue_registry.async_get_issue(
        DOMAIN, f"meters_recorder_missing_{setup_water.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "meters_recorder_missing"
    assert issue.translation_placeholders == {"title": "Hanbit Apartments"}
    # The meters work without it.
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 1.0)
    await at(hass, freezer, seoul(1, 2, 0))
    await push(hass, "m101", 1.5)
    assert value(hass, "sensor.unit_101_usage_today") == 0.5
    # Removing the site removes its issue.
    await hass.config_entries.async_remove(setup_water.entry_id)
    assert (
        issue_registry.async_get_issue(
            DOMAIN, f"meters_recorder_missing_{setup_water.entry_id}"
        )
        is None
    )


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        # 2025.4: mean_type, no unit_class.
        (
            frozenset(
                {
                    "mean_type",
                    "has_sum",
                    "name",
                    "source",
                    "statistic_id",
                    "unit_of_measurement",
                    "has_mean",
                }
            ),
            {"mean_type": 0},
        ),
        # 2025.11 and later: unit_class too.
        (
            frozenset(
                {
                    "mean_type",
                    "has_sum",
                    "name",
                    "source",
                    "statistic_id",
                    "unit_of_measurement",
                    "unit_class",
                }
            ),
            {"mean_type": 0, "unit_class": "volume"},
        ),
        # Before 2025.4: has_mean only.
        (
            frozenset(
                {
                    "has_mean",
                    "has_sum",
                    "name",
                    "source",
                    "statistic_id",
                    "unit_of_measurement",
                }
            ),
            {"has_mean": False},
        ),
    ],
)
def test_metadata_follows_the_recorder_release(
    keys: frozenset[str], expected: dict[str, Any]
) -> None:
    metadata = compat.meter_metadata(STAT, "Unit 101", "water", keys)
    assert dict(metadata) == {
        "has_sum": True,
        "name": "Unit 101",
        "source": DOMAIN,
        "statistic_id": STAT,
        "unit_of_measurement": "m³",
        **expected,
    }


def test_metadata_of_this_release_is_accepted() -> None:
    metadata = compat.meter_metadata(STAT, "Unit 101")
    assert set(metadata) <= compat.metadata_keys()


@pytest.mark.parametrize("water_meters", [[push_meter("m101", "Unit 101")]])
async def test_rows_are_imported_again_after_a_restart(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    await push(hass, "m101", 7.0)
    await at(hass, freezer, seoul(1, 2, 0))
    await push(hass, "m101", 7.4)
    expected = [
        (seoul(0, 23), 7.0, 0.0),
        (seoul(1, 0), 7.2, 0.2),
        (seoul(1, 1), 7.4, 0.4),
    ]
    assert await rows(hass) == expected
    # Reload: the newest day's rows are written again from the stored history, unchanged.
    await hass.config_entries.async_reload(setup_water.entry_id)
    await hass.async_block_till_done()
    assert await rows(hass) == expected
    assert setup_water.runtime_data.imported_rows == 3

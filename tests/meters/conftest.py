"""Fixtures for the water-meter tests: a site in Seoul with frozen time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_NAME, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from custom_components.smartcity_ddc.meters.const import (
    CONF_GAP_HOURS,
    CONF_LEAK_THRESHOLD,
)

SEOUL = ZoneInfo("Asia/Seoul")
#: Monday 2026-01-05, 00:00 in Seoul: the first day of most scenarios.
DAY1 = datetime(2026, 1, 5, tzinfo=SEOUL)


def seoul(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Return day N (1 = 2026-01-05) at HH:MM:SS in Seoul."""
    return DAY1 + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)


def push_meter(meter_id: str, name: str, **extra: Any) -> dict[str, Any]:
    """Return the options entry of a meter that only takes pushed readings."""
    return {
        "meter_id": meter_id,
        "name": name,
        "q3": 2.5,
        "q4": 3.125,
        "source": "push",
        **extra,
    }


@pytest.fixture(autouse=True)
def _enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """As the repository's fixture, but the recorder's database comes before hass."""
    if "recorder_mock" in request.fixturenames:
        request.getfixturevalue("recorder_mock")
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture
async def hass_seoul(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> HomeAssistant:
    """Home Assistant in Seoul, time frozen at 00:00 on day 1."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    freezer.move_to(DAY1)
    return hass


@pytest.fixture
def water_meters() -> list[dict[str, Any]]:
    """The meters of the site: two pushed meters unless a test overrides it."""
    return [push_meter("m101", "Unit 101"), push_meter("m102", "Unit 102")]


@pytest.fixture
def water_settings() -> dict[str, Any]:
    """Site options a test overrides: none unless parametrized."""
    return {}


def site_entry(
    meters: list[dict[str, Any]], entry_id: str | None = None, **settings: Any
) -> MockConfigEntry:
    """Return a water-meter site with default thresholds (3 h gap, 1 L/h leak)."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title="Hanbit Apartments",
        version=2,
        data={CONF_KIND: EntryKind.METERS, CONF_NAME: "Hanbit Apartments"},
        options={
            CONF_GAP_HOURS: 3,
            CONF_LEAK_THRESHOLD: 1.0,
            CONF_SCAN_INTERVAL: 300,
            **settings,
        },
        subentries_data=[meter_subentry(meter) for meter in meters],
    )


def meter_subentry(meter: dict[str, Any]) -> dict[str, Any]:
    """Return a meter's subentry: its name as the title, its id as the unique id."""
    return {
        "data": {key: value for key, value in meter.items() if key != "name"},
        "subentry_type": "meter",
        "title": meter["name"],
        "unique_id": meter["meter_id"],
    }


@pytest.fixture
def water_entry(
    water_meters: list[dict[str, Any]], water_settings: dict[str, Any]
) -> MockConfigEntry:
    """The site of the test: its meters and settings come from the fixtures above."""
    return site_entry(water_meters, **water_settings)


@pytest.fixture
async def setup_water(
    hass_seoul: HomeAssistant, water_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """Set up the water site and unload it after the test."""
    water_entry.add_to_hass(hass_seoul)
    assert await hass_seoul.config_entries.async_setup(water_entry.entry_id)
    await hass_seoul.async_block_till_done()
    yield water_entry
    if (
        hass_seoul.config_entries.async_get_entry(water_entry.entry_id)
        and water_entry.state.recoverable
    ):
        await hass_seoul.config_entries.async_unload(water_entry.entry_id)
        await hass_seoul.async_block_till_done()


def remove_meter(hass: HomeAssistant, entry: MockConfigEntry, meter_id: str) -> None:
    """Delete a meter's subentry, as the entry's page does."""
    (subentry_id,) = (
        subentry.subentry_id
        for subentry in entry.subentries.values()
        if subentry.unique_id == meter_id
    )
    assert hass.config_entries.async_remove_subentry(entry, subentry_id)


def add_meter(
    hass: HomeAssistant, entry: MockConfigEntry, meter: dict[str, Any]
) -> None:
    """Add a meter's subentry, as "Add meter" does."""
    subentry = meter_subentry(meter)
    assert hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(subentry["data"]),
            subentry_type=subentry["subentry_type"],
            title=subentry["title"],
            unique_id=subentry["unique_id"],
        ),
    )

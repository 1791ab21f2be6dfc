"""A water site stored by the previous release (config entry version 1) becomes a meter
site: its meters become subentries with their devices, entities, reading history and
long-term statistics kept."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.compat import (
    device_by_identifier,
    device_subentries,
)
from custom_components.smartcity_ddc.const import DOMAIN
from tests.helpers import downgrade_to_version_1, registry_of

from .conftest import push_meter, seoul, site_entry
from .helpers import at, push, value
from .test_statistics import rows


@pytest.fixture
def water_meters() -> list[dict[str, Any]]:
    """Two pushed meters."""
    return [push_meter("m101", "Unit 101"), push_meter("m102", "Unit 102", q3=4.0)]


async def _back_to_a_water_site(
    hass: HomeAssistant, entry: MockConfigEntry, meters: list[dict[str, Any]]
) -> None:
    """Turn a set-up meter site back into the version-1 water site it was made from."""
    await downgrade_to_version_1(
        hass,
        entry,
        data={**entry.data, "kind": "water"},
        options={**entry.options, "meters": meters},
        unique_id="water:hanbit_apartments",
    )


async def test_a_water_site_becomes_a_meter_site_with_everything_kept(
    recorder_mock: Recorder,
    hass_seoul: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    water_meters: list[dict[str, Any]],
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 0, 0))
    entry = site_entry(water_meters, entry_id="01JWATERSITEV1000000000000")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await push(hass, "m101", 100.0)
    await at(hass, freezer, seoul(1, 1, 0))
    await push(hass, "m101", 100.5)
    await push(hass, "m102", 7.0)
    before = registry_of(hass, entry.entry_id)
    statistic = await rows(hass)
    assert statistic[-1][2] == pytest.approx(0.5)
    await _back_to_a_water_site(hass, entry, water_meters)
    assert entry.subentries == {}

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.data["kind"], entry.unique_id) == (2, "meters", None)
    assert "meters" not in entry.options
    meters = {subentry.unique_id: subentry for subentry in entry.subentries.values()}
    assert {m: s.title for m, s in meters.items()} == {
        "m101": "Unit 101",
        "m102": "Unit 102",
    }
    assert dict(meters["m102"].data) == {
        key: value for key, value in water_meters[1].items() if key != "name"
    }
    # Same entities with the same ids, same devices; each now in its meter's subentry.
    assert registry_of(hass, entry.entry_id) == before
    entities = er.async_get(hass)
    for meter_id, subentry in meters.items():
        linked = [
            e
            for e in er.async_entries_for_config_entry(entities, entry.entry_id)
            if e.unique_id.startswith(f"{entry.entry_id}_water_{meter_id}_")
        ]
        assert len(linked) > 20
        assert {e.config_subentry_id for e in linked} == {subentry.subentry_id}
        device = device_by_identifier(
            dr.async_get(hass),
            (DOMAIN, f"{entry.entry_id}_water_{meter_id}"),
            entry.entry_id,
        )
        assert device is not None
        assert device_subentries(device, entry.entry_id) == {subentry.subentry_id}
    # The stored history came along: the index and today's usage.
    assert value(hass, "sensor.unit_101") == 100.5
    assert value(hass, "sensor.unit_101_usage_today") == pytest.approx(0.5)
    assert value(hass, "sensor.unit_102") == 7.0
    # And the long-term statistic continues its sum.
    await at(hass, freezer, seoul(1, 2, 0))
    await push(hass, "m101", 100.8)
    assert await rows(hass) == [*statistic, (seoul(1, 1), 100.8, 0.8)]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_users_entity_settings_survive_the_migration(
    hass_seoul: HomeAssistant, water_meters: list[dict[str, Any]]
) -> None:
    """A renamed entity keeps its name, an enabled signal sensor stays enabled."""
    hass = hass_seoul
    entry = site_entry(water_meters)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entities = er.async_get(hass)
    rssi = entities.async_get("sensor.unit_101_rssi")
    assert rssi is not None
    assert rssi.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    entities.async_update_entity("sensor.unit_101_rssi", disabled_by=None)
    entities.async_update_entity("sensor.unit_101", name="Kitchen water")
    entities.async_update_entity(
        "sensor.unit_102_flow_rate", disabled_by=er.RegistryEntryDisabler.USER
    )
    await _back_to_a_water_site(hass, entry, water_meters)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.version == 2
    renamed = entities.async_get("sensor.unit_101")
    assert renamed is not None
    assert renamed.name == "Kitchen water"
    rssi = entities.async_get("sensor.unit_101_rssi")
    assert rssi is not None
    assert rssi.disabled_by is None
    flow_rate = entities.async_get("sensor.unit_102_flow_rate")
    assert flow_rate is not None
    assert flow_rate.disabled_by is er.RegistryEntryDisabler.USER
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_water_site_without_registry_entries_migrates(
    hass_seoul: HomeAssistant, water_meters: list[dict[str, Any]]
) -> None:
    """A version 1 site whose meters never had devices (restored from its settings alone)."""
    hass = hass_seoul
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Hanbit Apartments",
        version=1,
        unique_id="water:hanbit_apartments",
        data={"kind": "water", "name": "Hanbit Apartments"},
        options={
            "gap_hours": 3,
            "leak_threshold": 1.0,
            "scan_interval": 300,
            "meters": water_meters,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.version == 2
    meters = {s.unique_id: s.subentry_id for s in entry.subentries.values()}
    assert set(meters) == {"m101", "m102"}
    # Devices and entities are made at setup, each in its meter's subentry.
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_water_m101"), entry.entry_id
    )
    assert device is not None
    assert device_subentries(device, entry.entry_id) == {meters["m101"]}
    index = er.async_get(hass).async_get("sensor.unit_101")
    assert index is not None
    assert index.config_subentry_id == meters["m101"]
    await push(hass, "m101", 5.0)
    assert value(hass, "sensor.unit_101") == 5.0
    assert await hass.config_entries.async_unload(entry.entry_id)

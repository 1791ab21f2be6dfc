"""Every entity of a water site, snapshotted: names, units, classes and states.

In the version-stable shape of tests.helpers.entity_snapshot, so one snapshot
file serves every Home Assistant release the suite runs against.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.smartcity_ddc.const import EntryKind
from tests.helpers import entity_snapshot, only_platforms

from .conftest import push_meter, seoul, site_entry
from .helpers import at, push


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR])
async def test_entities(
    hass_seoul: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    hass = hass_seoul
    entry = site_entry(
        [push_meter("m101", "Unit 101")], entry_id="01JWATERSITE000000000000000"
    )
    entry.add_to_hass(hass)
    with only_platforms(EntryKind.METERS, [platform]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await at(hass, freezer, seoul(1, 0, 5))
        await push(hass, "m101", 10.0)
        await at(hass, freezer, seoul(1, 1, 5))
        await push(
            hass,
            "m101",
            10.012,
            flags=["low_battery"],
            rssi=-91,
            rsrq=-12,
            rsrp=-104,
            snr=6.5,
        )
        assert entity_snapshot(hass, entry.entry_id, platform) == snapshot
        await hass.config_entries.async_unload(entry.entry_id)

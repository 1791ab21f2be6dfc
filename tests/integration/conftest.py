"""Fixtures for Home Assistant tests of the DDC entry kind."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import (
    CONF_KIND,
    CONF_POWER_RULE,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DOMAIN,
    EntryKind,
    PowerRule,
)
from devtools.simulator import SimulatorServer


@pytest.fixture
async def hass_seoul(hass: HomeAssistant) -> HomeAssistant:
    """Home Assistant set to the shelter's time zone and Korean-free English UI."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    return hass


@pytest.fixture
def ddc_entry(simulator: SimulatorServer) -> MockConfigEntry:
    """A config entry for the simulated DDC at slave 1 over Modbus TCP."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="DDC 1 @ 127.0.0.1",
        unique_id=f"net:127.0.0.1:{simulator.port}#1",
        data={
            CONF_KIND: EntryKind.DDC,
            CONF_TRANSPORT: "tcp",
            CONF_HOST: "127.0.0.1",
            CONF_PORT: simulator.port,
            CONF_SLAVE: 1,
        },
        options={CONF_SCAN_INTERVAL: 10, CONF_POWER_RULE: PowerRule.REFUSE},
    )


@pytest.fixture
async def setup_ddc(
    hass_seoul: HomeAssistant, ddc_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """Set up the DDC entry and unload it after the test."""
    ddc_entry.add_to_hass(hass_seoul)
    assert await hass_seoul.config_entries.async_setup(ddc_entry.entry_id)
    await hass_seoul.async_block_till_done()
    yield ddc_entry
    await hass_seoul.config_entries.async_unload(ddc_entry.entry_id)
    await hass_seoul.async_block_till_done()

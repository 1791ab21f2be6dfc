"""Fixtures for Home Assistant tests of the DDC entry kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL, Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DOMAIN,
    EntryKind,
)
from custom_components.smartcity_ddc.jobs import JOBS
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from devtools.simulator import SimulatorServer
from tests.helpers import only_platforms


@pytest.fixture
async def hass_seoul(hass: HomeAssistant) -> HomeAssistant:
    """Home Assistant in the shelter's time zone (Asia/Seoul)."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    return hass


@pytest.fixture
def ddc_entry(simulator: SimulatorServer) -> MockConfigEntry:
    """A config entry for the simulated DDC at slave 1 over Modbus TCP."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JSHELTERDDC000000000000",
        title="DDC 1 @ 127.0.0.1",
        version=2,
        data={
            CONF_KIND: EntryKind.SHELTER,
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


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms a test sets up (all of them unless a test module narrows it)."""
    return list(JOBS[EntryKind.SHELTER].platforms)


@pytest.fixture
async def setup_platforms(
    hass_seoul: HomeAssistant, ddc_entry: MockConfigEntry, platforms: list[Platform]
) -> AsyncIterator[MockConfigEntry]:
    """Set up the DDC entry with only the given platforms."""
    with only_platforms(EntryKind.SHELTER, platforms):
        ddc_entry.add_to_hass(hass_seoul)
        assert await hass_seoul.config_entries.async_setup(ddc_entry.entry_id)
        await hass_seoul.async_block_till_done()
        yield ddc_entry
        await hass_seoul.config_entries.async_unload(ddc_entry.entry_id)
        await hass_seoul.async_block_till_done()


async def call(
    hass: HomeAssistant, domain: str, service: str, entity_id: str, **data: Any
) -> None:
    """Call an entity action and wait for it."""
    await hass.services.async_call(
        domain, service, {"entity_id": entity_id, **data}, blocking=True
    )

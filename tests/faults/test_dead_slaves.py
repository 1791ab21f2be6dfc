"""Fault campaign: two DDCs on the line fall silent; the healthy one must stay within its interval.

Three DDC entries share one Modbus TCP gateway (the simulator), with the
integration's own timeouts (3 s). Slaves 2 and 3 stop answering; every
round, all three polls fall due at once, the dead ones' first. The healthy
DDC's poll time per round and the line's reconnects are reported in the
campaign's summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import time

from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
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
from custom_components.smartcity_ddc.helpers import DATA_LINES, DEFAULT_TIMEOUT
from custom_components.smartcity_ddc.line import LinePool
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from custom_components.smartcity_ddc.shelter.coordinator import ShelterCoordinator
from devtools.simulator import ShelterDdc, SimulatorServer

from .conftest import FIGURES, POLL_GAP, SCAN_INTERVAL, ManualClock

ROUNDS = 3
PM10 = "sensor.air_quality_sensor_pm10"


@pytest.fixture
async def three_ddcs(
    hass: HomeAssistant, simulator: SimulatorServer
) -> AsyncIterator[tuple[list[ShelterCoordinator], ManualClock]]:
    """Three DDC entries on one gateway (slaves 1-3), all answering at setup."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    for slave in (2, 3):
        simulator.add_device(slave, ShelterDdc(seed=slave))
    clock = ManualClock()
    hass.data[DATA_LINES] = LinePool(clock=clock)
    entries = []
    for slave in (1, 2, 3):
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"DDC {slave}",
            version=2,
            data={
                CONF_KIND: EntryKind.SHELTER,
                CONF_TRANSPORT: "tcp",
                CONF_HOST: "127.0.0.1",
                CONF_PORT: simulator.port,
                CONF_SLAVE: slave,
            },
            options={
                CONF_SCAN_INTERVAL: SCAN_INTERVAL,
                CONF_POWER_RULE: PowerRule.REFUSE,
            },
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        entries.append(entry)
    await hass.async_block_till_done()
    yield [entry.runtime_data for entry in entries], clock
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _timed_refresh(coordinator: ShelterCoordinator) -> float:
    """Run one scheduled poll; return how long it took."""
    started = time.perf_counter()
    await coordinator.async_refresh()
    return time.perf_counter() - started


async def test_dead_slaves_leave_the_healthy_ddc_within_its_interval(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    three_ddcs: tuple[list[ShelterCoordinator], ManualClock],
) -> None:
    (healthy, *dead), clock = three_ddcs
    line = healthy.client.line
    for slave in (2, 3):
        simulator.devices[slave].faults.silent = True
    connects = line.stats.connects
    durations = []
    for _round in range(ROUNDS):
        # Real time passes between rounds too: a probe's late answer is awaited
        # no longer than the timeout.
        await asyncio.sleep(DEFAULT_TIMEOUT)
        clock.now += POLL_GAP
        *_, took = await asyncio.gather(
            *(_timed_refresh(c) for c in dead), _timed_refresh(healthy)
        )
        durations.append(took)
        await hass.async_block_till_done()
        assert healthy.last_update_success
        assert not any(c.last_update_success for c in dead)
        assert hass.states.get(PM10).state == str(
            simulator.devices[1].get("input", 134)
        )
    reconnects = line.stats.connects - connects
    FIGURES["dead slaves"] = (
        f"healthy DDC's poll with 2 dead slaves on its line ({DEFAULT_TIMEOUT:g} s timeouts):"
        f" {durations[0]:.2f} s in the round that finds them, then at most"
        f" {max(durations[1:]):.2f} s (interval {SCAN_INTERVAL} s);"
        f" {reconnects} reconnects in {ROUNDS} rounds"
    )
    assert max(durations) < SCAN_INTERVAL
    assert max(durations[1:]) < 2 * line.probe_timeout + 0.5
    # The connection is dropped only when each slave first falls silent.
    assert reconnects <= 4
    assert line.stats.connects - connects == reconnects

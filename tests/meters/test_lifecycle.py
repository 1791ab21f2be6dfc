"""A meter site's life has clean edges: meters added back to back all reach the running
site, and a Modbus read running when the site reloads leaves no connection behind."""

from __future__ import annotations

import asyncio

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from devtools.simulator import ModbusDevice, SimulatorServer

from .conftest import site_entry
from .helpers import modbus_meter, push, value


async def test_five_meters_added_back_to_back_all_run(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    ids = [f"apt{n}" for n in range(1, 6)]
    for meter_id in ids:
        # Each save reloads the site; the next one lands while it reloads.
        result = await hass.config_entries.subentries.async_init(
            (setup_water.entry_id, "meter"), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {"meter_id": meter_id, "name": f"Unit {meter_id}", "medium": "water"},
        )
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"q3": 2.5, "q4": 3.125, "source": "push"}
        )
    await hass.async_block_till_done()
    assert setup_water.state is ConfigEntryState.LOADED
    assert set(setup_water.runtime_data.meters) == {"m101", "m102", *ids}
    for number, meter_id in enumerate(ids, start=1):
        await push(hass, meter_id, float(number))
        assert value(hass, f"sensor.unit_{meter_id}") == float(number)


async def test_a_read_running_during_a_reload_ends_with_the_old_site(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    # Real time (no frozen clock): the gateway's slowness is real seconds.
    meter = simulator.add_device(5, ModbusDevice())
    meter.set("holding", 101, 1500)
    entry = site_entry([modbus_meter(simulator.port)])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    old = entry.runtime_data
    # The next poll takes a second; the reload starts while it reads.
    simulator.delay = 1.0
    meter.set("holding", 101, 1501)
    tick = hass.async_create_task(old._async_tick(dt_util.utcnow()))
    for _ in range(500):
        if old.work.busy:
            break
        await asyncio.sleep(0.01)
    hass.config_entries.async_schedule_reload(entry.entry_id)
    await tick
    await hass.async_block_till_done()
    assert entry.runtime_data is not old
    assert value(hass, "sensor.shop_201") == 1.501
    # The old site's line was given back and closed for good; only the new
    # site's connection remains, and none after unloading.
    assert all(line.retired for line in old._lines.values()) or not old._lines
    assert simulator.open_connections <= 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(100):
        if simulator.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert simulator.open_connections == 0

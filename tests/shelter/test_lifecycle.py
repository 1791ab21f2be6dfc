"""A shelter entry's life has clean edges: changes during setup or reloads are never lost,
and a command running when the entry reloads ends with it, leaving no connection behind.

The changes go through the real options flow, the commands through real actions,
against the simulator; the checks look at what runs, not only at what is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
from typing import Any
from unittest.mock import MagicMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.helpers import line_pool
from devtools.simulator import ShelterDdc, SimulatorServer


async def _save_options(
    hass: HomeAssistant, entry: MockConfigEntry, step: str, user_input: dict[str, Any]
) -> None:
    """Open the options, pick a menu item and save it, as a person does."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    await hass.config_entries.options.async_configure(result["flow_id"], user_input)


async def _until(condition: Any, limit: float = 10) -> None:
    """Let the loop run (bounded) until a condition holds."""
    for _ in range(int(limit * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


@contextlib.contextmanager
def _two_changes(hass: HomeAssistant, entry: MockConfigEntry) -> Iterator[MagicMock]:
    """Save two option changes in a row (poll every 60 s, manual override); yield the reload counter."""
    with patch.object(
        hass.config_entries,
        "async_schedule_reload",
        wraps=hass.config_entries.async_schedule_reload,
    ) as reload:
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, "scan_interval": 60}
        )
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, "power_rule": "manual_override"}
        )
        yield reload


async def _slow_command(
    hass: HomeAssistant, coordinator: Any, ddc: ShelterDdc, simulator: SimulatorServer
) -> asyncio.Task[Any]:
    """Start turning interior light 1 (manual mode) on with 0.3 s per transaction; return once it runs."""
    ddc.set("holding", 352, 0)  # interior light 1 in manual mode
    await coordinator.async_refresh()
    simulator.delay = 0.3
    command = hass.async_create_task(
        hass.services.async_call(
            "switch", "turn_on", {"entity_id": "switch.interior_light_1"}, blocking=True
        )
    )
    await _until(lambda: coordinator.work.busy)
    return command


async def test_options_saved_while_the_entry_sets_up_are_the_ones_running(
    hass_seoul: HomeAssistant, ddc_entry: MockConfigEntry, simulator: SimulatorServer
) -> None:
    hass = hass_seoul
    # A slow gateway keeps the first poll, and so the setup, in progress.
    simulator.delay = 0.2
    ddc_entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(ddc_entry.entry_id))
    await _until(lambda: ddc_entry.state is ConfigEntryState.SETUP_IN_PROGRESS)
    await _save_options(
        hass,
        ddc_entry,
        "shelter_settings",
        {"scan_interval": 60, "power_rule": "manual_override"},
    )
    # The first setup ends; the change it did not see reloads the entry.
    await setup
    await hass.async_block_till_done()
    assert ddc_entry.state is ConfigEntryState.LOADED
    coordinator = ddc_entry.runtime_data
    assert coordinator.update_interval.total_seconds() == 60
    assert coordinator.power_rule == "manual_override"
    assert await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_units_changed_twice_quickly_end_as_stored(
    hass_seoul: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    hass = hass_seoul
    all_units = [
        f"{unit.device_id}.{unit.unit_id}"
        for unit in setup_ddc.runtime_data.profile.units
    ]
    without_benches = [uid for uid in all_units if not uid.startswith("d041")]
    without_doors = [uid for uid in without_benches if not uid.startswith("d051")]
    # The second save lands while the first one's reload runs.
    await _save_options(hass, setup_ddc, "shelter_units", {"units": without_benches})
    await _save_options(hass, setup_ddc, "shelter_units", {"units": without_doors})
    await hass.async_block_till_done()
    running = {
        f"{unit.device_id}.{unit.unit_id}"
        for unit in setup_ddc.runtime_data.profile.units
    }
    assert running == set(without_doors)
    assert setup_ddc.options["removed_units"] == [
        "d041.u001",
        "d041.u002",
        "d051.u001",
        "d051.u002",
    ]
    assert hass.states.get("switch.heated_bench_1") is None
    assert hass.states.get("switch.automatic_door_1") is None
    assert hass.states.get("switch.interior_light_1") is not None


async def test_a_command_running_during_a_reload_ends_with_the_old_entry(
    hass_seoul: HomeAssistant,
    setup_ddc: MockConfigEntry,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
) -> None:
    hass = hass_seoul
    old = setup_ddc.runtime_data
    # The command (mode check, write, read-back) is still running when the
    # reload starts.
    command = await _slow_command(hass, old, ddc, simulator)
    hass.config_entries.async_schedule_reload(setup_ddc.entry_id)
    await hass.async_block_till_done()
    # The reload waited for the command, which the DDC confirmed.
    await command
    assert ddc.get("coil", 368) == 1
    assert setup_ddc.state is ConfigEntryState.LOADED
    assert setup_ddc.runtime_data is not old
    assert old.client.line.retired
    # One connection: the new entry's. Nothing the old one opened stays open.
    assert simulator.open_connections == 1
    assert len(line_pool(hass)) == 1
    assert await hass.config_entries.async_unload(setup_ddc.entry_id)
    await hass.async_block_till_done()
    await _until(lambda: simulator.open_connections == 0)


async def test_a_command_that_outlasts_the_drain_is_cancelled_and_explained(
    hass_seoul: HomeAssistant,
    setup_ddc: MockConfigEntry,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
) -> None:
    hass = hass_seoul
    old = setup_ddc.runtime_data
    old.work.drain = 0.1
    ddc.set("holding", 352, 0)
    await old.async_refresh()
    simulator.delay = 0.5
    command = hass.async_create_task(
        hass.services.async_call(
            "switch",
            "turn_on",
            {"entity_id": "switch.interior_light_1"},
            blocking=True,
        )
    )
    await _until(lambda: old.work.busy)
    hass.config_entries.async_schedule_reload(setup_ddc.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await command
    assert err.value.translation_key == "entry_unloading"
    simulator.delay = 0
    await hass.async_block_till_done()
    assert setup_ddc.state is ConfigEntryState.LOADED
    assert old.client.line.retired
    await _until(lambda: simulator.open_connections == 1)
    # A command to the unloaded coordinator is refused, not sent.
    with pytest.raises(HomeAssistantError) as refused:
        await old.async_set_power("d011_u001", True)
    assert refused.value.translation_key == "entry_unloading"
    assert await hass.config_entries.async_unload(setup_ddc.entry_id)


async def test_changes_saved_while_a_reload_waits_for_a_command_reload_once(
    hass_seoul: HomeAssistant,
    setup_ddc: MockConfigEntry,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
) -> None:
    hass = hass_seoul
    old = setup_ddc.runtime_data
    # The first change starts the reload, which waits for the command.
    command = await _slow_command(hass, old, ddc, simulator)
    with _two_changes(hass, setup_ddc) as reload:
        await command
        await hass.async_block_till_done()
    assert reload.call_count == 1
    assert ddc.get("coil", 368) == 1
    assert setup_ddc.state is ConfigEntryState.LOADED
    coordinator = setup_ddc.runtime_data
    assert coordinator is not old
    assert coordinator.update_interval.total_seconds() == 60
    assert coordinator.power_rule == "manual_override"


async def test_changes_saved_during_setup_are_read_by_one_reload(
    hass_seoul: HomeAssistant, ddc_entry: MockConfigEntry, simulator: SimulatorServer
) -> None:
    hass = hass_seoul
    # A slow gateway keeps the first poll, and so the setup, in progress.
    simulator.delay = 0.2
    ddc_entry.add_to_hass(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(ddc_entry.entry_id))
    await _until(lambda: ddc_entry.state is ConfigEntryState.SETUP_IN_PROGRESS)
    # Two changes the running setup did not read (an automation, a script).
    with _two_changes(hass, ddc_entry) as reload:
        await setup
        await hass.async_block_till_done()
    # One reload after the setup, and it read both.
    assert reload.call_count == 1
    assert ddc_entry.state is ConfigEntryState.LOADED
    coordinator = ddc_entry.runtime_data
    assert coordinator.update_interval.total_seconds() == 60
    assert coordinator.power_rule == "manual_override"
    assert await hass.config_entries.async_unload(ddc_entry.entry_id)

"""Switches: relay power (power rule included) and follow-schedule."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from devtools.simulator import DO_PORTS, ShelterDdc, SimulatorServer
from tests.helpers import entity_snapshot

from .conftest import call


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.SWITCH]


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_relay_power_is_confirmed_without_waiting_for_a_poll(
    hass: HomeAssistant,
    setup_platforms: MockConfigEntry,
    ddc: ShelterDdc,
    simulator: SimulatorServer,
) -> None:
    assert hass.states.get("switch.heated_bench_1").state == STATE_OFF
    requests = simulator.stats.total_requests
    await call(hass, "switch", "turn_on", "switch.heated_bench_1")
    assert ddc.get("coil", 372) == 1
    assert ddc.get("input", 825) == 1
    assert hass.states.get("switch.heated_bench_1").state == STATE_ON
    # Coil write and status read-back (the mode is known from the poll): no full poll.
    assert simulator.stats.total_requests - requests == 2
    await call(hass, "switch", "turn_off", "switch.heated_bench_1")
    assert ddc.get("input", 825) == 0
    assert hass.states.get("switch.heated_bench_1").state == STATE_OFF


async def test_power_rule_refuses_with_a_translated_explanation(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, ddc: ShelterDdc
) -> None:
    with pytest.raises(ServiceValidationError) as excinfo:
        await call(hass, "switch", "turn_on", "switch.interior_light_1")
    assert excinfo.value.translation_domain == DOMAIN
    assert excinfo.value.translation_key == "shelter_power_follows_schedule"
    assert excinfo.value.translation_placeholders["unit"] == "Interior light 1"
    assert ddc.get("coil", 368) == 0
    assert hass.states.get("switch.interior_light_1").state == STATE_OFF
    # Taking manual control is one switch away.
    await call(hass, "switch", "turn_off", "switch.interior_light_1_follow_schedule")
    assert ddc.get("holding", 352) == 0
    await call(hass, "switch", "turn_on", "switch.interior_light_1")
    assert ddc.get("input", 821) == 1
    assert hass.states.get("switch.interior_light_1").state == STATE_ON


async def test_manual_override_option_takes_manual_control_first(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, ddc: ShelterDdc
) -> None:
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry,
        options={**ddc_entry.options, CONF_POWER_RULE: PowerRule.MANUAL_OVERRIDE},
    )
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    await call(hass, "switch", "turn_on", "switch.interior_light_2")
    assert ddc.get("holding", 353) == 0
    assert ddc.get("input", 822) == 1
    assert hass.states.get("switch.interior_light_2").state == STATE_ON
    assert hass.states.get("switch.interior_light_2_follow_schedule").state == STATE_OFF
    await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_follow_schedule_lets_the_ddc_switch_by_its_window(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, ddc: ShelterDdc
) -> None:
    ddc.set_window(DO_PORTS[4].windows[0], "11:00", "13:00")  # DO5: heated bench 1
    await call(hass, "switch", "turn_on", "switch.heated_bench_1_follow_schedule")
    assert ddc.get("holding", 356) == 1
    assert hass.states.get("switch.heated_bench_1_follow_schedule").state == STATE_ON
    await setup_platforms.runtime_data.async_refresh()
    assert (
        hass.states.get("switch.heated_bench_1").state == STATE_ON
    )  # 12:00 is inside 11:00-13:00


async def test_write_the_ddc_does_not_apply_is_an_error_and_the_state_stays_true(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, ddc: ShelterDdc
) -> None:
    ddc.faults.ignore_writes = True
    with pytest.raises(HomeAssistantError) as excinfo:
        await call(hass, "switch", "turn_on", "switch.heated_bench_2")
    assert excinfo.value.translation_key == "shelter_write_not_confirmed"
    assert hass.states.get("switch.heated_bench_2").state == STATE_OFF


async def test_unreadable_status_makes_only_that_switch_unavailable(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, ddc: ShelterDdc
) -> None:
    ddc.faults.garbage[("input", 827)] = 9
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get("switch.automatic_door_1").state == STATE_UNAVAILABLE
    assert hass.states.get("switch.automatic_door_2").state == STATE_OFF


async def test_refused_command_rewrites_the_state_so_no_ui_keeps_its_guess(
    hass: HomeAssistant, setup_platforms: MockConfigEntry
) -> None:
    before = hass.states.get("switch.interior_light_1")
    other = hass.states.get("switch.interior_light_2")
    with pytest.raises(ServiceValidationError):
        await call(hass, "switch", "turn_on", "switch.interior_light_1")
    after = hass.states.get("switch.interior_light_1")
    # Same confirmed state, written again: a frontend's optimistic toggle flips back.
    assert after.state == before.state == STATE_OFF
    assert after.last_updated > before.last_updated
    # Other units are not rewritten.
    assert hass.states.get("switch.interior_light_2").last_updated == other.last_updated

"""Climate: the cooler/heater's modes, seasonal targets and fan speed."""

from __future__ import annotations

from homeassistant.components.climate.const import HVACMode
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.smartcity_ddc.const import EntryKind
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from devtools.simulator import ShelterDdc
from tests.helpers import entity_snapshot, only_platforms

from .conftest import call

CLIMATE = "climate.cooler_heater"


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.CLIMATE]


@pytest.fixture
def manual_cooler(ddc: ShelterDdc) -> ShelterDdc:
    """The cooler (DO1) under manual control, off."""
    ddc.set_port(1, auto=False, power=False)
    return ddc


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_mode_change_switches_on_and_shows_the_mode(
    hass: HomeAssistant, manual_cooler: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    assert hass.states.get(CLIMATE).state == HVACMode.OFF
    await call(hass, "climate", "set_hvac_mode", CLIMATE, hvac_mode=HVACMode.HEAT)
    assert manual_cooler.get("holding", 122) == 4
    assert manual_cooler.get("input", 116) == 4
    assert manual_cooler.get("input", 821) == 1
    state = hass.states.get(CLIMATE)
    assert state.state == HVACMode.HEAT
    assert state.attributes["temperature"] == 20.0  # the winter target in heat mode
    await call(hass, "climate", "set_hvac_mode", CLIMATE, hvac_mode=HVACMode.HEAT_COOL)
    assert manual_cooler.get("input", 116) == 3  # the DDC's "auto"
    assert hass.states.get(CLIMATE).attributes["temperature"] == 24.0
    await call(hass, "climate", "set_hvac_mode", CLIMATE, hvac_mode=HVACMode.OFF)
    assert manual_cooler.get("input", 821) == 0
    assert hass.states.get(CLIMATE).state == HVACMode.OFF


async def test_target_goes_to_the_season_of_the_mode(
    hass: HomeAssistant, manual_cooler: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(hass, "climate", "set_temperature", CLIMATE, temperature=26.5)
    assert manual_cooler.get("holding", 125) == 265  # cool mode: summer target
    assert hass.states.get(CLIMATE).attributes["temperature"] == 26.5
    await call(
        hass,
        "climate",
        "set_temperature",
        CLIMATE,
        temperature=21.0,
        hvac_mode=HVACMode.HEAT,
    )
    assert manual_cooler.get("holding", 126) == 210  # heat mode: winter target
    assert manual_cooler.get("holding", 125) == 265
    assert hass.states.get(CLIMATE).state == HVACMode.HEAT


async def test_fan_mode_and_turn_on_off(
    hass: HomeAssistant, manual_cooler: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(hass, "climate", "set_fan_mode", CLIMATE, fan_mode="high")
    assert manual_cooler.get("input", 117) == 3
    assert hass.states.get(CLIMATE).attributes["fan_mode"] == "high"
    await call(hass, "climate", "turn_on", CLIMATE)
    assert hass.states.get(CLIMATE).state == HVACMode.COOL
    await call(hass, "climate", "turn_off", CLIMATE)
    assert hass.states.get(CLIMATE).state == HVACMode.OFF


async def test_power_rule_refuses_before_anything_changes(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    # The cooler follows its schedule (DO1 in auto) and is off at 12:00.
    with pytest.raises(ServiceValidationError) as excinfo:
        await call(hass, "climate", "set_hvac_mode", CLIMATE, hvac_mode=HVACMode.HEAT)
    assert excinfo.value.translation_key == "shelter_power_follows_schedule"
    assert ddc.get("holding", 122) == 0  # the mode was not touched
    # Settings other than power always take effect.
    await call(hass, "climate", "set_temperature", CLIMATE, temperature=25.0)
    assert ddc.get("holding", 125) == 250


async def test_out_of_range_target_is_refused(
    hass: HomeAssistant, manual_cooler: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError):
        await call(hass, "climate", "set_temperature", CLIMATE, temperature=31.0)
    assert manual_cooler.get("holding", 125) == 240


async def test_bad_registers_show_unknown_not_wrong_numbers(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.faults.garbage[("input", 120)] = 0x8000
    ddc.faults.garbage[("input", 116)] = 9
    # The room temperature and the mode are not read every poll; this test wants them now.
    setup_platforms.runtime_data.client.reread_all()
    await setup_platforms.runtime_data.async_refresh()
    state = hass.states.get(CLIMATE)
    assert state.state == HVACMode.OFF  # power is still known: off
    assert state.attributes["current_temperature"] is None
    ddc.faults.garbage[("input", 821)] = 5
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(CLIMATE).state == STATE_UNAVAILABLE


async def test_running_with_unknown_mode_has_no_hvac_mode(
    hass: HomeAssistant, manual_cooler: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(hass, "climate", "turn_on", CLIMATE)
    manual_cooler.faults.garbage[("input", 116)] = 9
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(CLIMATE).state == "unknown"


async def test_update_entity_reads_a_value_changed_at_the_panel_at_once(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    ddc.set("holding", 125, 260)  # someone sets 26.0 °C at the DDC's panel
    # Targets are read at a slow cadence: an ordinary poll does not see it yet.
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(CLIMATE).attributes["temperature"] == 24.0
    # Asking for an update reads every value now.
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": CLIMATE}, blocking=True
    )
    assert hass.states.get(CLIMATE).attributes["temperature"] == 26.0


async def test_with_manual_override_a_mode_takes_a_scheduled_cooler_to_manual(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, ddc: ShelterDdc
) -> None:
    # The cooler follows its schedule (DO1 in auto) and is off at 12:00.
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry,
        options={**ddc_entry.options, CONF_POWER_RULE: PowerRule.MANUAL_OVERRIDE},
    )
    with only_platforms(EntryKind.SHELTER, [Platform.CLIMATE]):
        assert await hass.config_entries.async_setup(ddc_entry.entry_id)
        await hass.async_block_till_done()
        await call(hass, "climate", "set_hvac_mode", CLIMATE, hvac_mode=HVACMode.HEAT)
        assert ddc.get("holding", 122) == 4  # heat
        assert ddc.get("holding", 352) == 0  # taken off its schedule
        assert ddc.get("input", 821) == 1  # and on
        assert hass.states.get(CLIMATE).state == HVACMode.HEAT
        assert await hass.config_entries.async_unload(ddc_entry.entry_id)

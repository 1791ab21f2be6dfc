"""Fan: the heat-recovery ventilator's power, speed and ventilation mode."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from devtools.simulator import ShelterDdc
from tests.helpers import entity_snapshot

from .conftest import call

FAN = "fan.heat_recovery_ventilator"


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.FAN]


@pytest.fixture
def manual_ventilator(ddc: ShelterDdc) -> ShelterDdc:
    """The ventilator under manual control (its mode register is DO2's), off."""
    ddc.set("holding", 353, 0)
    return ddc


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_speed_as_percentage(
    hass: HomeAssistant, manual_ventilator: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(hass, "fan", "set_percentage", FAN, percentage=100)
    assert manual_ventilator.get("coil", 370) == 1
    assert manual_ventilator.get("input", 107) == 3
    state = hass.states.get(FAN)
    assert (state.state, state.attributes["percentage"]) == (STATE_ON, 100)
    await call(hass, "fan", "set_percentage", FAN, percentage=40)
    assert manual_ventilator.get("input", 107) == 2  # medium
    assert hass.states.get(FAN).attributes["percentage"] == 66
    await call(hass, "fan", "set_percentage", FAN, percentage=0)
    assert manual_ventilator.get("coil", 370) == 0
    assert hass.states.get(FAN).state == STATE_OFF


async def test_preset_modes_and_turn_on_with_options(
    hass: HomeAssistant, manual_ventilator: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(hass, "fan", "set_preset_mode", FAN, preset_mode="bypass")
    assert manual_ventilator.get("input", 108) == 3
    assert hass.states.get(FAN).attributes["preset_mode"] == "bypass"
    await call(hass, "fan", "turn_on", FAN, percentage=33, preset_mode="sleep")
    state = hass.states.get(FAN)
    assert (
        state.state,
        state.attributes["preset_mode"],
        state.attributes["percentage"],
    ) == (STATE_ON, "sleep", 33)
    await call(hass, "fan", "turn_off", FAN)
    assert hass.states.get(FAN).state == STATE_OFF


async def test_stopped_speed_is_zero_percent(
    hass: HomeAssistant, manual_ventilator: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    manual_ventilator.set("input", 107, 0)
    # The speed is read on the slow cycle; this test wants it now.
    setup_platforms.runtime_data.client.reread_all()
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(FAN).attributes["percentage"] == 0
    manual_ventilator.faults.garbage[("input", 107)] = 8
    setup_platforms.runtime_data.client.reread_all()
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(FAN).attributes["percentage"] is None


async def test_power_rule_applies_to_the_ventilator(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as excinfo:
        await call(hass, "fan", "set_percentage", FAN, percentage=100)
    assert excinfo.value.translation_key == "shelter_power_follows_schedule"
    assert ddc.get("holding", 110) == 1  # speed untouched
    await call(
        hass, "fan", "set_preset_mode", FAN, preset_mode="manual"
    )  # modes always work
    assert ddc.get("input", 108) == 1


async def test_unknown_power_makes_the_fan_unavailable(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.faults.exception_ranges.append(
        ("coil", 370, 370, 2)
    )  # a bit can't be out of range; refused instead
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(FAN).state == STATE_UNAVAILABLE

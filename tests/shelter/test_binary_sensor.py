"""Binary sensors: the automatic doors' external push switches."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from devtools.simulator import ShelterDdc
from tests.helpers import entity_snapshot


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.BINARY_SENSOR]


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_pressed_switch_shows_on_the_next_poll(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.press_external_switch(2, True)
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get("binary_sensor.door_external_switch_2").state == STATE_ON
    assert hass.states.get("binary_sensor.door_external_switch_1").state == STATE_OFF
    ddc.faults.garbage[("input", 833)] = 2
    await setup_platforms.runtime_data.async_refresh()
    assert (
        hass.states.get("binary_sensor.door_external_switch_1").state
        == STATE_UNAVAILABLE
    )

"""Sensors: the integrated air-quality sensor."""

from __future__ import annotations

from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from devtools.simulator import ShelterDdc
from tests.helpers import entity_snapshot


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.SENSOR]


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_values_follow_the_ddc_and_bad_values_are_unavailable(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.set("input", 138, 45000)  # VOC above 32767: read unsigned
    ddc.set("input", 139, -52)  # -5.2 °C: signed x10
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get("sensor.air_quality_sensor_voc").state == "45000"
    assert hass.states.get("sensor.air_quality_sensor_temperature").state == "-5.2"
    ddc.faults.garbage[("input", 140)] = 1500  # 150 % humidity
    await setup_platforms.runtime_data.async_refresh()
    assert (
        hass.states.get("sensor.air_quality_sensor_humidity").state == STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.air_quality_sensor_pm10").state == "35"

"""Time entities: schedule window edges as hour and minute registers."""

from __future__ import annotations

from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from devtools.simulator import ShelterDdc
from tests.helpers import entity_snapshot

from .conftest import call


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.TIME]


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    assert entity_snapshot(hass, setup_platforms.entry_id) == snapshot


async def test_setting_a_window_edge_writes_hour_and_minute(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    await call(
        hass,
        "time",
        "set_value",
        "time.heated_bench_2_schedule_1_start",
        time="06:45:00",
    )
    assert (ddc.get("holding", 47), ddc.get("holding", 63)) == (6, 45)
    assert hass.states.get("time.heated_bench_2_schedule_1_start").state == "06:45:00"
    await call(
        hass, "time", "set_value", "time.cooler_heater_schedule_2_end", time="21:30:00"
    )
    assert (ddc.get("holding", 155), ddc.get("holding", 160)) == (21, 30)
    assert hass.states.get("time.cooler_heater_schedule_2_end").state == "21:30:00"


async def test_invalid_minute_register_makes_the_edge_unavailable(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.faults.garbage[("holding", 79)] = (
        24  # bench 2 (DO6): end hour 24 does not exist
    )
    # Windows are polled on the slow cycle; force it.
    coordinator = setup_platforms.runtime_data
    await coordinator.client.poll(full=True)
    coordinator.async_set_updated_data(coordinator.client.snapshot)
    assert (
        hass.states.get("time.heated_bench_2_schedule_1_end").state == STATE_UNAVAILABLE
    )
    assert hass.states.get("time.heated_bench_2_schedule_1_start").state == "00:00:00"


async def test_device_refusing_the_write_is_reported(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.faults.exception_ranges.append(("holding", 46, 46, 2))
    with pytest.raises(HomeAssistantError) as excinfo:
        await call(
            hass,
            "time",
            "set_value",
            "time.heated_bench_1_schedule_1_start",
            time="07:00:00",
        )
    assert excinfo.value.translation_key == "shelter_device_error"

"""The shelter blueprints as automations against the simulated DDC: effects checked on its registers."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from devtools.simulator import DO_PORTS, ShelterDdc
from tests.conftest import SEOUL

from .conftest import use_blueprint

# Input registers of the air-quality sensor (SPEC §3.5) and the ventilator's speed command.
CO2, PM2_5, AIR_TEMPERATURE = 137, 135, 139
VENT_SPEED = 110  # 1 low, 2 medium, 3 high

FAN = "fan.heat_recovery_ventilator"
CLIMATE = "climate.cooler_heater"
TEMPERATURE = "sensor.air_quality_sensor_temperature"


async def reading(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    ddc: ShelterDdc,
    registers: dict[int, int] | None = None,
) -> None:
    """Put values into the DDC's input registers and let Home Assistant poll them."""
    for address, value in (registers or {}).items():
        ddc.set("input", address, value)
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()


async def later(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta
) -> None:
    """Let time pass and every timer that fell due run."""
    freezer.tick(delta)
    async_fire_time_changed(hass, dt_util.utcnow())
    await hass.async_block_till_done(wait_background_tasks=True)


# --- air quality -> ventilator ----------------------------------------------------


@pytest.mark.parametrize(("margin", "speed_at_1450"), [(10, 3), (0, 2)])
async def test_air_quality_steps_the_ventilator_up_and_down_with_a_margin(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    margin: int,
    speed_at_1450: int,
) -> None:
    # The ventilator runs by hand at low speed (DO2 manual, its power coil on).
    ddc.set_port(2, auto=False)
    ddc.set("coil", 370, 1)
    await reading(hass, setup_ddc, ddc)
    assert hass.states.get(FAN).state == STATE_ON
    assert ddc.get("holding", VENT_SPEED) == 1
    await use_blueprint(
        hass,
        "air_quality_ventilator.yaml",
        ventilator=FAN,
        air_sensors=[
            "sensor.air_quality_sensor_carbon_dioxide",
            "sensor.air_quality_sensor_pm2_5",
        ],
        margin=margin,
    )

    await reading(hass, setup_ddc, ddc, {CO2: 1600})  # CO2 above 1500: high
    assert ddc.get("holding", VENT_SPEED) == 3
    assert hass.states.get(FAN).attributes["percentage"] == 100

    # 1450 ppm is below "high" but within a 10 % margin: the speed holds;
    # without a margin it steps down at once.
    await reading(hass, setup_ddc, ddc, {CO2: 1450})
    assert ddc.get("holding", VENT_SPEED) == speed_at_1450

    # CO2 fine, PM2.5 40 µg/m³ (above 35): the worse sensor decides, medium.
    await reading(hass, setup_ddc, ddc, {CO2: 800, PM2_5: 40})
    assert ddc.get("holding", VENT_SPEED) == 2

    # Everything clean: low.
    await reading(hass, setup_ddc, ddc, {PM2_5: 20})
    assert ddc.get("holding", VENT_SPEED) == 1


async def test_air_quality_holds_the_speed_while_no_sensor_reads(
    hass: HomeAssistant, config_dir: Path, ddc: ShelterDdc, setup_ddc: MockConfigEntry
) -> None:
    ddc.set_port(2, auto=False)
    ddc.set("coil", 370, 1)
    await reading(hass, setup_ddc, ddc)
    await use_blueprint(
        hass,
        "air_quality_ventilator.yaml",
        ventilator=FAN,
        air_sensors=["sensor.air_quality_sensor_carbon_dioxide"],
    )
    await reading(hass, setup_ddc, ddc, {CO2: 1600})
    assert ddc.get("holding", VENT_SPEED) == 3
    # The DDC refuses the CO2 register: the sensor goes unavailable, the speed stays.
    ddc.faults.exception_ranges.append(("input", CO2, CO2, 2))
    await reading(hass, setup_ddc, ddc)
    assert hass.states.get("sensor.air_quality_sensor_carbon_dioxide").state == (
        "unavailable"
    )
    assert ddc.get("holding", VENT_SPEED) == 3


async def test_air_quality_leaves_a_stopped_ventilator_alone_by_default(
    hass: HomeAssistant, config_dir: Path, ddc: ShelterDdc, setup_ddc: MockConfigEntry
) -> None:
    ddc.set_port(2, auto=False)
    await reading(hass, setup_ddc, ddc)
    assert hass.states.get(FAN).state == STATE_OFF
    await use_blueprint(
        hass,
        "air_quality_ventilator.yaml",
        ventilator=FAN,
        air_sensors=["sensor.air_quality_sensor_carbon_dioxide"],
    )
    await reading(hass, setup_ddc, ddc, {CO2: 1600})
    assert ddc.get("coil", 370) == 0
    assert ddc.get("holding", VENT_SPEED) == 1


async def test_air_quality_can_switch_the_ventilator_on(
    hass: HomeAssistant, config_dir: Path, ddc: ShelterDdc, setup_ddc: MockConfigEntry
) -> None:
    ddc.set_port(2, auto=False)
    await reading(hass, setup_ddc, ddc)
    await use_blueprint(
        hass,
        "air_quality_ventilator.yaml",
        ventilator=FAN,
        air_sensors=["sensor.air_quality_sensor_carbon_dioxide"],
        switch_on=True,
    )
    await reading(hass, setup_ddc, ddc, {CO2: 1200})
    assert ddc.get("coil", 370) == 1
    assert ddc.get("holding", VENT_SPEED) == 2


# --- heated benches in the service window ---------------------------------------------


async def test_benches_go_on_when_cold_inside_the_window_and_off_when_warm(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(datetime(2026, 1, 5, 12, 0, tzinfo=SEOUL))
    # Bench 1's schedule window, set here, is the service window (the benches run by hand).
    for edge, value in (("start", "13:00:00"), ("end", "20:00:00")):
        await hass.services.async_call(
            "time",
            "set_value",
            {"entity_id": f"time.heated_bench_1_schedule_1_{edge}", "time": value},
            blocking=True,
        )
    assert ddc.get("holding", DO_PORTS[4].windows[0].start_hour) == 13
    await use_blueprint(
        hass,
        "heated_benches_when_cold.yaml",
        benches=["switch.heated_bench_1", "switch.heated_bench_2"],
        temperature_sensor=TEMPERATURE,
        window_start="time.heated_bench_1_schedule_1_start",
        window_end="time.heated_bench_1_schedule_1_end",
    )

    # 5 °C at 12:00, before the window: nothing happens.
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 50})
    assert (ddc.get("coil", 372), ddc.get("coil", 373)) == (0, 0)

    # 13:00: the window opens and the minute check switches both benches on.
    await later(hass, freezer, timedelta(hours=1))
    assert (ddc.get("input", 825), ddc.get("input", 826)) == (1, 1)
    assert hass.states.get("switch.heated_bench_1").state == STATE_ON

    # 11 °C is above 10 °C but below 10 + 2: they stay on.
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 110})
    assert (ddc.get("coil", 372), ddc.get("coil", 373)) == (1, 1)

    # 12.5 °C: off.
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 125})
    assert (ddc.get("input", 825), ddc.get("input", 826)) == (0, 0)

    # Cold again, then 20:00 closes the window: off again although it is cold.
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 40})
    assert ddc.get("coil", 372) == 1
    await later(hass, freezer, timedelta(hours=7))
    assert (ddc.get("coil", 372), ddc.get("coil", 373)) == (0, 0)


async def test_benches_ignore_an_empty_window(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(datetime(2026, 1, 5, 12, 0, tzinfo=SEOUL))
    # Bench 2's window is 00:00-00:00: empty for the DDC, so no service hours at all.
    await use_blueprint(
        hass,
        "heated_benches_when_cold.yaml",
        benches=["switch.heated_bench_1"],
        temperature_sensor=TEMPERATURE,
        window_start="time.heated_bench_2_schedule_1_start",
        window_end="time.heated_bench_2_schedule_1_end",
    )
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 20})
    await later(hass, freezer, timedelta(minutes=1))
    assert ddc.get("coil", 372) == 0


async def test_benches_window_may_run_past_midnight(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(datetime(2026, 1, 5, 23, 0, tzinfo=SEOUL))
    # The interior lights' evening window, 18:00-06:00 (the simulator's initial state).
    await use_blueprint(
        hass,
        "heated_benches_when_cold.yaml",
        benches=["switch.heated_bench_1"],
        temperature_sensor=TEMPERATURE,
        window_start="time.interior_light_1_schedule_1_start",
        window_end="time.interior_light_1_schedule_1_end",
    )
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 20})
    assert ddc.get("coil", 372) == 1
    await later(hass, freezer, timedelta(hours=7))  # 06:00: the window has ended
    assert ddc.get("coil", 372) == 0


# --- cooler/heater comfort band ---------------------------------------------------


async def test_cooler_cools_above_and_heats_below_the_band(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    ddc.set_port(1, auto=False)  # the cooler's power (DO1) by hand
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 250})
    assert hass.states.get(CLIMATE).state == "off"
    await use_blueprint(
        hass,
        "cooler_comfort_band.yaml",
        cooler=CLIMATE,
        temperature_sensor=TEMPERATURE,
        cool_target=23,
        heat_target=21,
    )

    # 28 °C: nothing for the first minutes, cooling at 23 °C after five.
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 280})
    await later(hass, freezer, timedelta(minutes=4))
    assert ddc.get("coil", 368) == 0
    await later(hass, freezer, timedelta(minutes=1, seconds=1))
    assert ddc.get("coil", 368) == 1
    assert ddc.get("input", 116) == 0  # cool
    assert ddc.get("holding", 125) == 230
    assert hass.states.get(CLIMATE).state == "cool"

    # 15 °C for five minutes: heating at 21 °C (the winter target).
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 150})
    await later(hass, freezer, timedelta(minutes=5, seconds=1))
    assert ddc.get("input", 116) == 4  # heat
    assert ddc.get("holding", 126) == 210
    assert ddc.get("coil", 368) == 1

    # Back in the band: it keeps running (the default).
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 220})
    await later(hass, freezer, timedelta(minutes=5, seconds=1))
    assert ddc.get("coil", 368) == 1


async def test_cooler_can_switch_off_back_in_the_band(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    ddc.set_port(1, auto=False, power=True)
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 280})
    assert hass.states.get(CLIMATE).state == "cool"
    await use_blueprint(
        hass,
        "cooler_comfort_band.yaml",
        cooler=CLIMATE,
        temperature_sensor=TEMPERATURE,
        in_band="off",
        delay={"minutes": 1},
    )
    await reading(hass, setup_ddc, ddc, {AIR_TEMPERATURE: 240})
    await later(hass, freezer, timedelta(minutes=1, seconds=1))
    assert ddc.get("coil", 368) == 0
    assert hass.states.get(CLIMATE).state == "off"


# --- door external switch held ---------------------------------------------------


async def test_door_switch_held_alerts_and_a_short_press_does_not(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    calls = async_mock_service(hass, "notify", "site_manager")
    await use_blueprint(
        hass,
        "door_switch_held_alert.yaml",
        switches=[
            "binary_sensor.door_external_switch_1",
            "binary_sensor.door_external_switch_2",
        ],
        notify_action="notify.site_manager",
        notify_released=True,
    )

    # A 20-second press: neither an alert nor a release notice.
    ddc.press_external_switch(1, True)
    await reading(hass, setup_ddc, ddc)
    await later(hass, freezer, timedelta(seconds=20))
    ddc.press_external_switch(1, False)
    await reading(hass, setup_ddc, ddc)
    await later(hass, freezer, timedelta(seconds=30))
    assert calls == []

    # Switch 2 held: an alert after 30 seconds, then the release notice.
    ddc.press_external_switch(2, True)
    await reading(hass, setup_ddc, ddc)
    await later(hass, freezer, timedelta(seconds=29))
    assert calls == []
    await later(hass, freezer, timedelta(seconds=2))
    assert len(calls) == 1
    assert calls[0].data == {
        "title": "자동문 외부스위치 눌림 지속",
        "message": "Door external switch 2: 30초 넘게 눌려 있습니다. 끼임이나 고장을 확인하세요.",
    }
    await later(hass, freezer, timedelta(seconds=14))
    ddc.press_external_switch(2, False)
    await reading(hass, setup_ddc, ddc)
    assert len(calls) == 2
    assert calls[1].data == {
        "title": "자동문 외부스위치 놓임",
        "message": "Door external switch 2: 45초 동안 눌린 뒤 놓였습니다.",
    }


async def test_door_switch_alert_in_english(
    hass: HomeAssistant,
    config_dir: Path,
    ddc: ShelterDdc,
    setup_ddc: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    calls = async_mock_service(hass, "notify", "notify")
    await use_blueprint(
        hass,
        "door_switch_held_alert.yaml",
        switches=["binary_sensor.door_external_switch_1"],
        hold_seconds=60,
        language="en",
    )
    ddc.press_external_switch(1, True)
    await reading(hass, setup_ddc, ddc)
    await later(hass, freezer, timedelta(seconds=61))
    assert [call.data for call in calls] == [
        {
            "title": "Door external switch held",
            "message": "Door external switch 1: pressed for more than 60 s. "
            "Check it for a stuck switch or a fault.",
        }
    ]

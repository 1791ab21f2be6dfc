"""Meters read from a Modbus register (the simulator over real TCP) and from a sensor.

pymodbus schedules its I/O on the event loop's clock, so time here is frozen
but ticking: jumps drive Home Assistant's timers, real I/O still completes.
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from custom_components.smartcity_ddc.helpers import line_pool
from devtools.simulator import ModbusDevice, SimulatorServer

from .conftest import DAY1, seoul, site_entry
from .helpers import at, modbus_meter, value

METER_SLAVE = 5

pytestmark = pytest.mark.freeze_time(DAY1, tick=True)


def set_litres(
    device: ModbusDevice, litres: int, kind: Any = "holding", *, little: bool = False
) -> None:
    """Put a litre count into registers 100-101 of the simulated meter."""
    high, low = litres >> 16, litres & 0xFFFF
    first, second = (low, high) if little else (high, low)
    device.set(kind, 100, first)
    device.set(kind, 101, second)


@pytest.fixture
def meter_device(simulator: SimulatorServer) -> ModbusDevice:
    """A plain register device at slave 5 on the simulator's line."""
    device = simulator.add_device(METER_SLAVE, ModbusDevice())
    set_litres(device, 123_456)
    return device


@pytest.fixture
def water_meters(
    simulator: SimulatorServer, meter_device: ModbusDevice
) -> list[dict[str, Any]]:
    """One Modbus meter."""
    return [modbus_meter(simulator.port)]


async def test_modbus_meter_is_polled(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    meter_device: ModbusDevice,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass = hass_seoul
    # Read once at setup: 123456 L.
    assert value(hass, "sensor.shop_201") == pytest.approx(123.456)
    set_litres(meter_device, 123_556)
    await at(hass, freezer, seoul(1, 0, 5))
    # 100 L in 5 minutes = 1.2 m³/h.
    assert value(hass, "sensor.shop_201") == pytest.approx(123.556)
    assert value(hass, "sensor.shop_201_last_interval_usage") == pytest.approx(0.1)
    assert value(hass, "sensor.shop_201_flow_rate") == pytest.approx(1.2)
    assert value(hass, "sensor.shop_201_readings_today") == 2

    # The meter refuses the register: no reading, logged once, read again later.
    meter_device.faults.exception_ranges.append(("holding", 100, 101, 2))
    await at(hass, freezer, seoul(1, 0, 10))
    await at(hass, freezer, seoul(1, 0, 15))
    assert caplog.text.count("cannot read water meter m201") == 1
    assert value(hass, "sensor.shop_201_readings_today") == 2
    assert setup_water.runtime_data.last_error["m201"]
    meter_device.faults.clear()
    await at(hass, freezer, seoul(1, 0, 20))
    assert value(hass, "sensor.shop_201_readings_today") == 3
    assert "water meter m201 answers again" in caplog.text

    # A replaced meter starting from zero would go backwards: refused, counted.
    set_litres(meter_device, 5)
    await at(hass, freezer, seoul(1, 0, 25))
    assert value(hass, "sensor.shop_201") == pytest.approx(123.556)
    assert setup_water.runtime_data.rejected["m201"]["backwards"] == 1
    assert "refused (backwards)" in caplog.text


async def test_input_registers_in_little_endian_order(
    hass_seoul: HomeAssistant, simulator: SimulatorServer, meter_device: ModbusDevice
) -> None:
    hass = hass_seoul
    set_litres(meter_device, 70_000, "input", little=True)
    water_entry = site_entry(
        [
            modbus_meter(
                simulator.port, register_kind="input", word_order="little", scale=0.01
            )
        ]
    )
    water_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    # 70000 x 0.01 m³.
    assert value(hass, "sensor.shop_201") == pytest.approx(700.0)
    await hass.config_entries.async_unload(water_entry.entry_id)


async def test_water_meter_shares_the_line_with_a_ddc(
    hass_seoul: HomeAssistant,
    simulator: SimulatorServer,
    meter_device: ModbusDevice,
    setup_water: MockConfigEntry,
) -> None:
    hass = hass_seoul
    ddc = MockConfigEntry(
        domain=DOMAIN,
        title="DDC 1",
        version=2,
        data={
            CONF_KIND: EntryKind.SHELTER,
            "transport": "tcp",
            CONF_HOST: "127.0.0.1",
            CONF_PORT: simulator.port,
            "slave": 1,
        },
        options={CONF_SCAN_INTERVAL: 10, "power_rule": "refuse"},
    )
    ddc.add_to_hass(hass)
    assert await hass.config_entries.async_setup(ddc.entry_id)
    await hass.async_block_till_done()
    # One connection for both: the DDC at slave 1 and the meter at slave 5.
    assert len(line_pool(hass)) == 1
    await hass.config_entries.async_unload(setup_water.entry_id)
    assert len(line_pool(hass)) == 1
    await hass.config_entries.async_unload(ddc.entry_id)
    assert len(line_pool(hass)) == 0


async def test_a_line_set_up_two_ways_is_an_error(
    hass_seoul: HomeAssistant, simulator: SimulatorServer, meter_device: ModbusDevice
) -> None:
    hass = hass_seoul
    other = modbus_meter(
        simulator.port, meter_id="m202", name="Shop 202", transport="rtu_over_tcp"
    )
    water_entry = site_entry([modbus_meter(simulator.port), other])
    water_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(water_entry.entry_id)
    assert water_entry.state is ConfigEntryState.SETUP_ERROR
    assert water_entry.reason is not None
    # The line the first meter opened is given back.
    assert len(line_pool(hass)) == 0


@pytest.fixture
def sensor_meters() -> list[dict[str, Any]]:
    """One meter following a wallpad's index sensor."""
    return [
        {
            "meter_id": "m301",
            "name": "Unit 301",
            "q3": 2.5,
            "q4": 3.125,
            "source": "sensor",
            "entity_id": "sensor.wallpad_water",
        }
    ]


async def test_sensor_meter_follows_the_sensor(
    hass_seoul: HomeAssistant,
    sensor_meters: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    hass.states.async_set(
        "sensor.wallpad_water", "12.345", {"unit_of_measurement": "m³"}
    )
    water_entry = site_entry(sensor_meters)
    water_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    # Sampled at setup (00:00).
    assert value(hass, "sensor.unit_301") == 12.345
    await at(hass, freezer, seoul(1, 0, 1))
    # The wallpad reports litres: converted to m³, recorded when the state changed.
    hass.states.async_set("sensor.wallpad_water", "12400", {"unit_of_measurement": "L"})
    await hass.async_block_till_done()
    assert value(hass, "sensor.unit_301") == pytest.approx(12.4)
    assert value(hass, "sensor.unit_301_last_reading") == "2026-01-04T15:01:00+00:00"
    assert value(hass, "sensor.unit_301_readings_today") == 2
    # Unknown or unavailable is no reading; a non-number is refused and counted.
    for state in ("unavailable", "unknown", "lots"):
        await at(hass, freezer, seoul(1, 0, 2))
        hass.states.async_set(
            "sensor.wallpad_water", state, {"unit_of_measurement": "m³"}
        )
        await hass.async_block_till_done()
    assert value(hass, "sensor.unit_301_readings_today") == 2
    coordinator = water_entry.runtime_data
    assert coordinator.rejected["m301"]["non_numeric"] == 1
    # An energy sensor chosen by mistake: not a volume, nothing recorded.
    hass.states.async_set("sensor.wallpad_water", "13", {"unit_of_measurement": "kWh"})
    await hass.async_block_till_done()
    assert coordinator.last_error["m301"] == "unit 'kWh' is not a volume"
    # Back to the index; between changes the value is sampled every poll (5 min).
    hass.states.async_set(
        "sensor.wallpad_water", "12.41", {"unit_of_measurement": "m³"}
    )
    await hass.async_block_till_done()
    assert "m301" not in coordinator.last_error
    await at(hass, freezer, seoul(1, 0, 5))
    assert value(hass, "sensor.unit_301_readings_today") == 4
    # A change in the same second as the poll's sample: kept to the second, a
    # duplicate, quietly skipped.
    freezer.move_to(seoul(1, 0, 5))
    hass.states.async_set(
        "sensor.wallpad_water", "12.42", {"unit_of_measurement": "m³"}
    )
    await hass.async_block_till_done()
    assert coordinator.rejected["m301"]["duplicate"] == 1
    assert value(hass, "sensor.unit_301_readings_today") == 4
    # The sensor disappears: nothing to read.
    hass.states.async_remove("sensor.wallpad_water")
    await hass.async_block_till_done()
    await at(hass, freezer, seoul(1, 0, 10))
    assert value(hass, "sensor.unit_301_readings_today") == 4
    # A negative value (a broken gateway) is refused.
    hass.states.async_set("sensor.wallpad_water", "-1", {"unit_of_measurement": "m³"})
    await hass.async_block_till_done()
    assert coordinator.rejected["m301"]["negative"] == 1
    await hass.config_entries.async_unload(water_entry.entry_id)


async def test_registers_beyond_any_meter_are_refused(
    hass_seoul: HomeAssistant,
    simulator: SimulatorServer,
    meter_device: ModbusDevice,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A counter at its top (4294967295 at scale 1 = 4.3 billion m³): no reading."""
    hass = hass_seoul
    set_litres(meter_device, 0xFFFF_FFFF)
    entry = site_entry([modbus_meter(simulator.port, scale=1.0)])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await at(hass, freezer, seoul(1, 0, 5))
    assert value(hass, "sensor.shop_201") is None
    assert value(hass, "sensor.shop_201_readings_today") == 0
    assert entry.runtime_data.rejected["m201"]["implausible"] == 2
    assert "reading of meter m201 refused (implausible)" in caplog.text
    # A sane count again is read as ever.
    set_litres(meter_device, 123_456)
    await at(hass, freezer, seoul(1, 0, 10))
    assert value(hass, "sensor.shop_201") == pytest.approx(123_456)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_poll_due_as_the_site_unloads_reads_nothing(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    meter_device: ModbusDevice,
) -> None:
    """The poll timer fired just before the unload cancelled it: no read of a released line."""
    hass = hass_seoul
    coordinator = setup_water.runtime_data
    assert await hass.config_entries.async_unload(setup_water.entry_id)
    await hass.async_block_till_done()
    set_litres(meter_device, 124_000)
    history = coordinator.site.meters["m201"].history
    before = history.newest
    await coordinator._async_tick(dt_util.utcnow())
    assert history.newest == before
    assert coordinator.last_error.get("m201") is None

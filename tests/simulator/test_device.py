"""The DDC model: power rule, windows, shared registers, mirroring, physics, initial state."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from devtools.simulator import (
    COOLER_WINDOW_2,
    DO_PORTS,
    ModbusDevice,
    ShelterDdc,
    SimulatorServer,
)

from .helpers import FakeClock, unit

COILED = [port for port in DO_PORTS if port.coil is not None]
SCHEDULED = [port for port in DO_PORTS if port.windows and port.switch is None]
AIR = range(134, 141)


def port_id(port) -> str:
    return f"DO{port.number}"


def signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


def room(ddc: ShelterDdc) -> float:
    return signed(ddc.get("input", 120)) / 10


def run_cooler(ddc: ShelterDdc, mode: int, speed: int = 3) -> None:
    """Cooler (DO1) in manual, on, in the given mode."""
    ddc.set_port(1, auto=False, power=True)
    ddc.set("holding", 122, mode)
    ddc.set("holding", 123, speed)


@pytest.mark.parametrize("port", COILED, ids=port_id)
async def test_manual_port_follows_power_coil(make_server, make_client, port) -> None:
    server = await make_server()
    client = await make_client(server)
    await client.write_register(port.mode, 0, **unit(1))
    for on in (True, False, True):
        await client.write_coil(port.coil, on, **unit(1))
        status = await client.read_input_registers(port.status, count=1, **unit(1))
        assert status.registers == [int(on)]


@pytest.mark.parametrize("port", SCHEDULED, ids=port_id)
async def test_auto_port_follows_window_and_ignores_coil(
    make_server, make_client, clock, port
) -> None:
    server = await make_server()
    client = await make_client(server)
    for address, value in zip(port.windows[0], (8, 0, 9, 0), strict=True):
        await client.write_register(address, value, **unit(1))
    await client.write_register(port.mode, 1, **unit(1))

    async def status() -> int:
        return (
            await client.read_input_registers(port.status, count=1, **unit(1))
        ).registers[0]

    if port.coil is not None:
        await client.write_coil(port.coil, True, **unit(1))
    assert await status() == 0
    clock.set("08:30")
    assert await status() == 1
    if port.coil is not None:
        await client.write_coil(port.coil, False, **unit(1))
        assert await status() == 1
    clock.set("09:00")
    assert await status() == 0
    # Back to manual: the coil rules again.
    await client.write_register(port.mode, 0, **unit(1))
    assert await status() == 0


@pytest.mark.parametrize(
    ("start", "end", "now", "on"),
    [
        ("08:00", "17:00", "08:00", True),
        ("08:00", "17:00", "16:59", True),
        ("08:00", "17:00", "17:00", False),
        ("08:00", "17:00", "07:59", False),
        ("22:00", "06:00", "22:00", True),
        ("22:00", "06:00", "23:59", True),
        ("22:00", "06:00", "00:00", True),
        ("22:00", "06:00", "05:59", True),
        ("22:00", "06:00", "06:00", False),
        ("22:00", "06:00", "12:00", False),
        ("22:00", "06:00", "21:59", False),
        ("10:00", "10:00", "10:00", False),
        ("00:00", "00:00", "00:00", False),
        ("00:00", "23:59", "23:58", True),
        ("00:00", "23:59", "23:59", False),
        ("24:00", "06:00", "03:00", False),
        ("08:60", "09:00", "08:30", False),
    ],
)
def test_window_semantics(start, end, now, on) -> None:
    ddc = ShelterDdc(clock=FakeClock(now))
    ddc.set_window(DO_PORTS[4].windows[0], start, end)
    ddc.set_port(5, auto=True)
    assert ddc.output(5) is on


def test_cooler_window_two_drives_do1(clock) -> None:
    ddc = ShelterDdc(clock=clock)
    ddc.set_window(DO_PORTS[0].windows[0], "00:00", "00:00")
    ddc.set_window(COOLER_WINDOW_2, "13:00", "15:00")
    clock.set("14:00")
    assert ddc.output(1)
    assert ddc.cooler_running
    clock.set("12:00")
    assert not ddc.cooler_running
    # DO1 in auto: windows 1 and 2 both count.
    ddc.set_window(DO_PORTS[0].windows[0], "11:00", "12:30")
    assert ddc.cooler_running


def test_shared_registers_are_one_memory() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"))
    # DO14's start hour (150) is the cooler's window-2 start minute.
    ddc.set_window(DO_PORTS[13].windows[0], "10:00", "11:00")
    assert ddc.get("holding", COOLER_WINDOW_2.start_minute) == 10
    # The cooler's auto/power/status registers are DO1's.
    ddc.set_port(1, auto=False, power=True)
    assert ddc.get("input", 821) == 1
    assert ddc.cooler_running


def test_ports_without_coil_or_window() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"))
    for number in (13, 14, 15):
        ddc.set_port(number, auto=False)
        assert not ddc.output(number)
        with pytest.raises(ValueError, match="no power coil"):
            ddc.set_port(number, power=True)
    # DO16 has no window: off in auto whatever the coil says.
    ddc.set_port(16, auto=True, power=True)
    assert not ddc.output(16)
    ddc.set_port(16, auto=False)
    assert ddc.output(16)


async def test_external_switches(make_server, make_client, clock) -> None:
    server = await make_server()
    client = await make_client(server)
    ddc = server.devices[1]

    async def statuses() -> list[int]:
        return (await client.read_input_registers(833, count=2, **unit(1))).registers

    assert await statuses() == [0, 0]
    ddc.press_external_switch(1, True)
    assert await statuses() == [1, 0]
    ddc.press_external_switch(2, True)
    ddc.press_external_switch(1, False)
    assert await statuses() == [0, 1]
    # In auto the DDC honours switch 2 only inside DO14's window.
    ddc.set_window(DO_PORTS[13].windows[0], "07:00", "20:00")
    await client.write_register(385, 1, **unit(1))
    assert await statuses() == [0, 1]
    clock.set("21:00")
    assert await statuses() == [0, 0]
    with pytest.raises(ValueError, match="switches"):
        ddc.press_external_switch(3, True)


async def test_mode_and_speed_writes_are_mirrored(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server)
    await client.write_registers(122, [4, 3], **unit(1))
    assert (await client.read_input_registers(116, count=2, **unit(1))).registers == [
        4,
        3,
    ]
    await client.write_register(111, 3, **unit(1))
    await client.write_register(110, 0, **unit(1))
    assert (await client.read_input_registers(107, count=2, **unit(1))).registers == [
        0,
        3,
    ]
    # Values the unit does not know are not taken over.
    await client.write_register(122, 7, **unit(1))
    await client.write_register(110, 4, **unit(1))
    assert (await client.read_holding_registers(122, count=1, **unit(1))).registers == [
        7
    ]
    assert (await client.read_input_registers(116, count=1, **unit(1))).registers == [4]
    assert (await client.read_input_registers(107, count=1, **unit(1))).registers == [0]
    # A unit changed at its own remote: the read-back alone changes, and stays.
    server.devices[1].set("input", 116, 2)
    server.devices[1].tick(1)
    assert (await client.read_input_registers(116, count=1, **unit(1))).registers == [2]


def test_ventilator_power_and_schedule(clock) -> None:
    ddc = ShelterDdc(clock=clock)
    ddc.set_port(2, auto=False)
    ddc.set_port(3, auto=False)
    ddc.set("coil", 370, 1)
    assert ddc.ventilator_running
    assert ddc.output(3)  # coil 370 is also DO3's power command
    ddc.set("coil", 370, 0)
    assert not ddc.ventilator_running
    # Auto (353, DO2's mode): DO2's window decides, coil 370 keeps the command.
    ddc.set_window(DO_PORTS[1].windows[0], "11:00", "13:00")
    ddc.set("holding", 353, 1)
    assert ddc.ventilator_running
    assert ddc.get("coil", 370) == 0
    clock.set("13:00")
    assert not ddc.ventilator_running


def test_cooling_pulls_room_to_summer_target() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"), ambient_temperature=30.0)
    run_cooler(ddc, mode=0)
    ddc.set("holding", 125, 220)
    readings = []
    for _ in range(20):
        ddc.tick(60)
        readings.append(room(ddc))
    assert readings == sorted(readings, reverse=True)
    assert 22.0 < readings[-1] < 26.0
    for _ in range(100):
        ddc.tick(60)
    assert room(ddc) == pytest.approx(22.0, abs=0.1)


def test_heating_pulls_room_to_winter_target() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"), ambient_temperature=5.0)
    ddc.set("input", 120, 100)
    run_cooler(ddc, mode=4)
    ddc.set("holding", 126, 260)
    ddc.tick(600)
    assert 10.0 < room(ddc) < 26.0
    for _ in range(60):
        ddc.tick(120)
    assert room(ddc) == pytest.approx(26.0, abs=0.1)


def test_room_drifts_to_ambient_when_off_or_fan_only() -> None:
    for fan_only in (False, True):
        ddc = ShelterDdc(clock=FakeClock("12:00"), ambient_temperature=30.0)
        ddc.set_port(1, auto=False, power=fan_only)
        ddc.set("holding", 122, 2)
        ddc.set("input", 120, 240)
        ddc.tick(1800)
        assert 24.0 < room(ddc) < 30.0


def test_dry_cools_slower_than_cool() -> None:
    drops = []
    for mode in (0, 1):
        ddc = ShelterDdc(clock=FakeClock("12:00"), ambient_temperature=30.0)
        run_cooler(ddc, mode=mode)
        ddc.tick(300)
        drops.append(30.0 - room(ddc))
    assert drops[0] > drops[1] > 0


async def test_negative_temperatures_are_twos_complement(
    make_server, make_client
) -> None:
    server = await make_server()
    client = await make_client(server)
    ddc = server.devices[1]
    ddc.ambient_temperature = -15.0
    ddc.set("input", 120, -50)
    ddc.tick(600)
    raw = (await client.read_input_registers(120, count=1, **unit(1))).registers[0]
    assert raw > 0x8000
    assert -15.0 < signed(raw) / 10 < -5.0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    steps=st.lists(st.floats(0, 7200), min_size=1, max_size=40),
    ventilate=st.booleans(),
)
def test_air_quality_stays_plausible(seed, steps, ventilate) -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"), seed=seed)
    ddc.set_port(2, auto=False)
    ddc.set("coil", 370, int(ventilate))
    for dt in steps:
        ddc.tick(dt)
        pm10, pm25, pm1, co2, voc, temperature, humidity = (
            ddc.get("input", a) for a in AIR
        )
        assert 0 <= pm1 <= pm25 <= pm10 <= 1000
        assert 400 <= co2 <= 10000
        assert 0 <= voc <= 60000
        assert -400 <= signed(temperature) <= 1250
        assert 0 <= humidity <= 1000


def test_air_quality_is_deterministic_per_seed() -> None:
    def trace(seed: int) -> list[list[int]]:
        ddc = ShelterDdc(clock=FakeClock("12:00"), seed=seed)
        rows = []
        for _ in range(30):
            ddc.tick(60)
            rows.append([ddc.get("input", a) for a in AIR])
        return rows

    assert trace(7) == trace(7)
    assert trace(7) != trace(8)


@pytest.mark.parametrize(("ventilate", "speed"), [(True, 2), (True, 0), (False, 2)])
def test_co2_falls_only_while_ventilating(ventilate, speed) -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"), seed=3)
    ddc.set_port(2, auto=False)
    ddc.set("coil", 370, int(ventilate))
    ddc.set("holding", 110, speed)
    start = 2000 if ventilate and speed else 500
    ddc.set("input", 137, start)
    for _ in range(60):
        ddc.tick(60)
    co2 = ddc.get("input", 137)
    if ventilate and speed:
        assert co2 < 600
    else:
        assert co2 > 700


def test_poked_values_become_the_state() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"), seed=1)
    ddc.set_port(1, auto=False, power=False)
    ddc.set("input", 137, 3000)
    ddc.set("input", 120, 300)
    ddc.set("input", 134, 400)
    ddc.tick(1)
    assert abs(ddc.get("input", 137) - 3000) < 50
    assert room(ddc) == pytest.approx(30.0, abs=0.1)
    assert 300 < ddc.get("input", 134) < 500


def test_initial_state() -> None:
    ddc = ShelterDdc(clock=FakeClock("12:00"))
    holding = [
        ddc.get("holding", a) for a in (352, 353, 354, 42, 58, 74, 90, 43, 59, 75, 91)
    ]
    assert holding == [1, 1, 0, 18, 0, 6, 0, 18, 0, 6, 0]
    assert [ddc.output(n) for n in range(1, 17)] == [False] * 16
    assert [ddc.get("holding", a) for a in (122, 123, 125, 126, 110, 111)] == [
        0,
        4,
        240,
        200,
        1,
        2,
    ]
    assert [ddc.get("input", a) for a in (116, 117, 107, 108, 120)] == [0, 4, 1, 2, 270]
    assert [ddc.get("input", a) for a in AIR] == [35, 21, 15, 650, 300, 270, 550]
    assert all(ddc.get("coil", port.coil) == 0 for port in COILED)
    evening = ShelterDdc(clock=FakeClock("19:00"))
    assert [evening.output(n) for n in (1, 2, 3)] == [True, True, False]
    assert evening.cooler_running
    assert evening.ventilator_running


def test_default_clock_is_seoul_time() -> None:
    assert ShelterDdc().clock().tzinfo == ZoneInfo("Asia/Seoul")


def test_direct_memory_access() -> None:
    device = ModbusDevice()
    device.set("holding", 10, -1)
    device.set("coil", 11, 5)
    assert device.get("holding", 10) == 0xFFFF
    assert device.get("coil", 11) == 1
    with pytest.raises(ValueError, match="16-bit"):
        device.set("input", 1, 0x10000)
    with pytest.raises(ValueError, match="kind"):
        device.set("register", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        ShelterDdc().tick(-1)


async def test_server_ticks_its_devices() -> None:
    class Counting(ModbusDevice):
        def __init__(self) -> None:
            super().__init__()
            self.ticked = asyncio.Event()
            self.dts: list[float] = []

        def tick(self, dt: float) -> None:
            self.dts.append(dt)
            self.ticked.set()

    async with SimulatorServer(tick_interval=0.01) as server:
        device = server.add_device(1, Counting())
        async with asyncio.timeout(5):
            await device.ticked.wait()
    assert device.dts[0] > 0

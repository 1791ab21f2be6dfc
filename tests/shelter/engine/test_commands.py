"""Commands confirmed in two transactions; values polled by how they change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time

import pytest

from custom_components.smartcity_ddc.line import (
    DEFAULT_WIRE,
    LineConfig,
    LineDeviceError,
    ModbusLine,
    RegisterKind,
    Transport,
)
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.errors import (
    DdcPowerRuleError,
    DdcWriteNotConfirmedError,
    ProfileError,
)
from custom_components.smartcity_ddc.shelter.engine.profile import (
    Key,
    load_profile,
    standard_profile,
)
from devtools.simulator import ShelterDdc, SimulatorServer, crc16
from devtools.simulator.server import split_rtu

FC_READ_COILS, FC_READ_HOLDING, FC_READ_INPUT = 1, 3, 4
FC_WRITE_COIL, FC_WRITE_REGISTER, FC_READ_WRITE = 5, 6, 23


class ManualClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        """Start at an arbitrary point."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@pytest.fixture
async def client(simulator: SimulatorServer) -> AsyncIterator[DdcClient]:
    """The standard shelter at slave 1, polled once (the traffic counters then reset)."""
    line = ModbusLine(
        LineConfig(transport=Transport.TCP, host="127.0.0.1", port=simulator.port)
    )
    ddc_client = DdcClient(line, 1, standard_profile(), confirm_interval=0.01)
    await ddc_client.poll()
    simulator.stats.reset()
    yield ddc_client
    await line.close()


def sent(simulator: SimulatorServer) -> dict[int, int]:
    """Return the requests the DDC received, by function code."""
    return dict(simulator.stats.requests)


async def test_relay_power_is_written_and_confirmed_in_two_transactions(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    assert await client.set_power("d041_u001", True) is True
    assert sent(simulator) == {FC_WRITE_COIL: 1, FC_READ_INPUT: 1}
    assert ddc.get("input", 825) == 1
    assert client.snapshot.unit("d041_u001").power is True


async def test_ventilator_power_is_confirmed_in_two_transactions(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    await client.set_value("d022_u001", Key.AUTO, False)
    simulator.stats.reset()
    assert await client.set_power("d022_u001", True) is True
    assert sent(simulator) == {FC_WRITE_COIL: 1, FC_READ_COILS: 1}
    assert ddc.ventilator_running


async def test_climate_target_and_schedule_mode_take_two_transactions(
    client: DdcClient, simulator: SimulatorServer
) -> None:
    assert await client.set_value("d021_u001", Key.SUMMER_TARGET, 25.5) == 25.5
    assert sent(simulator) == {FC_WRITE_REGISTER: 1, FC_READ_HOLDING: 1}
    simulator.stats.reset()
    assert await client.set_value("d041_u001", Key.AUTO, True) is True
    assert sent(simulator) == {FC_WRITE_REGISTER: 1, FC_READ_HOLDING: 1}


async def test_a_unit_put_on_its_schedule_since_the_poll_is_refused_and_left_as_it_runs(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    ddc.set_port(
        5, auto=True
    )  # someone puts heated bench 1 on its schedule at the panel
    with pytest.raises(DdcPowerRuleError, match="ignored the power command"):
        await client.set_power("d041_u001", True)
    # Write, read-back (not taken), mode read; the ignored command is put
    # back as the bench runs (off), so it does not switch on when it goes manual.
    assert sent(simulator) == {FC_WRITE_COIL: 2, FC_READ_INPUT: 1, FC_READ_HOLDING: 1}
    assert ddc.get("coil", 372) == 0
    assert client.snapshot.unit("d041_u001").auto is True
    assert client.snapshot.unit("d041_u001").power is False


async def test_a_unit_taken_off_its_schedule_since_the_poll_is_switched(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    ddc.set_port(2, auto=False)  # lighting 2 was on its schedule at the poll
    assert await client.set_power("d011_u002", True) is True
    # The refusal that the poll suggested is checked first: three transactions.
    assert sent(simulator) == {FC_READ_HOLDING: 1, FC_WRITE_COIL: 1, FC_READ_INPUT: 1}


async def test_a_window_edge_takes_two_transactions_with_fc23(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    assert await client.set_window("d041_u002", 1, "start", time(7, 30)) == time(7, 30)
    assert sent(simulator) == {FC_WRITE_REGISTER: 1, FC_READ_WRITE: 1}
    assert (ddc.get("holding", 47), ddc.get("holding", 63)) == (7, 30)
    assert client.read_write_supported is True
    assert client.snapshot.unit("d041_u002").windows[0].start == time(7, 30)


async def test_a_ddc_without_fc23_is_learned_and_written_in_three(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    ddc.read_write_supported = False
    assert await client.set_window("d041_u002", 1, "end", time(9, 15)) == time(9, 15)
    assert client.read_write_supported is False
    assert simulator.stats.exceptions == {1: 1}  # illegal function, once
    simulator.stats.reset()
    assert await client.set_window("d041_u002", 1, "start", time(8, 5)) == time(8, 5)
    assert sent(simulator) == {FC_WRITE_REGISTER: 2, FC_READ_HOLDING: 1}
    assert [ddc.get("holding", a) for a in (47, 63, 79, 95)] == [8, 5, 9, 15]


async def test_a_window_the_ddc_does_not_keep_is_not_confirmed(
    client: DdcClient, ddc: ShelterDdc
) -> None:
    ddc.faults.ignore_writes = True
    with pytest.raises(DdcWriteNotConfirmedError):
        await client.set_window("d041_u002", 1, "start", time(7, 30))
    assert client.snapshot.unit("d041_u002").windows[0].start == time(0, 0)


def test_fc23_frames_are_cut_from_an_rtu_stream() -> None:
    body = bytes([1, FC_READ_WRITE, 0, 47, 0, 17, 0, 63, 0, 1, 2, 0, 30])
    frame = body + crc16(body).to_bytes(2, "little")
    buffer = bytearray(frame + frame[:5])
    frames, errors = split_rtu(buffer)
    assert [(f.unit, f.pdu) for f in frames] == [(1, body[1:])]
    assert (errors, bytes(buffer)) == (0, frame[:5])


async def test_values_are_read_by_how_they_change(
    simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    clock = ManualClock()
    line = ModbusLine(
        LineConfig(transport=Transport.TCP, host="127.0.0.1", port=simulator.port)
    )
    client = DdcClient(line, 1, standard_profile(), clock=clock)
    await client.poll()
    assert client.cadences == (0.0, 60.0, 300.0)
    live = client.plan(full=False)
    assert [(r.kind, r.start, r.count) for r in live] == [
        (RegisterKind.COIL, 370, 1),  # the ventilator's power
        (RegisterKind.INPUT, 134, 7),  # the air-quality sensor
        (RegisterKind.INPUT, 821, 14),  # every relay output and the door switches
    ]
    ddc.set("holding", 125, 260)  # the summer target, changed at the panel
    ddc.set("input", 120, 250)  # the room temperature
    ddc.set("input", 137, 900)  # CO2
    clock.now += 10
    snapshot = await client.poll()
    assert client.stats.last_plan == live
    cooler = snapshot.unit("d021_u001")
    assert (cooler.summer_target, cooler.current_temperature) == (24.0, 27.0)
    assert snapshot.unit("d061_u001").co2 == 900
    clock.now += 50  # a minute since the first poll: the room temperature is due
    assert (await client.poll()).unit("d021_u001").current_temperature == 25.0
    assert client.stats.last_plan != live
    clock.now += 250  # five minutes: set-points, modes and windows
    assert (await client.poll()).unit("d021_u001").summer_target == 26.0
    assert client.stats.full_polls == 2
    await line.close()


async def test_any_write_has_the_next_poll_read_everything(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    ddc.set("holding", 126, 210)  # the winter target, changed at the panel
    await client.set_value("d021_u001", Key.SUMMER_TARGET, 25.0)
    snapshot = await client.poll()
    assert snapshot.unit("d021_u001").winter_target == 21.0
    assert client.stats.last_requests == 5


def test_a_live_poll_is_within_a_tenth_of_the_physical_minimum() -> None:
    client = DdcClient(None, 1, standard_profile())  # type: ignore[arg-type]
    live = DEFAULT_WIRE.plan_time(client.plan(full=False))
    minimum = DEFAULT_WIRE.minimum_time(client.registers(full=False))
    # Hand-worked: 3 requests of 20 framing characters plus 50 ms turnaround,
    # payload 1 + 14 + 28 bytes, at 1.0417 ms a character (9600 8N1).
    assert live == pytest.approx(3 * (20 / 960 + 0.05) + 43 / 960)
    assert live <= 1.1 * minimum
    # Slower cycles averaged in, a 9600-baud line polls at least 30 every 10 s.
    assert 10.0 / client.wire_per_round(10.0) >= 30


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ("{read: input 120, type: int16, poll: sometimes}", "poll is 'live', 'slow'"),
        ("{read: input 120, type: int16, poll: 0.5}", "at least 1"),
        ("{read: input 120, type: int16, poll: slow, slow: true}", "not both"),
    ],
)
def test_a_bad_cadence_is_reported_with_its_line(point: str, message: str) -> None:
    text = f"units:\n  - id: d1.u1\n    type: cooler\n    points:\n      power: coil 1\n      current_temperature: {point}\n"
    with pytest.raises(ProfileError, match=message) as caught:
        load_profile(text)
    assert caught.value.issues[0].line == 6


def test_old_profiles_keep_their_meaning_and_keys_bring_defaults() -> None:
    profile = load_profile(
        "units:\n  - id: d1.u1\n    type: cooler\n    points:\n"
        "      power: {read: input 5, write: coil 1}\n"
        "      summer_target: {register: holding 7, slow: false}\n"
        "      winter_target: holding 8\n"
        "      current_temperature: {read: input 9, slow: true}\n"
        "      mode: {read: input 10, map: {0: cool}, poll: live}\n"
        "      speed: {read: input 11, map: {1: low}, poll: 30}\n"
    )
    points = profile.unit("d1_u1").points
    assert points[Key.POWER].live
    assert points[Key.SUMMER_TARGET].live
    assert points[Key.WINTER_TARGET].slow
    assert points[Key.CURRENT_TEMPERATURE].slow
    assert points[Key.MODE].live
    assert (points[Key.SPEED].every, points[Key.SPEED].live) == (30.0, False)


async def test_a_window_whose_hour_and_minute_are_far_apart_is_written_value_by_value(
    simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    # A site's own profile may keep a window's minute more than one read
    # (125 registers) away from its hour: no single FC23 can confirm both.
    profile = load_profile(
        "units:\n  - id: d1.u1\n    type: lighting\n    name: L\n"
        "    points: {power: {read: input 1, write: coil 1}}\n"
        "    windows: [[100, 400, 101, 401]]\n"
    )
    line = ModbusLine(
        LineConfig(transport=Transport.TCP, host="127.0.0.1", port=simulator.port)
    )
    client = DdcClient(line, 1, profile, confirm_interval=0.01)
    try:
        await client.poll()
        simulator.stats.reset()
        assert await client.set_window("d1_u1", 1, "start", time(7, 30)) == time(7, 30)
        # Each value written and read back on its own.
        assert sent(simulator) == {FC_WRITE_REGISTER: 2, FC_READ_HOLDING: 2}
        assert (ddc.get("holding", 100), ddc.get("holding", 400)) == (7, 30)
        assert client.snapshot.unit("d1_u1").windows[0].start == time(7, 30)
        assert client.read_write_supported is None  # nothing learned about FC23
    finally:
        await line.close()


async def test_an_fc23_refused_for_another_reason_is_an_error_not_a_lesson(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    # "Slave device failure" on the minute: the DDC does FC23, it failed once.
    ddc.faults.exception_ranges.append(("holding", 63, 63, 4))
    with pytest.raises(LineDeviceError) as caught:
        await client.set_window("d041_u002", 1, "start", time(7, 30))
    assert caught.value.exception_code == 4
    assert sent(simulator) == {FC_WRITE_REGISTER: 1, FC_READ_WRITE: 1}
    assert client.read_write_supported is None
    ddc.faults.clear()
    simulator.stats.reset()
    assert await client.set_window("d041_u002", 1, "start", time(7, 30)) == time(7, 30)
    assert sent(simulator) == {FC_WRITE_REGISTER: 1, FC_READ_WRITE: 1}
    assert (ddc.get("holding", 47), ddc.get("holding", 63)) == (7, 30)


async def test_an_unknown_read_back_on_a_scheduled_unit_is_refused_and_not_guessed(
    client: DdcClient, simulator: SimulatorServer, ddc: ShelterDdc
) -> None:
    ddc.set_port(5, auto=True)  # heated bench 1 put on its schedule at the panel
    ddc.faults.garbage[("input", 825)] = 7  # its power status reads as nonsense
    with pytest.raises(DdcPowerRuleError, match="ignored the power command"):
        await client.set_power("d041_u001", True)
    # Write, read-back (unknown), mode read: how the bench runs is not known,
    # so nothing is put back in its name.
    assert sent(simulator) == {FC_WRITE_COIL: 1, FC_READ_INPUT: 1, FC_READ_HOLDING: 1}
    assert client.snapshot.unit("d041_u001").auto is True

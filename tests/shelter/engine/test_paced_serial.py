"""The serial RTU transport at real speed: a pty paced at 9600 baud 8N1 with a 50 ms turnaround.

Only lower bounds on time: the line can't be faster than the wire. How close
it comes is a figure `python -m devtools.bench_serial` prints (an upper bound
here would flake on a busy machine).
"""

from __future__ import annotations

import time

import pytest

from custom_components.smartcity_ddc.line import RegisterKind, WireModel
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from devtools.bench_serial import SWITCH, measure, paced_shelter, report
from devtools.simulator import ShelterDdc, SimulatorServer
from tests.conftest import DdcClock


def _floor(server: SimulatorServer, wire: WireModel) -> float:
    """Return the least time the traffic the simulator counted takes on the paced line."""
    stats = server.stats
    chars = stats.rtu_request_bytes + stats.rtu_response_bytes
    return chars * wire.char_time + stats.total_requests * wire.turnaround


async def _timed_poll(
    server: SimulatorServer, client: DdcClient, *, full: bool
) -> float:
    """Poll once with fresh counters; return the seconds it took."""
    server.stats.reset()
    started = time.perf_counter()
    await client.poll(full=full)
    return time.perf_counter() - started


async def test_poll_and_command_over_the_paced_line(
    socket_enabled: None, ddc_clock: DdcClock
) -> None:
    async with paced_shelter(clock=ddc_clock) as (server, client):
        ddc = server.devices[1]
        assert isinstance(ddc, ShelterDdc)
        wire = client.wire
        assert (wire.baud, wire.bits_per_char, wire.turnaround) == (9600, 10, 0.05)

        elapsed = await _timed_poll(server, client, full=True)
        snapshot = client.snapshot
        needed = client.registers(full=True)
        assert {ref: snapshot.raw[ref] for ref in needed} == {
            ref: ddc.get(ref.kind, ref.address) for ref in needed
        }
        assert snapshot.unit("d021_u001").summer_target == 24.0
        assert snapshot.unit("d061_u001").co2 == 650
        assert server.stats.total_requests == len(client.plan(full=True))
        assert elapsed >= _floor(server, wire)

        elapsed = await _timed_poll(server, client, full=False)
        assert server.stats.total_requests == len(client.plan(full=False)) == 3
        assert elapsed >= _floor(server, wire)

        server.stats.reset()
        started = time.perf_counter()
        assert await client.set_power(SWITCH, True) is True
        elapsed = time.perf_counter() - started
        # The coil write and the status read-back (the mode is known from the poll).
        assert server.stats.total_requests == 2
        assert ddc.get("input", 826) == 1
        assert elapsed >= _floor(server, wire)
        # A 9600-baud line: a command costs at least its two turnarounds.
        assert elapsed >= 2 * wire.turnaround


async def test_bench_figures_are_measured(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async with paced_shelter() as (server, client):
        phases = await measure(server, client, polls=1, commands=2)
        report(phases, client.wire)
    full, live, switch = phases
    assert (full.requests, full.modelled_requests) == (5, 5)
    assert (live.requests, live.modelled_requests) == (3, 3)
    assert (switch.requests, switch.modelled_requests) == (4, 2)
    wire = client.wire
    assert full.model == pytest.approx(wire.plan_time(client.plan(full=True)))
    assert live.model == pytest.approx(wire.plan_time(client.plan(full=False)))
    assert switch.model == pytest.approx(
        wire.write_time(RegisterKind.COIL) + wire.request_time(RegisterKind.INPUT, 1)
    )
    for phase in phases:
        assert phase.median >= phase.floor(wire) > 0
    output = capsys.readouterr().out
    assert "9600 baud 8N1, 50 ms device turnaround" in output
    assert f"{full.median * 1000:.1f}" in output

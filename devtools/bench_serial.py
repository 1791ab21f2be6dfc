"""Benchmark: the standard shelter over a paced serial line, next to the wire model.

The simulator's shelter DDC answers Modbus RTU behind a pseudo-terminal
(devtools.serial_bridge) that releases every byte at 9600 baud 8N1 and starts
each answer 50 ms after the request ended (the device's turnaround). The
integration's own ModbusLine opens the pty as a serial RTU port, and its
DdcClient polls and commands the DDC through it, so the serial transport runs
at the speed of a real RS-485 line.

Prints, for a full poll, a live poll and a switch command to confirmed (write
and read-back, as the client does it): the requests the simulator counted,
the measured median and p95, the WireModel's time for the same requests and
the ratio measured/model; and the floor the paced line enforces (the bytes
exchanged back to back plus one turnaround per request: the pty has no
3.5-character silences, the model does).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, replace
from datetime import datetime
import statistics
import time

from custom_components.smartcity_ddc.line import (
    LineConfig,
    ModbusLine,
    Transport,
    WireModel,
)
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.profile import Key, standard_profile
from devtools.serial_bridge import SerialBridge
from devtools.simulator import ShelterDdc, SimulatorServer

BAUDRATE = 9600
TURNAROUND = 0.05
#: A relay unit that starts in manual mode, so power commands go through.
SWITCH = "d041_u002"


@dataclass(frozen=True, slots=True)
class Phase:
    """The timed runs of one kind of exchange."""

    name: str
    durations: tuple[float, ...]
    requests: int
    """Requests the simulator counted over all runs."""
    rtu_bytes: int
    """RTU request and response bytes over all runs."""
    model: float
    """WireModel seconds of one run's requests."""
    modelled_requests: int

    @property
    def median(self) -> float:
        """Return the median duration."""
        return statistics.median(self.durations)

    @property
    def p95(self) -> float:
        """Return the 95th percentile duration (nearest rank below)."""
        ordered = sorted(self.durations)
        return ordered[int(0.95 * (len(ordered) - 1))]

    def floor(self, wire: WireModel) -> float:
        """Return the least time one run takes on the paced line: its bytes and turnarounds."""
        runs = len(self.durations)
        return (
            self.rtu_bytes * wire.char_time + self.requests * wire.turnaround
        ) / runs


@contextlib.asynccontextmanager
async def paced_shelter(
    *,
    baudrate: int = BAUDRATE,
    turnaround: float = TURNAROUND,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[tuple[SimulatorServer, DdcClient]]:
    """Serve a standard shelter DDC at slave 1 behind a paced pty; yield it and a client on it."""
    async with SimulatorServer(framer="rtu", auto_tick=False) as server:
        server.add_device(1, ShelterDdc(clock=clock, seed=1))
        async with SerialBridge(
            server.port, baudrate=baudrate, parity="N", turnaround=turnaround
        ) as bridge:
            config = LineConfig(
                transport=Transport.SERIAL,
                serial_port=bridge.path,
                baudrate=baudrate,
                timeout=2.0,
            )
            line = ModbusLine(config)
            wire = replace(line.wire, turnaround=turnaround)
            try:
                yield server, DdcClient(line, 1, standard_profile(), wire=wire)
            finally:
                await line.close()


async def _timed(
    name: str,
    server: SimulatorServer,
    runs: int,
    action: Callable[[int], Awaitable[None]],
    model: Callable[[], tuple[float, int]],
) -> Phase:
    """Run action(i) runs times, timing each; model() gives the last run's modelled time."""
    server.stats.reset()
    durations = []
    for run in range(runs):
        started = time.perf_counter()
        await action(run)
        durations.append(time.perf_counter() - started)
    stats = server.stats
    seconds, requests = model()
    return Phase(
        name=name,
        durations=tuple(durations),
        requests=stats.total_requests,
        rtu_bytes=stats.rtu_request_bytes + stats.rtu_response_bytes,
        model=seconds,
        modelled_requests=requests,
    )


async def measure(
    server: SimulatorServer, client: DdcClient, *, polls: int, commands: int
) -> list[Phase]:
    """Time full polls, live polls and switch commands through the client."""
    wire = client.wire
    power = client.profile.unit(SWITCH).points[Key.POWER]
    assert power.write is not None
    assert power.read is not None
    write, read = power.write, power.read

    def last_plan() -> tuple[float, int]:
        """Return the model of the plan the last poll sent."""
        plan = client.stats.last_plan
        return wire.plan_time(plan), len(plan)

    def command_model() -> tuple[float, int]:
        """Return the model of a power command: the coil write and its status read-back."""
        return (
            wire.write_time(write.kind)
            + wire.request_time(read.kind, power.value_type.words),
            2,
        )

    async def full(_run: int) -> None:
        await client.poll(full=True)

    async def live(_run: int) -> None:
        await client.poll(full=False)

    async def switch(run: int) -> None:
        await client.set_power(SWITCH, run % 2 == 0)

    await client.poll(full=True)  # open the port; the mode of every unit is known
    return [
        await _timed("full poll", server, polls, full, last_plan),
        await _timed("live poll", server, polls, live, last_plan),
        await _timed(
            "switch command to confirmed", server, commands, switch, command_model
        ),
    ]


def report(phases: list[Phase], wire: WireModel) -> None:
    """Print the measured figures next to the wire model."""
    print(
        f"Standard shelter over a paced pty, serial RTU at {wire.baud} baud 8N1, "
        f"{wire.turnaround * 1000:.0f} ms device turnaround"
    )
    print(
        f"  {'':28} {'runs':>5} {'requests':>9} {'median':>8} {'p95':>8}"
        f" {'model':>8} {'measured':>9} {'floor':>8}"
    )
    print(
        f"  {'':28} {'':>5} {'(model)':>9} {'[ms]':>8} {'[ms]':>8} {'[ms]':>8}"
        f" {'/model':>9} {'[ms]':>8}"
    )
    for phase in phases:
        counted = phase.requests / len(phase.durations)
        print(
            f"  {phase.name:28} {len(phase.durations):>5}"
            f" {f'{counted:g} ({phase.modelled_requests})':>9}"
            f" {phase.median * 1000:>8.1f} {phase.p95 * 1000:>8.1f}"
            f" {phase.model * 1000:>8.1f} {phase.median / phase.model:>9.2f}"
            f" {phase.floor(wire) * 1000:>8.1f}"
        )
    print(
        "  model: RTU frames + 3.5-character silence before each + turnaround;"
        " floor: the bytes back to back + turnaround (the pty has no silences)"
    )


async def run(polls: int, commands: int, turnaround: float) -> None:
    """Run the benchmark and print it."""
    async with paced_shelter(turnaround=turnaround) as (server, client):
        phases = await measure(server, client, polls=polls, commands=commands)
        report(phases, client.wire)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20, help="of each kind")
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--turnaround", type=float, default=TURNAROUND)
    args = parser.parse_args()
    asyncio.run(run(args.polls, args.commands, args.turnaround))


if __name__ == "__main__":
    main()

"""The shared line: silent slaves backed off on their own, sessions served in a fair order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import itertools

import pytest

from custom_components.smartcity_ddc.line import (
    LineConfig,
    LineTimeoutError,
    ModbusLine,
    Priority,
    ReadRequest,
    RegisterKind,
    Transport,
)
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile
from devtools.simulator import ShelterDdc, SimulatorServer

TIMEOUT = 1.0
INTERVAL = 10.0


class ManualClock:
    """The line's monotonic clock, moved on by hand."""

    def __init__(self) -> None:
        """Start at an arbitrary point."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@pytest.fixture
async def dead_line(
    simulator: SimulatorServer,
) -> AsyncIterator[tuple[ModbusLine, ManualClock]]:
    """Slave 1 answers; slaves 2 and 3 are on the line but silent (a dead DDC, a wrong id)."""
    for slave in (2, 3):
        simulator.add_device(slave, ShelterDdc(seed=slave)).faults.silent = True
    clock = ManualClock()
    line = ModbusLine(
        LineConfig(
            transport=Transport.TCP,
            host="127.0.0.1",
            port=simulator.port,
            timeout=TIMEOUT,
        ),
        clock=clock,
    )
    # As a coordinator polling every 10 s does.
    line.limit_backoff(INTERVAL / 2)
    yield line, clock
    await line.close()


async def _poll(client: DdcClient) -> None:
    """Poll once; a dead slave's timeout is expected."""
    with contextlib.suppress(LineTimeoutError):
        await client.poll()


async def test_dead_slaves_cost_a_healthy_ddc_at_most_one_short_timeout_each_per_round(
    dead_line: tuple[ModbusLine, ManualClock], simulator: SimulatorServer
) -> None:
    line, clock = dead_line
    healthy = DdcClient(line, 1, standard_profile(), clock=clock)
    dead = [DdcClient(line, slave, standard_profile(), clock=clock) for slave in (2, 3)]
    await healthy.poll()
    timeouts, connects = [], []
    for _round in range(4):
        # Every DDC's poll falls due at once, the dead ones' first; real time
        # passes too (a late answer is awaited no longer than the timeout).
        await asyncio.sleep(TIMEOUT)
        clock.now += INTERVAL
        await asyncio.gather(*(_poll(c) for c in dead), _poll(healthy))
        timeouts.append(line.stats.timeouts)
        connects.append(line.stats.connects)
        assert healthy.snapshot.unit("d061_u001").co2 == 650
    # The first round finds out: a timeout and a short retry each, the
    # connection dropped after each (a slave that answered until now may be
    # only slow).
    assert timeouts[0] == 2 * 2
    # After that each dead slave costs one short probe per round (counted,
    # not timed: how long a probe waits is the line's probe_timeout), and
    # the connection stays up.
    assert line.probe_timeout <= 0.25
    assert [b - a for a, b in itertools.pairwise(timeouts)] == [2, 2, 2]
    assert connects[1:] == [connects[0]] * 3
    assert line.stats.probes == 2 * 3


async def test_a_backed_off_slave_fails_at_once_and_is_found_again_by_its_next_probe(
    dead_line: tuple[ModbusLine, ManualClock], simulator: SimulatorServer
) -> None:
    line, clock = dead_line
    dead = DdcClient(line, 2, standard_profile(), clock=clock)
    with pytest.raises(LineTimeoutError, match="no answer from slave 2"):
        await dead.poll()
    sent = simulator.stats.total_requests
    with pytest.raises(LineTimeoutError, match="next attempt in 0.5 s"):
        await dead.poll()
    assert simulator.stats.total_requests == sent  # nothing went on the bus
    assert set(line.silent_slaves()) == {2}
    simulator.devices[2].faults.silent = False
    clock.now += 0.5
    snapshot = await dead.poll()
    assert snapshot.unit("d021_u001").summer_target == 24.0
    assert line.silent_slaves() == {}
    assert line.stats.probes == 1


async def test_commands_go_first_then_the_slave_served_least_recently(
    simulator: SimulatorServer,
) -> None:
    for slave in (2, 3):
        simulator.add_device(slave, ShelterDdc(seed=slave))
    line = ModbusLine(
        LineConfig(transport=Transport.TCP, host="127.0.0.1", port=simulator.port)
    )
    request = ReadRequest(RegisterKind.INPUT, 134, 1)
    order: list[str] = []

    async def use(name: str, slave: int, priority: Priority) -> None:
        async with line.session(slave, priority):
            order.append(name)
            await line.read(slave, request)

    # Slave 3 was served last, slave 2 before it, slave 1 never.
    for slave in (2, 3):
        await line.read(slave, request)
    async with line.session(9):
        tasks = [
            asyncio.create_task(use("poll 3", 3, Priority.POLL)),
            asyncio.create_task(use("poll 2", 2, Priority.POLL)),
            asyncio.create_task(use("poll 1", 1, Priority.POLL)),
            asyncio.create_task(use("command 3", 3, Priority.COMMAND)),
        ]
        await asyncio.sleep(0.01)
        assert order == []
    await asyncio.gather(*tasks)
    assert order == ["command 3", "poll 1", "poll 2", "poll 3"]
    await line.close()


async def test_a_cancelled_wait_leaves_the_line_free(
    simulator: SimulatorServer,
) -> None:
    line = ModbusLine(
        LineConfig(transport=Transport.TCP, host="127.0.0.1", port=simulator.port)
    )
    async with line.session(1):
        waiting = asyncio.create_task(
            line.read(1, ReadRequest(RegisterKind.INPUT, 134, 1))
        )
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with asyncio.timeout(2):
        assert await line.read(1, ReadRequest(RegisterKind.INPUT, 134, 1)) == [35]
    await line.close()

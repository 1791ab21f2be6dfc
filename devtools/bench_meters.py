"""Benchmark of reading a DL/T645 meter bus at 2400 baud: python -m devtools.bench_meters.

DL/T645 half: a bus of 50 DL/T645-2007 meters (every fifth prepaid by
money, the others plain) behind a simulated RS-485/TCP gateway that paces
every byte at 2400 baud 8E1 (11 bits a byte, 4.58 ms) and answers after a
10 ms meter turnaround. One poll reads every meter (energy, voltage,
current, power, and the prepaid registers where the meter has them) with
the integration's own bus reader, as a poll does once the plain meters'
refusals are known (every poll but the first and each 24th).

Prints the wall time of the poll against the physical minimum - the time
the bytes exchanged take on the wire back to back (target <= 1.2x) - and
the longest event-loop stall while it runs (target < 50 ms).

The M-Bus half - reading 50 M-Bus meters by primary and by secondary
address against the physical minimum, and scanning a bus of 50 by
secondary address - is ``python -m devtools.bench_mbus`` (a modelled
2400-baud line); ``scripts/bench`` runs both.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Self

from custom_components.smartcity_ddc.meters.engine.bus import (
    BusConfig,
    BusTransport,
    MeterBus,
    ReadStatus,
    read_bus,
)
from custom_components.smartcity_ddc.meters.engine.dlt645 import Dlt645Meter, Quantity
from devtools.simulator.meterbus import Dlt645Meter as SimMeter, MeterBusServer

WIRE_TARGET = 1.2
STALL_TARGET = 0.050
TURNAROUND = 0.010
PREPAID_QUANTITIES = frozenset(
    {Quantity.REMAINING_ENERGY, Quantity.REMAINING_MONEY, Quantity.STATUS_WORD_3}
)


@dataclass(frozen=True, slots=True)
class BusBench:
    """The figures of one timed bus poll."""

    meters: int
    read_ok: int
    exchanges: int
    bytes_on_wire: int
    wall: float
    minimum: float
    stall: float

    @property
    def ratio(self) -> float:
        """Return wall time over the physical minimum."""
        return self.wall / self.minimum


class StallMonitor:
    """Measures the longest time the event loop didn't run a ready task."""

    def __init__(self, interval: float = 0.005) -> None:
        """Wake every interval seconds."""
        self.interval = interval
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        """Note how late each wake-up comes."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.longest = max(self.longest, loop.time() - before - self.interval)

    def __enter__(self) -> Self:
        """Start measuring."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()


def _nameplate(number: int) -> str:
    """Return the 12-digit address of the n-th meter."""
    return f"{240000000000 + number:012d}"


async def bench_dlt645(meters: int = 50, baudrate: int = 2400) -> BusBench:
    """Time one poll of a bus of DL/T645-2007 meters at a baud rate."""
    async with MeterBusServer(
        baudrate=baudrate, turnaround=TURNAROUND, stop_after=600
    ) as server:
        readers = []
        for number in range(1, meters + 1):
            prepaid = number % 5 == 0
            server.add(
                SimMeter(
                    _nameplate(number),
                    energy=1000 + number * 7.25,
                    prepaid="money" if prepaid else None,
                    remaining_money=50.0,
                )
            )
            reader = Dlt645Meter(_nameplate(number))
            if not prepaid:
                # What the first poll learnt: this meter has no prepaid registers.
                reader.refused.update(PREPAID_QUANTITIES)
                reader.reads = 1
            readers.append(reader)
        bus = MeterBus(
            BusConfig(
                transport=BusTransport.TCP,
                host="127.0.0.1",
                port=server.port,
                baudrate=baudrate,
                timeout=2.0,
            )
        )
        loop = asyncio.get_running_loop()
        try:
            # Connect first: the bench times the bus, not the TCP handshake.
            await bus.connect()
            with StallMonitor() as monitor:
                started = loop.time()
                results = await read_bus(bus, readers)
                wall = loop.time() - started
        finally:
            await bus.retire()
    stats = bus.stats
    total = stats.bytes_sent + stats.bytes_received
    return BusBench(
        meters=meters,
        read_ok=sum(result.status is ReadStatus.OK for result in results),
        exchanges=stats.requests,
        bytes_on_wire=total,
        wall=wall,
        minimum=bus.config.wire.seconds(total),
        stall=monitor.longest,
    )


def report(title: str, bench: BusBench) -> None:
    """Print one bench's figures against the targets."""
    wire_ok = "ok" if bench.ratio <= WIRE_TARGET else "OVER TARGET"
    stall_ok = "ok" if bench.stall < STALL_TARGET else "OVER TARGET"
    print(title)
    print(
        f"  meters read:        {bench.read_ok} of {bench.meters} "
        f"({bench.exchanges} exchanges, {bench.bytes_on_wire} bytes)"
    )
    print(f"  wire time:          {bench.wall:.2f} s")
    print(f"  physical minimum:   {bench.minimum:.2f} s")
    print(
        f"  ratio:              {bench.ratio:.3f}x (target <= {WIRE_TARGET}x) {wire_ok}"
    )
    print(
        f"  longest loop stall: {bench.stall * 1000:.1f} ms "
        f"(target < {STALL_TARGET * 1000:.0f} ms) {stall_ok}"
    )


async def _main(meters: int, baudrate: int) -> None:
    """Run the DL/T645 bus benchmark and print it."""
    dlt = await bench_dlt645(meters, baudrate)
    report(
        f"DL/T645-2007: one poll of {meters} meters at {baudrate} baud 8E1 "
        f"(TCP gateway, {TURNAROUND * 1000:.0f} ms meter turnaround)",
        dlt,
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--baud", type=int, default=2400)
    args = parser.parse_args()
    asyncio.run(_main(args.meters, args.baud))


if __name__ == "__main__":
    main()

"""Benchmark of M-Bus reading and scanning on a modelled 2400-baud line: python -m devtools.bench_mbus.

Runs the integration's M-Bus reader and secondary-address search against 50
simulated water meters on the in-memory bus, whose wire model adds up the
time the frames take at 2400 baud 8E1 (11 bits a byte), an idle gap before
every frame, the meters' reply delay, and the master's timeout for each
silence. Prints:

* the wire time of reading all 50 meters (by primary and by secondary
  address, first contact and steady state) against the physical minimum of
  the frames exchanged — their bytes back to back, no gaps (goal: at most 1.2 times) —
  and against the frames a read can't do without (REQ_UD2 and RSP_UD, plus
  the selection for secondary addresses);
* the requests and wire time to scan the bus by secondary address, for
  random ids, consecutive ids, and groups of ids that collide down to the
  last digit (the search's worst case);
* the longest CPU time of one read (an upper bound on how long our code
  holds the event loop between two bus exchanges).
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
import random
import time

from custom_components.smartcity_ddc.meters.engine.mbus import SecondaryAddress
from custom_components.smartcity_ddc.meters.engine.mbus_scan import (
    MBusReader,
    MeterAddress,
    ReadStatus,
    scan_secondary,
)
from devtools.simulator.mbus_meter import InMemoryBus, MBusWaterMeter, WireModel

GOAL = 1.2


def random_idents(count: int, seed: int) -> list[str]:
    """Return count distinct random 8-digit ids."""
    rng = random.Random(seed)
    idents: set[str] = set()
    while len(idents) < count:
        idents.add(f"{rng.randrange(10**8):08d}")
    return sorted(idents)


def consecutive_idents(count: int) -> list[str]:
    """Return consecutive ids, as a building's meters from one delivery often have."""
    return [f"{12345600 + n:08d}" for n in range(count)]


def clustered_idents(count: int) -> list[str]:
    """Return groups of five ids that differ only in the last digit: the search narrows through all eight."""
    rng = random.Random(3)
    idents: list[str] = []
    while len(idents) < count:
        prefix = f"{rng.randrange(10**6):06d}"
        idents += [f"{prefix}0{d}" for d in range(min(5, count - len(idents)))]
    return idents


def bus_of(idents: list[str], wire: WireModel, reply_delay: float) -> InMemoryBus:
    """Return a bus of water meters with those ids at primary addresses 1..n, every fifth with credit."""
    meters = [
        MBusWaterMeter(
            ident,
            primary=n + 1,
            volume_m3=Decimal("123.456") + n,
            credit=Decimal(40) if n % 5 == 0 else None,
            reply_delay=reply_delay,
        )
        for n, ident in enumerate(idents)
    ]
    return InMemoryBus(meters, wire)


def frame_sizes(bus: InMemoryBus, start: int) -> tuple[int, int]:
    """Return (all bytes, bytes of the frames a read needs) exchanged since log entry start."""
    total = needed = 0
    for request, reply in bus.log[start:]:
        size = len(request) + (len(reply) if reply else 0)
        total += size
        # SND_NKE (C 40) only resets or deselects; a read can do without it.
        if not (request[0] == 0x10 and request[1] == 0x40):
            needed += size
    return total, needed


async def bench_read(meters: int, wire: WireModel, reply_delay: float) -> None:
    """Read every meter twice by primary and twice by secondary address; print wire time ratios."""
    bus = bus_of(random_idents(meters, 1), wire, reply_delay)
    addresses = {
        "primary": [MeterAddress(primary=n + 1) for n in range(meters)],
        "secondary": [
            MeterAddress(
                secondary=SecondaryAddress(m.ident, m.manufacturer, m.version, m.medium)
            )
            for m in bus.devices
            if isinstance(m, MBusWaterMeter)
        ],
    }
    longest = 0.0
    print(f"M-Bus read of {meters} meters, {wire.baud} baud, 11 bits/byte:")
    for kind, targets in addresses.items():
        reader = MBusReader(bus)
        for attempt in ("first contact", "steady state"):
            start, wire_before, requests_before = (
                len(bus.log),
                bus.wire_time,
                bus.requests,
            )
            for target in targets:
                began = time.process_time()
                result = await reader.read(target)
                longest = max(longest, time.process_time() - began)
                if result.status is not ReadStatus.OK:
                    raise SystemExit(f"{target}: {result.status} {result.detail}")
            elapsed = bus.wire_time - wire_before
            total, needed = frame_sizes(bus, start)
            minimum, essential = wire.bytes_time(total), wire.bytes_time(needed)
            ratio = elapsed / minimum
            verdict = "ok" if ratio <= GOAL else f"over the {GOAL}x goal"
            print(
                f"  by {kind:9} {attempt:13}: {elapsed:6.2f} s on the wire, "
                f"{bus.requests - requests_before:3} requests, minimum of the frames "
                f"{minimum:6.2f} s -> {ratio:.3f}x ({verdict}); "
                f"vs. the frames a read needs {essential:6.2f} s -> {elapsed / essential:.3f}x"
            )
    print(f"  longest CPU time of one read: {longest * 1000:.2f} ms")


async def bench_scan(meters: int, wire: WireModel, reply_delay: float) -> None:
    """Scan buses of meters by secondary address; print requests and wire time."""
    print(
        f"M-Bus secondary-address scan of {meters} meters (timeout {wire.timeout * 1000:.0f} ms):"
    )
    for label, idents in (
        ("random ids", random_idents(meters, 2)),
        ("consecutive ids", consecutive_idents(meters)),
        ("clustered ids", clustered_idents(meters)),
    ):
        bus = bus_of(idents, wire, reply_delay)
        began = time.process_time()
        result = await scan_secondary(bus)
        cpu = time.process_time() - began
        found = {m.ident for m in result.meters}
        status = "all found" if found == set(idents) else f"{len(found)} found"
        print(
            f"  {label:15}: {status}, {result.requests} requests, "
            f"{bus.wire_time:6.1f} s on the wire ({bus.wire_time / 60:.1f} min), CPU {cpu:.2f} s"
        )


def main() -> None:
    """Run the read and scan benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--baud", type=int, default=2400)
    parser.add_argument(
        "--reply-delay-bits",
        type=int,
        default=22,
        help="the meters' delay before answering, in bit times, after the line's 11-bit gap",
    )
    args = parser.parse_args()
    # EN 13757-2: a meter starts answering within 330 bit times + 50 ms; the
    # master waits that long for a reply before it counts as silence.
    wire = WireModel(baud=args.baud, gap_bits=11, timeout=330 / args.baud + 0.05)
    reply_delay = args.reply_delay_bits / args.baud
    print(
        f"Wire model: 11-bit gap before each frame, meters answer {args.reply_delay_bits} "
        f"bit times later, silence costs {wire.timeout * 1000:.1f} ms"
    )
    asyncio.run(bench_read(args.meters, wire, reply_delay))
    asyncio.run(bench_scan(args.meters, wire, reply_delay))


if __name__ == "__main__":
    main()

"""Benchmark: sync 10,000 interface-table rows through the real engine and a real MariaDB.

python -m devtools.bench_cards [--rows 10000] [--batch-size 500] [--read-size 100]
    [--deletes 0.05] [--seed 1]

Starts a throwaway MariaDB (devtools.mariadb, durable commits as in
production), fills t_card_issue_if, and runs one sync round with the
integration's own storage (Home Assistant's Store on a temporary config
directory, private and atomic) and its events fired on Home Assistant's bus.
A ticker task on the event loop measures the longest stall while it runs.

Prints the time spent reading, applying, persisting and deleting, rows per
second and the longest stall, and exits 1 when a target is missed
(under 2 s in total, no stall over 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
import random
import sys
import tempfile
import time
from typing import Final

from homeassistant.core import HomeAssistant

from custom_components.smartcity_ddc.cards.const import (
    EVENT_CARD_DELETED,
    EVENT_CARD_ISSUED,
    EVENT_CARD_REJECTED,
)
from custom_components.smartcity_ddc.cards.engine.database import (
    CardDatabase,
    DbSettings,
)
from custom_components.smartcity_ddc.cards.engine.sync import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_READ_SIZE,
    CardEvent,
    CardSync,
    EventKind,
    SyncSummary,
)
from custom_components.smartcity_ddc.cards.store import CardsStore

from .mariadb import HOST, MariaDbServer, card_table_ddl

TARGET_SECONDS: Final = 2.0
TARGET_STALL: Final = 0.050
TICK: Final = 0.001
_SURNAMES: Final = "김이박최정강조윤장임"
_GIVEN: Final = "민서준지우도윤하은시우예린주원"


@dataclass
class StallMeter:
    """Measures how late a 1 ms ticker on the event loop wakes up."""

    longest: float = 0.0
    ticks: int = 0
    running: bool = True
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Tick until stopped; remember the largest lateness."""
        loop = asyncio.get_running_loop()
        self.started.set()
        while self.running:
            before = loop.time()
            # The ticker's own period, not a wait for something to happen.
            await asyncio.sleep(TICK)
            self.longest = max(self.longest, loop.time() - before - TICK)
            self.ticks += 1


def make_rows(count: int, deletes: float, seed: int) -> list[tuple[str, ...]]:
    """Return issue rows with a share of deletions of cards issued earlier."""
    rng = random.Random(seed)
    rows: list[tuple[str, ...]] = []
    issued: list[str] = []
    for n in range(count):
        if issued and rng.random() < deletes:
            card_no = issued.pop(rng.randrange(len(issued)))
            rows.append((card_no, "", "", "", "", "D"))
            continue
        card_no = f"88{n:08d}"
        issued.append(card_no)
        manager = rng.random() < 0.01
        rows.append(
            (
                card_no,
                rng.choice(_SURNAMES) + "".join(rng.sample(_GIVEN, 2)),
                rng.choice("ABC"),
                "9999" if manager else str(101 + rng.randrange(12)),
                "9999"
                if manager
                else f"{1 + rng.randrange(25)}{1 + rng.randrange(4):02d}",
                "I",
            )
        )
    return rows


def fill(server: MariaDbServer, database: str, rows: list[tuple[str, ...]]) -> None:
    """Insert the rows as the access-control server would (one bulk statement per 1000)."""
    connection = server.admin(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(card_table_ddl())
            cursor.executemany(
                "INSERT INTO t_card_issue_if (card_no, user_name, io_group_id, "
                "dong_code, ho_code, issue_flag) VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
    finally:
        connection.close()


async def run(
    server: MariaDbServer,
    user: str,
    password: str,
    database: str,
    batch_size: int,
    read_size: int,
) -> tuple[SyncSummary, StallMeter, int]:
    """Sync once with the production store and event path; measure the loop."""
    config_dir = tempfile.mkdtemp(prefix="smartcity-bench-")
    hass = HomeAssistant(config_dir)
    events = 0

    def fire(batch: list[CardEvent]) -> None:
        nonlocal events
        names = {
            EventKind.ISSUED: EVENT_CARD_ISSUED,
            EventKind.DELETED: EVENT_CARD_DELETED,
            EventKind.REJECTED: EVENT_CARD_REJECTED,
        }
        for event in batch:
            hass.bus.async_fire(
                names[event.kind],
                {
                    "idx": event.idx,
                    "masked_card_number": event.masked_card_number,
                    "dong": event.dong,
                    "ho": event.ho,
                    "group": event.group,
                },
            )
        events += len(batch)

    database_ = CardDatabase(
        DbSettings(
            host=HOST, port=server.port, user=user, password=password, database=database
        )
    )
    engine = CardSync(
        database_,
        CardsStore(hass, "bench"),
        groups={"A": "101동 공동현관", "B": "관리동", "C": "지하 주차장"},
        batch_size=batch_size,
        read_size=read_size,
        on_commit=fire,
    )
    await engine.load()
    # Connect and check the table before measuring, as the entry's setup does.
    await database_.check()
    meter = StallMeter()
    ticker = asyncio.create_task(meter.run())
    await meter.started.wait()
    try:
        summary = await engine.sync()
    finally:
        meter.running = False
        await ticker
        await database_.close()
        await hass.async_stop(force=True)
    return summary, meter, events


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_cards")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--read-size", type=int, default=DEFAULT_READ_SIZE)
    parser.add_argument("--deletes", type=float, default=0.05, help="share of D rows")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rows = make_rows(args.rows, args.deletes, args.seed)
    with MariaDbServer() as server:
        account = server.create_account("bench", privileges="SELECT, DELETE")
        fill(server, account.database, rows)
        started = time.perf_counter()
        summary, meter, events = asyncio.run(
            run(
                server,
                account.user,
                account.password,
                account.database,
                args.batch_size,
                args.read_size,
            )
        )
        wall = time.perf_counter() - started
        left = server.execute(
            "SELECT COUNT(*) FROM t_card_issue_if", database=account.database
        )

    total = summary.total_seconds
    ok_time = total < TARGET_SECONDS
    ok_stall = meter.longest <= TARGET_STALL
    print(f"rows synced      {summary.rows_read:>8}  ({summary.issued} I, {summary.deleted} D, "
          f"{summary.rejected} rejected) in {summary.batches} batches of {args.batch_size}, "
          f"SELECTs of {args.read_size}")  # fmt: skip
    print(f"read             {summary.read_seconds * 1000:8.1f} ms")
    print(f"apply            {summary.apply_seconds * 1000:8.1f} ms")
    print(f"persist          {summary.persist_seconds * 1000:8.1f} ms")
    print(f"delete           {summary.delete_seconds * 1000:8.1f} ms")
    print(f"total            {total * 1000:8.1f} ms  (target < {TARGET_SECONDS * 1000:.0f} ms: "
          f"{'ok' if ok_time else 'MISSED'})")  # fmt: skip
    print(f"rows/s           {summary.rows_read / total:8.0f}")
    print(f"longest stall    {meter.longest * 1000:8.1f} ms  (target <= {TARGET_STALL * 1000:.0f} ms: "
          f"{'ok' if ok_stall else 'MISSED'}; {meter.ticks} ticks)")  # fmt: skip
    print(f"events fired     {events:>8}")
    print(f"rows left        {left[0][0]:>8}")
    print(f"wall (with loop start/stop) {wall:.2f} s")
    return 0 if ok_time and ok_stall and left[0][0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

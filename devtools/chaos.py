"""Chaos: a real Home Assistant killed with SIGKILL in the middle of card syncs and reading bursts.

One run: a throwaway MariaDB with the card interface table, and `hass` (a
child process on 127.0.0.1, see devtools/hass_process.py) with a card sync
and a site of pushed water meters. Each round starts Home Assistant, pushes
water readings as a meter-data platform catching up would (timestamps from
hours ago onwards, then in real time, at most one a second per meter) and
writes card rows (a trickle, and a wave of issues, re-issues, deletions and
malformed rows), asks for a card sync and kills Home Assistant with SIGKILL
at a random moment of it. The rounds take turns: a kill in a sync soon after
the start (the first one before the meters' history was ever saved), a kill
right after the history was saved, a kill while Home Assistant starts (its
first sync picks up rows written while it was down), and a kill in a sync
after SAVE_DELAY and up to as long again of readings. After each kill,
before the restart, what Home Assistant left on disk is checked:

* cards: the rows gone from the table plus the registry's pending deletes
  are a prefix of the rows in idx order; the registry equals applying exactly
  that prefix; every rejected row is in the rejected log once; every card
  event seen so far belongs to the prefix, and no idx was announced twice;
* readings: every reading acknowledged more than SAVE_DELAY (plus a margin
  for the write itself) before the kill is in the stored history, and the
  history holds nothing that was not sent;
* statistics: for every meter, state - sum is the same in every row.

A last session lets the sync finish and stops Home Assistant cleanly; then
the registry must equal applying every row and the table must be empty, no
card event may appear twice (seen live, or in the recorder's event table),
and every hour of every meter's history must have a statistics row whose
state is the history's index at the hour's end, counted from the one origin.

Every random choice comes from one seeded generator; what happens at the
kill (how far a sync got) still depends on the machine's speed, and the
report says where each kill landed.

    python -m devtools.chaos [--seed N] [--rounds N] [--run-dir DIR]

CHAOS_SEED and CHAOS_ROUNDS set the defaults. Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
import json
import os
from pathlib import Path
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from typing import Any, Final, NamedTuple

import aiohttp

from custom_components.smartcity_ddc.cards.const import (
    EVENT_CARD_DELETED,
    EVENT_CARD_ISSUED,
    EVENT_CARD_REJECTED,
)
from custom_components.smartcity_ddc.meters.const import SAVE_DELAY
from devtools.hass_process import (
    DOMAIN,
    HassCommandError,
    HassConnectionLostError,
    HassProcess,
    HassWebSocket,
    free_port,
)
from devtools.mariadb import MariaDbServer, card_table_ddl

#: Seconds a save may take after its timer fired (the write runs in an executor).
WRITE_MARGIN: Final = 3.0
USERNAME: Final = "chaos"
PASSWORD: Final = "chaos-monkey"  # noqa: S105  # a throwaway account of a throwaway local instance
TABLE: Final = "t_card_issue_if"
CARD_EVENTS: Final = (EVENT_CARD_ISSUED, EVENT_CARD_DELETED, EVENT_CARD_REJECTED)
#: The event each kind of row announces.
EVENT_OF: Final = {
    "I": EVENT_CARD_ISSUED,
    "D": EVENT_CARD_DELETED,
    "rejected": EVENT_CARD_REJECTED,
}
#: The card registry keeps this many rejected rows (cards/engine/sync.py).
REJECTED_LOG_LIMIT: Final = 1000
NAMES: Final = ("김민준", "이서연", "박도윤", "최하은", "정시우", "강지아", "조은우")
GROUPS: Final = "A = 101동 공용현관\nB = 102동 공용현관\nM = 관리사무소"

CONFIGURATION: Final = """\
# Written by devtools/chaos.py: a throwaway instance on 127.0.0.1 only.
homeassistant:
  name: Chaos
  time_zone: Asia/Seoul
  country: KR
  currency: KRW
  unit_system: metric
  latitude: 37.5665
  longitude: 126.978
  elevation: 38

config:
api:
recorder:

logger:
  default: warning
  logs:
    custom_components.smartcity_ddc: info
"""


class RoundKind(StrEnum):
    """Where in a session the kill falls."""

    #: A wave of rows and a sync soon after the start, the kill in the sync
    #: (in the first round: before the meters' history was ever saved).
    SHORT = "short"
    #: Readings until the history is saved; the kill right after the save.
    SAVED = "saved"
    #: Rows written while Home Assistant is down; the kill while it starts.
    STARTUP = "startup"
    #: Readings for SAVE_DELAY and up to as long again, then a wave, a sync, the kill.
    LONG = "long"


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    """What a run does; the defaults are the CI run."""

    seed: int = 20261201
    rounds: int = 3
    meters: int = 3
    #: Readings pushed per second, over all meters.
    reading_rate: float = 24.0
    #: Simulated seconds between two readings of a meter while catching up.
    step: int = 120
    #: How far back the platform starts catching up (hours): further back
    #: than the 24 hours of statistics re-imported after a restart.
    backlog_hours: float = 40.0
    #: Rows in the table when the card sync is added.
    initial_rows: int = 1500
    #: Rows of each wave that a killed sync works on.
    wave_rows: int = 3000
    #: Card rows written per second between waves.
    trickle_rate: float = 2.0
    #: The card entry's own sync interval (seconds).
    scan_interval: int = 5

    @classmethod
    def from_env(cls, **overrides: Any) -> ChaosSettings:
        """Return settings with CHAOS_SEED and CHAOS_ROUNDS from the environment, then overrides."""
        values: dict[str, Any] = {}
        if seed := os.environ.get("CHAOS_SEED"):
            values["seed"] = int(seed)
        if rounds := os.environ.get("CHAOS_ROUNDS"):
            values["rounds"] = int(rounds)
        return cls(**(values | overrides))

    def kinds(self) -> list[RoundKind]:
        """Return the kind of each round, in turn (the CI run has the first three)."""
        cycle: tuple[RoundKind, ...] = tuple(RoundKind.__members__.values())
        return [cycle[number % len(cycle)] for number in range(self.rounds)]


# --- the card interface table -----------------------------------------------------


class CardRow(NamedTuple):
    """One row the harness wrote, and what the sync should make of it."""

    idx: int
    card_no: str | None
    name: str | None
    group: str | None
    dong: str | None
    ho: str | None
    flag: str | None
    #: "I" registers, "D" removes, "rejected" goes to the rejected log.
    outcome: str


#: A registered card as the registry should hold it: name, group, dong, ho, idx.
type Registered = tuple[str, str, str, str, int]


class CardTable:
    """The rows written to the interface table, and the registry any prefix of them makes."""

    def __init__(self, rng: random.Random) -> None:
        """Start with no rows; idx values count from 1."""
        self.rng = rng
        self.rows: dict[int, CardRow] = {}
        self._next_idx = 1
        self._next_card = 0
        #: Cards registered once every row so far is applied (to write deletions of).
        self._live: dict[str, CardRow] = {}

    def _card_number(self) -> str:
        """Return a card number never used before (ten digits)."""
        self._next_card += 1
        return f"{4_000_000_000 + self._next_card * 7919 % 5_000_000_000:010d}"

    def _issue(self, card_no: str) -> tuple[str, str, str, str]:
        """Return name, group, dong and ho of a resident or (sometimes) a manager."""
        name = self.rng.choice(NAMES)
        if self.rng.random() < 0.05:
            return name, "M", "9999", "9999"
        dong = self.rng.choice(("101", "102"))
        ho = f"{self.rng.randint(1, 25)}{self.rng.randint(1, 4):02d}"
        return name, {"101": "A", "102": "B"}[dong], dong, ho

    def generate(self, count: int) -> list[CardRow]:
        """Make the next rows: issues, re-issues, deletions and a few malformed rows."""
        rows: list[CardRow] = []
        for _ in range(count):
            idx = self._next_idx
            self._next_idx += 1
            roll = self.rng.random()
            if roll < 0.02:
                row = self._malformed(idx)
            elif roll < 0.14 and self._live:
                card_no = self.rng.choice(list(self._live))
                old = self._live.pop(card_no)
                row = CardRow(
                    idx, card_no, old.name, old.group, old.dong, old.ho, "D", "D"
                )
            elif roll < 0.16:
                # A deletion of a card this site never had: applied, changes nothing.
                name, group, dong, ho = self._issue("")
                row = CardRow(idx, self._card_number(), name, group, dong, ho, "D", "D")
            else:
                card_no = (
                    self.rng.choice(list(self._live))
                    if roll < 0.24 and self._live
                    else self._card_number()
                )
                name, group, dong, ho = self._issue(card_no)
                row = CardRow(idx, card_no, name, group, dong, ho, "I", "I")
                self._live[card_no] = row
            self.rows[idx] = row
            rows.append(row)
        return rows

    def _malformed(self, idx: int) -> CardRow:
        """Return a row the sync must reject (as access-control vendors sometimes write)."""
        name, group, dong, ho = self._issue("")
        card_no = self._card_number()
        choice = self.rng.randrange(5)
        if choice == 0:
            return CardRow(idx, "", name, group, dong, ho, "I", "rejected")
        if choice == 1:
            return CardRow(idx, card_no, name, group, dong, ho, "X", "rejected")
        if choice == 2:
            return CardRow(idx, card_no, name, group, "10-1", ho, "I", "rejected")
        if choice == 3:
            return CardRow(
                idx,
                card_no[:4] + " " + card_no[4:],
                name,
                group,
                dong,
                ho,
                "I",
                "rejected",
            )
        return CardRow(idx, card_no, name, group, dong, ho, None, "rejected")

    def expected(self, upto: int) -> dict[str, Registered]:
        """Return the registry that applying every row with idx ≤ upto in idx order makes."""
        registry: dict[str, Registered] = {}
        for idx in sorted(self.rows):
            if idx > upto:
                break
            row = self.rows[idx]
            if row.outcome == "I":
                assert row.card_no is not None
                registry[row.card_no] = (
                    str(row.name),
                    str(row.group),
                    str(row.dong),
                    str(row.ho),
                    idx,
                )
            elif row.outcome == "D":
                registry.pop(str(row.card_no), None)
        return registry

    def rejected(self, upto: int) -> list[int]:
        """Return the idx of every malformed row with idx ≤ upto, in order."""
        return [
            idx
            for idx, row in sorted(self.rows.items())
            if idx <= upto and row.outcome == "rejected"
        ]


@dataclass(slots=True)
class Registry:
    """The card registry file as Home Assistant left it."""

    cards: dict[str, Registered]
    rejected: list[int]
    pending: set[int]

    @classmethod
    def read(cls, path: Path) -> Registry:
        """Read a registry file; no file is an empty registry."""
        if not path.exists():
            return cls({}, [], set())
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        return cls(
            cards={
                card_no: (
                    record["name"],
                    record["group"],
                    record["dong"],
                    record["ho"],
                    int(record["idx"]),
                )
                for card_no, record in data.get("cards", {}).items()
            },
            rejected=[int(entry["idx"]) for entry in data.get("rejected", [])],
            pending={int(idx) for idx in data.get("pending", {})},
        )


def check_cards(
    table: CardTable,
    remaining: set[int],
    registry: Registry,
    events: Mapping[int, list[str]],
) -> tuple[int, list[str]]:
    """Check the registry against the rows; return the highest idx applied and what is wrong.

    Applied rows are those gone from the table (deleted only after they were
    stored) and those stored but not yet deleted (pending). They must be the
    first rows in idx order, and the registry what applying them makes.
    """
    problems: list[str] = []
    written = set(table.rows)
    if stray := remaining - written:
        problems.append(
            f"rows in the table the harness never wrote: {sorted(stray)[:5]}"
        )
    applied = (written - remaining) | (registry.pending & written)
    upto = max(applied, default=0)
    if gaps := sorted(idx for idx in written if idx <= upto and idx not in applied):
        problems.append(
            f"rows applied out of order: {len(gaps)} rows below idx {upto} were not, e.g. {gaps[:5]}"
        )
    expected = table.expected(upto)
    if registry.cards != expected:
        missing = expected.keys() - registry.cards.keys()
        extra = registry.cards.keys() - expected.keys()
        wrong = [
            card
            for card in expected.keys() & registry.cards.keys()
            if expected[card] != registry.cards[card]
        ]
        problems.append(
            f"registry differs from applying rows 1..{upto}: {len(missing)} cards missing, "
            f"{len(extra)} extra, {len(wrong)} with other values"
        )
    counts = Counter(registry.rejected)
    if twice := sorted(idx for idx, count in counts.items() if count > 1):
        problems.append(f"rows rejected more than once: {twice[:5]}")
    want = table.rejected(upto)[-REJECTED_LOG_LIMIT:]
    if sorted(counts) != want:
        problems.append(
            f"rejected log holds {len(counts)} rows, {len(want)} expected "
            f"(missing {sorted(set(want) - set(counts))[:5]}, "
            f"extra {sorted(set(counts) - set(want))[:5]})"
        )
    for idx, kinds in sorted(events.items()):
        if len(kinds) > 1:
            problems.append(f"idx {idx} announced {len(kinds)} times: {kinds}")
        if idx not in applied:
            problems.append(f"idx {idx} announced but not stored")
        elif (row := table.rows.get(idx)) is not None and kinds[0] != EVENT_OF[
            row.outcome
        ]:
            problems.append(f"idx {idx} announced as {kinds[0]}, row is {row.outcome}")
    return upto, problems


# --- water readings -------------------------------------------------------------------


@dataclass(slots=True)
class MeterFeed:
    """One pushed meter: its true index, what was sent and what was acknowledged."""

    meter_id: str
    #: Average flow (m³/h); each step draws between half and one and a half of it.
    flow: float
    next_t: int
    index: float
    sent: dict[int, float] = field(default_factory=dict)
    #: Timestamp of the reading → monotonic time its acknowledgement arrived.
    acked: dict[int, float] = field(default_factory=dict)
    #: Readings acknowledged and then lost at a kill.
    lost: set[int] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)


class ReadingPusher:
    """Pushes readings of every meter round-robin over one websocket, a few in flight."""

    def __init__(
        self, meters: list[MeterFeed], rng: random.Random, rate: float, step: int
    ) -> None:
        """Set the pace: `rate` readings a second over all meters, `step` simulated seconds apart."""
        self.meters = meters
        self.rng = rng
        self.rate = rate
        self.step = step

    def _next(self, meter: MeterFeed, now: int) -> tuple[int, float] | None:
        """Return the meter's next reading, or None when it is caught up with the clock."""
        # Catching up, readings are `step` apart; caught up, one a second at most.
        t = min(meter.next_t, now - 1)
        last = max(meter.sent, default=None)
        if last is not None and t <= last:
            return None
        elapsed = t - (last if last is not None else t - self.step)
        rise = meter.flow * elapsed / 3600 * self.rng.uniform(0.5, 1.5)
        meter.index = round(meter.index + rise, 3)
        meter.next_t = t + self.step
        return t, meter.index

    async def run(self, ws: HassWebSocket, stop: asyncio.Event) -> None:
        """Push until stopped or the connection drops."""
        window = asyncio.Semaphore(8)
        turn = 0
        while not stop.is_set() and not ws.closed.is_set():
            meter = self.meters[turn % len(self.meters)]
            turn += 1
            reading = self._next(meter, int(time.time()))
            if reading is None:
                if turn % len(self.meters) == 0:
                    await asyncio.sleep(0.2)
                continue
            await window.acquire()
            t, index = reading
            meter.sent[t] = index
            try:
                future = ws.send(
                    {
                        "type": "call_service",
                        "domain": DOMAIN,
                        "service": "record_water_reading",
                        "service_data": {
                            "meter": meter.meter_id,
                            "timestamp": datetime.fromtimestamp(t, UTC).isoformat(),
                            "index": index,
                        },
                    }
                )
            except HassConnectionLostError:
                window.release()
                return
            future.add_done_callback(self._acknowledged(meter, t, window))
            await asyncio.sleep(1 / self.rate)

    @staticmethod
    def _acknowledged(
        meter: MeterFeed, t: int, window: asyncio.Semaphore
    ) -> Callable[[asyncio.Future[Any]], None]:
        """Return the callback that notes a reading's answer."""

        def done(future: asyncio.Future[Any]) -> None:
            """Note the acknowledgement time, or the refusal."""
            window.release()
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                meter.acked[t] = time.monotonic()
            elif isinstance(error, HassCommandError):
                meter.refused.append(f"{t}: {error.error}")

        return done


@dataclass(frozen=True, slots=True)
class History:
    """A meter's stored readings: timestamp → index, and the statistics origin."""

    readings: dict[int, float]
    origin: float | None
    #: Hours before this keep only their first and last reading (by design).
    compacted_until: int = 0

    def index_at(self, t: float) -> float | None:
        """Return the index interpolated linearly between stored readings (None outside them)."""
        stamps = sorted(self.readings)
        if not stamps or not stamps[0] <= t <= stamps[-1]:
            return None
        for before, after in pairwise(stamps):
            if before <= t <= after:
                a, b = self.readings[before], self.readings[after]
                return a + (b - a) * (t - before) / (after - before)
        return self.readings[stamps[0]]


def read_histories(path: Path) -> dict[str, History]:
    """Read the meter site's stored histories (none before the first save)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    histories: dict[str, History] = {}
    for meter_id, stored in data.get("meters", {}).items():
        stamps: list[int] = []
        total = 0
        for delta in stored["t"]:
            total += int(delta)
            stamps.append(total)
        histories[meter_id] = History(
            dict(zip(stamps, (float(i) for i in stored["i"]), strict=True)),
            None if stored.get("origin") is None else float(stored["origin"]),
            int(stored.get("compacted_until", 0)),
        )
    return histories


@dataclass(frozen=True, slots=True)
class ReadingLoss:
    """What one kill cost in readings."""

    acked: int
    lost: int
    #: Seconds between the kill and the oldest / newest acknowledgement lost.
    oldest: float | None
    newest: float | None


def check_readings(
    meters: Iterable[MeterFeed],
    histories: Mapping[str, History],
    killed_at: float,
    bound: float,
) -> tuple[ReadingLoss, list[str]]:
    """Compare the stored histories with what was acknowledged before a kill at `killed_at`.

    A reading acknowledged less than `bound` seconds before the kill may be
    lost; it is then marked lost for good. Anything older must be stored.
    """
    problems: list[str] = []
    ages: list[float] = []
    acked = 0
    for meter in meters:
        history = histories.get(meter.meter_id, History({}, None))
        stored = history.readings
        for t, value in stored.items():
            if meter.sent.get(t) != value:
                problems.append(
                    f"{meter.meter_id}: stored reading {t} = {value} was never sent"
                )
        for t, when in meter.acked.items():
            if t in meter.lost:
                if t in stored:
                    problems.append(
                        f"{meter.meter_id}: reading {t} lost at an earlier kill is back"
                    )
                continue
            acked += 1
            if t in stored or t < history.compacted_until:
                continue
            age = killed_at - when
            ages.append(age)
            meter.lost.add(t)
            if age > bound:
                problems.append(
                    f"{meter.meter_id}: reading {t} acknowledged {age:.1f} s before "
                    f"the kill is not stored (bound {bound:.0f} s)"
                )
    loss = ReadingLoss(
        acked, len(ages), max(ages, default=None), min(ages, default=None)
    )
    return loss, problems


# --- the recorder's database -------------------------------------------------------


@contextlib.contextmanager
def recorder_copy(config_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open a copy of the recorder's SQLite database (with its write-ahead log) read-only."""
    source = config_dir / "home-assistant_v2.db"
    with tempfile.TemporaryDirectory(prefix="chaos-db-") as scratch:
        copy = Path(scratch) / "copy.db"
        if source.exists():
            shutil.copyfile(source, copy)
            wal = source.with_name(source.name + "-wal")
            if wal.exists():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        connection = sqlite3.connect(copy)
        try:
            yield connection
        finally:
            connection.close()


def read_statistics(
    connection: sqlite3.Connection,
) -> dict[str, list[tuple[int, float, float]]]:
    """Return every meter statistic's rows: (start, state, sum), oldest first."""
    try:
        rows = connection.execute(
            "SELECT m.statistic_id, s.start_ts, s.state, s.sum FROM statistics s "
            "JOIN statistics_meta m ON s.metadata_id = m.id "
            "WHERE m.statistic_id LIKE ? ORDER BY m.statistic_id, s.start_ts",
            (f"{DOMAIN}:water_%",),
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    statistics: dict[str, list[tuple[int, float, float]]] = {}
    for statistic_id, start, state, total in rows:
        statistics.setdefault(statistic_id, []).append(
            (round(start), float(state), float(total))
        )
    return statistics


def read_card_events(connection: sqlite3.Connection) -> list[tuple[str, int]]:
    """Return the card events the recorder stored: (event type, idx)."""
    try:
        rows = connection.execute(
            "SELECT t.event_type, d.shared_data FROM events e "
            "JOIN event_types t ON e.event_type_id = t.event_type_id "
            "LEFT JOIN event_data d ON e.data_id = d.data_id "
            "WHERE t.event_type IN (?, ?, ?)",
            CARD_EVENTS,
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [
        (event_type, int(json.loads(data)["idx"]))
        for event_type, data in rows
        if data is not None
    ]


def check_origins(
    statistics: Mapping[str, list[tuple[int, float, float]]],
) -> list[str]:
    """Every statistic's sum counts from one origin: state - sum is the same in every row."""
    problems: list[str] = []
    for statistic_id, rows in statistics.items():
        origins = [state - total for _, state, total in rows]
        low, high = min(origins), max(origins)
        if high - low > 1e-6:
            first = next(
                start
                for (start, _, _), origin in zip(rows, origins, strict=True)
                if abs(origin - origins[0]) > 1e-6
            )
            problems.append(
                f"{statistic_id}: state - sum runs from {low:.6f} to {high:.6f} "
                f"(first different at {datetime.fromtimestamp(first, UTC):%Y-%m-%d %H:%M})"
            )
    return problems


def check_statistics(
    statistics: Mapping[str, list[tuple[int, float, float]]],
    histories: Mapping[str, History],
) -> tuple[int, list[str]]:
    """Check every meter's hourly rows against its final history; return rows checked and problems.

    Each whole hour inside the history has a row; its state is the index
    interpolated at the hour's end, and its sum that index minus the origin.
    """
    problems = check_origins(statistics)
    checked = 0
    for meter_id, history in histories.items():
        statistic_id = f"{DOMAIN}:water_{meter_id}"
        rows = {
            start: (state, total)
            for start, state, total in statistics.get(statistic_id, [])
        }
        stamps = sorted(history.readings)
        if len(stamps) < 2:
            continue
        edges = range(stamps[0] + -stamps[0] % 3600, stamps[-1] + 1, 3600)
        if edges and history.origin is None:
            problems.append(f"{meter_id}: rows are due but the history has no origin")
            continue
        missing = [edge for edge in edges if edge - 3600 not in rows]
        if missing:
            problems.append(
                f"{meter_id}: {len(missing)} of {len(edges)} hours have no statistics row, "
                f"e.g. the hour ending {datetime.fromtimestamp(missing[0], UTC):%Y-%m-%d %H:%M} UTC"
            )
        for edge in edges:
            if (row := rows.get(edge - 3600)) is None:
                continue
            checked += 1
            state, total = row
            expected = history.index_at(edge)
            assert expected is not None
            assert history.origin is not None
            if (
                abs(state - expected) > 1e-6
                or abs(total - (expected - history.origin)) > 1e-6
            ):
                problems.append(
                    f"{meter_id}: hour ending {datetime.fromtimestamp(edge, UTC):%H:%M} has "
                    f"state {state:.6f} sum {total:.6f}, the history gives "
                    f"{expected:.6f} and {expected - history.origin:.6f}"
                )
    return checked, problems


# --- the run -----------------------------------------------------------------------


@dataclass(slots=True)
class RoundReport:
    """Where one kill landed and what it cost."""

    number: int
    kind: RoundKind
    seconds: float
    #: Seconds from asking for the sync (start-up rounds: from starting hass) to the kill.
    kill_after: float = 0.0
    wave: int = 0
    #: Rows of the wave applied at the kill, and of those stored but not deleted yet.
    wave_applied: int = 0
    pending: int = 0
    sync_finished: bool = False
    readings: ReadingLoss | None = None

    def line(self) -> str:
        """Return one line for the report."""
        if self.kind is RoundKind.STARTUP:
            where = f"kill {self.kill_after:.2f} s after the starting sync connected"
        elif self.kind is RoundKind.SAVED:
            where = f"kill {self.kill_after:.2f} s after the history was saved"
        elif self.sync_finished:
            where = (
                f"kill {self.kill_after:.2f} s after asking for a sync (it had ended)"
            )
        else:
            where = f"kill {self.kill_after:.2f} s into a sync"
        cards = (
            f"wave {self.wave_applied}/{self.wave} applied, {self.pending} stored "
            "but not yet deleted"
        )
        loss = self.readings
        readings = (
            f"readings {loss.lost}/{loss.acked} lost"
            + (
                f" (acknowledged {loss.newest:.1f}-{loss.oldest:.1f} s before the kill)"
                if loss.lost and loss.newest is not None and loss.oldest is not None
                else ""
            )
            if loss is not None
            else "readings -"
        )
        return (
            f"round {self.number} ({self.kind}, {self.seconds:.0f} s): {where}; "
            f"{cards}; {readings}"
        )


@dataclass(slots=True)
class ChaosReport:
    """What a run did and found."""

    settings: ChaosSettings
    rounds: list[RoundReport] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    cards_checked: int = 0
    rows_written: int = 0
    events_seen: int = 0
    events_recorded: int = 0
    readings_acked: int = 0
    readings_lost: int = 0
    statistics_rows: int = 0
    errors_logged: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def worst_loss(self) -> float | None:
        """Return the age of the oldest acknowledged reading a kill lost."""
        ages = [
            r.readings.oldest
            for r in self.rounds
            if r.readings is not None and r.readings.oldest is not None
        ]
        return max(ages, default=None)

    def format(self) -> str:
        """Return the report as text."""
        s = self.settings
        worst = self.worst_loss
        lines = [
            f"chaos: seed {s.seed}, {len(self.rounds)} kills, {self.seconds:.0f} s",
            *(f"  {r.line()}" for r in self.rounds),
            f"  cards: {self.rows_written} rows written, {self.cards_checked} cards in the final "
            f"registry checked; {self.events_seen} card events seen live, "
            f"{self.events_recorded} in the recorder",
            f"  readings: {self.readings_acked} acknowledged, {self.readings_lost} lost at kills"
            + (
                f", the oldest {worst:.1f} s before its kill (bound {SAVE_DELAY} s)"
                if worst is not None
                else ""
            ),
            f"  statistics: {self.statistics_rows} hourly rows checked",
        ]
        if self.errors_logged:
            lines.append(
                f"  errors logged by the integration: {len(self.errors_logged)}"
            )
            lines.extend(f"    {line}" for line in self.errors_logged[:10])
        lines.append(
            f"  violations: {len(self.violations)}"
            if self.violations
            else "  violations: none"
        )
        lines.extend(f"    {v}" for v in self.violations[:40])
        return "\n".join(lines)


class ChaosRun:
    """One chaos run: servers, Home Assistant, the rounds and the checks."""

    def __init__(
        self,
        settings: ChaosSettings,
        run_dir: Path,
        *,
        mariadb: MariaDbServer | None = None,
        log: Any = None,
    ) -> None:
        """Prepare; `mariadb` is a running server to use (otherwise one is started)."""
        self.settings = settings
        self.run_dir = run_dir
        self.rng = random.Random(settings.seed)
        self.home = HassProcess(
            run_dir / "config", free_port(), log_path=run_dir / "hass.log"
        )
        self._own_mariadb = mariadb is None
        self.mariadb = mariadb or MariaDbServer(
            tls=True, durable=False, base_dir=run_dir
        )
        self.database = ""
        self.db_user = ""
        self.table = CardTable(random.Random(self.rng.random()))
        self.report = ChaosReport(settings)
        self.cards_entry = ""
        self.meters_entry = ""
        # Readings start a few minutes before a whole hour: the first seconds
        # of pushing already write statistics rows.
        start = int(time.time())
        start -= int(settings.backlog_hours * 3600)
        start -= start % 3600
        meter_rng = random.Random(self.rng.random())
        self.meters = [
            MeterFeed(
                meter_id=f"chaos_{number + 1}",
                flow=meter_rng.uniform(0.05, 0.8),
                next_t=start - meter_rng.randrange(60, 900),
                index=round(meter_rng.uniform(100, 900), 3),
            )
            for number in range(settings.meters)
        ]
        self.pusher = ReadingPusher(
            self.meters,
            random.Random(self.rng.random()),
            settings.reading_rate,
            settings.step,
        )
        #: idx → every card event type seen live for it, over all sessions.
        self.events: dict[int, list[str]] = {}
        #: Seconds one row takes in a sync, measured (refined when a sync finishes).
        self.per_row = 0.002
        self._log = log or (lambda text: print(text, flush=True))

    # --- paths ---------------------------------------------------------------

    @property
    def registry_path(self) -> Path:
        """Return the card registry file."""
        return self.home.storage / f"{DOMAIN}.cards_{self.cards_entry}"

    @property
    def history_path(self) -> Path:
        """Return the meter site's history file."""
        return self.home.storage / f"{DOMAIN}.water_{self.meters_entry}"

    # --- the interface table -------------------------------------------------

    def _insert(self, rows: list[CardRow]) -> None:
        """Write rows to the interface table (blocking)."""
        connection = self.mariadb.admin(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {TABLE} (idx, card_no, user_name, io_group_id, "  # noqa: S608  # fixed table name
                    "dong_code, ho_code, issue_flag) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [tuple(row[:7]) for row in rows],
                )
        finally:
            connection.close()
        self.report.rows_written += len(rows)

    async def insert(self, count: int) -> list[CardRow]:
        """Generate and write rows."""
        rows = self.table.generate(count)
        await asyncio.to_thread(self._insert, rows)
        return rows

    def _remaining(self) -> set[int]:
        """Return the idx values still in the table (blocking)."""
        rows = self.mariadb.execute(f"SELECT idx FROM {TABLE}", database=self.database)  # noqa: S608
        return {int(row[0]) for row in rows}

    async def _trickle(self, stop: asyncio.Event) -> None:
        """Write a row now and then, as the access-control server does during the day."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1 / self.settings.trickle_rate)
            if not stop.is_set():
                await self.insert(1)

    # --- Home Assistant ---------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        """Note a card event of our entry."""
        data = event.get("data", {})
        if data.get("entry_id") == self.cards_entry:
            self.events.setdefault(int(data["idx"]), []).append(event["event_type"])

    async def _connect(self, session: aiohttp.ClientSession) -> HassWebSocket:
        """Open a websocket and follow the card events."""
        ws = await self.home.connect(session)
        for event_type in CARD_EVENTS:
            await ws.subscribe_events(event_type, self._on_event)
        return ws

    async def _call(
        self, ws: HassWebSocket, service: str, data: dict[str, Any], **extra: Any
    ) -> Any:
        """Call one of the integration's actions and wait for it."""
        return await ws.call(
            {
                "type": "call_service",
                "domain": DOMAIN,
                "service": service,
                "service_data": data,
                **extra,
            },
            timeout=300,
        )

    async def _sync(self, ws: HassWebSocket) -> dict[str, Any]:
        """Sync the cards now; learn how long a row takes."""
        result = await self._call(
            ws,
            "sync_cards",
            {"config_entry_id": self.cards_entry},
            return_response=True,
        )
        summary: dict[str, Any] = result["response"]
        if summary["rows_read"] >= 100:
            self.per_row = summary["seconds"]["total"] / summary["rows_read"]
        return summary

    async def _set_up(self, session: aiohttp.ClientSession) -> None:
        """Onboard, add the card sync and the meter site, calibrate, stop cleanly."""
        home = self.home
        home.write_config(CONFIGURATION)
        await home.start()
        await home.wait_until_up(session)
        await home.onboard(session, name="Chaos", username=USERNAME, password=PASSWORD)
        await home.wait_until_running(session)
        ca_file = self.mariadb.ca_file
        account = self.mariadb.create_account()
        self.database = account.database
        self.db_user = account.user
        await asyncio.to_thread(
            self.mariadb.execute, card_table_ddl(TABLE), database=self.database
        )
        result = await home.flow(
            session,
            "config",
            DOMAIN,
            {"next_step_id": "cards"},
            {
                "host": self.mariadb.host,
                "port": self.mariadb.port,
                "database": account.database,
                "username": account.user,
                "password": account.password,
                "table": TABLE,
                "tls": ca_file is not None,
                "tls_ca_file": str(ca_file or ""),
                "tls_verify": True,
                "scan_interval": self.settings.scan_interval,
            },
        )
        self.cards_entry = result["result"]["entry_id"]
        await home.flow(
            session,
            "options",
            self.cards_entry,
            {"next_step_id": "cards_groups"},
            {"groups": GROUPS},
        )
        result = await home.flow(
            session,
            "config",
            DOMAIN,
            {"next_step_id": "meters"},
            {"name": "Chaos complex"},
        )
        self.meters_entry = result["result"]["entry_id"]
        for meter in self.meters:
            await home.flow(
                session,
                "subentry",
                f"{self.meters_entry}/meter",
                {
                    "meter_id": meter.meter_id,
                    "name": meter.meter_id.replace("_", " ").title(),
                    "medium": "water",
                },
                {"q3": 2.5, "q4": 3.125, "source": "push"},
            )
        await self.insert(self.settings.initial_rows)
        async with await self._connect(session) as ws:
            started = time.monotonic()
            summary = await self._sync(ws)
            self._log(
                f"setup: {summary['rows_read']} rows synced in "
                f"{time.monotonic() - started:.2f} s"
            )
        code = await home.stop()
        if code != 0:
            raise RuntimeError(f"Home Assistant stopped with {code} after the setup")

    # --- rounds ---------------------------------------------------------------

    async def _round(
        self, session: aiohttp.ClientSession, number: int, kind: RoundKind
    ) -> None:
        """Run one round and check what the kill left."""
        started = time.monotonic()
        report = RoundReport(number, kind, 0.0)
        home = self.home
        wave: list[CardRow] = []
        if kind is RoundKind.STARTUP:
            wave = await self.insert(self.settings.wave_rows)
        earlier = await asyncio.to_thread(self._sync_connections)
        await home.start()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        ws: HassWebSocket | None = None
        try:
            if kind is RoundKind.STARTUP:
                # The first sync starts as the entry is set up, once it has
                # connected to the server.
                connected = await self._until_connected(earlier)
                await self._sleep_while_alive(
                    self.rng.uniform(0.0, self.per_row * len(wave))
                )
                report.kill_after = time.monotonic() - connected
            else:
                await home.wait_until_running(session)
                ws = await self._connect(session)
                tasks.append(asyncio.create_task(self.pusher.run(ws, stop)))
                tasks.append(asyncio.create_task(self._trickle(stop)))
                if kind is RoundKind.SAVED:
                    saved = await self._until_saved(self._history_stamp())
                    await self._sleep_while_alive(self.rng.uniform(0.0, 0.5))
                    report.kill_after = time.monotonic() - saved
                else:
                    await self._sleep_while_alive(
                        SAVE_DELAY + self.rng.uniform(2.0, SAVE_DELAY)
                        if kind is RoundKind.LONG
                        else self.rng.uniform(1.0, 5.0)
                    )
                    wave = await self.insert(self.settings.wave_rows)
                    delay = self.rng.uniform(0.0, self.per_row * len(wave))
                    asked = time.monotonic()
                    sync = asyncio.ensure_future(self._sync(ws))
                    await asyncio.wait({sync}, timeout=delay)
                    report.sync_finished = sync.done() and sync.exception() is None
                    report.kill_after = time.monotonic() - asked
                    sync.add_done_callback(_quietly)
            killed_at = time.monotonic()
            await home.kill()
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            if ws is not None:
                await ws.close()
            if home.running:
                await home.kill()
        report.seconds = time.monotonic() - started
        report.wave = len(wave)
        await self._check_kill(report, killed_at, {row.idx for row in wave})
        self.report.rounds.append(report)
        self._log(report.line())

    def _history_stamp(self) -> tuple[int, int] | None:
        """Return what changes when the history file is written (a new file is renamed in)."""
        try:
            stat = self.history_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    async def _until_saved(
        self, before: tuple[int, int] | None, limit: float = SAVE_DELAY + 60
    ) -> float:
        """Wait until the history file is written again; return when that was seen."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._history_stamp() != before:
                return time.monotonic()
            await self._sleep_while_alive(0.01)
        raise TimeoutError(f"the water history was not saved within {limit:.0f} s")

    def _sync_connections(self) -> set[int]:
        """Return the ids of the card sync's connections to the server (blocking)."""
        rows = self.mariadb.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s",
            (self.db_user,),
        )
        return {int(row[0]) for row in rows}

    async def _until_connected(self, earlier: set[int], limit: float = 120) -> float:
        """Wait until the card sync of the new process has connected; return when it had."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self._sync_connections) - earlier:
                return time.monotonic()
            await self._sleep_while_alive(0.02)
        raise TimeoutError(f"the card sync did not connect within {limit:.0f} s")

    async def _sleep_while_alive(self, seconds: float) -> None:
        """Sleep, failing at once if Home Assistant exits by itself."""
        process = self.home.process
        assert process is not None
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            return
        raise RuntimeError(
            f"hass exited by itself with {process.returncode}; see {self.home.log_path}"
        )

    async def _check_kill(
        self, report: RoundReport, killed_at: float, wave: set[int]
    ) -> None:
        """Check what Home Assistant left on disk at a kill."""
        remaining = await asyncio.to_thread(self._remaining)
        registry = Registry.read(self.registry_path)
        _, problems = check_cards(self.table, remaining, registry, self.events)
        applied = (set(self.table.rows) - remaining) | registry.pending
        report.wave_applied = len(wave & applied)
        report.pending = len(registry.pending & remaining)
        loss, reading_problems = check_readings(
            self.meters,
            read_histories(self.history_path),
            killed_at,
            SAVE_DELAY + WRITE_MARGIN,
        )
        report.readings = loss
        with recorder_copy(self.home.config_dir) as connection:
            origin_problems = check_origins(read_statistics(connection))
        for problem in problems + reading_problems + origin_problems:
            self.report.violations.append(f"round {report.number}: {problem}")

    async def _finish(self, session: aiohttp.ClientSession) -> None:
        """Restart, let the sync empty the table and the readings cover the gaps, stop cleanly."""
        home = self.home
        await home.start()
        await home.wait_until_running(session)
        stop = asyncio.Event()
        async with await self._connect(session) as ws:
            pusher = asyncio.create_task(self.pusher.run(ws, stop))
            try:
                await asyncio.sleep(3)
                for _ in range(10):
                    await self._sync(ws)
                    if not await asyncio.to_thread(self._remaining):
                        break
            finally:
                stop.set()
                await asyncio.wait_for(pusher, 30)
            # Every reading sent has its answer before Home Assistant stops.
            await asyncio.sleep(1)
        code = await home.stop()
        if code != 0:
            self.report.violations.append(
                f"Home Assistant stopped with {code} at the end"
            )

    def _final_checks(self) -> None:
        """Check the end state: every row applied once, every reading, every hour."""
        report = self.report
        remaining = self._remaining()
        if remaining:
            report.violations.append(
                f"{len(remaining)} rows left in the table at the end"
            )
        registry = Registry.read(self.registry_path)
        upto, problems = check_cards(self.table, remaining, registry, self.events)
        if upto != max(self.table.rows):
            problems.append(f"rows applied up to idx {upto} of {max(self.table.rows)}")
        if registry.pending:
            problems.append(f"{len(registry.pending)} pending deletes left at the end")
        report.cards_checked = len(registry.cards)
        report.events_seen = sum(len(kinds) for kinds in self.events.values())
        histories = read_histories(self.history_path)
        # The last session stopped cleanly: every reading acknowledged in it is stored.
        _, reading_problems = check_readings(
            self.meters, histories, time.monotonic(), 0.0
        )
        reading_problems += [
            f"{meter.meter_id}: refused {refusal}"
            for meter in self.meters
            for refusal in meter.refused
        ]
        report.readings_acked = sum(len(meter.acked) for meter in self.meters)
        report.readings_lost = sum(len(meter.lost) for meter in self.meters)
        with recorder_copy(self.home.config_dir) as connection:
            statistics = read_statistics(connection)
            recorded = read_card_events(connection)
        report.events_recorded = len(recorded)
        for (event_type, idx), count in Counter(recorded).items():
            if count > 1:
                problems.append(f"idx {idx} recorded {count} times as {event_type}")
        for idx in {idx for _, idx in recorded} - set(self.table.rows):
            problems.append(f"idx {idx} recorded but never written")
        checked, statistic_problems = check_statistics(statistics, histories)
        report.statistics_rows = checked
        report.violations += [
            f"end: {problem}"
            for problem in problems + reading_problems + statistic_problems
        ]
        report.errors_logged = self._errors_logged()

    def _errors_logged(self) -> list[str]:
        """Return the integration's error lines from every session's log."""
        if not self.home.log_path.exists():
            return []
        return [
            line.strip()
            for line in self.home.log_path.read_text(
                encoding="utf-8", errors="replace"
            ).splitlines()
            if (" ERROR (" in line or " CRITICAL (" in line)
            and "[custom_components.smartcity_ddc" in line
        ]

    async def run(self) -> ChaosReport:
        """Run every round and the final checks; return the report."""
        started = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self._own_mariadb:
                await asyncio.to_thread(self.mariadb.start)
            async with aiohttp.ClientSession() as session:
                await self._set_up(session)
                for number, kind in enumerate(self.settings.kinds()):
                    await self._round(session, number, kind)
                await self._finish(session)
            await asyncio.to_thread(self._final_checks)
        finally:
            if self.home.running:
                await self.home.stop()
            if self._own_mariadb:
                await asyncio.to_thread(self.mariadb.stop)
        self.report.seconds = time.monotonic() - started
        return self.report


def _quietly(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a call cut short by the kill."""
    if not future.cancelled():
        future.exception()


async def main(args: argparse.Namespace) -> int:
    """Run chaos and print the report."""
    settings = ChaosSettings.from_env(
        **{
            k: v
            for k, v in (("seed", args.seed), ("rounds", args.rounds))
            if v is not None
        }
    )
    run_dir = Path(args.run_dir).resolve()
    if run_dir.exists():
        shutil.rmtree(run_dir)
    report = await ChaosRun(settings, run_dir).run()
    print(report.format(), flush=True)
    return 1 if report.violations else 0


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--run-dir",
        default=str(Path(__file__).resolve().parents[1] / ".run" / "chaos"),
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()

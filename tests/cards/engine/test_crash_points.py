"""Interrupt a sync at every step boundary; the next round must converge to the same state.

The reference is one uninterrupted round over the same rows in a fresh table
(same idx values). Each interrupted run stops at one boundary — a crash of the
process (a new engine restarts from the store), a failure the same engine
survives, the application's connection killed, or the database server shut
down — then syncs to completion. Afterwards registry, rejected log, table and
the events announced across both runs must equal the reference exactly: no
card lost or doubled, no event lost or repeated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.smartcity_ddc.cards.engine.database import CardDatabase
from custom_components.smartcity_ddc.cards.engine.errors import CardSyncConnectionError
from custom_components.smartcity_ddc.cards.engine.sync import (
    CardEvent,
    CardSync,
    SyncStep,
)
from devtools.mariadb import MariaDbServer
from tests.cards.helpers import (
    CardTable,
    MemoryStore,
    Row,
    SimulatedCrashError,
    delete,
    issue,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 3
ROWS: tuple[Row, ...] = (
    issue("8800000001", "홍길동", "A", "101", "1203"),
    issue("8800000002", "김철수", "A", "101", "1204"),
    ("8800000003", "이영희", "A", "101", "1205", "X"),  # rejected
    issue("8800000004", "관리자", "B", "9999", "9999"),
    delete("8800000001"),
    issue("8800000002", "김철수", "B", "102", "0301"),
    ("", "빈번호", "A", "101", "1203", "I"),  # rejected
    delete("8800000404"),
    issue("8800000001", "홍길동", "A", "101", "1203"),
    issue("8800000005", "박민수", "C", "103", "0101"),
)


@dataclass
class Outcome:
    """Everything a round leaves behind."""

    document: dict[str, Any] | None
    events: list[CardEvent]
    table: list[int]
    steps: list[tuple[SyncStep, int]]


def fresh(table: CardTable) -> None:
    """Recreate the table so the rows get the same idx values every run."""
    # TRUNCATE also restarts the AUTO_INCREMENT counter.
    table.server.execute(
        "TRUNCATE TABLE t_card_issue_if", database=table.account.database
    )
    table.insert(*ROWS)


def make_engine(
    table: CardTable,
    store: MemoryStore,
    events: list[CardEvent],
    checkpoint: Callable[[SyncStep], Awaitable[None]] | None = None,
) -> CardSync:
    return CardSync(
        CardDatabase(table.settings()),
        store,
        groups={"A": "101동", "B": "관리동"},
        batch_size=BATCH,
        read_size=2,
        checkpoint=checkpoint,
        on_commit=events.extend,
        now=lambda: NOW,
    )


async def close(engine: CardSync) -> None:
    database = engine.source
    assert isinstance(database, CardDatabase)
    await database.close()


_REFERENCE: list[Outcome] = []


async def reference(table: CardTable) -> Outcome:
    """Run the uninterrupted round once; every test compares with it."""
    if not _REFERENCE:
        _REFERENCE.append(await _reference(table))
    return _REFERENCE[0]


async def _reference(table: CardTable) -> Outcome:
    fresh(table)
    store, events = MemoryStore(), []
    steps: list[tuple[SyncStep, int]] = []

    async def record(step: SyncStep) -> None:
        steps.append((step, len(steps)))

    engine = make_engine(table, store, events, record)
    await engine.sync()
    await close(engine)
    return Outcome(store.data, events, table.idxs(), steps)


def boundaries() -> list[int]:
    """Positions of the checkpoint calls in the reference round (computed once)."""
    # START, SNAPSHOT, then READ/APPLIED/PERSISTED/DELETED per batch of 3 over
    # 10 rows (4 batches), then FINISHED.
    return list(range(2 + 4 * 4 + 1))


def crash_at(
    position: int, action: Callable[[], None] | None = None
) -> Callable[[SyncStep], Awaitable[None]]:
    calls = 0

    async def checkpoint(step: SyncStep) -> None:
        nonlocal calls
        calls += 1
        if calls == position + 1:
            if action is not None:
                action()
            else:
                raise SimulatedCrashError(step)

    return checkpoint


def assert_same(outcome: Outcome, expected: Outcome) -> None:
    assert outcome.document == expected.document
    assert outcome.table == expected.table == []
    assert outcome.events == expected.events


async def test_the_reference_round_visits_every_boundary(card_table: CardTable) -> None:
    expected = await reference(card_table)
    assert [step for step, _ in expected.steps] == [
        SyncStep.START, SyncStep.SNAPSHOT,
        *[SyncStep.READ, SyncStep.APPLIED, SyncStep.PERSISTED, SyncStep.DELETED] * 4,
        SyncStep.FINISHED,
    ]  # fmt: skip
    assert len(expected.steps) == len(boundaries())
    assert expected.document is not None
    assert sorted(expected.document["cards"]) == [
        "8800000001", "8800000002", "8800000004", "8800000005",
    ]  # fmt: skip
    assert len(expected.document["rejected"]) == 2
    assert len(expected.events) == len(ROWS)


@pytest.mark.parametrize("position", boundaries())
async def test_process_crash_at_every_boundary(
    card_table: CardTable, position: int
) -> None:
    expected = await reference(card_table)
    fresh(card_table)
    store, events = MemoryStore(), []
    crashed = make_engine(card_table, store, events, crash_at(position))
    with pytest.raises(SimulatedCrashError):
        await crashed.sync()
    await close(crashed)
    # The process restarts: only what the store holds survives.
    restarted = make_engine(card_table, store, events)
    await restarted.sync()
    await close(restarted)
    assert_same(Outcome(store.data, events, card_table.idxs(), []), expected)


@pytest.mark.parametrize("position", boundaries())
async def test_failure_survived_by_the_same_engine_at_every_boundary(
    card_table: CardTable, position: int
) -> None:
    expected = await reference(card_table)
    fresh(card_table)
    store, events = MemoryStore(), []
    engine = make_engine(card_table, store, events, crash_at(position))
    with pytest.raises(SimulatedCrashError):
        await engine.sync()
    engine.checkpoint = _no_op
    await engine.sync()
    await close(engine)
    assert_same(Outcome(store.data, events, card_table.idxs(), []), expected)


@pytest.mark.parametrize("position", boundaries())
async def test_connection_killed_at_every_boundary(
    card_table: CardTable, position: int
) -> None:
    expected = await reference(card_table)
    fresh(card_table)
    store, events = MemoryStore(), []
    engine = make_engine(
        card_table, store, events, crash_at(position, card_table.kill_connections)
    )
    await engine.sync()
    await close(engine)
    assert_same(Outcome(store.data, events, card_table.idxs(), []), expected)


@pytest.mark.parametrize("position", boundaries())
async def test_server_down_at_every_boundary(
    mariadb_private: MariaDbServer, private_table: CardTable, position: int
) -> None:
    expected = await reference(private_table)
    fresh(private_table)
    store, events = MemoryStore(), []
    engine = make_engine(
        private_table, store, events, crash_at(position, mariadb_private.shutdown)
    )
    # After the last DELETED boundary no statement is left to fail.
    last_statement = len(boundaries()) - 2
    if position < last_statement:
        with pytest.raises(CardSyncConnectionError):
            await engine.sync()
    else:
        await engine.sync()
    mariadb_private.start()
    engine.checkpoint = _no_op
    await engine.sync()
    await close(engine)
    assert_same(Outcome(store.data, events, private_table.idxs(), []), expected)


@pytest.mark.parametrize("write", range(4))
async def test_crash_inside_the_write_repeats_no_event(
    card_table: CardTable, write: int
) -> None:
    """The write lands, then the process dies before the engine hears of it."""
    expected = await reference(card_table)
    fresh(card_table)
    store, events = MemoryStore(), []
    deleted = 0

    async def crash_on_next_write(step: SyncStep) -> None:
        nonlocal deleted
        if step is SyncStep.DELETED:
            deleted += 1
            store.crash_after_write = deleted == write

    store.crash_after_write = write == 0
    engine = make_engine(card_table, store, events, crash_on_next_write)
    with pytest.raises(SimulatedCrashError):
        await engine.sync()
    await close(engine)
    restarted = make_engine(card_table, store, events)
    await restarted.sync()
    await close(restarted)
    assert store.data == expected.document
    assert card_table.idxs() == []
    # The batch of the interrupted write is not announced again (events are
    # at most once); everything else is announced exactly once, in order.
    announced = {event.idx for event in events}
    assert len(announced) == len(events)
    assert announced < {event.idx for event in expected.events}
    assert [e for e in expected.events if e.idx in announced] == events


async def _no_op(step: SyncStep) -> None:
    return None

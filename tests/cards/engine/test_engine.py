"""The sync engine against a real MariaDB: batches, concurrency, malformed rows, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
import json

import pytest

from custom_components.smartcity_ddc.cards.engine.database import CardDatabase
from custom_components.smartcity_ddc.cards.engine.errors import (
    CardSyncConnectionError,
    CardSyncStoreError,
)
from custom_components.smartcity_ddc.cards.engine.model import RawRow
from custom_components.smartcity_ddc.cards.engine.sync import (
    REJECTED_LOG_LIMIT,
    CardEvent,
    CardSync,
    EventKind,
    SyncStep,
)
from devtools.mariadb import MariaDbServer
from tests.cards.helpers import CardTable, MemoryStore, delete, issue

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Engine:
    """A CardSync with its database, store and the events it published."""

    def __init__(
        self, table: CardTable, store: MemoryStore | None = None, **kwargs: object
    ) -> None:
        self.database = CardDatabase(table.settings())
        self.store = store or MemoryStore()
        self.events: list[CardEvent] = []
        kwargs.setdefault("groups", {"A": "101동 공동현관", "B": "관리동"})
        self.sync = CardSync(
            self.database,
            self.store,
            on_commit=self.events.extend,
            now=lambda: NOW,
            **kwargs,  # type: ignore[arg-type]
        )

    async def close(self) -> None:
        await self.database.close()


@pytest.fixture
async def engine(card_table: CardTable) -> AsyncIterator[Engine]:
    made = Engine(card_table, batch_size=3, read_size=2)
    yield made
    await made.close()


async def test_an_empty_table_changes_nothing(engine: Engine) -> None:
    summary = await engine.sync.sync()
    assert summary.rows_read == summary.batches == 0
    assert engine.store.saves == 0
    assert engine.events == []


async def test_mixed_issue_and_delete_rows_in_several_batches(
    engine: Engine, card_table: CardTable
) -> None:
    idxs = card_table.insert(
        issue("8800000001", "홍길동", "A", "101", "1203"),
        issue("8800000002", "김철수", "A", "101", "1204"),
        issue("8800000003", "관리자", "B", "9999", "9999"),
        delete("8800000001"),
        issue("8800000002", "김철수", "B", "102", "0301"),  # moved: an update
        delete("8800000099"),  # never registered here
        issue("8800000001", "홍길동", "A", "101", "1203"),  # issued again
    )
    summary = await engine.sync.sync()
    assert (summary.rows_read, summary.batches) == (7, 3)
    assert (summary.issued, summary.deleted, summary.rejected) == (5, 2, 0)
    assert summary.applied == 7
    assert summary.rows_deleted == 7
    assert card_table.idxs() == []
    records = engine.sync.records
    assert sorted(records) == ["8800000001", "8800000002", "8800000003"]
    assert records["8800000002"] == {
        "name": "김철수", "group": "B", "dong": "102", "ho": "0301",
        "idx": idxs[4], "updated": NOW.isoformat(),
    }  # fmt: skip
    assert records["8800000001"]["idx"] == idxs[6]
    stats = engine.sync.stats()
    assert (stats.total, stats.managers, dict(stats.by_group)) == (
        3,
        1,
        {"A": 1, "B": 2},
    )

    kinds = [(event.kind, event.idx, event.known) for event in engine.events]
    assert kinds == [
        (EventKind.ISSUED, idxs[0], False),
        (EventKind.ISSUED, idxs[1], False),
        (EventKind.ISSUED, idxs[2], False),
        (EventKind.DELETED, idxs[3], True),
        (EventKind.ISSUED, idxs[4], True),
        (EventKind.DELETED, idxs[5], False),
        (EventKind.ISSUED, idxs[6], False),
    ]
    deleted = engine.events[3]
    assert (deleted.masked_card_number, deleted.dong, deleted.ho, deleted.group) == (
        "****0001", "101", "1203", "A",
    )  # fmt: skip
    assert engine.events[2].manager
    # What was stored is what the engine holds; nothing is left pending.
    assert engine.store.data == {
        "cards": dict(records),
        "rejected": [],
        "pending": {},
    }


async def test_rows_written_during_a_sync_stay_for_the_next_round(
    card_table: CardTable,
) -> None:
    first = card_table.insert(*(issue(f"880000000{n}", f"n{n}") for n in range(4)))
    late: list[int] = []

    async def write_meanwhile(step: SyncStep) -> None:
        if step is SyncStep.APPLIED and not late:
            late.extend(
                card_table.insert(issue("8800000100", "late"), delete("8800000000"))
            )

    engine = Engine(card_table, batch_size=2, checkpoint=write_meanwhile)
    summary = await engine.sync.sync()
    assert summary.rows_read == 4
    # The rows written after the round began are untouched...
    assert card_table.idxs() == late
    assert "8800000000" in engine.sync.records
    # ...and applied by the next round.
    engine.sync.checkpoint = _no_op
    summary = await engine.sync.sync()
    assert (summary.issued, summary.deleted) == (1, 1)
    assert card_table.idxs() == []
    assert sorted(engine.sync.records) == [
        "8800000001", "8800000002", "8800000003", "8800000100",
    ]  # fmt: skip
    assert [event.idx for event in engine.events] == [*first, *late]
    await engine.close()


async def _no_op(step: SyncStep) -> None:
    return None


async def test_malformed_rows_are_logged_reported_and_removed(
    engine: Engine, card_table: CardTable, caplog: pytest.LogCaptureFixture
) -> None:
    card_table.wide = True
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    card_table.create()
    idxs = card_table.insert(
        issue("8800000001", "홍길동"),
        ("8800000002", "김철수", "A", "101", "1203", "X"),  # unknown flag
        ("", "빈번호", "A", "101", "1203", "I"),  # empty card number
        ("8800000003", "이" * 31, "A", "101", "1203", "I"),  # name too long
        ("8800000004", None, "A", "101", "1203", "I"),  # NULL name
        ("8800000005", "박", "A", "10101", "1203", "I"),  # dong too long
        issue("8800000006", "최"),
    )
    summary = await engine.sync.sync()
    assert (summary.issued, summary.rejected) == (2, 5)
    assert summary.rejected_reasons == {
        "unknown_flag": 1, "empty_card_number": 1, "too_long": 2, "missing_value": 1,
    }  # fmt: skip
    assert "5 card rows could not be applied" in caplog.text
    assert "8800000002" not in caplog.text
    assert card_table.idxs() == []
    assert sorted(engine.sync.records) == ["8800000001", "8800000006"]
    log = engine.sync.rejected
    assert [(entry["idx"], entry["reason"], entry["column"]) for entry in log] == [
        (idxs[1], "unknown_flag", "issue_flag"),
        (idxs[2], "empty_card_number", "card_no"),
        (idxs[3], "too_long", "user_name"),
        (idxs[4], "missing_value", "user_name"),
        (idxs[5], "too_long", "dong_code"),
    ]
    assert log[0]["masked"] == "****0002"
    assert log[0]["row"]["user_name"] == "김철수"  # kept locally, nothing lost
    rejected_events = [e for e in engine.events if e.kind is EventKind.REJECTED]
    assert [(e.idx, e.reason) for e in rejected_events] == [
        (entry["idx"], entry["reason"]) for entry in log
    ]
    assert len(engine.sync.unacknowledged()) == 5
    assert await engine.sync.acknowledge_rejected() == 5
    assert engine.sync.unacknowledged() == []
    assert await engine.sync.acknowledge_rejected() == 0
    assert engine.store.data is not None
    assert all(entry["acknowledged"] for entry in engine.store.data["rejected"])


async def test_the_rejected_log_is_bounded(card_table: CardTable) -> None:
    store = MemoryStore()
    old = [
        {
            "idx": n, "reason": "unknown_flag", "column": "issue_flag", "masked": None,
            "flag": None, "dong": None, "ho": None, "at": NOW.isoformat(),
            "acknowledged": n == 5, "row": {},
        }
        for n in range(REJECTED_LOG_LIMIT)
    ]  # fmt: skip
    store.data = {"cards": {}, "rejected": old, "pending": {}}
    engine = Engine(card_table, store)
    card_table.insert(("8800000001", "n", "A", "101", "1203", "X"))
    card_table.insert(("8800000002", "n", "A", "101", "1203", "X"))
    await engine.sync.sync()
    log = engine.sync.rejected
    assert len(log) == REJECTED_LOG_LIMIT
    # The acknowledged entry went first, then the oldest.
    assert [entry["idx"] for entry in log[:2]] == [1, 2]
    assert 5 not in [entry["idx"] for entry in log]
    await engine.close()


async def test_unknown_group_codes_are_reported(
    engine: Engine, card_table: CardTable
) -> None:
    card_table.insert(issue("8800000001", "n", "C"), issue("8800000002", "n", "A"))
    summary = await engine.sync.sync()
    assert summary.unknown_groups == ["C"]
    assert engine.sync.unknown_groups() == {"C": 1}


async def test_filters_by_dong_ho_and_group_code_or_name(
    engine: Engine, card_table: CardTable
) -> None:
    card_table.insert(
        issue("8800000001", "a", "A", "101", "1203"),
        issue("8800000002", "b", "B", "101", "1204"),
        issue("8800000003", "c", "A", "102", "1203"),
    )
    await engine.sync.sync()
    assert [c.card_no for c in engine.sync.cards(dong="101")] == [
        "8800000001",
        "8800000002",
    ]
    assert [c.card_no for c in engine.sync.cards(ho="1203")] == [
        "8800000001",
        "8800000003",
    ]
    assert [c.card_no for c in engine.sync.cards(group="A")] == [
        "8800000001",
        "8800000003",
    ]
    assert [c.card_no for c in engine.sync.cards(group="관리동")] == ["8800000002"]
    card = engine.sync.cards(dong="102")[0]
    assert (card.masked_card_number, card.manager) == ("****0003", False)
    assert "8800000003" not in repr(card)


async def test_a_failed_write_deletes_nothing_and_the_next_round_recovers(
    engine: Engine, card_table: CardTable
) -> None:
    card_table.insert(issue("8800000001", "a"), issue("8800000002", "b"))
    engine.store.fail_next = True
    with pytest.raises(CardSyncStoreError):
        await engine.sync.sync()
    assert len(card_table.idxs()) == 2
    assert engine.events == []
    assert engine.sync.records == {}
    summary = await engine.sync.sync()
    assert summary.issued == 2
    assert card_table.idxs() == []
    assert len(engine.events) == 2


async def test_a_listener_that_fails_does_not_undo_the_batch(
    engine: Engine, card_table: CardTable, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(events: list[CardEvent]) -> None:
        raise RuntimeError("listener bug")

    engine.sync.on_commit = broken
    card_table.insert(issue("8800000001", "a"))
    summary = await engine.sync.sync()
    assert summary.issued == 1
    assert card_table.idxs() == []
    assert "Card event listener failed" in caplog.text


async def test_state_is_reloaded_from_the_store(
    engine: Engine, card_table: CardTable
) -> None:
    card_table.insert(issue("8800000001", "a"), ("8800000002", "n", "A", "1", "1", "X"))
    await engine.sync.sync()
    again = Engine(card_table, engine.store)
    await again.sync.load()
    assert dict(again.sync.records) == dict(engine.sync.records)
    assert list(again.sync.rejected) == list(engine.sync.rejected)
    await again.close()


async def test_a_new_row_under_a_pending_idx_is_applied(
    card_table: CardTable,
) -> None:
    # A crash left idx 1 pending; then the server's counter restarted (MySQL 5.x
    # after a restart with an empty table) and a different row took idx 1.
    store = MemoryStore()
    store.data = {
        "cards": {}, "rejected": [], "pending": {"1": "0000000000000000", "77": "ffff"},
    }  # fmt: skip
    engine = Engine(card_table, store)
    assert card_table.insert(issue("8800000001", "a")) == [1]
    summary = await engine.sync.sync()
    assert (summary.issued, summary.already_applied) == (1, 0)
    assert "8800000001" in engine.sync.records
    # idx 77 was deleted by the crashed round after all: forgotten at the end.
    assert engine.sync.pending == {}
    assert engine.store.data is not None
    assert engine.store.data["pending"] == {}
    await engine.close()


async def test_a_killed_connection_mid_sync_is_retried(
    card_table: CardTable,
) -> None:
    card_table.insert(*(issue(f"880000000{n}", f"n{n}") for n in range(6)))
    kills: list[int] = []

    async def kill(step: SyncStep) -> None:
        if step in (SyncStep.READ, SyncStep.PERSISTED):
            kills.append(card_table.kill_connections())

    engine = Engine(card_table, batch_size=2, checkpoint=kill)
    summary = await engine.sync.sync()
    assert summary.issued == 6
    assert card_table.idxs() == []
    assert sum(kills) >= 3
    assert engine.database.stats.retries >= 3
    await engine.close()


async def test_the_server_going_away_mid_sync_and_coming_back(
    mariadb_private: MariaDbServer, private_table: CardTable
) -> None:
    card_table = private_table
    card_table.insert(*(issue(f"880000000{n}", f"n{n}") for n in range(4)))

    async def stop_after_first_write(step: SyncStep) -> None:
        if step is SyncStep.PERSISTED:
            mariadb_private.shutdown()

    engine = Engine(card_table, batch_size=2, checkpoint=stop_after_first_write)
    with pytest.raises(CardSyncConnectionError):
        await engine.sync.sync()
    # The first batch is stored and announced, its rows still in the table.
    assert len(engine.sync.records) == 2
    assert len(engine.sync.pending) == 2
    assert len(engine.events) == 2
    with pytest.raises(CardSyncConnectionError):
        await engine.sync.sync()

    mariadb_private.start()
    engine.sync.checkpoint = _no_op
    summary = await engine.sync.sync()
    assert (summary.already_applied, summary.issued) == (2, 2)
    assert card_table.idxs() == []
    assert len(engine.sync.records) == 4
    assert [event.idx for event in engine.events] == [1, 2, 3, 4]
    assert engine.sync.pending == {}
    await engine.close()


def test_batch_size_must_be_positive(card_table: CardTable) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        CardSync(CardDatabase(card_table.settings()), MemoryStore(), batch_size=0)
    with pytest.raises(ValueError, match="read_size"):
        CardSync(CardDatabase(card_table.settings()), MemoryStore(), read_size=0)


async def test_acknowledging_loads_the_stored_log_first(card_table: CardTable) -> None:
    store = MemoryStore()
    store.data = {
        "cards": {},
        "pending": {},
        "rejected": [
            {
                "idx": 1, "reason": "unknown_flag", "column": "issue_flag", "masked": None,
                "flag": None, "dong": None, "ho": None, "at": NOW.isoformat(),
                "acknowledged": False,
            }
        ],
    }  # fmt: skip
    engine = Engine(card_table, store)
    assert await engine.sync.acknowledge_rejected() == 1
    assert store.data["rejected"][0]["acknowledged"] is True
    await engine.close()


async def test_a_large_batch_lets_other_tasks_run(card_table: CardTable) -> None:
    card_table.server.execute(
        "INSERT INTO t_card_issue_if (card_no, user_name, io_group_id, dong_code, ho_code, "
        "issue_flag) SELECT 8800000000 + seq, 'n', 'A', '101', '1203', 'I' FROM seq_1_to_250",
        database=card_table.account.database,
    )
    ticks = 0
    seen: dict[SyncStep, int] = {}

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def note(step: SyncStep) -> None:
        seen.setdefault(step, ticks)

    engine = Engine(card_table, batch_size=250, checkpoint=note)
    ticker = asyncio.create_task(tick())
    summary = await engine.sync.sync()
    ticker.cancel()
    await asyncio.gather(ticker, return_exceptions=True)
    assert summary.issued == 250
    # Applying 250 rows yielded to the loop (every 100 rows) in between.
    assert seen[SyncStep.APPLIED] - seen[SyncStep.READ] >= 2
    assert repr(RawRow(5, (b"8800000001",))) == "RawRow(idx=5)"
    await engine.close()


async def test_card_numbers_are_one_card_in_either_case(
    engine: Engine, card_table: CardTable
) -> None:
    idxs = card_table.insert(
        issue("04a1b2c3d4e5f6", "홍길동"),
        issue("88ab-0001", "김철수"),
        delete("04A1B2C3D4E5F6"),
        issue("88AB-0001", "김철수", "B"),
    )
    summary = await engine.sync.sync()
    assert (summary.issued, summary.deleted) == (3, 1)
    # One registered card, kept in upper case, updated by the second spelling.
    assert dict(engine.sync.records) == {
        "88AB-0001": {
            "name": "김철수", "group": "B", "dong": "101", "ho": "1203",
            "idx": idxs[3], "updated": NOW.isoformat(),
        }
    }  # fmt: skip
    deleted = [e for e in engine.events if e.kind is EventKind.DELETED]
    assert [(e.masked_card_number, e.known) for e in deleted] == [("****E5F6", True)]
    replaced = [e.known for e in engine.events if e.kind is EventKind.ISSUED]
    assert replaced == [False, False, True]


async def test_a_registry_with_both_spellings_is_merged_on_load(
    card_table: CardTable,
) -> None:
    def record(idx: int, name: str) -> dict[str, object]:
        return {
            "name": name, "group": "A", "dong": "101", "ho": "1203",
            "idx": idx, "updated": NOW.isoformat(),
        }  # fmt: skip

    store = MemoryStore()
    store.data = {
        "cards": {
            "04a1b2c3": record(9, "later"),
            "04A1B2C3": record(3, "earlier"),
            "88000001": record(5, "digits"),
        },
        "rejected": [],
        "pending": {},
    }
    engine = Engine(card_table, store)
    await engine.sync.load()
    assert sorted(engine.sync.records) == ["04A1B2C3", "88000001"]
    assert engine.sync.records["04A1B2C3"]["name"] == "later"
    card_table.insert(delete("04a1b2c3"))
    summary = await engine.sync.sync()
    assert summary.deleted == 1
    assert sorted(engine.sync.records) == ["88000001"]
    assert engine.store.data is not None
    assert sorted(engine.store.data["cards"]) == ["88000001"]
    await engine.close()


async def test_junk_rows_keep_a_bounded_registry(
    engine: Engine, card_table: CardTable
) -> None:
    database = card_table.account.database
    card_table.server.execute(
        "ALTER TABLE t_card_issue_if MODIFY card_no TEXT, MODIFY user_name TEXT, "
        "MODIFY dong_code TEXT",
        database=database,
    )
    # 200 rows of 64 KB columns, as a broken export would write them.
    card_table.server.execute(
        "INSERT INTO t_card_issue_if (card_no, user_name, io_group_id, dong_code, "
        "ho_code, issue_flag) SELECT CONCAT(seq, REPEAT('9', 65530)), "
        "REPEAT('가', 21845), 'A', REPEAT('1', 65535), '1203', 'I' FROM seq_1_to_200",
        database=database,
    )
    card_table.insert(issue("8800000001", "홍길동"))
    sizes: list[int] = []
    store_save = engine.store.save

    async def measured_save(data: dict[str, object]) -> None:
        sizes.append(len(json.dumps(data, ensure_ascii=False).encode()))
        await store_save(data)

    engine.store.save = measured_save  # type: ignore[method-assign]
    summary = await engine.sync.sync()
    assert (summary.rejected, summary.issued) == (200, 1)
    assert card_table.idxs() == []
    # Each write of the registry stays small (unbounded: about 39 MB).
    assert max(sizes) < 200_000, sizes
    first = engine.sync.rejected[0]
    assert first["reason"] == "too_long"
    kept = first["row"]["card_no"]
    assert kept is not None
    assert kept.startswith("1" + "9" * 63 + "… [65531 bytes, blake2b ")
    assert len(kept) < 120
    assert first["row"]["ho_code"] == "1203"
    # Rows that differ only past the kept part still differ in the log.
    assert len({entry["row"]["card_no"] for entry in engine.sync.rejected}) == 200


async def test_a_bloated_stored_log_is_cut_on_load(card_table: CardTable) -> None:
    store = MemoryStore()
    store.data = {
        "cards": {},
        "rejected": [
            {
                "idx": n, "reason": "too_long", "column": "card_no", "masked": None,
                "flag": "I", "dong": None, "ho": None, "at": NOW.isoformat(),
                "acknowledged": False, "row": {"card_no": "x" * 65536, "ho_code": "1203"},
            }
            for n in range(REJECTED_LOG_LIMIT + 100)
        ],
        "pending": {},
    }  # fmt: skip
    engine = Engine(card_table, store)
    await engine.sync.load()
    log = engine.sync.rejected
    assert len(log) == REJECTED_LOG_LIMIT
    assert log[0]["idx"] == 100
    assert all(len(entry["row"]["card_no"] or "") < 120 for entry in log)
    assert log[0]["row"]["ho_code"] == "1203"
    card_table.insert(issue("8800000001", "a"))
    await engine.sync.sync()
    assert engine.store.data is not None
    assert len(json.dumps(engine.store.data)) < 200_000
    await engine.close()

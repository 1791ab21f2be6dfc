"""The sync: apply the interface table's rows to the local card registry, crash-safely.

One round, for rows up to the highest idx present when it starts (rows written
while it runs stay for the next round):

1. read a batch of rows in idx order (in several small SELECTs);
2. apply it to a working copy of the registry (``I`` registers or updates a
   card, ``D`` removes it; a malformed row goes to the rejected log);
3. persist registry, rejected log and the batch's idx values ("pending
   deletes") in one atomic write, then publish the batch's events;
4. delete exactly those idx values from the table, and forget them.

A crash or lost connection between any two steps leaves a state the next
round converges from: before step 3 nothing is durable and the rows are still
in the table, so they are applied again; after it, the rows that are still in
the table are recognised by idx and fingerprint as already applied, so they
are only deleted — never applied or announced twice. Events are published
right after the write returns, with no await in between, so they are never
repeated; a process killed in that instant loses them (at most once).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import logging
import time
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol

from .errors import CardSyncError, CardSyncStoreError
from .model import (
    CardChange,
    CardRecord,
    Flag,
    RawRow,
    RejectedRecord,
    Rejection,
    bounded_raw_value,
    canonical_card_number,
    is_manager,
    mask_card_number,
    validate_row,
)

_LOGGER = logging.getLogger(__name__)

#: Rows applied, stored and deleted together.
DEFAULT_BATCH_SIZE: Final = 500
#: Rows read by one SELECT.
DEFAULT_READ_SIZE: Final = 100
#: Rows applied between two yields to the event loop, so a batch never stalls it.
APPLY_SLICE: Final = 100
#: The rejected log keeps this many rows; the oldest acknowledged ones go first.
#: With raw values cut to RAW_VALUE_KEEP characters, the log stays under about
#: 600 kB however large the junk rows were.
REJECTED_LOG_LIMIT: Final = 500
STORE_VERSION: Final = 1


class SyncStep(StrEnum):
    """The boundaries of a round, where a checkpoint hook runs."""

    START = "start"
    SNAPSHOT = "snapshot"
    READ = "read"
    APPLIED = "applied"
    PERSISTED = "persisted"
    DELETED = "deleted"
    FINISHED = "finished"


type Checkpoint = Callable[[SyncStep], Awaitable[None]]


class SyncStore(Protocol):
    """Durable storage of the engine's state (one JSON-able document)."""

    async def load(self) -> Mapping[str, Any] | None:
        """Return the stored document, or None when nothing was stored yet."""

    async def save(self, data: dict[str, Any]) -> None:
        """Write the document atomically; raise when it was not written."""


class CardSource(Protocol):
    """The interface table (CardDatabase)."""

    async def max_idx(self) -> int | None:
        """Return the highest idx in the table."""

    async def fetch(self, after: int | None, upto: int, limit: int) -> list[RawRow]:
        """Return rows with after < idx <= upto in idx order."""

    async def delete(self, idxs: Sequence[int]) -> int:
        """Delete exactly these idx values."""


class EventKind(StrEnum):
    """What happened to a row."""

    ISSUED = "issued"
    DELETED = "deleted"
    REJECTED = "rejected"


class CardEvent(NamedTuple):
    """One applied or rejected row, without personal data (masked number only)."""

    kind: EventKind
    idx: int
    masked_card_number: str | None
    dong: str | None
    ho: str | None
    group: str | None
    manager: bool = False
    #: ISSUED: the card was registered before; DELETED: it was registered.
    known: bool = False
    reason: str | None = None
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Card:
    """A registered card as handed to callers."""

    card_no: str = field(repr=False)
    name: str = field(repr=False)
    group: str
    dong: str
    ho: str
    idx: int
    updated: str

    @property
    def masked_card_number(self) -> str:
        """Return the card number with all but its last digits hidden."""
        return mask_card_number(self.card_no)

    @property
    def manager(self) -> bool:
        """Return True for a site manager's card."""
        return is_manager(self.dong, self.ho)


@dataclass(frozen=True, slots=True)
class RegistryStats:
    """Counts over the registry, without personal data."""

    total: int
    managers: int
    by_group: Mapping[str, int]


@dataclass(slots=True)
class SyncSummary:
    """What one round did."""

    rows_read: int = 0
    issued: int = 0
    deleted: int = 0
    rejected: int = 0
    already_applied: int = 0
    rows_deleted: int = 0
    batches: int = 0
    unknown_groups: list[str] = field(default_factory=list)
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    read_seconds: float = 0.0
    apply_seconds: float = 0.0
    persist_seconds: float = 0.0
    delete_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def applied(self) -> int:
        """Return the rows applied to the registry (issued and deleted)."""
        return self.issued + self.deleted

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data."""
        return {
            "rows_read": self.rows_read,
            "applied": self.applied,
            "issued": self.issued,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "already_applied": self.already_applied,
            "rows_deleted": self.rows_deleted,
            "batches": self.batches,
            "unknown_groups": list(self.unknown_groups),
            "rejected_reasons": dict(self.rejected_reasons),
            "seconds": {
                "read": round(self.read_seconds, 4),
                "apply": round(self.apply_seconds, 4),
                "persist": round(self.persist_seconds, 4),
                "delete": round(self.delete_seconds, 4),
                "total": round(self.total_seconds, 4),
            },
        }


@dataclass(slots=True)
class _Batch:
    """A batch applied to working copies, not yet durable."""

    cards: dict[str, CardRecord]
    rejected: list[RejectedRecord]
    pending: dict[int, str]
    events: list[CardEvent]
    delete: list[int]
    changed: bool = False


def _canonical_cards(stored: Mapping[str, CardRecord]) -> dict[str, CardRecord]:
    """Key a stored registry by canonical card numbers (registries before 2026-12 were not)."""
    cards: dict[str, CardRecord] = {}
    # Two spellings of one card: the later issue (higher idx) is the card.
    for card_no, record in sorted(stored.items(), key=lambda item: item[1]["idx"]):
        cards[canonical_card_number(card_no)] = record
    return cards


def _bounded_rejected(stored: Sequence[RejectedRecord]) -> list[RejectedRecord]:
    """Cut a stored rejected log's raw values and length to today's bounds."""
    rejected: list[RejectedRecord] = []
    for entry in stored:
        bounded: RejectedRecord = {**entry}
        if "row" in entry:
            bounded["row"] = {
                column: bounded_raw_value(value)
                for column, value in entry["row"].items()
            }
        rejected.append(bounded)
    _trim_rejected(rejected)
    return rejected


def _trim_rejected(rejected: list[RejectedRecord]) -> None:
    """Drop entries beyond REJECTED_LOG_LIMIT: acknowledged ones first, then the oldest."""
    while len(rejected) > REJECTED_LOG_LIMIT:
        drop = next(
            (
                position
                for position, entry in enumerate(rejected)
                if entry["acknowledged"]
            ),
            0,
        )
        del rejected[drop]


async def _no_checkpoint(step: SyncStep) -> None:
    """Do nothing at a step boundary."""


def _utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class CardSync:
    """Keeps the local card registry in step with the interface table."""

    def __init__(
        self,
        source: CardSource,
        store: SyncStore,
        *,
        groups: Mapping[str, str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        read_size: int = DEFAULT_READ_SIZE,
        checkpoint: Checkpoint | None = None,
        on_commit: Callable[[list[CardEvent]], None] | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Set up the engine; call load() before anything else."""
        if batch_size < 1 or read_size < 1:
            raise ValueError("batch_size and read_size must be at least 1")
        self.source = source
        self.store = store
        self.groups: Mapping[str, str] = dict(groups or {})
        self.batch_size = batch_size
        self.read_size = read_size
        self.checkpoint: Checkpoint = checkpoint or _no_checkpoint
        self.on_commit = on_commit
        self._now = now
        self._lock = asyncio.Lock()
        self._loaded = False
        self._cards: dict[str, CardRecord] = {}
        self._rejected: list[RejectedRecord] = []
        self._pending: dict[int, str] = {}
        self._stored_pending: dict[int, str] = {}

    # --- state ---------------------------------------------------------------
    async def load(self) -> None:
        """Read the stored registry, rejected log and pending deletes."""
        async with self._lock:
            await self._load()

    async def _load(self) -> None:
        """Read the stored state (lock held)."""
        data = await self.store.load()
        if data is not None:
            self._cards = _canonical_cards(data.get("cards", {}))
            self._rejected = _bounded_rejected(data.get("rejected", []))
            self._pending = {
                int(idx): str(fp) for idx, fp in data.get("pending", {}).items()
            }
        self._stored_pending = dict(self._pending)
        self._loaded = True

    @property
    def records(self) -> Mapping[str, CardRecord]:
        """Return the registry, card number to record (read-only)."""
        return MappingProxyType(self._cards)

    @property
    def rejected(self) -> Sequence[RejectedRecord]:
        """Return the rejected log, oldest first."""
        return tuple(self._rejected)

    @property
    def pending(self) -> Mapping[int, str]:
        """Return idx values applied but not yet known to be deleted from the table."""
        return MappingProxyType(self._pending)

    def unacknowledged(self) -> list[RejectedRecord]:
        """Return the rejected rows nobody has acknowledged yet."""
        return [entry for entry in self._rejected if not entry["acknowledged"]]

    def stats(self) -> RegistryStats:
        """Count the registered cards, in total, managers, and per group code."""
        groups: Counter[str] = Counter()
        managers = 0
        for record in self._cards.values():
            groups[record["group"]] += 1
            if is_manager(record["dong"], record["ho"]):
                managers += 1
        return RegistryStats(
            total=len(self._cards), managers=managers, by_group=dict(groups)
        )

    def unknown_groups(self) -> dict[str, int]:
        """Return group codes of registered cards that have no name, with their counts."""
        counts = self.stats().by_group
        return {
            code: count
            for code, count in sorted(counts.items())
            if code not in self.groups
        }

    def cards(
        self,
        *,
        dong: str | None = None,
        ho: str | None = None,
        group: str | None = None,
    ) -> list[Card]:
        """Return the registered cards, filtered; group matches a code or its name."""
        codes: set[str] | None = None
        if group is not None:
            codes = {group} | {
                code for code, name in self.groups.items() if name == group
            }
        found = [
            Card(card_no=card_no, **record)
            for card_no, record in self._cards.items()
            if (dong is None or record["dong"] == dong)
            and (ho is None or record["ho"] == ho)
            and (codes is None or record["group"] in codes)
        ]
        found.sort(key=lambda card: (card.dong, card.ho, card.idx))
        return found

    def _document(
        self,
        cards: dict[str, CardRecord],
        rejected: list[RejectedRecord],
        pending: dict[int, str],
    ) -> dict[str, Any]:
        """Return the document to store."""
        return {
            "cards": cards,
            "rejected": rejected,
            "pending": {str(idx): fp for idx, fp in pending.items()},
        }

    async def _save(
        self,
        cards: dict[str, CardRecord],
        rejected: list[RejectedRecord],
        pending: dict[int, str],
    ) -> None:
        """Write the state; a failed write becomes CardSyncStoreError."""
        try:
            await self.store.save(self._document(cards, rejected, pending))
        except CardSyncError:
            raise
        except Exception as err:
            raise CardSyncStoreError(
                f"the card registry could not be stored: {type(err).__name__}"
            ) from err
        self._stored_pending = dict(pending)

    async def acknowledge_rejected(self) -> int:
        """Mark every rejected row as seen; return how many were new."""
        async with self._lock:
            if not self._loaded:
                await self._load()
            fresh = sum(not entry["acknowledged"] for entry in self._rejected)
            if fresh:
                rejected: list[RejectedRecord] = [
                    {**entry, "acknowledged": True} for entry in self._rejected
                ]
                await self._save(self._cards, rejected, self._pending)
                self._rejected = rejected
            return fresh

    # --- the round -----------------------------------------------------------
    async def sync(self) -> SyncSummary:
        """Run one round; raise CardSyncError when the table or the store fails."""
        async with self._lock:
            started = time.perf_counter()
            if not self._loaded:
                await self._load()
            summary = SyncSummary()
            unknown: set[str] = set()
            try:
                await self._round(summary, unknown)
            finally:
                summary.unknown_groups = sorted(unknown)
                summary.total_seconds = time.perf_counter() - started
            if summary.rejected:
                _LOGGER.warning(
                    "%d card rows could not be applied and went to the rejected log: %s",
                    summary.rejected,
                    ", ".join(
                        f"{reason} ({count})"
                        for reason, count in sorted(summary.rejected_reasons.items())
                    ),
                )
            _LOGGER.debug(
                "Card sync: %d rows read, %d issued, %d deleted, %d rejected, "
                "%d already applied, in %.3f s",
                summary.rows_read,
                summary.issued,
                summary.deleted,
                summary.rejected,
                summary.already_applied,
                summary.total_seconds,
            )
            return summary

    async def _round(self, summary: SyncSummary, unknown: set[str]) -> None:
        """Read, apply, persist and delete batch by batch (lock held)."""
        await self.checkpoint(SyncStep.START)
        clock = time.perf_counter
        mark = clock()
        upto = await self.source.max_idx()
        summary.read_seconds += clock() - mark
        await self.checkpoint(SyncStep.SNAPSHOT)
        # Pending idx values not met again by the end of a full round were
        # deleted by an earlier round after its last write.
        unseen = set(self._pending)
        if upto is not None:
            await self._batches(upto, unseen, summary, unknown)

        for idx in unseen:
            self._pending.pop(idx, None)
        if self._pending != self._stored_pending:
            mark = clock()
            await self._save(self._cards, self._rejected, self._pending)
            summary.persist_seconds += clock() - mark
            await self.checkpoint(SyncStep.FINISHED)

    async def _batches(
        self, upto: int, unseen: set[int], summary: SyncSummary, unknown: set[str]
    ) -> None:
        """Read, apply, persist and delete batch by batch up to idx upto."""
        clock = time.perf_counter
        after: int | None = None
        exhausted = False
        while not exhausted:
            mark = clock()
            rows, exhausted = await self._read_batch(after, upto)
            summary.read_seconds += clock() - mark
            await self.checkpoint(SyncStep.READ)
            if not rows:
                break
            summary.batches += 1
            summary.rows_read += len(rows)
            after = rows[-1].idx

            mark = clock()
            batch = await self._apply(rows, unseen, summary, unknown)
            summary.apply_seconds += clock() - mark
            await self.checkpoint(SyncStep.APPLIED)

            if batch.changed:
                mark = clock()
                await self._save(batch.cards, batch.rejected, batch.pending)
                summary.persist_seconds += clock() - mark
                self._cards = batch.cards
                self._rejected = batch.rejected
                self._pending = batch.pending
                # Published at once after the write, with no await in between.
                self._publish(batch.events)
                await self.checkpoint(SyncStep.PERSISTED)

            if batch.delete:
                mark = clock()
                summary.rows_deleted += await self.source.delete(batch.delete)
                summary.delete_seconds += clock() - mark
                for idx in batch.delete:
                    self._pending.pop(idx, None)
                await self.checkpoint(SyncStep.DELETED)

    async def _read_batch(
        self, after: int | None, upto: int
    ) -> tuple[list[RawRow], bool]:
        """Read one batch in statements of read_size rows; tell whether the table ran out."""
        # aiomysql decodes a whole result set without yielding to the event
        # loop: small statements keep each pause short.
        rows: list[RawRow] = []
        while len(rows) < self.batch_size:
            wanted = min(self.read_size, self.batch_size - len(rows))
            chunk = await self.source.fetch(after, upto, wanted)
            rows.extend(chunk)
            if len(chunk) < wanted:
                return rows, True
            after = chunk[-1].idx
        return rows, False

    def _publish(self, events: list[CardEvent]) -> None:
        """Hand the events of a durable batch to the listener."""
        if events and self.on_commit is not None:
            try:
                self.on_commit(events)
            except Exception:
                # A failing listener must not undo a durable batch.
                _LOGGER.exception("Card event listener failed")

    async def _apply(
        self,
        rows: list[RawRow],
        unseen: set[int],
        summary: SyncSummary,
        unknown: set[str],
    ) -> _Batch:
        """Apply a batch to working copies of the state, yielding to the loop now and then."""
        # Only working copies change here and the lock keeps every other
        # operation of the engine out, so yielding midway is safe.
        batch = _Batch(
            cards=dict(self._cards),
            rejected=list(self._rejected),
            pending=dict(self._pending),
            events=[],
            delete=[],
        )
        now = self._now().isoformat()
        for position, row in enumerate(rows):
            if position and not position % APPLY_SLICE:
                await asyncio.sleep(0)
            fingerprint = row.fingerprint()
            batch.delete.append(row.idx)
            if batch.pending.get(row.idx) == fingerprint:
                # Applied and stored by an earlier round that did not get to
                # delete it: only the delete is left to do.
                unseen.discard(row.idx)
                summary.already_applied += 1
                continue
            # A different row under a pending idx: the server's counter
            # restarted (MySQL 5.x after a restart with an empty table).
            unseen.discard(row.idx)
            batch.pending[row.idx] = fingerprint
            batch.changed = True
            result = validate_row(row)
            if isinstance(result, Rejection):
                self._reject(batch, result, now)
                summary.rejected += 1
                reasons = summary.rejected_reasons
                reasons[result.reason.value] = reasons.get(result.reason.value, 0) + 1
            elif result.flag is Flag.ISSUE:
                self._issue(batch, result, now)
                summary.issued += 1
                if result.group not in self.groups:
                    unknown.add(str(result.group))
            else:
                self._delete(batch, result)
                summary.deleted += 1
        return batch

    def _issue(self, batch: _Batch, change: CardChange, now: str) -> None:
        """Register or update a card."""
        known = change.card_no in batch.cards
        record: CardRecord = {
            "name": change.name or "",
            "group": change.group or "",
            "dong": change.dong or "",
            "ho": change.ho or "",
            "idx": change.idx,
            "updated": now,
        }
        batch.cards[change.card_no] = record
        batch.events.append(
            CardEvent(
                kind=EventKind.ISSUED,
                idx=change.idx,
                masked_card_number=mask_card_number(change.card_no),
                dong=record["dong"],
                ho=record["ho"],
                group=record["group"],
                manager=is_manager(record["dong"], record["ho"]),
                known=known,
            )
        )

    def _delete(self, batch: _Batch, change: CardChange) -> None:
        """Remove a card; label the event with what the registry knew of it."""
        old = batch.cards.pop(change.card_no, None)
        dong = old["dong"] if old else change.dong
        ho = old["ho"] if old else change.ho
        batch.events.append(
            CardEvent(
                kind=EventKind.DELETED,
                idx=change.idx,
                masked_card_number=mask_card_number(change.card_no),
                dong=dong,
                ho=ho,
                group=old["group"] if old else change.group,
                manager=is_manager(dong, ho),
                known=old is not None,
            )
        )

    def _reject(self, batch: _Batch, rejection: Rejection, now: str) -> None:
        """Keep a malformed row in the rejected log."""
        _LOGGER.debug(
            "Card row idx %d rejected: %s (column %s, card %s)",
            rejection.idx,
            rejection.reason,
            rejection.column,
            rejection.masked_card_number or "-",
        )
        batch.rejected.append(
            {
                "idx": rejection.idx,
                "reason": rejection.reason.value,
                "column": rejection.column,
                "masked": rejection.masked_card_number,
                "flag": rejection.flag,
                "dong": rejection.dong,
                "ho": rejection.ho,
                "at": now,
                "acknowledged": False,
                "row": rejection.row,
            }
        )
        _trim_rejected(batch.rejected)
        batch.events.append(
            CardEvent(
                kind=EventKind.REJECTED,
                idx=rejection.idx,
                masked_card_number=rejection.masked_card_number,
                dong=rejection.dong,
                ho=rejection.ho,
                group=None,
                reason=rejection.reason.value,
                column=rejection.column,
            )
        )

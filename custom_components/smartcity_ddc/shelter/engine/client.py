"""Async Modbus client for Sungil DDCs: planned polls and confirmed writes over a shared line."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import time
import itertools
import logging
import math
import time as _time
from typing import TYPE_CHECKING, Final

from ...line import (
    DEFAULT_WIRE,
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    MAX_READ,
    LineDeviceError,
    LineError,
    ModbusLine,
    Priority,
    ReadRequest,
    RegisterKind,
    RegisterRef,
    WireModel,
)
from .codec import Value, encode
from .errors import DdcNotWritableError, DdcPowerRuleError, DdcWriteNotConfirmedError
from .planner import plan_reads
from .profile import Key, Point, Profile, Unit, WindowField
from .state import Snapshot, decode_point, decode_snapshot, unit_registers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class PollStats:
    """What polling one DDC has cost so far."""

    polls: int = 0
    full_polls: int = 0
    failed_polls: int = 0
    requests: int = 0
    registers: int = 0
    last_requests: int = 0
    last_registers: int = 0
    last_duration: float = 0.0
    last_plan: tuple[ReadRequest, ...] = ()
    bad_gaps: list[tuple[str, int, int]] = field(default_factory=list)


def _spans(points: Iterable[Point]) -> list[tuple[RegisterRef, int]]:
    """Return the (first register, length) span of every readable point."""
    return [
        (point.read, point.value_type.words)
        for point in points
        if point.read is not None
    ]


def _values_equal(point: Point, expected: Value, actual: Value | None) -> bool:
    """Compare a written and a read-back value at the point's resolution."""
    if (
        isinstance(expected, float)
        and isinstance(actual, int | float)
        and not isinstance(actual, bool)
    ):
        return math.isclose(expected, actual, abs_tol=point.scale / 2)
    return expected == actual


#: The cadence of values read on every poll.
LIVE: Final = 0.0


class DdcClient:
    """One DDC (a slave id on a line) described by a profile.

    Values that change by themselves (measurements, output states) are read
    every poll; modes, set-points and schedule windows, which change only when
    someone writes them, on a slower cycle and right after any write. A poll
    and a command never interleave, so a poll can't overwrite a value a
    command just confirmed.
    """

    def __init__(
        self,
        line: ModbusLine,
        slave: int,
        profile: Profile,
        *,
        slow_interval: float = 300.0,
        bad_gap_ttl: float = 3600.0,
        confirm_attempts: int = 3,
        confirm_interval: float = 0.2,
        wire: WireModel | None = None,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        """Prepare a client; nothing is read until the first poll."""
        self.line = line
        self.slave = slave
        self.profile = profile
        self.stats = PollStats()
        self.wire = wire or (line.wire if line is not None else DEFAULT_WIRE)
        self._slow_interval = slow_interval
        self._bad_gap_ttl = bad_gap_ttl
        self._confirm_attempts = confirm_attempts
        self._confirm_interval = confirm_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._raw: dict[RegisterRef, int] = {}
        self._refused: set[RegisterRef] = set()
        self._bad_gaps: dict[tuple[RegisterKind, int, int], float] = {}
        #: Whether the DDC does FC23 (write and read registers in one
        #: transaction): None until a window write finds out.
        self.read_write_supported: bool | None = None
        points = [point for unit in profile.units for point in unit.all_points()]
        self._spans: dict[float, list[tuple[RegisterRef, int]]] = {}
        for point in points:
            if point.read is not None:
                self._spans.setdefault(self._cadence(point), []).append(
                    (point.read, point.value_type.words)
                )
        self._spans.setdefault(LIVE, [])
        self._due = dict.fromkeys(self._spans, -math.inf)
        self._unit_registers = {
            unit.uid: unit_registers(unit) for unit in profile.units
        }
        self._snapshot = decode_snapshot(profile, self._raw, frozenset())

    def _cadence(self, point: Point) -> float:
        """Return how often a point is read, in seconds (LIVE: every poll)."""
        if point.every is not None:
            return point.every
        return self._slow_interval if point.slow else LIVE

    @property
    def cadences(self) -> tuple[float, ...]:
        """Return the cadences of the profile's values, every poll (0) first."""
        return tuple(sorted(self._spans))

    def _spans_of(self, cadences: Iterable[float]) -> list[tuple[RegisterRef, int]]:
        """Return the spans read at these cadences."""
        return [span for cadence in cadences for span in self._spans.get(cadence, ())]

    def _due_cadences(self, now: float, *, full: bool) -> list[float]:
        """Return the cadences a poll now reads: live always, the others when due."""
        return [c for c in self._spans if c == LIVE or full or now >= self._due[c]]

    @property
    def snapshot(self) -> Snapshot:
        """Return the state as of the last poll or confirmed command."""
        return self._snapshot

    def registers(
        self, *, full: bool = True, cadences: Iterable[float] | None = None
    ) -> list[RegisterRef]:
        """Return every register a full, live-only or given-cadence poll reads."""
        if cadences is None:
            cadences = self._spans if full else (LIVE,)
        return sorted(
            {
                RegisterRef(ref.kind, ref.address + i)
                for ref, length in self._spans_of(cadences)
                for i in range(length)
            }
        )

    def plan(
        self, *, full: bool = True, cadences: Iterable[float] | None = None
    ) -> tuple[ReadRequest, ...]:
        """Return the requests a full, live-only or given-cadence poll would send."""
        if cadences is None:
            cadences = self._spans if full else (LIVE,)
        now = self._clock()
        self._bad_gaps = {
            gap: until for gap, until in self._bad_gaps.items() if until > now
        }
        return plan_reads(
            self._spans_of(cadences),
            refused=self._refused,
            bad_gaps=self._bad_gaps,
            wire=self.wire,
        )

    def wire_per_round(self, interval: float) -> float:
        """Return the wire-model seconds this DDC needs per poll interval, slower cycles averaged in."""
        live = self.wire.plan_time(self.plan(cadences=(LIVE,)))
        extra = sum(
            (self.wire.plan_time(self.plan(cadences=(LIVE, cadence))) - live)
            * min(1.0, interval / cadence)
            for cadence in self._spans
            if cadence != LIVE
        )
        return live + extra

    async def poll(self, *, full: bool = False) -> Snapshot:
        """Read the profile in planned blocks and return the decoded snapshot."""
        async with self._lock, self.line.session(self.slave, Priority.POLL):
            started = self._clock()
            cadences = self._due_cadences(started, full=full)
            full = len(cadences) == len(self._spans)
            plan = self.plan(cadences=cadences)
            needed = self.registers(cadences=cadences)
            before = self.stats.requests, self.stats.registers
            fresh: dict[RegisterRef, int] = {}
            try:
                for request in plan:
                    await self._read_block(request, needed, fresh)
            except LineError:
                self.stats.failed_polls += 1
                # Whatever changed during the outage is re-read in full.
                self.reread_all()
                raise
            for ref in needed:
                if ref in fresh:
                    self._raw[ref] = fresh[ref]
                else:
                    self._raw.pop(ref, None)
            for cadence in cadences:
                if cadence != LIVE:
                    self._due[cadence] = started + cadence
            if full:
                self.stats.full_polls += 1
            self.stats.polls += 1
            self.stats.last_plan = plan
            self.stats.last_requests = self.stats.requests - before[0]
            self.stats.last_registers = self.stats.registers - before[1]
            self.stats.last_duration = self._clock() - started
            self.stats.bad_gaps = [
                (str(kind), first, last) for kind, first, last in self._bad_gaps
            ]
            self._snapshot = self._decode()
            return self._snapshot

    def reread_all(self) -> None:
        """Read every value on the next poll (after an outage, after any write)."""
        self._due = dict.fromkeys(self._due, -math.inf)

    async def _read_block(
        self,
        request: ReadRequest,
        needed: Sequence[RegisterRef],
        fresh: dict[RegisterRef, int],
    ) -> bool:
        """Read one block; on a refused address split it and learn where. Return False if split."""
        self.stats.requests += 1
        try:
            words = await self.line.read(self.slave, request)
        except LineDeviceError as err:
            if err.exception_code not in (ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE):
                raise
            await self._split(request, [ref for ref in needed if ref in request], fresh)
            return False
        self.stats.registers += request.count
        for ref in needed:
            if ref in request:
                fresh[ref] = words[ref.address - request.start]
                self._refused.discard(ref)
        return True

    async def _split(
        self,
        request: ReadRequest,
        inside: list[RegisterRef],
        fresh: dict[RegisterRef, int],
    ) -> None:
        """Bisect a refused block at its widest gap until the refused part is found."""
        if request.count == 1 or (len(inside) <= 1 and request.count == len(inside)):
            self._refused.update(inside)
            _LOGGER.debug(
                "Slave %s refuses %s", self.slave, ", ".join(map(str, inside))
            )
            return
        gaps = [
            (b.address - a.address, i)
            for i, (a, b) in enumerate(itertools.pairwise(inside))
        ]
        width, index = max(gaps) if gaps else (1, 0)
        if width <= 1:
            index = len(inside) // 2 - 1
        left, right = inside[: index + 1], inside[index + 1 :]
        if not left or not right:
            # One multi-register value refused as a whole.
            self._refused.update(inside)
            return
        kind = request.kind
        left_ok = await self._read_block(
            ReadRequest(kind, left[0].address, left[-1].address - left[0].address + 1),
            left,
            fresh,
        )
        right_ok = await self._read_block(
            ReadRequest(
                kind, right[0].address, right[-1].address - right[0].address + 1
            ),
            right,
            fresh,
        )
        if left_ok and right_ok and width > 1:
            # Both halves read fine, so the refused address is in the gap.
            gap = (kind, left[-1].address + 1, right[0].address - 1)
            self._bad_gaps[gap] = self._clock() + self._bad_gap_ttl
            _LOGGER.debug("Slave %s refuses an address in %s %s-%s", self.slave, *gap)

    # --- commands --------------------------------------------------------------

    def _point(self, uid: str, key: Key) -> tuple[Unit, Point]:
        """Return a unit and one of its points."""
        unit = self.profile.unit(uid)
        try:
            return unit, unit.points[key]
        except KeyError:
            raise DdcNotWritableError(f"{uid} has no {key}") from None

    async def _read_point(self, point: Point, read: RegisterRef) -> Value | None:
        """Read one point now (from its read register) and store its raw words."""
        request = ReadRequest(read.kind, read.address, point.value_type.words)
        self.stats.requests += 1
        words = await self.line.read(self.slave, request)
        for offset, word in enumerate(words):
            self._raw[RegisterRef(request.kind, request.start + offset)] = word
        return decode_point(point, self._raw)

    async def _write_confirmed(
        self,
        point: Point,
        value: Value,
        *,
        explain: Callable[[Value | None], Awaitable[None]] | None = None,
    ) -> Value:
        """Write a point and read it back until the DDC shows the value.

        explain: called once when the first read-back differs; it raises the
        error that explains why (the unit follows its schedule), or returns
        to let the read-back be retried.
        """
        if point.write is None:
            raise DdcNotWritableError(f"{point.name} has no write register")
        words = encode(point, value)
        self.stats.requests += 1
        self.reread_all()
        await self.line.write(self.slave, point.write, words)
        if point.read is None:
            return value
        # A mirrored value (a relay's status, a value the DDC forwards to a
        # device on its own RS-485 port) may take a moment to show.
        attempts = 1 if point.read == point.write else self._confirm_attempts
        actual: Value | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._confirm_interval)
            actual = await self._read_point(point, point.read)
            if _values_equal(point, value, actual):
                return actual if actual is not None else value
            if attempt == 0 and explain is not None:
                await explain(actual)
        raise DdcWriteNotConfirmedError(
            f"{point.name}: wrote {value!r} to {point.write}, DDC shows {actual!r}",
            expected=value,
            actual=actual,
        )

    def _decode(self) -> Snapshot:
        """Decode the raw memory, keeping the state of units whose registers did not change."""
        return decode_snapshot(
            self.profile,
            self._raw,
            frozenset(self._refused),
            previous=self._snapshot,
            registers=self._unit_registers,
        )

    def _publish(self) -> None:
        """Refresh the snapshot after a confirmed command."""
        self._snapshot = self._decode()

    @contextlib.asynccontextmanager
    async def _command(self) -> AsyncIterator[None]:
        """Hold the DDC and the line for one command (before waiting polls), then publish."""
        async with self._lock, self.line.session(self.slave, Priority.COMMAND):
            try:
                yield
            finally:
                self._publish()

    async def set_value(self, uid: str, key: Key, value: Value) -> Value:
        """Write any writable value (mode, speed, targets, auto) and confirm it."""
        if key is Key.POWER:
            if not isinstance(value, bool):
                raise DdcNotWritableError("power takes on/off")
            return await self.set_power(uid, value)
        _unit, point = self._point(uid, key)
        async with self._command():
            return await self._write_confirmed(point, value)

    async def _schedule_mode(self, uid: str, point: Point) -> bool:
        """Read now whether a unit follows its schedule."""
        assert point.read is not None
        auto = await self._read_point(point, point.read)
        if not isinstance(auto, bool):
            raise DdcPowerRuleError(
                f"{uid}: schedule mode register holds an invalid value"
            )
        return auto

    async def check_power_rule(self, uid: str) -> None:
        """Raise DdcPowerRuleError if the unit follows its schedule (the DDC would ignore power).

        "Manual" from the latest poll is trusted; "schedule" or unknown is
        read again first, as set_power does: someone may have switched the
        unit to manual since the mode was last polled.
        """
        unit = self.profile.unit(uid)
        auto_point = unit.points.get(Key.AUTO)
        if auto_point is None or auto_point.read is None:
            return
        if decode_point(auto_point, self._raw) is False:
            return
        async with self._command():
            if await self._schedule_mode(uid, auto_point):
                raise DdcPowerRuleError(
                    f"{uid} follows its schedule; the DDC ignores power commands"
                )

    async def set_power(
        self, uid: str, on: bool, *, manual_override: bool = False
    ) -> bool:
        """Switch a unit on or off, honouring the power rule.

        The DDC ignores the power command while the unit follows its schedule.
        Without manual_override that raises DdcPowerRuleError; with it, the unit
        is first switched to manual (confirmed), then switched.

        The schedule mode comes from the latest poll, so a command that goes
        through takes two transactions: the write and its read-back. A mode
        that says "schedule" is read again before refusing (someone may have
        switched the unit to manual since); a read-back that shows the command
        not taken has the mode read again, and if the unit went back to its
        schedule meanwhile, the command is put back as the unit runs and
        refused the same way.
        """
        unit, power = self._point(uid, Key.POWER)
        if power.write is None:
            raise DdcNotWritableError(f"{uid} is read-only")
        auto_point = unit.points.get(Key.AUTO)
        if auto_point is None or auto_point.read is None:
            async with self._command():
                return bool(await self._write_confirmed(power, on))

        async def explain(actual: Value | None) -> None:
            """Refuse when the read-back differs because the unit follows its schedule."""
            if await self._schedule_mode(uid, auto_point):
                if isinstance(actual, bool) and power.write is not None:
                    # The DDC keeps the ignored command for when the unit goes
                    # manual: leave it as the unit runs now, not as asked.
                    await self.line.write(
                        self.slave, power.write, encode(power, actual)
                    )
                raise DdcPowerRuleError(
                    f"{uid} follows its schedule; the DDC ignored the power command"
                )

        async with self._command():
            # "Manual" from the latest poll is trusted (the read-back catches
            # a change since); "schedule" or unknown is read again first.
            if decode_point(auto_point, self._raw) is not False and (
                await self._schedule_mode(uid, auto_point)
            ):
                if not manual_override:
                    raise DdcPowerRuleError(
                        f"{uid} follows its schedule; the DDC ignores power commands"
                    )
                await self._write_confirmed(auto_point, False)
            return bool(await self._write_confirmed(power, on, explain=explain))

    async def set_window(self, uid: str, window: int, edge: str, value: time) -> time:
        """Set a window's start or end time (edge 'start' or 'end'); window is 1-based."""
        unit = self.profile.unit(uid)
        if not 1 <= window <= len(unit.windows) or edge not in ("start", "end"):
            raise DdcNotWritableError(f"{uid} has no window {window} {edge}")
        target = unit.windows[window - 1]
        hour_point = getattr(target, WindowField(f"{edge}_hour").value)
        minute_point = getattr(target, WindowField(f"{edge}_minute").value)
        async with self._command():
            if not await self._write_time(hour_point, minute_point, value):
                await self._write_confirmed(hour_point, value.hour)
                await self._write_confirmed(minute_point, value.minute)
        return time(value.hour, value.minute)

    async def _write_time(self, hour: Point, minute: Point, value: time) -> bool:
        """Write hour and minute and confirm both with one read; False if not possible here.

        Two transactions where the DDC does FC23: the hour is written, then
        one FC23 writes the minute and reads both back. Where it answers FC23
        with "illegal function" (remembered), the minute is written on its own
        and both are read in one block: three.
        """
        refs = (hour.read, minute.read)
        if (
            hour.read is None
            or minute.read is None
            or hour.write != hour.read
            or minute.write != minute.read
            or minute.read.kind is not RegisterKind.HOLDING
            or hour.read.kind is not RegisterKind.HOLDING
        ):
            return False
        first = min(hour.read.address, minute.read.address)
        last = max(hour.read.address, minute.read.address)
        if last - first >= MAX_READ[RegisterKind.HOLDING]:
            return False
        block = ReadRequest(RegisterKind.HOLDING, first, last - first + 1)
        hour_words, minute_words = (
            encode(hour, value.hour),
            encode(minute, value.minute),
        )
        self.reread_all()
        self.stats.requests += 2
        await self.line.write(self.slave, hour.read, hour_words)
        words: list[int] | None = None
        if self.read_write_supported is not False:
            try:
                words = await self.line.write_read(
                    self.slave, minute.read, minute_words, block
                )
                self.read_write_supported = True
            except LineDeviceError as err:
                if err.exception_code != ILLEGAL_FUNCTION:
                    raise
                _LOGGER.debug(
                    "Slave %s has no FC23; writing windows in three", self.slave
                )
                self.read_write_supported = False
        if words is None:
            self.stats.requests += 1
            await self.line.write(self.slave, minute.read, minute_words)
            words = await self.line.read(self.slave, block)
        for ref in refs:
            assert ref is not None
            self._raw[ref] = words[ref.address - first]
        shown = (decode_point(hour, self._raw), decode_point(minute, self._raw))
        if shown != (value.hour, value.minute):
            raise DdcWriteNotConfirmedError(
                f"window: wrote {value:%H:%M} to {hour.read}/{minute.read}, DDC shows {shown!r}",
                expected=f"{value:%H:%M}",
                actual=None,
            )
        return True

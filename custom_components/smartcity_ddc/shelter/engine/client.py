"""Async Modbus client for Sungil DDCs: planned polls and confirmed writes over a shared line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import time
import itertools
import logging
import math
import time as _time
from typing import TYPE_CHECKING

from ...line import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    LineDeviceError,
    LineError,
    ModbusLine,
    ReadRequest,
    RegisterKind,
    RegisterRef,
)
from .codec import Value, encode
from .errors import DdcNotWritableError, DdcPowerRuleError, DdcWriteNotConfirmedError
from .planner import DEFAULT_WIRE, WireModel, plan_reads
from .profile import Key, Point, Profile, Unit, WindowField
from .state import Snapshot, decode_point, decode_snapshot, unit_registers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

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


class DdcClient:
    """One DDC (a slave id on a line) described by a profile.

    Live values are read every poll; schedule windows, which only change when
    someone edits them, on a slower cycle. A poll and a command never
    interleave, so a poll can't overwrite a value a command just confirmed.
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
        wire: WireModel = DEFAULT_WIRE,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        """Prepare a client; nothing is read until the first poll."""
        self.line = line
        self.slave = slave
        self.profile = profile
        self.stats = PollStats()
        self.wire = wire
        self._slow_interval = slow_interval
        self._bad_gap_ttl = bad_gap_ttl
        self._confirm_attempts = confirm_attempts
        self._confirm_interval = confirm_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._raw: dict[RegisterRef, int] = {}
        self._refused: set[RegisterRef] = set()
        self._bad_gaps: dict[tuple[RegisterKind, int, int], float] = {}
        self._slow_due = -math.inf
        points = [point for unit in profile.units for point in unit.all_points()]
        self._fast_spans = _spans(p for p in points if not p.slow)
        self._all_spans = _spans(points)
        self._unit_registers = {
            unit.uid: unit_registers(unit) for unit in profile.units
        }
        self._snapshot = decode_snapshot(profile, self._raw, frozenset())

    @property
    def snapshot(self) -> Snapshot:
        """Return the state as of the last poll or confirmed command."""
        return self._snapshot

    def registers(self, *, full: bool = True) -> list[RegisterRef]:
        """Return every register a (full or live-only) poll reads."""
        spans = self._all_spans if full else self._fast_spans
        return sorted(
            {
                RegisterRef(ref.kind, ref.address + i)
                for ref, length in spans
                for i in range(length)
            }
        )

    def plan(self, *, full: bool = True) -> tuple[ReadRequest, ...]:
        """Return the requests the next (full or live-only) poll would send."""
        now = self._clock()
        self._bad_gaps = {
            gap: until for gap, until in self._bad_gaps.items() if until > now
        }
        return plan_reads(
            self._all_spans if full else self._fast_spans,
            refused=self._refused,
            bad_gaps=self._bad_gaps,
            wire=self.wire,
        )

    async def poll(self, *, full: bool = False) -> Snapshot:
        """Read the profile in planned blocks and return the decoded snapshot."""
        async with self._lock:
            started = self._clock()
            full = full or started >= self._slow_due
            plan = self.plan(full=full)
            needed = self.registers(full=full)
            before = self.stats.requests, self.stats.registers
            fresh: dict[RegisterRef, int] = {}
            try:
                for request in plan:
                    await self._read_block(request, needed, fresh)
            except LineError:
                self.stats.failed_polls += 1
                # Whatever changed during the outage is re-read in full.
                self._slow_due = -math.inf
                raise
            for ref in needed:
                if ref in fresh:
                    self._raw[ref] = fresh[ref]
                else:
                    self._raw.pop(ref, None)
            if full:
                self._slow_due = started + self._slow_interval
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

    async def _write_confirmed(self, point: Point, value: Value) -> Value:
        """Write a point and read it back until the DDC shows the value."""
        if point.write is None:
            raise DdcNotWritableError(f"{point.name} has no write register")
        words = encode(point, value)
        self.stats.requests += 1
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

    async def set_value(self, uid: str, key: Key, value: Value) -> Value:
        """Write any writable value (mode, speed, targets, auto) and confirm it."""
        if key is Key.POWER:
            if not isinstance(value, bool):
                raise DdcNotWritableError("power takes on/off")
            return await self.set_power(uid, value)
        _unit, point = self._point(uid, key)
        async with self._lock:
            try:
                return await self._write_confirmed(point, value)
            finally:
                self._publish()

    async def set_power(
        self, uid: str, on: bool, *, manual_override: bool = False
    ) -> bool:
        """Switch a unit on or off, honouring the power rule.

        The DDC ignores the power command while the unit follows its schedule.
        Without manual_override that raises DdcPowerRuleError; with it, the unit
        is first switched to manual (confirmed), then switched.
        """
        unit, power = self._point(uid, Key.POWER)
        if power.write is None:
            raise DdcNotWritableError(f"{uid} is read-only")
        async with self._lock:
            try:
                auto_point = unit.points.get(Key.AUTO)
                if auto_point is not None and auto_point.read is not None:
                    auto = await self._read_point(auto_point, auto_point.read)
                    if auto is None:
                        raise DdcPowerRuleError(
                            f"{uid}: schedule mode register holds an invalid value"
                        )
                    if auto:
                        if not manual_override:
                            raise DdcPowerRuleError(
                                f"{uid} follows its schedule; the DDC ignores power commands"
                            )
                        await self._write_confirmed(auto_point, False)
                result = await self._write_confirmed(power, on)
                return bool(result)
            finally:
                self._publish()

    async def set_window(self, uid: str, window: int, edge: str, value: time) -> time:
        """Set a window's start or end time (edge 'start' or 'end'); window is 1-based."""
        unit = self.profile.unit(uid)
        if not 1 <= window <= len(unit.windows) or edge not in ("start", "end"):
            raise DdcNotWritableError(f"{uid} has no window {window} {edge}")
        target = unit.windows[window - 1]
        hour_point = getattr(target, WindowField(f"{edge}_hour").value)
        minute_point = getattr(target, WindowField(f"{edge}_minute").value)
        async with self._lock:
            try:
                await self._write_confirmed(hour_point, value.hour)
                await self._write_confirmed(minute_point, value.minute)
            finally:
                self._publish()
        return time(value.hour, value.minute)

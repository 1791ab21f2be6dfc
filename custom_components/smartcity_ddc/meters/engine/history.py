"""Bounded, time-ordered reading history of one meter, with per-day statistics.

Readings are stored as parallel typed arrays (epoch second, index, flags,
weight) — about 15 bytes a reading — and kept in timestamp order: a late or
out-of-order reading is inserted where it belongs.

How usage is attributed to time
-------------------------------
Between two consecutive *valid* readings (every reading without the
meter-fault flag) the index is taken to rise linearly: the interval's usage
is spread evenly over the interval. The usage of any period — an hour, a day —
is therefore the interpolated index at its end minus the interpolated index at
its start, clipped to the span between the first and the last valid reading.
Hourly rows for Home Assistant's long-term statistics and daily usage use the
same rule, so they always agree. Readings flagged meter-fault are stored and
counted (they set the status) but their index is not used: a meter that is
broken or cut off from its terminal reports a stale or meaningless index.

Old history is compacted: two days after an hour has passed, only the first
and last valid reading of that hour are kept (with a weight that remembers how
many readings they stand for). That changes none of the statistics — every
hour and day boundary interpolates between the same two readings as before —
and it bounds the memory of a source that reports every few seconds.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final, NamedTuple

from .calendar import LocalCalendar
from .model import (
    FUTURE_TOLERANCE,
    INDEX_RESOLUTION,
    RETENTION_DAYS,
    Flag,
    Reading,
    ReadingError,
    RejectReason,
    Signal,
)

DAY: Final = 86400
HOUR: Final = 3600
#: Hours older than this are compacted to their first and last valid reading.
COMPACT_AFTER: Final = 2 * DAY
_MAX_WEIGHT: Final = 0xFFFF
_FAULT: Final = int(Flag.METER_FAULT)
_BACKFLOW: Final = int(Flag.BACKFLOW)


class DayStats(NamedTuple):
    """What one local day of one meter adds up to."""

    #: Interpolated usage inside the day (m³); None if the meter had no valid
    #: reading at or before the day's end; 0.0 if nothing was recorded in it.
    usage: float | None
    #: True when valid readings cover the whole day (first ≤ midnight, last ≥ next midnight).
    full: bool
    #: Readings received with a timestamp in the day (faulty ones included).
    readings: int
    #: Hours of the day (counted from local midnight) with at least one valid reading.
    valid_hours: int
    #: Hours in the day: 24 (23 or 25 where clocks change).
    hours: int


@dataclass(frozen=True, slots=True)
class Change:
    """Closed span of epoch seconds where the interpolated index changed."""

    start: int
    end: int


class MeterHistory:
    """The readings of one meter for the last RETENTION_DAYS days."""

    __slots__ = (
        "_cal",
        "_days",
        "_f",
        "_i",
        "_t",
        "_w",
        "added",
        "compacted_until",
        "origin",
        "signal",
    )

    def __init__(self, calendar: LocalCalendar, *, added: int) -> None:
        """Start an empty history for a meter added at `added` (epoch seconds)."""
        self._cal = calendar
        self._t = array("I")
        self._i = array("d")
        self._f = array("B")
        self._w = array("H")
        self._days: dict[int, DayStats] = {}
        self.added = added
        self.compacted_until = 0
        #: Index that long-term statistics count their sum from (set on first import).
        self.origin: float | None = None
        #: Radio quality reported with the newest reading that carried one.
        self.signal: Signal | None = None

    def __len__(self) -> int:
        """Return the number of stored readings."""
        return len(self._t)

    # --- lookups ---------------------------------------------------------------

    def _valid_at_or_before(self, pos: int) -> int | None:
        """Return the position of the last valid reading at or before pos."""
        flags = self._f
        for k in range(min(pos, len(flags) - 1), -1, -1):
            if not flags[k] & _FAULT:
                return k
        return None

    def _valid_at_or_after(self, pos: int) -> int | None:
        """Return the position of the first valid reading at or after pos."""
        flags = self._f
        for k in range(max(pos, 0), len(flags)):
            if not flags[k] & _FAULT:
                return k
        return None

    def _reading(self, pos: int) -> Reading:
        """Return the reading stored at a position (signal only for the newest)."""
        signal = self.signal if pos == len(self._t) - 1 else None
        return Reading(self._t[pos], self._i[pos], Flag(self._f[pos]), signal)

    def readings(self) -> Iterator[Reading]:
        """Yield every stored reading, oldest first."""
        for pos in range(len(self._t)):
            yield self._reading(pos)

    def weights(self) -> list[int]:
        """Return how many received readings each stored reading stands for."""
        return self._w.tolist()

    @property
    def newest(self) -> Reading | None:
        """Return the reading with the latest timestamp, valid or not."""
        return self._reading(len(self._t) - 1) if self._t else None

    @property
    def newest_valid(self) -> Reading | None:
        """Return the latest reading without the meter-fault flag."""
        pos = self._valid_at_or_before(len(self._t) - 1)
        return None if pos is None else self._reading(pos)

    @property
    def oldest_valid(self) -> Reading | None:
        """Return the earliest reading without the meter-fault flag."""
        pos = self._valid_at_or_after(0)
        return None if pos is None else self._reading(pos)

    @property
    def span(self) -> tuple[int, int] | None:
        """Return the timestamps of the first and last valid reading."""
        first = self._valid_at_or_after(0)
        if first is None:
            return None
        last = self._valid_at_or_before(len(self._t) - 1)
        assert last is not None
        return self._t[first], self._t[last]

    def first_day(self) -> int:
        """Return the first local day the meter was known: added or first reading."""
        first = self._t[0] if self._t else self.added
        return self._cal.day_of(min(self.added, first))

    def _interp(self, t: float) -> float:
        """Return the interpolated index at t, which must lie inside the valid span."""
        ts, index = self._t, self._i
        p = self._valid_at_or_before(bisect_right(ts, t) - 1)
        assert p is not None
        if ts[p] == t:
            return index[p]
        n = self._valid_at_or_after(p + 1)
        assert n is not None
        return index[p] + (index[n] - index[p]) * (t - ts[p]) / (ts[n] - ts[p])

    def index_at(self, t: float) -> float | None:
        """Return the interpolated index at t, or None outside the valid span."""
        span = self.span
        if span is None or not span[0] <= t <= span[1]:
            return None
        return self._interp(t)

    def usage(self, start: float, end: float) -> float | None:
        """Return the usage attributed to [start, end); None before the first valid reading."""
        span = self.span
        if span is None or span[0] >= end:
            return None
        a, b = max(start, span[0]), min(end, span[1])
        return self._interp(b) - self._interp(a) if b > a else 0.0

    def last_interval(self) -> tuple[float, int] | None:
        """Return (usage m³, seconds) between the two newest valid readings."""
        last = self._valid_at_or_before(len(self._t) - 1)
        if last is None:
            return None
        prev = self._valid_at_or_before(last - 1)
        if prev is None:
            return None
        return self._i[last] - self._i[prev], self._t[last] - self._t[prev]

    def hour_rows(self, start: int, end: int) -> list[tuple[int, float]]:
        """Return (hour end, interpolated index) for each whole hour end in [start, end] inside the span."""
        span = self.span
        if span is None:
            return []
        first = max(start, span[0])
        first += -first % HOUR
        last = min(end, span[1])
        return [(edge, self._interp(edge)) for edge in range(first, last + 1, HOUR)]

    # --- per-day statistics -----------------------------------------------------

    def day(self, day: int) -> DayStats:
        """Return the statistics of a local day (cached until a reading changes them)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        start, end = self._cal.bounds(day)
        ts, flags = self._t, self._f
        lo, hi = bisect_left(ts, start), bisect_left(ts, end)
        mask = 0
        for k in range(lo, hi):
            if not flags[k] & _FAULT:
                mask |= 1 << ((ts[k] - start) // HOUR)
        span = self.span
        usage: float | None = None
        full = False
        if span is not None and span[0] < end:
            a, b = max(start, span[0]), min(end, span[1])
            usage = self._interp(b) - self._interp(a) if b > a else 0.0
            full = span[0] <= start and span[1] >= end
        stats = DayStats(
            usage,
            full,
            sum(self._w[lo:hi]),
            mask.bit_count(),
            round((end - start) / HOUR),
        )
        self._days[day] = stats
        return stats

    def _invalidate(self, first_day: int, last_day: int | None = None) -> None:
        """Forget the cached statistics of days first_day..last_day (or all later days)."""
        for day in [
            day
            for day in self._days
            if day >= first_day and (last_day is None or day <= last_day)
        ]:
            del self._days[day]

    # --- changes -----------------------------------------------------------------

    def add(
        self, reading: Reading, now: int, *, max_rate: float | None = None
    ) -> Change | None:
        """Insert a reading where it belongs; return where the index changed.

        Raises ReadingError (FUTURE, TOO_OLD, DUPLICATE, BACKWARDS, and with a
        `max_rate` per hour IMPLAUSIBLE) and stores nothing if the reading is
        refused. A reading flagged meter-fault changes no usage and returns None.
        """
        t = reading.timestamp
        if t > now + FUTURE_TOLERANCE:
            raise ReadingError(
                RejectReason.FUTURE,
                f"timestamp is {t - now} s in the future",
            )
        if t < now - RETENTION_DAYS * DAY:
            raise ReadingError(
                RejectReason.TOO_OLD,
                f"timestamp is older than the {RETENTION_DAYS} days kept",
            )
        ts, index, flags = self._t, self._i, self._f
        pos = bisect_left(ts, t)
        if pos < len(ts) and ts[pos] == t:
            raise ReadingError(
                RejectReason.DUPLICATE, "a reading with this timestamp already exists"
            )
        prev = nxt = None
        if reading.valid:
            prev = self._valid_at_or_before(pos - 1)
            nxt = self._valid_at_or_after(pos)
            # The index only goes down when water flows back through the meter,
            # and a meter that sees that says so with the backflow flag.
            if (
                prev is not None
                and reading.index < index[prev]
                and not reading.flags & Flag.BACKFLOW
            ):
                raise ReadingError(
                    RejectReason.BACKWARDS,
                    f"index {reading.index:g} m³ is below the earlier reading's {index[prev]:g} m³",
                )
            if (
                nxt is not None
                and index[nxt] < reading.index
                and not flags[nxt] & _BACKFLOW
            ):
                raise ReadingError(
                    RejectReason.BACKWARDS,
                    f"index {reading.index:g} m³ is above the later reading's {index[nxt]:g} m³",
                )
            if max_rate is not None:
                self._check_rate(prev, t, reading.index, max_rate)
                self._check_rate(nxt, t, reading.index, max_rate)
        ts.insert(pos, t)
        index.insert(pos, reading.index)
        flags.insert(pos, int(reading.flags))
        self._w.insert(pos, 1)
        if pos == len(ts) - 1 and reading.signal is not None:
            self.signal = reading.signal
        if t < self.compacted_until:
            self.compacted_until = t - t % HOUR
        change: Change | None = None
        if not reading.valid:
            day = self._cal.day_of(t)
            self._invalidate(day, day)
        else:
            start = ts[prev] if prev is not None else t
            end = ts[nxt + 1] if nxt is not None else t
            change = Change(start, end)
            # A new first valid reading starts the usage of every later day.
            last_day = None if prev is None and nxt is None else self._cal.day_of(end)
            self._invalidate(self._cal.day_of(start), last_day)
        self.prune(now)
        self._maybe_compact(now)
        return change

    def _check_rate(
        self, other: int | None, t: int, value: float, max_rate: float
    ) -> None:
        """Refuse an index that rises faster than max_rate (per hour) from or to a stored reading."""
        if other is None:
            return
        hours = abs(t - self._t[other]) / HOUR
        rise = (
            (value - self._i[other]) if t > self._t[other] else (self._i[other] - value)
        )
        if rise > max_rate * hours + INDEX_RESOLUTION:
            raise ReadingError(
                RejectReason.IMPLAUSIBLE,
                f"a rise of {rise:g} in {hours * 60:.0f} min is faster than"
                f" the meter can run ({max_rate:g} an hour)",
            )

    def correct(self, timestamp: int, index: float | None) -> Change:
        """Replace the index of the reading at `timestamp`, or remove the reading (None).

        Meant for a person fixing a wrong reading: the neighbours are not
        checked, so a correction can repair what the checks let in. KeyError
        if there is no reading at that time.
        """
        ts = self._t
        pos = bisect_left(ts, timestamp)
        if pos == len(ts) or ts[pos] != timestamp:
            raise KeyError(timestamp)
        prev = self._valid_at_or_before(pos - 1)
        nxt = self._valid_at_or_after(pos + 1)
        if index is None:
            for column in (ts, self._i, self._f, self._w):
                del column[pos]
        else:
            self._i[pos] = index
        start = ts[prev] if prev is not None else timestamp
        end = ts[nxt - (index is None)] if nxt is not None else timestamp
        # Later days' usage starts from an earlier first reading if the first went.
        self._invalidate(self._cal.day_of(start))
        return Change(start, max(end, timestamp))

    def prune(self, now: int) -> None:
        """Drop readings older than the retention, a day's worth at a time."""
        ts = self._t
        cutoff = now - RETENTION_DAYS * DAY
        if not ts or ts[0] >= cutoff - DAY:
            return
        k = bisect_left(ts, cutoff)
        for column in (ts, self._i, self._f, self._w):
            del column[:k]
        cut_day = self._cal.day_of(cutoff)
        for day in [day for day in self._days if day < cut_day]:
            del self._days[day]
        span = self.span
        self._invalidate(cut_day, self._cal.day_of(span[0]) if span else None)

    def _segment(self, t: int) -> tuple[int, int]:
        """Return the compaction segment of t: its UTC hour and its local hour slot."""
        day_start = self._cal.day_start(self._cal.day_of(t))
        return t // HOUR, day_start + (t - day_start) // HOUR * HOUR

    def _maybe_compact(self, now: int) -> None:
        """Compact the hours that ended COMPACT_AFTER ago, sparing the newest interval."""
        last = self._valid_at_or_before(len(self._t) - 1)
        prev = None if last is None else self._valid_at_or_before(last - 1)
        if prev is None:
            return
        # The two newest valid readings give the flow rate: they stay as they are.
        before = min(now - COMPACT_AFTER, self._t[prev])
        before -= before % HOUR
        if before - self.compacted_until >= HOUR:
            self._compact(before)

    def _compact(self, before: int) -> None:
        """Keep the first and last valid reading of each hour before `before` (an hour boundary)."""
        ts, index, flags, weights = self._t, self._i, self._f, self._w
        lo, hi = bisect_left(ts, self.compacted_until), bisect_left(ts, before)
        self.compacted_until = before
        keep: list[int] = []
        k = lo
        while k < hi:
            hour = ts[k] // HOUR
            j = k + 1
            while j < hi and ts[j] // HOUR == hour:
                j += 1
            if j - k <= 2:
                # Hourly meters: nothing to drop, and no calendar lookups.
                keep.extend(range(k, j))
            else:
                self._compact_hour(k, j, keep)
            k = j
        if len(keep) == hi - lo:
            return
        ts[lo:hi] = array("I", [ts[p] for p in keep])
        index[lo:hi] = array("d", [index[p] for p in keep])
        flags[lo:hi] = array("B", [flags[p] for p in keep])
        weights[lo:hi] = array("H", [weights[p] for p in keep])

    def _compact_hour(self, lo: int, hi: int, keep: list[int]) -> None:
        """Add to keep the readings of one UTC hour that survive compaction."""
        ts, flags, weights = self._t, self._f, self._w
        k = lo
        while k < hi:
            # Where local hours are offset from UTC hours by a fraction of an
            # hour, one UTC hour spans two local hour slots.
            segment = self._segment(ts[k])
            j = k + 1
            while j < hi and self._segment(ts[j]) == segment:
                j += 1
            valid = [p for p in range(k, j) if not flags[p] & _FAULT]
            kept = sorted({valid[0], valid[-1]}) if valid else [j - 1]
            keep.extend(kept)
            # The readings dropped still count in their day's reading count.
            dropped = sum(weights[k:j]) - sum(weights[p] for p in kept)
            weights[kept[-1]] = min(weights[kept[-1]] + dropped, _MAX_WEIGHT)
            k = j

    # --- storage -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Return a compact JSON-ready form: time deltas, sparse flags and weights."""
        ts = self._t
        return {
            "added": self.added,
            "origin": self.origin,
            "compacted_until": self.compacted_until,
            "t": [ts[0], *(b - a for a, b in pairwise(ts))] if ts else [],
            "i": self._i.tolist(),
            "f": [[k, flag] for k, flag in enumerate(self._f) if flag],
            "w": [[k, weight] for k, weight in enumerate(self._w) if weight != 1],
            "signal": self.signal.to_list() if self.signal else None,
        }

    @classmethod
    def from_json(cls, calendar: LocalCalendar, data: dict[str, Any]) -> MeterHistory:
        """Rebuild a history stored with to_json; ValueError if it is inconsistent."""
        history = cls(calendar, added=int(data["added"]))
        history.origin = None if data["origin"] is None else float(data["origin"])
        history.compacted_until = int(data["compacted_until"])
        stamps: list[int] = []
        total = 0
        for delta in data["t"]:
            total += int(delta)
            stamps.append(total)
        if any(b <= a for a, b in pairwise(stamps)):
            raise ValueError("timestamps are not strictly increasing")
        values = [float(value) for value in data["i"]]
        if len(values) != len(stamps):
            raise ValueError("as many indices as timestamps are needed")
        history._t = array("I", stamps)
        history._i = array("d", values)
        history._f = array("B", bytes(len(stamps)))
        history._w = array("H", [1] * len(stamps))
        for k, flag in data["f"]:
            history._f[k] = int(flag)
        for k, weight in data["w"]:
            history._w[k] = int(weight)
        if data.get("signal") is not None:
            history.signal = Signal.from_list(data["signal"])
        return history

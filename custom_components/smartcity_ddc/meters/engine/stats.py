"""Per-meter statistics and status, and the site's daily aggregates (검침집계).

Definitions (all days are local calendar days of the site's time zone; "the
previous N days" are the N whole days before today, yesterday included):

* **Valid reading**: an accepted reading without the meter-fault flag.
* **Interval usage**: index of the newest valid reading minus the one before;
  **flow rate** (단위사용량): that usage divided by the interval in hours.
* **Usage of a day / an hour**: see history.py — interval usage spread evenly
  over its interval, clipped to the first..last valid reading.
* **Average daily usage (7 / 30 days)**: the mean usage of those previous days
  that valid readings cover completely (first reading at or before the day's
  midnight, last at or after the next midnight); unknown if there is none.
* **Reading count**: readings received with a timestamp in the day, faulty
  ones included; the 7/30-day averages divide by the days counted (below).
* **Valid hour**: an hour of the day, counted from local midnight, holding at
  least one valid reading. **Hourly read rate** of a day = valid hours ÷ hours
  in the day (24 in Korea), as a percentage. Over 7 or 30 days: total valid hours ÷
  total hours, i.e. the mean of the daily rates.
* **Daily read rate**: a day with at least one valid reading is 100 %, else
  0 %; over 7 or 30 days the mean of those.
* Days counted for reading counts and read rates: the previous N days, but
  none before the day the meter was added (or first read, if earlier) — a
  meter is not blamed for days before it existed.

Status rules (evaluated at a given time "now"):

* **communication fault**: no reading (valid or not) for longer than the gap
  (default 3 h); a meter that never reported counts from when it was added.
* **meter fault / low battery**: the newest reading carries that flag.
* **backflow**: the newest reading carries the backflow flag, or the newest
  interval usage is negative.
* **over Q4**: the newest flow rate is above the meter's Q4.
* **leak**: in each of the 24 whole clock hours before the hour of the newest
  valid reading, at least the leak threshold (m³/h) flowed — the meter never
  stood still for a day. Needs valid readings covering those 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Final

from .calendar import LocalCalendar
from .history import HOUR, DayStats, MeterHistory
from .model import (
    DEFAULT_MAX_POWER,
    DEFAULT_Q3,
    DEFAULT_Q4,
    PLAUSIBLE_Q4_FACTOR,
    PROBLEMS,
    STATUS_PRIORITY,
    Flag,
    Medium,
    Rules,
    Signal,
    Status,
)

#: Index arithmetic leaves binary noise far below a meter's resolution.
_EPSILON: Final = 1e-9
_DIGITS: Final = 6


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What a meter measures, and its ratings: flows Q3/Q4 (m³/h) or most power (kW)."""

    q3: float = DEFAULT_Q3
    q4: float = DEFAULT_Q4
    medium: Medium = Medium.WATER
    max_power: float = DEFAULT_MAX_POWER

    @property
    def max_rate(self) -> float:
        """Return the fastest an index can rise (per hour) before it is a wrong number."""
        if self.medium is Medium.ELECTRICITY:
            return 2 * self.max_power
        return PLAUSIBLE_Q4_FACTOR * self.q4


@dataclass(frozen=True, slots=True)
class MeterSummary:
    """Everything the entities of one meter show, computed at one moment."""

    index: float | None
    last_reading: int | None
    last_interval_usage: float | None
    flow_rate: float | None
    usage_today: float | None
    usage_yesterday: float | None
    usage_avg_7d: float | None
    usage_avg_30d: float | None
    readings_today: int
    readings_yesterday: int | None
    readings_avg_7d: float | None
    readings_avg_30d: float | None
    hourly_rate_yesterday: float | None
    hourly_rate_7d: float | None
    hourly_rate_30d: float | None
    daily_rate_yesterday: float | None
    daily_rate_7d: float | None
    daily_rate_30d: float | None
    problems: frozenset[Status]
    status: Status
    signal: Signal | None


@dataclass(frozen=True, slots=True)
class SiteAggregate:
    """검침집계 of one day across a site's meters.

    Meters count from the day they were added. A meter is "read" on a day when
    it has at least one valid reading in it; usage figures are over the meters
    read, so the average times the meters read is the total.
    """

    day: date
    meters: int
    #: None (like every figure below) when no meter existed that day.
    meters_read: int | None
    readings: int | None
    #: Mean hourly read rate (%) of the meters counted.
    read_rate: float | None
    total_usage: float | None
    average_usage: float | None
    max_usage: float | None
    min_usage: float | None


def _round(value: float | None) -> float | None:
    """Round away binary noise (1 mL is far below any meter's resolution)."""
    return None if value is None else round(value, _DIGITS)


@dataclass(frozen=True, slots=True)
class _Window:
    """Read counts and rates over the previous N days."""

    readings_avg: float | None
    hourly_rate: float | None
    daily_rate: float | None
    usage_avg: float | None


def _window(days: list[DayStats]) -> _Window:
    """Summarise the day statistics of a window."""
    if not days:
        return _Window(None, None, None, None)
    full = [day.usage for day in days if day.full and day.usage is not None]
    return _Window(
        readings_avg=sum(day.readings for day in days) / len(days),
        hourly_rate=100
        * sum(day.valid_hours for day in days)
        / sum(day.hours for day in days),
        daily_rate=100 * sum(1 for day in days if day.valid_hours) / len(days),
        usage_avg=sum(full) / len(full) if full else None,
    )


def leak_suspected(history: MeterHistory, threshold: float) -> bool:
    """Return True when at least `threshold` m³ flowed in each of the last 24 whole hours."""
    span = history.span
    if span is None:
        return False
    end = span[1] - span[1] % HOUR
    start = end - 24 * HOUR
    if span[0] > start:
        return False
    edges = history.hour_rows(start, end)
    return all(b - a >= threshold - _EPSILON for (_, a), (_, b) in pairwise(edges))


def summarize(
    history: MeterHistory,
    spec: MeterSpec,
    rules: Rules,
    calendar: LocalCalendar,
    now: int,
    *,
    extra_problems: frozenset[Status] = frozenset(),
) -> MeterSummary:
    """Compute a meter's statistics and status at `now` (epoch seconds).

    `extra_problems` are what the meter's owner knows beyond its readings
    (low prepaid credit).
    """
    today = calendar.day_of(now)
    first_day = history.first_day()
    newest = history.newest
    newest_valid = history.newest_valid

    interval = history.last_interval()
    interval_usage = flow = None
    if interval is not None:
        interval_usage = interval[0]
        flow = interval[0] / (interval[1] / HOUR)

    windows = {
        days: _window(
            [history.day(day) for day in range(max(today - days, first_day), today)]
        )
        for days in (1, 7, 30)
    }
    known_yesterday = today - 1 >= first_day
    stats_today = history.day(today)
    stats_yesterday = history.day(today - 1)

    problems: set[Status] = set(extra_problems)
    last_seen = newest.timestamp if newest is not None else history.added
    if now - last_seen > rules.gap:
        problems.add(Status.COMMUNICATION_FAULT)
    flags = newest.flags if newest is not None else Flag.NONE
    if flags & Flag.METER_FAULT:
        problems.add(Status.METER_FAULT)
    if flags & Flag.LOW_BATTERY:
        problems.add(Status.LOW_BATTERY)
    if flags & Flag.RELAY_OPEN:
        problems.add(Status.RELAY_OPEN)
    if spec.medium is Medium.WATER:
        if flags & Flag.BACKFLOW or (
            interval_usage is not None and interval_usage < -_EPSILON
        ):
            problems.add(Status.BACKFLOW)
        if flow is not None and flow > spec.q4 + _EPSILON:
            problems.add(Status.OVER_Q4)
        if leak_suspected(history, rules.leak_threshold):
            problems.add(Status.LEAK)
    # Only what the medium's meters can show (a flag pushed with an electricity
    # reading that only water has, say), and low credit of a prepaid meter.
    problems &= {*PROBLEMS[spec.medium], Status.LOW_CREDIT}
    status = next(
        (status for status in STATUS_PRIORITY if status in problems), Status.NORMAL
    )

    return MeterSummary(
        index=newest_valid.index if newest_valid is not None else None,
        last_reading=newest.timestamp if newest is not None else None,
        last_interval_usage=_round(interval_usage),
        flow_rate=_round(flow),
        usage_today=_round(stats_today.usage),
        usage_yesterday=_round(stats_yesterday.usage),
        usage_avg_7d=_round(windows[7].usage_avg),
        usage_avg_30d=_round(windows[30].usage_avg),
        readings_today=stats_today.readings,
        readings_yesterday=stats_yesterday.readings if known_yesterday else None,
        readings_avg_7d=_round(windows[7].readings_avg),
        readings_avg_30d=_round(windows[30].readings_avg),
        hourly_rate_yesterday=_round(windows[1].hourly_rate),
        hourly_rate_7d=_round(windows[7].hourly_rate),
        hourly_rate_30d=_round(windows[30].hourly_rate),
        daily_rate_yesterday=_round(windows[1].daily_rate),
        daily_rate_7d=_round(windows[7].daily_rate),
        daily_rate_30d=_round(windows[30].daily_rate),
        problems=frozenset(problems),
        status=status,
        signal=history.signal,
    )


def aggregate(
    histories: Iterable[MeterHistory], calendar: LocalCalendar, day: int
) -> SiteAggregate:
    """Compute the 검침집계 of one local day across meters."""
    meters = meters_read = readings = 0
    rate_sum = 0.0
    usages: list[float] = []
    for history in histories:
        if day < history.first_day():
            continue
        meters += 1
        stats = history.day(day)
        readings += stats.readings
        rate_sum += stats.valid_hours / stats.hours
        if stats.valid_hours:
            meters_read += 1
            if stats.usage is not None:
                usages.append(stats.usage)
    return SiteAggregate(
        day=calendar.date(day),
        meters=meters,
        meters_read=meters_read if meters else None,
        readings=readings if meters else None,
        read_rate=_round(100 * rate_sum / meters) if meters else None,
        total_usage=_round(sum(usages)) if usages else None,
        average_usage=_round(sum(usages) / len(usages)) if usages else None,
        max_usage=_round(max(usages)) if usages else None,
        min_usage=_round(min(usages)) if usages else None,
    )

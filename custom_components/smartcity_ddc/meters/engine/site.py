"""A site's water meters: readings in, statistics and aggregates out, JSON storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Final

from .calendar import LocalCalendar
from .history import HOUR, Change, MeterHistory
from .model import Medium, Reading, Rules, Status
from .stats import MeterSpec, MeterSummary, SiteAggregate, aggregate, summarize

STORAGE_FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class HourRow:
    """One hour of long-term statistics: index at the hour's end and usage summed since the origin."""

    start: int
    state: float
    sum: float


class Meter:
    """One meter of a site: its rated flows and its history."""

    __slots__ = ("history", "meter_id", "spec")

    def __init__(self, meter_id: str, spec: MeterSpec, history: MeterHistory) -> None:
        """Bind a meter's id, spec and history."""
        self.meter_id = meter_id
        self.spec = spec
        self.history = history

    def hour_rows(
        self, start: int, end: int, *, base_sum: float = 0.0
    ) -> list[HourRow]:
        """Return the statistics rows of whole hours ending in [start, end].

        The sum is the usage since the meter's first valid reading, plus
        `base_sum` (the sum the statistic already had, e.g. from an earlier
        meter under the same id). The origin is fixed the first time rows are
        produced, so later rows continue the same series.
        """
        edges = self.history.hour_rows(start, end)
        if not edges:
            return []
        if self.history.origin is None:
            oldest = self.history.oldest_valid
            assert oldest is not None
            self.history.origin = oldest.index - base_sum
        origin = self.history.origin
        return [HourRow(edge - HOUR, index, index - origin) for edge, index in edges]


class WaterSite:
    """Every meter of one site, in the site's time zone."""

    def __init__(self, tz: tzinfo, rules: Rules | None = None) -> None:
        """Start with no meters."""
        self.calendar = LocalCalendar(tz)
        self.rules = rules or Rules()
        self.meters: dict[str, Meter] = {}

    def add_meter(
        self,
        meter_id: str,
        spec: MeterSpec | None = None,
        *,
        added: int,
        stored: dict[str, Any] | None = None,
    ) -> Meter:
        """Add a meter, with the history stored for it earlier if there is one."""
        history = (
            MeterHistory.from_json(self.calendar, stored)
            if stored is not None
            else MeterHistory(self.calendar, added=added)
        )
        meter = self.meters[meter_id] = Meter(meter_id, spec or MeterSpec(), history)
        return meter

    def record(self, meter_id: str, reading: Reading, now: int) -> Change | None:
        """Add a reading to a meter (KeyError if unknown, ReadingError if refused).

        A rise faster than the meter can run (a multiple of its overload flow
        Q4) is refused as implausible.
        """
        meter = self.meters[meter_id]
        return meter.history.add(reading, now, max_rate=meter.spec.max_rate)

    def correct(self, meter_id: str, timestamp: int, index: float | None) -> Change:
        """Replace (or with None remove) a meter's reading at a time; KeyError if none."""
        return self.meters[meter_id].history.correct(timestamp, index)

    def prune(self, now: int) -> None:
        """Drop readings past the retention from every meter."""
        for meter in self.meters.values():
            meter.history.prune(now)

    def summary(
        self,
        meter_id: str,
        now: int,
        extra_problems: frozenset[Status] = frozenset(),
    ) -> MeterSummary:
        """Return a meter's statistics and status at now."""
        meter = self.meters[meter_id]
        return summarize(
            meter.history,
            meter.spec,
            self.rules,
            self.calendar,
            now,
            extra_problems=extra_problems,
        )

    def aggregate(self, day: int, medium: Medium = Medium.WATER) -> SiteAggregate:
        """Return the 검침집계 of a local day (a date ordinal) over one medium's meters."""
        return aggregate(
            (
                meter.history
                for meter in self.meters.values()
                if meter.spec.medium is medium
            ),
            self.calendar,
            day,
        )

    def today(self, now: int) -> int:
        """Return the local day (ordinal) of now."""
        return self.calendar.day_of(now)

    def to_json(self) -> dict[str, Any]:
        """Return the histories of every meter as plain JSON data."""
        return {
            "format": STORAGE_FORMAT,
            "meters": {
                meter_id: meter.history.to_json()
                for meter_id, meter in self.meters.items()
            },
        }

    @staticmethod
    def stored_meters(data: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """Return the per-meter histories of stored data (empty if none or foreign)."""
        if not data or data.get("format") != STORAGE_FORMAT:
            return {}
        meters: dict[str, dict[str, Any]] = data.get("meters", {})
        return meters

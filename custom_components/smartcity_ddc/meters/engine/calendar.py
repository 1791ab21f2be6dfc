"""Local days of a site: which epoch seconds belong to which day in its time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo


class LocalCalendar:
    """Days are local calendar days of one time zone, numbered by date ordinal."""

    __slots__ = ("_starts", "tz")

    def __init__(self, tz: tzinfo) -> None:
        """Use the given time zone (Asia/Seoul for Korean sites)."""
        self.tz = tz
        self._starts: dict[int, int] = {}

    def day_of(self, ts: float) -> int:
        """Return the ordinal of the local date that contains ts."""
        return datetime.fromtimestamp(ts, self.tz).toordinal()

    def day_start(self, day: int) -> int:
        """Return the epoch second of the local midnight that starts a day."""
        start = self._starts.get(day)
        if start is None:
            start = self._starts[day] = int(
                datetime.combine(date.fromordinal(day), time(), self.tz).timestamp()
            )
        return start

    def bounds(self, day: int) -> tuple[int, int]:
        """Return [start, end) of a day in epoch seconds."""
        return self.day_start(day), self.day_start(day + 1)

    def hours_in(self, day: int) -> int:
        """Return the number of hours in a day: 24, or 23/25 where clocks change."""
        start, end = self.bounds(day)
        return round((end - start) / 3600)

    def date(self, day: int) -> date:
        """Return the date of a day ordinal."""
        return date.fromordinal(day)

    def local(self, ts: float) -> datetime:
        """Return ts as an aware local datetime."""
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz)

"""Calendar: the shelter's whole day of schedule windows at a glance."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final, NamedTuple

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity import Entity
from homeassistant.util import dt as dt_util

from ..const import DOMAIN
from ..entity import SmartCityEntity
from .coordinator import ShelterCoordinator
from .engine.state import ScheduleWindow

#: What the calendar's events are computed from: reachability, each unit's mode and windows.
type _Schedule = tuple[bool, tuple[tuple[bool | None, tuple[ScheduleWindow, ...]], ...]]

SCHEDULE = CalendarEntityDescription(key="schedule", translation_key="schedule")

#: The longest range answered at once, in days. Every window repeats daily,
#: so the work grows with the range (a DDC whose 13 units all follow two
#: windows has 26 events a day); the calendar panel and cards ask for six
#: weeks at most.
MAX_RANGE_DAYS: Final = 92


class _DailyWindow(NamedTuple):
    """A schedule window the DDC follows every day, with its unit's name."""

    uid: str
    start: time
    end: time
    summary: str
    description: str


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return the schedule calendar of the DDC."""
    return [ScheduleCalendar(coordinator, SCHEDULE)]


class ScheduleCalendar(SmartCityEntity[ShelterCoordinator], CalendarEntity):
    """Each unit that follows its schedule, as one event per window per day.

    Units in manual mode ignore their windows, so they are left out: the
    calendar shows what the DDC will actually do. A window whose end is before
    its start runs past midnight.
    """

    def __init__(
        self, coordinator: ShelterCoordinator, description: CalendarEntityDescription
    ) -> None:
        """Bind to the DDC device."""
        super().__init__(coordinator, description)
        self._written: _Schedule | None = None

    def _seen(self) -> _Schedule:
        """Return what the events are computed from."""
        data = self.coordinator.data
        return (
            self.coordinator.last_update_success,
            tuple(
                (data.unit(unit.uid).auto, data.unit(unit.uid).windows)
                for unit in self.coordinator.profile.units
            ),
        )

    async def async_added_to_hass(self) -> None:
        """Remember what the state written on adding is computed from."""
        await super().async_added_to_hass()
        self._written = self._seen()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state only when a schedule mode or window (or reachability) changed.

        Home Assistant's calendar wakes itself at each event's start and end,
        so a poll that changed only measured values has nothing to say here.
        """
        if (seen := self._seen()) != self._written:
            self._written = seen
            super()._handle_coordinator_update()

    def _windows(self) -> list[_DailyWindow]:
        """Return the windows the DDC follows now, named (read once per request)."""
        windows = []
        for unit in self.coordinator.profile.units:
            state = self.coordinator.data.unit(unit.uid)
            if state.auto is not True:
                continue
            summary = self.coordinator.unit_name(unit.uid)
            for number, window in enumerate(state.windows, start=1):
                if (
                    window.start is None
                    or window.end is None
                    or window.start == window.end
                ):
                    continue
                windows.append(
                    _DailyWindow(
                        uid=f"{unit.uid}_w{number}",
                        start=window.start,
                        end=window.end,
                        summary=summary,
                        description=f"{unit.device_id}.{unit.unit_id} #{number}",
                    )
                )
        return windows

    @staticmethod
    def _events_on(day: date, windows: list[_DailyWindow]) -> list[CalendarEvent]:
        """Return the events of the windows that start on a local day."""
        events = []
        tz = dt_util.get_default_time_zone()
        for window in windows:
            start = datetime.combine(day, window.start, tz)
            end = datetime.combine(day, window.end, tz)
            if end <= start:
                if day == date.max:
                    continue  # it would end after the last day there is
                end += timedelta(days=1)
            events.append(
                CalendarEvent(
                    start=start,
                    end=end,
                    summary=window.summary,
                    uid=f"{window.uid}_{day.isoformat()}",
                    description=window.description,
                )
            )
        return events

    @property
    def event(self) -> CalendarEvent | None:
        """Return the event in progress, or the next one within a day."""
        now = dt_util.now()
        windows = self._windows()
        upcoming = [
            event
            for day in (
                now.date() - timedelta(days=1),
                now.date(),
                now.date() + timedelta(days=1),
            )
            for event in self._events_on(day, windows)
            if event.end_datetime_local > now
        ]
        if not upcoming:
            return None
        return min(upcoming, key=lambda event: event.start_datetime_local)

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """Return the events overlapping a time range of at most MAX_RANGE_DAYS."""
        # Any user may ask, read-only ones too: the range bounds the work.
        if end_date - start_date > timedelta(days=MAX_RANGE_DAYS):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="shelter_calendar_range_too_long",
                translation_placeholders={"days": str(MAX_RANGE_DAYS)},
            )
        events: list[CalendarEvent] = []
        windows = self._windows()
        # A window of the day before may run past midnight into the range.
        day = max(dt_util.as_local(start_date).date(), date.min + timedelta(days=1))
        day -= timedelta(days=1)
        last = dt_util.as_local(end_date).date()
        while True:
            events.extend(
                event
                for event in self._events_on(day, windows)
                if event.end_datetime_local > start_date
                and event.start_datetime_local < end_date
            )
            if day >= last:
                break
            day += timedelta(days=1)
        return sorted(events, key=lambda event: event.start_datetime_local)

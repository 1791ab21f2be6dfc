"""Calendar: the day's schedule windows of units that follow them."""

from __future__ import annotations

from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from devtools.simulator import DO_PORTS, ShelterDdc
from tests.conftest import SEOUL

CALENDAR = "calendar.ddc_1_127_0_0_1_schedule"


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.CALENDAR]


@pytest.fixture
def schedule(ddc: ShelterDdc) -> ShelterDdc:
    """Lights follow 18:00-06:00 (the initial state); bench 1 follows 07:00-09:30; bench 2 is manual."""
    ddc.set_window(DO_PORTS[4].windows[0], "07:00", "09:30")
    ddc.set_port(5, auto=True)
    ddc.set_window(DO_PORTS[5].windows[0], "10:00", "11:00")
    return ddc


async def _events(
    client: ClientSessionGenerator, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    session = await client()
    response = await session.get(
        f"/api/calendars/{CALENDAR}",
        params={"start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status == HTTPStatus.OK
    events: list[dict[str, Any]] = await response.json()
    return events


async def test_events_of_a_day(
    hass: HomeAssistant,
    schedule: ShelterDdc,
    setup_platforms: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    day = datetime(2026, 1, 5, tzinfo=SEOUL)
    events = await _events(hass_client, day, day + timedelta(days=1))
    summary = [
        (e["summary"], e["start"]["dateTime"], e["end"]["dateTime"]) for e in events
    ]
    yesterday_evening = ("2026-01-04T18:00:00+09:00", "2026-01-05T06:00:00+09:00")
    this_evening = ("2026-01-05T18:00:00+09:00", "2026-01-06T06:00:00+09:00")
    assert summary == [
        # Yesterday's evening windows still run until 06:00 today.
        ("Interior light 1", *yesterday_evening),
        ("Interior light 2", *yesterday_evening),
        ("Cooler/heater", *yesterday_evening),
        ("Heat-recovery ventilator", *yesterday_evening),
        ("Heated bench 1", "2026-01-05T07:00:00+09:00", "2026-01-05T09:30:00+09:00"),
        ("Interior light 1", *this_evening),
        ("Interior light 2", *this_evening),
        ("Cooler/heater", *this_evening),
        ("Heat-recovery ventilator", *this_evening),
    ]
    # Bench 2 is manual, so its 10:00-11:00 window does not appear.
    assert all(e["summary"] != "Heated bench 2" for e in events)


async def test_calendar_state_is_on_during_a_window(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    # Windows around the real current time (freezing time would stall pymodbus's connect).
    now = dt_util.now()
    soon, later = now + timedelta(minutes=50), now + timedelta(minutes=80)
    for port in (1, 2):
        ddc.set_port(port, auto=False)
    bench = DO_PORTS[4].windows[0]
    ddc.set_window(
        bench, (now - timedelta(minutes=30)).strftime("%H:%M"), soon.strftime("%H:%M")
    )
    ddc.set_port(5, auto=True)
    coordinator = setup_platforms.runtime_data
    await coordinator.client.poll(full=True)
    coordinator.async_set_updated_data(coordinator.client.snapshot)
    state = hass.states.get(CALENDAR)
    assert state.state == STATE_ON
    assert state.attributes["message"] == "Heated bench 1"
    assert state.attributes["end_time"] == soon.strftime("%Y-%m-%d %H:%M:00")
    ddc.set_window(bench, soon.strftime("%H:%M"), later.strftime("%H:%M"))
    await coordinator.client.poll(full=True)
    coordinator.async_set_updated_data(coordinator.client.snapshot)
    state = hass.states.get(CALENDAR)
    assert state.state == STATE_OFF
    assert state.attributes["start_time"] == soon.strftime("%Y-%m-%d %H:%M:00")


async def test_no_events_when_nothing_follows_a_schedule(
    hass: HomeAssistant,
    ddc: ShelterDdc,
    setup_platforms: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    for port in (1, 2):
        ddc.set_port(port, auto=False)
    # Modes are read on the slow cycle; this test wants them now.
    setup_platforms.runtime_data.client.reread_all()
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get(CALENDAR).state == STATE_OFF
    day = datetime(2026, 1, 5, tzinfo=SEOUL)
    assert await _events(hass_client, day, day + timedelta(days=2)) == []

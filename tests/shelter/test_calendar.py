"""Calendar: the day's schedule windows of units that follow them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
import time
from typing import Any

from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.components.calendar import DATA_COMPONENT as CALENDAR_COMPONENT
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.smartcity_ddc.shelter.calendar import MAX_RANGE_DAYS
from devtools.simulator import DO_PORTS, ShelterDdc
from tests.conftest import SEOUL

CALENDAR = "calendar.ddc_1_127_0_0_1_schedule"
#: Korea's offset as a fixed one: for year 1 the zone database gives Seoul's
#: local mean time (8:27:52 ahead of UTC), an offset the calendar API cannot parse.
KST = timezone(timedelta(hours=9))


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


async def _ask(
    hass_client: ClientSessionGenerator, token: str, start: datetime, end: datetime
) -> tuple[int, Any]:
    """Ask the calendar API as the token's user; return status and body.

    A request that kept Home Assistant busy for minutes (the bug these tests
    guard against) fails at the bound; how fast it answers is not timed.
    """
    session = await hass_client(token)
    async with asyncio.timeout(60):
        response = await session.get(
            f"/api/calendars/{CALENDAR}",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        body = await response.json()
    return response.status, body


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2000, 1, 1, tzinfo=SEOUL), datetime(2100, 1, 1, tzinfo=SEOUL)),
        (datetime(1, 1, 2, tzinfo=KST), datetime(9999, 12, 30, tzinfo=KST)),
    ],
    ids=["a-century", "year-1-to-9999"],
)
async def test_a_read_only_user_cannot_make_the_calendar_work_for_years(
    hass: HomeAssistant,
    schedule: ShelterDdc,
    setup_platforms: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
    start: datetime,
    end: datetime,
) -> None:
    status, body = await _ask(hass_client, hass_read_only_access_token, start, end)
    # Home Assistant's calendar API answers a refused range with 500 and the message.
    assert status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert f"at most {MAX_RANGE_DAYS} days" in body["message"]


async def test_the_longest_range_is_answered_in_full_and_fast(
    hass: HomeAssistant,
    schedule: ShelterDdc,
    setup_platforms: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    start = datetime(2026, 1, 5, tzinfo=SEOUL)
    status, events = await _ask(
        hass_client,
        hass_read_only_access_token,
        start,
        start + timedelta(days=MAX_RANGE_DAYS),
    )
    assert status == HTTPStatus.OK
    # Four evening windows from the day before, then five windows a day.
    assert len(events) == 4 + 5 * MAX_RANGE_DAYS
    last_day = (start + timedelta(days=MAX_RANGE_DAYS - 1)).date().isoformat()
    assert events[-1]["start"]["dateTime"] == f"{last_day}T18:00:00+09:00"


async def test_the_first_and_last_days_there_are(
    hass: HomeAssistant, schedule: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    # Home Assistant's own API cannot carry these to the entity (it overflows
    # converting them to UTC), but an automation's template can.
    calendar = hass.data[CALENDAR_COMPONENT].get_entity(CALENDAR)
    assert calendar is not None
    first = await calendar.async_get_events(
        hass, datetime(1, 1, 1, tzinfo=SEOUL), datetime(1, 1, 2, tzinfo=SEOUL)
    )
    assert [(e.summary, e.start.isoformat()) for e in first][:2] == [
        ("Heated bench 1", "0001-01-01T07:00:00+08:27:52"),
        ("Interior light 1", "0001-01-01T18:00:00+08:27:52"),
    ]
    last = await calendar.async_get_events(
        hass,
        datetime(9999, 12, 31, tzinfo=SEOUL),
        datetime(9999, 12, 31, 23, 59, tzinfo=SEOUL),
    )
    # The evening windows of the day before run into the range; those of the
    # last day would end after it, so they are left out.
    assert [(e.summary, e.start.day) for e in last] == [
        ("Interior light 1", 30),
        ("Interior light 2", 30),
        ("Cooler/heater", 30),
        ("Heat-recovery ventilator", 30),
        ("Heated bench 1", 31),
    ]


@pytest.fixture
async def user_token(hass: HomeAssistant) -> str:
    """An access token of a user who is not an administrator (the "Users" group)."""
    group = await hass.auth.async_get_group(GROUP_ID_USER)
    user = MockUser(groups=[group]).add_to_hass(hass)
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return hass.auth.async_create_access_token(refresh)


async def test_the_get_events_action_refuses_a_long_range(
    hass: HomeAssistant,
    schedule: ShelterDdc,
    setup_platforms: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    user_token: str,
) -> None:
    # Read-only users may not call actions; any other user may.
    client = await hass_ws_client(hass, user_token)
    started = time.perf_counter()
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": "calendar",
            "service": "get_events",
            "target": {"entity_id": CALENDAR},
            "service_data": {
                "start_date_time": "2000-01-01 00:00:00",
                "duration": {"days": 36525},
            },
            "return_response": True,
        }
    )
    answer = await client.receive_json()
    assert time.perf_counter() - started < 0.2
    assert not answer["success"]
    assert answer["error"]["translation_key"] == "shelter_calendar_range_too_long"
    assert answer["error"]["translation_placeholders"] == {"days": str(MAX_RANGE_DAYS)}

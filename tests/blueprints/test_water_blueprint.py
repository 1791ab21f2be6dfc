"""The water-meter alert blueprint against a real water site fed through the push action."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.meters.conftest import push_meter, seoul, site_entry
from tests.meters.helpers import at, push

from .conftest import use_blueprint

ABOVE_Q4 = "binary_sensor.unit_101_above_q4"
LEAK = "binary_sensor.unit_101_leak_suspected"


@pytest.fixture
async def water_site(
    hass: HomeAssistant, config_dir: Path, freezer: FrozenDateTimeFactory
) -> AsyncIterator[MockConfigEntry]:
    """A site in Seoul with one pushed meter (Q4 3.125 m³/h), from 00:00 on day 1."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    freezer.move_to(seoul(1, 0, 0))
    entry = site_entry([push_meter("m101", "Unit 101")])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def reading(hass: HomeAssistant, index: float) -> None:
    """Record a reading of m101 now and let every listener of its state changes run."""
    await push(hass, "m101", index)
    await hass.async_block_till_done()


async def notifications(hass: HomeAssistant, ws: WebSocketGenerator) -> list[Any]:
    """Return the persistent notifications, as the frontend reads them."""
    client = await ws(hass)
    await client.send_json_auto_id({"type": "persistent_notification/subscribe"})
    reply = await client.receive_json()
    assert reply["success"]
    event = await client.receive_json()
    return sorted(
        (n["notification_id"], n["title"], n["message"])
        for n in event["event"]["notifications"].values()
    )


async def test_over_q4_notifies_and_clears(
    hass: HomeAssistant,
    water_site: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    assert await async_setup_component(hass, "persistent_notification", {})
    calls = async_mock_service(hass, "notify", "site_manager")
    await use_blueprint(
        hass,
        "water_problem_alert.yaml",
        problems=[ABOVE_Q4, LEAK],
        notify_action="notify.site_manager",
        persistent=True,
    )
    await reading(hass, 10.0)
    assert calls == []

    # 0.6 m³ in 10 minutes = 3.6 m³/h, above Q4.
    await at(hass, freezer, seoul(1, 0, 10))
    await reading(hass, 10.6)
    assert hass.states.get(ABOVE_Q4).state == "on"
    assert [call.data for call in calls] == [
        {
            "title": "수도 계량기 이상",
            "message": "Unit 101 Above Q4: 문제가 감지되었습니다 (2026-01-05 00:10)",
        }
    ]
    assert await notifications(hass, hass_ws_client) == [
        (
            f"smartcity_ddc_water_{ABOVE_Q4}",
            "수도 계량기 이상",
            "Unit 101 Above Q4: 문제가 감지되었습니다 (2026-01-05 00:10)",
        )
    ]

    # Normal flow again: the notice that it cleared, and the notification goes away.
    await at(hass, freezer, seoul(1, 0, 20))
    await reading(hass, 10.7)
    assert hass.states.get(ABOVE_Q4).state == "off"
    assert calls[1].data == {
        "title": "수도 계량기 정상 복귀",
        "message": "Unit 101 Above Q4: 해소되었습니다 (2026-01-05 00:20)",
    }
    assert await notifications(hass, hass_ws_client) == []


async def test_problem_must_last_and_clearing_may_stay_quiet(
    hass: HomeAssistant,
    water_site: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    calls = async_mock_service(hass, "notify", "notify")
    await use_blueprint(
        hass,
        "water_problem_alert.yaml",
        problems=[ABOVE_Q4],
        delay={"minutes": 15},
        notify_cleared=False,
        language="en",
    )
    await reading(hass, 10.0)
    await at(hass, freezer, seoul(1, 0, 10))
    await reading(hass, 10.6)
    # Over Q4 for only ten minutes: no alert.
    await at(hass, freezer, seoul(1, 0, 20))
    await reading(hass, 10.7)
    assert hass.states.get(ABOVE_Q4).state == "off"
    await at(hass, freezer, seoul(1, 0, 40))
    assert calls == []

    # Over Q4 (1.2 m³ in 20 minutes) for 15 minutes: one alert in English, with
    # the time it began; its clearing stays quiet.
    await reading(hass, 11.9)
    await at(hass, freezer, seoul(1, 0, 55, 1))
    assert [call.data for call in calls] == [
        {
            "title": "Water meter problem",
            "message": "Unit 101 Above Q4: detected (2026-01-05 00:40)",
        }
    ]
    await at(hass, freezer, seoul(1, 1, 0))
    await reading(hass, 12.0)
    assert hass.states.get(ABOVE_Q4).state == "off"
    assert len(calls) == 1

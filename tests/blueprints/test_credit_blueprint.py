"""The low-credit warning blueprint against a real meter site: a prepaid meter's credit runs down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.smartcity_ddc.const import DOMAIN
from tests.meters.conftest import push_meter, seoul, site_entry
from tests.meters.helpers import push

from .conftest import use_blueprint


@pytest.fixture
async def prepaid_site(
    hass: HomeAssistant, config_dir: Path, freezer: FrozenDateTimeFactory
) -> AsyncIterator[MockConfigEntry]:
    """Two prepaid shops (money at 0.5 a kWh, warned at 10 left) and a kWh-prepaid flat."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    hass.config.currency = "KRW"
    freezer.move_to(seoul(1, 0, 0))
    money = {
        "medium": "electricity",
        "prepaid": "money",
        "tariff": 0.5,
        "low_credit": 10,
    }
    entry = site_entry(
        [
            push_meter("e301", "Shop 301", **money),
            push_meter("e302", "Shop 302", **money),
            push_meter(
                "e401", "Flat 401", medium="electricity", prepaid="kwh", low_credit=5
            ),
        ]
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for meter in ("e301", "e302", "e401"):
        await push(hass, meter, 100)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def top_up(hass: HomeAssistant, meter: str, amount: float) -> None:
    """Record a top-up through the action."""
    await hass.services.async_call(
        DOMAIN, "record_top_up", {"meter": meter, "amount": amount}, blocking=True
    )


async def test_warns_once_per_dip_before_the_supply_is_cut(
    hass: HomeAssistant,
    prepaid_site: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    assert await async_setup_component(hass, "persistent_notification", {})
    # Connected now: the clock jumps a week, past the test token's lifetime.
    client = await hass_ws_client(hass)
    calls = async_mock_service(hass, "notify", "shop_301")
    await use_blueprint(
        hass,
        "low_credit_warning.yaml",
        meters=["e301"],
        notify_action="notify.shop_301",
        persistent=True,
    )
    await top_up(hass, "e301", 50)
    await top_up(hass, "e302", 50)
    # 10 kWh a day for a week: 35 spent, 15 left, 3 days - not low yet.
    for day in range(2, 9):
        freezer.move_to(seoul(day, 0))
        await push(hass, "e301", 100 + 10 * (day - 1))
    await hass.async_block_till_done()
    assert calls == []
    # 10 kWh more (5 of credit): 10 left, 2 days - at the threshold.
    freezer.move_to(seoul(8, 12))
    await push(hass, "e301", 180)
    # Another meter falling low is not this automation's business.
    await push(hass, "e302", 190)
    await hass.async_block_till_done()
    assert [call.data for call in calls] == [
        {
            "title": "선불 잔액 부족: Shop 301",
            "message": "Shop 301의 남은 잔액은 10.00 KRW입니다. 최근 사용량이면 약 2.0일"
            " 남았습니다. 공급이 끊기기 전에 충전하세요.",
        }
    ]
    await client.send_json_auto_id({"type": "persistent_notification/subscribe"})
    assert (await client.receive_json())["success"]
    event = await client.receive_json()
    assert [
        (n["notification_id"], n["title"], n["message"])
        for n in event["event"]["notifications"].values()
    ] == [
        (
            "smartcity_ddc_low_credit_e301",
            "선불 잔액 부족: Shop 301",
            calls[0].data["message"],
        )
    ]
    # Still low: no second warning. After a top-up it falls low again: a new one.
    freezer.move_to(seoul(8, 13))
    await push(hass, "e301", 182)
    await top_up(hass, "e301", 20)
    freezer.move_to(seoul(8, 20))
    await push(hass, "e301", 222)
    await hass.async_block_till_done()
    assert len(calls) == 2


async def test_every_prepaid_meter_in_english_and_kwh(
    hass: HomeAssistant, prepaid_site: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    calls = async_mock_service(hass, "notify", "notify")
    await use_blueprint(hass, "low_credit_warning.yaml", language="en")
    await top_up(hass, "e401", 8)
    freezer.move_to(seoul(1, 6))
    await push(hass, "e401", 103.5)
    await hass.async_block_till_done()
    # 8 kWh bought, 3.5 used: 4.5 left, under 5; no full day yet, so no days left.
    assert [call.data for call in calls] == [
        {
            "title": "Low prepaid credit: Flat 401",
            "message": "Flat 401 has 4.5 kWh of credit left. Top up before the supply"
            " is cut.",
        }
    ]

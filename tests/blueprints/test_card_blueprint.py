"""The household card notice, driven by rows in a real MariaDB interface table."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from tests.cards.helpers import CardTable, delete, issue

from .conftest import use_blueprint


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests connect to MariaDB on 127.0.0.1."""


async def sync(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Run one sync now and let the events' listeners run."""
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()


async def test_the_household_hears_of_its_own_cards_only(
    hass: HomeAssistant,
    config_dir: Path,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    calls = async_mock_service(hass, "notify", "mobile_app_household_1203")
    await use_blueprint(
        hass,
        "access_card_household_notify.yaml",
        dong="101",
        ho="1203",
        notify_action="notify.mobile_app_household_1203",
    )
    card_table.insert(
        issue("8800000001", "홍길동", "A", "101", "1203"),
        issue("8800000002", "김철수", "A", "101", "1204"),
        issue("8800000003", "이영희", "B", "102", "1203"),
    )
    await sync(hass, setup_cards)
    assert [call.data for call in calls] == [
        {
            "title": "출입카드 발급",
            "message": "101동 1203호 출입카드(****0001)가 발급되었습니다 — 101동 공동현관.",
        }
    ]

    # Re-issued, then deleted by a row carrying the card number only.
    card_table.insert(issue("8800000001", "홍길동", "A", "101", "1203"))
    await sync(hass, setup_cards)
    card_table.insert(delete("8800000001"))
    await sync(hass, setup_cards)
    assert [call.data["title"] for call in calls] == [
        "출입카드 발급",
        "출입카드 재발급",
        "출입카드 삭제",
    ]
    assert calls[2].data["message"] == (
        "101동 1203호 출입카드(****0001)가 삭제되었습니다 — 101동 공동현관."
    )
    # The holder's name is in the server's row, never in a notice.
    for call in calls:
        for name in ("홍길동", "김철수", "이영희", "8800000001"):
            assert name not in str(call.data)


async def test_leading_zeros_kinds_and_english(
    hass: HomeAssistant,
    config_dir: Path,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    calls = async_mock_service(hass, "notify", "mobile_app_household_501")
    await use_blueprint(
        hass,
        "access_card_household_notify.yaml",
        dong="105",
        ho="501",
        notify_action="notify.mobile_app_household_501",
        kinds=["deleted"],
        language="en",
    )
    # The server writes ho as 0501; an unnamed group shows its code.
    card_table.insert(issue("8800000004", "박민수", "Z", "105", "0501"))
    await sync(hass, setup_cards)
    assert calls == []  # issued, but only deletions were asked for
    card_table.insert(delete("8800000004"))
    await sync(hass, setup_cards)
    assert [call.data for call in calls] == [
        {
            "title": "Access card deleted",
            "message": "Access card ****0004 for building 105, unit 0501 was deleted (Z).",
        }
    ]

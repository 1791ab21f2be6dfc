"""Card numbers and holders' names never leave the registry, and diagnostics are redacted.

Everything a user, an automation or a support request can see is collected
after syncs that issue, delete and reject cards and after failures: logs at
DEBUG level, states and attributes, events, repair issues, error messages,
action responses for non-administrators and the diagnostics download.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smartcity_ddc.const import DOMAIN

from .helpers import CardTable, assert_private, delete, issue

CARD_NUMBERS = ["8812345001", "8812345002", "8812345003", "8812345004", "8812345005"]
NAMES = ["홍길동", "김철수", "Alice Kim", "관리자박", "이영희"]


async def test_nothing_personal_leaves_the_registry(
    hass: HomeAssistant,
    card_table: CardTable,
    cards_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []

    @callback
    def capture(event: Event) -> None:
        if event.event_type.startswith(DOMAIN):
            events.append(event)

    hass.bus.async_listen("*", capture)  # type: ignore[arg-type]
    card_table.wide = True
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    card_table.create()
    card_table.insert(
        issue(CARD_NUMBERS[0], NAMES[0], "A", "101", "1203"),
        issue(CARD_NUMBERS[1], NAMES[1], "Z", "101", "1204"),
        issue(CARD_NUMBERS[2], NAMES[2], "B", "9999", "9999"),
        (CARD_NUMBERS[3], NAMES[3], "A", "101", "1205", "X"),
        (CARD_NUMBERS[4], NAMES[4] * 11, "A", "101", "1206", "I"),  # too long
        delete(CARD_NUMBERS[0]),
    )
    cards_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(cards_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = cards_entry.runtime_data
    assert coordinator.engine.stats().total == 2

    seen: list[str] = []
    response = await hass.services.async_call(
        DOMAIN,
        "get_cards",
        {"config_entry_id": cards_entry.entry_id, "full_numbers": True},
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_read_only_user.id),
    )
    seen.append(json.dumps(response, ensure_ascii=False))
    summary = await hass.services.async_call(
        DOMAIN,
        "sync_cards",
        {"config_entry_id": cards_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    seen.append(json.dumps(summary, ensure_ascii=False))

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, cards_entry)
    seen.append(json.dumps(diagnostics, ensure_ascii=False))

    # A failure: its message and log lines.
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    seen.append(str(coordinator.last_exception))

    seen.extend(
        f"{state.entity_id} {state.state} {dict(state.attributes)}"
        for state in hass.states.async_all()
    )
    seen.extend(json.dumps(event.data, ensure_ascii=False) for event in events)
    seen.extend(
        f"{found.translation_key} {found.translation_placeholders}"
        for found in ir.async_get(hass).issues.values()
    )
    # The test harness's in-memory storage logs what it is given; Home
    # Assistant's real Store logs only the key and the path.
    seen.extend(
        f"{record.name} {record.getMessage()}"
        for record in caplog.records
        if not record.name.startswith("pytest_homeassistant_custom_component")
    )

    text = "\n".join(seen)
    assert_private(text, [*CARD_NUMBERS, *NAMES])
    # The checks saw what they were meant to see.
    assert "****5001" in text
    assert "unknown_flag" in text
    assert len(events) == 6
    assert "cards_table_missing" in text
    assert "Card sync: " in text  # the engine's DEBUG lines were captured


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    card_table.insert(
        issue(CARD_NUMBERS[0], NAMES[0], "A"),
        issue(CARD_NUMBERS[1], NAMES[1], "Z"),
        (CARD_NUMBERS[3], NAMES[3], "A", "101", "1205", "X"),
    )
    await setup_cards.runtime_data.async_sync_now()
    # A failure leaves its (redacted) trace in the database statistics.
    card_table.kill_connections()
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    await setup_cards.runtime_data.async_refresh()
    data: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, setup_cards
    )
    assert data["entry"]["title"] == "**REDACTED**"
    entry_data = data["entry"]["data"]
    for key in ("host", "username", "password", "database"):
        assert entry_data[key] == "**REDACTED**", key
    assert entry_data["tls_ca_file"] == ""  # nothing to hide
    assert entry_data["table"] == "t_card_issue_if"
    assert data["entry"]["options"]["groups"] == {"A": "101동 공동현관", "B": "관리동"}
    assert data["registry"] == {
        "total": 2,
        "managers": 0,
        "by_group": {"A": 1, "Z": 1},
        "unknown_groups": {"Z": 1},
        "pending_deletes": 0,
    }
    assert data["rejected"] == [
        {
            "idx": 3,
            "reason": "unknown_flag",
            "column": "issue_flag",
            "flag": None,
            "at": data["rejected"][0]["at"],
            "acknowledged": False,
        }
    ]
    assert data["last_update_success"] is False
    assert data["last_error"] == "UpdateFailed"
    assert data["last_error_key"] == "cards_table_missing"
    assert data["last_summary"]["issued"] == 2
    database = data["database"]
    assert database["errors"] >= 1
    assert "MariaDB" in database["server_version"]
    text = json.dumps(data, ensure_ascii=False)
    for secret in (
        card_table.account.user,
        card_table.account.password,
        card_table.account.database,
        "127.0.0.1",
        *CARD_NUMBERS,
        *NAMES,
    ):
        assert secret not in text, secret

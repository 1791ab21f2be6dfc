"""A card sync in Home Assistant: setup, entities, events, repair issues, outages, removal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.smartcity_ddc.cards.const import (
    CONF_GROUPS,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    EVENT_CARD_DELETED,
    EVENT_CARD_ISSUED,
    EVENT_CARD_REJECTED,
)
from custom_components.smartcity_ddc.cards.coordinator import CardsCoordinator
from custom_components.smartcity_ddc.cards.engine.sync import SyncStep
from custom_components.smartcity_ddc.compat import device_by_identifier
from custom_components.smartcity_ddc.const import DOMAIN
from devtools.mariadb import MariaDbServer

from .helpers import (
    CardTable,
    delete,
    issue,
    read_registry,
    registry_path,
    unwritable_registry,
    write_registry,
)


def entity_id(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> str:
    """Return the entity id of a card-sync entity by its key."""
    platform = "binary_sensor" if key == "cards_sync_problem" else "sensor"
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{entry.entry_id}_{key}"
    )
    assert found is not None, key
    return found


def state(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> Any:
    found = hass.states.get(entity_id(hass, entry, key))
    assert found is not None
    return found


async def test_setup_syncs_and_creates_the_entities(
    hass: HomeAssistant, card_table: CardTable, cards_entry: MockConfigEntry
) -> None:
    card_table.insert(
        issue("8800000001", "홍길동", "A", "101", "1203"),
        issue("8800000002", "김철수", "A", "101", "1204"),
        issue("8800000003", "관리자", "B", "9999", "9999"),
        delete("8800000002"),
    )
    cards_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(cards_entry.entry_id)
    await hass.async_block_till_done()
    assert cards_entry.state is ConfigEntryState.LOADED
    assert card_table.rows() == []

    registered = state(hass, cards_entry, "cards_registered")
    assert registered.state == "2"
    assert registered.attributes["managers"] == 1
    assert registered.attributes["residents"] == 1
    assert registered.attributes["by_group"] == {"A": 1, "B": 1}
    assert registered.attributes["unknown_group_cards"] == 0
    assert (
        registered.attributes["friendly_name"]
        == f"{cards_entry.title} Registered cards"
    )
    lobby = state(hass, cards_entry, "cards_group_A")
    assert (lobby.state, lobby.attributes["code"]) == ("1", "A")
    assert lobby.attributes["friendly_name"].endswith("Cards in 101동 공동현관")
    assert state(hass, cards_entry, "cards_group_B").state == "1"
    applied = state(hass, cards_entry, "cards_rows_applied")
    assert applied.state == "4"
    assert (applied.attributes["issued"], applied.attributes["deleted"]) == (3, 1)
    assert state(hass, cards_entry, "cards_rows_rejected").state == "0"
    assert state(hass, cards_entry, "cards_last_sync").state not in (
        "unknown",
        "unavailable",
    )
    problem = state(hass, cards_entry, "cards_sync_problem")
    assert problem.state == STATE_OFF
    assert problem.attributes["error"] is None

    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, cards_entry.entry_id), cards_entry.entry_id
    )
    assert device is not None
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == cards_entry.title

    assert await hass.config_entries.async_unload(cards_entry.entry_id)
    assert cards_entry.state is ConfigEntryState.NOT_LOADED


async def test_periodic_sync_fires_events(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    issued = async_capture_events(hass, EVENT_CARD_ISSUED)
    deleted = async_capture_events(hass, EVENT_CARD_DELETED)
    idxs = card_table.insert(
        issue("8800000001", "홍길동", "A", "101", "1203"),
        issue("8800000003", "관리자", "B", "9999", "9999"),
        issue("8800000004", "새그룹", "Z", "105", "0501"),
        delete("8800000001"),
        delete("8800000777"),
    )
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done(wait_background_tasks=True)
    entry_id = setup_cards.entry_id
    assert [event.data for event in issued] == [
        {
            "entry_id": entry_id, "idx": idxs[0], "masked_card_number": "****0001",
            "dong": "101", "ho": "1203", "group": "A", "group_name": "101동 공동현관",
            "manager": False, "replaced": False,
        },
        {
            "entry_id": entry_id, "idx": idxs[1], "masked_card_number": "****0003",
            "dong": "9999", "ho": "9999", "group": "B", "group_name": "관리동",
            "manager": True, "replaced": False,
        },
        {
            "entry_id": entry_id, "idx": idxs[2], "masked_card_number": "****0004",
            "dong": "105", "ho": "0501", "group": "Z", "group_name": None,
            "manager": False, "replaced": False,
        },
    ]  # fmt: skip
    assert [event.data for event in deleted] == [
        {
            "entry_id": entry_id, "idx": idxs[3], "masked_card_number": "****0001",
            "dong": "101", "ho": "1203", "group": "A", "group_name": "101동 공동현관",
            "manager": False, "was_registered": True,
        },
        {
            "entry_id": entry_id, "idx": idxs[4], "masked_card_number": "****0777",
            "dong": None, "ho": None, "group": None, "group_name": None,
            "manager": False, "was_registered": False,
        },
    ]  # fmt: skip
    assert state(hass, setup_cards, "cards_registered").state == "2"


async def test_unknown_group_codes_raise_an_issue_until_named(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card_table.insert(issue("8800000001", "a", "Z"), issue("8800000002", "b", "Z"))
    await setup_cards.runtime_data.async_refresh()
    await hass.async_block_till_done()
    issue_id = f"cards_unknown_group_{setup_cards.entry_id}"
    found = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert found is not None
    assert found.translation_key == "cards_unknown_group"
    assert found.translation_placeholders == {
        "title": setup_cards.title,
        "codes": "Z (2)",
    }
    assert "access group code 'Z' has no name" in caplog.text
    problem = state(hass, setup_cards, "cards_sync_problem")
    assert problem.state == STATE_ON
    assert problem.attributes["unknown_group_codes"] == ["Z"]
    assert (
        state(hass, setup_cards, "cards_registered").attributes["unknown_group_cards"]
        == 2
    )

    hass.config_entries.async_update_entry(
        setup_cards, options={**setup_cards.options, CONF_GROUPS: {"Z": "지하"}}
    )
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state(hass, setup_cards, "cards_sync_problem").state == STATE_OFF
    assert state(hass, setup_cards, "cards_group_Z").state == "2"


async def test_rejected_rows_raise_a_fixable_issue_and_an_event(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    rejected = async_capture_events(hass, EVENT_CARD_REJECTED)
    idxs = card_table.insert(
        ("8800000005", "박민수", "A", "101", "1203", "X"),
        ("", "빈번호", "A", "101", "1203", "I"),
        issue("8800000006", "최"),
    )
    await setup_cards.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert card_table.rows() == []
    assert [event.data for event in rejected] == [
        {
            "entry_id": setup_cards.entry_id, "idx": idxs[0], "reason": "unknown_flag",
            "column": "issue_flag", "masked_card_number": "****0005", "dong": "101",
            "ho": "1203",
        },
        {
            "entry_id": setup_cards.entry_id, "idx": idxs[1], "reason": "empty_card_number",
            "column": "card_no", "masked_card_number": None, "dong": "101", "ho": "1203",
        },
    ]  # fmt: skip
    issue_id = f"cards_rejected_{setup_cards.entry_id}"
    found = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert found is not None
    assert found.is_fixable
    assert found.translation_placeholders == {
        "title": setup_cards.title,
        "count": "2",
        "rows": f"- idx {idxs[0]}: unknown_flag (issue_flag), ****0005\n"
        f"- idx {idxs[1]}: empty_card_number (card_no)",
    }
    rows_rejected = state(hass, setup_cards, "cards_rows_rejected")
    assert (rows_rejected.state, rows_rejected.attributes["unacknowledged"]) == ("2", 2)
    problem = state(hass, setup_cards, "cards_sync_problem")
    assert problem.state == STATE_ON
    assert problem.attributes["unacknowledged_rejected_rows"] == 2

    # The repair flow acknowledges the rows.
    assert await async_setup_component(hass, "repairs", {})
    from homeassistant.components.repairs import DOMAIN as REPAIRS

    manager = hass.data[REPAIRS]["flow_manager"]
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["count"] == "2"
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state(hass, setup_cards, "cards_sync_problem").state == STATE_OFF
    assert (
        state(hass, setup_cards, "cards_rows_rejected").attributes["unacknowledged"]
        == 0
    )


async def test_many_rejected_rows_are_summarised(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(
        *[(f"88000001{n:02d}", "n", "A", "1", "1", "X") for n in range(25)]
    )
    await setup_cards.runtime_data.async_refresh()
    found = ir.async_get(hass).async_get_issue(
        DOMAIN, f"cards_rejected_{setup_cards.entry_id}"
    )
    assert found is not None
    lines = found.translation_placeholders["rows"].splitlines()  # type: ignore[index]
    assert lines[0] == "- … 5"
    assert len(lines) == 21


async def test_the_database_going_away_mid_sync_and_coming_back(
    hass: HomeAssistant,
    mariadb_private: MariaDbServer,
    private_table: CardTable,
    groups: dict[str, str],
) -> None:
    data = private_table.entry_data()
    entry = MockConfigEntry(version=2, domain=DOMAIN, title="Access cards (x)", data=data,
                            options={"scan_interval": 30, CONF_GROUPS: groups})  # fmt: skip
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issued = async_capture_events(hass, EVENT_CARD_ISSUED)
    coordinator: CardsCoordinator = entry.runtime_data
    coordinator.engine.batch_size = 2
    private_table.insert(*(issue(f"880000000{n}", f"n{n}") for n in range(5)))

    async def stop_server(step: SyncStep) -> None:
        if step is SyncStep.PERSISTED:
            mariadb_private.shutdown()

    coordinator.engine.checkpoint = stop_server
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert not coordinator.last_update_success
    problem = state(hass, entry, "cards_sync_problem")
    assert problem.state == STATE_ON
    assert problem.attributes["error"] == "cards_cannot_connect"
    # The registry is local: the first batch is registered and shown.
    registered = state(hass, entry, "cards_registered")
    assert registered.state == "2"
    assert len(issued) == 2

    mariadb_private.start()
    coordinator.engine.checkpoint = _no_op
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success
    assert state(hass, entry, "cards_sync_problem").state == STATE_OFF
    assert state(hass, entry, "cards_registered").state == "5"
    assert private_table.rows() == []
    assert [event.data["idx"] for event in issued] == [1, 2, 3, 4, 5]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def _no_op(step: SyncStep) -> None:
    return None


async def test_a_server_down_at_startup_still_loads_the_registry(
    hass: HomeAssistant,
    mariadb_private: MariaDbServer,
    private_table: CardTable,
) -> None:
    entry = MockConfigEntry(version=2, domain=DOMAIN, title="Access cards (x)", data=private_table.entry_data(),
                            options={"scan_interval": 30, CONF_GROUPS: {"A": "로비"}})  # fmt: skip
    write_registry(hass, entry.entry_id, {
        "cards": {
            "8800000001": {"name": "홍길동", "group": "A", "dong": "101", "ho": "1203",
                           "idx": 1, "updated": "2026-03-02T09:00:00+00:00"},
        },
        "rejected": [],
        "pending": {},
    })  # fmt: skip
    mariadb_private.shutdown()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert state(hass, entry, "cards_registered").state == "1"
    assert state(hass, entry, "cards_group_A").state == "1"
    assert state(hass, entry, "cards_last_sync").state == "unknown"
    assert state(hass, entry, "cards_rows_applied").state == "unknown"
    problem = state(hass, entry, "cards_sync_problem")
    assert (problem.state, problem.attributes["error"]) == (
        STATE_ON,
        "cards_cannot_connect",
    )
    mariadb_private.start()
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert state(hass, entry, "cards_sync_problem").state == STATE_OFF
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_store_that_cannot_write_deletes_nothing(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(issue("8800000001", "a"))
    with unwritable_registry(hass, setup_cards.entry_id):
        await setup_cards.runtime_data.async_refresh()
        assert len(card_table.rows()) == 1
        problem = state(hass, setup_cards, "cards_sync_problem")
        assert problem.attributes["error"] == "cards_store_error"
        assert state(hass, setup_cards, "cards_registered").state == "0"
        with pytest.raises(HomeAssistantError) as err:
            await setup_cards.runtime_data.async_sync_now()
        assert err.value.translation_key == "cards_store_error"
        assert len(card_table.rows()) == 1
    # While Home Assistant stops, the registry is still written for real
    # before any row is deleted (nothing waits for a deferred write).
    hass.set_state(CoreState.stopping)
    try:
        await setup_cards.runtime_data.async_sync_now()
    finally:
        hass.set_state(CoreState.running)
    assert card_table.rows() == []
    assert "8800000001" in read_registry(hass, setup_cards.entry_id)["data"]["cards"]
    assert state(hass, setup_cards, "cards_registered").state == "1"


async def test_a_missing_ca_file_is_a_permanent_setup_error(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    entry = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data=card_table.entry_data(
            **{CONF_TLS: True, CONF_TLS_CA_FILE: "/nonexistent/ca.pem"}
        ),
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 1, "key": "smartcity_ddc.cards", "data": {"cards": {',
        '{"version": 1, "key": "smartcity_ddc.cards", "data": ["8800000001"]}',
        '["8800000001"]',
    ],
    ids=["cut-off", "data-not-a-mapping", "not-a-document"],
)
async def test_a_registry_that_cannot_be_read_stops_setup_and_is_kept(
    hass: HomeAssistant, card_table: CardTable, content: str
) -> None:
    # A registry damaged on disk is not taken for an empty one: starting
    # afresh would register the table's rows, delete them, and overwrite the
    # cards the damaged file still holds.
    entry = MockConfigEntry(version=2, domain=DOMAIN, data=card_table.entry_data())
    path = registry_path(hass, entry.entry_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    card_table.insert(issue("8800000002", "a"))
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "cards_store_error"
    assert path.read_text() == content
    assert len(card_table.rows()) == 1


async def test_a_table_error_is_translated(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    await setup_cards.runtime_data.async_refresh()
    err = setup_cards.runtime_data.last_exception
    assert getattr(err, "translation_key", None) == "cards_table_missing"
    assert err.translation_placeholders["table"] == "t_card_issue_if"  # type: ignore[union-attr]
    assert state(hass, setup_cards, "cards_sync_problem").attributes["error"] == (
        "cards_table_missing"
    )


async def test_removing_the_entry_deletes_the_registry(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    card_table.insert(issue("8800000001", "a", "Z"), ("1", "n", "A", "1", "1", "X"))
    await setup_cards.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert "8800000001" in read_registry(hass, setup_cards.entry_id)["data"]["cards"]
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, f"cards_rejected_{setup_cards.entry_id}")
    assert await hass.config_entries.async_remove(setup_cards.entry_id)
    await hass.async_block_till_done()
    assert not registry_path(hass, setup_cards.entry_id).exists()
    assert not registry.async_get_issue(
        DOMAIN, f"cards_rejected_{setup_cards.entry_id}"
    )
    assert not registry.async_get_issue(
        DOMAIN, f"cards_unknown_group_{setup_cards.entry_id}"
    )


async def test_the_registry_file_is_private(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(issue("8800000001", "a"))
    await setup_cards.runtime_data.async_refresh()
    path = registry_path(hass, setup_cards.entry_id)
    # Readable and writable by Home Assistant's user only, written whole.
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_registry(hass, setup_cards.entry_id)["key"] == path.name
    assert not list(path.parent.glob(f"{path.name}*.tmp*"))


async def test_other_database_errors_are_translated(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.server.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON t_card_issue_if FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'deletes are off', MYSQL_ERRNO = 1644",
        database=card_table.account.database,
    )
    card_table.insert(issue("8800000001", "a"))
    await setup_cards.runtime_data.async_refresh()
    problem = state(hass, setup_cards, "cards_sync_problem")
    assert (problem.state, problem.attributes["error"]) == (
        STATE_ON,
        "cards_database_error",
    )
    # The row was applied and stored before its delete failed; it is not lost.
    assert state(hass, setup_cards, "cards_registered").state == "1"
    assert len(card_table.rows()) == 1


async def test_an_unexpected_error_shows_as_a_sync_problem(
    hass: HomeAssistant, setup_cards: MockConfigEntry
) -> None:
    coordinator = setup_cards.runtime_data
    with patch.object(coordinator.engine, "sync", side_effect=RuntimeError("bug")):
        await coordinator.async_refresh()
    problem = state(hass, setup_cards, "cards_sync_problem")
    assert (problem.state, problem.attributes["error"]) == (
        STATE_ON,
        "cards_database_error",
    )


async def test_acknowledging_when_the_store_fails(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(("8800000001", "n", "A", "1", "1", "X"))
    coordinator = setup_cards.runtime_data
    await coordinator.async_refresh()
    with (
        unwritable_registry(hass, setup_cards.entry_id),
        pytest.raises(HomeAssistantError) as err,
    ):
        await coordinator.async_acknowledge_rejected()
    assert err.value.translation_key == "cards_store_error"
    assert len(coordinator.engine.unacknowledged()) == 1


async def test_repair_flows_for_other_issues_and_unloaded_entries(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    from custom_components.smartcity_ddc.cards.repairs import CardsRejectedRepairFlow
    from custom_components.smartcity_ddc.repairs import async_create_fix_flow

    other = await async_create_fix_flow(hass, "register_collision_x", None)
    assert not isinstance(other, CardsRejectedRepairFlow)
    card_table.insert(("8800000001", "n", "A", "1", "1", "X"))
    await setup_cards.runtime_data.async_refresh()
    assert await async_setup_component(hass, "repairs", {})
    issue_id = f"cards_rejected_{setup_cards.entry_id}"
    from homeassistant.components.repairs import DOMAIN as REPAIRS

    manager = hass.data[REPAIRS]["flow_manager"]
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    await hass.config_entries.async_unload(setup_cards.entry_id)
    # Confirming while the entry is unloaded acknowledges nothing.
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    await hass.config_entries.async_setup(setup_cards.entry_id)
    await hass.async_block_till_done()
    assert len(setup_cards.runtime_data.engine.unacknowledged()) == 1

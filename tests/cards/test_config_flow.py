"""Config, reauth, reconfigure and options flows of a card sync, against a real MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.cards.const import (
    CONF_DATABASE,
    CONF_GROUPS,
    CONF_TABLE,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    CONF_TLS_VERIFY,
)
from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from devtools.mariadb import HOST, MariaDbServer, write_test_ca

from .helpers import CardTable, issue


@pytest.fixture
def no_setup() -> Iterator[None]:
    """Create entries without setting them up (the flow is what is tested)."""
    with patch("custom_components.smartcity_ddc.async_setup_entry", return_value=True):
        yield


def form(card_table: CardTable, **changes: Any) -> dict[str, Any]:
    """Return what a user types into the connection form."""
    values: dict[str, Any] = {
        CONF_HOST: HOST,
        CONF_PORT: card_table.server.port,
        CONF_DATABASE: card_table.account.database,
        CONF_USERNAME: card_table.account.user,
        CONF_PASSWORD: card_table.account.password,
        CONF_TABLE: card_table.table,
        CONF_TLS: False,
        CONF_TLS_CA_FILE: "",
        CONF_TLS_VERIFY: True,
        CONF_SCAN_INTERVAL: 45,
    }
    values.update(changes)
    return values


async def open_form(hass: HomeAssistant) -> str:
    """Open the flow, choose the card sync in the menu; return the flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["shelter", "cards", "meters"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "cards"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "cards"
    return str(result["flow_id"])


async def submit(hass: HomeAssistant, flow_id: str, values: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(flow_id, values)


@pytest.mark.usefixtures("no_setup")
async def test_user_flow_creates_the_entry(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table, **{CONF_HOST: f" {HOST} "}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Access cards ({card_table.account.database} @ {HOST})"
    assert result["data"] == {
        CONF_KIND: EntryKind.CARDS,
        CONF_HOST: HOST,
        CONF_PORT: card_table.server.port,
        CONF_DATABASE: card_table.account.database,
        CONF_USERNAME: card_table.account.user,
        CONF_PASSWORD: card_table.account.password,
        CONF_TABLE: "t_card_issue_if",
        CONF_TLS: False,
        CONF_TLS_CA_FILE: "",
        CONF_TLS_VERIFY: True,
    }
    assert result["options"] == {CONF_SCAN_INTERVAL: 45, CONF_GROUPS: {}}
    # Which table an entry syncs is in its data; no unique id made of a host name.
    assert result["result"].unique_id is None
    # The flow only checks the table: nothing is read or deleted.
    assert card_table.rows() == []


@pytest.mark.usefixtures("no_setup")
async def test_the_same_table_twice_is_refused(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    flow_id = await open_form(hass)
    assert (await submit(hass, flow_id, form(card_table)))[
        "type"
    ] is FlowResultType.CREATE_ENTRY
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # The server's name in another case is the same server.
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table, **{CONF_HOST: HOST.upper()}))
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_PASSWORD: "wrong"}, {"base": "cards_invalid_auth"}),
        ({CONF_DATABASE: "no_such_db"}, {CONF_DATABASE: "cards_unknown_database"}),
        ({CONF_TABLE: "t_missing"}, {CONF_TABLE: "cards_table_missing"}),
        ({CONF_TABLE: "t-card"}, {CONF_TABLE: "cards_invalid_table_name"}),
    ],
)
@pytest.mark.usefixtures("no_setup")
async def test_errors_then_the_fixed_form_succeeds(
    hass: HomeAssistant,
    card_table: CardTable,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table, **changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # The form keeps what was typed, except the password.
    schema = result["data_schema"].schema
    defaults = {str(key): key.default() for key in schema if callable(key.default)}
    assert defaults[CONF_DATABASE] == form(card_table, **changes)[CONF_DATABASE]
    assert CONF_PASSWORD not in defaults
    result = await submit(hass, flow_id, form(card_table))
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("no_setup")
async def test_missing_columns_are_named(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    card_table.server.execute(
        "ALTER TABLE t_card_issue_if DROP COLUMN dong_code",
        database=card_table.account.database,
    )
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table))
    assert result["errors"] == {CONF_TABLE: "cards_column_missing"}
    assert result["description_placeholders"]["columns"] == "dong_code"


@pytest.mark.usefixtures("no_setup")
async def test_a_user_that_may_not_delete(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    account = card_table.account
    card_table.server.execute(
        f"REVOKE DELETE ON `{account.database}`.* FROM '{account.user}'@'{HOST}'"
    )
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table))
    assert result["errors"] == {"base": "cards_no_permission"}
    assert result["description_placeholders"]["privilege"] == "DELETE"


@pytest.mark.usefixtures("no_setup")
async def test_a_table_the_server_cannot_delete_from(
    hass: HomeAssistant, card_table: CardTable
) -> None:
    # A view with an aggregate is not updatable: the server refuses DELETE (1288).
    card_table.server.execute(
        "CREATE VIEW v_cards AS SELECT MAX(idx) AS idx, card_no, user_name, io_group_id, "
        "dong_code, ho_code, issue_flag FROM t_card_issue_if GROUP BY card_no",
        database=card_table.account.database,
    )
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table, **{CONF_TABLE: "v_cards"}))
    assert result["errors"] == {"base": "cards_database_error"}
    assert "1288" in result["description_placeholders"]["error"]


@pytest.fixture
async def closed_port() -> int:
    server = await asyncio.start_server(lambda _r, _w: None, HOST, 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    held: list[asyncio.StreamWriter] = []

    async def accept(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, HOST, 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.usefixtures("no_setup")
async def test_nothing_listening(
    hass: HomeAssistant, card_table: CardTable, closed_port: int
) -> None:
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(card_table, **{CONF_PORT: closed_port}))
    assert result["errors"] == {"base": "cards_cannot_connect"}


@pytest.mark.usefixtures("no_setup")
async def test_a_server_that_never_answers(
    hass: HomeAssistant, card_table: CardTable, silent_port: int
) -> None:
    flow_id = await open_form(hass)
    with (
        patch("custom_components.smartcity_ddc.cards.coordinator.CONNECT_TIMEOUT", 0.2),
        patch("custom_components.smartcity_ddc.cards.coordinator.QUERY_TIMEOUT", 0.2),
    ):
        result = await submit(
            hass, flow_id, form(card_table, **{CONF_PORT: silent_port})
        )
    assert result["errors"] == {"base": "cards_timeout"}


@pytest.mark.usefixtures("no_setup")
async def test_tls_with_the_servers_ca(
    hass: HomeAssistant, mariadb: MariaDbServer, card_table: CardTable
) -> None:
    flow_id = await open_form(hass)
    result = await submit(
        hass,
        flow_id,
        form(card_table, **{CONF_TLS: True, CONF_TLS_CA_FILE: str(mariadb.ca_file)}),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TLS] is True


@pytest.mark.usefixtures("no_setup")
async def test_tls_errors(
    hass: HomeAssistant, card_table: CardTable, tmp_path: Path
) -> None:
    other, _, _ = write_test_ca(tmp_path, "other")
    flow_id = await open_form(hass)
    result = await submit(
        hass,
        flow_id,
        form(card_table, **{CONF_TLS: True, CONF_TLS_CA_FILE: str(other)}),
    )
    assert result["errors"] == {"base": "cards_tls_error"}
    result = await submit(
        hass,
        flow_id,
        form(
            card_table, **{CONF_TLS: True, CONF_TLS_CA_FILE: str(tmp_path / "nope.pem")}
        ),
    )
    assert result["errors"] == {CONF_TLS_CA_FILE: "cards_ca_file"}
    # Without verification the unknown CA is accepted: encrypted, not authenticated.
    result = await submit(
        hass,
        flow_id,
        form(
            card_table,
            **{CONF_TLS: True, CONF_TLS_CA_FILE: str(other), CONF_TLS_VERIFY: False},
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- reauth ----------------------------------------------------------------------


async def test_reauth_after_the_password_changed(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    entry = setup_cards
    account = card_table.account
    card_table.server.execute(
        f"ALTER USER '{account.user}'@'{HOST}' IDENTIFIED BY %s", ("n3w-Passw0rd",)
    )
    card_table.kill_connections()
    card_table.insert(issue("8800000001", "홍길동"))
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()

    problem = hass.states.get(
        "binary_sensor.access_cards_" + _slug(card_table) + "_sync_problem"
    )
    assert problem is not None
    assert problem.state == "on"
    assert problem.attributes["error"] == "cards_invalid_auth"
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == "reauth"
    assert flows[0]["step_id"] == "cards_reauth_confirm"

    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: account.user, CONF_PASSWORD: "still-wrong"}
    )
    assert result["errors"] == {"base": "cards_invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: account.user, CONF_PASSWORD: "n3w-Passw0rd"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PASSWORD] == "n3w-Passw0rd"
    assert entry.state is ConfigEntryState.LOADED
    # The reloaded entry synced the row that waited.
    assert card_table.rows() == []
    problem = hass.states.get(
        "binary_sensor.access_cards_" + _slug(card_table) + "_sync_problem"
    )
    assert problem is not None
    assert problem.state == "off"


def _slug(table: CardTable) -> str:
    return f"{table.account.database}_127_0_0_1"


async def test_reauth_started_by_hand_shows_the_form(
    hass: HomeAssistant, setup_cards: MockConfigEntry
) -> None:
    result = await setup_cards.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "cards_reauth_confirm"
    assert result["description_placeholders"]["title"] == setup_cards.title


# --- reconfigure ------------------------------------------------------------------


async def test_reconfigure_keeps_the_password_for_the_same_login(
    hass: HomeAssistant,
    mariadb: MariaDbServer,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    result = await setup_cards.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "cards"
    keys = {str(key) for key in result["data_schema"].schema}
    assert CONF_SCAN_INTERVAL not in keys
    # TLS turned on; the password field is left empty.
    values = form(
        card_table, **{CONF_TLS: True, CONF_TLS_CA_FILE: str(mariadb.ca_file)}
    )
    del values[CONF_PASSWORD], values[CONF_SCAN_INTERVAL]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], values)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert setup_cards.data[CONF_TLS] is True
    assert setup_cards.data[CONF_PASSWORD] == card_table.account.password
    assert setup_cards.state is ConfigEntryState.LOADED


async def test_reconfigure_asks_the_password_for_another_login(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    other = card_table.server.create_account(card_table.account.database)
    result = await setup_cards.start_reconfigure_flow(hass)
    values = form(card_table, **{CONF_USERNAME: other.user})
    del values[CONF_PASSWORD], values[CONF_SCAN_INTERVAL]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], values)
    # The stored password belongs to the old login: it is not sent for the new one.
    assert result["errors"] == {CONF_PASSWORD: "cards_password_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**values, CONF_PASSWORD: other.password}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert setup_cards.data[CONF_USERNAME] == other.user
    assert setup_cards.data[CONF_PASSWORD] == other.password
    assert setup_cards.state is ConfigEntryState.LOADED


async def test_reconfigure_errors_and_conflicts(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    result = await setup_cards.start_reconfigure_flow(hass)
    values = form(card_table, **{CONF_PASSWORD: "wrong"})
    del values[CONF_SCAN_INTERVAL]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], values)
    assert result["errors"] == {"base": "cards_invalid_auth"}
    # Another table is another card sync, not this one moved.
    values[CONF_TABLE] = "t_other"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], values)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cards_different_database"
    # The same table at an address another entry already syncs it from.
    other = MockConfigEntry(
        version=2, domain=DOMAIN, data=card_table.entry_data(**{CONF_HOST: "127.0.0.2"})
    )
    other.add_to_hass(hass)
    result = await setup_cards.start_reconfigure_flow(hass)
    values = form(card_table, **{CONF_HOST: "127.0.0.2"})
    del values[CONF_SCAN_INTERVAL]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], values)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# --- options ----------------------------------------------------------------------


async def test_options_sync_interval(
    hass: HomeAssistant, setup_cards: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(setup_cards.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "cards_options"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "cards_settings"}
    )
    assert result["step_id"] == "cards_settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 120}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_cards.options[CONF_SCAN_INTERVAL] == 120
    assert setup_cards.options[CONF_GROUPS] == {"A": "101동 공동현관", "B": "관리동"}
    assert setup_cards.runtime_data.update_interval.total_seconds() == 120


async def test_options_group_names(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(issue("8800000001", "n", "C"), issue("8800000002", "n", "D"))
    await setup_cards.runtime_data.async_refresh()
    result = await hass.config_entries.options.async_init(setup_cards.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "cards_groups"}
    )
    assert result["step_id"] == "cards_groups"
    assert result["description_placeholders"]["unknown"] == "C, D"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GROUPS: "A = 로비\nCC = 두 글자\nC = 지하 주차장\nD"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_GROUPS: "cards_invalid_groups"}
    assert result["description_placeholders"]["lines"] == "2, 4"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GROUPS: "A = 로비\nC = 지하 주차장\nD = 관리동"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_cards.options[CONF_GROUPS] == {
        "A": "로비",
        "C": "지하 주차장",
        "D": "관리동",
    }
    assert setup_cards.runtime_data.engine.unknown_groups() == {}
    # One sensor per named group; the sensor of group B, no longer named, is gone.
    entities = er.async_get(hass)
    groups = sorted(
        entity.unique_id.rsplit("_", 1)[1]
        for entity in er.async_entries_for_config_entry(entities, setup_cards.entry_id)
        if "_cards_group_" in entity.unique_id
    )
    assert groups == ["A", "C", "D"]
    sensor = entities.async_get_entity_id(
        "sensor", DOMAIN, f"{setup_cards.entry_id}_cards_group_C"
    )
    assert sensor is not None
    state = hass.states.get(sensor)
    assert state is not None
    assert state.state == "1"

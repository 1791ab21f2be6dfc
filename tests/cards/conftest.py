"""Fixtures for the card-sync tests: a real MariaDB on 127.0.0.1, a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
import secrets

from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.cards.const import CONF_GROUPS
from custom_components.smartcity_ddc.cards.coordinator import cards_title
from custom_components.smartcity_ddc.const import DOMAIN
from devtools.mariadb import MariaDbServer

from .helpers import CardTable


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests connect to MariaDB on 127.0.0.1 (pytest-socket blocks sockets)."""


@pytest.fixture(autouse=True)
def _config_dir_of_the_test(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Keep each test's card registry files in its own configuration directory.

    The registry is written to disk for real (atomically, mode 0600), so the
    tests read and break real files instead of the harness's in-memory Store.
    """
    if "hass" in request.fixturenames:
        hass: HomeAssistant = request.getfixturevalue("hass")
        hass.config.config_dir = str(tmp_path)


@pytest.fixture(scope="module")
def mariadb_private() -> Iterator[MariaDbServer]:
    """A MariaDB without TLS that tests may shut down and restart."""
    with MariaDbServer(durable=False) as server:
        yield server


def _table(server: MariaDbServer, **kwargs: object) -> Iterator[CardTable]:
    """Create a fresh database, user and interface table; drop them afterwards."""
    account = server.create_account(f"cards_{secrets.token_hex(5)}")
    table = CardTable(server, account, **kwargs)  # type: ignore[arg-type]
    table.create()
    yield table
    table.drop()


@pytest.fixture
def card_table(mariadb: MariaDbServer) -> Iterator[CardTable]:
    """A fresh interface table on the session server."""
    yield from _table(mariadb)


@pytest.fixture
def private_table(mariadb_private: MariaDbServer) -> Iterator[CardTable]:
    """A fresh interface table on the server tests may stop."""
    if not mariadb_private.running:
        mariadb_private.start()
    yield from _table(mariadb_private)
    if not mariadb_private.running:
        mariadb_private.start()


@pytest.fixture
def groups() -> dict[str, str]:
    """The access-group names of the test site."""
    return {"A": "101동 공동현관", "B": "관리동"}


@pytest.fixture
def cards_entry(card_table: CardTable, groups: dict[str, str]) -> MockConfigEntry:
    """A config entry for the interface table on the session server."""
    data = card_table.entry_data()
    return MockConfigEntry(
        domain=DOMAIN,
        title=cards_title(data),
        version=2,
        data=data,
        options={CONF_SCAN_INTERVAL: 30, CONF_GROUPS: groups},
    )


@pytest.fixture
async def setup_cards(
    hass: HomeAssistant, cards_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """Set up the card sync and unload it after the test."""
    cards_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(cards_entry.entry_id)
    await hass.async_block_till_done()
    yield cards_entry
    if hass.config_entries.async_get_entry(cards_entry.entry_id) is not None:
        await hass.config_entries.async_unload(cards_entry.entry_id)
        await hass.async_block_till_done()

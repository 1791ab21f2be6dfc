"""Fixtures for the card-sync tests: a real MariaDB on 127.0.0.1, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
import secrets

import pytest

from devtools.mariadb import MariaDbServer

from .helpers import CardTable


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests connect to MariaDB on 127.0.0.1 (pytest-socket blocks sockets)."""


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDbServer]:
    """One throwaway MariaDB (with TLS available) for the whole session."""
    with MariaDbServer(tls=True, durable=False) as server:
        yield server


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

"""Helpers for the card-sync tests: the interface table, an in-memory store, privacy checks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant

from custom_components.smartcity_ddc.cards.const import (
    CONF_DATABASE,
    CONF_TABLE,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    CONF_TLS_VERIFY,
)
from custom_components.smartcity_ddc.cards.engine.database import DbSettings
from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from devtools.mariadb import HOST, Account, MariaDbServer, card_table_ddl

type Row = tuple[str | None, str | None, str | None, str | None, str | None, str | None]

INSERT = (
    "INSERT INTO `{table}` (card_no, user_name, io_group_id, dong_code, ho_code, issue_flag) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)


def issue(
    card_no: str, name: str, group: str = "A", dong: str = "101", ho: str = "1203"
) -> Row:
    """Return an 'I' row."""
    return (card_no, name, group, dong, ho, "I")


def delete(card_no: str) -> Row:
    """Return a 'D' row with only the card number, as some vendors write them."""
    return (card_no, None, None, None, None, "D")


@dataclass
class CardTable:
    """The interface table of one test, in its own database."""

    server: MariaDbServer
    account: Account
    table: str = "t_card_issue_if"
    wide: bool = False

    def create(self) -> None:
        """Create the table (SPEC §4 column sizes unless wide)."""
        self.server.execute(
            card_table_ddl(self.table, wide=self.wide), database=self.account.database
        )

    def drop(self) -> None:
        """Drop the database and the user."""
        if self.server.running:
            self.server.drop_account(self.account)

    def insert(self, *rows: Row) -> list[int]:
        """Insert rows as the access-control server would; return their idx values."""
        connection = self.server.admin(self.account.database)
        try:
            with connection.cursor() as cursor:
                idxs = []
                for row in rows:
                    cursor.execute(INSERT.format(table=self.table), row)
                    idxs.append(int(cursor.lastrowid))
                return idxs
        finally:
            connection.close()

    def rows(self) -> list[tuple[Any, ...]]:
        """Return every row left in the table, in idx order."""
        return self.server.execute(
            f"SELECT idx, card_no, user_name, io_group_id, dong_code, ho_code, issue_flag "
            f"FROM `{self.table}` ORDER BY idx",
            database=self.account.database,
        )

    def idxs(self) -> list[int]:
        """Return the idx values left in the table."""
        return [int(row[0]) for row in self.rows()]

    def kill_connections(self) -> int:
        """KILL every connection of the application user, as an administrator would."""
        ids = [
            row[0]
            for row in self.server.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s",
                (self.account.user,),
            )
        ]
        for connection_id in ids:
            self.server.execute(f"KILL {int(connection_id)}")
        return len(ids)

    def settings(self, **changes: Any) -> DbSettings:
        """Return engine settings for this table."""
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.server.port,
            "user": self.account.user,
            "password": self.account.password,
            "database": self.account.database,
            "table": self.table,
            "connect_timeout": 5.0,
            "query_timeout": 10.0,
        }
        values.update(changes)
        return DbSettings(**values)

    def entry_data(self, **changes: Any) -> dict[str, Any]:
        """Return config entry data for this table."""
        data: dict[str, Any] = {
            CONF_KIND: EntryKind.CARDS,
            CONF_HOST: HOST,
            CONF_PORT: self.server.port,
            CONF_DATABASE: self.account.database,
            CONF_USERNAME: self.account.user,
            CONF_PASSWORD: self.account.password,
            CONF_TABLE: self.table,
            CONF_TLS: False,
            CONF_TLS_CA_FILE: "",
            CONF_TLS_VERIFY: True,
        }
        data.update(changes)
        return data


@dataclass
class MemoryStore:
    """An in-memory SyncStore for engine unit tests; keeps what a JSON file would."""

    data: dict[str, Any] | None = None
    saves: int = 0
    fail_next: bool = False
    #: Raise after writing: the crash happens between the write and its return.
    crash_after_write: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    async def load(self) -> Mapping[str, Any] | None:
        """Return a copy of the stored document."""
        return None if self.data is None else json.loads(json.dumps(self.data))

    async def save(self, data: dict[str, Any]) -> None:
        """Store a JSON round-trip of the document."""
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        self.data = json.loads(json.dumps(data))
        self.saves += 1
        if self.crash_after_write:
            self.crash_after_write = False
            raise SimulatedCrashError("crashed right after the write")


class SimulatedCrashError(BaseException):
    """Stands for the process dying at a step boundary."""


def assert_private(text: str, secrets: Iterable[str]) -> None:
    """Assert that none of the secrets (card numbers, names) occurs in text."""
    leaked = [secret for secret in secrets if secret and secret in text]
    if leaked:
        where = [line for line in text.splitlines() if any(s in line for s in leaked)]
        raise AssertionError(f"personal data leaked: {leaked} in {where[:3]}")


def registry_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Return where a card sync keeps its registry (Home Assistant's .storage)."""
    return Path(hass.config.path(".storage", f"{DOMAIN}.cards_{entry_id}"))


def read_registry(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    """Return the registry document as it is on disk."""
    document: dict[str, Any] = json.loads(registry_path(hass, entry_id).read_text())
    return document


def write_registry(hass: HomeAssistant, entry_id: str, data: dict[str, Any]) -> None:
    """Put a registry on disk as an earlier run of Home Assistant left it."""
    path = registry_path(hass, entry_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = f"{DOMAIN}.cards_{entry_id}"
    path.write_text(
        json.dumps({"version": 1, "minor_version": 1, "key": key, "data": data})
    )


@contextmanager
def unwritable_registry(hass: HomeAssistant, entry_id: str) -> Iterator[None]:
    """Make writing the registry fail for real: a directory stands where the file goes."""
    path = registry_path(hass, entry_id)
    saved = path.read_bytes() if path.exists() else None
    path.unlink(missing_ok=True)
    path.mkdir(parents=True)
    try:
        yield
    finally:
        path.rmdir()
        if saved is not None:
            path.write_bytes(saved)

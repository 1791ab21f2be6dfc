"""The complex server's MySQL interface table, through a small aiomysql pool.

Only three statements touch the table: the highest idx, a batch of rows in idx
order, and a delete of exact idx values. Values always travel as parameters;
the table name is a validated identifier quoted with backticks. Every
statement is bounded by the connect and query timeouts: aiomysql itself bounds
only the TCP connect, not the handshake or a query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
import logging
import re
import ssl
from typing import Any, Final
import weakref

import aiomysql
import pymysql

from .errors import (
    CardSyncAuthError,
    CardSyncCaFileError,
    CardSyncColumnMissingError,
    CardSyncConnectionError,
    CardSyncError,
    CardSyncPermissionError,
    CardSyncQueryError,
    CardSyncTableMissingError,
    CardSyncTimeoutError,
    CardSyncTlsError,
    CardSyncUnknownDatabaseError,
    InvalidTableNameError,
)
from .model import COLUMNS, DEFAULT_TABLE, RawRow

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 3306
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_QUERY_TIMEOUT: Final = 15.0
#: Connections are replaced after this long; servers drop idle ones (wait_timeout).
POOL_RECYCLE: Final = 300
#: At most this many idx values in one DELETE statement.
DELETE_CHUNK: Final = 1000

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,63}")

# MySQL / MariaDB error codes the sync tells apart.
_ER_DBACCESS_DENIED = 1044
_ER_ACCESS_DENIED = 1045
_ER_BAD_DB = 1049
_ER_TABLEACCESS_DENIED = 1142
_ER_NO_SUCH_TABLE = 1146
_ER_BAD_FIELD = 1054
_ER_ACCESS_DENIED_NO_PASSWORD = 1698
# The connection went away: server shutdown, KILL, network loss.
_LOST = frozenset({1053, 1317, 1927, 2006, 2013, 2055})
_CANNOT_CONNECT = frozenset({1040, 1129, 1130, 2002, 2003, 2005})
_PRIVILEGE = re.compile(r"^\s*(\w+) command denied", re.IGNORECASE)
_UNKNOWN_COLUMN = re.compile(r"Unknown column '([^']+)'")


def validate_table_name(name: str) -> str:
    """Return name if it is a plain MySQL identifier, else raise InvalidTableNameError."""
    if not _IDENTIFIER.fullmatch(name):
        raise InvalidTableNameError(
            "a table name has letters, digits, _ and $, starts with a letter or _, "
            "and is at most 64 characters long"
        )
    return name


def tls_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """Build the TLS context for the server (reads certificate files: blocking)."""
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except FileNotFoundError as err:
        raise CardSyncCaFileError("the CA file does not exist") from err
    except (OSError, ssl.SSLError) as err:
        raise CardSyncCaFileError("the CA file is not a PEM certificate") from err
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, kw_only=True)
class DbSettings:
    """Where the interface table lives and how to log in."""

    host: str
    port: int = DEFAULT_PORT
    user: str
    password: str = field(repr=False)
    database: str
    table: str = DEFAULT_TABLE
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    query_timeout: float = DEFAULT_QUERY_TIMEOUT

    def __post_init__(self) -> None:
        """Refuse a table name that is not a plain identifier."""
        validate_table_name(self.table)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What the table check found."""

    server_version: str
    tls_cipher: str | None
    columns: tuple[str, ...]


@dataclass(slots=True)
class DbStats:
    """Counters for diagnostics."""

    connections: int = 0
    statements: int = 0
    retries: int = 0
    errors: int = 0
    last_error: str | None = None
    server_version: str | None = None
    tls_cipher: str | None = None


def _code(err: BaseException) -> int | None:
    """Return the MySQL error code of a PyMySQL error."""
    if isinstance(err, pymysql.err.MySQLError) and err.args:
        code = err.args[0]
        if isinstance(code, int):
            return code
    return None


def _message(err: BaseException) -> str:
    """Return the server's message of a PyMySQL error."""
    if isinstance(err, pymysql.err.MySQLError) and len(err.args) > 1:
        return str(err.args[1])
    return str(err) or type(err).__name__


def _ssl_cause(err: BaseException) -> ssl.SSLError | None:
    """Find a TLS failure in an error's causes (aiomysql wraps it as error 2003)."""
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _LostConnectionError(CardSyncConnectionError):
    """The connection broke under a statement; one retry on a new one is safe."""


class CardDatabase:
    """The interface table of one complex server."""

    def __init__(self, settings: DbSettings, *, pool_size: int = 2) -> None:
        """Prepare the pool; nothing connects before the first statement."""
        self.settings = settings
        self.stats = DbStats()
        self._pool_size = pool_size
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._verified: weakref.WeakSet[Any] = weakref.WeakSet()
        self._checked = False
        self._table = f"`{validate_table_name(settings.table)}`"
        columns = ", ".join(COLUMNS)
        # The identifier is validated above and quoted; values are parameters.
        self._sql_max = f"SELECT MAX(idx) FROM {self._table}"  # noqa: S608
        self._sql_first = (
            f"SELECT {columns} FROM {self._table} "  # noqa: S608
            "WHERE idx <= %s ORDER BY idx LIMIT %s"
        )
        self._sql_next = (
            f"SELECT {columns} FROM {self._table} "  # noqa: S608
            "WHERE idx > %s AND idx <= %s ORDER BY idx LIMIT %s"
        )

    # --- pool ----------------------------------------------------------------
    async def _get_pool(self) -> Any:
        """Return the pool, creating it (and its first connection) when needed."""
        async with self._pool_lock:
            if self._pool is None:
                settings = self.settings
                self._pool = await aiomysql.create_pool(
                    minsize=1,
                    maxsize=self._pool_size,
                    pool_recycle=POOL_RECYCLE,
                    host=settings.host,
                    port=settings.port,
                    user=settings.user,
                    password=settings.password,
                    db=settings.database,
                    connect_timeout=settings.connect_timeout,
                    ssl=settings.tls,
                    charset="utf8mb4",
                    # Rows are decoded by the validator, so a row the client
                    # cannot decode is rejected instead of failing the batch.
                    use_unicode=False,
                    autocommit=True,
                    program_name="smartcity_ddc",
                )
            return self._pool

    async def close(self) -> None:
        """Close every connection; the next statement opens a new pool."""
        async with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            await pool.wait_closed()

    async def _verify_tls(self, cursor: Any) -> None:
        """Refuse a connection the server did not encrypt although TLS was asked for."""
        # aiomysql silently carries on in plain text when the server does not
        # offer TLS; asking the server is the only way to know.
        await cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = await cursor.fetchone()
        cipher = row[1].decode() if row and isinstance(row[1], bytes) else None
        if not cipher:
            raise CardSyncTlsError(
                f"{self.settings.host} did not encrypt the connection although TLS is on"
            )
        self.stats.tls_cipher = cipher

    async def _attempt[T](self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run work on a pooled connection; a connection that failed is discarded."""
        pool = await self._get_pool()
        connection = await pool.acquire()
        try:
            cursor = await connection.cursor()
            if connection not in self._verified:
                self.stats.connections += 1
                if self.settings.tls is not None:
                    await self._verify_tls(cursor)
                self._verified.add(connection)
            result = await work(cursor)
            await cursor.close()
        except BaseException:
            # Half-read results or a cancelled statement leave the protocol in
            # an unknown state: this connection must not be reused.
            connection.close()
            raise
        finally:
            pool.release(connection)
        return result

    async def _run[T](self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run work with bounded time; retry once when the connection broke under it."""
        # Every statement the sync sends is idempotent (reads, and deletes of
        # exact idx values): repeating one after a lost connection is safe.
        settings = self.settings
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(
                    settings.connect_timeout + settings.query_timeout
                ):
                    result = await self._attempt(work)
            except TimeoutError as err:
                raise self._failed(
                    CardSyncTimeoutError(
                        f"{settings.host}:{settings.port} did not answer within "
                        f"{settings.connect_timeout + settings.query_timeout:.0f} s"
                    )
                ) from err
            except (pymysql.err.MySQLError, OSError, ssl.SSLError) as err:
                translated = self._translate(err)
                if isinstance(translated, _LostConnectionError) and attempt == 1:
                    self.stats.retries += 1
                    _LOGGER.debug(
                        "Connection to %s lost (%s); retrying once on a new one",
                        settings.host,
                        translated,
                    )
                    continue
                raise self._failed(translated) from err
            except CardSyncError as err:
                raise self._failed(err) from err
            self.stats.statements += 1
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, err: CardSyncError) -> CardSyncError:
        """Count an error and forget the table check after a table or column error."""
        self.stats.errors += 1
        self.stats.last_error = f"{type(err).__name__}: {err}"
        if isinstance(
            err,
            CardSyncTableMissingError
            | CardSyncColumnMissingError
            | CardSyncPermissionError,
        ):
            self._checked = False
        return err

    def _translate(self, err: BaseException) -> CardSyncError:
        """Turn a driver error into the engine's typed error."""
        settings = self.settings
        where = f"{settings.host}:{settings.port}"
        code = _code(err)
        if (cause := _ssl_cause(err)) is not None:
            return CardSyncTlsError(f"TLS with {where} failed: {cause.reason or cause}")
        if code in (_ER_ACCESS_DENIED, _ER_ACCESS_DENIED_NO_PASSWORD):
            return CardSyncAuthError(f"{where} refused the user name or password")
        if code in (_ER_BAD_DB, _ER_DBACCESS_DENIED):
            return CardSyncUnknownDatabaseError(
                f"database {settings.database} does not exist on {where} "
                "or the user has no rights on it"
            )
        if code == _ER_NO_SUCH_TABLE:
            return CardSyncTableMissingError(settings.table)
        if code == _ER_TABLEACCESS_DENIED:
            match = _PRIVILEGE.match(_message(err))
            return CardSyncPermissionError(
                settings.table, match.group(1).upper() if match else "SELECT"
            )
        if code == _ER_BAD_FIELD:
            match = _UNKNOWN_COLUMN.search(_message(err))
            return CardSyncColumnMissingError(
                settings.table, [match.group(1) if match else "?"]
            )
        if code in _LOST:
            return _LostConnectionError(f"connection to {where} lost (error {code})")
        if code in _CANNOT_CONNECT or code is None:
            return CardSyncConnectionError(f"cannot connect to {where}")
        return CardSyncQueryError(code, f"{where} refused a statement (error {code})")

    # --- statements ----------------------------------------------------------
    async def check(self) -> TableInfo:
        """Connect and check the table: its columns and the SELECT and DELETE privileges."""

        async def work(cursor: Any) -> TableInfo:
            await cursor.execute("SELECT VERSION()")
            (version,) = await cursor.fetchone()
            await cursor.execute(f"SELECT * FROM {self._table} LIMIT 0")  # noqa: S608
            found = tuple(column[0] for column in cursor.description or ())
            present = {name.lower() for name in found}
            if missing := [name for name in COLUMNS if name not in present]:
                raise CardSyncColumnMissingError(self.settings.table, missing)
            # Deletes nothing, but the server checks the DELETE privilege first.
            await cursor.execute(f"DELETE FROM {self._table} WHERE 1 = 0")  # noqa: S608
            return TableInfo(
                server_version=version.decode(errors="replace"),
                tls_cipher=self.stats.tls_cipher
                if self.settings.tls is not None
                else None,
                columns=found,
            )

        info = await self._run(work)
        self.stats.server_version = info.server_version
        self._checked = True
        return info

    async def max_idx(self) -> int | None:
        """Return the highest idx in the table (None when it is empty)."""
        if not self._checked:
            await self.check()

        async def work(cursor: Any) -> int | None:
            await cursor.execute(self._sql_max)
            row = await cursor.fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return await self._run(work)

    async def fetch(self, after: int | None, upto: int, limit: int) -> list[RawRow]:
        """Return up to limit rows with after < idx <= upto, in idx order."""

        async def work(cursor: Any) -> list[RawRow]:
            if after is None:
                await cursor.execute(self._sql_first, (upto, limit))
            else:
                await cursor.execute(self._sql_next, (after, upto, limit))
            return [
                RawRow(idx=int(row[0]), values=tuple(row[1:]))
                for row in await cursor.fetchall()
            ]

        return await self._run(work)

    async def delete(self, idxs: Sequence[int]) -> int:
        """Delete exactly these idx values; return how many rows were still there."""
        deleted = 0
        for start in range(0, len(idxs), DELETE_CHUNK):
            chunk = [int(idx) for idx in idxs[start : start + DELETE_CHUNK]]
            placeholders = ", ".join(["%s"] * len(chunk))
            sql = f"DELETE FROM {self._table} WHERE idx IN ({placeholders})"  # noqa: S608

            async def work(
                cursor: Any, sql: str = sql, chunk: list[int] = chunk
            ) -> int:
                return int(await cursor.execute(sql, chunk))

            deleted += await self._run(work)
        return deleted

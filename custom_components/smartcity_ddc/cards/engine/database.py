"""The complex server's MySQL interface table, through a small aiomysql pool.

Only three statements touch the table: the highest idx, a batch of rows in idx
order, and a delete of exact idx values. Values always travel as parameters;
the table name is a validated identifier quoted with backticks. Every
statement is bounded by the connect and query timeouts: aiomysql itself bounds
only the TCP connect, not the handshake or a query.

The server is not trusted with more than it needs: with TLS on, nothing is
sent before a verified TLS session; without it, the password never travels
in clear text; no local file is ever sent (see _GuardedConnection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import re
import ssl
import time
from typing import Any, Final

import aiomysql
import pymysql
from pymysql.constants import CLIENT
from pymysql.protocol import MysqlPacket

from .errors import (
    CardSyncAuthError,
    CardSyncCaFileError,
    CardSyncCleartextPasswordError,
    CardSyncClosedError,
    CardSyncColumnMissingError,
    CardSyncConnectionError,
    CardSyncError,
    CardSyncInsecureServerError,
    CardSyncPasswordEncodingError,
    CardSyncPermissionError,
    CardSyncQueryError,
    CardSyncTableMissingError,
    CardSyncTimeoutError,
    CardSyncTlsError,
    CardSyncTlsNotOfferedError,
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


def _wire_password(password: str) -> str:
    """Return the password in the form aiomysql turns into the server's bytes."""
    # MySQL and MariaDB hash a password as the bytes its creator's client sent,
    # UTF-8 on every current client; aiomysql encodes Latin-1, which breaks
    # any password with a character beyond ASCII. Handing it the UTF-8 bytes
    # as Latin-1 text makes it send exactly those bytes.
    try:
        return password.encode("utf-8").decode("latin-1")
    except UnicodeEncodeError as err:
        raise CardSyncPasswordEncodingError(
            "the password contains characters that are not valid text"
        ) from err


class _GuardedConnection(aiomysql.Connection):  # type: ignore[misc]
    """An aiomysql connection that gives a server nothing it has not earned.

    aiomysql upgrades to TLS only when the server offers it, answers a
    request for the password in clear text on a plain connection, and sends
    any local file a server asks for in answer to a query. Here, when TLS is
    asked for, a server that does not offer it is left before anything is
    sent; the certificate is verified in the TLS handshake, before the login;
    no clear-text password travels unencrypted; and no file is ever sent.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Open nothing yet; connect() does."""
        super().__init__(**kwargs)
        self._where = f"{kwargs['host']}:{kwargs['port']}"
        self._in_login = False
        self._at_result_head = False

    async def connect(self) -> None:
        """Connect and log in; a connection that failed or was cancelled is closed."""
        try:
            await self._connect()
        except (CardSyncError, pymysql.err.MySQLError, OSError):
            self.close()
            raise
        except Exception as err:
            # aiomysql's greeting parser fails with whatever a malformed
            # greeting makes it trip over.
            self.close()
            raise CardSyncConnectionError(
                f"{self._where} does not answer like a MySQL server"
            ) from err
        except BaseException:
            # aiomysql leaves the socket of a cancelled login open.
            self.close()
            raise

    @property
    def cipher(self) -> str | None:
        """Return the TLS cipher of the connection, None when it is not encrypted."""
        if self._writer is None:
            return None
        cipher = self._writer.transport.get_extra_info("cipher")
        return str(cipher[0]) if cipher else None

    def usable(self) -> bool:
        """Return False once the server closed the connection."""
        reader = self._reader
        return not (
            reader is None
            or reader.at_eof()
            or reader.exception() is not None
            or getattr(reader, "eof_received", False)
        )

    async def _request_authentication(self) -> None:
        """Log in, refusing a server that cannot be trusted with the password."""
        if self._ssl_context is not None and not (
            self.server_capabilities & CLIENT.SSL
        ):
            # Nothing has been sent yet: the server's greeting came first.
            raise CardSyncTlsNotOfferedError(
                f"{self._where} does not offer TLS although TLS is on"
            )
        encrypted = self._ssl_context is not None
        if not encrypted and getattr(self, "_server_auth_plugin", "") not in _SCRAMBLED:
            # A greeting asking for the clear-text password is answered with
            # a scramble; a server that insists must ask again, and is
            # refused then.
            self._server_auth_plugin = "mysql_native_password"
        self._in_login = True
        try:
            await super()._request_authentication()
        finally:
            self._in_login = False

    async def _read_query_result(self, unbuffered: bool = False) -> Any:
        """Read a statement's result, watching its first packet."""
        self._at_result_head = True
        return await super()._read_query_result(unbuffered=unbuffered)

    async def _read_packet(self, packet_type: Any = MysqlPacket) -> Any:
        """Read a packet; refuse an auth switch or a file request the sync never answers."""
        head, self._at_result_head = self._at_result_head, False
        packet = await super()._read_packet(packet_type)
        data = packet.get_all_data()
        if self._in_login and not self._secure and data[:1] == b"\xfe":
            plugin, ended, _ = data[1:].partition(b"\0")
            if not ended or plugin not in _SCRAMBLED_NAMES:
                self.close()
                raise CardSyncCleartextPasswordError(
                    f"{self._where} asked for the password in clear text "
                    f"({plugin.decode('ascii', 'replace') or 'old password'}) "
                    "on an unencrypted connection; it was not sent"
                )
        if head and packet.is_load_local_packet():
            # LOAD DATA LOCAL: the server asks for a file of this machine.
            self.close()
            raise CardSyncInsecureServerError(
                f"{self._where} asked for a local file; none was sent"
            )
        return packet


#: Login methods that never put the password itself on the wire.
_SCRAMBLED: Final = frozenset(
    {"mysql_native_password", "caching_sha2_password", "sha256_password"}
)
_SCRAMBLED_NAMES: Final = frozenset(name.encode() for name in _SCRAMBLED)


class _Pool:
    """At most size connections, reused while the server keeps them, closed for good on close()."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[_GuardedConnection]],
        size: int,
        recycle: float,
    ) -> None:
        """Open nothing yet."""
        self._connect = connect
        self._slots = asyncio.Semaphore(size)
        self._recycle = recycle
        self._idle: list[tuple[_GuardedConnection, float]] = []
        self._open: set[_GuardedConnection] = set()
        self.closed = False

    async def acquire(self) -> tuple[_GuardedConnection, bool]:
        """Return a connection, and whether it is new."""
        self._check_open()
        await self._slots.acquire()
        try:
            return await self._take()
        except BaseException:
            self._slots.release()
            raise

    def _check_open(self) -> None:
        """Raise CardSyncClosedError once the pool is closed."""
        if self.closed:
            raise CardSyncClosedError("the card database was closed")

    async def _take(self) -> tuple[_GuardedConnection, bool]:
        """Return an idle connection the server still keeps, or a new one (slot held)."""
        self._check_open()
        now = time.monotonic()
        while self._idle:
            connection, since = self._idle.pop()
            if connection.usable() and now - since < self._recycle:
                return connection, False
            self._discard(connection)
        connection = await self._connect()
        self._open.add(connection)
        # close() may have run while this connection logged in.
        if self.closed:
            self._discard(connection)
            self._check_open()
        return connection, True

    def release(self, connection: _GuardedConnection, *, reuse: bool) -> None:
        """Give a connection back; one that failed or outlived the pool is closed."""
        if reuse and not self.closed and connection.usable():
            self._idle.append((connection, time.monotonic()))
        else:
            self._discard(connection)
        self._slots.release()

    def _discard(self, connection: _GuardedConnection) -> None:
        """Close a connection and forget it."""
        self._open.discard(connection)
        connection.close()

    async def close(self) -> None:
        """Close every connection, idle or busy; the pool opens none after this."""
        self.closed = True
        idle = [connection for connection, _ in self._idle]
        self._idle.clear()
        for connection in idle:
            # A polite goodbye, so the server does not count an aborted client.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await connection.ensure_closed()
        for connection in (*idle, *self._open):
            connection.close()
        self._open.clear()


class _LostConnectionError(CardSyncConnectionError):
    """The connection broke under a statement; one retry on a new one is safe."""


class CardDatabase:
    """The interface table of one complex server."""

    def __init__(self, settings: DbSettings, *, pool_size: int = 2) -> None:
        """Prepare the pool; nothing connects before the first statement."""
        self.settings = settings
        self.stats = DbStats()
        self._password = _wire_password(settings.password)
        self._pool = _Pool(self._open_connection, pool_size, POOL_RECYCLE)
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

    # --- connections ---------------------------------------------------------
    async def _open_connection(self) -> _GuardedConnection:
        """Connect and log in (bounded by the caller's timeout)."""
        settings = self.settings
        connection = _GuardedConnection(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=self._password,
            db=settings.database,
            connect_timeout=settings.connect_timeout,
            ssl=settings.tls,
            charset="utf8mb4",
            # Rows are decoded by the validator, so a row the client cannot
            # decode is rejected instead of failing the batch.
            use_unicode=False,
            autocommit=True,
            program_name="smartcity_ddc",
        )
        await connection.connect()
        return connection

    @property
    def closed(self) -> bool:
        """Return True once close() was called."""
        return self._pool.closed

    async def close(self) -> None:
        """Close every connection; statements after this raise CardSyncClosedError."""
        await self._pool.close()

    def _check_tls(self, connection: _GuardedConnection) -> None:
        """Refuse a connection that is not encrypted although TLS was asked for."""
        cipher = connection.cipher
        if not cipher:
            raise CardSyncTlsError(
                f"{self.settings.host} did not encrypt the connection although TLS is on"
            )
        self.stats.tls_cipher = cipher

    async def _attempt[T](self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run work on a pooled connection; a connection that failed is discarded."""
        connection, new = await self._pool.acquire()
        reuse = False
        try:
            if new:
                self.stats.connections += 1
                if self.settings.tls is not None:
                    self._check_tls(connection)
            cursor = await connection.cursor()
            result = await work(cursor)
            await cursor.close()
            reuse = True
        finally:
            # Half-read results or a cancelled statement leave the protocol in
            # an unknown state: such a connection is not reused.
            self._pool.release(connection, reuse=reuse)
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

"""The interface table through CardDatabase, against a real MariaDB: checks and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import gc
from pathlib import Path
import ssl

import pytest

from custom_components.smartcity_ddc.cards.engine import database as database_module
from custom_components.smartcity_ddc.cards.engine.database import (
    DELETE_CHUNK,
    CardDatabase,
    tls_context,
)
from custom_components.smartcity_ddc.cards.engine.errors import (
    CardSyncAuthError,
    CardSyncCaFileError,
    CardSyncClosedError,
    CardSyncColumnMissingError,
    CardSyncConnectionError,
    CardSyncPasswordEncodingError,
    CardSyncPermissionError,
    CardSyncQueryError,
    CardSyncTableMissingError,
    CardSyncTimeoutError,
    CardSyncTlsError,
    CardSyncUnknownDatabaseError,
)
from devtools.mariadb import HOST, MariaDbServer, write_test_ca
from tests.cards.helpers import CardTable, issue


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says anything."""
    held: list[asyncio.StreamWriter] = []

    async def accept(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, HOST, 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def closed_port() -> int:
    """A TCP port nothing listens on."""
    server = await asyncio.start_server(lambda _r, _w: None, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return int(port)


async def check(card_table: CardTable, **changes: object) -> object:
    database = CardDatabase(card_table.settings(**changes))
    try:
        return await database.check()
    finally:
        await database.close()


async def test_check_reports_columns_version_and_privileges(
    card_table: CardTable,
) -> None:
    info = await check(card_table)
    assert info.columns == (  # type: ignore[attr-defined]
        "idx", "card_no", "user_name", "io_group_id", "dong_code", "ho_code", "issue_flag",
    )  # fmt: skip
    assert "MariaDB" in info.server_version  # type: ignore[attr-defined]
    assert info.tls_cipher is None  # type: ignore[attr-defined]


async def test_wrong_password_is_invalid_auth(card_table: CardTable) -> None:
    with pytest.raises(CardSyncAuthError):
        await check(card_table, password="wrong")


async def test_missing_database_for_a_user_with_no_rights_there(
    card_table: CardTable,
) -> None:
    # MySQL answers 1044 (access denied to database) rather than "unknown database"
    # to a user without global privileges.
    with pytest.raises(CardSyncUnknownDatabaseError):
        await check(card_table, database="no_such_db")


async def test_missing_database_for_a_privileged_user(card_table: CardTable) -> None:
    server = card_table.server
    server.execute(f"GRANT SELECT ON *.* TO '{card_table.account.user}'@'{HOST}'")
    try:
        with pytest.raises(CardSyncUnknownDatabaseError):
            await check(card_table, database="no_such_db")
    finally:
        server.execute(
            f"REVOKE SELECT ON *.* FROM '{card_table.account.user}'@'{HOST}'"
        )


async def test_missing_table(card_table: CardTable) -> None:
    with pytest.raises(CardSyncTableMissingError) as err:
        await check(card_table, table="t_other")
    assert err.value.table == "t_other"


async def test_missing_columns_are_all_named(card_table: CardTable) -> None:
    card_table.server.execute(
        "ALTER TABLE t_card_issue_if DROP COLUMN ho_code, DROP COLUMN issue_flag",
        database=card_table.account.database,
    )
    with pytest.raises(CardSyncColumnMissingError) as err:
        await check(card_table)
    assert err.value.columns == ["ho_code", "issue_flag"]


async def test_missing_delete_privilege(card_table: CardTable) -> None:
    server, account = card_table.server, card_table.account
    server.execute(
        f"REVOKE DELETE ON `{account.database}`.* FROM '{account.user}'@'{HOST}'"
    )
    with pytest.raises(CardSyncPermissionError) as err:
        await check(card_table)
    assert err.value.privilege == "DELETE"


async def test_missing_select_privilege(card_table: CardTable) -> None:
    server, account = card_table.server, card_table.account
    server.execute(
        f"REVOKE SELECT ON `{account.database}`.* FROM '{account.user}'@'{HOST}'"
    )
    with pytest.raises(CardSyncPermissionError) as err:
        await check(card_table)
    assert err.value.privilege == "SELECT"


async def test_nothing_listening(card_table: CardTable, closed_port: int) -> None:
    with pytest.raises(CardSyncConnectionError) as err:
        await check(card_table, port=closed_port)
    assert not isinstance(err.value, CardSyncTimeoutError)


async def test_a_server_that_never_answers_times_out(
    card_table: CardTable, silent_port: int
) -> None:
    database = CardDatabase(
        card_table.settings(port=silent_port, connect_timeout=0.2, query_timeout=0.2)
    )
    with pytest.raises(CardSyncTimeoutError):
        await database.check()
    await database.close()
    assert database.stats.errors == 1
    # aiomysql leaves the half-open connection it was cancelled in to the
    # garbage collector; collect it while the loop still runs.
    gc.collect()


async def test_tls_with_the_servers_ca(
    mariadb: MariaDbServer, card_table: CardTable
) -> None:
    context = tls_context(str(mariadb.ca_file), verify=True)
    database = CardDatabase(card_table.settings(tls=context))
    info = await database.check()
    assert info.tls_cipher
    # Every new pooled connection is checked again.
    assert await database.max_idx() is None
    await database.close()


async def test_tls_with_another_ca_is_refused(
    card_table: CardTable, tmp_path: Path
) -> None:
    other, _, _ = write_test_ca(tmp_path, "other")
    with pytest.raises(CardSyncTlsError):
        await check(card_table, tls=tls_context(str(other), verify=True))


async def test_tls_without_verification_accepts_any_certificate(
    card_table: CardTable, tmp_path: Path
) -> None:
    other, _, _ = write_test_ca(tmp_path, "other")
    info = await check(card_table, tls=tls_context(str(other), verify=False))
    assert info.tls_cipher  # type: ignore[attr-defined]


async def test_tls_is_never_silently_dropped(
    private_table: CardTable, tmp_path: Path
) -> None:
    # This server offers no TLS; aiomysql would carry on in plain text.
    context = tls_context(None, verify=False)
    with pytest.raises(CardSyncTlsError):
        await check(private_table, tls=context)


def test_ca_file_errors(tmp_path: Path) -> None:
    with pytest.raises(CardSyncCaFileError):
        tls_context(str(tmp_path / "missing.pem"), verify=True)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(CardSyncCaFileError):
        tls_context(str(garbage), verify=True)
    context = tls_context(None, verify=False)
    assert context.verify_mode is ssl.CERT_NONE


async def test_fetch_and_delete_exact_idx_values(card_table: CardTable) -> None:
    idxs = card_table.insert(*(issue(f"880000{n:04d}", f"n{n}") for n in range(5)))
    database = CardDatabase(card_table.settings())
    assert await database.max_idx() == idxs[-1]
    first = await database.fetch(None, idxs[3], 2)
    assert [row.idx for row in first] == idxs[:2]
    assert first[0].values == (b"8800000000", b"n0", b"A", b"101", b"1203", b"I")
    rest = await database.fetch(idxs[1], idxs[3], 10)
    assert [row.idx for row in rest] == idxs[2:4]
    assert await database.delete([idxs[0], idxs[2], 999999]) == 2
    assert card_table.idxs() == [idxs[1], idxs[3], idxs[4]]
    assert await database.delete([]) == 0
    await database.close()


async def test_large_deletes_are_chunked(card_table: CardTable) -> None:
    count = DELETE_CHUNK + 5
    card_table.server.execute(
        "INSERT INTO t_card_issue_if (card_no, user_name, io_group_id, dong_code, ho_code, issue_flag) "
        "SELECT seq, 'n', 'A', '101', '1', 'I' FROM seq_1_to_" + str(count),
        database=card_table.account.database,
    )
    database = CardDatabase(card_table.settings())
    rows = await database.fetch(None, 10**9, count)
    assert await database.delete([row.idx for row in rows]) == count
    await database.close()
    assert card_table.idxs() == []


async def test_a_killed_connection_is_replaced_once(card_table: CardTable) -> None:
    database = CardDatabase(card_table.settings())
    await database.check()
    assert card_table.kill_connections() == 1
    # The pooled connection is dead; the statement is repeated on a new one.
    assert await database.max_idx() is None
    assert database.stats.retries + database.stats.connections >= 2
    await database.close()


async def test_a_table_dropped_under_the_sync_is_reported_and_rechecked(
    card_table: CardTable,
) -> None:
    database = CardDatabase(card_table.settings())
    await database.check()
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    with pytest.raises(CardSyncTableMissingError):
        await database.fetch(None, 10, 10)
    card_table.create()
    card_table.server.execute(
        "ALTER TABLE t_card_issue_if DROP COLUMN user_name",
        database=card_table.account.database,
    )
    # After a table error the next round checks the table again: precise columns.
    with pytest.raises(CardSyncColumnMissingError) as err:
        await database.max_idx()
    assert err.value.columns == ["user_name"]
    await database.close()


async def test_other_server_errors_keep_their_code(card_table: CardTable) -> None:
    database = CardDatabase(card_table.settings())
    await database.check()
    card_table.server.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON t_card_issue_if FOR EACH ROW "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'deletes are off', MYSQL_ERRNO = 1644",
        database=card_table.account.database,
    )
    card_table.insert(issue("8801234567", "Kim"))
    with pytest.raises(CardSyncQueryError) as err:
        await database.delete([1])
    assert err.value.code == 1644
    assert "deletes are off" not in str(err.value)
    await database.close()


async def test_a_column_dropped_under_the_sync_is_named(card_table: CardTable) -> None:
    database = CardDatabase(card_table.settings())
    await database.check()
    card_table.server.execute(
        "ALTER TABLE t_card_issue_if DROP COLUMN ho_code",
        database=card_table.account.database,
    )
    with pytest.raises(CardSyncColumnMissingError) as err:
        await database.fetch(None, 10, 10)
    assert err.value.columns == ["ho_code"]
    await database.close()


def user_connections(card_table: CardTable) -> int:
    """Count the server's connections of the application user (processlist)."""
    rows = card_table.server.execute(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s",
        (card_table.account.user,),
    )
    return int(rows[0][0])


async def settled_connections(card_table: CardTable, expected: int) -> int:
    """Return the user's connection count once it reaches expected (or after 3 s)."""
    # The server notices a closed socket a moment after the client closed it.
    for _ in range(60):
        if (count := user_connections(card_table)) == expected:
            return count
        await asyncio.sleep(0.05)
    return user_connections(card_table)


async def test_a_password_beyond_latin1_logs_in(card_table: CardTable) -> None:
    # The server hashes what its creator's client sent: UTF-8.
    password = "관리실-비밀번호-é"
    card_table.server.execute(
        f"ALTER USER '{card_table.account.user}'@'{HOST}' IDENTIFIED BY %s",
        (password,),
    )
    info = await check(card_table, password=password)
    assert "MariaDB" in info.server_version  # type: ignore[attr-defined]
    with pytest.raises(CardSyncAuthError):
        await check(card_table, password="관리실-비밀번호-e")


def test_a_password_that_is_not_text_is_a_clear_error(card_table: CardTable) -> None:
    with pytest.raises(CardSyncPasswordEncodingError):
        CardDatabase(card_table.settings(password="half a \ud800 surrogate"))


async def test_a_statement_cut_off_by_close_opens_no_new_connection(
    card_table: CardTable,
) -> None:
    database = CardDatabase(card_table.settings())
    await database.check()
    assert await settled_connections(card_table, 1) == 1
    admin = card_table.server.admin(card_table.account.database)
    try:
        with admin.cursor() as cursor:
            cursor.execute("LOCK TABLES t_card_issue_if WRITE")
        # The statement waits for the lock when close() cuts its connection.
        statement = asyncio.create_task(database.max_idx())
        for _ in range(100):
            waiting = card_table.server.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE USER = %s AND INFO LIKE 'SELECT MAX(idx)%%'",
                (card_table.account.user,),
            )
            if waiting[0][0]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the statement never reached the server")
        await database.close()
        with pytest.raises(CardSyncClosedError):
            await statement
    finally:
        admin.close()
    # Nothing retried on a connection of its own after the close.
    assert await settled_connections(card_table, 0) == 0
    with pytest.raises(CardSyncClosedError):
        await database.max_idx()
    assert user_connections(card_table) == 0


async def test_close_ends_every_connection_of_the_pool(card_table: CardTable) -> None:
    database = CardDatabase(card_table.settings(), pool_size=2)
    await database.check()
    # Two statements at once need two connections.
    await asyncio.gather(database.max_idx(), database.fetch(None, 10, 10))
    assert await settled_connections(card_table, 2) == 2
    await database.close()
    assert await settled_connections(card_table, 0) == 0


async def test_an_idle_connection_past_its_age_is_replaced_before_use(
    card_table: CardTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Servers drop idle connections (wait_timeout); one kept longer than
    # POOL_RECYCLE is closed and replaced before a statement, not tried and
    # retried. Here every idle connection is past its age at once.
    monkeypatch.setattr(database_module, "POOL_RECYCLE", 0)
    database = CardDatabase(card_table.settings())
    await database.check()
    assert await database.max_idx() is None
    assert (database.stats.connections, database.stats.retries) == (2, 0)
    assert database.stats.errors == 0
    # The old connection was closed, not left for the server to time out.
    assert await settled_connections(card_table, 1) == 1
    await database.close()
    assert await settled_connections(card_table, 0) == 0


async def test_a_login_that_ends_after_close_leaves_no_connection(
    card_table: CardTable,
) -> None:
    # A proxy holds the server's greeting until the database was closed.
    greeting = asyncio.Event()
    accepted = asyncio.Event()
    pipes: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def pipe(
        source: asyncio.StreamReader, target: asyncio.StreamWriter, gate: bool
    ) -> None:
        if gate:
            await greeting.wait()
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
        target.close()

    async def accept(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(
            HOST, card_table.server.port
        )
        writers.extend((client_writer, server_writer))
        pipes.append(asyncio.create_task(pipe(client_reader, server_writer, False)))
        pipes.append(asyncio.create_task(pipe(server_reader, client_writer, True)))
        accepted.set()

    proxy = await asyncio.start_server(accept, HOST, 0)
    database = CardDatabase(card_table.settings(port=proxy.sockets[0].getsockname()[1]))
    try:
        statement = asyncio.create_task(database.check())
        async with asyncio.timeout(5):
            await accepted.wait()
        await database.close()
        greeting.set()
        with pytest.raises(CardSyncClosedError):
            await statement
        # The login went through, and its connection was closed at once.
        assert await settled_connections(card_table, 0) == 0
        assert database.closed
    finally:
        for writer in writers:
            writer.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        proxy.close()
        await proxy.wait_closed()

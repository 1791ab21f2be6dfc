"""A server that is not the complex server gets nothing: no password, no file.

Each test points CardDatabase at the project's hostile MySQL server
(devtools/hostile_mysql.py), which records every byte a client sends it,
decrypted after TLS, and asserts that the secrets never arrived.
"""

from __future__ import annotations

from pathlib import Path
import ssl

import pytest

from custom_components.smartcity_ddc.cards.engine.database import (
    CardDatabase,
    DbSettings,
    tls_context,
)
from custom_components.smartcity_ddc.cards.engine.errors import (
    CardSyncAuthError,
    CardSyncCleartextPasswordError,
    CardSyncConnectionError,
    CardSyncInsecureServerError,
    CardSyncTlsError,
    CardSyncTlsNotOfferedError,
)
from devtools.hostile_mysql import HostileMySqlServer, Mode
from devtools.mariadb import HOST, write_test_ca

PASSWORD = "s3cret-Pa55word"
USER = "homeassistant"


def settings(
    server: HostileMySqlServer, tls: ssl.SSLContext | None = None
) -> DbSettings:
    """Return settings that log in to the hostile server."""
    return DbSettings(
        host=HOST,
        port=server.port,
        user=USER,
        password=PASSWORD,
        database="complex",
        tls=tls,
        connect_timeout=2.0,
        query_timeout=2.0,
    )


async def attempt(server: HostileMySqlServer, tls: ssl.SSLContext | None) -> None:
    """Check the table on the hostile server (always fails) and close."""
    database = CardDatabase(settings(server, tls))
    try:
        await database.check()
    finally:
        await database.close()


def assert_nothing_leaked(server: HostileMySqlServer) -> None:
    """The password never reached the server, in any form the protocol allows."""
    received = server.received
    assert server.sessions, "the client never connected"
    assert PASSWORD.encode() not in received
    assert PASSWORD.encode("utf-16-le") not in received


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("mode", [Mode.CLEARTEXT_GREETING, Mode.CLEARTEXT_SWITCH])
async def test_with_tls_on_a_server_without_tls_gets_nothing(
    mode: Mode, verify: bool
) -> None:
    with HostileMySqlServer(mode) as server, pytest.raises(CardSyncTlsNotOfferedError):
        await attempt(server, tls_context(None, verify=verify))
    assert_nothing_leaked(server)
    # Not even the user name: the client left after the server's greeting.
    assert server.received == b""


@pytest.mark.parametrize(
    "mode",
    [Mode.CLEARTEXT_GREETING, Mode.CLEARTEXT_SWITCH, Mode.OLD_PASSWORD_SWITCH],
)
async def test_without_tls_the_password_never_travels_in_clear_text(
    mode: Mode,
) -> None:
    with (
        HostileMySqlServer(mode) as server,
        pytest.raises(CardSyncCleartextPasswordError) as err,
    ):
        await attempt(server, None)
    assert_nothing_leaked(server)
    # The login was a scramble; the server's demand for more was not answered.
    assert len(server.sessions[0].packets) == 1
    assert "clear text" in str(err.value)
    # A refusal to be fooled is not a wrong password: no reauthentication.
    assert not isinstance(err.value, CardSyncAuthError)


async def test_a_certificate_that_does_not_verify_gets_nothing(
    tmp_path: Path,
) -> None:
    other_ca, _, _ = write_test_ca(tmp_path, "site")
    with (
        HostileMySqlServer(Mode.TLS, directory=tmp_path) as server,
        pytest.raises(CardSyncTlsError) as err,
    ):
        await attempt(server, tls_context(str(other_ca), verify=True))
    assert not isinstance(err.value, CardSyncTlsNotOfferedError)
    assert_nothing_leaked(server)
    # Only the request to start TLS (flags, no name) came before the handshake failed.
    assert len(server.sessions[0].packets) == 1
    assert len(server.sessions[0].packets[0]) == 32
    assert USER.encode() not in server.received
    assert not server.sessions[0].tls


async def test_a_verified_tls_session_may_carry_a_clear_text_password(
    tmp_path: Path,
) -> None:
    # The control for the tests above: the recorder does see a password
    # that is sent, here inside TLS to a server whose certificate verifies.
    with HostileMySqlServer(Mode.TLS, directory=tmp_path / "server") as server:
        assert server.ca_file is not None
        with pytest.raises(CardSyncAuthError):
            await attempt(server, tls_context(str(server.ca_file), verify=True))
    assert server.sessions[0].tls
    assert PASSWORD.encode() + b"\0" in server.received


async def test_no_local_file_is_ever_sent(tmp_path: Path) -> None:
    secret_file = tmp_path / "secrets.yaml"
    secret_file.write_text("api_password: do-not-send-me\n")
    with (
        HostileMySqlServer(Mode.LOCAL_FILE, requested_file=str(secret_file)) as server,
        pytest.raises(CardSyncInsecureServerError) as err,
    ):
        await attempt(server, None)
    assert "local file" in str(err.value)
    assert b"do-not-send-me" not in server.received
    assert_nothing_leaked(server)


async def test_a_greeting_that_is_not_mysql_is_a_connection_error() -> None:
    with (
        HostileMySqlServer(Mode.GARBAGE) as server,
        pytest.raises(CardSyncConnectionError) as err,
    ):
        await attempt(server, None)
    assert "does not answer like a MySQL server" in str(err.value)

"""A hostile MySQL server on 127.0.0.1 that records every byte a client sends it.

It stands for a machine that took the complex server's address (a spoofed
DNS name, a swapped IP, a man in the middle that answers itself) and tries
to get the card sync's password or files out of it. Each ``Mode`` plays one
trick; ``received`` holds everything each client sent, decrypted after TLS,
so a test can assert that a secret never arrived.

Modes:

* ``cleartext-greeting``: offers no TLS; its greeting asks for the password
  in clear text (``mysql_clear_password``); if the answer is a scramble, it
  asks again with an auth switch. Then it refuses the login (error 1045).
* ``cleartext-switch``: offers no TLS; greets like MariaDB, then switches to
  ``mysql_clear_password``. Then error 1045.
* ``old-password-switch``: offers no TLS; greets like MariaDB, then asks for
  a pre-4.1 password hash (a bare auth switch). Then error 1045.
* ``tls``: offers TLS with a certificate of its own CA (``ca_file``), then
  switches to ``mysql_clear_password``. Then error 1045. A client that does
  not trust ``ca_file`` must leave during the TLS handshake.
* ``local-file``: accepts any login and answers every statement with a
  ``LOAD DATA LOCAL`` request for ``requested_file``.
* ``garbage``: greets with a packet that is not a MySQL greeting.

The server is bounded: it accepts at most ``max_connections`` clients, reads
at most ``max_bytes`` from each, gives each ``client_timeout`` seconds, and
stops by itself after ``lifetime`` seconds.

``python -m devtools.hostile_mysql MODE [--seconds N]`` serves one until the
time is up or Ctrl-C, prints its coordinates as one JSON line once ready, and
what each client sent when it stops.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import json
from pathlib import Path
import secrets
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from types import TracebackType
from typing import Final, Self

from pymysql.constants import CLIENT

from devtools.mariadb import HOST, write_server_cert

#: What the greeting claims to be.
SERVER_VERSION: Final = b"10.11.6-MariaDB"
_CAPABILITIES: Final = (
    CLIENT.LONG_PASSWORD
    | CLIENT.FOUND_ROWS
    | CLIENT.LONG_FLAG
    | CLIENT.CONNECT_WITH_DB
    | CLIENT.PROTOCOL_41
    | CLIENT.TRANSACTIONS
    | CLIENT.SECURE_CONNECTION
    | CLIENT.MULTI_STATEMENTS
    | CLIENT.MULTI_RESULTS
    | CLIENT.PLUGIN_AUTH
    | CLIENT.CONNECT_ATTRS
    | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA
)
_CLEARTEXT: Final = b"mysql_clear_password"
_NATIVE: Final = b"mysql_native_password"
_COM_QUIT: Final = 0x01
_COM_QUERY: Final = 0x03
#: At most this many statements are answered on one connection.
_MAX_COMMANDS: Final = 64


class Mode(StrEnum):
    """The trick the server plays (see the module docstring)."""

    CLEARTEXT_GREETING = "cleartext-greeting"
    CLEARTEXT_SWITCH = "cleartext-switch"
    OLD_PASSWORD_SWITCH = "old-password-switch"  # noqa: S105
    TLS = "tls"
    LOCAL_FILE = "local-file"
    GARBAGE = "garbage"


class _SessionEndError(Exception):
    """The client left, went silent or sent too much: the session ends."""


@dataclass
class Session:
    """What one client sent."""

    #: Every byte read from the client, decrypted after TLS.
    received: bytearray = field(default_factory=bytearray)
    #: The payloads of the client's packets, in order.
    packets: list[bytes] = field(default_factory=list)
    #: The client asked for TLS and completed the handshake.
    tls: bool = False


def _err(code: int, state: bytes, message: bytes) -> bytes:
    """Return an ERR packet payload."""
    return b"\xff" + struct.pack("<H", code) + b"#" + state + message


_OK: Final = b"\x00\x00\x00\x02\x00\x00\x00"
_ACCESS_DENIED: Final = _err(1045, b"28000", b"Access denied")


class HostileMySqlServer:
    """A bounded MySQL-protocol server playing one Mode on 127.0.0.1, in threads.

    Plain blocking sockets read exactly the bytes of each packet, so the TLS
    handshake that follows a request to start TLS is never swallowed by a
    read-ahead buffer.
    """

    def __init__(
        self,
        mode: Mode,
        *,
        directory: Path | None = None,
        requested_file: str = "/etc/hostname",
        lifetime: float = 60.0,
        client_timeout: float = 5.0,
        max_connections: int = 32,
        max_bytes: int = 1 << 20,
    ) -> None:
        """Prepare the server; start it with ``with`` or start()."""
        self.mode = mode
        self.requested_file = requested_file
        self.lifetime = lifetime
        self.client_timeout = client_timeout
        self.max_connections = max_connections
        self.max_bytes = max_bytes
        self.sessions: list[Session] = []
        self.port = 0
        self.ca_file: Path | None = None
        self.tls_context: ssl.SSLContext | None = None
        self._directory = directory
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._listener: socket.socket | None = None
        self.stop_requested = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def received(self) -> bytes:
        """Return everything every client sent, joined."""
        return b"".join(bytes(session.received) for session in list(self.sessions))

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1; stop by itself after lifetime seconds."""
        if self.mode is Mode.TLS:
            if self._directory is None:
                self._tempdir = tempfile.TemporaryDirectory(prefix="hostile_mysql_")
                self._directory = Path(self._tempdir.name)
            self._directory.mkdir(parents=True, exist_ok=True)
            self.ca_file, cert, key = write_server_cert(self._directory)
            self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls_context.load_cert_chain(cert, key)
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(_POLL)
        self.port = int(self._listener.getsockname()[1])
        acceptor = threading.Thread(
            target=self._accept_until_stopped, name="hostile-mysql", daemon=True
        )
        self._threads.append(acceptor)
        acceptor.start()

    def stop(self) -> None:
        """Stop accepting, end every client and wait for the threads."""
        self.stop_requested.set()
        for thread in list(self._threads):
            thread.join(self.client_timeout + 2 * _POLL)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Self:
        """Start serving."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def _accept_until_stopped(self) -> None:
        """Accept clients until stopped, the lifetime ends or enough came."""
        assert self._listener is not None
        deadline = time.monotonic() + self.lifetime
        while not self.stop_requested.is_set() and time.monotonic() < deadline:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if len(self.sessions) >= self.max_connections:
                client.close()
                continue
            session = Session()
            self.sessions.append(session)
            thread = threading.Thread(
                target=self._talk, args=(client, session), daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _talk(self, client: socket.socket, session: Session) -> None:
        """Play the mode with one client, within its time and byte limits."""
        client.settimeout(_POLL)
        conversation = _Conversation(
            self, session, client, time.monotonic() + self.client_timeout
        )
        try:
            conversation.run()
        except (_SessionEndError, OSError):
            pass
        finally:
            conversation.sock.close()


#: How often blocked reads look at the clock and the stop flag.
_POLL: Final = 0.05


class _Conversation:
    """One client connection: packets in and out, with sequence numbers."""

    def __init__(
        self,
        server: HostileMySqlServer,
        session: Session,
        sock: socket.socket,
        deadline: float,
    ) -> None:
        """Start at sequence number 0."""
        self.server = server
        self.session = session
        self.sock = sock
        self.deadline = deadline
        self.sequence = 0

    def _check_time(self) -> None:
        """End the session when the server stops or the client's time is up."""
        if self.server.stop_requested.is_set() or time.monotonic() > self.deadline:
            raise _SessionEndError

    def _read(self, count: int) -> bytes:
        """Read exactly count bytes from the client and record them."""
        if len(self.session.received) + count > self.server.max_bytes:
            raise _SessionEndError
        data = bytearray()
        while len(data) < count:
            self._check_time()
            try:
                chunk = self.sock.recv(count - len(data))
            except TimeoutError:
                continue
            if not chunk:
                raise _SessionEndError
            data += chunk
            self.session.received += chunk
        return bytes(data)

    def read_packet(self) -> bytes:
        """Read one packet's payload."""
        header = self._read(4)
        length = int.from_bytes(header[:3], "little")
        self.sequence = (header[3] + 1) % 256
        payload = self._read(length)
        self.session.packets.append(payload)
        return payload

    def send(self, payload: bytes) -> None:
        """Send one packet."""
        self._check_time()
        self.sock.sendall(
            len(payload).to_bytes(3, "little") + bytes([self.sequence]) + payload
        )
        self.sequence = (self.sequence + 1) % 256

    def _greeting(self, plugin: bytes, tls: bool) -> bytes:
        """Return a HandshakeV10 greeting."""
        salt = secrets.token_bytes(20).replace(b"\0", b"\1")
        capabilities = _CAPABILITIES | (CLIENT.SSL if tls else 0)
        return (
            b"\x0a"
            + SERVER_VERSION
            + b"\0"
            + struct.pack("<I", 7)
            + salt[:8]
            + b"\0"
            + struct.pack("<H", capabilities & 0xFFFF)
            + bytes([45])  # utf8mb4_general_ci
            + struct.pack("<H", 2)
            + struct.pack("<H", capabilities >> 16)
            + bytes([21])
            + b"\0" * 10
            + salt[8:]
            + b"\0"
            + plugin
            + b"\0"
        )

    def _start_tls(self) -> None:
        """Answer a request to start TLS with the server's own certificate."""
        assert self.server.tls_context is not None
        self.sock.settimeout(max(0.1, self.deadline - time.monotonic()))
        self.sock = self.server.tls_context.wrap_socket(self.sock, server_side=True)
        self.sock.settimeout(_POLL)
        self.session.tls = True

    def run(self) -> None:
        """Play the server's mode."""
        mode = self.server.mode
        if mode is Mode.GARBAGE:
            # Cut short after the version: no connection id, salt or flags.
            self.send(b"\x0a5.5\0")
            self.read_packet()
            return
        greeting_plugin = _CLEARTEXT if mode is Mode.CLEARTEXT_GREETING else _NATIVE
        self.send(self._greeting(greeting_plugin, tls=mode is Mode.TLS))
        response = self.read_packet()
        if mode is Mode.TLS and len(response) == 32:
            # A request to start TLS: the rest of the conversation is encrypted.
            self._start_tls()
            response = self.read_packet()
        if mode is Mode.LOCAL_FILE:
            self.send(_OK)
            self._serve_local_file_requests()
            return
        if mode is Mode.OLD_PASSWORD_SWITCH:
            self.send(b"\xfe" + secrets.token_bytes(8).replace(b"\0", b"\1"))
            self.read_packet()
        elif mode is not Mode.CLEARTEXT_GREETING or _CLEARTEXT + b"\0" not in response:
            self.send(b"\xfe" + _CLEARTEXT + b"\0")
            self.read_packet()
        self.send(_ACCESS_DENIED)
        # Stay until the client leaves, recording anything more it sends.
        self.read_packet()

    def _serve_local_file_requests(self) -> None:
        """Answer every statement with a LOAD DATA LOCAL request."""
        for _ in range(_MAX_COMMANDS):
            command = self.read_packet()
            if not command or command[0] == _COM_QUIT:
                return
            if command[0] != _COM_QUERY:
                self.send(_OK)
                continue
            self.send(b"\xfb" + self.server.requested_file.encode())
            # The file's contents follow, ended by an empty packet.
            while self.read_packet():
                pass
            self.send(_OK)


def _serve(mode: Mode, seconds: float) -> None:
    """Serve until the time is up or Ctrl-C, then print what each client sent."""
    with HostileMySqlServer(mode, lifetime=seconds) as server:
        print(
            json.dumps(
                {
                    "host": HOST,
                    "port": server.port,
                    "mode": mode.value,
                    "ca_file": str(server.ca_file) if server.ca_file else None,
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.stop_requested.wait(seconds)
        sessions = list(server.sessions)
    for number, session in enumerate(sessions, start=1):
        print(f"client {number} (tls: {session.tls}): {bytes(session.received)!r}")


def main(argv: list[str] | None = None) -> int:
    """Serve one hostile server (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m devtools.hostile_mysql")
    parser.add_argument("mode", choices=[mode.value for mode in Mode])
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="stop after this long"
    )
    args = parser.parse_args(argv)
    _serve(Mode(args.mode), min(args.seconds, 3600.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

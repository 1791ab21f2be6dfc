"""A throwaway MariaDB server on 127.0.0.1 for the card-sync tests, benchmark and demo.

``MariaDbServer`` installs a fresh data directory in a temporary directory,
starts ``mariadbd`` on loopback (a free TCP port and a unix socket), waits for
the server's systemd-style ``READY=1`` notification (no polling), and creates
an administrator account on loopback with a random password.

``stop()`` shuts the server down and deletes the directory. The server also
stops by itself: at interpreter exit (``atexit``) and, through
``setpriv --pdeathsig``, when the process that started it dies without
cleaning up. Nothing here touches the system's own MariaDB.

With ``tls=True`` a private CA and a server certificate for 127.0.0.1 are
generated; ``ca_file`` is the CA a client verifies the server with. Without
it the server offers no TLS, whatever its MariaDB release.
``durable=False`` skips flushing each commit to disk: fast for tests, never
for measurements.

``python -m devtools.mariadb [--tls] [--database NAME]`` serves one with an
interface table until Ctrl-C or SIGTERM and prints one JSON line (host, port,
database, user, password, admin_user, admin_password, ca_file, base) once
ready.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
from dataclasses import dataclass
import datetime as dt
import ipaddress
import json
import os
from pathlib import Path
import random
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import Any, Final, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
import pymysql

HOST: Final = "127.0.0.1"
ADMIN_USER: Final = "smartcity_admin"
#: Ports tried for the server; mariadbd refuses a port in use and another is tried.
_PORT_RANGE: Final = (20000, 60999)
_PORT_ATTEMPTS: Final = 12
_READY_TIMEOUT: Final = 60.0
_STOP_TIMEOUT: Final = 60.0


class MariaDbError(RuntimeError):
    """The throwaway server could not be installed, started or stopped."""


@dataclass(frozen=True, slots=True)
class Account:
    """A database account an application connects with."""

    user: str
    password: str
    database: str


def write_test_ca(directory: Path, name: str = "ca") -> tuple[Path, Any, Any]:
    """Write a self-signed CA certificate to directory/name.pem; return path, cert and key."""

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"smartcity {name}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, cert, key


def write_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """Write a CA and a server certificate for 127.0.0.1 signed by it."""

    ca_path, ca_cert, ca_key = write_test_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address(HOST)),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = directory / "server-cert.pem"
    key_path = directory / "server-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


def _executable(name: str) -> str:
    """Return the full path of a MariaDB program (PATH, then /usr/sbin)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise MariaDbError(f"{name} is not installed (scripts/setup installs MariaDB)")
    return found


def _quote_identifier(name: str) -> str:
    """Quote a database, table or user name for SQL (test helper input only)."""
    if not name or "`" in name or "\x00" in name:
        raise ValueError(f"unusable identifier {name!r}")
    return f"`{name}`"


class MariaDbServer:
    """One throwaway mariadbd on 127.0.0.1; a context manager."""

    def __init__(
        self, *, tls: bool = False, durable: bool = True, base_dir: Path | None = None
    ) -> None:
        """Prepare (but do not start) a server; see the module docstring for tls and durable."""
        self.tls = tls
        self.durable = durable
        self._base_parent = base_dir
        self.base: Path | None = None
        self.port = 0
        self.admin_password = secrets.token_hex(16)
        self.ca_file: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._installed = False
        self._tls_args: list[str] = []

    # --- paths -------------------------------------------------------------
    @property
    def host(self) -> str:
        """Return the address the server listens on."""
        return HOST

    def _dir(self) -> Path:
        if self.base is None:
            raise MariaDbError("the server has not been installed")
        return self.base

    @property
    def socket_path(self) -> Path:
        """Return the server's unix socket."""
        return self._dir() / "mysqld.sock"

    @property
    def error_log(self) -> Path:
        """Return the server's error log."""
        return self._dir() / "error.log"

    @property
    def running(self) -> bool:
        """Return True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    # --- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and delete its files."""
        self.stop()

    def _install(self) -> None:
        """Create the temporary directory and an empty data directory."""
        self.base = Path(
            tempfile.mkdtemp(prefix="smartcity-mariadb-", dir=self._base_parent)
        )
        atexit.register(self.stop)
        datadir = self.base / "data"
        # Its own temporary directory: servers installed side by side (tests
        # running at once) never see each other's temporary tables.
        (self.base / "tmp").mkdir()
        result = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [
                _executable("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--tmpdir={self.base / 'tmp'}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise MariaDbError(
                "mariadb-install-db failed: "
                + result.stderr.decode(errors="replace")[-2000:]
            )
        if self.tls:
            self.ca_file, cert, key = write_server_cert(self.base)
            self._tls_args = [
                f"--ssl-ca={self.ca_file}",
                f"--ssl-cert={cert}",
                f"--ssl-key={key}",
            ]
        else:
            # MariaDB 11.4 and later offer TLS with a certificate they make up
            # themselves; a server without tls=True offers no TLS at all.
            self._tls_args = ["--skip-ssl"]
        # Runs at every start: an administrator on loopback with a random password.
        (self.base / "init.sql").write_text(
            f"CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'{HOST}' "
            f"IDENTIFIED BY '{self.admin_password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'{HOST}' WITH GRANT OPTION;\n",
            encoding="utf-8",
        )
        self._installed = True

    def start(self) -> None:
        """Install (first time) and start the server; return once it accepts connections."""
        if self.running:
            return
        if not self._installed:
            self._install()
        ports = (
            [self.port]
            if self.port
            else random.sample(range(*_PORT_RANGE), _PORT_ATTEMPTS)
        )
        last_error = ""
        for port in ports:
            try:
                self._start_on(port)
            except _PortInUseError as err:
                last_error = str(err)
                continue
            self.port = port
            return
        raise MariaDbError(f"no free port for mariadbd: {last_error}")

    def _start_on(self, port: int) -> None:
        """Start mariadbd on one port and wait for its READY notification."""
        base = self._dir()
        notify_path = base / "notify.sock"
        with contextlib.suppress(FileNotFoundError):
            notify_path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        log_size = self.error_log.stat().st_size if self.error_log.exists() else 0
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            notify.bind(str(notify_path))
            command = [
                _executable("mariadbd"),
                "--no-defaults",
                f"--datadir={base / 'data'}",
                f"--tmpdir={base / 'tmp'}",
                f"--socket={self.socket_path}",
                f"--port={port}",
                f"--bind-address={HOST}",
                "--user=root",
                "--skip-name-resolve",
                "--skip-log-bin",
                f"--pid-file={base / 'mysqld.pid'}",
                f"--log-error={self.error_log}",
                f"--init-file={base / 'init.sql'}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--innodb-buffer-pool-size=32M",
                "--performance-schema=OFF",
                "--max-connections=100",
                *self._tls_args,
                *(
                    []
                    if self.durable
                    else [
                        "--innodb-flush-log-at-trx-commit=0",
                        "--innodb-doublewrite=0",
                    ]
                ),
            ]
            if setpriv := shutil.which("setpriv"):
                # The server dies with the process that started it, even on SIGKILL.
                command = [setpriv, "--pdeathsig", "TERM", "--", *command]
            self._process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
                command,
                env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + _READY_TIMEOUT
            while time.monotonic() < deadline:
                readable, _, _ = select.select([notify], [], [], 0.25)
                if readable and b"READY=1" in notify.recv(4096):
                    return
                if self._process.poll() is not None:
                    break
            log = self._log_since(log_size)
            self._kill()
            if "already in use" in log or "Address in use" in log:
                raise _PortInUseError(f"port {port} in use")
            raise MariaDbError(f"mariadbd did not start:\n{log[-3000:]}")
        finally:
            notify.close()
            with contextlib.suppress(FileNotFoundError):
                notify_path.unlink()

    def _log_since(self, offset: int) -> str:
        """Return what the server wrote to its error log after offset."""
        try:
            with self.error_log.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _kill(self) -> None:
        """Kill the server process at once and reap it."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(_STOP_TIMEOUT)
            self._process = None

    def shutdown(self) -> None:
        """Shut the server down cleanly, keeping its data (start() brings it back)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
        self._process = None

    def stop(self) -> None:
        """Shut the server down and delete its directory."""
        self.shutdown()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        self._installed = False
        atexit.unregister(self.stop)

    # --- administration ----------------------------------------------------
    def admin(self, database: str | None = None) -> Any:
        """Open an autocommit PyMySQL connection as the administrator."""
        return pymysql.connect(
            host=HOST,
            port=self.port,
            user=ADMIN_USER,
            password=self.admin_password,
            database=database,
            charset="utf8mb4",
            autocommit=True,
        )

    def execute(
        self, sql: str, args: Any = None, *, database: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the administrator; return its rows."""
        connection = self.admin(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def create_account(
        self,
        database: str | None = None,
        *,
        privileges: str = "SELECT, INSERT, DELETE",
        require_tls: bool = False,
    ) -> Account:
        """Create a database and a user on 127.0.0.1 with privileges on it."""
        database = database or f"db_{secrets.token_hex(6)}"
        user = f"u_{secrets.token_hex(6)}"
        password = secrets.token_urlsafe(12)
        quoted = _quote_identifier(database)
        connection = self.admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS {quoted} "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                cursor.execute(
                    f"CREATE USER '{user}'@'{HOST}' IDENTIFIED BY %s"
                    + (" REQUIRE SSL" if require_tls else ""),
                    (password,),
                )
                cursor.execute(f"GRANT {privileges} ON {quoted}.* TO '{user}'@'{HOST}'")
        finally:
            connection.close()
        return Account(user=user, password=password, database=database)

    def drop_account(self, account: Account) -> None:
        """Drop an account's database and user."""
        connection = self.admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DROP DATABASE IF EXISTS {_quote_identifier(account.database)}"
                )
                cursor.execute(f"DROP USER IF EXISTS '{account.user}'@'{HOST}'")
        finally:
            connection.close()


class _PortInUseError(MariaDbError):
    """mariadbd could not bind its TCP port."""


CARD_TABLE_DDL: Final = """
CREATE TABLE {table} (
  idx INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  card_no VARCHAR({card_len}) NULL,
  user_name VARCHAR({name_len}) NULL,
  io_group_id CHAR({group_len}) NULL,
  dong_code VARCHAR({code_len}) NULL,
  ho_code VARCHAR({code_len}) NULL,
  issue_flag CHAR({flag_len}) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""


def card_table_ddl(table: str = "t_card_issue_if", *, wide: bool = False) -> str:
    """Return the CREATE TABLE of SPEC §4 (wide: longer columns, as some vendors use)."""
    sizes = (
        {"card_len": 40, "name_len": 60, "group_len": 4, "code_len": 8, "flag_len": 4}
        if wide
        else {
            "card_len": 20,
            "name_len": 30,
            "group_len": 1,
            "code_len": 4,
            "flag_len": 1,
        }
    )
    return CARD_TABLE_DDL.format(table=_quote_identifier(table), **sizes)


def main(argv: list[str] | None = None) -> int:
    """Serve a server with an interface table until Ctrl-C or SIGTERM (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m devtools.mariadb")
    parser.add_argument("--tls", action="store_true", help="generate a CA and use TLS")
    parser.add_argument("--database", default="smartcity", help="database to create")
    args = parser.parse_args(argv)

    # Ctrl-C and SIGTERM are waited for, not handled: no race with start-up.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with MariaDbServer(tls=args.tls) as server:
        account = server.create_account(args.database)
        server.execute(card_table_ddl(), database=account.database)
        print(
            json.dumps(
                {
                    "host": server.host,
                    "port": server.port,
                    "database": account.database,
                    "user": account.user,
                    "password": account.password,
                    "admin_user": ADMIN_USER,
                    "admin_password": server.admin_password,
                    "ca_file": str(server.ca_file) if server.ca_file else None,
                    "base": str(server.base),
                }
            ),
            flush=True,
        )
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())

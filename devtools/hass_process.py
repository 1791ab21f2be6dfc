"""A real Home Assistant (`hass`) as a child process on 127.0.0.1, driven through its own APIs.

Used by the demo and the chaos suite: a configuration directory with the
integration linked in, start, graceful stop and kill -9, the wait until it
answers, onboarding without a person, an access token, config, options and
subentry flows over REST, and websocket commands and event subscriptions.

The process is started with ``setpriv --pdeathsig KILL`` where available, so
it dies with the process that started it even when that one is killed; every
wait here is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import datetime
import importlib
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import sys
import time
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

ROOT: Final = Path(__file__).resolve().parents[1]
DOMAIN: Final = "smartcity_ddc"
CLIENT_ID: Final = "http://127.0.0.1/"
HOST: Final = "127.0.0.1"
#: Seconds Home Assistant gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT: Final = 60.0
#: Seconds one websocket command may take.
COMMAND_TIMEOUT: Final = 60.0


class HassError(RuntimeError):
    """Home Assistant did not start, answer or stop as expected."""


class HassCommandError(HassError):
    """A websocket command or REST call was answered with an error."""

    def __init__(self, what: str, error: Any) -> None:
        """Keep the error Home Assistant returned."""
        super().__init__(f"{what}: {error}")
        self.error = error


class HassConnectionLostError(HassError):
    """The websocket closed before a command was answered (Home Assistant stopped or was killed)."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class HassWebSocket:
    """One authenticated websocket connection: commands in flight by id, events to callbacks."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an authenticated connection; start() begins reading."""
        self._ws = ws
        self._next_id = 0
        #: Commands in flight: id to (future of the result, command type).
        self._pending: dict[int, tuple[asyncio.Future[Any], str]] = {}
        self._listeners: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    def start(self) -> None:
        """Start dispatching answers and events."""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Hand each message to the command or subscription it belongs to."""
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                for item in data if isinstance(data, list) else [data]:
                    self._dispatch(item)
        finally:
            self.closed.set()
            for future, _ in self._pending.values():
                if not future.done():
                    future.set_exception(
                        HassConnectionLostError("the websocket closed")
                    )
            self._pending.clear()

    def _dispatch(self, item: dict[str, Any]) -> None:
        """Resolve a command's future or call an event listener."""
        number = item.get("id")
        if item.get("type") == "event" and number in self._listeners:
            self._listeners[number](item["event"])
            return
        pending = self._pending.pop(number, None) if number is not None else None
        if pending is None or pending[0].done():
            return
        future, kind = pending
        if item.get("success"):
            future.set_result(item.get("result"))
        else:
            future.set_exception(HassCommandError(kind, item.get("error")))

    def send(self, message: dict[str, Any]) -> asyncio.Future[Any]:
        """Send a command; return the future of its result (commands may be in flight together)."""
        if self.closed.is_set():
            raise HassConnectionLostError("the websocket is closed")
        self._next_id += 1
        number = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[number] = (future, str(message.get("type")))
        sending = asyncio.ensure_future(self._ws.send_json({"id": number, **message}))

        def _sent(task: asyncio.Future[None]) -> None:
            """Fail the command if it could not be sent."""
            error = None if task.cancelled() else task.exception()
            if error is not None and not future.done():
                self._pending.pop(number, None)
                future.set_exception(HassConnectionLostError(str(error)))

        sending.add_done_callback(_sent)
        return future

    async def call(
        self, message: dict[str, Any], timeout: float = COMMAND_TIMEOUT
    ) -> Any:
        """Send a command and wait for its result."""
        return await asyncio.wait_for(self.send(message), timeout)

    async def subscribe_events(
        self, event_type: str, listener: Callable[[dict[str, Any]], None]
    ) -> None:
        """Call listener with every event of this type until the connection closes."""
        future = self.send({"type": "subscribe_events", "event_type": event_type})
        self._listeners[self._next_id] = listener
        await asyncio.wait_for(future, COMMAND_TIMEOUT)

    async def close(self) -> None:
        """Close the connection and stop reading."""
        await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await asyncio.wait_for(self._reader, 10)

    async def __aenter__(self) -> Self:
        """Use as a context manager."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving."""
        await self.close()


class HassProcess:
    """One Home Assistant process with its own configuration directory and port."""

    def __init__(
        self, config_dir: Path, port: int, *, log_path: Path | None = None
    ) -> None:
        """Prepare paths; nothing runs yet."""
        self.config_dir = config_dir
        self.port = port
        self.url = f"http://{HOST}:{port}"
        #: Where hass's stdout and stderr go (its own log is config_dir/home-assistant.log).
        self.log_path = log_path or config_dir.parent / "hass.log"
        self.process: asyncio.subprocess.Process | None = None
        self.token = ""
        self.refresh_token = ""
        #: Process ids of every start, oldest first.
        self.pids: list[int] = []

    # --- files ---------------------------------------------------------------

    @property
    def storage(self) -> Path:
        """Return the .storage directory."""
        return self.config_dir / ".storage"

    def _http_yaml(self) -> str:
        """Bind the HTTP server to 127.0.0.1 on our port, the way this release takes it.

        Newer releases keep the HTTP settings in storage: YAML would be
        migrated as an unconfirmed trial that the frontend asks to confirm
        and that reverts to the defaults (every interface, port 8123) after
        five minutes. There the settings are written to storage as confirmed.
        """
        try:
            http_config = importlib.import_module(
                "homeassistant.components.http.config"
            )
        except ImportError:
            http_config = None
        if http_config is None or not hasattr(http_config, "HTTPConfigStore"):
            return f"\nhttp:\n  server_host: {HOST}\n  server_port: {self.port}\n"
        stable = {
            **http_config.HTTP_STORAGE_SCHEMA(
                {"server_host": [HOST], "server_port": self.port}
            ),
            "created_at": datetime.now().astimezone().isoformat(),
            "error": None,
            "error_message": None,
        }
        stored = {
            "version": http_config.STORAGE_VERSION,
            "minor_version": http_config.STORAGE_MINOR_VERSION,
            "key": http_config.STORAGE_KEY,
            "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
        }
        (self.storage / http_config.STORAGE_KEY).write_text(
            json.dumps(stored), encoding="utf-8"
        )
        return ""

    def write_config(self, configuration: str) -> None:
        """Create a fresh configuration directory: this YAML (plus http), the integration linked in.

        Onboarding is marked done up to the user step, so onboard() can
        create the owner through the API.
        """
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        self.storage.mkdir(parents=True)
        (self.config_dir / "configuration.yaml").write_text(
            configuration + self._http_yaml(), encoding="utf-8"
        )
        (self.config_dir / "custom_components").mkdir()
        (self.config_dir / "custom_components" / DOMAIN).symlink_to(
            ROOT / "custom_components" / DOMAIN
        )
        onboarding = {
            "version": 4,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": ["core_config", "analytics"]},
        }
        (self.storage / "onboarding").write_text(
            json.dumps(onboarding), encoding="utf-8"
        )

    # --- the process -------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Return True while the process runs."""
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start hass (without installing anything); return at once."""
        if self.running:
            raise HassError("Home Assistant is already running")
        command = [
            str(Path(sys.executable).parent / "hass"),
            "--config",
            str(self.config_dir),
            "--skip-pip",
        ]
        if setpriv := shutil.which("setpriv"):
            # hass dies with the process that started it, even on SIGKILL.
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self.pids.append(self.process.pid)

    def _check_alive(self) -> None:
        """Raise if hass has exited."""
        if self.process is not None and self.process.returncode is not None:
            raise HassError(
                f"hass exited with {self.process.returncode}; see {self.log_path}"
            )

    async def wait_until_up(
        self, session: aiohttp.ClientSession, limit: float = 180
    ) -> None:
        """Wait until the HTTP server answers (it starts once the frontend and onboarding are set up)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(
                    f"{self.url}/auth/providers",
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as response:
                    # 400 before onboarding ("onboarding_required"), 200 after:
                    # any answer means the server is up.
                    if response.status < 500:
                        return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"Home Assistant did not start within {limit:.0f} s")

    async def wait_until_running(
        self, session: aiohttp.ClientSession, limit: float = 180
    ) -> None:
        """Wait until Home Assistant has finished starting (core state RUNNING)."""
        deadline = time.monotonic() + limit
        await self.wait_until_up(session, limit)
        if self.refresh_token:
            # An access token lives 30 minutes; a long run outlives it.
            await self.refresh_access_token(session)
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(HassError, aiohttp.ClientError, TimeoutError):
                (config,) = await self.websocket(session, {"type": "get_config"})
                if config.get("state") == "RUNNING":
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"Home Assistant was not running within {limit:.0f} s")

    async def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop hass with SIGTERM (SIGKILL after timeout); return its exit code."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        return process.returncode

    async def kill(self) -> None:
        """Kill hass with SIGKILL (no chance to save anything) and reap it."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)

    # --- authentication ------------------------------------------------------------

    async def onboard(
        self,
        session: aiohttp.ClientSession,
        *,
        name: str,
        username: str,
        password: str,
        language: str = "en",
    ) -> None:
        """Create the owner (an administrator), get tokens and finish onboarding."""
        user = {
            "client_id": CLIENT_ID,
            "name": name,
            "username": username,
            "password": password,
            "language": language,
        }
        async with session.post(
            f"{self.url}/api/onboarding/users", json=user
        ) as response:
            response.raise_for_status()
            code = (await response.json())["auth_code"]
        await self._tokens(
            session,
            {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
        )
        body = {"client_id": CLIENT_ID, "redirect_uri": f"{CLIENT_ID}?auth_callback=1"}
        async with session.post(
            f"{self.url}/api/onboarding/integration", json=body, headers=self.auth
        ) as response:
            response.raise_for_status()

    async def refresh_access_token(self, session: aiohttp.ClientSession) -> None:
        """Get a fresh access token with the refresh token (after a restart, or when it ages)."""
        await self._tokens(
            session,
            {
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token,
                "client_id": CLIENT_ID,
            },
        )

    async def _tokens(
        self, session: aiohttp.ClientSession, form: dict[str, str]
    ) -> None:
        """Exchange a grant for tokens."""
        async with session.post(f"{self.url}/auth/token", data=form) as response:
            if response.status >= 400:
                raise HassCommandError("/auth/token", await response.text())
            tokens = await response.json()
        self.token = tokens["access_token"]
        self.refresh_token = tokens.get("refresh_token", self.refresh_token)

    @property
    def auth(self) -> dict[str, str]:
        """Return the Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}

    # --- REST --------------------------------------------------------------------

    async def post(
        self, session: aiohttp.ClientSession, path: str, body: dict[str, Any]
    ) -> Any:
        """POST to the REST API; raise HassCommandError on an error status."""
        async with session.post(
            f"{self.url}{path}", json=body, headers=self.auth
        ) as response:
            if response.status >= 400:
                raise HassCommandError(
                    path, f"{response.status} {await response.text()}"
                )
            return await response.json()

    async def flow(
        self,
        session: aiohttp.ClientSession,
        kind: str,
        handler: str,
        *steps: dict[str, Any],
        start: dict[str, Any] | None = None,
        done: str = "create_entry",
    ) -> Any:
        """Run a config ('config'), options ('options') or subentry ('subentry') flow step by step.

        A subentry flow's handler is "entry_id/subentry_type"; `start` adds to
        the first request (e.g. {"subentry_id": ...} reconfigures a subentry,
        which ends in an abort: done="abort").
        """
        base = (
            "/api/config/config_entries/"
            + {
                "config": "flow",
                "options": "options/flow",
                "subentry": "subentries/flow",
            }[kind]
        )
        result = await self.post(
            session,
            base,
            {
                "handler": handler.split("/") if kind == "subentry" else handler,
                **(start or {}),
            },
        )
        for step in steps:
            result = await self.post(session, f"{base}/{result['flow_id']}", step)
            if result.get("errors"):
                raise HassCommandError(
                    f"{handler} step {result.get('step_id')}", result["errors"]
                )
        if result.get("type") != done:
            raise HassCommandError(f"{handler} flow did not finish", result)
        return result

    # --- websocket ---------------------------------------------------------------

    async def connect(self, session: aiohttp.ClientSession) -> HassWebSocket:
        """Open and authenticate a websocket connection."""
        ws = await session.ws_connect(f"{self.url}/api/websocket", heartbeat=None)
        answer: Any = None
        try:
            await asyncio.wait_for(ws.receive_json(), COMMAND_TIMEOUT)
            await ws.send_json({"type": "auth", "access_token": self.token})
            answer = await asyncio.wait_for(ws.receive_json(), COMMAND_TIMEOUT)
        finally:
            if not isinstance(answer, dict) or answer.get("type") != "auth_ok":
                await ws.close()
        if answer.get("type") != "auth_ok":
            raise HassCommandError("websocket authentication", answer)
        connection = HassWebSocket(ws)
        connection.start()
        return connection

    async def websocket(
        self, session: aiohttp.ClientSession, *messages: dict[str, Any]
    ) -> list[Any]:
        """Send websocket commands in order on a fresh connection and return their results."""
        async with await self.connect(session) as connection:
            return [await connection.call(message) for message in messages]

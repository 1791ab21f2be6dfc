"""The demo: a simulated shelter and a real Home Assistant, configured and ready to click.

Runs the DDC simulator in this process and `hass` as a child process bound to
127.0.0.1, completes onboarding through Home Assistant's own HTTP API, adds the
integration's entries through the config flow API, prints the URL and login,
and stops both cleanly on Ctrl-C (or after --duration seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import shutil
import signal
import sys
import time
from typing import Any

import aiohttp

from devtools.simulator import ShelterDdc, SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "http://127.0.0.1/"
USERNAME = "demo"
PASSWORD = "shelter-demo"  # noqa: S105  # a throwaway account of a throwaway local instance

CONFIGURATION = """\
# Written by devtools/demo.py: a local demo instance on 127.0.0.1 only.
homeassistant:
  name: Smart Shelter Demo
  time_zone: Asia/Seoul
  country: KR
  currency: KRW
  unit_system: metric
  latitude: 37.5665
  longitude: 126.978
  elevation: 38

http:
  server_host: 127.0.0.1
  server_port: {port}

# Listed one by one instead of default_config, which would send LAN multicast.
frontend:
config:
api:
history:
logbook:
energy:
conversation:
assist_pipeline:
diagnostics:
search:
person:
system_health:
recorder:
  purge_keep_days: 10
  commit_interval: 2

logger:
  default: warning
  logs:
    custom_components.smartcity_ddc: info
"""


class Demo:
    """One demo run: its directory, processes and HTTP session."""

    def __init__(self, run_dir: Path, port: int, modbus_port: int) -> None:
        """Prepare paths; nothing runs yet."""
        self.run_dir = run_dir
        self.config_dir = run_dir / "config"
        self.port = port
        self.modbus_port = modbus_port
        self.url = f"http://127.0.0.1:{port}"
        self.simulator = SimulatorServer(port=modbus_port, framer="tcp")
        self.hass: asyncio.subprocess.Process | None = None
        self.token = ""

    def write_config(self) -> None:
        """Create a fresh configuration directory with the integration linked in."""
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        (self.config_dir / ".storage").mkdir(parents=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port), encoding="utf-8"
        )
        (self.config_dir / "custom_components").mkdir()
        (self.config_dir / "custom_components" / "smartcity_ddc").symlink_to(
            ROOT / "custom_components" / "smartcity_ddc"
        )
        onboarding = {
            "version": 4,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": ["core_config", "analytics"]},
        }
        (self.config_dir / ".storage" / "onboarding").write_text(
            json.dumps(onboarding), encoding="utf-8"
        )

    async def start(self) -> None:
        """Start the simulator and Home Assistant, then onboard and configure."""
        self.write_config()
        self.simulator.add_device(1, ShelterDdc(seed=1))
        await self.simulator.start()
        log = (self.run_dir / "hass.log").open("wb")
        self.hass = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "hass"),
            "--config",
            str(self.config_dir),
            "--skip-pip",
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        async with aiohttp.ClientSession() as session:
            await self._wait_until_up(session)
            await self._onboard(session)
            await self._add_ddc(session)

    async def _wait_until_up(
        self, session: aiohttp.ClientSession, limit: float = 180
    ) -> None:
        """Wait for the onboarding API to answer."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.hass is not None and self.hass.returncode is not None:
                raise RuntimeError(
                    f"hass exited with {self.hass.returncode}; see {self.run_dir / 'hass.log'}"
                )
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{self.url}/api/onboarding") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"Home Assistant did not start within {limit:.0f} s")

    async def _onboard(self, session: aiohttp.ClientSession) -> None:
        """Create the demo user and finish onboarding."""
        user = {
            "client_id": CLIENT_ID,
            "name": "Demo",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "en",
        }
        async with session.post(
            f"{self.url}/api/onboarding/users", json=user
        ) as response:
            response.raise_for_status()
            code = (await response.json())["auth_code"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
        }
        async with session.post(f"{self.url}/auth/token", data=form) as response:
            response.raise_for_status()
            self.token = (await response.json())["access_token"]
        body = {"client_id": CLIENT_ID, "redirect_uri": f"{CLIENT_ID}?auth_callback=1"}
        async with session.post(
            f"{self.url}/api/onboarding/integration", json=body, headers=self._auth
        ) as response:
            response.raise_for_status()

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def flow(
        self, session: aiohttp.ClientSession, *steps: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a config flow of the integration through the HTTP API, step by step."""
        async with session.post(
            f"{self.url}/api/config/config_entries/flow",
            json={"handler": "smartcity_ddc"},
            headers=self._auth,
        ) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
        for step in steps:
            async with session.post(
                f"{self.url}/api/config/config_entries/flow/{result['flow_id']}",
                json=step,
                headers=self._auth,
            ) as response:
                response.raise_for_status()
                result = await response.json()
        if result.get("type") != "create_entry":
            raise RuntimeError(f"config flow did not finish: {result}")
        return result

    async def _add_ddc(self, session: aiohttp.ClientSession) -> None:
        """Add the simulated shelter's DDC."""
        await self.flow(
            session,
            {"next_step_id": "ddc"},
            {"transport": "tcp"},
            {
                "host": "127.0.0.1",
                "port": self.modbus_port,
                "slave": 1,
                "scan_interval": 5,
            },
        )

    def write_ready_file(self, path: Path) -> None:
        """Tell a test where the demo is and how to log in."""
        path.write_text(
            json.dumps(
                {
                    "url": self.url,
                    "username": USERNAME,
                    "password": PASSWORD,
                    "token": self.token,
                    "modbus_port": self.modbus_port,
                    "pid": os.getpid(),
                }
            ),
            encoding="utf-8",
        )

    async def stop(self) -> None:
        """Stop Home Assistant (gracefully, then by force) and the simulator."""
        if self.hass is not None and self.hass.returncode is None:
            self.hass.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.hass.wait(), 60)
            except TimeoutError:
                self.hass.kill()
                await self.hass.wait()
        await self.simulator.stop()


async def main(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C, SIGTERM or the end of --duration."""
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(run_dir, args.port, args.modbus_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await demo.start()
        if args.ready_file:
            demo.write_ready_file(Path(args.ready_file))
        print(f"Smart shelter demo is ready: {demo.url}", flush=True)
        print(f"  login: {USERNAME} / {PASSWORD}", flush=True)
        print(
            f"  simulated DDC: Modbus TCP 127.0.0.1:{demo.modbus_port}, slave 1",
            flush=True,
        )
        print("  Ctrl-C stops Home Assistant and the simulator.", flush=True)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if demo.hass is not None:
            waiters.append(asyncio.ensure_future(demo.hass.wait()))
        await asyncio.wait(
            waiters, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()
    finally:
        print("Stopping the demo...", flush=True)
        await demo.stop()
    print("Demo stopped.", flush=True)
    return 0


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DEMO_PORT", "8123"))
    )
    parser.add_argument(
        "--modbus-port",
        type=int,
        default=int(os.environ.get("DEMO_MODBUS_PORT", "5020")),
    )
    parser.add_argument("--run-dir", default=str(ROOT / ".run" / "demo"))
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds",
    )
    parser.add_argument(
        "--ready-file",
        default="",
        help="write the URL and login here once ready (for tests)",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()

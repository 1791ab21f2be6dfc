"""The command line: ready line, serving, clean stop on --duration, signals and parent exit."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import signal
import socket
import sys

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
import pytest

from devtools.simulator.__main__ import main

from .helpers import unit

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(
    r"simulator ready on 127\.0\.0\.1:(\d+) \((tcp|rtu), slaves ([\d,]+)\)"
)
STARTUP_TIMEOUT = 30


async def start_cli(*args: str) -> tuple[asyncio.subprocess.Process, int]:
    """Start the simulator CLI and wait for its ready line; return it and the port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.simulator",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(STARTUP_TIMEOUT):
        line = (await process.stdout.readline()).decode()
    match = READY.fullmatch(line.strip())
    assert match, line
    return process, int(match.group(1))


async def wait_exit(process: asyncio.subprocess.Process) -> int:
    """Wait (bounded) for the process to end; kill it if it does not."""
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            return await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise


async def test_cli_stops_after_duration() -> None:
    process, port = await start_cli(
        "--duration", "0.2", "--slaves", "3,1", "--framer", "rtu"
    )
    assert port > 0
    assert await wait_exit(process) == 0


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
async def test_cli_serves_until_signal(signum) -> None:
    process, port = await start_cli("--slaves", "1,2", "--seed", "4")
    try:
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=port, framer=FramerType.SOCKET, timeout=5, retries=0
        )
        assert await client.connect()
        for slave in (1, 2):
            response = await client.read_holding_registers(352, count=2, **unit(slave))
            assert response.registers == [1, 1]
        client.close()
    finally:
        process.send_signal(signum)
    assert await wait_exit(process) == 0


async def test_cli_exits_when_parent_is_gone() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    process, _ = await start_cli("--parent-pid", str(parent.pid))
    parent.kill()
    await parent.wait()
    assert await wait_exit(process) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "0.0.0.0"],
        ["--host", "localhost"],
        ["--slaves", "0"],
        ["--slaves", "1,1"],
        ["--framer", "ascii"],
    ],
)
def test_cli_rejects_bad_arguments(args, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_reports_busy_port(capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1]), "--duration", "0"]) == 1
    assert "simulator:" in capsys.readouterr().err

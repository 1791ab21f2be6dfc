"""The throwaway MariaDB of devtools: it cleans up after itself, even when its parent dies."""

from __future__ import annotations

import json
import os
from pathlib import Path
import select
import shutil
import signal
import subprocess
import sys

import pytest

from devtools.mariadb import MariaDbError, MariaDbServer

ROOT = Path(__file__).parents[2]


def wait_for_exit(pid: int, timeout: float = 30.0) -> bool:
    """Wait for a process that is not our child to end (pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def server_pid(base: Path) -> int:
    return int((base / "mysqld.pid").read_text().strip())


def test_stop_removes_the_server_and_its_files() -> None:
    server = MariaDbServer(durable=False)
    server.start()
    assert server.running
    assert server.base is not None
    base = server.base
    pid = server_pid(base)
    assert server.execute("SELECT 1") == [(1,)]

    # A second server cannot take the same port.
    second = MariaDbServer(durable=False)
    second.port = server.port
    with pytest.raises(MariaDbError, match="no free port"):
        second.start()
    second.stop()

    server.shutdown()
    assert not server.running
    assert wait_for_exit(pid)
    server.start()  # same data, same port
    assert server.execute("SELECT 1") == [(1,)]
    server.stop()
    assert not base.exists()
    assert server.base is None
    server.stop()  # twice is fine


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.mariadb", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read() if process.stderr else ""
    return process, json.loads(line)


def test_the_cli_stops_cleanly_on_sigterm() -> None:
    process, info = _start_cli()
    base = Path(str(info["base"]))
    pid = server_pid(base)
    assert info["database"] == "smartcity"
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert wait_for_exit(pid)
    assert not base.exists()


def test_the_server_dies_with_its_parent() -> None:
    process, info = _start_cli("--tls")
    base = Path(str(info["base"]))
    assert info["ca_file"]
    pid = server_pid(base)
    # SIGKILL: no atexit, no cleanup; the kernel's parent-death signal stops mariadbd.
    process.kill()
    process.wait(60)
    try:
        assert wait_for_exit(pid)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_benchmark_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.bench_cards",
            "--rows",
            "300",
            "--batch-size",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = {
        " ".join(line.split()[:2]): line.split()[2]
        for line in result.stdout.splitlines()
        if len(line.split()) > 2
    }
    assert figures["rows synced"] == "300"
    assert figures["events fired"] == "300"
    assert figures["rows left"] == "0"
    assert "longest stall" in figures
    assert "MISSED" not in result.stdout

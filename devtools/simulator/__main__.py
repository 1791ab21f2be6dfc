"""Command line: serve the standard shelter until Ctrl-C, SIGTERM or --duration.

python -m devtools.simulator --port 5020 [--host 127.0.0.1] [--framer tcp|rtu]
    [--slaves 1,2,3] [--seed N] [--duration SECONDS] [--parent-pid PID]

Each slave id gets a ShelterDdc seeded with seed + slave id. Prints
"simulator ready on HOST:PORT (FRAMER, slaves 1,2,3)" once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import sys

from .device import ShelterDdc
from .server import SimulatorServer

PARENT_POLL_SECONDS = 0.5


def _loopback(text: str) -> str:
    """Accept only a loopback IP address."""
    try:
        if ipaddress.ip_address(text).is_loopback:
            return text
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"{text} is not a loopback address (e.g. 127.0.0.1)"
    )


def _slaves(text: str) -> list[int]:
    """Parse a comma-separated list of slave ids 1-247."""
    try:
        slaves = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad slave list {text!r}") from None
    if (
        not slaves
        or any(not 1 <= slave <= 247 for slave in slaves)
        or len(set(slaves)) != len(slaves)
    ):
        raise argparse.ArgumentTypeError("slave ids must be distinct, 1-247")
    return slaves


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", type=_loopback, default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=5020, help="TCP port; 0 picks a free one"
    )
    parser.add_argument("--framer", choices=("tcp", "rtu"), default="tcp")
    parser.add_argument(
        "--slaves", type=_slaves, default=[1], help="comma-separated slave ids"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    return parser


def _alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    """Set stop once the process is gone (or we were re-parented away from it)."""
    was_parent = os.getppid() == pid
    while True:
        if not _alive(pid) or (was_parent and os.getppid() != pid):
            stop.set()
            return
        await asyncio.sleep(PARENT_POLL_SECONDS)


async def _run(args: argparse.Namespace) -> None:
    """Serve until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = SimulatorServer(host=args.host, port=args.port, framer=args.framer)
    for slave in args.slaves:
        server.add_device(slave, ShelterDdc(seed=args.seed + slave))
    watcher = (
        asyncio.create_task(_watch_parent(args.parent_pid, stop))
        if args.parent_pid
        else None
    )
    async with server:
        slaves = ",".join(str(slave) for slave in args.slaves)
        print(
            f"simulator ready on {args.host}:{server.port} ({args.framer}, slaves {slaves})",
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    if watcher is not None:
        watcher.cancel()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator CLI; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except OSError as err:
        print(f"simulator: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures for the DDC simulator tests: real servers and clients on 127.0.0.1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
import pytest

from devtools.simulator import ShelterDdc, SimulatorServer

from .helpers import FakeClock, RawPeer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests open loopback sockets (pytest-socket blocks them by default)."""


@pytest.fixture
def clock() -> FakeClock:
    """A DDC clock frozen at 12:00 that tests move by hand."""
    return FakeClock("12:00")


@pytest.fixture
async def make_server(
    clock: FakeClock,
) -> AsyncIterator[Callable[..., Awaitable[SimulatorServer]]]:
    """Start servers with a ShelterDdc per slave (frozen clock, no ticker); stop them after the test."""
    servers: list[SimulatorServer] = []

    async def _make(
        framer: str = "tcp", slaves: tuple[int, ...] = (1,), **kwargs: Any
    ) -> SimulatorServer:
        kwargs.setdefault("auto_tick", False)
        server = SimulatorServer(framer=framer, **kwargs)  # type: ignore[arg-type]
        for slave in slaves:
            server.add_device(slave, ShelterDdc(clock=clock, seed=slave))
        await server.start()
        servers.append(server)
        return server

    yield _make
    for server in servers:
        await server.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[
    Callable[..., Awaitable[AsyncModbusTcpClient]]
]:
    """Connect pymodbus clients (the independent peer); close them after the test."""
    clients: list[AsyncModbusTcpClient] = []

    async def _make(
        server: SimulatorServer, response_timeout: float = 3.0
    ) -> AsyncModbusTcpClient:
        framer = FramerType.RTU if server.framer == "rtu" else FramerType.SOCKET
        client = AsyncModbusTcpClient(
            "127.0.0.1",
            port=server.port,
            framer=framer,
            timeout=response_timeout,
            retries=0,
        )
        assert await client.connect()
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.close()


@pytest.fixture
async def make_raw() -> AsyncIterator[Callable[[SimulatorServer], Awaitable[RawPeer]]]:
    """Open raw TCP connections for byte-level tests; close them after the test."""
    peers: list[RawPeer] = []

    async def _make(server: SimulatorServer) -> RawPeer:
        peer = await RawPeer.connect(server)
        peers.append(peer)
        return peer

    yield _make
    for peer in peers:
        await peer.close()

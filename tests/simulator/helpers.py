"""Byte-level helpers for the simulator tests, built on pymodbus's CRC (an independent implementation)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
import struct
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pymodbus.framer import FramerRTU

from custom_components.smartcity_ddc.line import UNIT_KEYWORD

if TYPE_CHECKING:
    from devtools.simulator import SimulatorServer

SEOUL = ZoneInfo("Asia/Seoul")
IO_TIMEOUT = 5.0


def unit(number: int) -> dict[str, int]:
    """The unit id argument of a pymodbus client call, in this pymodbus's spelling."""
    return {UNIT_KEYWORD: number}


class FakeClock:
    """A settable DDC clock."""

    def __init__(self, hhmm: str) -> None:
        self.set(hhmm)

    def set(self, hhmm: str) -> None:
        hour, minute = (int(part) for part in hhmm.split(":"))
        self.now = datetime(2026, 1, 5, hour, minute, tzinfo=SEOUL)

    def __call__(self) -> datetime:
        return self.now


def mbap(transaction: int, unit: int, pdu: bytes) -> bytes:
    """A Modbus TCP frame."""
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def rtu(unit: int, pdu: bytes) -> bytes:
    """An RTU frame with pymodbus's CRC."""
    frame = bytes([unit]) + pdu
    return frame + FramerRTU.compute_CRC(frame).to_bytes(2, "big")


def read_pdu(address: int, count: int, function: int = 3) -> bytes:
    """A read request PDU."""
    return struct.pack(">BHH", function, address, count)


class RawPeer:
    """A raw TCP connection to a simulator server."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framer: str
    ) -> None:
        self.reader, self.writer, self.framer = reader, writer, framer

    @classmethod
    async def connect(cls, server: SimulatorServer) -> RawPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer, server.framer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self) -> tuple[int, int, bytes]:
        """Read one response: (transaction or 0, unit, pdu)."""
        async with asyncio.timeout(IO_TIMEOUT):
            if self.framer == "tcp":
                transaction, protocol, length = struct.unpack(
                    ">HHH", await self.reader.readexactly(6)
                )
                assert protocol == 0
                body = await self.reader.readexactly(length)
                return transaction, body[0], body[1:]
            head = await self.reader.readexactly(3)
            function = head[1]
            if function & 0x80:
                rest = 2
            elif function in (1, 2, 3, 4):
                rest = head[2] + 2
            else:
                rest = 5
            frame = head + await self.reader.readexactly(rest)
            assert FramerRTU.compute_CRC(frame[:-2]).to_bytes(2, "big") == frame[-2:]
            return 0, frame[0], frame[1:-2]

    async def request(self, unit: int, pdu: bytes, transaction: int = 1) -> bytes:
        """Send one request and return the response PDU."""
        await self.send(
            mbap(transaction, unit, pdu) if self.framer == "tcp" else rtu(unit, pdu)
        )
        _, _, response = await self.receive()
        return response

    async def at_eof(self) -> bool:
        """Whether the server closed the connection (waits for it)."""
        async with asyncio.timeout(IO_TIMEOUT):
            return await self.reader.read(1) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

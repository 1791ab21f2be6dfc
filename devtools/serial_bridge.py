"""A pseudo-terminal wired to a simulator's RTU server: a real serial port for tests.

pymodbus opens the pty's slave end like a USB RS-485 adapter; every byte it
writes is forwarded to the RTU-over-TCP simulator and every answer comes back,
so serial RTU runs here without hardware and without mocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from types import TracebackType
from typing import Self


class SerialBridge:
    """Bridge a new pty to 127.0.0.1:port (an RTU-framed simulator)."""

    def __init__(self, port: int) -> None:
        """Prepare the bridge; `start` opens it."""
        self._port = port
        self._master = self._slave = -1
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self.path = ""

    async def start(self) -> None:
        """Open the pty and connect it to the simulator."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        self.path = os.ttyname(self._slave)
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        loop = asyncio.get_running_loop()
        loop.add_reader(self._master, self._to_simulator)
        self._pump = asyncio.create_task(self._to_serial(reader))

    def _to_simulator(self) -> None:
        """Forward what the serial client wrote."""
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        if self._writer is not None and data:
            self._writer.write(data)

    async def _to_serial(self, reader: asyncio.StreamReader) -> None:
        """Forward the simulator's answers to the serial client."""
        while data := await reader.read(4096):
            os.write(self._master, data)

    async def stop(self) -> None:
        """Close everything."""
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    async def __aenter__(self) -> Self:
        """Start the bridge."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the bridge."""
        await self.stop()

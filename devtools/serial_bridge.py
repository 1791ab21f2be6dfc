"""A pseudo-terminal wired to a simulator's TCP server: a real serial port for tests.

A client opens the pty's slave end like a USB RS-485 adapter; every byte it
writes is forwarded to the simulator on 127.0.0.1 and every answer comes
back, so serial clients run here without hardware and without mocks.

A pty passes bytes as fast as the kernel copies them. With ``baudrate`` set,
the bridge paces both directions like an RS-485 line: each byte is released
when its last bit would have arrived (1 start + data + parity + stop bits at
the baud rate), and an answer starts ``turnaround`` seconds after the line
went quiet (the device's reaction time). Without it (the default, used by
the Modbus tests) bytes pass at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import os
import tty
from types import TracebackType
from typing import Self


def bits_per_char(bytesize: int = 8, parity: str = "E", stopbits: int = 1) -> int:
    """Return the bits one byte takes on a serial line: start, data, parity, stop."""
    return 1 + bytesize + (parity.upper() != "N") + stopbits


class Pacer:
    """Releases bytes at the pace of a serial line, in order."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        char_time: float,
        *,
        turnaround: float = 0.0,
    ) -> None:
        """Write through write, one character per char_time after an idle line's turnaround."""
        self._write = write
        self.char_time = char_time
        self.turnaround = turnaround
        self._pending = bytearray()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start releasing bytes."""
        self._task = asyncio.create_task(self._run(), name="serial pacer")

    async def stop(self) -> None:
        """Stop; bytes not yet released are dropped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._pending.clear()

    @property
    def idle(self) -> bool:
        """Return True when every byte has been released."""
        return not self._pending

    def push(self, data: bytes) -> None:
        """Queue bytes for the line."""
        self._pending += data
        self._ready.set()

    async def _run(self) -> None:
        """Release queued bytes when their last bit has crossed the line."""
        loop = asyncio.get_running_loop()
        # When the last released byte finished on the line.
        cursor = 0.0
        while True:
            await self._ready.wait()
            self._ready.clear()
            if cursor < loop.time():
                # The line was quiet: this transmission starts now.
                cursor = loop.time() + self.turnaround
            while self._pending:
                now = loop.time()
                due = min(int((now - cursor) / self.char_time), len(self._pending))
                if due <= 0:
                    await asyncio.sleep(cursor + self.char_time - now)
                    continue
                chunk = bytes(self._pending[:due])
                del self._pending[:due]
                cursor += due * self.char_time
                self._write(chunk)


class SerialBridge:
    """Bridge a new pty to 127.0.0.1:port (a simulator's TCP server)."""

    def __init__(
        self,
        port: int,
        *,
        baudrate: int | None = None,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: int = 1,
        turnaround: float = 0.0,
    ) -> None:
        """Prepare the bridge; `start` opens it. baudrate None: no pacing."""
        self._port = port
        self._master = self._slave = -1
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self.path = ""
        self.baudrate = baudrate
        self.char_time = (
            bits_per_char(bytesize, parity, stopbits) / baudrate if baudrate else 0.0
        )
        self.turnaround = turnaround
        self._to_device: Pacer | None = None
        self._to_client: Pacer | None = None

    async def start(self) -> None:
        """Open the pty and connect it to the simulator."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        self.path = os.ttyname(self._slave)
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        if self.baudrate:
            self._to_device = Pacer(self._writer.write, self.char_time)
            self._to_client = Pacer(
                self._write_master, self.char_time, turnaround=self.turnaround
            )
            self._to_device.start()
            self._to_client.start()
        loop = asyncio.get_running_loop()
        loop.add_reader(self._master, self._to_simulator)
        self._pump = asyncio.create_task(self._to_serial(reader))

    def _write_master(self, data: bytes) -> None:
        """Hand bytes to the serial client."""
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _to_simulator(self) -> None:
        """Forward what the serial client wrote."""
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return
        if not data:
            return
        if self._to_device is not None:
            self._to_device.push(data)
        elif self._writer is not None:
            self._writer.write(data)

    async def _to_serial(self, reader: asyncio.StreamReader) -> None:
        """Forward the simulator's answers to the serial client."""
        while data := await reader.read(4096):
            if self._to_client is not None:
                self._to_client.push(data)
            else:
                os.write(self._master, data)

    async def stop(self) -> None:
        """Close everything."""
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
        for pacer in (self._to_device, self._to_client):
            if pacer is not None:
                await pacer.stop()
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

"""The meters' RS-485 bus: one byte stream, one request at a time, many meters.

Electricity (DL/T645) and water (M-Bus) meters hang on an RS-485 bus that
Home Assistant reaches through a USB adapter (a serial port) or a
transparent RS-485/TCP gateway (the "collector"): the gateway passes bytes
both ways and knows nothing of frames. So the bus here is a byte stream: a
protocol writes its request and hands a parser that says when the bytes
received so far hold the answer. Whatever else arrives - the wake-up bytes
meters send first, an RS-485 adapter's echo of our own request, line noise,
a reply cut into pieces by the gateway - is the parser's business.

* One request at a time (a lock): two masters on one RS-485 pair would
  talk over each other.
* Before each request the bytes still waiting are dropped: a late answer to
  an earlier request must never be taken for this one. The connection stays
  open after a timeout (a gateway dislikes reconnect storms, and a silent
  meter is the common case on a bus of a hundred).
* Reconnects with exponential backoff; once retired (its last user gave it
  back) it never connects again, like ``ModbusLine``.
* Errors are the shared line errors of ``line.py`` (``LineConnectionError``,
  ``LineTimeoutError``), so one error table covers both kinds of line.

The protocols plug into a bus through :class:`BusMeter`: the DL/T645 reader
(``dlt645.Dlt645Meter``) and the M-Bus reader follow it, and :func:`read_bus`
reads a list of them in turn, yielding to the event loop between meters.

Plain Python: nothing here imports Home Assistant (a test enforces it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import time as _time
from typing import Final, Protocol, runtime_checkable

from ...line import (
    ConnectionStats,
    LineConnectionError,
    LineError,
    LineTimeoutError,
    Parity,
    PortSettings,
    Reconnect,
)
from .protocol import MeterProtocolError

__all__ = [
    "BusConfig",
    "BusMeter",
    "BusReadResult",
    "BusStats",
    "BusTransport",
    "LineConnectionError",
    "LineError",
    "LineTimeoutError",
    "MeterBus",
    "MeterProtocolError",
    "ReadStatus",
    "WireModel",
    "read_bus",
]

#: Most bytes kept while waiting for an answer: a babbling device can't grow memory.
MAX_BUFFER: Final = 4096
#: Seconds a closing connection may take to send what is still queued.
CLOSE_TIMEOUT: Final = 1.0
#: Seconds at least that opening a connection may take (a gateway over a slow
#: network); a longer reply timeout counts for it too.
CONNECT_TIMEOUT: Final = 5.0

type StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
type Opener = Callable[[BusConfig], Awaitable[StreamPair]]


class BusTransport(StrEnum):
    """How Home Assistant reaches the meters' RS-485 bus."""

    TCP = "tcp"
    """A transparent RS-485/TCP gateway: raw bytes over a TCP connection."""
    SERIAL = "serial"
    """A USB RS-485 adapter (or any serial port)."""


@dataclass(frozen=True, slots=True)
class WireModel:
    """The time characters take on an asynchronous serial line."""

    baudrate: int = 2400
    bytesize: int = 8
    parity: Parity = Parity.EVEN
    stopbits: int = 1

    @property
    def bits_per_char(self) -> int:
        """Return the bits one byte takes: start, data, parity (if any), stop."""
        return 1 + self.bytesize + (self.parity is not Parity.NONE) + self.stopbits

    @property
    def char_time(self) -> float:
        """Return the seconds one byte takes on the wire (4.58 ms at 2400 8E1)."""
        return self.bits_per_char / self.baudrate

    def seconds(self, nbytes: int) -> float:
        """Return the seconds nbytes take back to back: the physical minimum."""
        return nbytes * self.char_time


@dataclass(frozen=True, slots=True, kw_only=True)
class BusConfig(PortSettings):
    """Connection settings of one meter bus (2400 baud 8E1 unless set)."""

    transport: BusTransport
    port: int = 0
    baudrate: int = 2400
    parity: Parity = Parity.EVEN
    timeout: float = 2.0
    """Seconds to wait for a meter's complete answer."""

    @property
    def is_serial(self) -> bool:
        """Return True for a USB RS-485 adapter on this machine."""
        return self.transport is BusTransport.SERIAL

    @property
    def wire(self) -> WireModel:
        """Return the character timing of the RS-485 side (also behind a gateway)."""
        return WireModel(self.baudrate, self.bytesize, self.parity, self.stopbits)

    def describe(self) -> str:
        """Return a short human description, e.g. 'serial /dev/ttyUSB0 2400 8E1'."""
        if self.transport is BusTransport.SERIAL:
            return f"serial {self.serial_port} {self.baudrate} {self.bytesize}{self.parity.letter}{self.stopbits}"
        return f"tcp {self.host}:{self.port}"


async def _open_stream(config: BusConfig) -> StreamPair:
    """Open the TCP connection or the serial port of a bus."""
    if config.transport is BusTransport.SERIAL:
        import serial_asyncio_fast  # only serial buses need it

        return await serial_asyncio_fast.open_serial_connection(
            url=config.serial_port,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity.letter,
            stopbits=config.stopbits,
        )
    return await asyncio.open_connection(config.host, config.port)


@dataclass(slots=True)
class BusStats(ConnectionStats):
    """Counters of one bus since it was created."""

    answers: int = 0
    broadcasts: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


class MeterBus:
    """One physical meter bus: one connection, one lock, requests in turn."""

    def __init__(
        self,
        config: BusConfig,
        *,
        backoff_max: float = 60.0,
        opener: Opener = _open_stream,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        """Prepare the bus; it connects on first use."""
        self.config = config
        self.stats = BusStats()
        #: Set once its last user gave it back; it never connects again.
        self.retired = False
        self._opener = opener
        self._reconnect = Reconnect(clock, backoff_max)
        self._lock = asyncio.Lock()
        #: Held for a whole conversation with one meter (an M-Bus selection,
        #: read and deselection; a relay command and its read-back) or a
        #: scan: nobody else's request may come in between.
        self.turn = asyncio.Lock()
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self._rx = bytearray()
        self._arrived = asyncio.Event()
        self._lost = False

    @property
    def connected(self) -> bool:
        """Return True while the connection is open."""
        return self._writer is not None and not self._lost

    def limit_backoff(self, seconds: float) -> None:
        """Never wait longer than this between reconnect attempts."""
        self._reconnect.limit(seconds)

    async def _connect(self) -> asyncio.StreamWriter:
        """Return an open stream, connecting with exponential backoff."""
        if self._writer is not None and not self._lost:
            return self._writer
        await self._drop()
        self._reconnect.check(self.config.describe(), retired=self.retired)
        try:
            async with asyncio.timeout(max(self.config.timeout, CONNECT_TIMEOUT)):
                reader, writer = await self._opener(self.config)
        except (TimeoutError, OSError, ValueError) as err:
            # pyserial raises SerialException (an OSError) or ValueError for
            # settings the port refuses.
            self.stats.connect_failures += 1
            self.stats.last_error = f"{type(err).__name__}: {err}"
            self._reconnect.failed()
            raise LineConnectionError(
                f"cannot connect to {self.config.describe()}: {self.stats.last_error}"
            ) from err
        self.stats.connects += 1
        self._reconnect.succeeded()
        self._lost = False
        self._writer = writer
        self._pump = asyncio.create_task(
            self._receive(reader), name=f"meter bus {self.config.describe()}"
        )
        return writer

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        """Collect every byte the bus sends until the connection ends."""
        try:
            while data := await reader.read(1024):
                self.stats.bytes_received += len(data)
                self._rx += data
                if len(self._rx) > MAX_BUFFER:
                    del self._rx[: len(self._rx) - MAX_BUFFER]
                self._arrived.set()
        except OSError as err:
            self.stats.last_error = f"{type(err).__name__}: {err}"
        finally:
            self._lost = True
            self._arrived.set()

    async def _drop(self) -> None:
        """Close the connection, discarding anything still in flight."""
        writer, self._writer = self._writer, None
        pump, self._pump = self._pump, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await writer.wait_closed()
            except TimeoutError:
                # A stuck peer never takes the bytes still queued: don't wait for it.
                writer.transport.abort()
            except OSError:
                pass
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        self._rx.clear()

    async def _send(self, request: bytes) -> None:
        """Drop stale bytes, connect if needed and write one request."""
        writer = await self._connect()
        self._rx.clear()
        writer.write(request)
        self.stats.bytes_sent += len(request)
        try:
            async with asyncio.timeout(self.config.timeout):
                await writer.drain()
        except (TimeoutError, OSError) as err:
            self.stats.last_error = f"{type(err).__name__}: {err}"
            await self._drop()
            raise LineConnectionError(
                f"{self.config.describe()}: cannot send ({err or type(err).__name__})"
            ) from err

    async def connect(self) -> None:
        """Open the connection now (a setup step's check); raise LineConnectionError."""
        async with self._lock:
            await self._connect()

    async def exchange[T](
        self,
        request: bytes,
        parse: Callable[[bytearray], T | None],
        timeout: float | None = None,  # noqa: ASYNC109 - the meter's time to answer
    ) -> T:
        """Send a request and return what parse finds in the bytes that come back.

        parse is called with everything received since the request (it may
        remove what it has consumed) and returns None until the answer is
        complete. Raises LineTimeoutError when no complete answer comes in
        time and LineConnectionError when the connection fails.
        """
        limit = self.config.timeout if timeout is None else timeout
        async with self._lock:
            await self._send(request)
            self.stats.requests += 1
            deadline = asyncio.get_running_loop().time() + limit
            while True:
                self._arrived.clear()
                result = parse(self._rx)
                if result is not None:
                    self.stats.answers += 1
                    return result
                if self._lost:
                    await self._drop()
                    raise LineConnectionError(
                        f"{self.config.describe()}: connection closed by the peer"
                    )
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    self.stats.timeouts += 1
                    self.stats.last_error = "timeout"
                    raise LineTimeoutError(
                        f"no complete answer on {self.config.describe()} within {limit:g} s"
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()

    async def broadcast(self, request: bytes) -> None:
        """Send a request nobody answers, and wait until it has left the wire."""
        async with self._lock:
            await self._send(request)
            self.stats.broadcasts += 1
            # Behind a gateway the bytes are still on their way on the RS-485
            # side: a request sent now would collide with them.
            await asyncio.sleep(self.config.wire.seconds(len(request)))

    async def close(self) -> None:
        """Close the connection; it reconnects on next use."""
        async with self._lock:
            await self._drop()

    async def retire(self) -> None:
        """Close the bus for good: its last user gave it back."""
        self.retired = True
        await self.close()


class ReadStatus(StrEnum):
    """The outcome of reading one meter, as a user sees it."""

    OK = "ok"
    NO_ANSWER = "no_answer"
    """Nothing (or nothing but noise and our own echo) came back in time."""
    CHECKSUM = "checksum"
    """An answer came, but corrupted: its checksum doesn't match."""
    WRONG_ADDRESS = "wrong_address"
    """A meter with another address answered."""
    METER_ERROR = "meter_error"
    """The meter answered with an error reply (see ``reasons``)."""
    BAD_DATA = "bad_data"
    """The answer is well framed but its content can't be a value (e.g. not BCD)."""
    BUS_ERROR = "bus_error"
    """The bus itself is unreachable (gateway down, serial port missing)."""


@dataclass(frozen=True, slots=True)
class BusReadResult:
    """What reading one meter gave: values when OK, otherwise a status and no values."""

    meter: str
    status: ReadStatus
    values: Mapping[str, float | int | bool | str] = field(default_factory=dict)
    """Decoded values by quantity key; empty unless the status is OK."""
    reasons: tuple[str, ...] = ()
    """Reason codes of a meter's error reply, or the protocol error's reason."""
    detail: str = ""
    """A short technical description for logs and diagnostics (no secrets)."""
    refused: tuple[str, ...] = ()
    """Quantities the meter refused (it doesn't have them): not asked every time."""

    @property
    def ok(self) -> bool:
        """Return True when the values were read."""
        return self.status is ReadStatus.OK


@runtime_checkable
class BusMeter(Protocol):
    """A meter the bus reader can read: what every protocol's reader follows."""

    @property
    def key(self) -> str:
        """Return the meter's identity on its bus (its address as the user knows it)."""

    async def read(self, bus: MeterBus) -> BusReadResult:
        """Read the meter's values; never raise for the meter's own failures."""


async def read_bus(
    bus: MeterBus,
    meters: Iterable[BusMeter],
    *,
    pause: float = 0.0,
    on_result: Callable[[int, BusReadResult], None] | None = None,
) -> list[BusReadResult]:
    """Read meters one after another, yielding to the event loop between them.

    A bus that can't be connected gives every remaining meter BUS_ERROR at
    once rather than a connect timeout each (a connection the gateway drops
    is tried again for the next meter); a cancelled read stops at once.
    ``on_result`` hears each meter's result (by its position) as it comes,
    so what was read before a cancellation is not lost.
    """
    results: list[BusReadResult] = []
    unreachable: str | None = None
    for position, meter in enumerate(meters):
        if unreachable is not None:
            result = BusReadResult(meter.key, ReadStatus.BUS_ERROR, detail=unreachable)
        else:
            failures = bus.stats.connect_failures
            async with bus.turn:
                result = await meter.read(bus)
            if bus.stats.connect_failures > failures or bus.retired:
                unreachable = result.detail or "the bus is unreachable"
        results.append(result)
        if on_result is not None:
            on_result(position, result)
        if unreachable is None:
            # Let Home Assistant's loop run between meters whatever the bus size.
            await asyncio.sleep(pause)
    return results

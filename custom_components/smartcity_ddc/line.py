"""The shared RS-485/Modbus line pool: one connection per physical line, requests serialized.

Every job that reads over Modbus (a shelter's DDC, a meter's index register)
borrows its line from one pool, so devices behind one gateway or on one USB
adapter share one connection and their requests never overlap on the bus.

Plain Python: nothing here imports Home Assistant (a test enforces it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
import inspect
import logging
import time as _time
from typing import Any, Final

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException


class LineError(Exception):
    """Base class for every error a line raises."""


class LineConnectionError(LineError):
    """The line (TCP connection, gateway or serial port) could not be used."""


class LineTimeoutError(LineError):
    """The device did not answer within the timeout."""


class LineNoResponseError(LineTimeoutError):
    """A gateway reports that no device answers at that slave id."""


class LineDeviceError(LineError):
    """The device answered with a Modbus exception."""

    def __init__(self, message: str, *, exception_code: int, address: int) -> None:
        """Store the Modbus exception code and the first address involved."""
        super().__init__(message)
        self.exception_code = exception_code
        self.address = address


class LineConflictError(LineError):
    """A line is already open with other framing or serial settings."""


class RegisterKind(StrEnum):
    """The four Modbus tables."""

    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit(self) -> bool:
        """Return True for the single-bit tables."""
        return self in (RegisterKind.COIL, RegisterKind.DISCRETE)

    @property
    def writable(self) -> bool:
        """Return True for tables a master can write."""
        return self in (RegisterKind.COIL, RegisterKind.HOLDING)


@dataclass(frozen=True, slots=True, order=True)
class RegisterRef:
    """One address in one Modbus table."""

    kind: RegisterKind
    address: int

    def __str__(self) -> str:
        """Render as 'holding 352'."""
        return f"{self.kind} {self.address}"


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read request: a table, a start address and a count."""

    kind: RegisterKind
    start: int
    count: int

    @property
    def end(self) -> int:
        """Return the last address read (inclusive)."""
        return self.start + self.count - 1

    def __contains__(self, ref: object) -> bool:
        """Return True when the request reads this register."""
        return (
            isinstance(ref, RegisterRef)
            and ref.kind is self.kind
            and self.start <= ref.address <= self.end
        )


#: True while a line of ours awaits pymodbus (the tasks pymodbus starts inherit it).
_OUR_CALL: ContextVar[bool] = ContextVar("smartcity_ddc_line_call", default=False)

_PYMODBUS_DUPLICATES: Final = (
    "Exception response",
    "No response received",
    "Failed to connect",
    "Not connected",
    "Cancel send",
    # pymodbus >= 3.9 logs a message that repeats the previous one as this.
    "Repeating",
)


def _not_a_duplicate(record: logging.LogRecord) -> bool:
    """Drop pymodbus's error lines for outcomes our line reports itself, and only those.

    The line turns every exception response, timeout and refused connection
    into a typed error that its user reports once per outage; pymodbus would
    log each again on every poll (and every reconnect attempt). Records of
    other pymodbus users (Home Assistant's own modbus integration) pass.
    """
    return not (_OUR_CALL.get() and str(record.msg).startswith(_PYMODBUS_DUPLICATES))


logging.getLogger("pymodbus.logging").addFilter(_not_a_duplicate)

#: Modbus exception codes.
ILLEGAL_DATA_ADDRESS: Final = 2
ILLEGAL_DATA_VALUE: Final = 3
GATEWAY_PATH_UNAVAILABLE: Final = 0x0A
GATEWAY_TARGET_NO_RESPONSE: Final = 0x0B

#: The unit id keyword of pymodbus's client calls: 3.10 renamed `slave` to `device_id`.
UNIT_KEYWORD: Final = (
    "device_id"
    if "device_id" in inspect.signature(ModbusClientMixin.read_coils).parameters
    else "slave"
)

_READ_METHODS: Final = {
    RegisterKind.COIL: "read_coils",
    RegisterKind.DISCRETE: "read_discrete_inputs",
    RegisterKind.HOLDING: "read_holding_registers",
    RegisterKind.INPUT: "read_input_registers",
}


class Transport(StrEnum):
    """How Home Assistant reaches the RS-485 line."""

    TCP = "tcp"
    RTU_OVER_TCP = "rtu_over_tcp"
    SERIAL = "serial"


class Parity(StrEnum):
    """Parity of a serial line, as stored (pymodbus wants its first letter)."""

    NONE = "none"
    EVEN = "even"
    ODD = "odd"

    @property
    def letter(self) -> str:
        """Return pymodbus's and the usual notation's letter: N, E or O."""
        return self.value[0].upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class LineConfig:
    """Connection settings of one physical line."""

    transport: Transport
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: Parity = Parity.NONE
    stopbits: int = 1
    timeout: float = 3.0

    @property
    def key(self) -> tuple[str, str | int]:
        """Return the physical identity: one socket address or one serial port."""
        if self.transport is Transport.SERIAL:
            return ("serial", self.serial_port)
        return ("net", f"{self.host}:{self.port}")

    def describe(self) -> str:
        """Return a short human description, e.g. 'rtu_over_tcp 10.0.0.7:4196'."""
        if self.transport is Transport.SERIAL:
            return f"serial {self.serial_port} {self.baudrate} {self.bytesize}{self.parity.letter}{self.stopbits}"
        return f"{self.transport} {self.host}:{self.port}"


# pymodbus 3.8 leaves a request waiting for its full timeout when the peer
# closes the connection; its connect-trace hook lets the line fail it at once.
_HAS_TRACE_CONNECT: Final = (
    "trace_connect" in inspect.signature(AsyncModbusTcpClient.__init__).parameters
)


def _make_pymodbus_client(config: LineConfig, on_lost: Callable[[], None]) -> Any:
    """Create a pymodbus client that never reconnects or retries by itself."""
    common: dict[str, Any] = {
        "timeout": config.timeout,
        "retries": 0,
        "reconnect_delay": 0,
    }
    if _HAS_TRACE_CONNECT:
        common["trace_connect"] = lambda connected: None if connected else on_lost()
    if config.transport is Transport.SERIAL:
        return AsyncModbusSerialClient(
            config.serial_port,
            framer=FramerType.RTU,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity.letter,
            stopbits=config.stopbits,
            **common,
        )
    framer = (
        FramerType.RTU
        if config.transport is Transport.RTU_OVER_TCP
        else FramerType.SOCKET
    )
    return AsyncModbusTcpClient(config.host, port=config.port, framer=framer, **common)


@dataclass(slots=True)
class LineStats:
    """Counters of one line since it was opened."""

    requests: int = 0
    timeouts: int = 0
    device_errors: int = 0
    connects: int = 0
    connect_failures: int = 0
    last_error: str | None = None


class ModbusLine:
    """One physical line shared by every DDC on it: one connection, one lock.

    Every transaction holds the lock, so requests to several DDCs on one
    RS-485 bus or gateway never overlap. After a timeout the connection is
    dropped: a late answer must never be taken for the next request's.
    """

    def __init__(
        self,
        config: LineConfig,
        *,
        retries: int = 1,
        backoff_max: float = 10.0,
        client_factory: Callable[
            [LineConfig, Callable[[], None]], Any
        ] = _make_pymodbus_client,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        """Prepare the line; it connects on first use."""
        self.config = config
        self.retries = retries
        self.stats = LineStats()
        self._backoff_max = backoff_max
        self._factory = client_factory
        self._clock = clock
        self._client: Any = None
        #: Set once its pool closed it for good; it never connects again.
        self.retired = False
        self._lost = asyncio.Event()
        self._lock = asyncio.Lock()
        self._backoff = 0.0
        self._retry_at = 0.0

    @property
    def connected(self) -> bool:
        """Return True while a connection is open."""
        return self._client is not None and bool(self._client.connected)

    def limit_backoff(self, seconds: float) -> None:
        """Never wait longer than this between reconnect attempts.

        A user of the line that polls every T seconds passes T/2: whenever
        the line comes back, that user's next poll tries it, even when it
        comes up to a second early (Home Assistant aligns polls to whole
        seconds).
        """
        self._backoff_max = min(self._backoff_max, seconds)
        self._backoff = min(self._backoff, self._backoff_max)

    async def _connect(self) -> Any:
        """Return an open client, connecting with exponential backoff."""
        if self.connected:
            return self._client
        self._drop()
        if self.retired:
            # Its pool let it go: a late request must not open a connection
            # nothing would ever close.
            raise LineConnectionError(f"{self.config.describe()} is closed")
        now = self._clock()
        if now < self._retry_at:
            raise LineConnectionError(
                f"{self.config.describe()} is unreachable; next attempt in {self._retry_at - now:.1f} s"
            )
        lost = self._lost = asyncio.Event()
        client = self._factory(self.config, lost.set)
        try:
            async with asyncio.timeout(self.config.timeout):
                ok = await client.connect()
        except (TimeoutError, OSError, ModbusException) as err:
            ok = False
            self.stats.last_error = f"{type(err).__name__}: {err}"
        if not ok or not client.connected:
            client.close()
            self.stats.connect_failures += 1
            self._backoff = min(max(self._backoff * 2, 0.5), self._backoff_max)
            self._retry_at = self._clock() + self._backoff
            raise LineConnectionError(f"cannot connect to {self.config.describe()}")
        self.stats.connects += 1
        self._backoff = 0.0
        self._client = client
        return client

    def _drop(self) -> None:
        """Close the connection, discarding anything still in flight."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def retire(self) -> None:
        """Close the line for good: its last user gave it back."""
        self.retired = True
        await self.close()

    async def close(self) -> None:
        """Close the line; it reconnects on next use."""
        token = _OUR_CALL.set(True)
        try:
            async with self._lock:
                self._drop()
        finally:
            _OUR_CALL.reset(token)

    async def _transact(
        self, slave: int, method: str, address: int, **kwargs: Any
    ) -> Any:
        """Run one request under the line lock, pymodbus's duplicate log lines muted for it."""
        token = _OUR_CALL.set(True)
        try:
            async with self._lock:
                return await self._attempts(slave, method, address, **kwargs)
        finally:
            _OUR_CALL.reset(token)

    async def _attempts(
        self, slave: int, method: str, address: int, **kwargs: Any
    ) -> Any:
        """Send one request with bounded timeout and retries (the caller holds the lock)."""
        error: LineError = LineConnectionError(
            f"{self.config.describe()}: no attempt made"
        )
        for _attempt in range(self.retries + 1):
            client = await self._connect()
            self.stats.requests += 1
            try:
                # pymodbus times the answer out itself; this only bounds
                # anything that would hang past it.
                async with asyncio.timeout(self.config.timeout + 1):
                    response = await self._unless_lost(
                        getattr(client, method)(
                            address, **kwargs, **{UNIT_KEYWORD: slave}
                        )
                    )
            except (TimeoutError, ModbusIOException) as err:
                self.stats.timeouts += 1
                error = LineTimeoutError(
                    f"no answer from slave {slave} on {self.config.describe()}"
                )
                self.stats.last_error = f"timeout: {err}" if str(err) else "timeout"
                self._drop()
                continue
            except asyncio.CancelledError:
                # An answer may still come: it must not be taken for the next request's.
                self._drop()
                raise
            except (ConnectionException, ModbusException, OSError) as err:
                error = LineConnectionError(f"{self.config.describe()}: {err}")
                self.stats.last_error = str(error)
                self._drop()
                continue
            if response.isError():
                return self._device_error(slave, address, response.exception_code)
            if response.dev_id not in (slave, 0):
                # An answer from another slave on the bus: the line is out of step.
                error = LineConnectionError(
                    f"answer from slave {response.dev_id}, expected {slave}"
                )
                self._drop()
                continue
            return response
        raise error

    async def _unless_lost(self, request: Awaitable[Any]) -> Any:
        """Await a request, failing at once if the connection drops meanwhile."""
        task = asyncio.ensure_future(request)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # Whoever waits is cancelled (an entry unloading): so is the request.
            task.cancel()
            raise
        finally:
            lost.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ModbusException):
                await task
            raise ConnectionResetError("connection closed by the peer")
        return task.result()

    def _device_error(self, slave: int, address: int, code: int) -> Any:
        """Raise the typed error for a Modbus exception response."""
        self.stats.device_errors += 1
        if code in (GATEWAY_PATH_UNAVAILABLE, GATEWAY_TARGET_NO_RESPONSE):
            raise LineNoResponseError(
                f"the gateway reports no answer from slave {slave} (exception {code})"
            )
        raise LineDeviceError(
            f"slave {slave} refused address {address} (exception {code})",
            exception_code=code,
            address=address,
        )

    async def read(self, slave: int, request: ReadRequest) -> list[int]:
        """Read a block; bits come back as 0/1."""
        response = await self._transact(
            slave, _READ_METHODS[request.kind], request.start, count=request.count
        )
        if request.kind.is_bit:
            values = [int(bool(bit)) for bit in response.bits[: request.count]]
        else:
            values = [int(word) for word in response.registers]
        if len(values) != request.count:
            raise LineConnectionError(
                f"short answer: {len(values)} of {request.count} values"
            )
        return values

    async def write(self, slave: int, ref: RegisterRef, words: Sequence[int]) -> None:
        """Write a coil or one or more holding registers."""
        if ref.kind is RegisterKind.COIL:
            await self._transact(slave, "write_coil", ref.address, value=bool(words[0]))
        elif len(words) == 1:
            await self._transact(slave, "write_register", ref.address, value=words[0])
        else:
            await self._transact(
                slave, "write_registers", ref.address, values=list(words)
            )


class LinePool:
    """Hands out one ModbusLine per physical line, shared by reference count."""

    def __init__(self, **line_kwargs: Any) -> None:
        """Create an empty pool; keyword arguments go to every new line."""
        self._lines: dict[tuple[str, str | int], tuple[ModbusLine, int]] = {}
        self._line_kwargs = line_kwargs

    def acquire(self, config: LineConfig) -> ModbusLine:
        """Return the line for config, opening it if nobody uses it yet."""
        entry = self._lines.get(config.key)
        if entry is None:
            line = ModbusLine(config, **self._line_kwargs)
            self._lines[config.key] = (line, 1)
            return line
        line, users = entry
        if line.config != config:
            raise LineConflictError(
                f"{config.key[1]} is already used as {line.config.describe()}, not {config.describe()}"
            )
        self._lines[config.key] = (line, users + 1)
        return line

    async def release(self, line: ModbusLine) -> None:
        """Give a line back; the last user closes it."""
        entry = self._lines.get(line.config.key)
        if entry is None or entry[0] is not line:
            return
        if entry[1] > 1:
            self._lines[line.config.key] = (line, entry[1] - 1)
            return
        del self._lines[line.config.key]
        await line.retire()

    async def close_all(self) -> None:
        """Close every line (Home Assistant is stopping)."""
        lines = [line for line, _users in self._lines.values()]
        self._lines.clear()
        for line in lines:
            await line.retire()

    def __len__(self) -> int:
        """Return the number of open lines."""
        return len(self._lines)

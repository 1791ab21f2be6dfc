"""The shared RS-485/Modbus line pool: one connection per physical line, requests serialized.

Every job that reads over Modbus (a shelter's DDC, a meter's index register)
borrows its line from one pool, so devices behind one gateway or on one USB
adapter share one connection and their requests never overlap on the bus.

Plain Python: nothing here imports Home Assistant (a test enforces it).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum, StrEnum
import heapq
import inspect
import itertools
import logging
import time as _time
from typing import Any, Final, Protocol, overload

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


#: Protocol limits per read request (Modbus application protocol v1.1b3).
MAX_READ: Final[Mapping[RegisterKind, int]] = {
    RegisterKind.COIL: 2000,
    RegisterKind.DISCRETE: 2000,
    RegisterKind.HOLDING: 125,
    RegisterKind.INPUT: 125,
}

_READ_REQUEST_BYTES: Final = 8  # slave, function, address, count, CRC
_READ_RESPONSE_OVERHEAD: Final = 5  # slave, function, byte count, CRC
_WRITE_SINGLE_BYTES: Final = 8  # FC5/FC6 request and its echo, each
_WRITE_MULTIPLE_REQUEST_BYTES: Final = 9  # FC16 without data: slave .. byte count, CRC
_WRITE_MULTIPLE_RESPONSE_BYTES: Final = 8  # slave, function, address, count, CRC
_READ_WRITE_REQUEST_BYTES: Final = 13  # FC23 without data
_SILENCE_CHARS: Final = 3.5  # RTU inter-frame gap before each frame


@dataclass(frozen=True, slots=True)
class WireModel:
    """Time on an RS-485 line for Modbus RTU frames."""

    baud: int = 9600
    bits_per_char: int = 10  # 8N1: start + 8 data + stop
    turnaround: float = 0.05  # device think time between request and response

    @classmethod
    def for_line(cls, config: LineConfig) -> WireModel:
        """Return the model of a line: its serial settings, or 9600 8N1 behind a gateway."""
        if config.transport is not Transport.SERIAL:
            return cls()
        parity = 0 if config.parity is Parity.NONE else 1
        return cls(
            baud=config.baudrate,
            bits_per_char=1 + config.bytesize + parity + config.stopbits,
        )

    @property
    def char_time(self) -> float:
        """Return the seconds one character occupies on the line."""
        return self.bits_per_char / self.baud

    @staticmethod
    def payload_bytes(kind: RegisterKind, count: int) -> int:
        """Return the data bytes a read response carries."""
        return (count + 7) // 8 if kind.is_bit else 2 * count

    def _transaction(self, chars: float) -> float:
        """Return the line time of a request and its answer of `chars` characters in all."""
        return (chars + 2 * _SILENCE_CHARS) * self.char_time + self.turnaround

    def request_time(self, kind: RegisterKind, count: int) -> float:
        """Return the seconds a read of count registers occupies the line."""
        return self._transaction(
            _READ_REQUEST_BYTES
            + _READ_RESPONSE_OVERHEAD
            + self.payload_bytes(kind, count)
        )

    def write_time(self, kind: RegisterKind, count: int = 1) -> float:
        """Return the seconds a write (FC5/FC6, or FC15/FC16 for several) occupies the line."""
        if count == 1:
            return self._transaction(2 * _WRITE_SINGLE_BYTES)
        return self._transaction(
            _WRITE_MULTIPLE_REQUEST_BYTES
            + self.payload_bytes(kind, count)
            + _WRITE_MULTIPLE_RESPONSE_BYTES
        )

    def read_write_time(self, written: int, read: int) -> float:
        """Return the seconds one FC23 (write registers, then read registers) occupies the line."""
        return self._transaction(
            _READ_WRITE_REQUEST_BYTES + 2 * written + _READ_RESPONSE_OVERHEAD + 2 * read
        )

    def plan_time(self, requests: Iterable[ReadRequest]) -> float:
        """Return the wire time of a whole plan."""
        return sum(self.request_time(r.kind, r.count) for r in requests)

    def minimum_time(self, registers: Iterable[RegisterRef]) -> float:
        """Return a lower bound for reading these registers.

        No plan can use fewer requests than it takes to cover the addresses
        with windows of the protocol limit, nor carry less than the needed
        payload: that is the physical minimum of a profile.
        """
        by_kind: dict[RegisterKind, list[int]] = {}
        for ref in set(registers):
            by_kind.setdefault(ref.kind, []).append(ref.address)
        total = 0.0
        for kind, addresses in by_kind.items():
            requests, window_end = 0, -1
            for address in sorted(addresses):
                if address > window_end:
                    requests += 1
                    window_end = address + MAX_READ[kind] - 1
            total += requests * self.request_time(kind, 0)
            total += self.payload_bytes(kind, len(addresses)) * self.char_time
        return total


DEFAULT_WIRE: Final = WireModel()


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
ILLEGAL_FUNCTION: Final = 1
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
class PortSettings:
    """Where a line is reached: a socket address, or a serial port and its character format.

    Shared by the DDC's Modbus lines and the meter buses, which differ in
    their transports and defaults.
    """

    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: Parity = Parity.NONE
    stopbits: int = 1
    timeout: float = 3.0

    @property
    def is_serial(self) -> bool:
        """Return True for a serial port on this machine."""
        raise NotImplementedError

    @property
    def key(self) -> tuple[str, str]:
        """Return the physical identity: one socket address or one serial port."""
        if self.is_serial:
            return ("serial", self.serial_port)
        return ("net", f"{self.host}:{self.port}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LineConfig(PortSettings):
    """Connection settings of one physical Modbus line."""

    transport: Transport

    @property
    def is_serial(self) -> bool:
        """Return True for a serial port on this machine."""
        return self.transport is Transport.SERIAL

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
class ConnectionStats:
    """Counters every connection keeps since it was opened: a Modbus line's, a meter bus's."""

    requests: int = 0
    timeouts: int = 0
    connects: int = 0
    connect_failures: int = 0
    last_error: str | None = None


def next_backoff(current: float, maximum: float) -> float:
    """Return the wait after one more failure: doubled, from 0.5 s, at most `maximum`."""
    return min(max(current * 2, 0.5), maximum)


class Reconnect:
    """When a connection that failed may be tried again: exponential back-off."""

    __slots__ = ("_clock", "delay", "maximum", "retry_at")

    def __init__(self, clock: Callable[[], float], maximum: float) -> None:
        """Start with no failure: the first attempt goes ahead."""
        self._clock = clock
        self.maximum = maximum
        self.delay = 0.0
        self.retry_at = 0.0

    def limit(self, seconds: float) -> None:
        """Never wait longer than this between attempts."""
        self.maximum = min(self.maximum, seconds)
        self.delay = min(self.delay, self.maximum)

    def check(self, what: str, *, retired: bool) -> None:
        """Raise LineConnectionError if `what` is closed for good or still backing off."""
        if retired:
            # Its owner let it go: a late request must not open a connection
            # nothing would ever close.
            raise LineConnectionError(f"{what} is closed")
        now = self._clock()
        if now < self.retry_at:
            raise LineConnectionError(
                f"{what} is unreachable; next attempt in {self.retry_at - now:.1f} s"
            )

    def failed(self) -> None:
        """Note a failed attempt: wait longer before the next."""
        self.delay = next_backoff(self.delay, self.maximum)
        self.retry_at = self._clock() + self.delay

    def succeeded(self) -> None:
        """Note a connection: the next failure starts the back-off over."""
        self.delay = 0.0


@dataclass(slots=True)
class LineStats(ConnectionStats):
    """Counters of one line since it was opened."""

    device_errors: int = 0
    probes: int = 0
    """Requests sent to a slave that had stopped answering, with the short timeout."""
    skipped: int = 0
    """Requests refused at once because their slave is backed off."""


class Priority(IntEnum):
    """Who gets the line first when several wait: a user's command, then polls."""

    COMMAND = 0
    POLL = 1


@dataclass(slots=True)
class SlaveHealth:
    """A slave id that stopped answering, and when to try it again."""

    failures: int = 0
    backoff: float = 0.0
    retry_at: float = 0.0
    no_response: bool = False
    """The gateway, not silence, said so (Modbus exception 0x0A/0x0B)."""


#: The shortest timeout for a slave that stopped answering, and how many of the
#: slowest recent round trips it allows.
PROBE_FLOOR: Final = 0.2
PROBE_ROUND_TRIPS: Final = 3.0
#: How fast the measured/modelled correction forgets (per successful transaction).
_CORRECTION_MEMORY: Final = 0.98


class ModbusLine:
    """One physical line shared by every device on it: one connection, one speaker at a time.

    A poll or a command holds the line for all its requests (`session`);
    waiting sessions are served commands first, then the slave served least
    recently, so on a line that can't keep up every DDC still comes in turn.

    A slave that stops answering is backed off on its own: while it is, its
    requests fail at once, and then one request probes it with a short
    timeout, so it costs the DDCs that answer at most one short timeout per
    round. The connection is dropped only when a slave that answered until
    now first falls silent (a late answer must never be taken for the next
    request's); a probe's silence keeps it.
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
        self.wire = WireModel.for_line(config)
        self._factory = client_factory
        self._clock = clock
        self._client: Any = None
        #: Set once its pool closed it for good; it never connects again.
        self.retired = False
        self._lost = asyncio.Event()
        self._reconnect = Reconnect(clock, backoff_max)
        self._slaves: dict[int, SlaveHealth] = {}
        #: Slaves whose probe went unanswered on this connection, and until
        #: when (real time) their late answer could still arrive.
        self._late: dict[int, float] = {}
        self._round_trips: deque[float] = deque(maxlen=32)
        self._measured = self._modelled = 0.0
        self._demand: dict[object, tuple[float, float]] = {}
        self._held = False
        self._holder: asyncio.Task[Any] | None = None
        self._queue: list[tuple[int, int, int, asyncio.Future[None]]] = []
        self._tickets = itertools.count()
        self._served: dict[int, int] = {}

    @property
    def connected(self) -> bool:
        """Return True while a connection is open."""
        return self._client is not None and bool(self._client.connected)

    def limit_backoff(self, seconds: float) -> None:
        """Never wait longer than this between reconnect attempts or probes of a silent slave.

        A user of the line that polls every T seconds passes T/2: whenever
        the line (or its slave) comes back, that user's next poll finds it,
        even when it comes up to a second early (Home Assistant aligns polls
        to whole seconds).
        """
        self._reconnect.limit(seconds)
        for health in self._slaves.values():
            health.backoff = min(health.backoff, self._reconnect.maximum)

    def retry_now(self) -> None:
        """Let the next request try the connection and every silent slave at once (a user asked)."""
        self._reconnect.retry_at = 0.0
        for health in self._slaves.values():
            health.retry_at = 0.0

    # --- who speaks next -------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(
        self, slave: int, priority: Priority = Priority.POLL
    ) -> AsyncIterator[None]:
        """Hold the line for every request of one poll or one command of a slave."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            yield
            return
        await self._acquire(slave, priority)
        self._holder = task
        try:
            yield
        finally:
            self._holder = None
            self._served[slave] = next(self._tickets)
            self._hand_over()

    async def _acquire(self, slave: int, priority: Priority) -> None:
        """Wait for the line: commands first, then the slave served least recently."""
        if not self._held and not self._queue:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._queue,
            (int(priority), self._served.get(slave, -1), next(self._tickets), turn),
        )
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                # The line was handed over just as the wait was cancelled.
                self._hand_over()
            else:
                turn.cancel()
            raise

    def _hand_over(self) -> None:
        """Give the line to the next waiter, or free it."""
        while self._queue:
            turn = heapq.heappop(self._queue)[3]
            if not turn.done():
                turn.set_result(None)
                return
        self._held = False

    # --- how busy it is ----------------------------------------------------------

    def declare(self, user: object, seconds: float, interval: float) -> None:
        """Record that a user needs `seconds` of wire-model time every `interval` seconds."""
        self._demand[user] = (seconds, interval)

    def withdraw(self, user: object) -> None:
        """Forget a user's demand (it left the line)."""
        self._demand.pop(user, None)

    @property
    def users(self) -> int:
        """Return how many users declared a demand."""
        return len(self._demand)

    @property
    def correction(self) -> float:
        """Return measured over modelled time of recent answered requests (1.0 before any).

        Near 1 on an RS-485 line at the modelled speed; below it on a faster
        bus or a Modbus TCP device, above it on a slow gateway.
        """
        return self._measured / self._modelled if self._modelled > 0 else 1.0

    @property
    def load(self) -> float:
        """Return the share of the line's time its users need; above 1 they can't all be polled in time."""
        need = sum(s / i for s, i in self._demand.values() if i > 0)
        return need * self.correction

    def round_seconds(self, interval: float) -> float:
        """Return the line time every user's requests take in `interval` seconds (corrected)."""
        return self.load * interval

    def _measure(self, elapsed: float, model: float) -> None:
        """Fold one answered request's round trip into the correction."""
        self._round_trips.append(elapsed)
        self._measured = self._measured * _CORRECTION_MEMORY + elapsed
        self._modelled = self._modelled * _CORRECTION_MEMORY + model

    @property
    def probe_timeout(self) -> float:
        """Return the short timeout for a slave that stopped answering."""
        if not self._round_trips:
            return self.config.timeout
        return min(
            self.config.timeout,
            max(PROBE_FLOOR, PROBE_ROUND_TRIPS * max(self._round_trips)),
        )

    # --- slaves that stop answering ----------------------------------------------

    def silent_slaves(self) -> dict[int, SlaveHealth]:
        """Return the slaves backed off now, by id."""
        return dict(self._slaves)

    def _slave_failed(self, slave: int, *, no_response: bool) -> None:
        """Back a silent slave off: its requests fail at once until its next probe."""
        health = self._slaves.setdefault(slave, SlaveHealth())
        health.failures += 1
        health.no_response = no_response
        health.backoff = next_backoff(health.backoff, self._reconnect.maximum)
        health.retry_at = self._clock() + health.backoff

    def _backed_off(self, slave: int) -> SlaveHealth | None:
        """Return the slave's health if it stopped answering; raise while it is backed off."""
        health = self._slaves.get(slave)
        if health is None:
            return None
        wait = health.retry_at - self._clock()
        if wait > 0:
            self.stats.skipped += 1
            message = (
                f"slave {slave} on {self.config.describe()} is not answering;"
                f" next attempt in {wait:.1f} s"
            )
            if health.no_response:
                raise LineNoResponseError(message)
            raise LineTimeoutError(message)
        return health

    # --- the connection ------------------------------------------------------------

    async def _connect(self) -> Any:
        """Return an open client, connecting with exponential backoff."""
        if self.connected:
            return self._client
        self._drop()
        self._reconnect.check(self.config.describe(), retired=self.retired)
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
            self._reconnect.failed()
            raise LineConnectionError(f"cannot connect to {self.config.describe()}")
        self.stats.connects += 1
        self._reconnect.succeeded()
        self._client = client
        return client

    def _drop(self) -> None:
        """Close the connection, discarding anything still in flight."""
        self._late.clear()
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
            async with self.session(-1, Priority.COMMAND):
                self._drop()
        finally:
            _OUR_CALL.reset(token)

    # --- transactions --------------------------------------------------------------

    async def _transact(
        self, slave: int, call: _Call, *, address: int, model: float
    ) -> Any:
        """Run one request in a session, pymodbus's duplicate log lines muted for it."""
        token = _OUR_CALL.set(True)
        try:
            async with self.session(slave):
                return await self._attempts(slave, call, address=address, model=model)
        finally:
            _OUR_CALL.reset(token)

    async def _attempts(
        self, slave: int, call: _Call, *, address: int, model: float
    ) -> Any:
        """Send one request with bounded timeout and retries (the caller holds the line)."""
        probing = self._backed_off(slave) is not None
        error: LineError = LineConnectionError(
            f"{self.config.describe()}: no attempt made"
        )
        if self._late.pop(slave, 0.0) > _time.perf_counter():
            # Its last probe's answer may still come: ask on a fresh connection.
            self._drop()
        for attempt in range(1 if probing else self.retries + 1):
            client = await self._connect()
            self.stats.requests += 1
            if probing:
                self.stats.probes += 1
            started = _time.perf_counter()
            try:
                # pymodbus times the answer out itself; this bounds a probe
                # to the short timeout and anything that would hang past it.
                # A retry, too, waits only as long as a probe: the first
                # silence already cost a full timeout.
                async with asyncio.timeout(
                    self.probe_timeout
                    if probing or attempt
                    else self.config.timeout + 1
                ):
                    response = await self._unless_lost(call(client, slave))
            except (TimeoutError, ModbusIOException) as err:
                self.stats.timeouts += 1
                error = LineTimeoutError(
                    f"no answer from slave {slave} on {self.config.describe()}"
                )
                self.stats.last_error = f"timeout: {err}" if str(err) else "timeout"
                if probing:
                    # Other slaves' answers carry their own ids; this one is
                    # asked again on a fresh connection if that comes soon.
                    self._late[slave] = _time.perf_counter() + self.config.timeout
                else:
                    # A slave that answered until now may only be slow: its
                    # late answer must never be taken for the next request's.
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
            if response.dev_id not in (slave, 0):
                # An answer from another slave on the bus: the line is out of step.
                error = LineConnectionError(
                    f"answer from slave {response.dev_id}, expected {slave}"
                )
                self._drop()
                continue
            code = response.exception_code if response.isError() else None
            if code in (GATEWAY_PATH_UNAVAILABLE, GATEWAY_TARGET_NO_RESPONSE):
                self._slave_failed(slave, no_response=True)
            else:
                self._slaves.pop(slave, None)
                self._measure(_time.perf_counter() - started, model)
            if code is not None:
                return self._device_error(slave, address, code)
            return response
        if isinstance(error, LineTimeoutError):
            self._slave_failed(slave, no_response=False)
        raise error

    async def _unless_lost(self, request: Awaitable[Any]) -> Any:
        """Await a request, failing at once if the connection drops meanwhile."""
        task = asyncio.ensure_future(request)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # Whoever waits is cancelled (a timeout, an entry unloading): so is
            # the request. Newer pymodbus ends a cancelled request with a
            # ModbusIOException instead; nobody awaits it any more.
            task.cancel()
            task.add_done_callback(_discard_outcome)
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
            slave,
            _call(_READ_METHODS[request.kind], request.start, count=request.count),
            address=request.start,
            model=self.wire.request_time(request.kind, request.count),
        )
        return _values(response, request)

    async def write(self, slave: int, ref: RegisterRef, words: Sequence[int]) -> None:
        """Write a coil or one or more holding registers."""
        if ref.kind is RegisterKind.COIL:
            call = _call("write_coil", ref.address, value=bool(words[0]))
        elif len(words) == 1:
            call = _call("write_register", ref.address, value=words[0])
        else:
            call = _call("write_registers", ref.address, values=list(words))
        await self._transact(
            slave,
            call,
            address=ref.address,
            model=self.wire.write_time(ref.kind, len(words)),
        )

    async def write_read(
        self, slave: int, ref: RegisterRef, words: Sequence[int], request: ReadRequest
    ) -> list[int]:
        """Write holding registers, then read a block of them, in one transaction (FC23).

        A device without the function answers exception 1 (illegal function):
        that is a LineDeviceError its caller can fall back on.
        """
        response = await self._transact(
            slave,
            _call(
                "readwrite_registers",
                read_address=request.start,
                read_count=request.count,
                write_address=ref.address,
                values=list(words),
            ),
            address=ref.address,
            model=self.wire.read_write_time(len(words), request.count),
        )
        return _values(response, request)


type _Call = Callable[[Any, int], Awaitable[Any]]


def _call(method: str, *args: Any, **kwargs: Any) -> _Call:
    """Return a call of one pymodbus client method, for a slave to be named later."""

    def call(client: Any, slave: int) -> Awaitable[Any]:
        """Start the request on a connected client."""
        result: Awaitable[Any] = getattr(client, method)(
            *args, **kwargs, **{UNIT_KEYWORD: slave}
        )
        return result

    return call


def _values(response: Any, request: ReadRequest) -> list[int]:
    """Return the values of a read answer; a short answer is an error, never shifted values."""
    if request.kind.is_bit:
        values = [int(bool(bit)) for bit in response.bits[: request.count]]
    else:
        values = [int(word) for word in response.registers]
    if len(values) != request.count:
        raise LineConnectionError(
            f"short answer: {len(values)} of {request.count} values"
        )
    return values


class PooledConfig(Protocol):
    """Connection settings of any kind of line the pool hands out."""

    @property
    def key(self) -> tuple[str, str]:
        """Return the physical identity: one socket address or one serial port."""

    def describe(self) -> str:
        """Return a short human description."""


class PooledLine(Protocol):
    """A line the pool hands out: a Modbus line, or a meter bus of another protocol."""

    @property
    def config(self) -> Any:
        """Return the settings the line was opened with."""

    async def retire(self) -> None:
        """Close the line for good: its last user gave it back."""


class LinePool:
    """Hands out one line per physical port or gateway, shared by reference count.

    A port carries one protocol at one setting: a Modbus line for DDCs (and
    Modbus meters), or a meter bus (DL/T645, M-Bus) at its own speed. Asking
    for the same port with other settings, or for a meter bus where a DDC's
    line is, is a LineConflictError.
    """

    def __init__(self, **line_kwargs: Any) -> None:
        """Create an empty pool; keyword arguments go to every new Modbus line."""
        self._lines: dict[tuple[str, str], tuple[PooledLine, int]] = {}
        self._line_kwargs = line_kwargs

    @overload
    def acquire(self, config: LineConfig) -> ModbusLine: ...

    @overload
    def acquire[L: PooledLine](
        self, config: PooledConfig, factory: Callable[[Any], L]
    ) -> L: ...

    def acquire(
        self, config: Any, factory: Callable[[Any], PooledLine] | None = None
    ) -> PooledLine:
        """Return the line for config (a ModbusLine unless factory makes another kind)."""
        entry = self._lines.get(config.key)
        if entry is None:
            line: PooledLine = (
                ModbusLine(config, **self._line_kwargs)
                if factory is None
                else factory(config)
            )
            self._lines[config.key] = (line, 1)
            return line
        line, users = entry
        if line.config != config:
            raise LineConflictError(
                f"{config.key[1]} is already used as {line.config.describe()}, not {config.describe()}"
            )
        self._lines[config.key] = (line, users + 1)
        return line

    async def release(self, line: PooledLine) -> None:
        """Give a line back; the last user closes it for good."""
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


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a request given up on, so asyncio does not log it."""
    if not task.cancelled():
        task.exception()

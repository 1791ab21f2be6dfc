"""Async Modbus client for Sungil DDCs: shared lines, planned polls, confirmed writes."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
import inspect
import itertools
import logging
import math
import time as _time
from typing import TYPE_CHECKING, Any, Final

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from .codec import Value, encode
from .errors import (
    DdcConnectionError,
    DdcDeviceError,
    DdcError,
    DdcNoResponseError,
    DdcNotWritableError,
    DdcPowerRuleError,
    DdcTimeoutError,
    DdcWriteNotConfirmedError,
)
from .planner import DEFAULT_WIRE, ReadRequest, WireModel, plan_reads
from .profile import Key, Point, Profile, RegisterKind, RegisterRef, Unit, WindowField
from .state import Snapshot, decode_point, decode_snapshot, unit_registers

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

_LOGGER = logging.getLogger(__name__)


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
    """Drop pymodbus's error lines for outcomes the client reports itself.

    The client turns every exception response, timeout and refused connection
    into a typed error that the caller reports once per outage; pymodbus would
    log each again on every poll (and every reconnect attempt).
    """
    return not str(record.msg).startswith(_PYMODBUS_DUPLICATES)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class LineConfig:
    """Connection settings of one physical line."""

    transport: Transport
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
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
            return f"serial {self.serial_port} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"
        return f"{self.transport} {self.host}:{self.port}"


class LineConflictError(DdcError):
    """A line is already open with other framing or serial settings."""


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
            parity=config.parity,
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
        now = self._clock()
        if now < self._retry_at:
            raise DdcConnectionError(
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
            raise DdcConnectionError(f"cannot connect to {self.config.describe()}")
        self.stats.connects += 1
        self._backoff = 0.0
        self._client = client
        return client

    def _drop(self) -> None:
        """Close the connection, discarding anything still in flight."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        """Close the line; it reconnects on next use."""
        async with self._lock:
            self._drop()

    async def _transact(
        self, slave: int, method: str, address: int, **kwargs: Any
    ) -> Any:
        """Run one request under the line lock with bounded timeout and retries."""
        async with self._lock:
            error: DdcError = DdcConnectionError(
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
                    error = DdcTimeoutError(
                        f"no answer from slave {slave} on {self.config.describe()}"
                    )
                    self.stats.last_error = f"timeout: {err}" if str(err) else "timeout"
                    self._drop()
                    continue
                except (ConnectionException, ModbusException, OSError) as err:
                    error = DdcConnectionError(f"{self.config.describe()}: {err}")
                    self.stats.last_error = str(error)
                    self._drop()
                    continue
                if response.isError():
                    return self._device_error(slave, address, response.exception_code)
                if response.dev_id not in (slave, 0):
                    # An answer from another slave on the bus: the line is out of step.
                    error = DdcConnectionError(
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
            raise DdcNoResponseError(
                f"the gateway reports no answer from slave {slave} (exception {code})"
            )
        raise DdcDeviceError(
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
            raise DdcConnectionError(
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
        await line.close()

    async def close_all(self) -> None:
        """Close every line (Home Assistant is stopping)."""
        lines = [line for line, _users in self._lines.values()]
        self._lines.clear()
        for line in lines:
            await line.close()

    def __len__(self) -> int:
        """Return the number of open lines."""
        return len(self._lines)


@dataclass(slots=True)
class PollStats:
    """What polling one DDC has cost so far."""

    polls: int = 0
    full_polls: int = 0
    failed_polls: int = 0
    requests: int = 0
    registers: int = 0
    last_requests: int = 0
    last_registers: int = 0
    last_duration: float = 0.0
    last_plan: tuple[ReadRequest, ...] = ()
    bad_gaps: list[tuple[str, int, int]] = field(default_factory=list)


def _spans(points: Iterable[Point]) -> list[tuple[RegisterRef, int]]:
    """Return the (first register, length) span of every readable point."""
    return [
        (point.read, point.value_type.words)
        for point in points
        if point.read is not None
    ]


def _values_equal(point: Point, expected: Value, actual: Value | None) -> bool:
    """Compare a written and a read-back value at the point's resolution."""
    if (
        isinstance(expected, float)
        and isinstance(actual, int | float)
        and not isinstance(actual, bool)
    ):
        return math.isclose(expected, actual, abs_tol=point.scale / 2)
    return expected == actual


class DdcClient:
    """One DDC (a slave id on a line) described by a profile.

    Live values are read every poll; schedule windows, which only change when
    someone edits them, on a slower cycle. A poll and a command never
    interleave, so a poll can't overwrite a value a command just confirmed.
    """

    def __init__(
        self,
        line: ModbusLine,
        slave: int,
        profile: Profile,
        *,
        slow_interval: float = 300.0,
        bad_gap_ttl: float = 3600.0,
        confirm_attempts: int = 3,
        confirm_interval: float = 0.2,
        wire: WireModel = DEFAULT_WIRE,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        """Prepare a client; nothing is read until the first poll."""
        self.line = line
        self.slave = slave
        self.profile = profile
        self.stats = PollStats()
        self.wire = wire
        self._slow_interval = slow_interval
        self._bad_gap_ttl = bad_gap_ttl
        self._confirm_attempts = confirm_attempts
        self._confirm_interval = confirm_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._raw: dict[RegisterRef, int] = {}
        self._refused: set[RegisterRef] = set()
        self._bad_gaps: dict[tuple[RegisterKind, int, int], float] = {}
        self._slow_due = -math.inf
        points = [point for unit in profile.units for point in unit.all_points()]
        self._fast_spans = _spans(p for p in points if not p.slow)
        self._all_spans = _spans(points)
        self._unit_registers = {
            unit.uid: unit_registers(unit) for unit in profile.units
        }
        self._snapshot = decode_snapshot(profile, self._raw, frozenset())

    @property
    def snapshot(self) -> Snapshot:
        """Return the state as of the last poll or confirmed command."""
        return self._snapshot

    def registers(self, *, full: bool = True) -> list[RegisterRef]:
        """Return every register a (full or live-only) poll reads."""
        spans = self._all_spans if full else self._fast_spans
        return sorted(
            {
                RegisterRef(ref.kind, ref.address + i)
                for ref, length in spans
                for i in range(length)
            }
        )

    def plan(self, *, full: bool = True) -> tuple[ReadRequest, ...]:
        """Return the requests the next (full or live-only) poll would send."""
        now = self._clock()
        self._bad_gaps = {
            gap: until for gap, until in self._bad_gaps.items() if until > now
        }
        return plan_reads(
            self._all_spans if full else self._fast_spans,
            refused=self._refused,
            bad_gaps=self._bad_gaps,
            wire=self.wire,
        )

    async def poll(self, *, full: bool = False) -> Snapshot:
        """Read the profile in planned blocks and return the decoded snapshot."""
        async with self._lock:
            started = self._clock()
            full = full or started >= self._slow_due
            plan = self.plan(full=full)
            needed = self.registers(full=full)
            before = self.stats.requests, self.stats.registers
            fresh: dict[RegisterRef, int] = {}
            try:
                for request in plan:
                    await self._read_block(request, needed, fresh)
            except DdcError:
                self.stats.failed_polls += 1
                # Whatever changed during the outage is re-read in full.
                self._slow_due = -math.inf
                raise
            for ref in needed:
                if ref in fresh:
                    self._raw[ref] = fresh[ref]
                else:
                    self._raw.pop(ref, None)
            if full:
                self._slow_due = started + self._slow_interval
                self.stats.full_polls += 1
            self.stats.polls += 1
            self.stats.last_plan = plan
            self.stats.last_requests = self.stats.requests - before[0]
            self.stats.last_registers = self.stats.registers - before[1]
            self.stats.last_duration = self._clock() - started
            self.stats.bad_gaps = [
                (str(kind), first, last) for kind, first, last in self._bad_gaps
            ]
            self._snapshot = self._decode()
            return self._snapshot

    async def _read_block(
        self,
        request: ReadRequest,
        needed: Sequence[RegisterRef],
        fresh: dict[RegisterRef, int],
    ) -> bool:
        """Read one block; on a refused address split it and learn where. Return False if split."""
        self.stats.requests += 1
        try:
            words = await self.line.read(self.slave, request)
        except DdcDeviceError as err:
            if err.exception_code not in (ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE):
                raise
            await self._split(request, [ref for ref in needed if ref in request], fresh)
            return False
        self.stats.registers += request.count
        for ref in needed:
            if ref in request:
                fresh[ref] = words[ref.address - request.start]
                self._refused.discard(ref)
        return True

    async def _split(
        self,
        request: ReadRequest,
        inside: list[RegisterRef],
        fresh: dict[RegisterRef, int],
    ) -> None:
        """Bisect a refused block at its widest gap until the refused part is found."""
        if request.count == 1 or (len(inside) <= 1 and request.count == len(inside)):
            self._refused.update(inside)
            _LOGGER.debug(
                "Slave %s refuses %s", self.slave, ", ".join(map(str, inside))
            )
            return
        gaps = [
            (b.address - a.address, i)
            for i, (a, b) in enumerate(itertools.pairwise(inside))
        ]
        width, index = max(gaps) if gaps else (1, 0)
        if width <= 1:
            index = len(inside) // 2 - 1
        left, right = inside[: index + 1], inside[index + 1 :]
        if not left or not right:
            # One multi-register value refused as a whole.
            self._refused.update(inside)
            return
        kind = request.kind
        left_ok = await self._read_block(
            ReadRequest(kind, left[0].address, left[-1].address - left[0].address + 1),
            left,
            fresh,
        )
        right_ok = await self._read_block(
            ReadRequest(
                kind, right[0].address, right[-1].address - right[0].address + 1
            ),
            right,
            fresh,
        )
        if left_ok and right_ok and width > 1:
            # Both halves read fine, so the refused address is in the gap.
            gap = (kind, left[-1].address + 1, right[0].address - 1)
            self._bad_gaps[gap] = self._clock() + self._bad_gap_ttl
            _LOGGER.debug("Slave %s refuses an address in %s %s-%s", self.slave, *gap)

    # --- commands --------------------------------------------------------------

    def _point(self, uid: str, key: Key) -> tuple[Unit, Point]:
        """Return a unit and one of its points."""
        unit = self.profile.unit(uid)
        try:
            return unit, unit.points[key]
        except KeyError:
            raise DdcNotWritableError(f"{uid} has no {key}") from None

    async def _read_point(self, point: Point, read: RegisterRef) -> Value | None:
        """Read one point now (from its read register) and store its raw words."""
        request = ReadRequest(read.kind, read.address, point.value_type.words)
        self.stats.requests += 1
        words = await self.line.read(self.slave, request)
        for offset, word in enumerate(words):
            self._raw[RegisterRef(request.kind, request.start + offset)] = word
        return decode_point(point, self._raw)

    async def _write_confirmed(self, point: Point, value: Value) -> Value:
        """Write a point and read it back until the DDC shows the value."""
        if point.write is None:
            raise DdcNotWritableError(f"{point.name} has no write register")
        words = encode(point, value)
        self.stats.requests += 1
        await self.line.write(self.slave, point.write, words)
        if point.read is None:
            return value
        # A mirrored value (a relay's status, a value the DDC forwards to a
        # device on its own RS-485 port) may take a moment to show.
        attempts = 1 if point.read == point.write else self._confirm_attempts
        actual: Value | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._confirm_interval)
            actual = await self._read_point(point, point.read)
            if _values_equal(point, value, actual):
                return actual if actual is not None else value
        raise DdcWriteNotConfirmedError(
            f"{point.name}: wrote {value!r} to {point.write}, DDC shows {actual!r}",
            expected=value,
            actual=actual,
        )

    def _decode(self) -> Snapshot:
        """Decode the raw memory, keeping the state of units whose registers did not change."""
        return decode_snapshot(
            self.profile,
            self._raw,
            frozenset(self._refused),
            previous=self._snapshot,
            registers=self._unit_registers,
        )

    def _publish(self) -> None:
        """Refresh the snapshot after a confirmed command."""
        self._snapshot = self._decode()

    async def set_value(self, uid: str, key: Key, value: Value) -> Value:
        """Write any writable value (mode, speed, targets, auto) and confirm it."""
        if key is Key.POWER:
            if not isinstance(value, bool):
                raise DdcNotWritableError("power takes on/off")
            return await self.set_power(uid, value)
        _unit, point = self._point(uid, key)
        async with self._lock:
            try:
                return await self._write_confirmed(point, value)
            finally:
                self._publish()

    async def set_power(
        self, uid: str, on: bool, *, manual_override: bool = False
    ) -> bool:
        """Switch a unit on or off, honouring the power rule.

        The DDC ignores the power command while the unit follows its schedule.
        Without manual_override that raises DdcPowerRuleError; with it, the unit
        is first switched to manual (confirmed), then switched.
        """
        unit, power = self._point(uid, Key.POWER)
        if power.write is None:
            raise DdcNotWritableError(f"{uid} is read-only")
        async with self._lock:
            try:
                auto_point = unit.points.get(Key.AUTO)
                if auto_point is not None and auto_point.read is not None:
                    auto = await self._read_point(auto_point, auto_point.read)
                    if auto is None:
                        raise DdcPowerRuleError(
                            f"{uid}: schedule mode register holds an invalid value"
                        )
                    if auto:
                        if not manual_override:
                            raise DdcPowerRuleError(
                                f"{uid} follows its schedule; the DDC ignores power commands"
                            )
                        await self._write_confirmed(auto_point, False)
                result = await self._write_confirmed(power, on)
                return bool(result)
            finally:
                self._publish()

    async def set_window(self, uid: str, window: int, edge: str, value: time) -> time:
        """Set a window's start or end time (edge 'start' or 'end'); window is 1-based."""
        unit = self.profile.unit(uid)
        if not 1 <= window <= len(unit.windows) or edge not in ("start", "end"):
            raise DdcNotWritableError(f"{uid} has no window {window} {edge}")
        target = unit.windows[window - 1]
        hour_point = getattr(target, WindowField(f"{edge}_hour").value)
        minute_point = getattr(target, WindowField(f"{edge}_minute").value)
        async with self._lock:
            try:
                await self._write_confirmed(hour_point, value.hour)
                await self._write_confirmed(minute_point, value.minute)
            finally:
                self._publish()
        return time(value.hour, value.minute)

"""Modbus TCP and RTU-over-TCP server for the DDC simulator, on plain asyncio.

One server is one RS-485 line or one RS-485/Ethernet gateway: it listens on a
loopback address and serves several slave ids. Framing is chosen per server:

* ``tcp``: Modbus TCP with the MBAP header. A frame with a protocol id other
  than 0 or an impossible length closes the connection. An unknown slave id is
  answered with exception 0x0B (gateway target failed to respond).
* ``rtu``: RTU frames (slave, PDU, CRC-16 low byte first) over the TCP stream,
  as an EW11-style gateway passes them through. A frame with a bad CRC is
  discarded (a real slave drops a corrupted frame). An unknown slave id gets
  no answer, as on a real bus.

Requests on one connection are served in order; partial frames wait for the
rest, several frames in one segment are all served. Slave id 0 is broadcast:
writes go to every device, nothing is answered.

Functions 1-6, 15, 16 and 23 (read/write multiple registers, unless a
device's ``read_write_supported`` is off: then "illegal function").

Line faults: ``delay``, ``drop_connections()``, ``drop_on_request(n)`` (once),
``drop_every`` (every connection at its n-th request),
``refuse_connections()`` / ``restart()``; ``clear_faults()`` resets them and
every device's faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import ipaddress
import logging
import struct
from types import MappingProxyType, TracebackType
from typing import Final, Literal, Self

from .device import MEMORY_SIZE, Kind, ModbusDevice, ModbusError

_LOGGER = logging.getLogger(__name__)

type FramerName = Literal["tcp", "rtu"]

ILLEGAL_FUNCTION: Final = 0x01
ILLEGAL_DATA_ADDRESS: Final = 0x02
ILLEGAL_DATA_VALUE: Final = 0x03
GATEWAY_TARGET_FAILED: Final = 0x0B

# Function code -> (memory table, most items in one request) per the Modbus spec.
_FUNCTIONS: Final[dict[int, tuple[Kind, int]]] = {
    1: ("coil", 2000),
    2: ("discrete", 2000),
    3: ("holding", 125),
    4: ("input", 125),
    5: ("coil", 1),
    6: ("holding", 1),
    15: ("coil", 1968),
    16: ("holding", 123),
}
#: Read/write multiple registers: write first, then read, in one transaction.
READ_WRITE_REGISTERS: Final = 23
_READ_WRITE_LIMITS: Final = (125, 121)  # registers read, registers written
_RTU_MAX_FRAME: Final = 256


def _crc_table() -> list[int]:
    """Build the lookup table of the Modbus CRC-16 (polynomial 0xA001)."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE: Final = _crc_table()


def crc16(data: bytes | bytearray) -> int:
    """Return the Modbus RTU CRC-16 of data (sent low byte first)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def _is_loopback(host: str) -> bool:
    """Whether host is a loopback IP address (names are not resolved)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """Wrap a PDU into an RTU frame."""
    body = bytes((unit,)) + pdu
    return body + crc16(body).to_bytes(2, "little")


class FramingError(Exception):
    """The byte stream cannot be Modbus TCP; the connection is closed."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One received request frame."""

    unit: int
    pdu: bytes
    size: int
    transaction: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded request PDU; values is None for reads."""

    function: int
    kind: Kind
    address: int
    count: int
    values: list[int] | None


def split_tcp(buffer: bytearray) -> list[Frame]:
    """Remove every complete MBAP frame from the front of buffer."""
    frames: list[Frame] = []
    while len(buffer) >= 7:
        transaction, protocol, length = struct.unpack_from(">HHH", buffer)
        if protocol != 0 or not 2 <= length <= 254:
            raise FramingError(f"bad MBAP header {bytes(buffer[:7]).hex()}")
        size = 6 + length
        if len(buffer) < size:
            break
        frames.append(Frame(buffer[6], bytes(buffer[7:size]), size, transaction))
        del buffer[:size]
    return frames


def _crc_ok(buffer: bytearray, start: int, size: int) -> bool:
    """Whether the size bytes at start end with their correct CRC."""
    end = start + size
    return crc16(buffer[start : end - 2]) == int.from_bytes(
        buffer[end - 2 : end], "little"
    )


def _rtu_size(buffer: bytearray, start: int = 0) -> int | None:
    """Return the size of the RTU request at start, None while incomplete."""
    available = len(buffer) - start
    if available < 2:
        return None
    function = buffer[start + 1]
    if 1 <= function <= 6:
        size = 8
    elif function in (15, 16):
        if available < 7:
            return None
        size = 9 + buffer[start + 6]
    elif function == READ_WRITE_REGISTERS:
        if available < 11:
            return None
        size = 13 + buffer[start + 10]
    else:
        # An unknown function has no known length: the frame ends where the
        # CRC matches, as a gateway would cut it at the silence after it.
        for size in range(4, min(available, _RTU_MAX_FRAME) + 1):
            if _crc_ok(buffer, start, size):
                return size
        return _RTU_MAX_FRAME if available >= _RTU_MAX_FRAME else None
    return size if available >= size else None


def _next_good_frame(buffer: bytearray) -> int | None:
    """Return where the next complete, good frame of a known function starts after byte 0."""
    for start in range(1, len(buffer) - 1):
        if buffer[start + 1] in _FUNCTIONS or buffer[start + 1] == READ_WRITE_REGISTERS:
            size = _rtu_size(buffer, start)
            if size is not None and _crc_ok(buffer, start, size):
                return start
    return None


def split_rtu(buffer: bytearray) -> tuple[list[Frame], int]:
    """Remove complete RTU frames from buffer; return them and how many were corrupt.

    A frame with a bad CRC, or an incomplete one followed by a complete good
    frame, is line noise: it is dropped with every byte up to the next good
    frame (all of it if there is none), as a slave waits for a clean frame.
    """
    frames: list[Frame] = []
    errors = 0
    while buffer:
        size = _rtu_size(buffer)
        if size is not None and _crc_ok(buffer, 0, size):
            frames.append(Frame(buffer[0], bytes(buffer[1 : size - 2]), size))
            del buffer[:size]
            continue
        start = _next_good_frame(buffer)
        if size is None and start is None:
            break
        errors += 1
        del buffer[: start or len(buffer)]
    return frames, errors


def parse_request(pdu: bytes) -> Request:
    """Decode a request PDU; raise ModbusError with the code a slave answers."""
    function = pdu[0]
    if function not in _FUNCTIONS:
        raise ModbusError(ILLEGAL_FUNCTION)
    kind, limit = _FUNCTIONS[function]
    if len(pdu) < 5:
        raise ModbusError(ILLEGAL_DATA_VALUE)
    address, word = struct.unpack_from(">HH", pdu, 1)
    values: list[int] | None = None
    count = word
    if function in (5, 6):
        if len(pdu) != 5 or (function == 5 and word not in (0x0000, 0xFF00)):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        count, values = 1, [int(word == 0xFF00) if function == 5 else word]
    elif function in (15, 16):
        data = pdu[6:]
        expected = (count + 7) // 8 if function == 15 else 2 * count
        if (
            not 1 <= count <= limit
            or len(pdu) < 6
            or pdu[5] != expected
            or len(data) != expected
        ):
            raise ModbusError(ILLEGAL_DATA_VALUE)
        if function == 15:
            values = [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]
        else:
            values = list(struct.unpack(f">{count}H", data))
    elif len(pdu) != 5 or not 1 <= count <= limit:
        raise ModbusError(ILLEGAL_DATA_VALUE)
    if address + count > MEMORY_SIZE:
        raise ModbusError(ILLEGAL_DATA_ADDRESS)
    return Request(function, kind, address, count, values)


def parse_read_write(pdu: bytes) -> tuple[Request, int, list[int]]:
    """Decode an FC23 request PDU into its read, its write address and values."""
    if len(pdu) < 10:
        raise ModbusError(ILLEGAL_DATA_VALUE)
    read_address, read_count, write_address, write_count, size = struct.unpack_from(
        ">HHHHB", pdu, 1
    )
    if (
        not 1 <= read_count <= _READ_WRITE_LIMITS[0]
        or not 1 <= write_count <= _READ_WRITE_LIMITS[1]
        or size != 2 * write_count
        or len(pdu) != 10 + size
    ):
        raise ModbusError(ILLEGAL_DATA_VALUE)
    if max(read_address + read_count, write_address + write_count) > MEMORY_SIZE:
        raise ModbusError(ILLEGAL_DATA_ADDRESS)
    values = list(struct.unpack_from(f">{write_count}H", pdu, 10))
    read = Request(READ_WRITE_REGISTERS, "holding", read_address, read_count, None)
    return read, write_address, values


def _pack_bits(values: list[int]) -> bytes:
    """Pack bits LSB first, as Modbus sends coils."""
    packed = bytearray((len(values) + 7) // 8)
    for i, value in enumerate(values):
        if value:
            packed[i // 8] |= 1 << (i % 8)
    return bytes(packed)


@dataclass
class ServerStats:
    """Traffic counters of one server, for benchmarks and tests."""

    requests: dict[int, int] = field(default_factory=dict)
    """Requests received, by function code (answered or not)."""
    exceptions: dict[int, int] = field(default_factory=dict)
    """Exception responses sent, by exception code."""
    responses: int = 0
    registers_read: int = 0
    registers_written: int = 0
    bits_read: int = 0
    bits_written: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    rtu_request_bytes: int = 0
    """Size the requests would have as RTU frames (slave + PDU + CRC), for wire time."""
    rtu_response_bytes: int = 0
    connections: int = 0
    frame_errors: int = 0
    """RTU frames discarded for a bad CRC, TCP connections closed for a bad header."""

    @property
    def total_requests(self) -> int:
        """Return the number of requests of every function code."""
        return sum(self.requests.values())

    @property
    def total_exceptions(self) -> int:
        """Return the number of exception responses of every code."""
        return sum(self.exceptions.values())

    def reset(self) -> None:
        """Set every counter back to zero."""
        vars(self).update(vars(ServerStats()))


class SimulatorServer:
    """A Modbus server on a loopback address serving simulated slaves."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        framer: FramerName = "tcp",
        auto_tick: bool = True,
        tick_interval: float = 1.0,
    ) -> None:
        """Configure the server; port 0 picks a free port at start."""
        if not _is_loopback(host):
            raise ValueError(f"the simulator only binds loopback addresses, not {host}")
        if framer not in ("tcp", "rtu"):
            raise ValueError(f"framer must be 'tcp' or 'rtu', not {framer!r}")
        self.host = host
        self.port = port
        self.framer: FramerName = framer
        self.auto_tick = auto_tick
        self.tick_interval = tick_interval
        self.stats = ServerStats()
        self.delay = 0.0
        """Line fault: seconds to wait before every response."""
        self._drop_every = 0
        self._served: dict[asyncio.StreamWriter, int] = {}
        self._devices: dict[int, ModbusDevice] = {}
        self._listener: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._drop_countdown = 0
        self._ticker: asyncio.Task[None] | None = None
        self._running = False

    def add_device[D: ModbusDevice](self, slave_id: int, device: D) -> D:
        """Attach a device as slave 1-247; return it."""
        if not 1 <= slave_id <= 247:
            raise ValueError("slave ids are 1-247")
        self._devices[slave_id] = device
        return device

    @property
    def devices(self) -> MappingProxyType[int, ModbusDevice]:
        """Return the attached devices by slave id."""
        return MappingProxyType(self._devices)

    @property
    def accepting(self) -> bool:
        """Whether the listener accepts new connections."""
        return self._listener is not None and self._listener.is_serving()

    async def start(self) -> None:
        """Start listening (and ticking the devices, unless auto_tick is off)."""
        await self._listen()
        self._running = True
        if self.auto_tick:
            self._ticker = asyncio.create_task(
                self._tick_forever(), name="simulator ticker"
            )

    async def stop(self) -> None:
        """Close the listener and every client connection; stop ticking."""
        self._running = False
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        tasks = list(self._connections.values())
        self.drop_connections()
        await asyncio.gather(*tasks, return_exceptions=True)
        if listener is not None:
            await listener.wait_closed()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # Line faults.

    @property
    def open_connections(self) -> int:
        """Return how many clients are connected now."""
        return len(self._connections)

    def drop_connections(self) -> None:
        """Close every open client connection now."""
        for writer, task in list(self._connections.items()):
            writer.close()
            task.cancel()

    @property
    def drop_every(self) -> int:
        """Line fault: close every connection at its n-th request from now on (0: off)."""
        return self._drop_every

    @drop_every.setter
    def drop_every(self, n: int) -> None:
        """Start (n >= 1) or stop (0) dropping; open connections count from now."""
        if n < 0:
            raise ValueError("n counts from 1; 0 switches the fault off")
        self._drop_every = n
        self._served.clear()

    def drop_on_request(self, n: int = 1) -> None:
        """Close the connection when the n-th next request arrives, instead of answering it."""
        if n < 1:
            raise ValueError("n counts from 1")
        self._drop_countdown = n

    def refuse_connections(self, *, drop_existing: bool = True) -> None:
        """Close the listener, as a restarting gateway does; restart() comes back."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if drop_existing:
            self.drop_connections()

    async def restart(self) -> None:
        """Drop every connection and listen again on the same port."""
        if not self._running:
            raise RuntimeError("the server is not running")
        self.refuse_connections()
        await self._listen()

    async def clear_faults(self) -> None:
        """Reset line faults and every device's faults; listen again if refusing."""
        self.delay = 0.0
        self.drop_every = 0
        self._drop_countdown = 0
        for device in self._devices.values():
            device.faults.clear()
        if self._running and self._listener is None:
            await self._listen()

    # Serving.

    async def _listen(self) -> None:
        """Open the listener on host:port and learn the port picked."""
        self._listener = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _tick_forever(self) -> None:
        """Advance every device's physics once per tick_interval."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_interval)
            now = loop.time()
            for device in list(self._devices.values()):
                try:
                    device.tick(now - last)
                except Exception:
                    _LOGGER.exception("device tick failed")
            last = now

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one client connection until it closes or is dropped."""
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        self.stats.connections += 1
        buffer = bytearray()
        try:
            while data := await reader.read(4096):
                buffer += data
                if self.framer == "tcp":
                    frames = split_tcp(buffer)
                else:
                    frames, errors = split_rtu(buffer)
                    self.stats.frame_errors += errors
                for frame in frames:
                    self._count_request(frame)
                    served = self._served[writer] = self._served.get(writer, 0) + 1
                    if served == self._drop_every:
                        return
                    if self._drop_countdown:
                        self._drop_countdown -= 1
                        if not self._drop_countdown:
                            return
                    if (pdu := self._handle(frame)) is None:
                        continue
                    if self.delay > 0:
                        await asyncio.sleep(self.delay)
                    self._send(writer, frame, pdu)
                await writer.drain()
        except FramingError as err:
            self.stats.frame_errors += 1
            _LOGGER.debug("closing connection: %s", err)
        except ConnectionError:
            pass
        finally:
            self._connections.pop(writer, None)
            self._served.pop(writer, None)
            writer.close()

    def _count_request(self, frame: Frame) -> None:
        """Count a received request."""
        stats = self.stats
        stats.requests[frame.pdu[0]] = stats.requests.get(frame.pdu[0], 0) + 1
        stats.request_bytes += frame.size
        stats.rtu_request_bytes += len(frame.pdu) + 3

    def _send(self, writer: asyncio.StreamWriter, frame: Frame, pdu: bytes) -> None:
        """Frame and send a response PDU, and count it."""
        if self.framer == "tcp":
            wire = (
                struct.pack(">HHHB", frame.transaction, 0, len(pdu) + 1, frame.unit)
                + pdu
            )
        else:
            wire = rtu_frame(frame.unit, pdu)
        writer.write(wire)
        stats = self.stats
        stats.responses += 1
        stats.response_bytes += len(wire)
        stats.rtu_response_bytes += len(pdu) + 3
        if pdu[0] & 0x80:
            stats.exceptions[pdu[1]] = stats.exceptions.get(pdu[1], 0) + 1

    def _handle(self, frame: Frame) -> bytes | None:
        """Execute a request; return the response PDU, or None to stay silent."""
        function = frame.pdu[0]
        if frame.unit == 0:
            self._broadcast(frame.pdu)
            return None
        device = self._devices.get(frame.unit)
        if device is None:
            return (
                bytes((function | 0x80, GATEWAY_TARGET_FAILED))
                if self.framer == "tcp"
                else None
            )
        if device.faults.silent:
            return None
        if function == READ_WRITE_REGISTERS and device.read_write_supported:
            return self._read_write(device, frame.pdu)
        try:
            request = parse_request(frame.pdu)
            if request.values is None:
                return self._read(device, request)
            device.write(request.kind, request.address, request.values)
        except ModbusError as err:
            return bytes((function | 0x80, err.code))
        self._count_items(request, written=True)
        if function in (5, 6):
            return frame.pdu
        return struct.pack(">BHH", function, request.address, request.count)

    def _read_write(self, device: ModbusDevice, pdu: bytes) -> bytes:
        """Serve FC23: write holding registers, then read holding registers."""
        try:
            read, write_address, values = parse_read_write(pdu)
            device.write("holding", write_address, values)
            self.stats.registers_written += len(values)
            return self._read(device, read)
        except ModbusError as err:
            return bytes((READ_WRITE_REGISTERS | 0x80, err.code))

    def _read(self, device: ModbusDevice, request: Request) -> bytes:
        """Serve a read request."""
        values = device.read(request.kind, request.address, request.count)
        self._count_items(request, written=False)
        if request.kind in ("coil", "discrete"):
            data = _pack_bits(values)
        else:
            data = struct.pack(f">{len(values)}H", *values)
        return bytes((request.function, len(data))) + data

    def _count_items(self, request: Request, *, written: bool) -> None:
        """Count registers or bits moved by a request."""
        stats, count = self.stats, request.count
        if request.kind in ("coil", "discrete"):
            if written:
                stats.bits_written += count
            else:
                stats.bits_read += count
        elif written:
            stats.registers_written += count
        else:
            stats.registers_read += count

    def _broadcast(self, pdu: bytes) -> None:
        """Apply a broadcast write to every answering device; reads are ignored."""
        try:
            request = parse_request(pdu)
        except ModbusError:
            return
        if request.values is None:
            return
        for device in self._devices.values():
            if not device.faults.silent:
                with contextlib.suppress(ModbusError):
                    device.write(request.kind, request.address, request.values)
        self._count_items(request, written=True)

"""A simulated RS-485 meter bus: many meters on one line, behind a TCP "collector" on 127.0.0.1.

The server stands for a transparent RS-485/TCP gateway: it passes bytes and
knows no protocol. Every complete request goes to every device on the bus,
as on a real RS-485 pair; a device answers only when addressed. A serial
port comes from ``devtools.serial_bridge.SerialBridge`` (a pty, paced at a
baud rate if asked) pointed at this server.

**Device interface** (stable: the M-Bus simulated meter implements it too)::

    class BusDevice(Protocol):
        def reply(self, request: bytes) -> bytes | None: ...

``reply`` gets one complete request as it came over the line (wake-up bytes
and all) and returns the bytes to send back, or None to stay silent.
Optional members a device may have:

* ``complete(buffer: bytes) -> bool``: True when the bytes received so far
  hold one whole request for this device's protocol. The server then hands
  the request on at once; without any device saying so it waits for the
  line to fall silent for ``silence`` seconds (a meter's byte timeout, long
  enough for a gateway that forwards a request in pieces). Implement it:
  without it every request costs that silence.
* ``advance(seconds: float) -> None``: the device's clock moved on (the
  server's ticker or a test calls it).
* ``reply_delay: float``: seconds the device takes before answering.

Requests are split from the byte stream per connection; a device may
answer several requests in a row (one at a time: the bus is half duplex).

Bus faults (``MeterBusServer``): ``echo`` (an RS-485 adapter hears its own
request and sends it back first), ``noise`` (random bytes before and after
each answer), ``split`` (an answer in pieces with pauses, as a gateway
forwards what it has), ``baudrate`` (answers paced at the real line speed,
after the request's own wire time and a ``turnaround``), ``restart()`` (a
gateway restart: every connection dropped, then listening again). Device
faults: :class:`MeterFaults`.

The DL/T645 meters here are written from SPEC §7 with their own small frame
code, independent of the integration's codec. Deterministic (seeded),
bounded (``stop_after``), and every task stops with ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import ipaddress
import logging
import random
from types import TracebackType
from typing import Final, Literal, Protocol, Self, runtime_checkable

from devtools.serial_bridge import Pacer, bits_per_char

_LOGGER = logging.getLogger(__name__)


@runtime_checkable
class BusDevice(Protocol):
    """A device on the simulated bus: gets every request, answers when addressed."""

    def reply(self, request: bytes) -> bytes | None:
        """Return the answer to a complete request, or None to stay silent."""


# DL/T645, written for the simulator from SPEC §7.

_START, _END, _WAKE = 0x68, 0x16, 0xFE
_BROADCAST: Final = b"\xaa" * 6
_READ_ADDRESS, _CONTROL = 0x13, 0x1C

type Version = Literal[1997, 2007]


def _frame(address: bytes, control: int, data: bytes, wakeup: int) -> bytes:
    """Build a DL/T645 frame: wake-up, header, data + 33, checksum, end."""
    body = bytes([_START, *address, _START, control, len(data)])
    body += bytes((byte + 0x33) % 256 for byte in data)
    return bytes([_WAKE] * wakeup) + body + bytes([sum(body) % 256, _END])


def _parse(request: bytes) -> tuple[bytes, int, bytes] | None:
    """Return (address, control, data) of one request frame, None if it isn't one.

    A meter drops a frame with a wrong checksum, as it would a corrupted one.
    """
    body = request.lstrip(bytes([_WAKE]))
    if len(body) < 12 or body[0] != _START or body[7] != _START:
        return None
    size = body[9]
    if len(body) != 12 + size or body[-1] != _END:
        return None
    if sum(body[:-2]) % 256 != body[-2]:
        return None
    data = bytes((byte - 0x33) % 256 for byte in body[10 : 10 + size])
    return body[1:7], body[8], data


def dlt645_complete(buffer: bytes) -> bool:
    """Whether buffer holds one whole DL/T645 frame (after any wake-up bytes)."""
    body = buffer.lstrip(bytes([_WAKE]))
    return (
        len(body) >= 12
        and body[0] == _START
        and body[7] == _START
        and len(body) >= 12 + body[9]
    )


def _bcd(value: float, size: int, decimals: int, signed: bool) -> bytes:
    """Encode a value as size BCD bytes, low byte first, sign in the top bit."""
    scaled = round(abs(value) * 10**decimals)
    scaled %= 10 ** (2 * size - (1 if signed else 0))
    digits = f"{scaled:0{2 * size}d}"
    raw = bytearray(int(digits[i : i + 2], 16) for i in range(0, 2 * size, 2))
    if signed and value < 0 and scaled:
        raw[0] |= 0x80
    return bytes(reversed(raw))


def _bcd_number(data: bytes) -> int | None:
    """Decode BCD bytes (low byte first) to an integer; None if not BCD."""
    text = bytes(reversed(data)).hex()
    return int(text) if text.isdigit() else None


@dataclass(slots=True)
class MeterFaults:
    """Faults of one simulated meter; all off by default."""

    silent: bool = False
    """Never answers (disconnected, dead)."""
    bad_checksum: bool = False
    """Answers with a wrong checksum."""
    wrong_address: str | None = None
    """Answers as if it had this nameplate address."""
    error_byte: int | None = None
    """Answers every read with an error reply carrying this error byte."""
    non_bcd: bool = False
    """Answers values with a nibble above 9 (a broken register)."""
    reply_delay: float = 0.0
    """Seconds before answering."""

    def clear(self) -> None:
        """Switch every fault off."""
        vars_ = MeterFaults()
        for name in self.__slots__:
            setattr(self, name, getattr(vars_, name))


class Dlt645Meter:
    """A DL/T645 electricity meter (2007 or 1997), optionally prepaid, with a relay.

    Its clock (``advance``) adds energy at the present load and runs credit
    down; the relay opens by itself when credit reaches zero and on a valid
    trip command, and power stops while it is open.
    """

    def __init__(
        self,
        nameplate: str,
        *,
        version: Version = 2007,
        energy: float = 1234.56,
        voltage: float = 220.4,
        current: float = 5.125,
        power: float = 1.1296,
        prepaid: Literal["energy", "money"] | None = None,
        remaining_energy: float = 0.0,
        remaining_money: float = 0.0,
        price: float = 0.5,
        password: str = "02000000",  # noqa: S107 - a simulated meter's factory code
        operator: str = "00000000",
        clock: datetime | None = None,
        wakeup: int = 2,
        split_reads: bool = False,
    ) -> None:
        """Create the meter with its address (the nameplate number) and state."""
        self.nameplate = nameplate.zfill(12)
        self.address = bytes.fromhex(self.nameplate)[::-1]
        self.version: Version = version
        self.energy = energy
        self.voltage = voltage
        self.current = current
        self.power = power
        self.prepaid = prepaid
        self.remaining_energy = remaining_energy
        self.remaining_money = remaining_money
        self.price = price
        self.password = password
        self.operator = operator
        self.now = clock or datetime(2026, 1, 5, 12, 0)  # noqa: DTZ001 - a meter's local clock
        self.wakeup = wakeup
        self.split_reads = split_reads
        """Answer the energy register in two frames (more-follows, then a follow-up)."""
        self.relay_open = False
        self.relay_commanded_open = False
        self.faults = MeterFaults()
        self.requests = 0
        self.commands: list[int] = []
        self._load = (current, power)
        self._follow_up: bytes | None = None

    # The bus interface.

    def complete(self, buffer: bytes) -> bool:
        """Whether buffer holds one whole DL/T645 frame."""
        return dlt645_complete(buffer)

    @property
    def reply_delay(self) -> float:
        """Seconds before answering (a fault)."""
        return self.faults.reply_delay

    def advance(self, seconds: float) -> None:
        """Let time pass: count energy at the present load, run credit down."""
        self.now += timedelta(seconds=seconds)
        if self.relay_open:
            return
        used = self.power * seconds / 3600
        if self.prepaid == "energy":
            # The supply stops the moment the credit is gone.
            used = min(used, self.remaining_energy)
            self.remaining_energy -= used
        elif self.prepaid == "money":
            used = min(used, self.remaining_money / self.price)
            self.remaining_money -= used * self.price
        self.energy += used
        if self.prepaid is not None and self._credit() <= 1e-9:
            self._cut()

    def _credit(self) -> float:
        """Return the credit left in the meter's own unit (1 for a meter that isn't prepaid)."""
        if self.prepaid == "energy":
            return self.remaining_energy
        if self.prepaid == "money":
            return self.remaining_money
        return 1.0

    def set_load(self, *, current: float, power: float) -> None:
        """Change the household's load (it flows while the relay is closed)."""
        self._load = (current, power)
        if not self.relay_open:
            self.current, self.power = current, power

    def top_up(self, *, energy: float = 0.0, money: float = 0.0) -> None:
        """Add credit, as a token typed on the keypad would."""
        self.remaining_energy += energy
        self.remaining_money += money

    def _cut(self) -> None:
        """Open the relay: the meter cuts the supply."""
        self.relay_open = True
        self.current = self.power = 0.0

    def _restore(self) -> None:
        """Close the relay: the load comes back."""
        self.relay_open = False
        self.current, self.power = self._load

    def reply(self, request: bytes) -> bytes | None:
        """Answer a request addressed to this meter (or a broadcast read-address)."""
        parsed = _parse(request)
        if parsed is None:
            return None
        address, control, data = parsed
        if control & 0x80:
            return None  # another meter's answer, not a request
        broadcast = address == _BROADCAST
        if address != self.address and not (
            broadcast and control == _READ_ADDRESS and self.version == 2007
        ):
            return None
        self.requests += 1
        if self.faults.silent:
            return None
        answer = self._answer(control, data)
        if answer is None:
            return None
        reply_control, reply_data = answer
        sender = self.address
        if self.faults.wrong_address is not None:
            sender = bytes.fromhex(self.faults.wrong_address.zfill(12))[::-1]
        frame = _frame(sender, reply_control, reply_data, self.wakeup)
        if self.faults.bad_checksum:
            frame = frame[:-2] + bytes([(frame[-2] + 1) % 256, _END])
        return frame

    # DL/T645 functions.

    def _answer(self, control: int, data: bytes) -> tuple[int, bytes] | None:
        """Return (control, data) of the answer, None for a request not understood."""
        function = control & 0x1F
        if self.version == 2007:
            if function == 0x11:
                return self._read(0x11, data[:4], 4)
            if function == 0x12:
                return self._follow(0x12, data[:4])
            if function == _READ_ADDRESS:
                return 0x93, self.address
            if function == _CONTROL:
                return self._control(data)
            return None
        if function == 0x01:
            return self._read(0x01, data[:2], 2)
        if function == 0x02:
            return self._follow(0x02, data[:2])
        return None

    def _error(self, function: int, error_byte: int) -> tuple[int, bytes]:
        """Return an error reply."""
        return 0xC0 | function, bytes([error_byte])

    def _registers(self) -> dict[int, bytes]:
        """Return the value bytes of every identifier this meter has."""
        non_bcd = self.faults.non_bcd
        if self.version == 1997:
            registers = {
                0x9010: _bcd(self.energy, 4, 2, False),
                0xB611: _bcd(self.voltage, 2, 0, False),
                0xB621: _bcd(self.current, 2, 2, False),
                0xB630: _bcd(self.power, 3, 4, True),
            }
        else:
            registers = {
                0x00000000: _bcd(self.energy, 4, 2, True),
                0x02010100: _bcd(self.voltage, 2, 1, False),
                0x02020100: _bcd(self.current, 3, 3, True),
                0x02030000: _bcd(self.power, 3, 4, True),
            }
            if self.prepaid is not None:
                registers[0x00900100] = _bcd(self.remaining_energy, 4, 2, False)
                registers[0x00900200] = _bcd(self.remaining_money, 4, 2, False)
                kind = 0b01 if self.prepaid == "energy" else 0b10
                word = (
                    kind << 8
                    | (0x10 if self.relay_open else 0)
                    | (0x40 if self.relay_commanded_open else 0)
                )
                registers[0x04000503] = word.to_bytes(2, "little")
        if non_bcd:
            registers = {key: b"\xff" * len(value) for key, value in registers.items()}
        return registers

    def _read(self, function: int, identifier: bytes, size: int) -> tuple[int, bytes]:
        """Answer a read: the identifier and its value, or an error reply."""
        if self.faults.error_byte is not None:
            return self._error(function, self.faults.error_byte)
        key = int.from_bytes(identifier, "little")
        value = self._registers().get(key)
        if value is None or len(identifier) != size:
            # 2007 D1 "no requested data"; 1997 D1 "identifier wrong".
            return self._error(function, 0x02)
        if self.split_reads and key in (0x00000000, 0x9010):
            self._follow_up = value[2:]
            return 0xA0 | function, identifier + value[:2]
        return 0x80 | function, identifier + value

    def _follow(self, function: int, identifier: bytes) -> tuple[int, bytes]:
        """Answer a request for the next frame of a long answer."""
        rest, self._follow_up = self._follow_up, None
        if rest is None:
            return self._error(function, 0x02)
        sequence = b"\x01" if self.version == 2007 else b""
        return 0x80 | function, identifier + rest + sequence

    def _control(self, data: bytes) -> tuple[int, bytes]:
        """Carry out a relay command if password, operator code and deadline are right."""
        if len(data) != 16:
            return self._error(_CONTROL, 0x01)
        level, digits = data[0], data[1:4]
        password = f"{level:02x}" + bytes(reversed(digits)).hex()
        operator = bytes(reversed(data[4:8])).hex()
        if password != self.password or operator != self.operator:
            return self._error(_CONTROL, 0x04)
        fields = [_bcd_number(data[i : i + 1]) for i in range(10, 16)]
        if any(part is None for part in fields):
            return self._error(_CONTROL, 0x01)
        second, minute, hour, day, month, year = (int(part or 0) for part in fields)
        try:
            deadline = datetime(2000 + year, month, day, hour, minute, second)  # noqa: DTZ001
        except ValueError:
            return self._error(_CONTROL, 0x01)
        if deadline < self.now:
            return self._error(_CONTROL, 0x01)
        command = data[8]
        self.commands.append(command)
        if command == 0x1A:
            self.relay_commanded_open = True
            self._cut()
        elif command in (0x1B, 0x1C):
            self.relay_commanded_open = False
            # A prepaid meter keeps the supply cut while it has no credit.
            if self._credit() > 1e-9:
                self._restore()
        elif command not in (0x2A, 0x2B, 0x3A, 0x3B):
            return self._error(_CONTROL, 0x01)
        return 0x9C, b""


# The server.


def _collide(answers: list[bytes]) -> bytes:
    """Return what the line carries when devices answer at once: the first alone, or garble.

    Two RS-485 drivers talking together corrupt each other's bits; the
    master sees neither frame intact.
    """
    line = bytearray(answers[0])
    for answer in answers[1:]:
        line.extend(b"\x00" * (len(answer) - len(line)))
        for index, byte in enumerate(answer):
            line[index] ^= byte ^ 0x5A
    return bytes(line)


@dataclass(slots=True)
class BusStats:
    """Traffic counters of the simulated bus."""

    connections: int = 0
    requests: int = 0
    answers: int = 0
    request_bytes: int = 0
    answer_bytes: int = 0


def _is_loopback(host: str) -> bool:
    """Whether host is a loopback IP address (names are not resolved)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class _Connection:
    """One client of the simulated gateway."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pacer: Pacer | None = None
    buffer: bytearray = field(default_factory=bytearray)


class MeterBusServer:
    """A transparent RS-485/TCP gateway on 127.0.0.1 with simulated meters on its bus."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        baudrate: int | None = None,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: int = 1,
        turnaround: float = 0.02,
        silence: float = 0.1,
        tick_interval: float | None = None,
        stop_after: float | None = 3600.0,
        seed: int = 0,
    ) -> None:
        """Configure the gateway; port 0 picks a free port, baudrate None answers at once."""
        if not _is_loopback(host):
            raise ValueError(f"the simulator only binds loopback addresses, not {host}")
        self.host = host
        self.port = port
        self.baudrate = baudrate
        self.char_time = bits_per_char(bytesize, parity, stopbits) / (baudrate or 2400)
        self.turnaround = turnaround
        self.silence = silence
        """Seconds of quiet that end a request no device recognises (a meter's byte timeout)."""
        self.tick_interval = tick_interval
        self.stop_after = stop_after
        self.devices: list[BusDevice] = []
        self.stats = BusStats()
        self.echo = False
        """Bus fault: send every request back before the answer (an RS-485 adapter's echo)."""
        self.noise = 0
        """Bus fault: this many random bytes before and after every answer."""
        self.split = 0
        """Bus fault: answers in this many pieces, split_gap seconds apart."""
        self.split_gap = 0.05
        self._rng = random.Random(seed)
        self._listener: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def add[D: BusDevice](self, device: D) -> D:
        """Put a device on the bus; return it."""
        self.devices.append(device)
        return device

    @property
    def open_connections(self) -> int:
        """Return how many clients are connected."""
        return len(self._connections)

    async def start(self) -> None:
        """Listen, start the device clock if asked, and arm the stop timer."""
        await self._listen()
        self._running = True
        if self.tick_interval:
            self._tasks.append(asyncio.create_task(self._tick(self.tick_interval)))
        if self.stop_after is not None:
            self._tasks.append(asyncio.create_task(self._expire(self.stop_after)))

    async def stop(self) -> None:
        """Close the listener and every connection; stop every task."""
        self._running = False
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        served = list(self._connections.values())
        self.drop_connections()
        await asyncio.gather(*served, return_exceptions=True)
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

    def advance(self, seconds: float) -> None:
        """Move every device's clock on."""
        for device in self.devices:
            advance = getattr(device, "advance", None)
            if advance is not None:
                advance(seconds)

    def drop_connections(self) -> None:
        """Close every open client connection now."""
        for writer, task in list(self._connections.items()):
            writer.close()
            task.cancel()

    async def restart(self, downtime: float = 0.0) -> None:
        """Restart the gateway: drop every connection, refuse for downtime seconds, listen again."""
        if not self._running:
            raise RuntimeError("the server is not running")
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.drop_connections()
        if downtime:
            await asyncio.sleep(downtime)
        await self._listen()

    def clear_faults(self) -> None:
        """Switch every bus and device fault off."""
        self.echo, self.noise, self.split = False, 0, 0
        for device in self.devices:
            faults = getattr(device, "faults", None)
            if faults is not None:
                faults.clear()

    async def _listen(self) -> None:
        """Open the listener and learn the port picked."""
        self._listener = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _tick(self, interval: float) -> None:
        """Advance the devices' clocks in real time."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            self.advance(now - last)
            last = now

    async def _expire(self, seconds: float) -> None:
        """Stop by itself after a while: a forgotten simulator doesn't run forever."""
        await asyncio.sleep(seconds)
        _LOGGER.info("meter bus simulator stops after %s s", seconds)
        await self.stop()

    def _complete(self, buffer: bytearray) -> bool:
        """Whether some device recognises a whole request in buffer."""
        data = bytes(buffer)
        for device in self.devices:
            complete = getattr(device, "complete", None)
            if complete is not None and complete(data):
                return True
        return False

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one client until it leaves or the gateway drops it."""
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        self.stats.connections += 1
        connection = _Connection(reader, writer)
        if self.baudrate:
            connection.pacer = Pacer(
                writer.write, self.char_time, turnaround=self.turnaround
            )
            connection.pacer.start()
        try:
            await self._requests(connection)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop(writer, None)
            if connection.pacer is not None:
                await connection.pacer.stop()
            writer.close()

    async def _requests(self, connection: _Connection) -> None:
        """Split the incoming bytes into requests and serve them in turn."""
        buffer = connection.buffer
        while True:
            if buffer and not self._complete(buffer):
                # The end of a frame is the line falling silent.
                try:
                    async with asyncio.timeout(self.silence):
                        data = await connection.reader.read(1024)
                except TimeoutError:
                    data = None
                if data == b"":
                    return
                if data is None:
                    await self._dispatch(connection, bytes(buffer))
                    buffer.clear()
                    continue
            else:
                data = await connection.reader.read(1024)
                if not data:
                    return
            buffer += data
            if self._complete(buffer):
                await self._dispatch(connection, bytes(buffer))
                buffer.clear()

    async def _dispatch(self, connection: _Connection, request: bytes) -> None:
        """Hand a request to every device and send back what they answer."""
        self.stats.requests += 1
        self.stats.request_bytes += len(request)
        if self.echo:
            self._send(connection, request, paced=False)
        answers: list[bytes] = []
        delay = 0.0
        for device in self.devices:
            answer = device.reply(request)
            if answer:
                answers.append(answer)
                delay = max(delay, getattr(device, "reply_delay", 0.0))
        if not answers:
            return
        if self.baudrate:
            # The request crosses the RS-485 side before a meter has it.
            await asyncio.sleep(len(request) * self.char_time)
        if delay:
            await asyncio.sleep(delay)
        answer = _collide(answers)
        if self.noise:
            answer = self._noise() + answer + self._noise()
        self.stats.answers += 1
        self.stats.answer_bytes += len(answer)
        if self.split > 1:
            size = -(-len(answer) // self.split)
            for start in range(0, len(answer), size):
                self._send(connection, answer[start : start + size])
                await connection.writer.drain()
                await asyncio.sleep(self.split_gap)
        else:
            self._send(connection, answer)
        await connection.writer.drain()

    def _noise(self) -> bytes:
        """Return random line noise (seeded: the same every run)."""
        return bytes(self._rng.randrange(256) for _ in range(self.noise))

    def _send(
        self, connection: _Connection, data: bytes, *, paced: bool = True
    ) -> None:
        """Write to the client, at the line's pace if one is set."""
        if connection.pacer is not None and paced:
            connection.pacer.push(data)
        else:
            connection.writer.write(data)


__all__ = [
    "BusDevice",
    "BusStats",
    "Dlt645Meter",
    "MeterBusServer",
    "MeterFaults",
    "dlt645_complete",
]


async def _main() -> None:  # pragma: no cover - manual use
    """Serve two meters until stopped (python -m devtools.simulator.meterbus)."""
    async with MeterBusServer(port=8899, baudrate=2400, tick_interval=1.0) as server:
        server.add(Dlt645Meter("000012345678", prepaid="money", remaining_money=20))
        server.add(Dlt645Meter("000000000003", version=1997))
        print(f"meter bus simulator on 127.0.0.1:{server.port}")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(server.stop_after or 3600)


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main())

"""The meter-bus simulator, checked with an independent DL/T645 implementation (the dlt645 package)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import datetime
import os
import time

from dlt645.common.transform import bcd_to_float, bcd_to_string
from dlt645.model.data import data_handler
from dlt645.model.types.dlt645_type import ErrorCode
from dlt645.protocol.frame import Frame
from dlt645.protocol.protocol import DLT645Protocol
import pytest

from devtools.serial_bridge import Pacer, SerialBridge, bits_per_char
from devtools.simulator import BusDevice, Dlt645Meter, MeterBusServer
from devtools.simulator.meterbus import MeterFaults, dlt645_complete

NAMEPLATE = "000012345678"
#: The dlt645 package takes the address as wire bytes (low byte first).
WIRE = bytes.fromhex(NAMEPLATE)[::-1]
IO_TIMEOUT = 3.0
#: The package's identifier table (a deep copy takes most of a second: once).
DATA_MAP = data_handler.clone_data_map()


@pytest.fixture
async def server() -> AsyncIterator[MeterBusServer]:
    """A bus with a prepaid 2007 meter and a 1997 meter, answering at once."""
    async with MeterBusServer(stop_after=60) as bus:
        bus.add(
            Dlt645Meter(
                NAMEPLATE,
                prepaid="money",
                remaining_money=10.0,
                price=0.5,
                energy=1234.56,
                power=1.5,
                current=-6.818,
            )
        )
        bus.add(Dlt645Meter("3", version=1997, energy=77.7, voltage=231))
        yield bus


class Peer:
    """A raw TCP client of the simulated gateway."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""

    async def ask(self, request: bytes) -> Frame:
        """Send a request; return the first complete frame, decoded by the dlt645 package."""
        self.writer.write(request)
        await self.writer.drain()
        async with asyncio.timeout(IO_TIMEOUT):
            while True:
                rest, frame = DLT645Protocol.deserialize_with_remaining(self.buffer)
                if frame is not None and frame.ctrl_code & 0x80:
                    self.buffer = rest
                    return frame
                if frame is not None:  # an echo of our request
                    self.buffer = rest
                    continue
                self.buffer += await self.reader.read(1024)

    async def silence(self, request: bytes, seconds: float = 0.3) -> bytes:
        """Send a request and return everything that comes back within seconds."""
        self.writer.write(request)
        await self.writer.drain()
        received = b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    data = await self.reader.read(1024)
            except TimeoutError:
                break
            if not data:
                break
            received += data
        return received


@pytest.fixture
async def peer(server: MeterBusServer) -> AsyncIterator[Peer]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    yield Peer(reader, writer)
    writer.close()


def read_2007(di: int, address: bytes = WIRE) -> bytes:
    return bytes(DLT645Protocol.build_frame(address, 0x11, di.to_bytes(4, "little")))


def value_of(frame: Frame, di: int) -> float:
    """Decode a 2007 read reply's value the way the dlt645 package's client does."""
    data_item = data_handler.get_data_item(di, DATA_MAP)
    assert data_item is not None
    size = len(frame.data) - 4
    return bcd_to_float(
        bytes(frame.data[4 : 4 + size]), data_item.data_format, "little"
    )


@pytest.mark.parametrize(
    ("di", "expected"),
    [
        (0x00000000, 1234.56),
        (0x02010100, 220.4),
        (0x02020100, -6.818),
        (0x02030000, 1.5),
    ],
)
async def test_2007_values_decode_with_the_dlt645_package(
    peer: Peer, di: int, expected: float
) -> None:
    frame = await peer.ask(read_2007(di))
    assert frame.ctrl_code == 0x91
    assert bytes(frame.addr) == WIRE
    assert int.from_bytes(frame.data[:4], "little") == di
    assert value_of(frame, di) == expected


async def test_prepaid_registers_and_status_word(peer: Peer) -> None:
    # The dlt645 package has no entry for 00900100/00900200: decode with its BCD helper.
    for di, expected in ((0x00900200, 10.0), (0x00900100, 0.0)):
        frame = await peer.ask(read_2007(di))
        assert frame.ctrl_code == 0x91
        assert bcd_to_float(bytes(frame.data[4:]), "XXXXXX.XX", "little") == expected
    frame = await peer.ask(read_2007(0x04000503))
    # Money-prepaid (D9 D8 = 10), relay closed (D4 = 0).
    assert int(bcd_to_string(bytes(frame.data[4:]), "little"), 16) == 0x0200


async def test_unknown_identifier_gets_an_error_reply(peer: Peer) -> None:
    frame = await peer.ask(read_2007(0x02800002))
    assert frame.ctrl_code == 0xD1
    assert frame.data[0] == ErrorCode.RequestDataEmpty


async def test_a_plain_meter_has_no_prepaid_registers(
    server: MeterBusServer, peer: Peer
) -> None:
    server.add(Dlt645Meter("42"))
    frame = await peer.ask(read_2007(0x00900200, bytes.fromhex("000000000042")[::-1]))
    assert frame.ctrl_code == 0xD1


async def test_1997_meter(peer: Peer) -> None:
    # The dlt645 package has no 1997: build and check by hand, with its frame codec.
    address = bytes.fromhex("000000000003")[::-1]
    request = bytes(DLT645Protocol.build_frame(address, 0x01, bytes.fromhex("1090")))
    frame = await peer.ask(request)
    assert frame.ctrl_code == 0x81
    assert bytes(frame.data[:2]) == bytes.fromhex("1090")
    assert bcd_to_float(bytes(frame.data[2:]), "XXXXXX.XX", "little") == 77.7
    frame = await peer.ask(
        bytes(DLT645Protocol.build_frame(address, 0x01, bytes.fromhex("11B6")))
    )
    assert bcd_to_float(bytes(frame.data[2:]), "XXXX", "little") == 231
    frame = await peer.ask(
        bytes(DLT645Protocol.build_frame(address, 0x01, bytes.fromhex("1190")))
    )
    assert frame.ctrl_code == 0xC1


async def test_read_address_broadcast_with_one_meter() -> None:
    async with MeterBusServer(stop_after=30) as server:
        server.add(Dlt645Meter(NAMEPLATE))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        peer = Peer(reader, writer)
        frame = await peer.ask(
            bytes(DLT645Protocol.build_frame(b"\xaa" * 6, 0x13, b""))
        )
        assert frame.ctrl_code == 0x93
        assert bytes(frame.data) == WIRE
        # Two meters answering at once garble each other: no intact frame.
        server.add(Dlt645Meter("1"))
        garbled = await peer.silence(
            bytes(DLT645Protocol.build_frame(b"\xaa" * 6, 0x13, b""))
        )
        assert garbled
        with pytest.raises(ValueError, match="No complete frame"):
            DLT645Protocol.deserialize(garbled)
        writer.close()


async def test_clock_runs_credit_down_and_cuts_the_supply(
    server: MeterBusServer, peer: Peer
) -> None:
    meter = server.devices[0]
    assert isinstance(meter, Dlt645Meter)
    # 1.5 kW for 2 h = 3 kWh, at 0.5 per kWh = 1.5 of the 10.0 credit.
    server.advance(7200)
    assert value_of(await peer.ask(read_2007(0)), 0) == 1237.56
    frame = await peer.ask(read_2007(0x00900200))
    assert bcd_to_float(bytes(frame.data[4:]), "XXXXXX.XX", "little") == 8.5
    # 8.5 left buys 17 kWh = 11 h 20 min at 1.5 kW; 12 h later the relay is open.
    server.advance(12 * 3600)
    assert meter.relay_open
    frame = await peer.ask(read_2007(0x04000503))
    assert int(bcd_to_string(bytes(frame.data[4:]), "little"), 16) == 0x0210
    assert value_of(await peer.ask(read_2007(0x02030000)), 0x02030000) == 0.0
    assert value_of(await peer.ask(read_2007(0)), 0) == 1254.56
    # A top-up and a close command bring the supply back.
    meter.top_up(money=5)
    # The meter's clock is at 02:00 the next day now: an old deadline is refused.
    assert (await peer.ask(control(0x1C))).ctrl_code == 0xDC
    frame = await peer.ask(control(0x1C, deadline="00 00 03 06 01 26"))
    assert frame.ctrl_code == 0x9C
    assert not meter.relay_open
    assert meter.power == 1.5


def control(
    command: int,
    password: str = "02000000",
    operator: str = "00000000",
    deadline: str = "00 00 13 05 01 26",
) -> bytes:
    data = (
        bytes.fromhex(password[:2])
        + bytes.fromhex(password[2:])[::-1]
        + bytes.fromhex(operator)[::-1]
        + bytes((command, 0))
        + bytes.fromhex(deadline)
    )
    return bytes(DLT645Protocol.build_frame(WIRE, 0x1C, data))


async def test_relay_commands_check_password_operator_and_deadline(
    server: MeterBusServer, peer: Peer
) -> None:
    meter = server.devices[0]
    assert isinstance(meter, Dlt645Meter)
    meter.password, meter.operator = "02123456", "00000001"
    wrong = await peer.ask(control(0x1A, password="02654321", operator="00000001"))
    assert (wrong.ctrl_code, wrong.data[0]) == (0xDC, ErrorCode.AuthFailed)
    wrong = await peer.ask(control(0x1A, password="02123456", operator="00000002"))
    assert wrong.ctrl_code == 0xDC
    # The meter's clock says 12:00 on 2026-01-05: a deadline of 11:00 has passed.
    late = await peer.ask(
        control(0x1A, "02123456", "00000001", deadline="00 00 11 05 01 26")
    )
    assert late.ctrl_code == 0xDC
    assert not meter.relay_open
    ok = await peer.ask(control(0x1A, "02123456", "00000001"))
    assert ok.ctrl_code == 0x9C
    assert meter.relay_open
    assert meter.commands == [0x1A]
    frame = await peer.ask(control(0x1B, "02123456", "00000001"))
    assert frame.ctrl_code == 0x9C
    assert not meter.relay_open


async def test_requests_for_other_meters_and_corrupt_requests_get_no_answer(
    peer: Peer,
) -> None:
    assert await peer.silence(read_2007(0, bytes.fromhex("999999999999"))) == b""
    corrupt = bytearray(read_2007(0))
    corrupt[-2] ^= 0x01
    assert await peer.silence(bytes(corrupt)) == b""


async def test_device_faults(server: MeterBusServer, peer: Peer) -> None:
    meter = server.devices[0]
    assert isinstance(meter, Dlt645Meter)
    meter.faults.silent = True
    assert await peer.silence(read_2007(0)) == b""
    meter.faults = MeterFaults(bad_checksum=True)
    raw = await peer.silence(read_2007(0))
    with pytest.raises(ValueError, match="No complete frame"):
        DLT645Protocol.deserialize(raw)
    meter.faults = MeterFaults(wrong_address="000000000099")
    frame = await peer.ask(read_2007(0))
    assert bytes(frame.addr) == bytes.fromhex("990000000000")
    meter.faults = MeterFaults(error_byte=0x01)
    frame = await peer.ask(read_2007(0))
    assert (frame.ctrl_code, frame.data[0]) == (0xD1, ErrorCode.OtherError)
    meter.faults = MeterFaults(non_bcd=True)
    frame = await peer.ask(read_2007(0))
    assert bytes(frame.data[4:]) == b"\xff" * 4
    meter.faults = MeterFaults(reply_delay=0.3)
    started = time.monotonic()
    await peer.ask(read_2007(0))
    assert time.monotonic() - started >= 0.3
    server.clear_faults()
    assert meter.faults == MeterFaults()


async def test_bus_faults_echo_noise_split(server: MeterBusServer, peer: Peer) -> None:
    server.echo = True
    server.noise = 5
    server.split = 3
    server.split_gap = 0.02
    request = read_2007(0)
    raw = await peer.silence(request, 0.5)
    assert raw.startswith(request)
    answer = raw[len(request) :]
    # 5 noise bytes, the frame, 5 noise bytes.
    frame = DLT645Protocol.deserialize(answer[5:-5])
    assert value_of(frame, 0) == 1234.56
    server.clear_faults()
    assert (server.echo, server.noise, server.split) == (False, 0, 0)


async def test_split_request_waits_for_the_rest(peer: Peer) -> None:
    request = read_2007(0)
    peer.writer.write(request[:7])
    await peer.writer.drain()
    await asyncio.sleep(0.05)
    frame = await peer.ask(request[7:])
    assert value_of(frame, 0) == 1234.56


async def test_unknown_protocol_ends_at_silence() -> None:
    class Echo:
        """A device of another protocol: no framer, answers everything."""

        def __init__(self) -> None:
            self.requests: list[bytes] = []

        def reply(self, request: bytes) -> bytes | None:
            self.requests.append(request)
            return b"ok:" + request

    async with MeterBusServer(stop_after=30) as server:
        device = server.add(Echo())
        assert isinstance(device, BusDevice)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x10\x5b\x01")
        await writer.drain()
        writer.write(b"\x5c\x16")
        async with asyncio.timeout(IO_TIMEOUT):
            answer = await reader.readexactly(8)
        assert answer == b"ok:\x10\x5b\x01\x5c\x16"
        assert device.requests == [b"\x10\x5b\x01\x5c\x16"]
        writer.close()


async def test_gateway_restart_drops_connections(
    server: MeterBusServer, peer: Peer
) -> None:
    await server.restart(downtime=0.05)
    async with asyncio.timeout(IO_TIMEOUT):
        assert await peer.reader.read(1024) == b""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    again = Peer(reader, writer)
    assert value_of(await again.ask(read_2007(0)), 0) == 1234.56
    writer.close()


async def test_stops_by_itself() -> None:
    server = MeterBusServer(stop_after=0.1)
    await server.start()
    port = server.port
    await asyncio.sleep(0.3)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await server.stop()


async def test_ticker_advances_the_clock() -> None:
    async with MeterBusServer(tick_interval=0.05, stop_after=10) as server:
        meter = server.add(Dlt645Meter("1", power=3600.0))
        await asyncio.sleep(0.3)
    # 3600 kW is one kWh a second.
    assert meter.energy > 1234.56 + 0.1


async def test_follow_up_frames(peer: Peer, server: MeterBusServer) -> None:
    meter = server.devices[0]
    assert isinstance(meter, Dlt645Meter)
    meter.split_reads = True
    first = await peer.ask(read_2007(0))
    assert first.ctrl_code == 0xB1
    assert bytes(first.data[4:]) == bytes.fromhex("5634")
    second = await peer.ask(
        bytes(DLT645Protocol.build_frame(WIRE, 0x12, bytes(4) + b"\x01"))
    )
    assert second.ctrl_code == 0x92
    # 1234.56 = 00 12 34 56 BCD, sent 56 34 | 12 00, then the sequence number.
    assert bytes(second.data[4:]) == bytes.fromhex("1200 01")


async def test_over_a_paced_pty() -> None:
    """2400 baud 8E1: 11 bits a byte, 4.583 ms; the answer is timed like a real line."""
    async with MeterBusServer(stop_after=30) as server:
        server.add(Dlt645Meter(NAMEPLATE, wakeup=4))
        async with SerialBridge(server.port, baudrate=2400, turnaround=0.02) as bridge:
            fd = os.open(bridge.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                request = read_2007(0)  # 4 FE + 16 bytes
                loop = asyncio.get_running_loop()
                started = loop.time()
                os.write(fd, request)
                received = b""
                async with asyncio.timeout(IO_TIMEOUT):
                    while len(received) < 24:  # 4 FE + 20 bytes
                        await asyncio.sleep(0.002)
                        with contextlib.suppress(BlockingIOError):
                            received += os.read(fd, 1024)
                elapsed = loop.time() - started
            finally:
                os.close(fd)
    frame = DLT645Protocol.deserialize(received)
    assert value_of(frame, 0) == 1234.56
    char = 11 / 2400
    minimum = (len(request) + len(received)) * char + 0.02
    assert minimum <= elapsed < minimum + 0.1


async def test_pacer_releases_bytes_at_the_line_rate() -> None:
    released: list[tuple[float, bytes]] = []
    loop = asyncio.get_running_loop()
    pacer = Pacer(lambda data: released.append((loop.time(), data)), 0.01)
    pacer.start()
    started = loop.time()
    pacer.push(b"0123456789")
    await asyncio.sleep(0.15)
    assert pacer.idle
    await pacer.stop()
    assert b"".join(data for _, data in released) == b"0123456789"
    assert released[-1][0] - started >= 0.1
    assert bits_per_char(8, "N", 1) == 10
    assert bits_per_char(8, "E", 1) == 11


def test_framer() -> None:
    request = read_2007(0)
    assert dlt645_complete(request)
    assert not dlt645_complete(request[:-1])
    assert not dlt645_complete(b"\xfe\xfe")
    assert Dlt645Meter("1").complete(request)


def test_meter_ignores_answers_and_other_versions() -> None:
    meter = Dlt645Meter(NAMEPLATE)
    answer = bytes(DLT645Protocol.build_frame(WIRE, 0x91, bytes(8)))
    assert meter.reply(answer) is None
    request_1997 = bytes(DLT645Protocol.build_frame(WIRE, 0x01, bytes.fromhex("1090")))
    assert meter.reply(request_1997) is None
    old = Dlt645Meter(NAMEPLATE, version=1997)
    assert old.reply(read_2007(0)) is None
    assert old.reply(bytes(DLT645Protocol.build_frame(b"\xaa" * 6, 0x13, b""))) is None


def test_meter_clock_is_local_time() -> None:
    meter = Dlt645Meter("1", clock=datetime(2026, 3, 1, 8, 0))  # noqa: DTZ001
    meter.advance(90)
    assert meter.now == datetime(2026, 3, 1, 8, 1, 30)  # noqa: DTZ001

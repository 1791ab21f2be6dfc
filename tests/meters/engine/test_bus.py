"""The meter bus and the DL/T645 reader against the simulated bus, over TCP and a paced serial port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
import socket
import struct
from zoneinfo import ZoneInfo

import pytest

from custom_components.smartcity_ddc.line import (
    LineConnectionError,
    LineTimeoutError,
    Parity,
)
from custom_components.smartcity_ddc.meters.engine.bus import (
    MAX_BUFFER,
    BusConfig,
    BusReadResult,
    BusTransport,
    MeterBus,
    ReadStatus,
    WireModel,
    read_bus,
)
from custom_components.smartcity_ddc.meters.engine.dlt645 import (
    Dlt645Meter,
    MeterRefusalError,
    Quantity,
    Refusal,
    ReplyMatcher,
    Version,
    address_to_wire,
    encode_frame,
    item,
    read_address,
    read_request,
    set_relay,
)
from devtools.serial_bridge import SerialBridge
from devtools.simulator import Dlt645Meter as SimMeter, MeterBusServer, MeterFaults
from devtools.simulator.meterbus import dlt645_complete

SEOUL = ZoneInfo("Asia/Seoul")
PREPAID = "000012345678"
PLAIN = "000000000042"
OLD = "000000000003"


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests open loopback sockets (pytest-socket blocks them by default)."""


@pytest.fixture
async def server() -> AsyncIterator[MeterBusServer]:
    """A gateway with a money-prepaid 2007 meter, a plain 2007 meter and a 1997 meter."""
    async with MeterBusServer(stop_after=60) as bus:
        bus.add(
            SimMeter(
                PREPAID,
                prepaid="money",
                remaining_money=12.34,
                energy=4321.09,
                voltage=229.8,
                current=-3.5,
                power=-0.7712,
            )
        )
        bus.add(SimMeter(PLAIN, energy=10.0))
        bus.add(SimMeter(OLD, version=1997, energy=77.7, voltage=231, current=4.25))
        yield bus


@pytest.fixture
async def bus(server: MeterBusServer) -> AsyncIterator[MeterBus]:
    line = MeterBus(
        BusConfig(
            transport=BusTransport.TCP, host="127.0.0.1", port=server.port, timeout=0.5
        )
    )
    yield line
    await line.retire()


def sim(server: MeterBusServer, index: int) -> SimMeter:
    device = server.devices[index]
    assert isinstance(device, SimMeter)
    return device


async def test_reads_every_quantity_a_meter_has(bus: MeterBus) -> None:
    prepaid, plain, old = (
        Dlt645Meter(PREPAID),
        Dlt645Meter(PLAIN),
        Dlt645Meter(OLD, Version.V1997),
    )
    results = await read_bus(bus, [prepaid, plain, old])
    assert [result.status for result in results] == [ReadStatus.OK] * 3
    assert results[0].values == {
        "energy": 4321.09,
        "voltage": 229.8,
        "current": -3.5,
        "power": -0.7712,
        "remaining_energy": 0.0,
        "remaining_money": 12.34,
        "status_word_3": 0x0200,
        "relay_open": False,
        "prepaid": "money",
    }
    assert results[1].values == {
        "energy": 10.0,
        "voltage": 220.4,
        "current": 5.125,
        "power": 1.1296,
    }
    assert results[1].refused == (
        "remaining_energy",
        "remaining_money",
        "status_word_3",
    )
    assert results[2].values == {
        "energy": 77.7,
        "voltage": 231.0,
        "current": 4.25,
        "power": 1.1296,
    }
    assert results[0].ok


async def test_refused_quantities_are_not_asked_every_time(
    server: MeterBusServer, bus: MeterBus
) -> None:
    plain = Dlt645Meter(PLAIN, recheck_every=3)
    device = sim(server, 1)
    await plain.read(bus)
    assert device.requests == 7
    await plain.read(bus)
    await plain.read(bus)
    assert device.requests == 7 + 4 + 4
    # Every third read asks again, in case the meter's firmware changed.
    await plain.read(bus)
    assert device.requests == 7 + 4 + 4 + 7
    # A meter that gains prepaid registers is read for them at the next check.
    device.prepaid, device.remaining_energy = "energy", 5.0
    await plain.read(bus)
    await plain.read(bus)
    result = await plain.read(bus)
    assert result.values["remaining_energy"] == 5.0
    assert result.refused == ()


async def test_a_meter_without_energy_is_a_meter_error(
    server: MeterBusServer, bus: MeterBus
) -> None:
    sim(server, 0).faults.error_byte = 0x02
    result = await Dlt645Meter(PREPAID).read(bus)
    assert result.status is ReadStatus.METER_ERROR
    assert result.reasons == ("no_data",)
    assert result.values == {}


@pytest.mark.parametrize(
    ("faults", "status", "reasons"),
    [
        (MeterFaults(silent=True), ReadStatus.NO_ANSWER, ()),
        (MeterFaults(bad_checksum=True), ReadStatus.CHECKSUM, ("checksum",)),
        (
            MeterFaults(wrong_address="000000000099"),
            ReadStatus.WRONG_ADDRESS,
            ("wrong_address",),
        ),
        (MeterFaults(error_byte=0x05), ReadStatus.METER_ERROR, ("other", "password")),
        (MeterFaults(non_bcd=True), ReadStatus.BAD_DATA, ("not_bcd",)),
    ],
)
async def test_each_fault_gives_a_status_and_no_value(
    server: MeterBusServer,
    bus: MeterBus,
    faults: MeterFaults,
    status: ReadStatus,
    reasons: tuple[str, ...],
) -> None:
    sim(server, 0).faults = faults
    results = await read_bus(bus, [Dlt645Meter(PREPAID), Dlt645Meter(PLAIN)])
    assert results[0].status is status
    assert results[0].reasons == reasons
    assert results[0].values == {}
    assert results[0].detail
    # The next meter on the bus is not disturbed.
    assert results[1].status is ReadStatus.OK
    assert results[1].values["energy"] == 10.0


async def test_slow_meter_is_no_answer_and_its_late_reply_is_not_taken(
    server: MeterBusServer, bus: MeterBus
) -> None:
    sim(server, 0).faults.reply_delay = 0.7
    results = await read_bus(bus, [Dlt645Meter(PREPAID), Dlt645Meter(PLAIN)])
    assert results[0].status is ReadStatus.NO_ANSWER
    assert results[1].status is ReadStatus.OK
    assert results[1].values["energy"] == 10.0


async def test_echo_noise_and_split_answers_still_read(
    server: MeterBusServer, bus: MeterBus
) -> None:
    server.echo = True
    server.noise = 7
    server.split = 4
    server.split_gap = 0.01
    result = await Dlt645Meter(PREPAID).read(bus)
    assert result.status is ReadStatus.OK
    assert result.values["energy"] == 4321.09
    assert result.values["remaining_money"] == 12.34


async def test_long_answer_over_follow_up_frames(
    server: MeterBusServer, bus: MeterBus
) -> None:
    sim(server, 1).split_reads = True
    result = await Dlt645Meter(PLAIN, quantities=(Quantity.ENERGY,)).read(bus)
    assert result.values == {"energy": 10.0}
    old = sim(server, 2)
    old.split_reads = True
    result = await Dlt645Meter(OLD, Version.V1997, quantities=(Quantity.ENERGY,)).read(
        bus
    )
    assert result.values == {"energy": 77.7}


async def test_gateway_restart_reconnects_for_the_next_read(
    server: MeterBusServer, bus: MeterBus
) -> None:
    meter = Dlt645Meter(PLAIN)
    assert (await meter.read(bus)).ok
    await server.restart()
    await asyncio.sleep(0.05)
    assert not bus.connected
    assert (await meter.read(bus)).ok
    assert bus.stats.connects == 2


async def test_gateway_dropping_mid_read_is_a_bus_error(
    server: MeterBusServer, bus: MeterBus
) -> None:
    sim(server, 1).faults.reply_delay = 0.2
    read = asyncio.create_task(Dlt645Meter(PLAIN).read(bus))
    await asyncio.sleep(0.1)
    server.drop_connections()
    result = await read
    assert result.status is ReadStatus.BUS_ERROR
    assert "closed by the peer" in result.detail


async def test_unreachable_bus_fails_every_meter_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = MeterBus(
        BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=port, timeout=0.5)
    )
    meters = [Dlt645Meter(str(n)) for n in range(1, 6)]
    results = await read_bus(line, meters)
    assert {result.status for result in results} == {ReadStatus.BUS_ERROR}
    assert line.stats.connect_failures == 1
    # Backoff: the next attempt comes later, not at once.
    with pytest.raises(LineConnectionError, match="next attempt"):
        await line.exchange(b"\x00", lambda buffer: None)
    assert line.stats.connect_failures == 1
    line.limit_backoff(0.0)
    await line.retire()
    with pytest.raises(LineConnectionError, match="closed"):
        await line.exchange(b"\x00", lambda buffer: None)


async def test_exchange_timeout_and_parse(
    server: MeterBusServer, bus: MeterBus
) -> None:
    with pytest.raises(LineTimeoutError):
        await bus.exchange(b"\xfe\xfe", lambda buffer: None, timeout=0.1)
    assert bus.stats.timeouts == 1
    address = address_to_wire(PLAIN)
    request = read_request(address, item(Version.V2007, Quantity.ENERGY))
    frame = await bus.exchange(request, ReplyMatcher(address, 0x11))
    assert frame.nameplate == PLAIN
    assert bus.stats.bytes_sent == 2 + len(request)
    assert bus.stats.bytes_received >= 22


async def test_relay_trip_and_close_confirmed_by_reading_back(
    server: MeterBusServer, bus: MeterBus
) -> None:
    device = sim(server, 0)
    device.password, device.operator = "02123456", "12345678"
    clock = lambda: datetime(2026, 1, 5, 12, 0, tzinfo=SEOUL)  # noqa: E731
    address = address_to_wire(PREPAID)
    opened = await set_relay(
        bus,
        address,
        open_relay=True,
        password="02123456",
        operator="12345678",
        now=clock,
    )
    assert opened is True
    assert device.relay_open
    result = await Dlt645Meter(PREPAID).read(bus)
    assert result.values["relay_open"] is True
    assert result.values["power"] == 0.0
    closed = await set_relay(
        bus,
        address,
        open_relay=False,
        password="02123456",
        operator="12345678",
        now=clock,
    )
    assert closed is False
    with pytest.raises(MeterRefusalError) as err:
        await set_relay(
            bus,
            address,
            open_relay=True,
            password="02000000",
            operator="12345678",
            now=clock,
        )
    assert err.value.refusals == (Refusal.PASSWORD,)
    assert not device.relay_open


async def test_prepaid_meter_stays_cut_without_credit(
    server: MeterBusServer, bus: MeterBus
) -> None:
    device = sim(server, 0)
    # 12.34 of credit at 0.5 a kWh buys 24.68 kWh; 13 h at 2 kW would be 26 kWh.
    device.set_load(current=9.0, power=2.0)
    server.advance(13 * 3600)
    result = await Dlt645Meter(PREPAID).read(bus)
    assert result.values["remaining_money"] == 0.0
    assert result.values["relay_open"] is True
    assert result.values["energy"] == 4345.77
    # The meter's clock is 13 h on: a command's deadline counts from its time.
    clock = lambda: datetime(2026, 1, 6, 1, 0, tzinfo=SEOUL)  # noqa: E731
    still_open = await set_relay(
        bus,
        address_to_wire(PREPAID),
        open_relay=False,
        password="02000000",
        operator="00000000",
        now=clock,
    )
    assert still_open is True


async def test_who_is_there() -> None:
    async with MeterBusServer(stop_after=30) as single:
        single.add(SimMeter(PREPAID))
        line = MeterBus(
            BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=single.port)
        )
        assert await read_address(line) == PREPAID
        await line.retire()


async def test_broadcast_waits_for_the_wire(bus: MeterBus) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bus.broadcast(bytes(12))
    # 12 bytes at 2400 8E1: 12 * 11 / 2400 = 55 ms.
    assert loop.time() - started >= 0.055
    assert bus.stats.broadcasts == 1


def test_wire_model() -> None:
    wire = WireModel()
    assert wire.bits_per_char == 11
    assert wire.char_time == pytest.approx(11 / 2400)
    assert wire.seconds(24) == pytest.approx(0.11)
    assert WireModel(9600, parity=Parity.NONE).bits_per_char == 10
    config = BusConfig(transport=BusTransport.SERIAL, serial_port="/dev/ttyUSB0")
    assert config.describe() == "serial /dev/ttyUSB0 2400 8E1"
    assert config.key == ("serial", "/dev/ttyUSB0")
    assert config.wire == wire
    tcp = BusConfig(transport=BusTransport.TCP, host="10.0.0.7", port=8899)
    assert (tcp.describe(), tcp.key) == ("tcp 10.0.0.7:8899", ("net", "10.0.0.7:8899"))


async def test_over_a_paced_serial_port(server: MeterBusServer) -> None:
    """A USB RS-485 adapter at 2400 baud: the values come through, paced by the wire.

    This machine's pseudo-terminals refuse a parity bit once it is set
    (tcsetattr fails with EINVAL when pyserial applies its settings a second
    time), so the port runs 8N2: the same 11-bit characters as 8E1.
    """
    async with SerialBridge(
        server.port, baudrate=2400, parity="N", stopbits=2, turnaround=0.01
    ) as bridge:
        line = MeterBus(
            BusConfig(
                transport=BusTransport.SERIAL,
                serial_port=bridge.path,
                parity=Parity.NONE,
                stopbits=2,
                timeout=2.0,
            )
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await read_bus(
            line, [Dlt645Meter(PREPAID), Dlt645Meter(OLD, Version.V1997)]
        )
        elapsed = loop.time() - started
        await line.retire()
    assert [result.values["energy"] for result in results] == [4321.09, 77.7]
    minimum = line.config.wire.seconds(
        line.stats.bytes_sent + line.stats.bytes_received
    )
    turnarounds = line.stats.requests * 0.01
    # Nothing beats the wire. How close the read comes to it is a figure
    # scripts/bench prints (a timed upper bound here would only flake).
    assert minimum + turnarounds <= elapsed


async def test_serial_port_missing_is_a_bus_error() -> None:
    line = MeterBus(
        BusConfig(transport=BusTransport.SERIAL, serial_port="/dev/does-not-exist")
    )
    result = await Dlt645Meter(PLAIN).read(line)
    assert result.status is ReadStatus.BUS_ERROR
    assert line.stats.connect_failures == 1
    assert (line.stats.last_error or "").startswith("SerialException")


async def test_read_bus_lets_the_loop_run(bus: MeterBus) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    results: list[BusReadResult] = await read_bus(
        bus, [Dlt645Meter(PLAIN, quantities=(Quantity.ENERGY,))] * 3
    )
    task.cancel()
    assert len(results) == 3
    assert ticks >= 3


async def test_bench_figures_are_real_reads() -> None:
    """The benchmark's DL/T645 half on a bus of 3 meters at 9600 baud (fast enough for a test)."""
    from devtools.bench_meters import bench_dlt645

    bench = await bench_dlt645(meters=3, baudrate=9600)
    assert bench.read_ok == 3
    # Three plain meters, their refusals known: 4 identifiers each.
    assert bench.exchanges == 12
    # The wall time can't beat the wire; the gateway paces every byte. How
    # close it comes is the benchmark's figure to print, not a test's to time.
    assert bench.minimum <= bench.wall
    assert bench.stall >= 0


async def test_connect_opens_the_bus(bus: MeterBus) -> None:
    await bus.connect()
    assert bus.connected
    assert bus.stats.connects == 1
    await bus.close()
    assert not bus.connected


class Scripted:
    """A device of the simulated bus that answers what a test scripts (a misbehaving meter)."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer

    def complete(self, buffer: bytes) -> bool:
        return dlt645_complete(buffer)

    def reply(self, request: bytes) -> bytes | None:
        return self.answer(request)


def _reply(control: int, data: bytes, nameplate: str = PLAIN) -> bytes:
    return encode_frame(address_to_wire(nameplate), control, data, wakeup=0)


async def test_a_meter_that_always_has_more_frames_is_bad_data() -> None:
    energy = item(Version.V2007, Quantity.ENERGY)
    async with MeterBusServer(stop_after=30) as server:
        # Every answer says "more follows", to the read and to each follow-up.
        server.add(
            Scripted(
                lambda request: _reply(
                    0xA0 | request.lstrip(b"\xfe")[8],
                    energy.wire_identifier + b"\x00\x01",
                )
            )
        )
        line = MeterBus(
            BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=server.port)
        )
        result = await Dlt645Meter(PLAIN, quantities=(Quantity.ENERGY,)).read(line)
        await line.retire()
    assert result.status is ReadStatus.BAD_DATA
    assert "follow-up" in result.detail
    # The first request and eight follow-ups, then it gives up.
    assert line.stats.requests == 9


async def test_reserved_meter_kind_in_the_status_word() -> None:
    def answer(request: bytes) -> bytes:
        identifier = request.lstrip(b"\xfe")[10:14]
        identifier = bytes((byte - 0x33) & 0xFF for byte in identifier)
        value = {
            item(Version.V2007, Quantity.ENERGY).wire_identifier: b"\x00" * 4,
            item(Version.V2007, Quantity.STATUS_WORD_3).wire_identifier: b"\x00\x03",
        }.get(identifier)
        if value is None:
            return _reply(0xD1, b"\x02")
        return _reply(0x91, identifier + value)

    async with MeterBusServer(stop_after=30) as server:
        server.add(Scripted(answer))
        line = MeterBus(
            BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=server.port)
        )
        result = await Dlt645Meter(PLAIN).read(line)
        await line.retire()
    assert result.ok
    assert result.values == {
        "energy": 0.0,
        "status_word_3": 0x0300,
        "relay_open": False,
    }


async def test_a_babbling_device_cannot_grow_memory() -> None:
    async with MeterBusServer(stop_after=30) as server:
        server.add(Scripted(lambda request: bytes(range(256)) * 40))
        line = MeterBus(
            BusConfig(
                transport=BusTransport.TCP,
                host="127.0.0.1",
                port=server.port,
                timeout=0.3,
            )
        )
        sizes: list[int] = []

        def parse(buffer: bytearray) -> None:
            sizes.append(len(buffer))

        with pytest.raises(LineTimeoutError):
            await line.exchange(
                read_request(
                    address_to_wire(PLAIN), item(Version.V2007, Quantity.ENERGY)
                ),
                parse,
            )
        await line.retire()
    assert line.stats.bytes_received == 256 * 40
    assert max(sizes) <= MAX_BUFFER


async def test_a_connection_reset_is_a_bus_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    gateway = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = gateway.sockets[0].getsockname()[1]
    line = MeterBus(BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=port))
    with pytest.raises(LineConnectionError, match="closed by the peer"):
        await line.exchange(b"\x68", lambda buffer: None)
    assert line.stats.last_error is not None
    assert line.stats.last_error.startswith("ConnectionResetError")
    await line.retire()
    gateway.close()
    await gateway.wait_closed()


async def test_writing_to_a_gone_serial_port_is_a_bus_error(
    server: MeterBusServer,
) -> None:
    bridge = SerialBridge(server.port)
    await bridge.start()
    line = MeterBus(
        BusConfig(
            transport=BusTransport.SERIAL,
            serial_port=bridge.path,
            parity=Parity.NONE,  # see test_over_a_paced_serial_port
            timeout=0.5,
        )
    )
    await line.connect()
    # The adapter is unplugged: its other end disappears.
    await bridge.stop()
    with pytest.raises(LineConnectionError):
        await line.exchange(bytes(64), lambda buffer: None)
    await line.retire()


def test_meters_keep_local_time() -> None:
    from custom_components.smartcity_ddc.meters.engine import dlt645

    assert dlt645._now().tzinfo is not None


async def test_a_stuck_gateway_is_a_bus_error() -> None:
    """A gateway that stops reading: the request can't leave, the bus says so."""
    accepted: list[asyncio.StreamWriter] = []

    async def stuck(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    gateway = await asyncio.start_server(stuck, "127.0.0.1", 0)
    port = gateway.sockets[0].getsockname()[1]
    line = MeterBus(
        BusConfig(transport=BusTransport.TCP, host="127.0.0.1", port=port, timeout=0.3)
    )
    with pytest.raises(LineConnectionError, match="cannot send"):
        await line.exchange(bytes(32 * 1024 * 1024), lambda buffer: None)
    assert not line.connected
    assert line.stats.last_error == "TimeoutError: "
    await line.retire()
    for writer in accepted:
        writer.close()
    gateway.close()
    await gateway.wait_closed()

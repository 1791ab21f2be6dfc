"""The Modbus server: function codes, limits, exceptions, framing, slave ids, stats."""

from __future__ import annotations

import asyncio
import struct

from pymodbus.exceptions import ModbusIOException
import pytest

from devtools.simulator import ModbusDevice, ServerStats, SimulatorServer, crc16

from .helpers import mbap, read_pdu, rtu, unit

FRAMERS = ["tcp", "rtu"]


@pytest.mark.parametrize("framer", FRAMERS)
async def test_every_function_code_round_trips(
    make_server, make_client, framer
) -> None:
    server = await make_server(framer)
    client = await make_client(server)
    ddc = server.devices[1]

    assert not (await client.write_coil(5000, True, **unit(1))).isError()
    assert not (
        await client.write_coils(5001, [True, False, True], **unit(1))
    ).isError()
    assert (await client.read_coils(5000, count=4, **unit(1))).bits[:4] == [
        True,
        True,
        False,
        True,
    ]

    ddc.set("discrete", 7, 1)
    ddc.set("discrete", 9, 1)
    assert (await client.read_discrete_inputs(6, count=5, **unit(1))).bits[:5] == [
        False,
        True,
        False,
        True,
        False,
    ]

    assert not (await client.write_register(6000, 0xBEEF, **unit(1))).isError()
    assert not (await client.write_registers(6001, [1, 2, 65535], **unit(1))).isError()
    assert (
        await client.read_holding_registers(6000, count=4, **unit(1))
    ).registers == [
        0xBEEF,
        1,
        2,
        65535,
    ]

    ddc.set("input", 7000, 40000)
    ddc.set("input", 7001, -5)
    assert (await client.read_input_registers(7000, count=2, **unit(1))).registers == [
        40000,
        0xFFFB,
    ]


@pytest.mark.parametrize("framer", FRAMERS)
async def test_maximum_sizes_and_last_address(make_server, make_client, framer) -> None:
    server = await make_server(framer)
    client = await make_client(server)

    assert (
        len((await client.read_holding_registers(1000, count=125, **unit(1))).registers)
        == 125
    )
    assert (
        len(
            (
                await client.read_input_registers(65535 - 124, count=125, **unit(1))
            ).registers
        )
        == 125
    )
    assert len((await client.read_coils(63536, count=2000, **unit(1))).bits) == 2000
    assert (
        len((await client.read_discrete_inputs(0, count=2000, **unit(1))).bits) == 2000
    )
    assert not (
        await client.write_registers(2000, list(range(123)), **unit(1))
    ).isError()
    assert (
        await client.read_holding_registers(2122, count=1, **unit(1))
    ).registers == [122]
    assert not (await client.write_coils(8000, [True] * 1968, **unit(1))).isError()
    assert (await client.read_coils(9967, count=2, **unit(1))).bits[:2] == [True, False]
    assert not (await client.write_register(65535, 9, **unit(1))).isError()
    assert server.devices[1].get("holding", 65535) == 9


@pytest.mark.parametrize("framer", FRAMERS)
@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        pytest.param(read_pdu(0, 126, 3), 3, id="fc3-126"),
        pytest.param(read_pdu(0, 126, 4), 3, id="fc4-126"),
        pytest.param(read_pdu(0, 0, 3), 3, id="fc3-0"),
        pytest.param(read_pdu(0, 2001, 1), 3, id="fc1-2001"),
        pytest.param(read_pdu(0, 2001, 2), 3, id="fc2-2001"),
        pytest.param(read_pdu(0, 0, 1), 3, id="fc1-0"),
        # 124 registers cannot fit one frame: the quantity alone is illegal.
        pytest.param(
            struct.pack(">BHHB", 16, 0, 124, 246) + bytes(246), 3, id="fc16-124"
        ),
        pytest.param(
            struct.pack(">BHHB", 16, 0, 2, 3) + bytes(3), 3, id="fc16-byte-count"
        ),
        pytest.param(
            struct.pack(">BHHB", 15, 0, 1969, 247) + bytes(247), 3, id="fc15-1969"
        ),
        pytest.param(struct.pack(">BHH", 5, 10, 0x1234), 3, id="fc5-value"),
        pytest.param(read_pdu(65535, 2, 3), 2, id="fc3-beyond"),
        pytest.param(read_pdu(65500, 125, 4), 2, id="fc4-beyond"),
        pytest.param(read_pdu(64000, 1537, 1), 2, id="fc1-beyond"),
        pytest.param(
            struct.pack(">BHHB", 16, 65535, 2, 4) + bytes(4), 2, id="fc16-beyond"
        ),
        pytest.param(bytes([7]), 1, id="fc7"),
        pytest.param(bytes([0x2B, 0x0E, 0x01, 0x00]), 1, id="fc43"),
        # FC23 is served (read/write in one transaction); reading 0 registers is a bad value.
        pytest.param(bytes([0x17]) + bytes(9), 3, id="fc23"),
    ],
)
async def test_exception_codes(make_server, make_raw, framer, pdu, code) -> None:
    server = await make_server(framer)
    peer = await make_raw(server)
    assert await peer.request(1, pdu) == bytes([pdu[0] | 0x80, code])
    assert server.stats.exceptions == {code: 1}


async def test_pymodbus_sees_exception_code(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server)
    response = await client.read_holding_registers(65535, count=2, **unit(1))
    assert response.isError()
    assert response.exception_code == 2


async def test_unknown_slave_tcp_answers_gateway_exception(
    make_server, make_client
) -> None:
    server = await make_server("tcp", slaves=(1, 2))
    client = await make_client(server)
    response = await client.read_holding_registers(0, count=1, **unit(3))
    assert response.isError()
    assert response.exception_code == 0x0B
    assert not (await client.read_holding_registers(0, count=1, **unit(2))).isError()


async def test_unknown_slave_rtu_is_silent(make_server, make_client, make_raw) -> None:
    server = await make_server("rtu", slaves=(1, 2))
    peer = await make_raw(server)
    # The unknown slave's request gets nothing: the first answer is slave 2's.
    await peer.send(rtu(3, read_pdu(352, 1)) + rtu(2, read_pdu(352, 1)))
    assert await peer.receive() == (0, 2, bytes([3, 2, 0, 1]))
    assert server.stats.responses == 1
    assert server.stats.requests == {3: 2}

    client = await make_client(server, response_timeout=0.2)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(352, count=1, **unit(3))


@pytest.mark.parametrize("framer", FRAMERS)
async def test_broadcast_writes_every_device_without_answer(
    make_server, make_raw, framer
) -> None:
    server = await make_server(framer, slaves=(1, 2, 5))
    peer = await make_raw(server)
    await peer.send(
        mbap(1, 0, struct.pack(">BHH", 6, 4000, 77))
        if framer == "tcp"
        else rtu(0, struct.pack(">BHH", 6, 4000, 77))
    )
    # A broadcast read is ignored too.
    await peer.send(
        mbap(2, 0, read_pdu(4000, 1)) if framer == "tcp" else rtu(0, read_pdu(4000, 1))
    )
    assert await peer.request(5, read_pdu(4000, 1), transaction=3) == bytes(
        [3, 2, 0, 77]
    )
    assert [device.get("holding", 4000) for device in server.devices.values()] == [
        77,
        77,
        77,
    ]
    assert server.stats.responses == 1


@pytest.mark.parametrize("framer", FRAMERS)
async def test_partial_frames_and_several_frames_per_segment(
    make_server, make_raw, framer
) -> None:
    server = await make_server(framer)
    server.devices[1].set("holding", 10, 1234)
    peer = await make_raw(server)
    frames = [
        mbap(tid, 1, read_pdu(10, 1)) if framer == "tcp" else rtu(1, read_pdu(10, 1))
        for tid in (1, 2, 3)
    ]
    write = struct.pack(">BHHB2H", 16, 20, 2, 4, 5, 6)
    frames.append(mbap(4, 1, write) if framer == "tcp" else rtu(1, write))
    # Byte by byte...
    for byte in frames[0]:
        await peer.send(bytes([byte]))
    assert (await peer.receive())[2] == bytes([3, 2, 0x04, 0xD2])
    # ...then three frames in one segment, the last one split.
    stream = b"".join(frames[1:])
    await peer.send(stream[:-3])
    await peer.send(stream[-3:])
    responses = [await peer.receive() for _ in range(3)]
    assert [response[2] for response in responses] == [
        bytes([3, 2, 0x04, 0xD2]),
        bytes([3, 2, 0x04, 0xD2]),
        struct.pack(">BHH", 16, 20, 2),
    ]
    if framer == "tcp":
        assert [response[0] for response in responses] == [2, 3, 4]
    assert server.devices[1].get("holding", 21) == 6


async def test_rtu_unknown_function_split_by_crc(make_server, make_raw) -> None:
    server = await make_server("rtu")
    peer = await make_raw(server)
    frame = rtu(1, bytes([0x41, 1, 2, 3]))
    for byte in frame:
        await peer.send(bytes([byte]))
    assert (await peer.receive())[2] == bytes([0xC1, 1])


async def test_rtu_bad_crc_is_discarded(make_server, make_raw) -> None:
    server = await make_server("rtu")
    peer = await make_raw(server)
    bad = bytearray(rtu(1, read_pdu(352, 1)))
    bad[-1] ^= 0xFF
    # A corrupted frame followed by a good one in the same segment.
    await peer.send(bytes(bad) + rtu(1, read_pdu(353, 1)))
    assert (await peer.receive())[2] == bytes([3, 2, 0, 1])
    # Line noise alone, then a good frame.
    await peer.send(bytes([0x55, 0x10, 0xFF]))
    assert await peer.request(1, read_pdu(1000, 1)) == bytes([3, 2, 0, 0])
    assert server.stats.frame_errors == 2
    assert server.stats.responses == 2


async def test_tcp_bad_header_closes_connection(make_server, make_raw) -> None:
    server = await make_server("tcp")
    peer = await make_raw(server)
    await peer.send(struct.pack(">HHHB", 1, 7, 6, 1) + read_pdu(0, 1))
    assert await peer.at_eof()
    assert server.stats.frame_errors == 1


def test_crc16_matches_known_vector() -> None:
    # Read holding 0, 1 register from slave 1: CRC 0x0A84 sent as 84 0A.
    assert crc16(bytes.fromhex("010300000001")).to_bytes(2, "little") == bytes.fromhex(
        "840a"
    )


async def test_stats_count_traffic(make_server, make_client) -> None:
    server = await make_server("tcp", slaves=(1,))
    client = await make_client(server)
    server.stats.reset()
    await client.read_holding_registers(0, count=10, **unit(1))
    await client.read_coils(0, count=20, **unit(1))
    await client.write_registers(100, [1, 2, 3], **unit(1))
    await client.write_coil(3000, True, **unit(1))
    await client.read_input_registers(0, count=126 - 1, **unit(1))
    await client.read_holding_registers(0, count=1, **unit(9))
    stats = server.stats
    assert stats.requests == {3: 2, 1: 1, 16: 1, 5: 1, 4: 1}
    assert stats.total_requests == 6
    assert stats.exceptions == {0x0B: 1}
    assert stats.total_exceptions == 1
    assert stats.responses == 6
    assert (stats.registers_read, stats.registers_written) == (135, 3)
    assert (stats.bits_read, stats.bits_written) == (20, 1)
    # Requests: 5 bytes of PDU for reads/FC5, 12 for the FC16; MBAP adds 7, RTU adds 3.
    request_pdus = 5 + 5 + 12 + 5 + 5 + 5
    assert stats.request_bytes == request_pdus + 6 * 7
    assert stats.rtu_request_bytes == request_pdus + 6 * 3
    response_pdus = (2 + 20) + (2 + 3) + 5 + 5 + (2 + 250) + 2
    assert stats.response_bytes == response_pdus + 6 * 7
    assert stats.rtu_response_bytes == response_pdus + 6 * 3
    assert stats.connections == 0  # reset after the client connected

    stats.reset()
    assert stats == ServerStats()


async def test_rtu_bytes_are_wire_bytes_in_rtu_framing(
    make_server, make_client
) -> None:
    server = await make_server("rtu")
    client = await make_client(server)
    await client.read_holding_registers(0, count=3, **unit(1))
    assert server.stats.request_bytes == server.stats.rtu_request_bytes == 8
    assert server.stats.response_bytes == server.stats.rtu_response_bytes == 11
    assert server.stats.connections == 1


async def test_lifecycle(make_raw) -> None:
    async with SimulatorServer(auto_tick=False) as server:
        assert server.port > 0
        assert server.accepting
        server.add_device(1, ModbusDevice())
        peer = await make_raw(server)
        assert await peer.request(1, read_pdu(0, 1)) == bytes([3, 2, 0, 0])
    assert not server.accepting
    assert await peer.at_eof()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.10", "localhost"])
def test_refuses_non_loopback_hosts(host) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimulatorServer(host=host)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="framer"):
        SimulatorServer(framer="ascii")  # type: ignore[arg-type]
    server = SimulatorServer()
    for slave in (0, 248):
        with pytest.raises(ValueError, match="slave ids"):
            server.add_device(slave, ModbusDevice())

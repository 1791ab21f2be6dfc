"""Fault injection: per device (silent, exceptions, garbage, ignored writes) and per line."""

from __future__ import annotations

import asyncio
import struct

from pymodbus.exceptions import ConnectionException, ModbusIOException
import pytest

from devtools.simulator import SimulatorServer

from .helpers import mbap, read_pdu, rtu, unit

FRAMERS = ["tcp", "rtu"]


@pytest.mark.parametrize("framer", FRAMERS)
async def test_silent_slave_never_answers(make_server, make_raw, framer) -> None:
    server = await make_server(framer, slaves=(1, 2))
    server.devices[1].faults.silent = True
    peer = await make_raw(server)
    frame = mbap if framer == "tcp" else (lambda _tid, unit, pdu: rtu(unit, pdu))
    broadcast = struct.pack(">BHH", 6, 4000, 9)
    await peer.send(
        frame(1, 1, read_pdu(352, 1))
        + frame(2, 0, broadcast)
        + frame(3, 2, read_pdu(4000, 1))
    )
    transaction, unit, pdu = await peer.receive()
    assert (unit, pdu) == (2, bytes([3, 2, 0, 9]))
    assert transaction == (3 if framer == "tcp" else 0)
    # A silent slave does not even take broadcasts.
    assert server.devices[1].get("holding", 4000) == 0


async def test_silent_slave_times_out_for_pymodbus(make_server, make_client) -> None:
    server = await make_server()
    server.devices[1].faults.silent = True
    client = await make_client(server, response_timeout=0.2)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(352, count=1, **unit(1))


@pytest.mark.parametrize("framer", FRAMERS)
async def test_exception_ranges(make_server, make_client, framer) -> None:
    server = await make_server(framer)
    client = await make_client(server)
    faults = server.devices[1].faults
    faults.exception_ranges += [("holding", 100, 109, 2), ("coil", 370, 370, 4)]

    def code(response) -> int:
        return response.exception_code if response.isError() else 0

    assert code(await client.read_holding_registers(90, count=10, **unit(1))) == 0
    assert code(await client.read_holding_registers(90, count=11, **unit(1))) == 2
    assert code(await client.read_holding_registers(109, count=5, **unit(1))) == 2
    assert code(await client.read_holding_registers(110, count=5, **unit(1))) == 0
    assert code(await client.read_input_registers(100, count=10, **unit(1))) == 0
    assert code(await client.write_register(105, 1, **unit(1))) == 2
    assert code(await client.write_registers(108, [1, 2, 3, 4], **unit(1))) == 2
    assert code(await client.write_coil(370, True, **unit(1))) == 4
    assert code(await client.read_coils(368, count=16, **unit(1))) == 4
    assert code(await client.read_coils(368, count=2, **unit(1))) == 0
    assert server.devices[1].get("holding", 108) == 0
    faults.clear()
    assert code(await client.read_holding_registers(100, count=10, **unit(1))) == 0


async def test_garbage_values_replace_reads_only(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server)
    ddc = server.devices[1]
    ddc.faults.garbage[("input", 137)] = 0xFFFF
    ddc.faults.garbage[("coil", 368)] = 1
    ddc.faults.garbage[("holding", 125)] = -1
    assert (await client.read_input_registers(136, count=3, **unit(1))).registers == [
        15,
        0xFFFF,
        300,
    ]
    assert (await client.read_coils(368, count=1, **unit(1))).bits[0] is True
    assert (await client.read_holding_registers(125, count=1, **unit(1))).registers == [
        0xFFFF
    ]
    assert (ddc.get("input", 137), ddc.get("coil", 368), ddc.get("holding", 125)) == (
        650,
        0,
        240,
    )


async def test_ignored_writes_are_acknowledged(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server)
    ddc = server.devices[1]
    ddc.faults.ignore_writes = True
    assert not (await client.write_register(122, 4, **unit(1))).isError()
    assert not (await client.write_coil(372, True, **unit(1))).isError()
    assert not (await client.write_registers(125, [200, 220], **unit(1))).isError()
    assert (await client.read_holding_registers(122, count=1, **unit(1))).registers == [
        0
    ]
    assert (await client.read_input_registers(116, count=1, **unit(1))).registers == [0]
    assert (await client.read_input_registers(825, count=1, **unit(1))).registers == [0]
    assert (await client.read_holding_registers(125, count=2, **unit(1))).registers == [
        240,
        200,
    ]


async def test_delay_before_every_response(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server)
    server.delay = 0.2
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert not (await client.read_holding_registers(352, count=1, **unit(1))).isError()
    assert loop.time() - start >= 0.19
    await server.clear_faults()
    assert server.delay == 0


async def test_drop_connections(make_server, make_raw) -> None:
    server = await make_server()
    peers = [await make_raw(server) for _ in range(2)]
    assert await peers[0].request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    server.drop_connections()
    for peer in peers:
        assert await peer.at_eof()
    fresh = await make_raw(server)
    assert await fresh.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    assert server.stats.connections == 3


async def test_drop_on_request(make_server, make_raw) -> None:
    server = await make_server()
    peer = await make_raw(server)
    server.drop_on_request(2)
    assert await peer.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    await peer.send(mbap(2, 1, read_pdu(352, 1)))
    assert await peer.at_eof()
    assert server.stats.requests == {3: 2}
    assert server.stats.responses == 1
    # The fault fires once.
    fresh = await make_raw(server)
    assert await fresh.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    with pytest.raises(ValueError, match="from 1"):
        server.drop_on_request(0)


async def test_drop_every_closes_each_connection_at_its_nth_request(
    make_server, make_raw
) -> None:
    server = await make_server()
    early = await make_raw(server)
    for _ in range(3):
        assert await early.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    server.drop_every = 2  # an open connection counts from now
    assert await early.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    await early.send(mbap(2, 1, read_pdu(352, 1)))
    assert await early.at_eof()
    for _ in range(2):
        peer = await make_raw(server)
        assert await peer.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
        await peer.send(mbap(2, 1, read_pdu(352, 1)))
        assert await peer.at_eof()
    await server.clear_faults()
    peer = await make_raw(server)
    for _ in range(3):
        assert await peer.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])


async def test_drop_on_request_seen_by_pymodbus(make_server, make_client) -> None:
    server = await make_server()
    client = await make_client(server, response_timeout=0.3)
    server.drop_on_request(1)
    with pytest.raises((ConnectionException, ModbusIOException)):
        await client.read_holding_registers(352, count=1, **unit(1))


async def test_refuse_connections_and_restart(make_server, make_raw) -> None:
    server = await make_server()
    port = server.port
    peer = await make_raw(server)
    server.refuse_connections()
    assert not server.accepting
    assert await peer.at_eof()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await server.restart()
    assert server.port == port
    assert server.accepting
    fresh = await make_raw(server)
    assert await fresh.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])


async def test_refuse_keeping_existing_connections(make_server, make_raw) -> None:
    server = await make_server()
    peer = await make_raw(server)
    server.refuse_connections(drop_existing=False)
    assert await peer.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_restart_while_serving_drops_connections(make_server, make_raw) -> None:
    server = await make_server()
    peer = await make_raw(server)
    await server.restart()
    assert await peer.at_eof()
    fresh = await make_raw(server)
    assert await fresh.request(1, read_pdu(352, 1)) == bytes([3, 2, 0, 1])


async def test_clear_faults_resets_everything(make_server, make_raw) -> None:
    server = await make_server(slaves=(1, 2))
    server.delay = 1.0
    server.drop_on_request(1)
    for device in server.devices.values():
        device.faults.silent = True
        device.faults.ignore_writes = True
        device.faults.garbage[("holding", 352)] = 9
        device.faults.exception_ranges.append(("holding", 0, 10, 4))
    server.refuse_connections()
    await server.clear_faults()
    assert server.accepting
    peer = await make_raw(server)
    for slave in (1, 2):
        assert await peer.request(slave, read_pdu(352, 1)) == bytes([3, 2, 0, 1])


async def test_restart_needs_a_running_server() -> None:
    server = SimulatorServer(auto_tick=False)
    with pytest.raises(RuntimeError, match="not running"):
        await server.restart()
    await server.clear_faults()
    assert not server.accepting

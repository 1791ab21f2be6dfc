"""Benchmark: one full poll of the standard shelter, counted at the simulator.

Prints requests and registers per full poll, wall time per poll over real TCP,
and the wire time the same traffic needs on RS-485 at 9600 baud 8N1 compared
with the physical minimum for the profile and with one request per value.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from custom_components.smartcity_ddc.line import (
    LineConfig,
    ModbusLine,
    ReadRequest,
    Transport,
)
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.planner import WireModel
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile
from devtools.simulator import ShelterDdc, SimulatorServer


async def run(polls: int, turnaround: float) -> dict[str, float]:
    """Poll the simulator and return the figures."""
    wire = WireModel(turnaround=turnaround)
    async with SimulatorServer(framer="tcp", auto_tick=False) as server:
        server.add_device(1, ShelterDdc(seed=1))
        line = ModbusLine(
            LineConfig(transport=Transport.TCP, host="127.0.0.1", port=server.port)
        )
        client = DdcClient(line, 1, standard_profile())
        await client.poll(full=True)  # connect and warm up
        server.stats.reset()
        durations = []
        for _ in range(polls):
            started = time.perf_counter()
            await client.poll(full=True)
            durations.append(time.perf_counter() - started)
        stats = server.stats
        await line.close()
    registers = client.registers(full=True)
    plan = client.plan(full=True)
    naive = [ReadRequest(ref.kind, ref.address, 1) for ref in registers]
    live = client.plan(full=False)
    return {
        "requests_per_full_poll": stats.total_requests / polls,
        "requests_per_live_poll": len(live),
        "values_needed": len(registers),
        "registers_read_per_poll": (stats.registers_read + stats.bits_read) / polls,
        "wall_ms_median": statistics.median(durations) * 1000,
        "wall_ms_p95": sorted(durations)[int(0.95 * (len(durations) - 1))] * 1000,
        "rtu_bytes_per_poll": (stats.rtu_request_bytes + stats.rtu_response_bytes)
        / polls,
        "wire_ms_9600": wire.plan_time(plan) * 1000,
        "wire_ms_9600_minimum": wire.minimum_time(registers) * 1000,
        "wire_ms_9600_one_request_per_value": wire.plan_time(naive) * 1000,
        "wire_ms_9600_live_poll": wire.plan_time(live) * 1000,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument(
        "--turnaround",
        type=float,
        default=0.0,
        help="device think time per request, seconds (0: pure wire time)",
    )
    args = parser.parse_args()
    figures = asyncio.run(run(args.polls, args.turnaround))
    wire = WireModel(turnaround=args.turnaround)
    print(
        f"Standard shelter, full poll, {args.polls} polls over Modbus TCP on 127.0.0.1"
    )
    print(f"  values needed                      {figures['values_needed']:8.0f}")
    print(
        f"  Modbus requests per full poll      {figures['requests_per_full_poll']:8.1f}"
    )
    print(
        f"  Modbus requests per live poll      {figures['requests_per_live_poll']:8.0f}   (schedule windows every 5 min)"
    )
    print(
        f"  registers/bits read per poll       {figures['registers_read_per_poll']:8.0f}"
    )
    print(f"  wall time per poll, median         {figures['wall_ms_median']:8.2f} ms")
    print(f"  wall time per poll, p95            {figures['wall_ms_p95']:8.2f} ms")
    print(f"  RTU bytes per poll (req + resp)    {figures['rtu_bytes_per_poll']:8.0f}")
    print(
        f"RS-485 wire time at 9600 baud 8N1, {wire.turnaround * 1000:.0f} ms device turnaround per request"
    )
    print(f"  this plan (full poll)              {figures['wire_ms_9600']:8.1f} ms")
    print(
        f"  this plan (live poll)              {figures['wire_ms_9600_live_poll']:8.1f} ms"
    )
    print(
        f"  physical minimum for the profile   {figures['wire_ms_9600_minimum']:8.1f} ms"
    )
    print(
        f"  one request per value              {figures['wire_ms_9600_one_request_per_value']:8.1f} ms"
    )
    print(
        f"  ratio plan / minimum               {figures['wire_ms_9600'] / figures['wire_ms_9600_minimum']:8.2f}"
    )
    print(
        "  ratio one-per-value / plan         "
        f"{figures['wire_ms_9600_one_request_per_value'] / figures['wire_ms_9600']:8.1f}"
    )


if __name__ == "__main__":
    main()

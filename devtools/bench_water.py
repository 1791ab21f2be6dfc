"""Benchmark of the water statistics engine: python -m devtools.bench_water.

Prints the time to ingest one hour of readings for 2,000 meters, the time to
compute the site aggregates (검침집계) and every meter's statistics, and the
memory per meter for 30 days of hourly history. Targets: under 1 s per
hourly batch, under 20 KB per meter.
"""

from __future__ import annotations

import argparse
from datetime import datetime
import json
import random
import time
import tracemalloc
from typing import Any
from zoneinfo import ZoneInfo

from custom_components.smartcity_ddc.meters.engine.history import HOUR
from custom_components.smartcity_ddc.meters.engine.model import Reading
from custom_components.smartcity_ddc.meters.engine.site import WaterSite

SEOUL = ZoneInfo("Asia/Seoul")
START = int(datetime(2026, 1, 1, 0, 5, tzinfo=SEOUL).timestamp())
BATCH_TARGET = 1.0
MEMORY_TARGET = 20_000


def history_json(rng: random.Random, hours: int) -> tuple[dict[str, Any], float]:
    """Return a stored history of hourly readings at HH:05 and its last index.

    As a running site stores it: hours older than two days already compacted.
    """
    index, indices = rng.uniform(10, 900), []
    for _ in range(hours):
        index = round(index + rng.choice((0, 0, 0, 0.002, 0.008, 0.03)), 3)
        indices.append(index)
    data = {
        "added": START - HOUR,
        "origin": indices[0],
        "compacted_until": START + (hours - 48) * HOUR,
        "t": [START, *([HOUR] * (hours - 1))],
        "i": indices,
        "f": [],
        "w": [],
        "signal": None,
    }
    return data, index


def bench_batch(meters: int, days: int) -> None:
    """Time one hourly batch, the aggregates and the summaries of a large site."""
    rng = random.Random(1)
    hours = days * 24
    site = WaterSite(SEOUL)
    last: dict[str, float] = {}
    stored = {}
    for n in range(meters):
        stored[f"m{n:04d}"], last[f"m{n:04d}"] = history_json(rng, hours)
    started = time.perf_counter()
    for meter_id, data in stored.items():
        site.add_meter(meter_id, added=START - HOUR, stored=data)
    restore = time.perf_counter() - started
    now = START + hours * HOUR
    today = site.today(now)
    # Warm the per-day caches as a running site would have them.
    for meter_id in site.meters:
        site.summary(meter_id, now - HOUR)
    site.aggregate(today)
    site.aggregate(today - 1)

    batch = [
        (meter_id, Reading(now, round(index + rng.choice((0, 0.004, 0.02)), 3)))
        for meter_id, index in last.items()
    ]
    started = time.perf_counter()
    for meter_id, reading in batch:
        site.record(meter_id, reading, now)
    ingest = time.perf_counter() - started

    started = time.perf_counter()
    site.aggregate(today)
    site.aggregate(today - 1)
    aggregates = time.perf_counter() - started

    started = time.perf_counter()
    for meter_id in site.meters:
        site.summary(meter_id, now)
    summaries = time.perf_counter() - started

    size = len(json.dumps(site.to_json(), separators=(",", ":")))
    print(f"site of {meters} meters, {days} days of hourly history each")
    print(f"  restore from storage:               {restore:8.3f} s")
    print(
        f"  ingest one hour ({meters} readings):  {ingest:8.3f} s"
        f"   target < {BATCH_TARGET} s: {'ok' if ingest < BATCH_TARGET else 'MISSED'}"
    )
    print(f"  site aggregates (today, yesterday): {aggregates:8.3f} s")
    print(f"  statistics and status of every meter:{summaries:7.3f} s")
    print(
        f"  ingest + aggregates + statistics:   {ingest + aggregates + summaries:8.3f} s"
    )
    print(
        f"  stored JSON:                        {size / meters / 1024:8.1f} KB per meter"
    )


def bench_memory(meters: int, days: int) -> None:
    """Measure the memory of meters filled reading by reading, statistics computed."""
    rng = random.Random(2)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        site = WaterSite(SEOUL)
        for n in range(meters):
            site.add_meter(f"m{n:04d}", added=START - HOUR)
        index = dict.fromkeys(site.meters, 100.0)
        for hour in range(days * 24):
            ts = START + hour * HOUR
            for meter_id in site.meters:
                index[meter_id] = round(index[meter_id] + rng.choice((0, 0.004)), 3)
                site.record(meter_id, Reading(ts, index[meter_id]), ts)
        now = START + days * 24 * HOUR
        for meter_id in site.meters:
            site.summary(meter_id, now)
        site.aggregate(site.today(now) - 1)
        per_meter = (tracemalloc.get_traced_memory()[0] - before) / meters
    finally:
        tracemalloc.stop()
    print(f"memory, {days} days of hourly readings ({meters} meters measured)")
    print(
        f"  per meter (readings + cached day statistics): {per_meter / 1024:6.1f} KB"
        f"   target < {MEMORY_TARGET / 1000:.0f} KB: {'ok' if per_meter < MEMORY_TARGET else 'MISSED'}"
    )


def main() -> None:
    """Run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--memory-meters", type=int, default=200)
    args = parser.parse_args()
    bench_batch(args.meters, args.days)
    bench_memory(args.memory_meters, args.days)


if __name__ == "__main__":
    main()

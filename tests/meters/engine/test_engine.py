"""The water statistics engine on its own: no Home Assistant, epoch seconds in Seoul."""

from __future__ import annotations

from datetime import datetime
import json
from pathlib import Path
import random
import tracemalloc
from zoneinfo import ZoneInfo

import pytest

from custom_components.smartcity_ddc.meters.engine.calendar import LocalCalendar
from custom_components.smartcity_ddc.meters.engine.history import (
    COMPACT_AFTER,
    DAY,
    HOUR,
    MeterHistory,
)
from custom_components.smartcity_ddc.meters.engine.model import (
    RETENTION_DAYS,
    Flag,
    Medium,
    Reading,
    ReadingError,
    RejectReason,
    Rules,
    Signal,
    Status,
    make_reading,
    parse_index,
)
from custom_components.smartcity_ddc.meters.engine.site import WaterSite
from custom_components.smartcity_ddc.meters.engine.stats import (
    MeterSpec,
    leak_suspected,
    summarize,
)
from tests.meters.conftest import SEOUL, seoul

PACKAGE = Path(__file__).parents[2] / "custom_components" / "smartcity_ddc"
CAL = LocalCalendar(SEOUL)


def t(day: int, hour: int, minute: int = 0) -> int:
    """Epoch seconds of day N at HH:MM in Seoul."""
    return int(seoul(day, hour, minute).timestamp())


def d(day: int) -> int:
    """Date ordinal of day N."""
    return seoul(day, 12).toordinal()


def history(
    *readings: tuple[int, float] | Reading, added: int | None = None
) -> MeterHistory:
    """A history with readings added in the given order, each at its own time."""
    items = [r if isinstance(r, Reading) else Reading(*r) for r in readings]
    h = MeterHistory(CAL, added=added if added is not None else t(1, 0))
    for reading in items:
        h.add(reading, now=max(reading.timestamp, *(r.timestamp for r in items)))
    return h


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", RejectReason.NON_NUMERIC),
        ("", RejectReason.NON_NUMERIC),
        (None, RejectReason.NON_NUMERIC),
        (True, RejectReason.NON_NUMERIC),
        (float("nan"), RejectReason.NON_NUMERIC),
        (float("inf"), RejectReason.NON_NUMERIC),
        ([1.0], RejectReason.NON_NUMERIC),
        (-0.001, RejectReason.NEGATIVE),
        ("-1", RejectReason.NEGATIVE),
    ],
)
def test_bad_index_values_are_refused(value: object, reason: RejectReason) -> None:
    with pytest.raises(ReadingError) as err:
        parse_index(value)
    assert err.value.reason is reason


def test_numbers_and_numeric_strings_are_indices() -> None:
    assert parse_index(" 12.5 ") == 12.5
    assert parse_index(3) == 3.0
    assert parse_index(0) == 0.0
    reading = make_reading(t(1, 1) + 0.9, "7.25", Flag.BACKFLOW, Signal(rssi=-90))
    # Fractions of a second are dropped: readings are kept to the second.
    assert reading == Reading(t(1, 1), 7.25, Flag.BACKFLOW, Signal(rssi=-90))


def test_future_and_too_old_readings_are_refused() -> None:
    h = MeterHistory(CAL, added=t(1, 0))
    now = t(41, 12)
    with pytest.raises(ReadingError) as err:
        h.add(Reading(now + 301, 1.0), now)
    assert err.value.reason is RejectReason.FUTURE
    with pytest.raises(ReadingError) as err:
        h.add(Reading(now - RETENTION_DAYS * DAY - 1, 1.0), now)
    assert err.value.reason is RejectReason.TOO_OLD
    assert len(h) == 0
    # A terminal clock 5 minutes fast is tolerated; 40 days back is still kept.
    h.add(Reading(now + 300, 2.0), now)
    h.add(Reading(now - RETENTION_DAYS * DAY, 1.0), now)
    assert len(h) == 2


def test_duplicate_timestamps_are_refused() -> None:
    h = history((t(1, 1), 100.0))
    for index in (100.0, 100.5):
        with pytest.raises(ReadingError) as err:
            h.add(Reading(t(1, 1), index), t(1, 2))
        assert err.value.reason is RejectReason.DUPLICATE
    assert len(h) == 1


def test_index_going_backwards_needs_the_backflow_flag() -> None:
    h = history((t(1, 1), 100.0), (t(1, 3), 101.0))
    # Newer than every reading, but below the last one.
    with pytest.raises(ReadingError) as err:
        h.add(Reading(t(1, 4), 100.9), t(1, 4))
    assert err.value.reason is RejectReason.BACKWARDS
    # A late reading above the later one would make that one go backwards.
    with pytest.raises(ReadingError) as err:
        h.add(Reading(t(1, 2), 101.5), t(1, 4))
    assert err.value.reason is RejectReason.BACKWARDS
    # ... and one below the earlier one goes backwards itself.
    with pytest.raises(ReadingError) as err:
        h.add(Reading(t(1, 2), 99.0), t(1, 4))
    assert err.value.reason is RejectReason.BACKWARDS
    assert len(h) == 2
    h.add(Reading(t(1, 4), 100.9, Flag.BACKFLOW), t(1, 4))
    # Between 101.0 and a backflow reading of 100.9, anything at or above 101.0 fits.
    h.add(Reading(t(1, 3, 30), 101.2), t(1, 4))
    # A reading flagged meter-fault carries a meaningless index: not checked, not used.
    h.add(Reading(t(1, 5), 0.0, Flag.METER_FAULT), t(1, 5))
    assert [r.index for r in h.readings()] == [100.0, 101.0, 101.2, 100.9, 0.0]
    assert h.newest_valid == Reading(t(1, 4), 100.9, Flag.BACKFLOW)


def test_interval_usage_is_spread_over_its_interval() -> None:
    # 1 m³ between 23:30 and 00:30: half before midnight, half after.
    h = history((t(1, 23, 30), 100.0), (t(2, 0, 30), 101.0))
    assert h.day(d(1)).usage == pytest.approx(0.5)
    assert h.day(d(2)).usage == pytest.approx(0.5)
    assert h.hour_rows(t(1, 0), t(3, 0)) == [(t(2, 0), pytest.approx(100.5))]
    # 6 m³ over six hours without readings: 1 m³ in each hour.
    h = history((t(1, 6), 100.0), (t(1, 12), 106.0))
    rows = h.hour_rows(t(1, 0), t(2, 0))
    assert [edge for edge, _ in rows] == [t(1, hour) for hour in range(6, 13)]
    assert [index for _, index in rows] == pytest.approx([100.0 + k for k in range(7)])
    assert h.usage(t(1, 8), t(1, 9)) == pytest.approx(1.0)
    # Before the first reading nothing is known; after the last, nothing was used.
    assert h.usage(t(1, 0), t(1, 5)) is None
    assert h.usage(t(1, 13), t(1, 14)) == 0.0
    assert h.index_at(t(1, 9, 30)) == pytest.approx(103.5)
    assert h.index_at(t(1, 13)) is None


def test_late_and_out_of_order_readings_land_where_they_belong() -> None:
    rng = random.Random(5)
    index, readings = 100.0, []
    for hour in range(60):
        index = round(index + rng.choice([0, 0, 0.004, 0.012, 0.035]), 3)
        readings.append(Reading(t(1, 0, 5) + hour * HOUR, index))
    in_order = history(*readings)
    shuffled = readings[:]
    rng.shuffle(shuffled)
    out_of_order = history(*shuffled)
    assert list(out_of_order.readings()) == list(in_order.readings())
    for day in (1, 2, 3):
        assert out_of_order.day(d(day)) == in_order.day(d(day))
    assert out_of_order.hour_rows(t(1, 0), t(4, 0)) == in_order.hour_rows(
        t(1, 0), t(4, 0)
    )


def test_a_late_reading_reports_the_span_it_changed() -> None:
    h = history((t(1, 1, 5), 100.0), (t(1, 4, 5), 100.3))
    # Before: 0.3 m³ spread over 01:05-04:05, 0.1 m³ in each of hours 02 and 03.
    assert h.usage(t(1, 2), t(1, 3)) == pytest.approx(0.1)
    change = h.add(Reading(t(1, 2, 5), 100.25), t(1, 5))
    assert change is not None
    assert (change.start, change.end) == (t(1, 1, 5), t(1, 4, 5))
    # After: 0.25 m³ over 01:05-02:05, 0.05 m³ over 02:05-04:05.
    # Hour 02:00-03:00 = 5 min of 0.25/h + 55 min of 0.025/h = 0.0208333 + 0.0229167.
    assert h.usage(t(1, 2), t(1, 3)) == pytest.approx(0.25 * 5 / 60 + 0.025 * 55 / 60)
    # A new newest reading changes the span since the previous one.
    change = h.add(Reading(t(1, 5, 5), 100.4), t(1, 6))
    assert change is not None
    assert (change.start, change.end) == (t(1, 4, 5), t(1, 5, 5))
    # A reading flagged meter-fault changes no usage.
    assert h.add(Reading(t(1, 6, 5), 0.0, Flag.METER_FAULT), t(1, 7)) is None


def test_day_statistics_count_readings_and_valid_hours() -> None:
    h = history(
        (t(1, 0, 5), 100.0),
        (t(1, 0, 35), 100.01),  # a second reading in hour 0
        (t(1, 1, 5), 100.02),
        Reading(t(1, 2, 5), 0.0, Flag.METER_FAULT),  # received, not valid
        (t(1, 5, 5), 100.05),
    )
    stats = h.day(d(1))
    # 5 readings; valid in hours 0, 1 and 5 only.
    assert (stats.readings, stats.valid_hours, stats.hours) == (5, 3, 24)
    # 00:05 -> 05:05: 0.05 m³, all inside day 1; the day is not fully covered.
    assert stats.usage == pytest.approx(0.05)
    assert not stats.full
    assert h.day(d(0)).usage is None
    assert h.day(d(2)) == (0.0, False, 0, 0, 24)


def test_site_statistics_and_aggregates() -> None:
    site = WaterSite(SEOUL, Rules())
    site.add_meter("a", added=t(1, 0))
    site.add_meter("b", added=t(1, 0))
    site.add_meter("late", added=t(3, 9))
    # Meter a: 2 L per hour around the clock, read hourly on days 1-2.
    for hour in range(48):
        site.record("a", Reading(t(1, 0, 5) + hour * HOUR, 10 + hour * 0.002), t(3, 0))
    # Meter b: read twice on day 2 only, 0.3 m³ apart (06:00 -> 18:00).
    site.record("b", Reading(t(2, 6), 50.0), t(3, 0))
    site.record("b", Reading(t(2, 18), 50.3), t(3, 0))
    day2 = site.aggregate(d(2))
    # Meter a day 2: fully covered? First reading 1 00:05 <= 2 00:00, last 2 23:05 < 3 00:00: no.
    # Its usage: 00:00 -> 23:05 at 2 L/h = 23 h 5 min x 0.002 = 0.0461667 m³.
    # "late" was added on day 3: it does not count on day 2.
    assert day2.meters == 2
    assert day2.meters_read == 2
    assert day2.readings == 24 + 2
    # Read rates: a 24/24 = 100 %, b 2/24 = 8.333 %; mean 54.1667 %.
    assert day2.read_rate == pytest.approx((100 + 100 * 2 / 24) / 2, abs=1e-6)
    assert day2.total_usage == pytest.approx(0.0461667 + 0.3, abs=1e-6)
    assert day2.average_usage == pytest.approx((0.0461667 + 0.3) / 2, abs=1e-6)
    assert (day2.max_usage, day2.min_usage) == (0.3, pytest.approx(0.0461667, abs=1e-6))
    # Day 3: three meters exist, nobody was read yet.
    day3 = site.aggregate(d(3))
    assert (day3.meters, day3.meters_read, day3.readings) == (3, 0, 0)
    assert (day3.read_rate, day3.total_usage, day3.average_usage) == (0.0, None, None)
    # Before any meter existed there is nothing to say.
    day0 = site.aggregate(d(0))
    assert (day0.meters, day0.meters_read, day0.readings, day0.read_rate) == (
        0,
        None,
        None,
        None,
    )


def test_averages_use_only_days_the_readings_cover() -> None:
    # Days 1-3 at 1 m³/day from 00:00 to 00:00 (readings exactly at midnight).
    readings = [(t(day, 0), 100.0 + day) for day in range(1, 5)]
    h = history(*readings)
    summary = summarize(h, MeterSpec(), Rules(), CAL, t(4, 6))
    # Days 1, 2, 3 are fully covered with 1 m³ each; day 0 has no data at all.
    assert summary.usage_avg_7d == pytest.approx(1.0)
    assert summary.usage_yesterday == pytest.approx(1.0)
    assert summary.usage_today == 0.0
    # Counted days for rates: added on day 1, so days 1-3 of the 7 (one reading each).
    assert summary.readings_avg_7d == pytest.approx(1.0)
    assert summary.hourly_rate_7d == pytest.approx(100 / 24, abs=1e-6)
    assert summary.daily_rate_7d == 100.0


def test_meter_added_today_has_no_yesterday() -> None:
    h = MeterHistory(CAL, added=t(5, 10))
    summary = summarize(h, MeterSpec(), Rules(), CAL, t(5, 11))
    assert summary.readings_today == 0
    assert summary.readings_yesterday is None
    assert summary.hourly_rate_yesterday is None
    assert summary.daily_rate_30d is None
    assert summary.usage_today is None
    assert summary.index is None
    assert summary.status is Status.NORMAL
    # Three hours after being added without a reading: communication fault.
    late = summarize(h, MeterSpec(), Rules(), CAL, t(5, 13, 1))
    assert late.status is Status.COMMUNICATION_FAULT


def test_leak_needs_flow_in_each_of_24_whole_hours() -> None:
    # 1 L every hour from 00:05 on day 1.
    readings = [(t(1, 0, 5) + k * HOUR, 100 + 0.001 * k) for k in range(26)]
    h = history(*readings[:25])
    # Newest 2 00:05: the 24 hours before 2 00:00 start at 1 00:00, before the first reading.
    assert not leak_suspected(h, 0.001)
    h.add(Reading(*readings[25]), readings[25][0])
    # Newest 2 01:05: hours 1 01:00 .. 2 01:00 each got exactly 1 L.
    assert leak_suspected(h, 0.001)
    assert not leak_suspected(h, 0.0011)
    # One hour without flow ends the suspicion until a whole day passes again.
    h.add(Reading(t(2, 2, 5), readings[25][1]), t(2, 2, 5))
    h.add(Reading(t(2, 3, 5), readings[25][1] + 0.001), t(2, 3, 5))
    assert not leak_suspected(h, 0.001)


def test_status_priority() -> None:
    h = history(
        (t(1, 0), 100.0),
        (t(1, 0, 10), 100.6),  # 0.6 m³ in 10 min = 3.6 m³/h: above Q4 3.125
    )
    summary = summarize(h, MeterSpec(), Rules(), CAL, t(1, 0, 10))
    assert summary.flow_rate == pytest.approx(3.6)
    assert summary.problems == {Status.OVER_Q4}
    assert (
        summarize(h, MeterSpec(q3=4, q4=5), Rules(), CAL, t(1, 0, 10)).status
        is Status.NORMAL
    )
    h.add(Reading(t(1, 0, 20), 100.5, Flag.BACKFLOW | Flag.LOW_BATTERY), t(1, 0, 20))
    summary = summarize(h, MeterSpec(), Rules(), CAL, t(1, 0, 20))
    assert summary.problems == {Status.BACKFLOW, Status.LOW_BATTERY}
    assert summary.status is Status.BACKFLOW
    # The newest reading says the meter is broken: its flag wins; the last valid
    # interval (100.6 -> 100.5) still went backwards.
    h.add(Reading(t(1, 0, 30), 0.0, Flag.METER_FAULT), t(1, 0, 30))
    summary = summarize(h, MeterSpec(), Rules(), CAL, t(1, 0, 30))
    assert summary.problems == {Status.METER_FAULT, Status.BACKFLOW}
    assert summary.status is Status.METER_FAULT
    summary = summarize(h, MeterSpec(), Rules(gap=600), CAL, t(1, 0, 41))
    assert summary.status is Status.COMMUNICATION_FAULT


def test_a_status_is_one_the_medium_can_show() -> None:
    # Flags only the other medium knows are not shown: the status sensor of
    # each medium lists its own statuses only.
    water = history((t(1, 0), 100.0), Reading(t(1, 0, 10), 100.0, Flag.RELAY_OPEN))
    summary = summarize(water, MeterSpec(), Rules(), CAL, t(1, 0, 10))
    assert (summary.status, summary.problems) == (Status.NORMAL, set())
    power = MeterSpec(medium=Medium.ELECTRICITY, max_power=10)
    pushed = history(
        (t(1, 0), 100.0),
        Reading(t(1, 0, 10), 100.1, Flag.LOW_BATTERY | Flag.BACKFLOW),
    )
    summary = summarize(pushed, power, Rules(), CAL, t(1, 0, 10))
    assert (summary.status, summary.problems) == (Status.NORMAL, set())
    # What electricity has, it shows; low credit comes from the ledger.
    pushed.add(Reading(t(1, 0, 20), 100.2, Flag.RELAY_OPEN), t(1, 0, 20))
    summary = summarize(
        pushed,
        power,
        Rules(),
        CAL,
        t(1, 0, 20),
        extra_problems=frozenset({Status.LOW_CREDIT}),
    )
    assert summary.problems == {Status.RELAY_OPEN, Status.LOW_CREDIT}
    assert summary.status is Status.RELAY_OPEN


def test_json_round_trip_keeps_everything() -> None:
    h = history(
        (t(1, 0, 5), 100.0),
        Reading(t(1, 1, 5), 100.1, Flag.LOW_BATTERY),
        Reading(t(1, 2, 5), 0.0, Flag.METER_FAULT, Signal(-95.5, -11.0, -101.0, 3.5)),
    )
    h.origin = 99.5
    # As if compaction had folded two more readings into the first one.
    h._w[0] = 3
    data = json.loads(json.dumps(h.to_json()))
    assert data["w"] == [[0, 3]]
    # Timestamps are stored as deltas: the first, then 3600 s steps.
    assert data["t"] == [t(1, 0, 5), 3600, 3600]
    restored = MeterHistory.from_json(CAL, data)
    assert list(restored.readings()) == list(h.readings())
    assert restored.signal == Signal(-95.5, -11.0, -101.0, 3.5)
    assert (restored.origin, restored.added) == (99.5, h.added)
    assert restored.day(d(1)) == h.day(d(1))
    assert restored.day(d(1)).readings == 5
    empty = MeterHistory.from_json(CAL, MeterHistory(CAL, added=5).to_json())
    assert (len(empty), empty.added, empty.signal) == (0, 5, None)


@pytest.mark.parametrize(
    "broken",
    [
        {"t": [10, 0]},  # two readings in the same second
        {"i": [1.0]},  # fewer indices than timestamps
    ],
)
def test_inconsistent_stored_history_is_refused(broken: dict[str, list[float]]) -> None:
    data = history((t(1, 1), 1.0), (t(1, 2), 2.0)).to_json()
    with pytest.raises(ValueError, match="timestamps|indices"):
        MeterHistory.from_json(CAL, {**data, **broken})


@pytest.mark.parametrize("zone", ["Asia/Seoul", "Asia/Kolkata"])
def test_compaction_keeps_every_statistic(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    # A sensor reporting every 5 minutes for 4 days (0.5 L per report). In
    # Kolkata (UTC+5:30) each UTC hour spans two local hours.
    cal = LocalCalendar(ZoneInfo(zone))
    start = t(1, 0)
    readings = [
        Reading(
            start + k * 300, 100 + 0.0005 * k, Flag.METER_FAULT if k == 7 else Flag.NONE
        )
        for k in range(4 * 288)
    ]
    full = MeterHistory(cal, added=start)
    with monkeypatch.context() as patch:
        # The reference history never compacts.
        patch.setattr(
            "custom_components.smartcity_ddc.meters.engine.history.COMPACT_AFTER",
            99 * DAY,
        )
        for reading in readings:
            full.add(reading, reading.timestamp)
    assert len(full) == len(readings)
    compacted = MeterHistory(cal, added=start)
    for reading in readings:
        compacted.add(reading, reading.timestamp)
    now = readings[-1].timestamp
    # Hours older than two days keep their first and last valid reading only.
    assert compacted.compacted_until == (now - COMPACT_AFTER) // HOUR * HOUR
    assert len(compacted) < len(full)
    assert sum(compacted.weights()) == len(full)
    days = range(cal.day_of(start), cal.day_of(now) + 1)
    for day in days:
        assert compacted.day(day) == full.day(day)
    assert compacted.hour_rows(start, now) == full.hour_rows(start, now)
    # A late reading into a compacted hour counts, and that hour is compacted again.
    until = compacted.compacted_until
    compacted.add(Reading(t(1, 3, 2), 100 + 0.0005 * (36 + 0.4)), now)
    assert compacted.compacted_until == until
    assert sum(compacted.weights()) == len(full) + 1
    day = cal.day_of(t(1, 3, 2))
    assert compacted.day(day).readings == full.day(day).readings + 1
    in_hour = [r for r in compacted.readings() if t(1, 3) <= r.timestamp < t(1, 4)]
    if zone == "Asia/Seoul":
        assert [r.timestamp for r in in_hour] == [t(1, 3), t(1, 3, 55)]
    else:
        # Two local hours meet at :30 Seoul time: first and last of each half.
        assert [r.timestamp for r in in_hour] == [
            t(1, 3),
            t(1, 3, 25),
            t(1, 3, 30),
            t(1, 3, 55),
        ]


def test_prune_drops_readings_past_the_retention() -> None:
    h = MeterHistory(CAL, added=t(1, 0))
    for day in range(1, 44):
        h.add(Reading(t(day, 12), float(day)), t(day, 12))
    # Readings are dropped a day's worth at a time: 40 to 41 days are kept.
    now = t(43, 12)
    kept = [r.timestamp for r in h.readings()]
    assert kept[0] >= now - (RETENTION_DAYS + 1) * DAY
    assert kept[0] <= now - RETENTION_DAYS * DAY
    # Day 43 got half of the 42 12:00 -> 43 12:00 interval; day 42 two halves.
    assert h.day(d(43)).usage == pytest.approx(0.5)
    assert h.day(d(42)).usage == pytest.approx(1.0)


def test_memory_per_meter_for_30_days_of_hourly_history() -> None:
    site = WaterSite(SEOUL)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for meter in range(20):
            site.add_meter(f"m{meter}", added=t(1, 0))
        for hour in range(30 * 24):
            ts = t(1, 0, 5) + hour * HOUR
            for meter in range(20):
                site.record(f"m{meter}", Reading(ts, 100 + hour * 0.01), ts)
        now = t(31, 0, 30)
        for meter in range(20):
            site.summary(f"m{meter}", now)
        used = (tracemalloc.get_traced_memory()[0] - before) / 20
    finally:
        tracemalloc.stop()
    # Readings, cached day statistics and the objects around them.
    assert used < 20_000


def test_site_summary_and_storage() -> None:
    site = WaterSite(SEOUL, Rules(gap=3600, leak_threshold=0.002))
    site.add_meter("a", MeterSpec(1.6, 2.0), added=t(1, 0))
    site.record("a", Reading(t(1, 1), 5.0, signal=Signal(rssi=-70)), t(1, 1))
    meter = site.meters["a"]
    rows = meter.hour_rows(t(1, 0), t(1, 2), base_sum=10.0)
    # The origin is set so that the sum continues from base_sum: 5.0 - 10.0.
    assert [(r.start, r.state, r.sum) for r in rows] == [(t(1, 0), 5.0, 10.0)]
    assert meter.history.oldest_valid == Reading(t(1, 1), 5.0, signal=Signal(rssi=-70))
    assert meter.history.origin == -5.0
    assert meter.hour_rows(t(1, 3), t(1, 4)) == []
    assert site.summary("a", t(1, 2, 1)).status is Status.COMMUNICATION_FAULT
    assert site.today(t(1, 23, 59)) == d(1)
    data = json.loads(json.dumps(site.to_json()))
    assert WaterSite.stored_meters(data)["a"]["origin"] == -5.0
    assert WaterSite.stored_meters({"format": 99, "meters": {}}) == {}
    assert WaterSite.stored_meters(None) == {}
    again = WaterSite(SEOUL)
    again.add_meter("a", added=0, stored=WaterSite.stored_meters(data)["a"])
    assert list(again.meters["a"].history.readings()) == list(meter.history.readings())
    site.prune(t(60, 0))
    assert len(site.meters["a"].history) == 0
    assert CAL.hours_in(d(1)) == 24
    assert CAL.local(t(1, 1)) == datetime(2026, 1, 5, 1, tzinfo=SEOUL)

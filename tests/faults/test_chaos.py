"""Chaos suite: a real Home Assistant killed with SIGKILL in card syncs and reading bursts (devtools/chaos.py).

The run uses a fixed seed and three kills (in a card sync before the meters'
history was first saved, right after a history save, while Home Assistant
starts); CHAOS_SEED and CHAOS_ROUNDS give a
longer run by hand, e.g. ``CHAOS_ROUNDS=30 pytest tests/faults/test_chaos.py``
or ``python -m devtools.chaos --rounds 30``. The checks themselves are tested
first, on hand-made states, so a run that passes means something.
"""

from __future__ import annotations

from pathlib import Path
import random
import shutil
import sys

import pytest

from devtools.chaos import (
    CardRow,
    CardTable,
    ChaosRun,
    ChaosSettings,
    History,
    MeterFeed,
    Registry,
    check_cards,
    check_origins,
    check_readings,
    check_statistics,
)
from devtools.mariadb import MariaDbServer

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "chaos"
ISSUED = "smartcity_ddc_card_issued"
DELETED = "smartcity_ddc_card_deleted"
REJECTED = "smartcity_ddc_card_rejected"


def _table() -> CardTable:
    """Four rows: card A issued, B issued, a malformed row, A deleted."""
    table = CardTable(random.Random(0))
    for row in (
        CardRow(1, "1001", "김민준", "A", "101", "1203", "I", "I"),
        CardRow(2, "1002", "이서연", "B", "102", "302", "I", "I"),
        CardRow(3, "", "박도윤", "A", "101", "101", "I", "rejected"),
        CardRow(4, "1001", "김민준", "A", "101", "1203", "D", "D"),
    ):
        table.rows[row.idx] = row
    return table


B = ("이서연", "B", "102", "302", 2)


def test_cards_check_accepts_a_state_a_crash_can_leave() -> None:
    # Rows 1-2 deleted from the table, 3 stored but not yet deleted, 4 not read.
    registry = Registry(
        {"1001": ("김민준", "A", "101", "1203", 1), "1002": B}, [3], {3}
    )
    events = {1: [ISSUED], 2: [ISSUED], 3: [REJECTED]}
    assert check_cards(_table(), {3, 4}, registry, events) == (3, [])
    # All applied: A is gone again, B stays.
    assert check_cards(_table(), set(), Registry({"1002": B}, [3], set()), {}) == (
        4,
        [],
    )


@pytest.mark.parametrize(
    ("remaining", "registry", "events", "problem"),
    [
        # A row applied twice would show as a second rejected entry.
        (set(), Registry({"1002": B}, [3, 3], set()), {}, "rejected more than once"),
        # The delete of row 4 got lost: card A is still registered.
        (
            set(),
            Registry(
                {"1001": ("김민준", "A", "101", "1203", 1), "1002": B}, [3], set()
            ),
            {},
            "registry differs",
        ),
        # Row 2 still in the table although row 3 was applied.
        ({2, 4}, Registry({}, [3], set()), {}, "out of order"),
        # An event for a row that was never stored.
        ({3, 4}, Registry({"1002": B}, [], set()), {3: [REJECTED]}, "not stored"),
        # The same row announced twice (once before a kill, once after).
        (set(), Registry({"1002": B}, [3], set()), {2: [ISSUED, ISSUED]}, "2 times"),
        # A deletion announced as an issue.
        (set(), Registry({"1002": B}, [3], set()), {4: [ISSUED]}, "row is D"),
    ],
)
def test_cards_check_finds_what_a_crash_must_not_do(
    remaining: set[int], registry: Registry, events: dict[int, list[str]], problem: str
) -> None:
    _, problems = check_cards(_table(), remaining, registry, events)
    assert any(problem in found for found in problems), problems


def _meter() -> MeterFeed:
    """Three readings sent and acknowledged at monotonic 100, 150 and 190 s."""
    meter = MeterFeed("m1", 0.5, 0, 10.0)
    meter.sent = {3600: 10.0, 7200: 10.5, 10800: 11.0}
    meter.acked = {3600: 100.0, 7200: 150.0, 10800: 190.0}
    return meter


def test_readings_check_allows_losing_only_the_last_minute() -> None:
    meter = _meter()
    stored = {"m1": History({3600: 10.0, 7200: 10.5}, None)}
    # Killed at 200 s: the reading acknowledged 10 s before is lost, within 63 s.
    loss, problems = check_readings([meter], stored, 200.0, 63.0)
    assert problems == []
    assert (loss.acked, loss.lost, loss.oldest) == (3, 1, 10.0)
    assert meter.lost == {10800}
    # Killed at 240 s, the reading acknowledged 90 s before is missing too.
    meter = _meter()
    stored = {"m1": History({3600: 10.0}, None)}
    _, problems = check_readings([meter], stored, 240.0, 63.0)
    assert problems == [
        "m1: reading 7200 acknowledged 90.0 s before the kill is not stored (bound 63 s)"
    ]


def test_readings_check_finds_a_reading_nobody_sent_and_one_come_back() -> None:
    meter = _meter()
    stored = {"m1": History({3600: 10.0, 7200: 10.6, 10800: 11.0}, None)}
    _, problems = check_readings([meter], stored, 200.0, 63.0)
    assert problems == ["m1: stored reading 7200 = 10.6 was never sent"]
    meter = _meter()
    meter.lost = {10800}
    stored = {"m1": History(dict(meter.sent), None)}
    _, problems = check_readings([meter], stored, 200.0, 63.0)
    assert problems == ["m1: reading 10800 lost at an earlier kill is back"]


def test_statistics_check_wants_one_origin_every_hour_and_the_history_index() -> None:
    # 10.0 m³ at 00:30, 10.5 at 01:30, 11.0 at 02:30 UTC on 1970-01-01; origin 10.0.
    history = History({1800: 10.0, 5400: 10.5, 9000: 11.0}, 10.0)
    # Hour ends: 01:00 halfway from 10.0 to 10.5, 02:00 halfway from 10.5 to 11.0.
    good = {"smartcity_ddc:water_m1": [(0, 10.25, 0.25), (3600, 10.75, 0.75)]}
    assert check_statistics(good, {"m1": history}) == (2, [])
    twice = {"smartcity_ddc:water_m1": [(0, 10.25, 0.25), (3600, 10.75, 1.25)]}
    assert check_origins(twice) == [
        "smartcity_ddc:water_m1: state - sum runs from 9.500000 to 10.000000 "
        "(first different at 1970-01-01 01:00)"
    ]
    _, problems = check_statistics(twice, {"m1": history})
    assert problems[-1] == (
        "m1: hour ending 02:00 has state 10.750000 sum 1.250000, "
        "the history gives 10.750000 and 0.750000"
    )
    hole = {"smartcity_ddc:water_m1": [(3600, 10.75, 0.75)]}
    assert check_statistics(hole, {"m1": history}) == (
        1,
        [
            "m1: 1 of 2 hours have no statistics row, e.g. the hour ending "
            "1970-01-01 01:00 UTC"
        ],
    )


async def test_chaos(
    socket_enabled: None,
    mariadb: MariaDbServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kill -9 Home Assistant mid-sync, mid-burst and mid-start; nothing lost or done twice."""
    settings = ChaosSettings.from_env()
    lines: list[str] = []
    run = ChaosRun(settings, tmp_path, mariadb=mariadb, log=lines.append)
    try:
        report = await run.run()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "progress.txt").write_text("\n".join(lines) + "\n", "utf-8")
        if run.home.log_path.exists():
            shutil.copyfile(run.home.log_path, ARTIFACTS / "hass.log")
    text = report.format()
    (ARTIFACTS / "report.txt").write_text(text + "\n", encoding="utf-8")
    # The report goes to the terminal as the run ends, captured output or not.
    with capsys.disabled():
        sys.stdout.write(f"\n{text}\n")
    assert len(report.rounds) == settings.rounds
    assert report.statistics_rows > 0
    assert report.readings_acked > 0
    assert not report.violations, text
    assert not report.errors_logged, text

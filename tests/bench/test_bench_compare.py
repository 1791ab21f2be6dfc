"""The side-by-side benchmark still runs: one DDC, a short window, a few commands."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from devtools.bench_compare import static_figures

ROOT = Path(__file__).resolve().parents[2]


def test_static_figures_compare_the_same_profile() -> None:
    figures = static_figures()
    assert figures["ours_live_requests"] == 3
    assert figures["builtin_live_requests"] == 32
    assert (
        figures["minimum_full_wire_ms"]
        <= figures["ours_full_wire_ms"]
        < figures["builtin_full_wire_ms"]
    )
    assert figures["ours_live_over_minimum"] <= 1.1
    assert figures["ours_ddcs_per_line"] >= 30
    for platform in ("switch", "climate", "fan", "time"):
        assert figures[f"ours_{platform}_transactions"] == 2
        assert (
            figures[f"ours_{platform}_transactions"]
            <= figures[f"builtin_{platform}_transactions"]
        )


def test_benchmark_produces_figures_for_both_integrations(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.bench_compare",
            "--points",
            "1",
            "--window",
            "10",
            "--commands",
            "2",
            "--refreshes",
            "1",
            "--no-ungrouped",
            "--run-dir",
            str(tmp_path / "run"),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Summary, ours / built-in" in run.stdout
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert [r["kind"] for r in figures["runs"]] == ["ours", "builtin"]
    for result in figures["runs"]:
        assert result["error"] is None
        assert result["traffic"]["requests_per_min"] > 0
        assert result["probe"]["steady"]["cpu_s_per_min"] > 0
        platforms = ["switch", "climate", "fan"]
        if result["kind"] == "ours":
            platforms.append("time")
        for platform in platforms:
            assert result["probe"]["commands"][platform]["count"] == 2


def test_a_window_shorter_than_a_poll_is_refused() -> None:
    """A 5 s window may fall between two 10 s polls and report zero traffic."""
    run = subprocess.run(
        [sys.executable, "-m", "devtools.bench_compare", "--window", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "--window must be a whole multiple of the 10 s poll (got 5)" in run.stderr

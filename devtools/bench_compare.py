"""Benchmark: this integration against Home Assistant's built-in `modbus`, in real Home Assistant.

python -m devtools.bench_compare [--points 1,10,50,100] [--window 20]
    [--commands 50] [--full] [--per-line 25] [--no-ungrouped] [--json FILE]

For every scale point (number of simulated DDCs, 25 slave ids per simulated
Modbus TCP gateway) a fresh `hass` process is started twice against the same
kind of simulator: once with this integration (one config entry per DDC,
written to .storage before start, as if added through the UI), once with the
built-in `modbus` integration configured by YAML that devtools.modbus_yaml
generates with the equivalent entities. Both poll every 10 s. The probe
integration (devtools/bench_probe) runs inside each `hass` and measures setup
time, CPU time, event-loop lag, full refreshes and commands; the simulator
counts requests, registers and bytes on the wire during the probe's steady
window. With 1 DDC the built-in also runs with one entity per value, every
value every 10 s (--no-ungrouped skips it).

Prints a side-by-side table per point with ratios ours/built-in and a summary.
Wire time is what the counted traffic needs on RS-485 at 9600 baud 8N1 with
50 ms device turnaround per request (WireModel); the simulator itself runs
over TCP on 127.0.0.1 without a baud limit.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import shutil
import signal
import statistics
import sys
import time
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_USER,
    STORAGE_VERSION,
    STORAGE_VERSION_MINOR,
    ConfigEntry,
)
from homeassistant.helpers.json import JSONEncoder

from custom_components.smartcity_ddc.const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DOMAIN,
    ENTRY_VERSION,
    EntryKind,
)
from custom_components.smartcity_ddc.line import RegisterKind
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.planner import WireModel
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile
from devtools.modbus_yaml import (
    NOT_EXPRESSIBLE,
    Hub,
    entity_count,
    modbus_config,
    reads_per_slave,
    to_yaml,
)
from devtools.simulator import ServerStats, ShelterDdc, SimulatorServer

ROOT: Final = Path(__file__).resolve().parents[1]
HOST: Final = "127.0.0.1"
SCAN_INTERVAL: Final = 10
SLOW_INTERVAL: Final = 300
WIRE: Final = WireModel()  # 9600 baud 8N1, 50 ms device turnaround

CONFIGURATION: Final = """\
# Written by devtools/bench_compare.py: a throwaway instance, no network but 127.0.0.1.
homeassistant:
  name: Benchmark
  time_zone: Asia/Seoul
  country: KR
  currency: KRW
  unit_system: metric
  latitude: 37.5665
  longitude: 126.978
  elevation: 38

logger:
  default: warning

bench_probe:
"""

KINDS: Final = {
    "ours": "smartcity_ddc",
    "builtin": "built-in modbus",
    "builtin_ungrouped": "built-in, one entity per value",
}


@dataclass
class Result:
    """The figures of one run."""

    kind: str
    ddcs: int
    lines: int
    probe: dict[str, Any] = field(default_factory=dict)
    traffic: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _stats_figures(
    stats: list[ServerStats], seconds: float, wire: WireModel
) -> dict[str, float]:
    """Turn the simulator's counters over a window into per-minute figures."""
    per_min = 60 / seconds

    def wire_seconds(s: ServerStats) -> float:
        # Every answered request: both frames, their 3.5-character silences and
        # the device's turnaround.
        chars = s.rtu_request_bytes + s.rtu_response_bytes + 7 * s.responses
        return chars * wire.char_time + s.responses * wire.turnaround

    return {
        "requests_per_min": sum(s.total_requests for s in stats) * per_min,
        "registers_per_min": sum(s.registers_read + s.bits_read for s in stats)
        * per_min,
        "exceptions_per_min": sum(s.total_exceptions for s in stats) * per_min,
        "wire_s_per_min": sum(wire_seconds(s) for s in stats) * per_min,
        "busiest_line_share": max(wire_seconds(s) for s in stats) / seconds,
    }


class BenchRun:
    """One `hass` process against a fresh simulator: configure, start, measure, stop."""

    def __init__(
        self, kind: str, ddcs: int, args: argparse.Namespace, run_dir: Path
    ) -> None:
        """Plan the lines and slaves; nothing runs yet."""
        self.kind = kind
        self.ddcs = ddcs
        self.args = args
        self.dir = run_dir / f"{kind}-{ddcs}"
        self.config_dir = self.dir / "config"
        self.status_file = self.dir / "status.json"
        lines = math.ceil(ddcs / args.per_line)
        self.slaves = [
            tuple(range(1, min(args.per_line, ddcs - line * args.per_line) + 1))
            for line in range(lines)
        ]
        self.servers = [
            SimulatorServer(host=HOST, framer="tcp", tick_interval=1.0)
            for _ in self.slaves
        ]
        self.hass: asyncio.subprocess.Process | None = None

    async def run(self) -> Result:
        """Run and return the figures (or the error)."""
        result = Result(self.kind, self.ddcs, len(self.servers))
        try:
            for server, slaves in zip(self.servers, self.slaves, strict=True):
                for slave in slaves:
                    server.add_device(slave, ShelterDdc(seed=slave))
                await server.start()
            await self._configure()
            await self._measure(result)
        except (RuntimeError, TimeoutError, OSError) as err:
            result.error = str(err)
        finally:
            await self._stop()
        return result

    @property
    def hubs(self) -> list[Hub]:
        """Return the gateways as the built-in configuration names them."""
        return [
            Hub(f"gw{number}", HOST, server.port, slaves)
            for number, (server, slaves) in enumerate(
                zip(self.servers, self.slaves, strict=True), start=1
            )
        ]

    async def _configure(self) -> None:
        """Write a fresh configuration directory for this run."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        storage = self.config_dir / ".storage"
        storage.mkdir(parents=True)
        components = self.config_dir / "custom_components"
        components.mkdir()
        (components / "bench_probe").symlink_to(ROOT / "devtools" / "bench_probe")
        configuration = CONFIGURATION
        probe: dict[str, Any] = {
            "status_file": str(self.status_file),
            "window": self.args.window,
            "settle": SCAN_INTERVAL / 2,
            "commands": self.args.commands,
            "refresh_repeats": self.args.refreshes,
            "ready_timeout": self.args.ready_timeout,
        }
        if self.args.profile:
            probe["profile"] = str(self.dir / "window.prof")
        if self.kind == "ours":
            (components / DOMAIN).symlink_to(ROOT / "custom_components" / DOMAIN)
            entries = self._config_entries()
            (storage / "core.config_entries").write_text(
                json.dumps(
                    {
                        "version": STORAGE_VERSION,
                        "minor_version": STORAGE_VERSION_MINOR,
                        "key": "core.config_entries",
                        "data": {"entries": [e.as_dict() for e in entries]},
                    },
                    cls=JSONEncoder,
                ),
                encoding="utf-8",
            )
            first = entries[0].entry_id
            probe |= {
                "platform": DOMAIN,
                "refresh": {"entry_id": first},
                "prepare": [
                    {
                        "domain": "switch",
                        "unique_id": f"{first}_d022_u001_auto",
                        "service": "turn_off",
                    }
                ],
                "targets": _targets(
                    switch=f"{first}_d041_u001_power",
                    climate=f"{first}_d021_u001_climate",
                    fan=f"{first}_d022_u001_fan",
                    time=f"{first}_d041_u002_window1_start",
                ),
            }
        else:
            config = self.modbus_config()
            (self.config_dir / "modbus.yaml").write_text(
                to_yaml(config).removeprefix("modbus:\n"), encoding="utf-8"
            )
            configuration += "modbus: !include modbus.yaml\n"
            domains = {
                "switches": "switch",
                "climates": "climate",
                "fans": "fan",
                "sensors": "sensor",
                "binary_sensors": "binary_sensor",
            }
            hub = self.hubs[0]
            probe |= {
                "platform": "modbus",
                "expected_entities": entity_count(config),
                "refresh": {
                    "entities": [
                        (domain, entity["unique_id"])
                        for key, domain in domains.items()
                        for entity in config[0].get(key, [])
                        if entity["slave"] == hub.slaves[0]
                    ]
                },
                "prepare": [
                    {
                        "domain": "switch",
                        "unique_id": f"{hub.name}_s1_d022_u001_auto",
                        "service": "turn_off",
                    }
                ],
                "targets": _targets(
                    switch=f"{hub.name}_s1_d041_u001_power",
                    climate=f"{hub.name}_s1_d021_u001_climate",
                    fan=f"{hub.name}_s1_d022_u001_fan",
                ),
            }
        (self.config_dir / "configuration.yaml").write_text(
            configuration, encoding="utf-8"
        )
        self.probe = probe

    def modbus_config(self) -> list[dict[str, Any]]:
        """Return the built-in configuration of this run."""
        return modbus_config(
            self.hubs,
            scan_interval=SCAN_INTERVAL,
            slow_interval=SLOW_INTERVAL,
            grouped=self.kind == "builtin",
        )

    def _config_entries(self) -> list[ConfigEntry]:
        """Return one DDC entry per simulated DDC, as the config flow creates them."""
        entries = []
        for line, (server, slaves) in enumerate(
            zip(self.servers, self.slaves, strict=True), start=1
        ):
            for slave in slaves:
                data = {
                    CONF_KIND: EntryKind.SHELTER.value,
                    CONF_TRANSPORT: "tcp",
                    "host": HOST,
                    "port": server.port,
                    CONF_SLAVE: slave,
                }
                entries.append(
                    ConfigEntry(
                        entry_id=f"bench{line:02d}x{slave:03d}",
                        domain=DOMAIN,
                        title=f"DDC {slave} @ {HOST}:{server.port}",
                        data=data,
                        options={
                            "scan_interval": SCAN_INTERVAL,
                            CONF_POWER_RULE: PowerRule.REFUSE.value,
                        },
                        source=SOURCE_USER,
                        unique_id=None,
                        version=ENTRY_VERSION,
                        minor_version=1,
                        discovery_keys=MappingProxyType({}),
                        subentries_data=None,
                    )
                )
        return entries

    async def _measure(self, result: Result) -> None:
        """Start hass, follow the probe's phases and count traffic in the steady window."""
        self.probe["spawn_time"] = time.time()
        probe_file = self.dir / "probe.json"
        probe_file.write_text(json.dumps(self.probe), encoding="utf-8")
        env = {**os.environ, "BENCH_PROBE_CONFIG": str(probe_file)}
        env.pop("PYTHONPATH", None)
        with (self.dir / "hass.log").open("wb") as log:
            self.hass = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "hass"),
                "--config",
                str(self.config_dir),
                "--skip-pip",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        await self._wait_for("window", self.args.ready_timeout + SCAN_INTERVAL + 30)
        for server in self.servers:
            server.stats.reset()
        started = time.monotonic()
        await self._wait_for("steady", self.args.window + 60)
        seconds = time.monotonic() - started
        result.traffic = _stats_figures(
            [server.stats for server in self.servers], seconds, WIRE
        )
        result.traffic["seconds"] = seconds
        self.status_file.with_suffix(".steady.ack").touch()
        result.probe = await self._wait_for("done", 600)

    async def _wait_for(self, phase: str, limit: float) -> dict[str, Any]:
        """Poll the probe's status file until it reports a phase (bounded)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.hass is not None and self.hass.returncode is not None:
                raise RuntimeError(
                    f"hass exited with {self.hass.returncode}; see {self.dir / 'hass.log'}"
                )
            with contextlib.suppress(OSError, ValueError):
                status: dict[str, Any] = json.loads(
                    self.status_file.read_text(encoding="utf-8")
                )
                if status.get("phase") == "error":
                    raise RuntimeError(f"probe: {status.get('error')}")
                order = ("ready", "window", "steady", "done")
                if status.get("phase") in order and order.index(
                    status["phase"]
                ) >= order.index(phase):
                    return status
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no phase {phase!r} within {limit:.0f} s")

    async def _stop(self) -> None:
        """Stop Home Assistant (gracefully, then by force) and the simulators."""
        if self.hass is not None and self.hass.returncode is None:
            self.hass.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.hass.wait(), 120)
            except TimeoutError:
                self.hass.kill()
                await self.hass.wait()
        for server in self.servers:
            await server.stop()


def _targets(
    *, switch: str, climate: str, fan: str, time: str | None = None
) -> list[dict[str, Any]]:
    """Return the commands timed per platform: each alternates between two states.

    The built-in has no time platform: only this integration's window edge is timed.
    """
    windows = [
        {
            "name": "time",
            "domain": "time",
            "unique_id": time,
            "calls": [
                {"service": "set_value", "data": {"time": at}, "expect": {"state": at}}
                for at in ("07:30:00", "08:15:00")
            ],
        }
    ]
    return [
        {
            "name": "switch",
            "domain": "switch",
            "unique_id": switch,
            "calls": [
                {"service": "turn_on", "data": {}, "expect": {"state": "on"}},
                {"service": "turn_off", "data": {}, "expect": {"state": "off"}},
            ],
        },
        {
            "name": "climate",
            "domain": "climate",
            "unique_id": climate,
            "calls": [
                {
                    "service": "set_temperature",
                    "data": {"temperature": temperature},
                    "expect": {"attribute": "temperature", "value": temperature},
                }
                for temperature in (24.5, 25.0)
            ],
        },
        {
            "name": "fan",
            "domain": "fan",
            "unique_id": fan,
            "calls": [
                {"service": "turn_on", "data": {}, "expect": {"state": "on"}},
                {"service": "turn_off", "data": {}, "expect": {"state": "off"}},
            ],
        },
        *(windows if time is not None else []),
    ]


#: One Modbus transaction of a command: a single write, a one-register read,
#: or an FC23 that writes one register and reads `count` back.
type Step = tuple[str, RegisterKind, int]
WRITE: Final = "write"
READ: Final = "read"
READ_WRITE: Final = "read_write"


def _step_time(step: Step, wire: WireModel) -> float:
    """Return the line time of one command transaction."""
    what, kind, count = step
    if what == WRITE:
        return wire.write_time(kind)
    if what == READ_WRITE:
        return wire.read_write_time(1, count)
    return wire.request_time(kind, count)


#: The Modbus transactions from an action call to the confirmed state, per
#: platform: ours from the library's code paths (tests/shelter/engine/
#: test_commands.py pins them against the simulator), the built-in's from
#: Home Assistant 2025.4's modbus code.
COMMANDS: Final[dict[str, dict[str, tuple[str, list[Step]]]]] = {
    "switch": {
        "ours": (
            "coil write, status read-back (mode from the latest poll)",
            [(WRITE, RegisterKind.COIL, 1), (READ, RegisterKind.INPUT, 1)],
        ),
        "builtin": (
            "coil write, verify read",
            [(WRITE, RegisterKind.COIL, 1), (READ, RegisterKind.INPUT, 1)],
        ),
    },
    "climate": {
        "ours": (
            "target write, read-back",
            [(WRITE, RegisterKind.HOLDING, 1), (READ, RegisterKind.HOLDING, 1)],
        ),
        "builtin": (
            "target write, then the climate's whole update (5 reads)",
            [
                (WRITE, RegisterKind.HOLDING, 1),
                (READ, RegisterKind.HOLDING, 1),
                (READ, RegisterKind.INPUT, 1),
                (READ, RegisterKind.HOLDING, 1),
                (READ, RegisterKind.HOLDING, 1),
                (READ, RegisterKind.COIL, 1),
            ],
        ),
    },
    "fan": {
        "ours": (
            "coil write, coil read-back (mode from the latest poll)",
            [(WRITE, RegisterKind.COIL, 1), (READ, RegisterKind.COIL, 1)],
        ),
        "builtin": (
            "coil write, verify read",
            [(WRITE, RegisterKind.COIL, 1), (READ, RegisterKind.COIL, 1)],
        ),
    },
    "time": {
        "ours": (
            "hour write, FC23 (minute write and both read back); 3 without FC23",
            [(WRITE, RegisterKind.HOLDING, 1), (READ_WRITE, RegisterKind.HOLDING, 17)],
        ),
        "builtin": (
            "no time entity: two modbus.write_register actions, nothing read back",
            [(WRITE, RegisterKind.HOLDING, 1), (WRITE, RegisterKind.HOLDING, 1)],
        ),
    },
}


def static_figures() -> dict[str, Any]:
    """Return what one standard shelter costs on RS-485, from the request lists both send."""
    client = DdcClient(None, 1, standard_profile())  # type: ignore[arg-type]
    hub = Hub("gw1", HOST, 502, (1,))
    builtin = reads_per_slave(modbus_config([hub]), "gw1", 1)
    plans = {
        ("ours", "full"): list(client.plan(full=True)),
        ("ours", "live"): list(client.plan(full=False)),
        ("builtin", "full"): [request for request, _interval in builtin],
        ("builtin", "live"): [
            request for request, interval in builtin if interval == SCAN_INTERVAL
        ],
    }
    figures: dict[str, Any] = {
        f"{who}_{what}_requests": len(plan) for (who, what), plan in plans.items()
    }
    figures |= {
        f"{who}_{what}_wire_ms": WIRE.plan_time(plan) * 1000
        for (who, what), plan in plans.items()
    }
    for what in ("full", "live"):
        figures[f"minimum_{what}_wire_ms"] = (
            WIRE.minimum_time(client.registers(full=what == "full")) * 1000
        )
    figures["ours_live_over_minimum"] = (
        figures["ours_live_wire_ms"] / figures["minimum_live_wire_ms"]
    )
    # Wire time per 10-s round with the slower reads averaged in.
    figures["ours_round_wire_ms"] = client.wire_per_round(SCAN_INTERVAL) * 1000
    figures["builtin_round_wire_ms"] = figures["builtin_live_wire_ms"] + (
        figures["builtin_full_wire_ms"] - figures["builtin_live_wire_ms"]
    ) * (SCAN_INTERVAL / SLOW_INTERVAL)
    for who in ("ours", "builtin"):
        figures[f"{who}_ddcs_per_line"] = int(
            SCAN_INTERVAL * 1000 // figures[f"{who}_round_wire_ms"]
        )
    for name, sides in COMMANDS.items():
        for who, (_steps, steps) in sides.items():
            figures[f"{who}_{name}_transactions"] = len(steps)
            figures[f"{who}_{name}_wire_ms"] = 1000 * sum(
                _step_time(step, WIRE) for step in steps
            )
    return figures


def _ratio(ours: float | None, builtin: float | None) -> str:
    """Return ours/built-in, or '-' when either is missing or zero."""
    if ours is None or builtin is None or builtin == 0:
        return "-"
    return f"{ours / builtin:.2f}"


def _fmt(value: float | None, digits: int = 1) -> str:
    """Format a figure, '-' when missing."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


REQUESTS: Final = "Modbus requests per minute"
CPU: Final = "CPU time per minute, hass process [s]"
STALLS: Final = "event-loop stalls > 100 ms per minute"
SETUP: Final = "setup time, spawn to all states [s]"
WIRE_ROW: Final = "RS-485 wire time per minute [s]"


def _rows(result: Result) -> dict[str, float | None]:
    """Return the comparable figures of a run by row label."""
    probe, traffic = result.probe, result.traffic
    steady = probe.get("steady", {})
    refresh = probe.get("refresh_ms") or []
    rows: dict[str, float | None] = {
        "entities": probe.get("entities"),
        SETUP: probe.get("setup_s"),
        "longest event-loop stall during setup [ms]": probe.get("startup_lag_max_ms"),
        REQUESTS: traffic.get("requests_per_min"),
        "registers read per minute": traffic.get("registers_per_min"),
        WIRE_ROW: traffic.get("wire_s_per_min"),
        "busiest gateway's line busy at 9600 baud [%]": (
            traffic["busiest_line_share"] * 100
            if "busiest_line_share" in traffic
            else None
        ),
        CPU: steady.get("cpu_s_per_min"),
        "CPU time per minute, event loop [s]": steady.get("loop_cpu_s_per_min"),
        "event-loop lag p99 [ms]": steady.get("lag_p99_ms"),
        "event-loop lag max [ms]": steady.get("lag_max_ms"),
        STALLS: steady.get("stalls_per_min"),
        "resident memory [MiB]": steady.get("rss_mb"),
        "full refresh of one DDC, median [ms]": (
            statistics.median(refresh) if refresh else None
        ),
    }
    for name, figures in (probe.get("commands") or {}).items():
        rows[f"{name}: call to confirmed, median [ms]"] = figures.get("median_ms")
        rows[f"{name}: call to confirmed, p95 [ms]"] = figures.get("p95_ms")
        rows[f"{name}: commands not confirmed"] = len(figures.get("failures", []))
    return rows


def print_static(figures: dict[str, Any]) -> None:
    """Print what one shelter costs on RS-485, planned, against the physical minimum."""
    print()
    print(
        f"One standard shelter on RS-485 at {WIRE.baud} baud 8N1, "
        f"{WIRE.turnaround * 1000:.0f} ms device turnaround per request"
    )
    print(f"  {'':52} {'ours':>9} {'built-in':>9} {'minimum':>9}")
    for label, key in (("full refresh (schedules too)", "full"), ("live poll", "live")):
        print(
            f"  {label + ': requests':52} {figures[f'ours_{key}_requests']:>9}"
            f" {figures[f'builtin_{key}_requests']:>9} {'':>9}"
        )
        print(
            f"  {label + ': wire time [ms]':52} {figures[f'ours_{key}_wire_ms']:>9.0f}"
            f" {figures[f'builtin_{key}_wire_ms']:>9.0f} {figures[f'minimum_{key}_wire_ms']:>9.0f}"
        )
    print(
        f"  {'live poll: wire time / physical minimum':52}"
        f" {figures['ours_live_over_minimum']:>9.2f} {'-':>9}"
    )
    print(
        f"  {'wire time per ' + str(SCAN_INTERVAL) + '-s round, slower reads averaged [ms]':52}"
        f" {figures['ours_round_wire_ms']:>9.0f} {figures['builtin_round_wire_ms']:>9.0f}"
    )
    print(
        f"  {'shelters one line can poll every ' + str(SCAN_INTERVAL) + ' s':52}"
        f" {figures['ours_ddcs_per_line']:>9} {figures['builtin_ddcs_per_line']:>9}"
    )
    for name, sides in COMMANDS.items():
        print(
            f"  {name + ' command: transactions to confirmed':52}"
            f" {figures[f'ours_{name}_transactions']:>9} {figures[f'builtin_{name}_transactions']:>9}"
        )
        print(
            f"  {name + ' command: wire time to confirmed [ms]':52}"
            f" {figures[f'ours_{name}_wire_ms']:>9.0f} {figures[f'builtin_{name}_wire_ms']:>9.0f}"
        )
        print(f"      ours: {sides['ours'][0]}; built-in: {sides['builtin'][0]}")


def print_point(ours: Result, builtin: Result) -> None:
    """Print one scale point side by side."""
    print()
    print(
        f"{ours.ddcs} DDC{'s' if ours.ddcs > 1 else ''} on {ours.lines} gateway"
        f"{'s' if ours.lines > 1 else ''}, poll every {SCAN_INTERVAL} s, "
        f"steady window {ours.traffic.get('seconds', 0):.0f} s, measured"
    )
    for result in (ours, builtin):
        if result.error:
            print(f"  {KINDS[result.kind]}: FAILED: {result.error}")
    left, right = _rows(ours), _rows(builtin)
    print(f"  {'':52} {'ours':>9} {'built-in':>9} {'ours/built-in':>14}")
    for label in dict.fromkeys([*left, *right]):
        a, b = left.get(label), right.get(label)
        digits = 0 if label.startswith(("entities", "Modbus", "registers")) else 1
        print(
            f"  {label:52} {_fmt(a, digits):>9} {_fmt(b, digits):>9} {_ratio(a, b):>14}"
        )
    for who, result in (("ours", ours), ("built-in", builtin)):
        for name, figures in (result.probe.get("commands") or {}).items():
            for failure in figures.get("failures", [])[:3]:
                print(f"  {who} {name}: {failure}")


def print_summary(pairs: list[tuple[Result, Result]], extra: Result | None) -> None:
    """Print the summary across scale points, ours / built-in."""
    print()
    print("Summary, ours / built-in")
    print(
        f"  {'DDCs':>5} {'requests/min':>17} {'fewer':>6} {'CPU s/min':>11}"
        f" {'stalls/min':>11} {'setup s':>11} {'switch ms':>11}"
    )
    for ours, builtin in pairs:
        a, b = _rows(ours), _rows(builtin)
        fewer = (
            f"{b[REQUESTS] / a[REQUESTS]:.1f}x"
            if a[REQUESTS] and b[REQUESTS] is not None
            else "-"
        )
        switch = "switch: call to confirmed, median [ms]"
        print(
            f"  {ours.ddcs:>5} {_fmt(a[REQUESTS], 0):>8}/{_fmt(b[REQUESTS], 0):<8} {fewer:>6}"
            f" {_fmt(a[CPU]):>5}/{_fmt(b[CPU]):<5} {_fmt(a[STALLS]):>5}/{_fmt(b[STALLS]):<5}"
            f" {_fmt(a[SETUP]):>5}/{_fmt(b[SETUP]):<5} {_fmt(a.get(switch)):>5}/{_fmt(b.get(switch)):<5}"
        )
    if extra is None or not pairs:
        return
    if extra.error:
        print(f"  {KINDS[extra.kind]}: FAILED: {extra.error}")
        return
    ours_rows, other = _rows(pairs[0][0]), _rows(extra)
    if ours_rows[REQUESTS] and other[REQUESTS]:
        print(
            f"  {extra.ddcs} DDC, {KINDS[extra.kind]}, all every {SCAN_INTERVAL} s:"
            f" {other[REQUESTS]:,.0f} requests/min ({other[REQUESTS] / ours_rows[REQUESTS]:.1f}x ours),"
            f" {_fmt(other[WIRE_ROW])} s on the wire per minute"
        )


async def main(args: argparse.Namespace) -> int:
    """Run every point and print the figures."""
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    points = [int(p) for p in args.points.split(",")]
    print(
        f"{DOMAIN} against Home Assistant's built-in modbus, real `hass` processes,"
        f" points {points} DDCs, {args.per_line} DDCs per gateway,"
        f" steady window {args.window:.0f} s, {args.commands} commands per platform"
    )
    # Home Assistant's own integrations ship compiled; give ours its bytecode
    # too, so that neither start pays for compiling (__pycache__ is ignored by git).
    for package in (
        ROOT / "custom_components" / DOMAIN,
        ROOT / "devtools" / "bench_probe",
    ):
        compileall.compile_dir(package, quiet=1)
    static = static_figures()
    print_static(static)
    pairs: list[tuple[Result, Result]] = []
    for ddcs in points:
        ours = await BenchRun("ours", ddcs, args, run_dir).run()
        builtin = await BenchRun("builtin", ddcs, args, run_dir).run()
        print_point(ours, builtin)
        pairs.append((ours, builtin))
    extra = None
    if args.ungrouped and points:
        # Only its traffic is compared: a short window, no commands.
        short = argparse.Namespace(
            **{**vars(args), "window": SCAN_INTERVAL, "commands": 0, "refreshes": 0}
        )
        extra = await BenchRun("builtin_ungrouped", points[0], short, run_dir).run()
    print_summary(pairs, extra)
    print()
    print("What the built-in modbus integration cannot express:")
    for line in NOT_EXPRESSIBLE:
        print(f"  - {line}")
    results = [r for pair in pairs for r in pair] + ([extra] if extra else [])
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "static": static,
                    "runs": [
                        {
                            "kind": r.kind,
                            "ddcs": r.ddcs,
                            "lines": r.lines,
                            "probe": r.probe,
                            "traffic": r.traffic,
                            "error": r.error,
                        }
                        for r in results
                    ],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 1 if any(r.error for r in results) else 0


def cli(argv: list[str] | None = None) -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="1,10,50,100", help="DDCs per run")
    parser.add_argument(
        "--window",
        type=float,
        default=20.0,
        help="steady seconds per run (a multiple of the 10 s poll)",
    )
    parser.add_argument("--commands", type=int, default=50, help="per platform")
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--per-line", type=int, default=25, help="DDCs per gateway")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument(
        "--full",
        action="store_true",
        help="a 5-minute window per point, so schedule reads are counted too",
    )
    parser.add_argument(
        "--no-ungrouped",
        dest="ungrouped",
        action="store_false",
        help="skip the built-in run with one entity per value",
    )
    parser.add_argument("--run-dir", default=str(ROOT / ".run" / "bench_compare"))
    parser.add_argument("--json", default="", help="also write every figure here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the event loop (RUN_DIR/KIND-N/window.prof*) and record its stack when it stalls",
    )
    args = parser.parse_args(argv)
    if args.full:
        args.window = max(args.window, 300.0)
    if args.window < SCAN_INTERVAL or args.window % SCAN_INTERVAL:
        # The window opens half a poll after the first polls: only whole
        # intervals see each periodic poll exactly once. A shorter window may
        # see none at all, and report zero traffic.
        parser.error(
            f"--window must be a whole multiple of the {SCAN_INTERVAL} s poll"
            f" (got {args.window:g})"
        )
    sys.exit(asyncio.run(main(args)))


if __name__ == "__main__":
    cli()

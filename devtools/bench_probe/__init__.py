"""Benchmark probe: a throwaway Home Assistant integration that measures from inside the event loop.

devtools.bench_compare links it into the configuration of the `hass` process
it benchmarks. The probe reads its instructions from the JSON file named by
$BENCH_PROBE_CONFIG and reports through the status file named there:

1. from setup on, a ticker wakes every 50 ms and records how late it wakes
   (event-loop lag);
2. once every entity of the platform under test shows a real state, it
   writes phase "ready" (with the setup time since the process was spawned);
3. after settling for half a poll interval it writes phase "window"; over
   that steady window it measures the process's and the event loop's CPU
   time and the loop lag, then writes phase "steady";
4. it times full refreshes of the first DDC and, per platform, commands from
   the action call until the state machine shows the confirmed state, then
   writes phase "done" with every figure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import cProfile
import json
import os
from pathlib import Path
import sys
import threading
import time
import traceback
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    EVENT_HOMEASSISTANT_STARTED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.typing import ConfigType

DOMAIN: Final = "bench_probe"
TICK: Final = 0.05
STALL: Final = 0.1


class Ticker:
    """Wakes every TICK seconds and records how late each wake-up was."""

    def __init__(self) -> None:
        """Start with no samples."""
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self, hass: HomeAssistant) -> None:
        """Start ticking in the background."""
        self._task = hass.async_create_background_task(self._run(), "bench ticker")

    def watch(self, path: Path) -> None:
        """Write the event loop's stack to a file whenever it has not ticked for 0.2 s (diagnosis)."""
        loop_thread = threading.get_ident()
        seen = [len(self.lags)]

        def watchdog() -> None:
            last, since = -1, time.monotonic()
            with path.open("a", encoding="utf-8") as out:
                while True:
                    time.sleep(0.05)
                    if seen[0] != last:
                        last, since = seen[0], time.monotonic()
                    elif time.monotonic() - since > 0.2:
                        frame = sys._current_frames().get(loop_thread)  # noqa: SLF001
                        out.write(f"--- loop busy {time.monotonic() - since:.2f} s\n")
                        out.write("".join(traceback.format_stack(frame)[-25:]))
                        out.flush()
                        since = time.monotonic()
                    seen[0] = len(self.lags)

        threading.Thread(target=watchdog, name="bench watchdog", daemon=True).start()

    async def _run(self) -> None:
        """Sleep TICK at a time; the lateness of each wake-up is loop lag."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, loop.time() - due))

    def summary(self, seconds: float) -> dict[str, float]:
        """Return lag percentiles and stalls per minute since the last reset."""
        lags = sorted(self.lags) or [0.0]
        return {
            "lag_p50_ms": lags[len(lags) // 2] * 1000,
            "lag_p99_ms": lags[min(len(lags) - 1, int(0.99 * len(lags)))] * 1000,
            "lag_max_ms": lags[-1] * 1000,
            "stalls_per_min": sum(lag > STALL for lag in lags) * 60 / seconds,
        }


def _valid(state: State | None) -> bool:
    """Whether a state is a real value (not missing, unavailable or unknown)."""
    return state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)


def _rss_mb() -> float:
    """Return this process's resident memory in MiB (Linux)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], share: float) -> float:
    """Return a nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Probe:
    """One benchmark run inside Home Assistant."""

    def __init__(self, hass: HomeAssistant, config: dict[str, Any]) -> None:
        """Keep the instructions."""
        self.hass = hass
        self.config = config
        self.platform: str = config["platform"]
        self.status_file = Path(config["status_file"])
        self.ticker = Ticker()
        self.report: dict[str, Any] = {"platform": self.platform}
        self.startup_profiler: cProfile.Profile | None = None
        if config.get("profile"):
            # From the probe's setup to the moment every entity has a state.
            self.startup_profiler = cProfile.Profile()
            self.startup_profiler.enable()

    async def _write(self, phase: str) -> None:
        """Publish the report so far with its phase (atomically)."""
        self.report["phase"] = phase
        text = json.dumps(self.report)

        def write() -> None:
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(self.status_file)

        await self.hass.async_add_executor_job(write)

    async def _acknowledged(self, phase: str) -> None:
        """Wait until the orchestrator has taken its figures for a phase (bounded)."""
        ack = self.status_file.with_suffix(f".{phase}.ack")
        deadline = time.monotonic() + 60
        while not await self.hass.async_add_executor_job(ack.exists):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no acknowledgement of {phase}")
            await asyncio.sleep(0.05)

    def _entity_id(self, domain: str, unique_id: str) -> str:
        """Return the entity id of an entity of the platform under test."""
        entity_id = er.async_get(self.hass).async_get_entity_id(
            domain, self.platform, unique_id
        )
        if entity_id is None:
            raise LookupError(f"no {domain} entity with unique id {unique_id}")
        return entity_id

    def _ready(self) -> tuple[bool, int, int]:
        """Return (ready, entities with a real state, entities expected)."""
        registry = er.async_get(self.hass)
        entries = [
            entry
            for entry in registry.entities.values()
            if entry.platform == self.platform and entry.disabled_by is None
        ]
        valid = sum(_valid(self.hass.states.get(entry.entity_id)) for entry in entries)
        expected = max(len(entries), int(self.config.get("expected_entities", 0)))
        loaded = all(
            entry.state is ConfigEntryState.LOADED
            for entry in self.hass.config_entries.async_entries(self.platform)
        )
        return loaded and valid == expected and expected > 0, valid, expected

    async def run(self) -> None:
        """Run every phase; report an error instead of hanging."""
        try:
            await self._run()
        except Exception as err:  # noqa: BLE001  # the orchestrator shows it
            self.report["error"] = f"{type(err).__name__}: {err}"
            await self._write("error")

    async def _run(self) -> None:
        """Wait for the entities, then measure."""
        deadline = time.monotonic() + float(self.config.get("ready_timeout", 600))
        while not (status := self._ready())[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {status[1]} of {status[2]} entities have a state"
                )
            await asyncio.sleep(0.2)
        if self.startup_profiler is not None:
            self.startup_profiler.disable()
            await self.hass.async_add_executor_job(
                self.startup_profiler.dump_stats, f"{self.config['profile']}.startup"
            )
        self.report["setup_s"] = time.time() - float(self.config["spawn_time"])
        self.report["startup_lag_max_ms"] = max(self.ticker.lags, default=0.0) * 1000
        self.report["entities"] = status[2]
        await self._write("ready")

        # Start the window half a poll interval after the first polls, so that
        # a window of whole intervals sees every periodic poll exactly once.
        await asyncio.sleep(float(self.config.get("settle", 0)))
        window = float(self.config["window"])
        await self._write("window")
        profiler = cProfile.Profile() if self.config.get("profile") else None
        cpu, loop_cpu, started = time.process_time(), time.thread_time(), time.time()
        self.ticker.lags.clear()
        if profiler is not None:
            profiler.enable()
        await asyncio.sleep(window)
        if profiler is not None:
            profiler.disable()
            await self.hass.async_add_executor_job(
                profiler.dump_stats, self.config["profile"]
            )
        elapsed = time.time() - started
        self.report["steady"] = {
            "seconds": elapsed,
            "cpu_s_per_min": (time.process_time() - cpu) * 60 / elapsed,
            "loop_cpu_s_per_min": (time.thread_time() - loop_cpu) * 60 / elapsed,
            "rss_mb": await self.hass.async_add_executor_job(_rss_mb),
            **self.ticker.summary(elapsed),
        }
        await self._write("steady")
        await self._acknowledged("steady")

        self.report["refresh_ms"] = await self._refreshes()
        for step in self.config.get("prepare", []):
            await self._call(step["domain"], step["unique_id"], step["service"], {})
        profiler = cProfile.Profile() if self.config.get("profile") else None
        if profiler is not None:
            profiler.enable()
        self.report["commands"] = await self._commands()
        if profiler is not None:
            profiler.disable()
            await self.hass.async_add_executor_job(
                profiler.dump_stats, f"{self.config['profile']}.commands"
            )
        await self._write("done")

    async def _refreshes(self) -> list[float]:
        """Time full refreshes of the first DDC: every value read, every state written."""
        refresh = self.config["refresh"]
        durations = []
        for _ in range(int(self.config.get("refresh_repeats", 5))):
            started = time.perf_counter()
            if "entry_id" in refresh:
                entry = self.hass.config_entries.async_get_entry(refresh["entry_id"])
                assert entry is not None
                coordinator = entry.runtime_data
                coordinator.async_set_updated_data(
                    await coordinator.client.poll(full=True)
                )
            else:
                entity_ids = [
                    self._entity_id(domain, unique_id)
                    for domain, unique_id in refresh["entities"]
                ]
                await self.hass.services.async_call(
                    "homeassistant",
                    "update_entity",
                    {"entity_id": entity_ids},
                    blocking=True,
                )
            durations.append((time.perf_counter() - started) * 1000)
        return durations

    async def _call(
        self, domain: str, unique_id: str, service: str, data: dict[str, Any]
    ) -> None:
        """Call an entity action and wait for it."""
        await self.hass.services.async_call(
            domain,
            service,
            {"entity_id": self._entity_id(domain, unique_id), **data},
            blocking=True,
        )

    async def _command(self, target: dict[str, Any], call: dict[str, Any]) -> float:
        """Send one command; return ms from the call to the confirmed state."""
        domain, unique_id = target["domain"], target["unique_id"]
        entity_id = self._entity_id(domain, unique_id)
        check = _expectation(call["expect"])
        confirmed: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        @callback
        def changed(event: Event[EventStateChangedData]) -> None:
            if check(event.data["new_state"]) and not confirmed.done():
                confirmed.set_result(time.perf_counter())

        unsubscribe = async_track_state_change_event(self.hass, [entity_id], changed)
        started = time.perf_counter()
        try:
            await self._call(domain, unique_id, call["service"], call["data"])
            async with asyncio.timeout(float(self.config.get("confirm_timeout", 5))):
                done = await confirmed
        finally:
            unsubscribe()
        return (done - started) * 1000

    async def _commands(self) -> dict[str, dict[str, Any]]:
        """Send commands to each platform in turn, so load from outside hits all alike.

        The first two rounds warm up (first calls of an action cost more) and
        are not counted.
        """
        targets = self.config.get("targets", [])
        latencies: dict[str, list[float]] = {t["name"]: [] for t in targets}
        failures: dict[str, list[str]] = {t["name"]: [] for t in targets}
        warm_up = 2
        for number in range(warm_up + int(self.config.get("commands", 50))):
            for target in targets:
                call = target["calls"][number % len(target["calls"])]
                try:
                    latency = await self._command(target, call)
                except Exception as err:  # noqa: BLE001  # counted and shown, not fatal
                    failures[target["name"]].append(f"{type(err).__name__}: {err}")
                    continue
                if number >= warm_up:
                    latencies[target["name"]].append(latency)
        report: dict[str, dict[str, Any]] = {}
        for name, values in latencies.items():
            report[name] = {"count": len(values), "failures": failures[name]}
            if values:
                report[name] |= {
                    "median_ms": _percentile(values, 0.5),
                    "p95_ms": _percentile(values, 0.95),
                    "max_ms": max(values),
                }
        return report


def _expectation(expect: dict[str, Any]) -> Callable[[State | None], bool]:
    """Return a test for the state a command should confirm."""
    if "state" in expect:
        return lambda state: state is not None and state.state == expect["state"]
    attribute, value = expect["attribute"], expect["value"]
    return lambda state: state is not None and state.attributes.get(attribute) == value


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Read the instructions and start measuring once Home Assistant has started."""
    path = Path(os.environ["BENCH_PROBE_CONFIG"])
    instructions = json.loads(
        await hass.async_add_executor_job(path.read_text, "utf-8")
    )
    probe = Probe(hass, instructions)
    probe.ticker.start(hass)
    if instructions.get("profile"):
        probe.ticker.watch(Path(f"{instructions['profile']}.stalls"))

    async def started(_event: Event) -> None:
        hass.async_create_background_task(probe.run(), "bench probe")

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, started)
    return True

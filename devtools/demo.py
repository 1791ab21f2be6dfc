"""The demo: a simulated site and a real Home Assistant, configured and ready to click.

Runs in this process: the DDC simulator (a standard shelter at slave 1 and a
water-meter data collector at slave 10), a throwaway MariaDB with the access
control server's interface table (sample card rows keep arriving), and `hass`
as a child process bound to 127.0.0.1. Onboarding, the integration's three
entries, a week of water readings and a "Shelter" dashboard are set up through
Home Assistant's own HTTP and websocket APIs. Prints the URL and login; Ctrl-C
(or --duration) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from datetime import datetime, timedelta
import importlib
import json
import os
from pathlib import Path
import random
import signal
import sys
import time
from typing import Any

import aiohttp
import voluptuous as vol

from devtools.hass_process import DOMAIN, ROOT, HassProcess
from devtools.mariadb import Account, MariaDbServer, card_table_ddl
from devtools.simulator import ShelterDdc, SimulatorServer, WaterMeterBank
from devtools.simulator.device import SEOUL

USERNAME = "demo"
PASSWORD = "shelter-demo"  # noqa: S105  # a throwaway account of a throwaway local instance
__all__ = ["DOMAIN", "PASSWORD", "ROOT", "USERNAME", "Demo", "energy_sources"]

WATER_SLAVE = 10
#: (meter id, name, household size, leak in L/h, index now in litres);
#: 1502호 has a dripping tap, so its meter shows how a leak is reported.
METERS = (
    ("apt101_1203", "101동 1203호", 1.0, 0.0, 412_380),
    ("apt101_1502", "101동 1502호", 1.5, 4.0, 623_905),
    ("shelter_tap", "Shelter fountain", 0.3, 0.0, 58_112),
)
BACKFILL_DAYS = 7
GROUPS = "A = 101동 공용현관\nB = 102동 공용현관\nM = 관리사무소"
#: Made-up holders; the demo's cards are fiction.
NAMES = ("김민준", "이서연", "박도윤", "최하은", "정시우", "강지아", "조은우", "윤서준")

CONFIGURATION = """\
# Written by devtools/demo.py: a local demo instance on 127.0.0.1 only.
homeassistant:
  name: Smart Shelter Demo
  time_zone: Asia/Seoul
  country: KR
  currency: KRW
  unit_system: metric
  latitude: 37.5665
  longitude: 126.978
  elevation: 38

# Listed one by one instead of default_config, which would send LAN multicast.
frontend:
config:
api:
history:
logbook:
energy:
conversation:
assist_pipeline:
diagnostics:
search:
person:
system_health:
recorder:
  purge_keep_days: 10
  commit_interval: 2

logger:
  default: warning
  logs:
    custom_components.smartcity_ddc: info
"""


class Demo:
    """One demo run: its directory, servers, processes and API access."""

    def __init__(
        self, run_dir: Path, port: int, modbus_port: int, *, feed_interval: float = 20.0
    ) -> None:
        """Prepare paths and servers; nothing runs yet."""
        self.run_dir = run_dir
        self.config_dir = run_dir / "config"
        self.port = port
        self.modbus_port = modbus_port
        self.home = HassProcess(self.config_dir, port, log_path=run_dir / "hass.log")
        self.url = self.home.url
        self.simulator = SimulatorServer(port=modbus_port, framer="tcp")
        self.shelter = ShelterDdc(seed=1)
        self.water = WaterMeterBank(
            [meter[4] for meter in METERS],
            scales=[meter[2] for meter in METERS],
            leaks=[meter[3] for meter in METERS],
            seed=2,
        )
        self.mariadb = MariaDbServer(durable=False, base_dir=run_dir)
        self.account: Account
        #: Config entry id of each kind, once added.
        self.entries: dict[str, str] = {}
        #: Seconds each start-up phase took.
        self.timings: dict[str, float] = {}
        self.feed_interval = feed_interval
        self.dashboard = "smart-shelter"
        self._feeder: asyncio.Task[None] | None = None
        self._rng = random.Random(7)
        self._issued: list[tuple[str, str, str, str, str]] = []

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start every server and Home Assistant, then onboard and configure."""
        self.home.write_config(CONFIGURATION)
        self.simulator.add_device(1, self.shelter)
        self.simulator.add_device(WATER_SLAVE, self.water)
        await self.simulator.start()
        await asyncio.to_thread(self._start_mariadb)
        await self.home.start()
        async with aiohttp.ClientSession() as session:
            for phase in (
                self._wait_until_up,
                self._onboard,
                self._add_ddc,
                self._add_cards,
                self._add_water,
                self._backfill_water,
                self._wait_for_statistics,
                self._read_from_collector,
                self._set_up_energy,
                self._create_dashboard,
            ):
                started = time.monotonic()
                await phase(session)
                self.timings[phase.__name__.strip("_")] = round(
                    time.monotonic() - started, 2
                )
        self._feeder = asyncio.create_task(self._feed_cards())

    def _start_mariadb(self) -> None:
        """Start MariaDB with the interface table and a first batch of issued cards."""
        self.mariadb.start()
        self.account = self.mariadb.create_account("complex")
        self.mariadb.execute(card_table_ddl(), database=self.account.database)
        for _ in range(30):
            self._insert_card_row(issue_only=True)
        for _ in range(6):
            self._insert_card_row()

    def _insert_card_row(self, *, issue_only: bool = False) -> None:
        """Write one row as the access-control server would: mostly issues, some deletions."""
        roll = 1.0 if issue_only else self._rng.random()
        if self._issued and roll < 0.2:
            row = (*self._issued.pop(self._rng.randrange(len(self._issued))), "D")
        elif roll < 0.25:
            # Now and then a vendor bug: a row the sync must reject and report, not drop.
            row = ("", self._rng.choice(NAMES), "A", "101", "1203", "I")
        else:
            dong = self._rng.choice(("101", "102"))
            ho = f"{self._rng.randint(1, 15)}{self._rng.randint(1, 4):02d}"
            group = {"101": "A", "102": "B"}[dong]
            if self._rng.random() < 0.1:
                dong, ho, group = "9999", "9999", "M"
            card = f"{self._rng.randint(10**9, 10**10 - 1)}"
            name = self._rng.choice(NAMES)
            self._issued.append((card, name, group, dong, ho))
            row = (card, name, group, dong, ho, "I")
        self.mariadb.execute(
            "INSERT INTO t_card_issue_if (card_no, user_name, io_group_id, dong_code, ho_code, issue_flag) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            row,
            database=self.account.database,
        )

    async def _feed_cards(self) -> None:
        """Keep writing card rows so the sync has something to do."""
        while True:
            await asyncio.sleep(self.feed_interval)
            await asyncio.to_thread(self._insert_card_row)

    @property
    def hass(self) -> asyncio.subprocess.Process | None:
        """Return the hass process, once started."""
        return self.home.process

    @property
    def token(self) -> str:
        """Return the demo user's access token."""
        return self.home.token

    @property
    def refresh_token(self) -> str:
        """Return the demo user's refresh token."""
        return self.home.refresh_token

    async def _wait_until_up(self, session: aiohttp.ClientSession) -> None:
        """Wait for the onboarding API to answer."""
        await self.home.wait_until_up(session)

    async def _onboard(self, session: aiohttp.ClientSession) -> None:
        """Create the demo user and finish onboarding."""
        await self.home.onboard(
            session, name="Demo", username=USERNAME, password=PASSWORD
        )

    # --- configuration through Home Assistant's APIs -----------------------------

    async def _post(
        self, session: aiohttp.ClientSession, path: str, body: dict[str, Any]
    ) -> Any:
        """POST to Home Assistant's REST API."""
        return await self.home.post(session, path, body)

    async def flow(
        self,
        session: aiohttp.ClientSession,
        kind: str,
        handler: str,
        *steps: dict[str, Any],
        start: dict[str, Any] | None = None,
        done: str = "create_entry",
    ) -> Any:
        """Run a config, options or subentry ('entry_id/type') flow step by step."""
        return await self.home.flow(
            session, kind, handler, *steps, start=start, done=done
        )

    async def _add_ddc(self, session: aiohttp.ClientSession) -> None:
        """Add the simulated shelter's DDC."""
        result = await self.flow(
            session,
            "config",
            DOMAIN,
            {"next_step_id": "shelter"},
            {"transport": "tcp"},
            {
                "host": "127.0.0.1",
                "port": self.modbus_port,
                "slave": 1,
                "scan_interval": 5,
            },
        )
        self.entries["ddc"] = result["result"]["entry_id"]

    async def _add_cards(self, session: aiohttp.ClientSession) -> None:
        """Add the card sync against the local MariaDB and name its access groups."""
        result = await self.flow(
            session,
            "config",
            DOMAIN,
            {"next_step_id": "cards"},
            {
                "host": "127.0.0.1",
                "port": self.mariadb.port,
                "database": self.account.database,
                "username": self.account.user,
                "password": self.account.password,
                # The demo's MariaDB listens on 127.0.0.1 only, without TLS.
                "tls": False,
                "scan_interval": 15,
            },
        )
        self.entries["cards"] = result["result"]["entry_id"]
        await self.flow(
            session,
            "options",
            self.entries["cards"],
            {"next_step_id": "cards_groups"},
            {"groups": GROUPS},
        )

    async def _add_water(self, session: aiohttp.ClientSession) -> None:
        """Add a water site whose meters first take pushed readings (the week before the demo)."""
        result = await self.flow(
            session,
            "config",
            DOMAIN,
            {"next_step_id": "meters"},
            {"name": "Demo complex"},
        )
        self.entries["water"] = result["result"]["entry_id"]
        for meter_id, name, *_rest in METERS:
            await self.flow(
                session,
                "subentry",
                f"{self.entries['water']}/meter",
                {"meter_id": meter_id, "name": name, "medium": "water"},
                {"q3": 2.5, "q4": 3.125, "source": "push"},
            )
        # Each meter added reloads the site; meters added back to back all
        # reach the running site.
        await self._wait_for_meters(session, [meter_id for meter_id, *_ in METERS])

    async def _read_from_collector(self, session: aiohttp.ClientSession) -> None:
        """Switch every meter to the simulated data collector, as a site does once its collector is wired.

        Only meters whose readings are pushed take the week of readings from
        the action; their history stays when their source changes.
        """
        (subentries,) = await self.websocket(
            session,
            {
                "type": "config_entries/subentries/list",
                "entry_id": self.entries["water"],
            },
        )
        ids = {row["unique_id"]: row["subentry_id"] for row in subentries}
        for number, (meter_id, name, *_rest) in enumerate(METERS):
            await self.flow(
                session,
                "subentry",
                f"{self.entries['water']}/meter",
                {"name": name, "q3": 2.5, "q4": 3.125, "source": "modbus"},
                {
                    "transport": "tcp",
                    "host": "127.0.0.1",
                    "port": self.modbus_port,
                    "slave": WATER_SLAVE,
                    "register": 2 * number,
                    "register_kind": "holding",
                    "scale": 0.001,
                    "word_order": "big",
                },
                start={"subentry_id": ids[meter_id]},
                done="abort",
            )

    async def _wait_for_meters(
        self, session: aiohttp.ClientSession, meter_ids: list[str], limit: float = 120
    ) -> None:
        """Wait until the water site has reloaded with these meters (adding one reloads it)."""
        wanted = {
            f"{self.entries['water']}_water_{meter_id}_" for meter_id in meter_ids
        }
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            (entities,) = await self.websocket(
                session, {"type": "config/entity_registry/list"}
            )
            present = {
                prefix
                for prefix in wanted
                for e in entities
                if e.get("unique_id", "").startswith(prefix)
            }
            if present == wanted:
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"water meters {sorted(meter_ids)} did not appear")

    async def _backfill_water(self, session: aiohttp.ClientSession) -> None:
        """Push a week of hourly readings, as a meter-data platform catching up would."""
        now = datetime.now(SEOUL)
        latest = (now - timedelta(minutes=30)).replace(
            minute=0, second=0, microsecond=0
        )
        hours = [latest - timedelta(hours=h) for h in range(BACKFILL_DAYS * 24)]
        for number, (meter_id, _name, scale, leak, _litres) in enumerate(METERS):
            # Walk back from the index the collector shows now, hour by hour.
            litres = self.water.index(number) - WaterMeterBank.usage_between(
                latest, now, scale, leak
            )
            readings = []
            for moment in hours:
                readings.append((moment, litres))
                litres -= WaterMeterBank.usage_between(
                    moment - timedelta(hours=1), moment, scale, leak
                )
            for moment, index in reversed(readings):  # oldest first
                await self._post(
                    session,
                    f"/api/services/{DOMAIN}/record_water_reading",
                    {
                        "meter": meter_id,
                        "timestamp": moment.isoformat(),
                        "index": round(index / 1000, 3),
                    },
                )

    async def _wait_for_statistics(
        self, session: aiohttp.ClientSession, limit: float = 180
    ) -> None:
        """Wait until the recorder holds every meter's hourly statistics up to the last backfilled hour."""
        ids = [f"{DOMAIN}:water_{meter[0]}" for meter in METERS]
        now = datetime.now(SEOUL)
        latest = (now - timedelta(minutes=30)).replace(
            minute=0, second=0, microsecond=0
        )
        deadline = time.monotonic() + limit
        info: dict[str, Any] = {}
        newest: dict[str, float] = {}
        while time.monotonic() < deadline:
            info, rows = await self.websocket(
                session,
                {"type": "recorder/info"},
                {
                    "type": "recorder/statistics_during_period",
                    "start_time": (latest - timedelta(hours=1)).isoformat(),
                    "statistic_ids": ids,
                    "period": "hour",
                    "types": ["sum"],
                },
            )
            newest = {
                statistic: max((row["start"] for row in values), default=0)
                for statistic, values in rows.items()
            }
            if (
                info["backlog"] == 0
                and set(newest) == set(ids)
                # The last complete hour ends at the last backfilled reading.
                and all(
                    start >= (latest.timestamp() - 3600) * 1000
                    for start in newest.values()
                )
            ):
                return
            await asyncio.sleep(1)
        raise TimeoutError(
            f"the recorder did not catch up with the water readings: backlog {info['backlog']}, "
            f"newest rows {newest}, wanted {latest.timestamp() * 1000}"
        )

    # --- the Energy dashboard ---------------------------------------------------

    async def _set_up_energy(self, session: aiohttp.ClientSession) -> None:
        """Put every meter statistic the integration imports on the Energy dashboard."""
        (listed,) = await self.websocket(
            session, {"type": "recorder/list_statistic_ids", "statistic_type": "sum"}
        )
        statistics: dict[str, list[str]] = {}
        for row in sorted(listed, key=lambda row: str(row["statistic_id"])):
            source, _, name = str(row["statistic_id"]).partition(":")
            kind = name.split("_", 1)[0]
            if source == DOMAIN and kind in ENERGY_KINDS:
                statistics.setdefault(kind, []).append(row["statistic_id"])
        await self.save_energy_sources(session, statistics)

    async def save_energy_sources(
        self, session: aiohttp.ClientSession, statistics: Mapping[str, Sequence[str]]
    ) -> None:
        """Make these statistics, by kind, the Energy dashboard's sources."""
        await self.websocket(
            session,
            {"type": "energy/save_prefs", "energy_sources": energy_sources(statistics)},
        )

    async def websocket(
        self, session: aiohttp.ClientSession, *messages: dict[str, Any]
    ) -> list[Any]:
        """Send websocket commands in order and return their results."""
        return await self.home.websocket(session, *messages)

    async def _create_dashboard(self, session: aiohttp.ClientSession) -> None:
        """Create the Shelter dashboard from the integration's entities."""
        (entities,) = await self.websocket(
            session, {"type": "config/entity_registry/list"}
        )
        ours = [
            e for e in entities if e["platform"] == DOMAIN and not e.get("disabled_by")
        ]

        def pick(
            kind: str, domain: str, *, contains: str = "", category: str | None = None
        ) -> list[dict[str, str]]:
            """Rows for a card: the entry's entities of a domain, named without their device's name."""
            return [
                {
                    "entity": e["entity_id"],
                    "name": _short_name(e["entity_id"]) or e["original_name"],
                }
                if _short_name(e["entity_id"]) or e["original_name"]
                else {"entity": e["entity_id"]}
                for e in sorted(ours, key=lambda e: e["entity_id"])
                if e["config_entry_id"] == self.entries[kind]
                and e["entity_id"].startswith(f"{domain}.")
                and contains in e["entity_id"]
                and e.get("entity_category") == category
            ]

        def ids(rows: list[dict[str, str]]) -> list[str]:
            return [row["entity"] for row in rows]

        water_stats = [f"{DOMAIN}:water_{meter_id}" for meter_id, *_rest in METERS]
        config = {
            "title": "Smart shelter",
            "views": [
                {
                    "title": "Shelter",
                    "path": "shelter",
                    "icon": "mdi:bus-stop-covered",
                    "cards": [
                        {
                            "type": "entities",
                            "title": "Controls",
                            "entities": pick("ddc", "switch"),
                        },
                        *(
                            {"type": "thermostat", "entity": entity}
                            for entity in ids(pick("ddc", "climate"))
                        ),
                        *(
                            {
                                "type": "tile",
                                "entity": entity,
                                "features": [{"type": "fan-speed"}],
                            }
                            for entity in ids(pick("ddc", "fan"))
                        ),
                        {
                            "type": "glance",
                            "title": "Air quality",
                            "entities": pick("ddc", "sensor"),
                            "columns": 4,
                        },
                        {
                            "type": "entities",
                            "title": "Door switches",
                            "entities": pick("ddc", "binary_sensor"),
                        },
                        {
                            "type": "calendar",
                            "title": "Schedule",
                            "entities": ids(pick("ddc", "calendar")),
                            "initial_view": "listWeek",
                        },
                        {
                            "type": "entities",
                            "title": "Schedule times",
                            "entities": ids(pick("ddc", "switch", category="config"))
                            + ids(pick("ddc", "time", category="config")),
                            "state_color": True,
                        },
                    ],
                },
                {
                    "title": "Water",
                    "path": "water",
                    "icon": "mdi:water",
                    "cards": [
                        {
                            "type": "statistics-graph",
                            "title": "Water usage per day",
                            "entities": water_stats,
                            "stat_types": ["change"],
                            "chart_type": "bar",
                            "period": "day",
                            "days_to_show": BACKFILL_DAYS + 1,
                        },
                        {
                            "type": "statistics-graph",
                            "title": "Water usage per hour",
                            "entities": water_stats,
                            "stat_types": ["change"],
                            "chart_type": "line",
                            "period": "hour",
                            "days_to_show": 2,
                        },
                        {
                            "type": "entities",
                            "title": "Meters",
                            "entities": ids(pick("water", "sensor", contains="status")),
                        },
                        {
                            "type": "entities",
                            "title": "Site (검침집계)",
                            "entities": pick(
                                "water", "sensor", contains="demo_complex"
                            ),
                        },
                    ],
                },
                {
                    "title": "Access cards",
                    "path": "cards",
                    "icon": "mdi:card-account-details",
                    "cards": [
                        {
                            "type": "entities",
                            "title": "Card sync",
                            "entities": pick("cards", "sensor")
                            + pick("cards", "binary_sensor", category="diagnostic"),
                        },
                    ],
                },
            ],
        }
        await self.websocket(
            session,
            {
                "type": "lovelace/dashboards/create",
                "url_path": self.dashboard,
                "title": "Shelter",
                "icon": "mdi:bus-stop-covered",
                "show_in_sidebar": True,
                "require_admin": False,
                "mode": "storage",
            },
            {
                "type": "lovelace/config/save",
                "url_path": self.dashboard,
                "config": config,
            },
        )

    def ready_info(self) -> dict[str, Any]:
        """Describe the running demo for a test or a person."""
        return {
            "url": self.url,
            "dashboard": f"{self.url}/{self.dashboard}/shelter",
            "username": USERNAME,
            "password": PASSWORD,
            "token": self.token,
            "refresh_token": self.refresh_token,
            "modbus_port": self.modbus_port,
            "mariadb_port": self.mariadb.port,
            "pid": os.getpid(),
        }

    async def stop(self) -> None:
        """Stop Home Assistant (gracefully, then by force), MariaDB and the simulator."""
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeder
        await self.home.stop()
        await asyncio.to_thread(self.mariadb.stop)
        await self.simulator.stop()


async def main(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C, SIGTERM or the end of --duration."""
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    demo = Demo(run_dir, args.port, args.modbus_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await demo.start()
        if args.ready_file:
            Path(args.ready_file).write_text(
                json.dumps(demo.ready_info()), encoding="utf-8"
            )
        print(
            f"Smart shelter demo is ready: {demo.url}/{demo.dashboard}/shelter",
            flush=True,
        )
        print(f"  login: {USERNAME} / {PASSWORD}", flush=True)
        print(
            f"  simulated DDC: Modbus TCP 127.0.0.1:{demo.modbus_port}, slave 1 (water meters: slave 10)",
            flush=True,
        )
        print(
            f"  card interface table: MariaDB 127.0.0.1:{demo.mariadb.port}, new rows every 20 s",
            flush=True,
        )
        print(f"  start-up (s): {demo.timings}", flush=True)
        print("  Ctrl-C stops Home Assistant, MariaDB and the simulator.", flush=True)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if demo.hass is not None:
            waiters.append(asyncio.ensure_future(demo.hass.wait()))
        await asyncio.wait(
            waiters, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()
    finally:
        print("Stopping the demo...", flush=True)
        await demo.stop()
    print("Demo stopped.", flush=True)
    return 0


#: Names for entities named by their device class (the air-quality sensors).
#: Kinds of meter statistic (smartcity_ddc:<kind>_<meter>) the Energy dashboard shows.
ENERGY_KINDS = ("water", "electricity")
_NO_PRICE = {
    "stat_cost": None,
    "entity_energy_price": None,
    "number_energy_price": None,
}


def energy_sources(statistics: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Return Energy dashboard sources: water meters as water, electricity meters as grid consumption."""
    if unknown := set(statistics) - set(ENERGY_KINDS):
        raise ValueError(f"no Energy dashboard source for {sorted(unknown)}")
    sources: list[dict[str, Any]] = [
        {"type": "water", "stat_energy_from": statistic_id, **_NO_PRICE}
        for statistic_id in statistics.get("water", ())
    ]
    if electricity := list(statistics.get("electricity", ())):
        sources += _grid_sources(electricity)
    return sources


def _grid_sources(statistic_ids: list[str]) -> list[dict[str, Any]]:
    """Return grid consumption in the shape this release takes.

    Older releases have one grid source listing every meter (flow_from);
    newer ones a grid source per meter. The installed schema decides.
    """
    schema = importlib.import_module(
        "homeassistant.components.energy.data"
    ).ENERGY_SOURCE_SCHEMA
    per_meter = [
        {"type": "grid", "stat_energy_from": statistic_id, **_NO_PRICE}
        | {"cost_adjustment_day": 0.0}
        for statistic_id in statistic_ids
    ]
    one_grid = [
        {
            "type": "grid",
            "flow_from": [
                {"stat_energy_from": statistic_id, **_NO_PRICE}
                for statistic_id in statistic_ids
            ],
            "flow_to": [],
            "cost_adjustment_day": 0.0,
        }
    ]
    for candidate in (per_meter, one_grid):
        with contextlib.suppress(vol.Invalid):
            schema(candidate)
            return candidate
    raise RuntimeError(
        "this Home Assistant's Energy dashboard takes no known grid shape"
    )


_SHORT_NAMES = {
    "carbon_dioxide": "CO₂",
    "pm2_5": "PM2.5",
    "pm10": "PM10",
    "pm1": "PM1.0",
    "temperature": "Temperature",
    "humidity": "Humidity",
}


def _short_name(entity_id: str) -> str:
    """Return a short card label for a device-class-named entity, or ''."""
    return next(
        (
            name
            for suffix, name in _SHORT_NAMES.items()
            if entity_id.endswith(f"_{suffix}")
        ),
        "",
    )


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DEMO_PORT", "8123"))
    )
    parser.add_argument(
        "--modbus-port",
        type=int,
        default=int(os.environ.get("DEMO_MODBUS_PORT", "5020")),
    )
    parser.add_argument("--run-dir", default=str(ROOT / ".run" / "demo"))
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds",
    )
    parser.add_argument(
        "--ready-file",
        default="",
        help="write the URL and login here once ready (for tests)",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()

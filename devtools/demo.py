"""The demo: a simulated site and a real Home Assistant, configured and ready to click.

Runs in this process: the DDC simulator (a standard shelter at slave 1 and a
water-meter data collector at slave 10), a simulated RS-485/TCP gateway with a
money-prepaid DL/T645-2007 electricity meter and an M-Bus water meter on its
bus, a throwaway MariaDB with the access control server's interface table
(sample card rows keep arriving), and `hass` as a child process bound to
127.0.0.1. Onboarding, the integration's three entries, the meter bus and its
meters, a week of meter readings, the Energy dashboard and a "Shelter"
dashboard are set up through Home Assistant's own HTTP and websocket APIs.
Prints the URL and login; Ctrl-C (or --duration) stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
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
from devtools.simulator import (
    Dlt645Meter,
    MeterBusServer,
    ShelterDdc,
    SimulatorServer,
    WaterMeterBank,
)
from devtools.simulator.device import SEOUL
from devtools.simulator.mbus_meter import MBusWaterMeter

USERNAME = "demo"
PASSWORD = "shelter-demo"  # noqa: S105  # a throwaway account of a throwaway local instance
__all__ = [
    "BUS_METERS",
    "DOMAIN",
    "ELECTRICITY",
    "MBUS",
    "PASSWORD",
    "ROOT",
    "USERNAME",
    "Demo",
    "energy_sources",
    "meter_statistics",
]

WATER_SLAVE = 10
#: (meter id, name, household size, leak in L/h, index now in litres);
#: 1502호 has a dripping tap, so its meter shows how a leak is reported.
METERS = (
    ("apt101_1203", "101동 1203호", 1.0, 0.0, 412_380),
    ("apt101_1502", "101동 1502호", 1.5, 4.0, 623_905),
    ("shelter_tap", "Shelter fountain", 0.3, 0.0, 58_112),
)
BACKFILL_DAYS = 7


@dataclass(frozen=True, slots=True)
class BusMeter:
    """A meter on the demo's RS-485 bus: its id, name and address there."""

    meter_id: str
    name: str
    medium: str
    address: str


#: The RS-485 bus, behind a transparent RS-485/TCP gateway (the simulator).
BUS_NAME = "101동 RS-485"
#: A money-prepaid DL/T645-2007 meter whose supply relay the site may switch.
ELECTRICITY = BusMeter(
    "apt101_1203_kwh", "101동 1203호 전기", "electricity", "000101120301"
)
#: An M-Bus water meter, by its primary address (its secondary: 20240704, SCW, water).
MBUS = BusMeter("apt102_0704", "102동 704호", "water", "7")
BUS_METERS = (ELECTRICITY, MBUS)
MBUS_IDENT = "20240704"
MBUS_SCALE = 1.2
MBUS_START_LITRES = 183_412
#: The meter's codes for relay commands (level 02 password, operator code).
METER_PASSWORD = "02000000"  # noqa: S105  # a simulated meter's factory code
OPERATOR_CODE = "13572468"
START_KWH = 8123.45
#: Credit in the meter (KRW), the tariff the site counts with (KRW/kWh), the warning level.
START_CREDIT = 12_000.0
TARIFF = 150.0
LOW_CREDIT = 5_000.0
MAX_POWER = 10.0
VOLTAGE = 221.3
#: kW a household draws at each local hour: the fridge all night, cooking and TV at the peaks.
_POWER_PROFILE = (
    0.25, 0.22, 0.2, 0.2, 0.2, 0.25, 0.45, 0.8, 0.7, 0.4, 0.35, 0.35,
    0.45, 0.4, 0.35, 0.35, 0.4, 0.6, 0.95, 1.1, 1.0, 0.85, 0.6, 0.4,
)  # fmt: skip
#: Seconds between the demo's households changing their load and drawing water.
HOUSEHOLD_STEP = 10.0
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
        self,
        run_dir: Path,
        port: int,
        modbus_port: int,
        *,
        feed_interval: float = 20.0,
        bus_lifetime: float = 24 * 3600,
    ) -> None:
        """Prepare paths and servers; nothing runs yet.

        The meter bus's gateway stops by itself after bus_lifetime seconds.
        """
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
        self.bus = MeterBusServer(tick_interval=1.0, stop_after=bus_lifetime)
        now = datetime.now(SEOUL)
        self.electricity = self.bus.add(
            Dlt645Meter(
                ELECTRICITY.address,
                energy=START_KWH,
                voltage=VOLTAGE,
                current=household_kw(now) * 1000 / VOLTAGE,
                power=household_kw(now),
                prepaid="money",
                remaining_money=START_CREDIT,
                price=TARIFF,
                password=METER_PASSWORD,
                operator=OPERATOR_CODE,
                # A meter keeps local time where the site is.
                clock=now.replace(tzinfo=None),
            )
        )
        self.mbus = self.bus.add(
            MBusWaterMeter(
                MBUS_IDENT,
                primary=int(MBUS.address),
                volume_m3=Decimal(MBUS_START_LITRES) / 1000,
                clock=lambda: datetime.now(SEOUL),
            )
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
        self._households: asyncio.Task[None] | None = None
        self._rng = random.Random(7)
        self._issued: list[tuple[str, str, str, str, str]] = []

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start every server and Home Assistant, then onboard and configure."""
        self.home.write_config(CONFIGURATION)
        self.simulator.add_device(1, self.shelter)
        self.simulator.add_device(WATER_SLAVE, self.water)
        await self.simulator.start()
        await self.bus.start()
        self._households = asyncio.create_task(self._run_households())
        await asyncio.to_thread(self._start_mariadb)
        await self.home.start()
        async with aiohttp.ClientSession() as session:
            for phase in (
                self._wait_until_up,
                self._onboard,
                self._add_ddc,
                self._add_cards,
                self._add_water,
                self._backfill,
                self._wait_for_statistics,
                self._read_from_collector,
                self._add_bus,
                self._read_from_bus,
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

    async def _run_households(self) -> None:
        """Let the bus meters' households use power and water in their daily pattern.

        The DL/T645 meter counts energy at the load on its own clock (the
        gateway's ticker) and runs its credit down; the M-Bus meter's index
        follows the water drawn.
        """
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(HOUSEHOLD_STEP)
            now = datetime.now(SEOUL)
            elapsed = loop.time() - last
            last += elapsed
            kw = household_kw(now)
            self.electricity.set_load(current=kw * 1000 / VOLTAGE, power=kw)
            litres = WaterMeterBank.usage_between(
                now - timedelta(seconds=elapsed), now, MBUS_SCALE
            )
            self.mbus.volume_m3 += Decimal(str(round(litres / 1000, 6)))

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
        """Add a meter site whose meters first take pushed readings (the week before the demo).

        The bus meters too: a prepaid electricity meter, its credit in won
        at the site's tariff, and a water meter; they move to the bus later.
        """
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
        await self.flow(
            session,
            "subentry",
            f"{self.entries['water']}/meter",
            {
                "meter_id": ELECTRICITY.meter_id,
                "name": ELECTRICITY.name,
                "medium": "electricity",
            },
            {"max_power": MAX_POWER, "source": "push"},
            {"prepaid": "money", "tariff": TARIFF, "low_credit": LOW_CREDIT},
        )
        await self.flow(
            session,
            "subentry",
            f"{self.entries['water']}/meter",
            {"meter_id": MBUS.meter_id, "name": MBUS.name, "medium": "water"},
            {"q3": 2.5, "q4": 3.125, "source": "push"},
        )
        # Each meter added reloads the site; meters added back to back all
        # reach the running site.
        await self._wait_for_meters(
            session,
            [("water", meter_id) for meter_id, *_ in METERS]
            + [(meter.medium, meter.meter_id) for meter in BUS_METERS],
        )

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

    async def _add_bus(self, session: aiohttp.ClientSession) -> None:
        """Add the site's RS-485 bus: the simulated gateway on 127.0.0.1, read every minute."""
        await self.flow(
            session,
            "subentry",
            f"{self.entries['water']}/bus",
            {"name": BUS_NAME, "transport": "tcp"},
            {
                "host": "127.0.0.1",
                "port": self.bus.port,
                "read_interval": 1,
                "reply_timeout": 1.0,
            },
        )

    async def _read_from_bus(self, session: aiohttp.ClientSession) -> None:
        """Move the two bus meters onto the bus, then wait for their first read.

        The electricity meter: DL/T645-2007 at its nameplate address, prepaid
        in money at the site's tariff, its relay switched by the site with the
        meter's codes. The water meter: M-Bus at its primary address.
        """
        (subentries,) = await self.websocket(
            session,
            {
                "type": "config_entries/subentries/list",
                "entry_id": self.entries["water"],
            },
        )
        (bus_id,) = [
            row["subentry_id"] for row in subentries if row["subentry_type"] == "bus"
        ]
        ids = {row["unique_id"]: row["subentry_id"] for row in subentries}
        handler = f"{self.entries['water']}/meter"
        await self.flow(
            session,
            "subentry",
            handler,
            {"name": ELECTRICITY.name, "max_power": MAX_POWER, "source": "dlt645"},
            {
                "bus": bus_id,
                "version": "2007",
                "find": False,
                "address": ELECTRICITY.address,
            },
            {"prepaid": "money", "tariff": TARIFF, "low_credit": LOW_CREDIT},
            {
                "relay_control": True,
                "meter_password": METER_PASSWORD,
                "operator_code": OPERATOR_CODE,
            },
            start={"subentry_id": ids[ELECTRICITY.meter_id]},
            done="abort",
        )
        await self.flow(
            session,
            "subentry",
            handler,
            {"name": MBUS.name, "q3": 2.5, "q4": 3.125, "source": "mbus"},
            {"bus": bus_id, "scan": False, "address": MBUS.address},
            {"prepaid": "none", "low_credit": 0},
            start={"subentry_id": ids[MBUS.meter_id]},
            done="abort",
        )
        await self._wait_for_bus_reads(session)

    async def _wait_for_bus_reads(
        self, session: aiohttp.ClientSession, limit: float = 60
    ) -> None:
        """Wait until both bus meters were read: their read status is "ok"."""
        wanted = {
            f"{self.entries['water']}_{meter.medium}_{meter.meter_id}_read_status"
            for meter in BUS_METERS
        }
        deadline = time.monotonic() + limit
        found: dict[str, str] = {}
        while time.monotonic() < deadline:
            (entities,) = await self.websocket(
                session, {"type": "config/entity_registry/list"}
            )
            found = {
                e["entity_id"]: e["unique_id"]
                for e in entities
                if e.get("unique_id") in wanted
            }
            if len(found) == len(wanted) and all(
                [await self.state(session, entity_id) == "ok" for entity_id in found]
            ):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"the bus meters were not read: {found}")

    async def _wait_for_meters(
        self,
        session: aiohttp.ClientSession,
        meters: list[tuple[str, str]],
        limit: float = 120,
    ) -> None:
        """Wait until the site has reloaded with these (medium, meter id) (adding one reloads it)."""
        wanted = {
            f"{self.entries['water']}_{medium}_{meter_id}_"
            for medium, meter_id in meters
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
        raise TimeoutError(f"meters {sorted(meters)} did not appear")

    async def _backfill(self, session: aiohttp.ClientSession) -> None:
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
            await self._push(session, meter_id, readings, 1000)
        # The bus meters' households, hour by hour, up to what their meters show now.
        litres = self.mbus.litres() - WaterMeterBank.usage_between(
            latest, now, MBUS_SCALE
        )
        kwh = self.electricity.energy - kwh_between(latest, now)
        water: list[tuple[datetime, float]] = []
        energy: list[tuple[datetime, float]] = []
        for moment in hours:
            water.append((moment, litres))
            energy.append((moment, kwh))
            litres -= WaterMeterBank.usage_between(
                moment - timedelta(hours=1), moment, MBUS_SCALE
            )
            kwh -= kwh_between(moment - timedelta(hours=1), moment)
        await self._push(session, MBUS.meter_id, water, 1000)
        await self._push(session, ELECTRICITY.meter_id, energy, 1)

    async def _push(
        self,
        session: aiohttp.ClientSession,
        meter_id: str,
        readings: list[tuple[datetime, float]],
        per_unit: float,
    ) -> None:
        """Record readings (newest first, per_unit of them a m³ or kWh) through the action, oldest first."""
        for moment, index in reversed(readings):
            await self._post(
                session,
                f"/api/services/{DOMAIN}/record_water_reading",
                {
                    "meter": meter_id,
                    "timestamp": moment.isoformat(),
                    "index": round(index / per_unit, 3),
                },
            )

    async def _wait_for_statistics(
        self, session: aiohttp.ClientSession, limit: float = 180
    ) -> None:
        """Wait until the recorder holds every meter's hourly statistics up to the last backfilled hour."""
        ids = [
            statistic_id
            for kind in meter_statistics().values()
            for statistic_id in kind
        ]
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

    async def state(self, session: aiohttp.ClientSession, entity_id: str) -> str | None:
        """Return an entity's state through the REST API, None if it has none."""
        async with session.get(
            f"{self.url}/api/states/{entity_id}", headers=self.home.auth
        ) as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            return str((await response.json())["state"])

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

        by_unique_id = {
            e["unique_id"]: e["entity_id"]
            for e in ours
            if e["config_entry_id"] == self.entries["water"]
        }

        def meter_rows(meter: BusMeter, keys: Sequence[str]) -> list[str]:
            """Return a bus meter's entities by their keys, those it has."""
            prefix = f"{self.entries['water']}_{meter.medium}_{meter.meter_id}_"
            return [
                by_unique_id[prefix + key]
                for key in keys
                if prefix + key in by_unique_id
            ]

        statistics = meter_statistics()
        water_stats, electricity_stats = statistics["water"], statistics["electricity"]
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
                    # The path stays "water" for links and screenshots made before.
                    "title": "Meters",
                    "path": "water",
                    "icon": "mdi:meter-electric-outline",
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
                            "title": f"{ELECTRICITY.name} · prepaid",
                            "entities": meter_rows(
                                ELECTRICITY,
                                (
                                    "balance",
                                    "days_left",
                                    "low_credit",
                                    "relay",
                                    "index",
                                    "power",
                                    "usage_today",
                                    "read_status",
                                ),
                            ),
                            "state_color": True,
                        },
                        {
                            "type": "entities",
                            "title": f"{MBUS.name} · M-Bus water",
                            "entities": meter_rows(
                                MBUS,
                                ("index", "usage_today", "status", "read_status"),
                            ),
                        },
                        {
                            "type": "statistics-graph",
                            "title": "Electricity per day",
                            "entities": electricity_stats,
                            "stat_types": ["change"],
                            "chart_type": "bar",
                            "period": "day",
                            "days_to_show": BACKFILL_DAYS + 1,
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
            "meter_bus_port": self.bus.port,
            "pid": os.getpid(),
        }

    async def stop(self) -> None:
        """Stop Home Assistant (gracefully, then by force), MariaDB and the simulator."""
        for task in (self._feeder, self._households):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.home.stop()
        await asyncio.to_thread(self.mariadb.stop)
        await self.bus.stop()
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
            f"  meter bus: RS-485/TCP gateway 127.0.0.1:{demo.bus.port} (prepaid DL/T645-2007 "
            f"meter {ELECTRICITY.address}, M-Bus water meter at primary address {MBUS.address})",
            flush=True,
        )
        print(
            f"  card interface table: MariaDB 127.0.0.1:{demo.mariadb.port}, new rows every 20 s",
            flush=True,
        )
        print(f"  start-up (s): {demo.timings}", flush=True)
        print("  Ctrl-C stops Home Assistant, MariaDB and the simulators.", flush=True)
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


def meter_statistics() -> dict[str, list[str]]:
    """Return the demo meters' statistics by kind: the Energy dashboard's sources."""
    statistics: dict[str, list[str]] = {"water": [], "electricity": []}
    for meter_id, *_rest in METERS:
        statistics["water"].append(f"{DOMAIN}:water_{meter_id}")
    for meter in BUS_METERS:
        statistics[meter.medium].append(f"{DOMAIN}:{meter.medium}_{meter.meter_id}")
    return {kind: sorted(ids) for kind, ids in statistics.items()}


def household_kw(moment: datetime) -> float:
    """Return the kW the demo's household draws at a moment (by the local hour)."""
    return _POWER_PROFILE[moment.astimezone(SEOUL).hour]


def kwh_between(start: datetime, end: datetime) -> float:
    """Return the kWh the demo's household uses between two times."""
    total, moment = 0.0, start
    while moment < end:
        local = moment.astimezone(SEOUL)
        hour_end = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        step_end = min(hour_end, end.astimezone(SEOUL))
        total += household_kw(local) * (step_end - local).total_seconds() / 3600
        moment = step_end
    return total


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

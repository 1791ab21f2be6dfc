"""A site's RS-485 meter buses: borrowed from the line pool, their meters read in turn.

Each bus is a subentry of the site (its connection and how often its meters
are read). A bus is one physical port or gateway, shared with every other
entry that names the same one and never with a DDC's Modbus line (the pool
refuses that). The meters on it — DL/T645 electricity meters and M-Bus water
meters — are read one after another on the bus's schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.util import dt as dt_util

from ..const import CONF_BAUDRATE, CONF_TRANSPORT
from ..helpers import serial_settings
from ..line import LinePool, Parity
from .const import (
    CONF_READ_INTERVAL,
    CONF_REPLY_TIMEOUT,
    DEFAULT_BUS_BAUDRATE,
    DEFAULT_READ_INTERVAL,
    DEFAULT_REPLY_TIMEOUT,
    SUBENTRY_BUS,
    MeterSource,
)
from .engine.bus import BusConfig, BusMeter, BusTransport, MeterBus
from .engine.dlt645 import Dlt645Meter, Version, set_relay
from .engine.mbus import SecondaryAddress
from .engine.mbus_bus import (
    DEFAULT_REPLY_TIMEOUT as MBUS_REPLY_TIMEOUT,
    BusExchange,
    MBusMeter,
)
from .engine.mbus_scan import MBusReader, MeterAddress, ScanResult, scan_secondary


def bus_config(data: Mapping[str, Any]) -> BusConfig:
    """Build a bus's connection settings from its subentry data."""
    timeout = float(data.get(CONF_REPLY_TIMEOUT, DEFAULT_REPLY_TIMEOUT))
    if data[CONF_TRANSPORT] == BusTransport.SERIAL:
        return BusConfig(
            transport=BusTransport.SERIAL,
            **serial_settings(data, baudrate=DEFAULT_BUS_BAUDRATE, parity=Parity.EVEN),
            timeout=timeout,
        )
    return BusConfig(
        transport=BusTransport.TCP,
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BUS_BAUDRATE)),
        timeout=timeout,
    )


@dataclass(frozen=True, slots=True)
class BusSettings:
    """One bus of a site, as its subentry configures it."""

    bus_id: str
    name: str
    config: BusConfig
    interval: timedelta


def bus_settings(entry: ConfigEntry) -> dict[str, BusSettings]:
    """Return a site's buses by subentry id."""
    return {
        subentry.subentry_id: BusSettings(
            bus_id=subentry.subentry_id,
            name=subentry.title,
            config=bus_config(subentry.data),
            interval=timedelta(
                minutes=float(
                    subentry.data.get(CONF_READ_INTERVAL, DEFAULT_READ_INTERVAL)
                )
            ),
        )
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_BUS
    }


def mbus_address(text: str) -> MeterAddress:
    """Read an M-Bus meter's address as stored: 1-250 (primary) or 16 hex digits (secondary)."""
    if text.isdigit() and len(text) <= 3:
        return MeterAddress(primary=int(text))
    return MeterAddress(secondary=SecondaryAddress.parse(text))


class OpenBus:
    """A bus borrowed from the pool, with the readers of the meters on it."""

    def __init__(self, settings: BusSettings, bus: MeterBus) -> None:
        """Keep the bus; meters are added with add_meter."""
        self.settings = settings
        self.bus = bus
        self.exchange = BusExchange(bus, min(MBUS_REPLY_TIMEOUT, bus.config.timeout))
        self.mbus = MBusReader(self.exchange)
        #: Each meter's reader, by meter id; they keep what they learned between reads.
        self.meters: dict[str, BusMeter] = {}

    def add_meter(
        self, meter_id: str, source: MeterSource, address: str, version: int
    ) -> None:
        """Add a meter's reader (ValueError for an address its protocol can't use)."""
        if source is MeterSource.DLT645:
            self.meters[meter_id] = Dlt645Meter(
                address,
                version=Version.V1997 if version == 1997 else Version.V2007,
                reply_timeout=self.bus.config.timeout,
            )
        else:
            self.meters[meter_id] = MBusMeter(mbus_address(address), self.mbus)

    async def set_relay(
        self, meter_id: str, *, open_relay: bool, password: str, operator: str
    ) -> bool:
        """Trip or close a DL/T645 meter's relay; return the state read back (True = open)."""
        meter = self.meters[meter_id]
        assert isinstance(meter, Dlt645Meter)
        async with self.bus.turn:
            return await set_relay(
                self.bus,
                meter.address,
                open_relay=open_relay,
                password=password,
                operator=operator,
                # The command's deadline is in the meter's clock: local time
                # where the site is, which is Home Assistant's time zone (the
                # host's own may well be UTC).
                now=dt_util.now,
                reply_timeout=self.bus.config.timeout,
            )


async def async_scan_mbus(pool: LinePool, config: BusConfig) -> ScanResult:
    """Find the M-Bus meters on a bus by secondary address (the flow's bus scan)."""
    bus = pool.acquire(config, MeterBus)
    try:
        exchange = BusExchange(bus, min(MBUS_REPLY_TIMEOUT, config.timeout))
        async with bus.turn:
            return await scan_secondary(exchange)
    finally:
        await pool.release(bus)

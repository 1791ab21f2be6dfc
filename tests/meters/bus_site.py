"""A meter site with an RS-485 bus: the simulated gateway on 127.0.0.1 and its meters.

The bus holds a money-prepaid DL/T645-2007 meter with a relay, a plain 2007
meter, a 1997 meter and an M-Bus water meter, as a real collector would.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from devtools.simulator import Dlt645Meter as SimDlt645, MeterBusServer
from devtools.simulator.mbus_meter import MBusWaterMeter

from .conftest import meter_subentry

BUS_ID = "bus1"
PREPAID = "000012345678"
PLAIN = "000000000042"
OLD = "000000000003"
MBUS_IDENT = "12345678"
MBUS_PRIMARY = 5
PASSWORD = "02000000"
OPERATOR = "13572468"


def add_meters(server: MeterBusServer) -> None:
    """Put the site's four meters on the simulated bus."""
    server.add(
        SimDlt645(
            PREPAID,
            prepaid="money",
            remaining_money=12.34,
            energy=4321.09,
            voltage=229.8,
            current=3.5,
            power=0.7712,
            password=PASSWORD,
            operator=OPERATOR,
            # The meter's clock is local time in Seoul, where the site is.
            clock=datetime(2026, 1, 5, 0, 0),  # noqa: DTZ001 - a meter's local clock
        )
    )
    server.add(SimDlt645(PLAIN, energy=10.0))
    server.add(SimDlt645(OLD, version=1997, energy=77.7, voltage=231, current=4.25))
    server.add(
        MBusWaterMeter(
            ident=MBUS_IDENT, primary=MBUS_PRIMARY, volume_m3=Decimal("12.345")
        )
    )


def dlt(server: MeterBusServer, nameplate: str) -> SimDlt645:
    """Return the simulated DL/T645 meter with a nameplate number."""
    for device in server.devices:
        if isinstance(device, SimDlt645) and device.nameplate == nameplate:
            return device
    raise LookupError(nameplate)


def mbus(server: MeterBusServer) -> MBusWaterMeter:
    """Return the simulated M-Bus water meter."""
    for device in server.devices:
        if isinstance(device, MBusWaterMeter):
            return device
    raise LookupError("mbus")


def bus_subentry(port: int, **extra: Any) -> dict[str, Any]:
    """Return the subentry of the site's bus: the gateway on 127.0.0.1:port."""
    return {
        "data": {
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "read_interval": 60,
            "reply_timeout": 1.0,
            **extra,
        },
        "subentry_type": "bus",
        "subentry_id": BUS_ID,
        "title": "Collector A",
        "unique_id": f"net:127.0.0.1:{port}",
    }


def electricity(meter_id: str, name: str, address: str, **extra: Any) -> dict[str, Any]:
    """Return a DL/T645-2007 meter on the bus."""
    return {
        "meter_id": meter_id,
        "name": name,
        "medium": "electricity",
        "max_power": 12.0,
        "source": "dlt645",
        "bus": BUS_ID,
        "address": address,
        "version": 2007,
        **extra,
    }


def bus_meters() -> list[dict[str, Any]]:
    """The site's meters: the four on the bus."""
    return [
        electricity(
            "e101",
            "Unit 101",
            PREPAID,
            prepaid="money",
            tariff=0.5,
            low_credit=5,
            relay_control=True,
            meter_password=PASSWORD,
            operator_code=OPERATOR,
        ),
        electricity("e102", "Unit 102", PLAIN),
        electricity("e103", "Unit 103", OLD, version=1997),
        {
            "meter_id": "w201",
            "name": "Unit 201 water",
            "medium": "water",
            "q3": 2.5,
            "q4": 3.125,
            "source": "mbus",
            "bus": BUS_ID,
            "address": str(MBUS_PRIMARY),
        },
    ]


def bus_site(
    port: int, meters: list[dict[str, Any]] | None = None, **bus: Any
) -> MockConfigEntry:
    """Return a meter site with one bus at 127.0.0.1:port and its meters."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Hanbit Apartments",
        version=2,
        data={CONF_KIND: EntryKind.METERS, "name": "Hanbit Apartments"},
        options={"gap_hours": 3, "leak_threshold": 1.0, "scan_interval": 300},
        subentries_data=[
            bus_subentry(port, **bus),
            *(meter_subentry(meter) for meter in meters or bus_meters()),
        ],
    )


def entity_id(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    part: str,
    key: str,
    platform: str = "sensor",
) -> str:
    """Return the entity id of a meter's entity by its unique id."""
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{entry.entry_id}_{part}_{key}"
    )
    assert found is not None, (part, key)
    return found


def state(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    part: str,
    key: str,
    platform: str = "sensor",
) -> float | str | None:
    """Return a meter entity's state: a float where it is a number, None when unknown."""
    current = hass.states.get(entity_id(hass, entry, part, key, platform))
    assert current is not None
    if current.state == "unknown":
        return None
    try:
        return float(current.state)
    except ValueError:
        return current.state

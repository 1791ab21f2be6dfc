"""Meter buses and the meters on them, added and changed through the flows.

Against the project's simulated RS-485/TCP gateway on 127.0.0.1 with
simulated DL/T645 and M-Bus meters on its bus (devtools/simulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.helpers import line_pool
from custom_components.smartcity_ddc.line import LineConfig, Transport
from custom_components.smartcity_ddc.meters.engine.bus import (
    BusConfig,
    BusTransport,
    MeterBus,
)
from custom_components.smartcity_ddc.meters.engine.mbus import SecondaryAddress
from devtools.serial_bridge import SerialBridge
from devtools.simulator import Dlt645Meter as SimMeter, MeterBusServer
from devtools.simulator.mbus_meter import MBusWaterMeter

from .conftest import meter_subentry, site_entry
from .helpers import modbus_meter

PREPAID = "000012345678"
OTHER = "000000000042"
PASSWORD = "02135790"
OPERATOR = "86420864"


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """Let the tests open loopback sockets (pytest-socket blocks them by default)."""


@pytest.fixture
async def gateway() -> AsyncIterator[MeterBusServer]:
    """A transparent RS-485/TCP gateway with nothing on its bus yet."""
    async with MeterBusServer(stop_after=120, silence=0.02) as server:
        yield server


def closed_port() -> int:
    """Return a loopback TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_form(
    port: int, *, reply_timeout: float, read_interval: int = 60
) -> dict[str, Any]:
    """Return the gateway step's input for a gateway on 127.0.0.1."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "read_interval": read_interval,
        "reply_timeout": reply_timeout,
    }


def bus_data(port: int, **extra: Any) -> dict[str, Any]:
    """Return the data of a bus behind the gateway at port."""
    return {
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "read_interval": 60,
        "reply_timeout": 0.3,
        **extra,
    }


def with_bus(
    port: int, meters: list[dict[str, Any]] | None = None, *, timeout: float = 0.3
) -> MockConfigEntry:
    """Return a site with one bus behind the gateway at port, and meters."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Hanbit Apartments",
        version=2,
        data={"kind": "meters", "name": "Hanbit Apartments"},
        options={"gap_hours": 3, "leak_threshold": 1.0, "scan_interval": 300},
        subentries_data=[
            {
                "data": bus_data(port, reply_timeout=timeout),
                "subentry_id": "bus1",
                "subentry_type": "bus",
                "title": "Building 101",
                "unique_id": f"net:127.0.0.1:{port}",
            },
            *[meter_subentry(meter) for meter in meters or []],
        ],
    )


async def start(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    kind: str,
    subentry_id: str | None = None,
) -> dict[str, Any]:
    """Open a site's "Add meter" / "Add meter bus" flow, or reconfigure a subentry."""
    context: dict[str, Any] = {"source": SOURCE_USER}
    if subentry_id is not None:
        context = {"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    return dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, kind), context=context
        )
    )


async def configure(
    hass: HomeAssistant, result: dict[str, Any], user_input: dict[str, Any] | None
) -> dict[str, Any]:
    """Submit a step of a subentry flow."""
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], user_input
        )
    )


def fields(result: dict[str, Any]) -> dict[str, Any]:
    """Return a form's fields by name."""
    return {str(key): key for key in result["data_schema"].schema}


def options(result: dict[str, Any], field: str) -> list[Any]:
    """Return what a form's select field offers (values, or value/label dicts)."""
    for key, value in result["data_schema"].schema.items():
        if str(key) == field:
            return list(value.config["options"])
    raise KeyError(field)


def suggested(result: dict[str, Any], field: str) -> Any:
    """Return the value a form suggests for a field."""
    return (fields(result)[field].description or {}).get("suggested_value")


def subentries(entry: MockConfigEntry, kind: str) -> list[Any]:
    """Return a site's subentries of one type."""
    return [s for s in entry.subentries.values() if s.subentry_type == kind]


# --- buses -------------------------------------------------------------------------------


async def test_add_a_bus_behind_a_gateway(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await start(hass, entry, "bus")
    assert result["step_id"] == "user"
    assert options(result, "transport") == ["tcp", "serial"]
    result = await configure(hass, result, {"name": "  ", "transport": "tcp"})
    assert result["errors"] == {"name": "meters_invalid_name"}
    result = await configure(
        hass, result, {"name": " Building 101 ", "transport": "tcp"}
    )
    assert result["step_id"] == "tcp"
    where = gateway_form(gateway.port, read_interval=15, reply_timeout=1.5)
    result = await configure(hass, result, {**where, "host": " "})
    assert result["errors"] == {"host": "meters_invalid_host"}
    # Nothing listens there.
    result = await configure(hass, result, {**where, "port": closed_port()})
    assert result["errors"] == {"base": "meters_bus_cannot_connect"}
    connections = gateway.stats.connections
    result = await configure(hass, result, where)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Building 101"
    assert gateway.stats.connections == connections + 1
    (bus,) = subentries(entry, "bus")
    assert bus.title == "Building 101"
    assert bus.unique_id == f"net:127.0.0.1:{gateway.port}"
    assert dict(bus.data) == {"transport": "tcp", **where}
    # The trial connection went back to the pool and was closed.
    assert len(line_pool(hass)) == 0

    # The same gateway again, on this site or another: it is one bus.
    other = site_entry([], entry_id="other")
    other.add_to_hass(hass)
    for site_ in (entry, other):
        result = await start(hass, site_, "bus")
        result = await configure(
            hass, result, {"name": "Building 102", "transport": "tcp"}
        )
        result = await configure(hass, result, where)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
    # Another gateway may not take a name the site already gave a bus.
    result = await start(hass, entry, "bus")
    result = await configure(hass, result, {"name": "building 101", "transport": "tcp"})
    assert result["errors"] == {"name": "meters_bus_name_taken"}


async def test_a_bus_never_takes_a_ddc_line(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    where = gateway_form(gateway.port, reply_timeout=2)
    # A loaded shelter holds the gateway as its Modbus line.
    pool = line_pool(hass)
    ddc_line = pool.acquire(
        LineConfig(
            transport=Transport.RTU_OVER_TCP, host="127.0.0.1", port=gateway.port
        )
    )
    result = await start(hass, entry, "bus")
    result = await configure(hass, result, {"name": "Meters", "transport": "tcp"})
    result = await configure(hass, result, where)
    assert result["errors"] == {"base": "meters_bus_port_in_use"}
    await pool.release(ddc_line)
    # A shelter configured on the gateway, loaded or not.
    MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data={
            "kind": "shelter",
            "transport": "rtu_over_tcp",
            "host": "127.0.0.1",
            "port": gateway.port,
            "slave": 1,
        },
    ).add_to_hass(hass)
    result = await configure(hass, result, where)
    assert result["errors"] == {"base": "meters_bus_port_in_use"}
    assert not subentries(entry, "bus")
    assert len(pool) == 0


async def test_add_a_bus_on_a_usb_adapter(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    # This machine's pseudo-terminals refuse a parity bit: 8N2 has the same timing as 8E1.
    async with SerialBridge(gateway.port, parity="N", stopbits=2) as bridge:
        result = await start(hass, entry, "bus")
        result = await configure(
            hass, result, {"name": "Shop meters", "transport": "serial"}
        )
        assert result["step_id"] == "serial"
        # 2400 baud 8E1 unless changed: what most meters use.
        defaults = {name: key.default() for name, key in fields(result).items()}
        assert defaults | {"serial_port": None} == {
            "serial_port": None,
            "baudrate": "2400",
            "bytesize": "8",
            "parity": "even",
            "stopbits": "1",
            "read_interval": 60,
            "reply_timeout": 2.0,
        }
        line = {
            "serial_port": bridge.path,
            "baudrate": "2400",
            "bytesize": "8",
            "parity": "none",
            "stopbits": "2",
            "read_interval": 30,
            "reply_timeout": 2.0,
        }
        result = await configure(
            hass, result, {**line, "serial_port": "/dev/ttyNOTHING"}
        )
        assert result["errors"] == {"base": "meters_bus_cannot_connect"}
        result = await configure(hass, result, line)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (bus,) = subentries(entry, "bus")
    assert bus.unique_id == f"serial:{bridge.path}"
    assert dict(bus.data) == {
        "transport": "serial",
        "serial_port": bridge.path,
        "baudrate": 2400,
        "bytesize": 8,
        "parity": "none",
        "stopbits": 2,
        "read_interval": 30,
        "reply_timeout": 2.0,
    }


async def test_reconfigure_a_bus(hass: HomeAssistant, gateway: MeterBusServer) -> None:
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    # The site is loaded: its bus is open with the stored settings.
    pool = line_pool(hass)
    site_bus = pool.acquire(
        BusConfig(
            transport=BusTransport.TCP, host="127.0.0.1", port=gateway.port, timeout=0.3
        ),
        MeterBus,
    )
    result = await start(hass, entry, "bus", "bus1")
    assert result["step_id"] == "reconfigure"
    result = await configure(
        hass, result, {"name": "Building 101 east", "transport": "tcp"}
    )
    assert result["step_id"] == "tcp"
    defaults = {name: key.default() for name, key in fields(result).items()}
    assert defaults == {
        "host": "127.0.0.1",
        "port": gateway.port,
        "read_interval": 60,
        "reply_timeout": 0.3,
    }
    # A longer timeout on the same gateway: checked through the bus the site holds.
    result = await configure(
        hass, result, {**defaults, "reply_timeout": 1.0, "read_interval": 5}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    bus = entry.subentries["bus1"]
    assert bus.title == "Building 101 east"
    assert dict(bus.data) == bus_data(gateway.port, reply_timeout=1.0, read_interval=5)
    await pool.release(site_bus)
    assert len(pool) == 0

    # Moved to another gateway: the unique id follows the port.
    async with MeterBusServer(stop_after=30) as second:
        result = await start(hass, entry, "bus", "bus1")
        result = await configure(
            hass, result, {"name": "Building 101 east", "transport": "tcp"}
        )
        result = await configure(hass, result, {**defaults, "port": second.port})
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries["bus1"].unique_id == f"net:127.0.0.1:{second.port}"
    assert entry.subentries["bus1"].data["port"] == second.port


# --- DL/T645 meters --------------------------------------------------------------------


async def add_electricity_meter(
    hass: HomeAssistant, entry: MockConfigEntry, meter_id: str = "e101"
) -> dict[str, Any]:
    """Start adding a DL/T645 meter: return its dlt645 step."""
    result = await start(hass, entry, "meter")
    result = await configure(
        hass,
        result,
        {"meter_id": meter_id, "name": "Unit 101", "medium": "electricity"},
    )
    result = await configure(hass, result, {"max_power": 20, "source": "dlt645"})
    assert result["step_id"] == "dlt645", result
    return result


async def test_a_bus_source_needs_a_bus(hass: HomeAssistant) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await start(hass, entry, "meter")
    result = await configure(
        hass, result, {"meter_id": "e101", "name": "Unit 101", "medium": "electricity"}
    )
    result = await configure(hass, result, {"max_power": 20, "source": "dlt645"})
    assert result["step_id"] == "electricity"
    assert result["errors"] == {"source": "meters_no_bus"}
    result = await start(hass, entry, "meter")
    result = await configure(
        hass, result, {"meter_id": "w101", "name": "Unit 101", "medium": "water"}
    )
    result = await configure(hass, result, {"q3": 2.5, "q4": 3.125, "source": "mbus"})
    assert result["errors"] == {"source": "meters_no_bus"}


async def test_add_a_dlt645_meter_by_its_address(
    hass: HomeAssistant, gateway: MeterBusServer, caplog: pytest.LogCaptureFixture
) -> None:
    meter = gateway.add(
        SimMeter(PREPAID, prepaid="money", remaining_money=50.0, energy=321.5)
    )
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_electricity_meter(hass, entry)
    assert options(result, "bus") == [{"value": "bus1", "label": "Building 101"}]
    assert options(result, "version") == ["2007", "1997"]
    step = {"bus": "bus1", "version": "2007", "find": False}
    for address, error in (
        ("", {"address": "meters_address_required"}),
        ("12-34", {"address": "meters_invalid_dlt645_address"}),
        ("1234567890123", {"address": "meters_invalid_dlt645_address"}),
        ("AAAAAAAAAAAA", {"address": "meters_invalid_dlt645_address"}),
        # Nobody there.
        ("99", {"base": "meters_no_answer"}),
    ):
        result = await configure(hass, result, {**step, "address": address})
        assert result["errors"] == error, address
    # The meter answers with another address than the one asked.
    meter.faults.wrong_address = OTHER
    result = await configure(hass, result, {**step, "address": "12345678"})
    assert result["errors"] == {"base": "meters_wrong_address"}
    meter.faults.clear()
    meter.faults.error_byte = 0x01
    result = await configure(hass, result, {**step, "address": "12345678"})
    assert result["errors"] == {"base": "meters_meter_error"}
    meter.faults.clear()
    requests = meter.requests
    # Leading zeros may be left out.
    result = await configure(hass, result, {**step, "address": "12345678"})
    assert meter.requests > requests
    assert result["step_id"] == "prepaid"
    result = await configure(
        hass, result, {"prepaid": "money", "tariff": 0.5, "low_credit": 10}
    )
    assert result["step_id"] == "relay"
    assert fields(result)["relay_control"].default() is False
    relay = {
        "relay_control": True,
        "meter_password": PASSWORD,
        "operator_code": OPERATOR,
    }
    for bad, error in (
        ({"meter_password": "1234"}, {"meter_password": "meters_invalid_secret"}),
        ({"operator_code": "8642086x"}, {"operator_code": "meters_invalid_secret"}),
        (
            {"meter_password": "021357901", "operator_code": ""},
            {
                "meter_password": "meters_invalid_secret",
                "operator_code": "meters_secret_required",
            },
        ),
    ):
        result = await configure(hass, result, {**relay, **bad})
        assert result["errors"] == error
    result = await configure(hass, result, relay)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = subentries(entry, "meter")
    assert subentry.unique_id == "e101"
    assert dict(subentry.data) == {
        "meter_id": "e101",
        "medium": "electricity",
        "max_power": 20.0,
        "source": "dlt645",
        "bus": "bus1",
        "address": PREPAID,
        "version": 2007,
        "prepaid": "money",
        "low_credit": 10.0,
        "tariff": 0.5,
        "relay_control": True,
        "meter_password": PASSWORD,
        "operator_code": OPERATOR,
    }
    # The codes are stored, and nowhere else.
    shown = f"{result['title']} {result.get('description')} {subentry.unique_id}"
    for secret in (PASSWORD, OPERATOR):
        assert secret not in shown
        assert secret not in caplog.text
    assert len(line_pool(hass)) == 0

    # The address is this meter's now.
    result = await add_electricity_meter(hass, entry, "e102")
    result = await configure(hass, result, {**step, "address": PREPAID})
    assert result["errors"] == {"address": "meters_address_taken"}


async def test_who_is_there(hass: HomeAssistant, gateway: MeterBusServer) -> None:
    gateway.add(SimMeter(PREPAID))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_electricity_meter(hass, entry)
    # DL/T645-1997 has no read-address command.
    result = await configure(
        hass, result, {"bus": "bus1", "version": "1997", "find": True}
    )
    assert result["errors"] == {"version": "meters_find_needs_2007"}
    result = await configure(
        hass, result, {"bus": "bus1", "version": "2007", "find": True}
    )
    # The form comes back with the address the meter gave.
    assert result["step_id"] == "dlt645"
    assert result["errors"] == {}
    assert suggested(result, "address") == PREPAID
    assert fields(result)["find"].default() is False
    result = await configure(
        hass,
        result,
        {"bus": "bus1", "version": "2007", "find": False, "address": PREPAID},
    )
    assert result["step_id"] == "prepaid"

    # Two meters answer at once: their answers garble each other.
    gateway.add(SimMeter(OTHER))
    result = await add_electricity_meter(hass, entry, "e102")
    result = await configure(
        hass, result, {"bus": "bus1", "version": "2007", "find": True}
    )
    assert result["errors"] == {"base": "meters_find_failed"}
    gateway.devices.clear()
    result = await configure(
        hass, result, {"bus": "bus1", "version": "2007", "find": True}
    )
    assert result["errors"] == {"base": "meters_find_failed"}
    await gateway.stop()
    result = await configure(
        hass, result, {"bus": "bus1", "version": "2007", "find": True}
    )
    assert result["errors"] == {"base": "meters_bus_cannot_connect"}
    assert len(line_pool(hass)) == 0


async def test_a_1997_meter_has_no_relay_step(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    gateway.add(SimMeter("3", version=1997))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_electricity_meter(hass, entry)
    result = await configure(
        hass, result, {"bus": "bus1", "version": "1997", "find": False, "address": "3"}
    )
    result = await configure(hass, result, {"prepaid": "none", "low_credit": 0})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = subentries(entry, "meter")
    assert dict(subentry.data) == {
        "meter_id": "e101",
        "medium": "electricity",
        "max_power": 20.0,
        "source": "dlt645",
        "bus": "bus1",
        "address": "000000000003",
        "version": 1997,
        "prepaid": "none",
    }


async def test_reconfigure_a_dlt645_meter_keeps_its_codes(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    gateway.add(SimMeter(PREPAID))
    stored = {
        "meter_id": "e101",
        "name": "Unit 101",
        "medium": "electricity",
        "max_power": 20.0,
        "source": "dlt645",
        "bus": "bus1",
        "address": PREPAID,
        "version": 2007,
        "prepaid": "kwh",
        "low_credit": 3.0,
        "relay_control": True,
        "meter_password": PASSWORD,
        "operator_code": OPERATOR,
    }
    entry = with_bus(gateway.port, [stored])
    entry.add_to_hass(hass)
    (subentry,) = subentries(entry, "meter")
    result = await start(hass, entry, "meter", subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    # An electricity meter keeps its medium: rated power, no flows.
    assert set(fields(result)) == {"name", "max_power", "source"}
    result = await configure(
        hass, result, {"name": "Unit 101 (shop)", "max_power": 35, "source": "dlt645"}
    )
    assert result["step_id"] == "dlt645"
    assert suggested(result, "address") == PREPAID
    assert fields(result)["bus"].default() == "bus1"
    result = await configure(
        hass,
        result,
        {"bus": "bus1", "version": "2007", "find": False, "address": PREPAID},
    )
    assert result["step_id"] == "prepaid"
    assert fields(result)["prepaid"].default() == "kwh"
    result = await configure(hass, result, {"prepaid": "kwh", "low_credit": 4})
    assert result["step_id"] == "relay"
    # The stored codes are never shown back.
    assert fields(result)["relay_control"].default() is True
    for code in ("meter_password", "operator_code"):
        assert fields(result)[code].default is vol.UNDEFINED
        assert suggested(result, code) is None
    assert PASSWORD not in str(result)
    assert OPERATOR not in str(result)
    # Left empty: the stored codes stay; a new one replaces its stored one.
    result = await configure(
        hass, result, {"relay_control": True, "operator_code": "11112222"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry.subentry_id].title == "Unit 101 (shop)"
    assert dict(entry.subentries[subentry.subentry_id].data) == {
        **{key: value for key, value in stored.items() if key != "name"},
        "max_power": 35.0,
        "low_credit": 4.0,
        "operator_code": "11112222",
    }

    # Relay control off: the codes are no longer kept.
    result = await start(hass, entry, "meter", subentry.subentry_id)
    result = await configure(
        hass, result, {"name": "Unit 101 (shop)", "max_power": 35, "source": "dlt645"}
    )
    result = await configure(
        hass,
        result,
        {"bus": "bus1", "version": "2007", "find": False, "address": PREPAID},
    )
    result = await configure(hass, result, {"prepaid": "none", "low_credit": 0})
    result = await configure(hass, result, {"relay_control": False})
    assert result["reason"] == "reconfigure_successful"
    data = entry.subentries[subentry.subentry_id].data
    assert data["relay_control"] is False
    assert "meter_password" not in data
    assert "operator_code" not in data
    assert data["prepaid"] == "none"
    assert "low_credit" not in data


# --- M-Bus meters ----------------------------------------------------------------------


def water_meter(ident: str, primary: int = 0, **kwargs: Any) -> MBusWaterMeter:
    """Return a simulated M-Bus water meter at 12.345 m³."""
    return MBusWaterMeter(ident, primary=primary, volume_m3=Decimal("12.345"), **kwargs)


async def add_water_meter(
    hass: HomeAssistant, entry: MockConfigEntry, meter_id: str = "w101"
) -> dict[str, Any]:
    """Start adding an M-Bus meter: return its mbus step."""
    result = await start(hass, entry, "meter")
    result = await configure(
        hass, result, {"meter_id": meter_id, "name": "Unit 101", "medium": "water"}
    )
    result = await configure(hass, result, {"q3": 2.5, "q4": 3.125, "source": "mbus"})
    assert result["step_id"] == "mbus", result
    return result


async def test_add_an_mbus_meter_by_its_primary_address(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    device = gateway.add(water_meter("12345678", primary=5))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_water_meter(hass, entry)
    step = {"bus": "bus1", "scan": False}
    for address, error in (
        ("0", {"address": "meters_invalid_mbus_address"}),
        ("251", {"address": "meters_invalid_mbus_address"}),
        ("12345678", {"address": "meters_invalid_mbus_address"}),
        ("12345678FFFF0107", {"address": "meters_invalid_mbus_address"}),
        ("1234567G4D930107", {"address": "meters_invalid_mbus_address"}),
        ("6", {"base": "meters_no_answer"}),
    ):
        result = await configure(hass, result, {**step, "address": address})
        assert result["errors"] == error, address
    device.error_flags = 0x04
    result = await configure(hass, result, {**step, "address": "5"})
    assert result["errors"] == {"base": "meters_meter_error"}
    device.error_flags = 0
    result = await configure(hass, result, {**step, "address": " 005 "})
    # A water meter's credit is money or nothing.
    assert result["step_id"] == "prepaid"
    assert options(result, "prepaid") == ["none", "money"]
    assert result["description_placeholders"] == {"usage": "m³"}
    result = await configure(hass, result, {"prepaid": "none", "low_credit": 0})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = subentries(entry, "meter")
    assert dict(subentry.data) == {
        "meter_id": "w101",
        "medium": "water",
        "q3": 2.5,
        "q4": 3.125,
        "source": "mbus",
        "bus": "bus1",
        "address": "5",
        "prepaid": "none",
    }
    assert len(line_pool(hass)) == 0


async def test_add_an_mbus_meter_found_by_a_scan(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    gateway.add(water_meter("10000001"))
    gateway.add(water_meter("20000002", manufacturer="KAM", medium=0x16))
    # A heat meter on the same bus, and a meter the site already reads.
    gateway.add(water_meter("30000003", medium=0x04))
    known = gateway.add(water_meter("40000004"))
    known_address = str(SecondaryAddress("40000004", "SCW", 1, 0x07))
    entry = with_bus(
        gateway.port,
        [
            {
                "meter_id": "w100",
                "name": "Unit 100",
                "medium": "water",
                "q3": 2.5,
                "q4": 3.125,
                "source": "mbus",
                "bus": "bus1",
                "address": known_address,
            }
        ],
    )
    entry.add_to_hass(hass)
    assert known.manufacturer == "SCW"
    result = await add_water_meter(hass, entry)
    result = await configure(hass, result, {"bus": "bus1", "scan": True})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "meters_mbus_scan"
    assert result["description_placeholders"] == {"bus": "Building 101"}
    await hass.async_block_till_done()
    result = await configure(hass, result, None)
    assert result["step_id"] == "mbus_found"
    assert result["description_placeholders"] == {
        "found": "4",
        "taken": "1",
        "other": "1",
        "unresolved": "0",
    }
    found = options(result, "address")
    assert [option["label"] for option in found] == [
        "10000001 · SCW · Water",
        "20000002 · KAM · Cold water",
    ]
    picked = found[1]["value"]
    assert picked.startswith("20000002")
    assert len(picked) == 16
    result = await configure(hass, result, {"address": picked})
    assert result["step_id"] == "prepaid"
    result = await configure(
        hass, result, {"prepaid": "money", "tariff": 1.2, "low_credit": 2000}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = entry.subentries[
        next(s.subentry_id for s in subentries(entry, "meter") if s.unique_id == "w101")
    ].data
    assert (data["bus"], data["address"], data["prepaid"]) == ("bus1", picked, "money")
    assert len(line_pool(hass)) == 0


async def test_a_scan_that_finds_nothing_or_no_bus(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_water_meter(hass, entry)
    result = await configure(hass, result, {"bus": "bus1", "scan": True})
    await hass.async_block_till_done()
    result = await configure(hass, result, None)
    assert result["step_id"] == "mbus"
    assert result["errors"] == {"base": "meters_scan_found_none"}
    await gateway.stop()
    result = await configure(hass, result, {"bus": "bus1", "scan": True})
    await hass.async_block_till_done()
    result = await configure(hass, result, None)
    assert result["step_id"] == "mbus"
    assert result["errors"] == {"base": "meters_bus_cannot_connect"}
    assert len(line_pool(hass)) == 0


async def test_a_loaded_site_shares_its_bus_with_the_flows(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    first = gateway.add(SimMeter(PREPAID))
    second = gateway.add(SimMeter(OTHER))
    # No meter here is silent: a roomy timeout spares a busy machine a failed connect.
    entry = with_bus(
        gateway.port,
        [
            {
                "meter_id": "e101",
                "name": "Unit 101",
                "medium": "electricity",
                "source": "dlt645",
                "bus": "bus1",
                "address": PREPAID,
                "version": 2007,
            }
        ],
        timeout=2.0,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    # The first read of the bus runs as a background task.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert first.requests > 0
    pool = line_pool(hass)
    assert len(pool) == 1
    # The trial read borrows the site's own bus and waits its turn on it.
    result = await add_electricity_meter(hass, entry, "e102")
    result = await configure(
        hass,
        result,
        {"bus": "bus1", "version": "2007", "find": False, "address": OTHER},
    )
    assert second.requests > 0
    result = await configure(hass, result, {"prepaid": "none", "low_credit": 0})
    result = await configure(hass, result, {"relay_control": False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # A slower reply timeout for the bus the site holds open.
    result = await start(hass, entry, "bus", "bus1")
    result = await configure(hass, result, {"name": "Building 101", "transport": "tcp"})
    result = await configure(
        hass, result, gateway_form(gateway.port, reply_timeout=3.0)
    )
    assert result.get("reason") == "reconfigure_successful", result
    await hass.async_block_till_done()
    assert entry.subentries["bus1"].data["reply_timeout"] == 3.0
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(pool) == 0


# --- where things change while a form is open ---------------------------------------------


def ddc_line(port: int) -> LineConfig:
    """Return the Modbus line of a DDC behind the gateway at port."""
    return LineConfig(transport=Transport.RTU_OVER_TCP, host="127.0.0.1", port=port)


async def test_a_bus_deleted_while_the_form_is_open(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    """The bus was picked, then deleted from another tab: no read, a clear error."""
    gateway.add(SimMeter(PREPAID))
    device = gateway.add(water_meter("12345678", primary=5))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    # Four forms open at once, each about to be sent.
    typed = await add_electricity_meter(hass, entry, "e101")
    finding = await add_electricity_meter(hass, entry, "e102")
    scanning = await add_water_meter(hass, entry, "w101")
    addressed = await add_water_meter(hass, entry, "w102")
    assert hass.config_entries.async_remove_subentry(entry, "bus1")
    requests = gateway.stats.requests
    step = {"bus": "bus1", "version": "2007", "address": PREPAID}
    for form, user_input in (
        (typed, {**step, "find": False}),
        (finding, {**step, "find": True}),
        (scanning, {"bus": "bus1", "scan": True}),
        (addressed, {"bus": "bus1", "scan": False, "address": "5"}),
    ):
        result = await configure(hass, form, user_input)
        assert result["errors"] == {"bus": "meters_no_bus"}, user_input
        # The form now offers no bus at all.
        assert options(result, "bus") == []
    assert gateway.stats.requests == requests
    assert device.requests_seen == 0
    assert not subentries(entry, "meter")


async def test_a_meter_cannot_be_tried_on_a_port_a_ddc_holds(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    """A DDC set up on the bus's gateway since: the trial read says the port is in use."""
    meter = gateway.add(SimMeter(PREPAID))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    pool = line_pool(hass)
    line = pool.acquire(ddc_line(gateway.port))
    try:
        result = await add_electricity_meter(hass, entry)
        result = await configure(
            hass,
            result,
            {"bus": "bus1", "version": "2007", "find": False, "address": PREPAID},
        )
        assert result["errors"] == {"base": "meters_bus_port_in_use"}
        # Nor can the bus's timeout be changed on that port.
        result = await start(hass, entry, "bus", "bus1")
        result = await configure(
            hass, result, {"name": "Building 101", "transport": "tcp"}
        )
        result = await configure(
            hass, result, gateway_form(gateway.port, reply_timeout=1.0)
        )
        assert result["errors"] == {"base": "meters_bus_port_in_use"}
        assert entry.subentries["bus1"].data["reply_timeout"] == 0.3
    finally:
        await pool.release(line)
    assert meter.requests == 0
    assert not subentries(entry, "meter")
    assert len(pool) == 0


async def test_lines_on_other_ports_leave_a_new_bus_alone(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    """Another bus, a Modbus meter and a DDC elsewhere: the new gateway is free."""
    entry = site_entry([modbus_meter(closed_port())])
    entry.add_to_hass(hass)
    with_bus(closed_port()).add_to_hass(hass)
    MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data={
            "kind": "shelter",
            "transport": "rtu_over_tcp",
            "host": "127.0.0.1",
            "port": closed_port(),
            "slave": 1,
        },
    ).add_to_hass(hass)
    result = await start(hass, entry, "bus")
    result = await configure(hass, result, {"name": "Meters", "transport": "tcp"})
    result = await configure(hass, result, gateway_form(gateway.port, reply_timeout=2))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (bus,) = subentries(entry, "bus")
    assert bus.unique_id == f"net:127.0.0.1:{gateway.port}"


async def test_a_scanned_meter_that_stops_answering_is_not_added(
    hass: HomeAssistant, gateway: MeterBusServer
) -> None:
    device = gateway.add(water_meter("10000001"))
    entry = with_bus(gateway.port)
    entry.add_to_hass(hass)
    result = await add_water_meter(hass, entry)
    result = await configure(hass, result, {"bus": "bus1", "scan": True})
    await hass.async_block_till_done()
    result = await configure(hass, result, None)
    assert result["step_id"] == "mbus_found"
    (found,) = options(result, "address")
    device.silent = True
    result = await configure(hass, result, {"address": found["value"]})
    assert result["step_id"] == "mbus_found"
    assert result["errors"] == {"base": "meters_no_answer"}
    device.silent = False
    result = await configure(hass, result, {"address": found["value"]})
    assert result["step_id"] == "prepaid"

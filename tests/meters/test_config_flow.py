"""Adding a meter site, renaming it, its settings, and its meters as subentries."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import DOMAIN, EntryKind
from custom_components.smartcity_ddc.helpers import line_pool
from custom_components.smartcity_ddc.line import LineConfig, Transport
from devtools.simulator import ModbusDevice, SimulatorServer

from .conftest import push_meter, site_entry


def meters_of(entry: MockConfigEntry) -> list[dict[str, Any]]:
    """Return a site's meters as they were written before subentries: data plus name."""
    return [
        {**subentry.data, "name": subentry.title}
        for subentry in entry.subentries.values()
    ]


async def add_meter(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Open the site's "Add meter" flow."""
    return dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, "meter"), context={"source": SOURCE_USER}
        )
    )


async def configure(
    hass: HomeAssistant, result: dict[str, Any], user_input: dict[str, Any]
) -> dict[str, Any]:
    """Submit a step of a subentry flow."""
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], user_input
        )
    )


async def test_add_a_site(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["shelter", "cards", "meters"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "meters"}
    )
    assert result["step_id"] == "meters"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "   ", "gap_hours": 3, "leak_threshold": 1}
    )
    assert result["errors"] == {"name": "meters_invalid_name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"name": " 한빛 Apartments ", "gap_hours": 6, "leak_threshold": 2.5},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "한빛 Apartments"
    assert result["data"] == {"kind": EntryKind.METERS, "name": "한빛 Apartments"}
    assert result["options"] == {
        "gap_hours": 6.0,
        "leak_threshold": 2.5,
        "scan_interval": 300,
    }
    # A typed name is not a unique id.
    assert result["result"].unique_id is None
    # The same name again.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "meters"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"name": "한빛 apartments", "gap_hours": 3, "leak_threshold": 1},
    )
    assert result["errors"] == {"name": "meters_name_taken"}
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)


async def test_rename_a_site(hass: HomeAssistant) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    other = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        title="Other site",
        data={"kind": "meters", "name": "Other site"},
    )
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "meters"
    # Renaming only: the thresholds are options.
    assert {str(key) for key in result["data_schema"].schema} == {"name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "?"}
    )
    assert result["errors"] == {"name": "meters_invalid_name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Other site"}
    )
    assert result["errors"] == {"name": "meters_name_taken"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Hanbit 2단지"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Hanbit 2단지"
    await hass.async_block_till_done()
    assert entry.data["name"] == "Hanbit 2단지"
    # The rename reloaded the site.
    await hass.config_entries.async_unload(entry.entry_id)


async def test_thresholds(hass: HomeAssistant) -> None:
    entry = site_entry([push_meter("m101", "Unit 101")])
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "meters_settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"gap_hours": 12, "leak_threshold": 0.5, "scan_interval": 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["gap_hours"] == 12.0
    assert entry.options["leak_threshold"] == 0.5
    assert entry.options["scan_interval"] == 60
    assert meters_of(entry) == [push_meter("m101", "Unit 101")]


async def test_add_pushed_and_sensor_meters(hass: HomeAssistant) -> None:
    taken = site_entry([push_meter("m900", "Elsewhere")])
    taken.add_to_hass(hass)
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await add_meter(hass, entry)
    assert result["step_id"] == "user"
    meter = {"meter_id": "M101", "name": "Unit 101", "medium": "water"}
    for bad, error in (
        ({"meter_id": "unit 101"}, {"meter_id": "meters_invalid_meter_id"}),
        ({"meter_id": "_m101"}, {"meter_id": "meters_invalid_meter_id"}),
        ({"meter_id": "m" * 41}, {"meter_id": "meters_invalid_meter_id"}),
        ({"meter_id": "m900"}, {"meter_id": "meters_meter_exists"}),
        ({"name": " "}, {"name": "meters_invalid_name"}),
    ):
        result = await configure(hass, result, {**meter, **bad})
        assert result["errors"] == error
    result = await configure(hass, result, meter)
    assert result["step_id"] == "water"
    assert result["description_placeholders"] == {"meter": "m101"}
    # A water meter is read from a sensor, Modbus, the action or an M-Bus bus.
    assert set(_options(result, "source")) == {"sensor", "modbus", "push", "mbus"}
    result = await configure(hass, result, {"q3": 4.0, "q4": 3.0, "source": "push"})
    assert result["errors"] == {"q4": "meters_invalid_flow"}
    result = await configure(hass, result, {"q3": 2.5, "q4": 3.125, "source": "push"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meters_of(entry) == [push_meter("m101", "Unit 101", medium="water")]
    (subentry,) = entry.subentries.values()
    assert (subentry.unique_id, subentry.title) == ("m101", "Unit 101")

    result = await add_meter(hass, entry)
    result = await configure(
        hass, result, {**meter, "meter_id": "m102", "name": "Unit 102"}
    )
    result = await configure(hass, result, {"q3": 2.5, "q4": 3.125, "source": "sensor"})
    assert result["step_id"] == "sensor"
    result = await configure(hass, result, {"entity_id": "sensor.wallpad_water"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meters_of(entry)[1] == push_meter(
        "m102",
        "Unit 102",
        medium="water",
        source="sensor",
        entity_id="sensor.wallpad_water",
    )


def _options(result: dict[str, Any], field: str) -> list[str]:
    """Return the values a form's select field offers."""
    for key, value in result["data_schema"].schema.items():
        if str(key) == field:
            return [
                option["value"] if isinstance(option, dict) else option
                for option in value.config["options"]
            ]
    raise KeyError(field)


async def test_add_a_pushed_electricity_meter(hass: HomeAssistant) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await add_meter(hass, entry)
    result = await configure(
        hass, result, {"meter_id": "e101", "name": "Unit 101", "medium": "electricity"}
    )
    assert result["step_id"] == "electricity"
    # A sensor gives volumes only; M-Bus meters here are water meters.
    assert _options(result, "source") == ["dlt645", "modbus", "push"]
    result = await configure(hass, result, {"max_power": 12.5, "source": "push"})
    # Any electricity meter may be prepaid; without a bus it has no relay to switch.
    assert result["step_id"] == "prepaid"
    assert _options(result, "prepaid") == ["none", "money", "kwh"]
    assert result["description_placeholders"] == {"usage": "kWh"}
    result = await configure(
        hass, result, {"prepaid": "kwh", "tariff": 0.12, "low_credit": 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meters_of(entry) == [
        {
            "meter_id": "e101",
            "name": "Unit 101",
            "medium": "electricity",
            "max_power": 12.5,
            "source": "push",
            "prepaid": "kwh",
            "tariff": 0.12,
            "low_credit": 5.0,
        }
    ]


async def test_reconfigure_and_delete_meters(hass: HomeAssistant) -> None:
    entry = site_entry(
        [
            push_meter("m101", "Unit 101"),
            push_meter("m102", "Unit 102", source="sensor", entity_id="sensor.a"),
        ]
    )
    entry.add_to_hass(hass)
    m101, m102 = (
        subentry.subentry_id
        for subentry in sorted(entry.subentries.values(), key=lambda s: s.title)
    )
    result = dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, "meter"),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": m102},
        )
    )
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"meter": "m102"}
    # Id and medium stay: neither is asked.
    assert {str(key) for key in result["data_schema"].schema} == {
        "name",
        "q3",
        "q4",
        "source",
    }
    change = {"name": "Unit 102-B", "q3": 4.0, "q4": 5.0, "source": "push"}
    result = await configure(hass, result, {**change, "q4": 1.0})
    assert result["errors"] == {"q4": "meters_invalid_flow"}
    result = await configure(hass, result, {**change, "name": "   "})
    assert result["errors"] == {"name": "meters_invalid_name"}
    result = await configure(hass, result, change)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    # Changed in place, its id kept; a pushed meter keeps no sensor.
    assert meters_of(entry) == [
        push_meter("m101", "Unit 101"),
        push_meter("m102", "Unit 102-B", q3=4.0, q4=5.0, medium="water"),
    ]
    assert entry.subentries[m102].unique_id == "m102"
    assert hass.config_entries.async_remove_subentry(entry, m101)
    assert [m["meter_id"] for m in meters_of(entry)] == ["m102"]


async def test_shelter_entries_keep_their_own_options(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data={
            "kind": "shelter",
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": 502,
            "slave": 1,
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "shelter_options"
    assert "shelter_units" in result["menu_options"]
    # Only a meter site has subentries.
    assert entry.supported_subentry_types == {}


@pytest.fixture
def meter_device(simulator: SimulatorServer) -> ModbusDevice:
    """A plain register device at slave 5 holding 1000 L at holding 100-101."""
    device = simulator.add_device(5, ModbusDevice())
    device.set("holding", 101, 1000)
    return device


async def test_add_a_modbus_meter_reads_it_first(
    hass: HomeAssistant, simulator: SimulatorServer, meter_device: ModbusDevice
) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await add_meter(hass, entry)
    result = await configure(
        hass, result, {"meter_id": "m201", "name": "Shop 201", "medium": "water"}
    )
    result = await configure(hass, result, {"q3": 2.5, "q4": 3.125, "source": "modbus"})
    assert result["step_id"] == "modbus"
    where = {
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": simulator.port,
        "slave": 5,
        "register": 100,
        "register_kind": "holding",
        "scale": 0.001,
        "word_order": "big",
    }
    # Nobody at slave 9: the gateway says the target did not answer.
    result = await configure(hass, result, {**where, "slave": 9})
    assert result["errors"] == {"base": "meters_timeout"}
    meter_device.faults.exception_ranges.append(("holding", 100, 101, 2))
    result = await configure(hass, result, where)
    assert result["errors"] == {"base": "meters_read_refused"}
    meter_device.faults.clear()
    # Another entry uses this gateway with other framing.
    pool = line_pool(hass)
    other = pool.acquire(
        LineConfig(
            transport=Transport.RTU_OVER_TCP, host="127.0.0.1", port=simulator.port
        )
    )
    result = await configure(hass, result, where)
    assert result["errors"] == {"base": "meters_line_conflict"}
    await pool.release(other)
    simulator.refuse_connections()
    result = await configure(hass, result, where)
    assert result["errors"] == {"base": "meters_cannot_connect"}
    await simulator.clear_faults()
    result = await configure(hass, result, where)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert meters_of(entry) == [
        {
            "meter_id": "m201",
            "name": "Shop 201",
            "medium": "water",
            "q3": 2.5,
            "q4": 3.125,
            "source": "modbus",
            **where,
        }
    ]
    # The trial read gave its line back.
    assert len(pool) == 0

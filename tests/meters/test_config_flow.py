"""Adding a water-meter site, renaming it, and its options: thresholds and meters."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import DOMAIN, EntryKind
from custom_components.smartcity_ddc.helpers import line_pool
from custom_components.smartcity_ddc.line import LineConfig, Transport
from devtools.simulator import ModbusDevice, SimulatorServer

from .conftest import push_meter, site_entry


async def test_add_a_site(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["ddc", "cards", "water"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "water"}
    )
    assert result["step_id"] == "water"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "   ", "gap_hours": 3, "leak_threshold": 1}
    )
    assert result["errors"] == {"name": "water_invalid_name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"name": " 한빛 Apartments ", "gap_hours": 6, "leak_threshold": 2.5},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "한빛 Apartments"
    assert result["data"] == {"kind": EntryKind.WATER, "name": "한빛 Apartments"}
    assert result["options"] == {
        "gap_hours": 6.0,
        "leak_threshold": 2.5,
        "scan_interval": 300,
        "meters": [],
    }
    # The same name again.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "water"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"name": "한빛 apartments", "gap_hours": 3, "leak_threshold": 1},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "water_already_configured"
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)


async def test_rename_a_site(hass: HomeAssistant) -> None:
    entry = site_entry([])
    entry.add_to_hass(hass)
    other = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        unique_id="water:other_site",
        data={"kind": "water", "name": "Other site"},
    )
    other.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "water_reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "?"}
    )
    assert result["errors"] == {"name": "water_invalid_name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Hanbit 2단지"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Hanbit 2단지"
    await hass.async_block_till_done()
    assert entry.unique_id == "water:hanbit_2danji"
    assert entry.data["name"] == "Hanbit 2단지"
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Other site"}
    )
    assert result["reason"] == "water_already_configured"
    # The rename reloaded the site.
    await hass.config_entries.async_unload(entry.entry_id)


async def _options(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> dict[str, Any]:
    """Open the options of a site and pick a menu item."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "water"
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def test_thresholds(hass: HomeAssistant) -> None:
    entry = site_entry([push_meter("m101", "Unit 101")])
    entry.add_to_hass(hass)
    result = await _options(hass, entry, "water_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"gap_hours": 12, "leak_threshold": 0.5, "scan_interval": 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["gap_hours"] == 12.0
    assert entry.options["leak_threshold"] == 0.5
    assert entry.options["scan_interval"] == 60
    assert entry.options["meters"] == [push_meter("m101", "Unit 101")]


async def test_add_pushed_and_sensor_meters(hass: HomeAssistant) -> None:
    taken = site_entry([push_meter("m900", "Elsewhere")])
    taken.add_to_hass(hass)
    entry = site_entry([])
    entry.add_to_hass(hass)
    result = await _options(hass, entry, "water_add")
    meter = {
        "meter_id": "M101",
        "name": "Unit 101",
        "q3": 2.5,
        "q4": 3.125,
        "source": "push",
    }
    for bad, error in (
        ({"meter_id": "unit 101"}, {"meter_id": "water_invalid_meter_id"}),
        ({"meter_id": "_m101"}, {"meter_id": "water_invalid_meter_id"}),
        ({"meter_id": "m" * 41}, {"meter_id": "water_invalid_meter_id"}),
        ({"meter_id": "m900"}, {"meter_id": "water_meter_exists"}),
        ({"q3": 4.0, "q4": 3.0}, {"q4": "water_invalid_flow"}),
        ({"name": " "}, {"name": "water_invalid_name"}),
    ):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**meter, **bad}
        )
        assert result["errors"] == error
    result = await hass.config_entries.options.async_configure(result["flow_id"], meter)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["meters"] == [push_meter("m101", "Unit 101")]

    result = await _options(hass, entry, "water_add")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**meter, "meter_id": "m102", "name": "Unit 102", "source": "sensor"},
    )
    assert result["step_id"] == "water_sensor"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"entity_id": "sensor.wallpad_water"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["meters"][1] == push_meter(
        "m102", "Unit 102", source="sensor", entity_id="sensor.wallpad_water"
    )


async def test_edit_and_remove_meters(hass: HomeAssistant) -> None:
    entry = site_entry(
        [
            push_meter("m101", "Unit 101"),
            push_meter("m102", "Unit 102", source="sensor", entity_id="sensor.a"),
        ]
    )
    entry.add_to_hass(hass)
    result = await _options(hass, entry, "water_edit")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"meter": "m102"}
    )
    assert result["step_id"] == "water_meter"
    assert result["description_placeholders"] == {"meter": "m102"}
    change = {"name": "Unit 102-B", "q3": 4.0, "q4": 5.0, "source": "push"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**change, "q4": 1.0}
    )
    assert result["errors"] == {"q4": "water_invalid_flow"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], change
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Changed in place; a pushed meter keeps no sensor.
    assert entry.options["meters"] == [
        push_meter("m101", "Unit 101"),
        push_meter("m102", "Unit 102-B", q3=4.0, q4=5.0),
    ]
    result = await _options(hass, entry, "water_remove")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"meters": ["m101"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert [m["meter_id"] for m in entry.options["meters"]] == ["m102"]
    result = await _options(hass, entry, "water_remove")
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"meters": ["m102"]}
    )
    for step in ("water_edit", "water_remove"):
        result = await _options(hass, entry, step)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "water_no_meters"


async def test_ddc_entries_keep_their_own_options(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data={
            "kind": "ddc",
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": 502,
            "slave": 1,
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert "units" in result["menu_options"]


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
    result = await _options(hass, entry, "water_add")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "meter_id": "m201",
            "name": "Shop 201",
            "q3": 2.5,
            "q4": 3.125,
            "source": "modbus",
        },
    )
    assert result["step_id"] == "water_modbus"
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
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**where, "slave": 9}
    )
    assert result["errors"] == {"base": "water_timeout"}
    meter_device.faults.exception_ranges.append(("holding", 100, 101, 2))
    result = await hass.config_entries.options.async_configure(result["flow_id"], where)
    assert result["errors"] == {"base": "water_read_refused"}
    meter_device.faults.clear()
    # Another entry uses this gateway with other framing.
    pool = line_pool(hass)
    other = pool.acquire(
        LineConfig(
            transport=Transport.RTU_OVER_TCP, host="127.0.0.1", port=simulator.port
        )
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], where)
    assert result["errors"] == {"base": "water_line_conflict"}
    await pool.release(other)
    simulator.refuse_connections()
    result = await hass.config_entries.options.async_configure(result["flow_id"], where)
    assert result["errors"] == {"base": "water_cannot_connect"}
    await simulator.clear_faults()
    result = await hass.config_entries.options.async_configure(result["flow_id"], where)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["meters"] == [
        {
            "meter_id": "m201",
            "name": "Shop 201",
            "q3": 2.5,
            "q4": 3.125,
            "source": "modbus",
            **where,
        }
    ]
    # The trial read gave its line back.
    assert len(pool) == 0

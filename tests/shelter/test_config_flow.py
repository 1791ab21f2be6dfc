"""Config, reconfigure and options flows of a DDC entry, against the simulator."""

from __future__ import annotations

import socket
from typing import Any

from homeassistant import config_entries
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DOMAIN,
)
from custom_components.smartcity_ddc.shelter.const import (
    CONF_ADDED_UNITS,
    CONF_POWER_RULE,
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
    CONF_UNIT_PORTS,
    PowerRule,
)
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile_text
from devtools.simulator import ShelterDdc, SimulatorServer


def _free_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_ddc_flow(hass: HomeAssistant, transport: str = "tcp") -> str:
    """Open the flow, choose the DDC and a transport; return the flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["shelter", "cards", "meters"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "shelter"}
    )
    assert result["step_id"] == "shelter"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TRANSPORT: transport}
    )
    assert result["step_id"] == (
        "shelter_serial" if transport == "serial" else "shelter_network"
    )
    return str(result["flow_id"])


def _network(port: int, slave: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_SLAVE: slave,
        CONF_SCAN_INTERVAL: 15,
        **extra,
    }


async def test_user_flow_creates_a_tcp_entry(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    flow_id = await _start_ddc_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(simulator.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "DDC 1 @ 127.0.0.1"
    assert result["data"] == {
        CONF_KIND: "shelter",
        CONF_TRANSPORT: "tcp",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: simulator.port,
        CONF_SLAVE: 1,
    }
    assert result["options"] == {CONF_SCAN_INTERVAL: 15, CONF_POWER_RULE: "refuse"}
    # Which DDC an entry is comes from its line and slave id, not a unique id
    # made of a host name.
    assert result["result"].unique_id is None
    await hass.async_block_till_done()
    assert hass.states.get("switch.interior_light_1") is not None


async def test_user_flow_rtu_over_tcp_gateway(
    hass: HomeAssistant, ddc_clock: Any, socket_enabled: None
) -> None:
    async with SimulatorServer(framer="rtu", auto_tick=False) as gateway:
        gateway.add_device(5, ShelterDdc(clock=ddc_clock))
        flow_id = await _start_ddc_flow(hass, "rtu_over_tcp")
        result = await hass.config_entries.flow.async_configure(
            flow_id, _network(gateway.port, slave=5)
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_TRANSPORT] == "rtu_over_tcp"
        entry = result["result"]
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_user_flow_serial_adapter(
    hass: HomeAssistant, serial_ddc: tuple[str, SimulatorServer]
) -> None:
    path, _server = serial_ddc
    flow_id = await _start_ddc_flow(hass, "serial")
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "serial_port": path,
            "baudrate": "9600",
            "bytesize": "8",
            "parity": "none",
            "stopbits": "1",
            CONF_SLAVE: 1,
            CONF_SCAN_INTERVAL: 10,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"DDC 1 @ {path}"
    assert result["data"]["baudrate"] == 9600
    assert result["result"].data["parity"] == "none"
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_serial_form_offers_this_machines_ports(hass: HomeAssistant) -> None:
    flow_id = await _start_ddc_flow(hass, "serial")
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "serial_port": "/dev/ttyNOPE9",
            "baudrate": "19200",
            "bytesize": "8",
            "parity": "even",
            "stopbits": "1",
            CONF_SLAVE: 1,
            CONF_SCAN_INTERVAL: 10,
        },
    )
    assert result["errors"] == {"base": "shelter_cannot_connect"}
    # The form comes back with what was entered.
    schema = result["data_schema"].schema
    defaults = {str(key): key.default() for key in schema if hasattr(key, "default")}
    assert defaults["serial_port"] == "/dev/ttyNOPE9"
    assert defaults["baudrate"] == "19200"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("closed_port", "shelter_cannot_connect"),
        ("silent", "shelter_timeout"),
        ("unknown_slave", "shelter_no_response"),
        ("refuses_everything", "shelter_not_a_ddc"),
        ("illegal_function", "shelter_device_error"),
    ],
)
async def test_connection_errors_are_shown_and_the_form_recovers(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
    fault: str,
    error: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.smartcity_ddc.helpers.DEFAULT_TIMEOUT", 0.3)
    port, slave = simulator.port, 1
    if fault == "closed_port":
        port = _free_port()
    elif fault == "silent":
        ddc.faults.silent = True
    elif fault == "unknown_slave":
        slave = 9
    elif fault == "refuses_everything":
        for kind in ("coil", "discrete", "holding", "input"):
            ddc.faults.exception_ranges.append((kind, 0, 65535, 2))
    else:
        for kind in ("coil", "discrete", "holding", "input"):
            ddc.faults.exception_ranges.append((kind, 0, 65535, 1))
    flow_id = await _start_ddc_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(port, slave)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    ddc.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(simulator.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_line_and_slave_is_refused(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    flow_id = await _start_ddc_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(simulator.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_second_ddc_on_the_same_line_shares_it(
    hass: HomeAssistant,
    setup_ddc: MockConfigEntry,
    simulator: SimulatorServer,
    ddc_clock: Any,
) -> None:
    simulator.add_device(2, ShelterDdc(clock=ddc_clock, seed=2))
    flow_id = await _start_ddc_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(simulator.port, slave=2)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert simulator.stats.connections == 1


async def test_other_framing_on_a_line_in_use_is_a_conflict(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    flow_id = await _start_ddc_flow(hass, "rtu_over_tcp")
    result = await hass.config_entries.flow.async_configure(
        flow_id, _network(simulator.port, slave=2)
    )
    assert result["errors"] == {"base": "shelter_line_conflict"}


async def test_reconfigure_changes_the_connection_and_keeps_entities(
    hass: HomeAssistant,
    setup_ddc: MockConfigEntry,
    ddc_clock: Any,
    entity_registry: er.EntityRegistry,
) -> None:
    before = {
        e.unique_id
        for e in er.async_entries_for_config_entry(entity_registry, setup_ddc.entry_id)
    }
    async with SimulatorServer(framer="tcp", auto_tick=False) as moved:
        moved.add_device(1, ShelterDdc(clock=ddc_clock))
        result = await setup_ddc.start_reconfigure_flow(hass)
        assert result["step_id"] == "shelter"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_TRANSPORT: "tcp"}
        )
        assert result["step_id"] == "shelter_network"
        # Reconfigure changes how the DDC is reached, not which DDC it is.
        assert {str(key) for key in result["data_schema"].schema} == {
            CONF_HOST,
            CONF_PORT,
        }
        assert result["description_placeholders"] == {"slave": "1"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: moved.port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert setup_ddc.data[CONF_PORT] == moved.port
        assert setup_ddc.data[CONF_SLAVE] == 1
        after = {
            e.unique_id
            for e in er.async_entries_for_config_entry(
                entity_registry, setup_ddc.entry_id
            )
        }
        assert after == before
        assert hass.states.get("switch.interior_light_1").state == "off"
        assert moved.stats.total_requests > 0
        assert await hass.config_entries.async_unload(setup_ddc.entry_id)


async def test_reconfigure_onto_another_entrys_ddc_is_refused(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    elsewhere = _free_port()
    other = MockConfigEntry(
        version=2, domain=DOMAIN, data={**setup_ddc.data, CONF_PORT: elsewhere}
    )
    other.add_to_hass(hass)
    result = await setup_ddc.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TRANSPORT: "tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: elsewhere}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_shows_connection_errors(
    hass: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    result = await setup_ddc.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TRANSPORT: "tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: _free_port()}
    )
    assert result["errors"] == {"base": "shelter_cannot_connect"}


# --- options ---------------------------------------------------------------------


async def _options_step(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["step_id"] == step
    return dict(result)


async def test_options_settings(
    hass: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    result = await _options_step(hass, setup_ddc, "shelter_settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 30, CONF_POWER_RULE: "manual_override"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_SCAN_INTERVAL] == 30
    coordinator = setup_ddc.runtime_data
    assert coordinator.power_rule is PowerRule.MANUAL_OVERRIDE
    assert coordinator.update_interval.total_seconds() == 30


async def test_options_remove_units_cleans_up_devices(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    result = await _options_step(hass, setup_ddc, "shelter_units")
    keep = [
        uid for uid in result["data_schema"]({})["units"] if not uid.startswith("d041")
    ]
    assert len(keep) == 11
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"units": keep}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_REMOVED_UNITS] == ["d041.u001", "d041.u002"]
    assert hass.states.get("switch.heated_bench_1") is None
    names = {
        d.name
        for d in dr.async_entries_for_config_entry(device_registry, setup_ddc.entry_id)
    }
    assert "Heated bench 1" not in names
    assert "Interior light 1" in names
    # Units taken out are still offered, unticked, to put back.
    result = await _options_step(hass, setup_ddc, "shelter_units")
    assert "d041.u001" not in result["data_schema"]({})["units"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"units": []}
    )
    assert result["errors"] == {"base": "shelter_no_units"}


async def test_options_move_a_relay_unit_to_another_output(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, ddc: ShelterDdc
) -> None:
    result = await _options_step(hass, setup_ddc, "shelter_relay_port")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"unit": "d041.u001", "port": "9"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_UNIT_PORTS] == {"d041.u001": 9}
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.heated_bench_1"}, blocking=True
    )
    assert ddc.get("coil", 376) == 1  # DO9's coil
    assert ddc.get("coil", 372) == 0


async def test_options_add_a_spare_relay(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, ddc: ShelterDdc
) -> None:
    result = await _options_step(hass, setup_ddc, "shelter_add_relay")
    user_input = {
        "unit_id": "d091.u001",
        "unit_type": "lighting",
        "name_ko": "간판조명",
        "name_en": "Sign light",
        "port": "10",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_ADDED_UNITS][0]["id"] == "d091.u001"
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.sign_light"}, blocking=True
    )
    assert ddc.get("input", 830) == 1
    # The same id again does not fit the profile.
    result = await _options_step(hass, setup_ddc, "shelter_add_relay")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["errors"] == {"base": "shelter_invalid_layout"}
    assert "unit id is already used" in result["description_placeholders"]["issues"]


async def test_options_relay_port_rejects_what_the_profile_cannot_hold(
    hass: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    text = standard_profile_text().replace(
        "  16: {auto: 367, power_command: 383, power_status: 836}\n", ""
    )
    setup_ddc_options = {**setup_ddc.options, CONF_PROFILE: text}
    hass.config_entries.async_update_entry(setup_ddc, options=setup_ddc_options)
    await hass.async_block_till_done()
    result = await _options_step(hass, setup_ddc, "shelter_relay_port")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"unit": "d041.u001", "port": "16"}
    )
    assert result["errors"] == {"base": "shelter_invalid_layout"}
    assert (
        "relay port 16 is not in relay_ports"
        in result["description_placeholders"]["issues"]
    )


async def test_options_profile_override_with_line_level_errors(
    hass: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    result = await _options_step(hass, setup_ddc, "shelter_profile")
    bad = standard_profile_text().replace("type: cooler", "type: freezer")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PROFILE: bad}
    )
    assert result["errors"] == {CONF_PROFILE: "shelter_invalid_profile"}
    assert (
        "line 51: units[2].type: unknown unit type 'freezer'"
        in result["description_placeholders"]["issues"]
    )
    # Correct the cooler's shared registers: give it addresses of its own.
    good = standard_profile_text().replace("auto: holding 352", "auto: holding 400")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PROFILE: good}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_PROFILE] == good.strip()
    # An empty profile goes back to the standard layout.
    result = await _options_step(hass, setup_ddc, "shelter_profile")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PROFILE: ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert setup_ddc.options[CONF_PROFILE] == ""

"""Setup, unload, devices, outages and repair issues of a DDC entry."""

from __future__ import annotations

import logging

from homeassistant.components.climate import ClimateEntityFeature, HVACMode
from homeassistant.components.fan import FanEntityFeature
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    EVENT_HOMEASSISTANT_STOP,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.compat import device_by_identifier
from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.helpers import DATA_LINES
from custom_components.smartcity_ddc.shelter.const import (
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
)
from custom_components.smartcity_ddc.shelter.coordinator import build_profile
from custom_components.smartcity_ddc.shelter.engine.errors import ProfileError
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile_text
from devtools.simulator import ShelterDdc, SimulatorServer

SWITCH = "switch.heated_bench_1"


async def test_devices_are_units_linked_to_the_ddc(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    entry_id = setup_ddc.entry_id
    hub = device_by_identifier(device_registry, (DOMAIN, entry_id), entry_id)
    assert hub is not None
    assert (hub.name, hub.manufacturer, hub.model) == (
        "DDC 1 @ 127.0.0.1",
        "Sungil",
        "DDC",
    )
    units = [
        d
        for d in dr.async_entries_for_config_entry(device_registry, setup_ddc.entry_id)
        if d.id != hub.id
    ]
    assert len(units) == 13
    assert all(unit.via_device_id == hub.id for unit in units)
    light = device_by_identifier(
        device_registry, (DOMAIN, f"{entry_id}_d011_u001"), entry_id
    )
    assert light is not None
    # Named by the translations; a product model, no per-device id as a model.
    assert (light.name, light.model, light.model_id) == (
        "Interior light 1",
        "Lighting (조명)",
        None,
    )


async def test_korean_installation_names_devices_in_korean(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    hass.config.language = "ko"
    ddc_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    light = device_by_identifier(
        device_registry, (DOMAIN, f"{ddc_entry.entry_id}_d011_u001"), ddc_entry.entry_id
    )
    assert light is not None
    assert light.name == "내부조명1"
    names = {
        state.attributes["friendly_name"] for state in hass.states.async_all("switch")
    }
    assert {"내부조명1", "내부조명1 스케줄 운전", "내부벤치1 스케줄 운전"} <= names
    await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_unload_releases_the_line(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    pool = hass.data[DATA_LINES]
    line = setup_ddc.runtime_data.client.line
    assert line.connected
    assert await hass.config_entries.async_unload(setup_ddc.entry_id)
    assert setup_ddc.state is ConfigEntryState.NOT_LOADED
    assert not line.connected
    assert len(pool) == 0


async def test_stopping_home_assistant_closes_every_line(
    hass: HomeAssistant, setup_ddc: MockConfigEntry
) -> None:
    line = setup_ddc.runtime_data.client.line
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not line.connected


async def test_unreachable_at_startup_retries_later(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, simulator: SimulatorServer
) -> None:
    simulator.refuse_connections()
    ddc_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(ddc_entry.entry_id)
    assert ddc_entry.state is ConfigEntryState.SETUP_RETRY
    assert len(hass.data[DATA_LINES]) == 0  # the line was given back


async def test_invalid_stored_profile_is_a_permanent_error(
    hass: HomeAssistant, ddc_entry: MockConfigEntry
) -> None:
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry, options={**ddc_entry.options, CONF_PROFILE: "units: []"}
    )
    await hass.config_entries.async_setup(ddc_entry.entry_id)
    assert ddc_entry.state is ConfigEntryState.SETUP_ERROR
    assert "a profile needs a non-empty list of units" in (ddc_entry.reason or "")


async def test_two_entries_with_different_framing_on_one_line_conflict(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    other = MockConfigEntry(
        version=2,
        domain=DOMAIN,
        data={**setup_ddc.data, "transport": "rtu_over_tcp", "slave": 2},
        options=setup_ddc.options,
    )
    other.add_to_hass(hass)
    await hass.config_entries.async_setup(other.entry_id)
    assert other.state is ConfigEntryState.SETUP_ERROR
    assert "already used as tcp" in (other.reason or "")


async def test_register_collisions_raise_a_repair_issue_that_names_them(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    issue = issue_registry.async_get_issue(
        DOMAIN, f"shelter_register_collision_{setup_ddc.entry_id}"
    )
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "shelter_register_collision"
    assert issue.translation_placeholders["count"] == "16"
    assert (
        "- holding 352: d011_u001.auto, d021_u001.auto"
        in issue.translation_placeholders["collisions"]
    )
    # A site profile without shared registers clears it.
    hass.config_entries.async_update_entry(
        setup_ddc,
        options={
            **setup_ddc.options,
            CONF_REMOVED_UNITS: ["d021.u001", "d022.u001", "d081.u002"],
        },
    )
    await hass.async_block_till_done()
    assert (
        issue_registry.async_get_issue(
            DOMAIN, f"shelter_register_collision_{setup_ddc.entry_id}"
        )
        is None
    )


async def test_outage_makes_everything_unavailable_logs_once_and_recovers(
    hass: HomeAssistant,
    setup_ddc: MockConfigEntry,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
    caplog: pytest.LogCaptureFixture,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = setup_ddc.runtime_data
    monkeypatch.setattr(
        "custom_components.smartcity_ddc.shelter.coordinator.UNREACHABLE_REPAIR_AFTER",
        0,
    )
    caplog.set_level(logging.INFO, logger="custom_components.smartcity_ddc")
    simulator.refuse_connections()
    for _ in range(3):
        coordinator.client.line.retry_now()  # no back-off between the polls below
        await coordinator.async_refresh()
    assert all(
        state.state == STATE_UNAVAILABLE
        for state in hass.states.async_all()
        if state.entity_id.split(".")[0]
        in ("switch", "sensor", "climate", "fan", "time", "binary_sensor")
    )
    unavailable_lines = [
        r for r in caplog.records if "Error fetching" in r.getMessage()
    ]
    assert len(unavailable_lines) == 1
    issue = issue_registry.async_get_issue(
        DOMAIN, f"shelter_unreachable_{setup_ddc.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "shelter_unreachable"
    await simulator.clear_faults()
    coordinator.client.line.retry_now()
    await coordinator.async_refresh()
    assert hass.states.get(SWITCH).state == STATE_OFF
    assert (
        len(
            [
                r
                for r in caplog.records
                if "Fetching" in r.getMessage() and "recovered" in r.getMessage()
            ]
        )
        == 1
    )
    assert (
        issue_registry.async_get_issue(
            DOMAIN, f"shelter_unreachable_{setup_ddc.entry_id}"
        )
        is None
    )


async def test_slow_ddc_times_out_and_recovers_without_reload(
    hass: HomeAssistant,
    ddc_entry: MockConfigEntry,
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("custom_components.smartcity_ddc.helpers.DEFAULT_TIMEOUT", 0.3)
    ddc_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = ddc_entry.runtime_data
    simulator.delay = 0.5  # answers arrive after the timeout
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert hass.states.get(SWITCH).state == STATE_UNAVAILABLE
    simulator.delay = 0.0
    coordinator.client.line.retry_now()
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert hass.states.get(SWITCH).state == STATE_OFF
    await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_command_during_an_outage_reports_it(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, simulator: SimulatorServer
) -> None:
    simulator.refuse_connections()
    with pytest.raises(HomeAssistantError) as excinfo:
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": SWITCH}, blocking=True
        )
    assert excinfo.value.translation_key == "shelter_cannot_connect"


async def test_profile_override_is_used(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, ddc: ShelterDdc
) -> None:
    text = standard_profile_text().replace(
        "  - id: d041.u001\n    type: bench\n",
        "  - id: d041.u001\n    type: bench\n    name: {ko: 온열의자, en: Warm seat}\n",
    )
    assert "Warm seat" in text
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry, options={**ddc_entry.options, CONF_PROFILE: text}
    )
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("switch.warm_seat") is not None
    await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_a_poll_writes_only_the_entities_whose_values_changed(
    hass: HomeAssistant,
    setup_ddc: MockConfigEntry,
    ddc: ShelterDdc,
    simulator: SimulatorServer,
) -> None:
    written: list[str] = []

    @callback
    def collect(event: Event) -> None:
        if event.data["entity_id"].split(".")[0] != "sensor" or "pm10" in str(
            event.data["entity_id"]
        ):
            written.append(event.data["entity_id"])

    @callback
    def every(_data: object) -> bool:
        return True

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_listen(event_type, collect, event_filter=every)
    await setup_ddc.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert written == []  # nothing changed: no entity writes, not even the calendar
    ddc.set("input", 134, 80)  # PM10
    await setup_ddc.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert written == ["sensor.air_quality_sensor_pm10"]
    assert hass.states.get("sensor.air_quality_sensor_pm10").state == "80"
    # An outage reaches every entity.
    written.clear()
    simulator.refuse_connections()
    await setup_ddc.runtime_data.async_refresh()
    await hass.async_block_till_done()
    entities = {
        state.entity_id
        for state in hass.states.async_all()
        if state.entity_id.split(".")[0] != "sensor" or "pm10" in state.entity_id
    }
    assert set(written) == entities
    assert all(hass.states.get(e).state == STATE_UNAVAILABLE for e in entities)


def test_ddcs_with_one_layout_share_one_parsed_profile() -> None:
    assert build_profile({}) is build_profile({"scan_interval": 30})
    custom = build_profile({CONF_REMOVED_UNITS: ["d021.u001"]})
    assert custom is not build_profile({})
    assert "d021_u001" not in {unit.uid for unit in custom.units}
    with pytest.raises(ProfileError):
        build_profile({CONF_PROFILE: "units: []"})


BARE_UNITS = """\
units:
  - id: d021.u001
    type: cooler
    name: {en: Plain cooler}
    points: {power: {read: input 823, write: coil 370}}
  - id: d021.u002
    type: cooler
    name: {en: Mode cooler}
    points:
      power: {read: input 824, write: coil 371}
      mode: {read: input 116, write: holding 122, map: {0: cool, 4: heat}}
  - id: d022.u001
    type: exchanger
    name: {en: Plain ventilator}
    points: {power: {read: input 825, write: coil 372}}
"""


async def test_units_of_a_site_profile_offer_only_what_their_ddc_has(
    hass: HomeAssistant, ddc_entry: MockConfigEntry, ddc: ShelterDdc
) -> None:
    # DO3-DO5 are under manual control and off; no unit has a schedule mode.
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry, options={**ddc_entry.options, CONF_PROFILE: BARE_UNITS}
    )
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()

    plain = hass.states.get("climate.plain_cooler")
    assert plain.attributes["hvac_modes"] == [HVACMode.OFF]
    assert plain.attributes["supported_features"] == (
        ClimateEntityFeature.TURN_ON | ClimateEntityFeature.TURN_OFF
    )
    assert "fan_modes" not in plain.attributes
    assert "temperature" not in plain.attributes
    await hass.services.async_call(
        "climate", "turn_on", {"entity_id": "climate.plain_cooler"}, blocking=True
    )
    assert ddc.get("coil", 370) == 1

    # Without a schedule mode there is no power rule to check first.
    mode_cooler = "climate.mode_cooler"
    assert hass.states.get(mode_cooler).attributes["hvac_modes"] == [
        HVACMode.OFF,
        HVACMode.COOL,
        HVACMode.HEAT,
    ]
    await hass.services.async_call(
        "climate",
        "set_hvac_mode",
        {"entity_id": mode_cooler, "hvac_mode": HVACMode.HEAT},
        blocking=True,
    )
    assert (ddc.get("holding", 122), ddc.get("coil", 371)) == (4, 1)
    assert hass.states.get(mode_cooler).state == HVACMode.HEAT

    fan = hass.states.get("fan.plain_ventilator")
    assert fan.attributes["supported_features"] == (
        FanEntityFeature.TURN_ON | FanEntityFeature.TURN_OFF
    )
    assert "preset_modes" not in fan.attributes
    await hass.services.async_call(
        "fan", "turn_on", {"entity_id": "fan.plain_ventilator"}, blocking=True
    )
    assert ddc.get("coil", 372) == 1
    assert hass.states.get("fan.plain_ventilator").state == STATE_ON
    await hass.config_entries.async_unload(ddc_entry.entry_id)

"""Sensors: the integrated air-quality sensor."""

from __future__ import annotations

from homeassistant.const import (
    CONF_SCAN_INTERVAL,
    STATE_UNAVAILABLE,
    EntityCategory,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.smartcity_ddc.const import DOMAIN, EntryKind
from devtools.simulator import ShelterDdc, SimulatorServer
from tests.helpers import entity_snapshot, only_platforms

LINE_LOAD = "sensor.ddc_1_127_0_0_1_line_load"


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.SENSOR]


async def test_entities(
    hass: HomeAssistant, setup_platforms: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    entities = entity_snapshot(hass, setup_platforms.entry_id)
    # The line's load is measured (round trips of this run): only its form is fixed.
    load = entities[LINE_LOAD]
    assert 0 < float(load["state"]) < 100
    load["state"] = "measured"
    assert entities == snapshot


async def test_values_follow_the_ddc_and_bad_values_are_unavailable(
    hass: HomeAssistant, ddc: ShelterDdc, setup_platforms: MockConfigEntry
) -> None:
    ddc.set("input", 138, 45000)  # VOC above 32767: read unsigned
    ddc.set("input", 139, -52)  # -5.2 °C: signed x10
    await setup_platforms.runtime_data.async_refresh()
    assert hass.states.get("sensor.air_quality_sensor_voc").state == "45000"
    assert hass.states.get("sensor.air_quality_sensor_temperature").state == "-5.2"
    ddc.faults.garbage[("input", 140)] = 1500  # 150 % humidity
    await setup_platforms.runtime_data.async_refresh()
    assert (
        hass.states.get("sensor.air_quality_sensor_humidity").state == STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.air_quality_sensor_pm10").state == "35"


async def test_line_load_is_a_diagnostic_of_the_ddc_itself(
    hass: HomeAssistant, setup_platforms: MockConfigEntry
) -> None:
    coordinator = setup_platforms.runtime_data
    line = coordinator.client.line
    entity = er.async_get(hass).async_get(LINE_LOAD)
    assert entity is not None
    assert entity.entity_category is EntityCategory.DIAGNOSTIC
    device = dr.async_get(hass).async_get(entity.device_id)
    assert device is not None
    assert device.identifiers == {(DOMAIN, setup_platforms.entry_id)}
    # One DDC polled every 10 s: its wire-model need, corrected by the round
    # trips measured on this line (a Modbus TCP simulator: far faster than RS-485).
    assert line.users == 1
    assert line.load == pytest.approx(
        coordinator.client.wire_per_round(10.0) / 10 * line.correction
    )
    assert 0 < line.correction < 0.5
    await coordinator.async_refresh()
    # The refresh measured more round trips: the load moves with them, and
    # each state written shows it as it is then.
    coordinator.async_update_listeners()
    assert float(hass.states.get(LINE_LOAD).state) == round(line.load * 100, 1)


async def test_an_overloaded_line_is_reported_until_it_is_given_up(
    hass_seoul: HomeAssistant,
    ddc_entry: MockConfigEntry,
    simulator: SimulatorServer,
) -> None:
    hass = hass_seoul
    # A slow gateway: every answer takes 1.5 s, and the DDC is polled every 2 s.
    simulator.delay = 1.5
    ddc_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        ddc_entry, options={**ddc_entry.options, CONF_SCAN_INTERVAL: 2}
    )
    with only_platforms(EntryKind.SHELTER, [Platform.SENSOR]):
        assert await hass.config_entries.async_setup(ddc_entry.entry_id)
        await hass.async_block_till_done()
        line = ddc_entry.runtime_data.client.line
        issue_id = f"shelter_line_overloaded_127_0_0_1_{simulator.port}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert line.load > 1
        assert issue is not None
        assert issue.translation_key == "shelter_line_overloaded"
        assert issue.translation_placeholders == {
            "line": f"tcp 127.0.0.1:{simulator.port}",
            "load": f"{line.load * 100:.0f}",
            "ddcs": "1",
            "round": f"{line.load * 2:.1f}",
            "interval": "2",
        }
        assert float(hass.states.get(LINE_LOAD).state) > 100
        await hass.config_entries.async_unload(ddc_entry.entry_id)
        await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

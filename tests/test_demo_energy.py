"""The demo's Energy dashboard sources, as this Home Assistant's own energy API takes them."""

from __future__ import annotations

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from devtools.demo import (
    ELECTRICITY as PREPAID_METER,
    MBUS,
    energy_sources,
    meter_statistics,
)

WATER = ["smartcity_ddc:water_apt101_1203", "smartcity_ddc:water_shelter_tap"]
ELECTRICITY = [
    "smartcity_ddc:electricity_apt101_1203",
    "smartcity_ddc:electricity_shop",
]


@pytest.fixture(autouse=True)
def _enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """As the repository's fixture, but the recorder's database comes before hass."""
    if "recorder_mock" in request.fixturenames:
        request.getfixturevalue("recorder_mock")
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")


async def _save_and_read(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, sources: list
) -> list:
    """Save sources through energy/save_prefs and read back what the energy integration kept."""
    assert await async_setup_component(hass, "energy", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "energy/save_prefs", "energy_sources": sources}
    )
    saved = await client.receive_json()
    assert saved["success"], saved.get("error")
    await client.send_json_auto_id({"type": "energy/get_prefs"})
    prefs = await client.receive_json()
    assert prefs["success"]
    return list(prefs["result"]["energy_sources"])


async def test_water_meters_become_water_sources(
    recorder_mock: Recorder, hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    kept = await _save_and_read(hass, hass_ws_client, energy_sources({"water": WATER}))
    assert [(s["type"], s["stat_energy_from"]) for s in kept] == [
        ("water", statistic_id) for statistic_id in WATER
    ]


async def test_electricity_meters_become_grid_consumption(
    recorder_mock: Recorder, hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """Grid sources in this release's shape: one listing every meter, or one per meter."""
    kept = await _save_and_read(
        hass,
        hass_ws_client,
        energy_sources({"water": WATER, "electricity": ELECTRICITY}),
    )
    water = [s["stat_energy_from"] for s in kept if s["type"] == "water"]
    grid = [s for s in kept if s["type"] == "grid"]
    consumed = [
        flow["stat_energy_from"]
        for source in grid
        for flow in source.get("flow_from", [source])
    ]
    assert water == WATER
    assert consumed == ELECTRICITY


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="gas"):
        energy_sources({"gas": ["smartcity_ddc:gas_1"]})


async def test_the_demo_meters_are_energy_sources(
    recorder_mock: Recorder, hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """The demo's bus meters: the M-Bus meter a water source, the prepaid meter grid consumption."""
    statistics = meter_statistics()
    assert f"smartcity_ddc:water_{MBUS.meter_id}" in statistics["water"]
    assert statistics["electricity"] == [
        f"smartcity_ddc:electricity_{PREPAID_METER.meter_id}"
    ]
    kept = await _save_and_read(hass, hass_ws_client, energy_sources(statistics))
    water = [s["stat_energy_from"] for s in kept if s["type"] == "water"]
    consumed = [
        flow["stat_energy_from"]
        for source in kept
        if source["type"] == "grid"
        for flow in source.get("flow_from", [source])
    ]
    assert water == statistics["water"]
    assert consumed == statistics["electricity"]

"""Diagnostics of a water site: settings, each meter's history and statistics, no hosts."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_dumps
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.diagnostics import (
    async_get_config_entry_diagnostics,
)
from devtools.simulator import SimulatorServer

from .conftest import DAY1, push_meter, seoul
from .helpers import at, push

# Real sockets: the clock may not stand still (see test_sources.py).
pytestmark = pytest.mark.freeze_time(DAY1, tick=True)


@pytest.fixture
def water_meters(simulator: SimulatorServer) -> list[dict[str, Any]]:
    """A pushed meter, a Modbus meter at a slave id nobody answers to, a relay meter without its bus."""
    return [
        push_meter("m101", "Unit 101"),
        {
            **push_meter("m201", "Shop 201"),
            "source": "modbus",
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": simulator.port,
            "slave": 9,
            "register": 100,
            "register_kind": "holding",
            "scale": 0.001,
            "word_order": "big",
        },
        {
            "meter_id": "e301",
            "name": "Shop 301",
            "medium": "electricity",
            "source": "dlt645",
            "bus": "removed",
            "address": "000000000301",
            "version": 2007,
            "relay_control": True,
            "meter_password": "02135790",
            "operator_code": "86420864",
        },
    ]


async def test_diagnostics(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await at(hass, freezer, seoul(1, 1))
    await push(hass, "m101", 3.0)
    await at(hass, freezer, seoul(1, 2))
    await push(hass, "m101", 3.5, flags=["low_battery"])
    diagnostics = await async_get_config_entry_diagnostics(hass, setup_water)
    assert diagnostics["entry"]["title"] == "Hanbit Apartments"
    meters = {meter["title"]: meter["data"] for meter in diagnostics["entry"]["meters"]}
    assert meters["Shop 201"]["host"] == "**REDACTED**"
    assert meters["Shop 201"]["register"] == 100
    # The relay codes stay in the entry.
    assert meters["Shop 301"]["meter_password"] == "**REDACTED**"
    assert meters["Shop 301"]["operator_code"] == "**REDACTED**"
    assert "02135790" not in str(diagnostics)
    assert diagnostics["rules"] == {"gap": 10800, "leak_threshold": 0.001}
    assert diagnostics["long_term_statistics"] is False
    m101 = diagnostics["meters"]["m101"]
    assert m101["source"] == "push"
    assert (m101["stored_readings"], m101["received_readings"]) == (2, 2)
    assert m101["first_valid"] == int(seoul(1, 1).timestamp())
    assert m101["summary"]["usage_today"] == 0.5
    assert m101["summary"]["status"] == "low_battery"
    assert m101["summary"]["problems"] == ["low_battery"]
    # Home Assistant serves it as JSON: everything in it must encode.
    assert json_dumps(diagnostics)
    m201 = diagnostics["meters"]["m201"]
    assert m201["line"] == "tcp"
    # The gateway reports that slave 9 does not answer.
    assert "slave 9" in m201["last_error"]
    assert m201["stored_readings"] == 0
    assert diagnostics["aggregates"]["water"]["today"]["meters_read"] == 1
    assert diagnostics["aggregates"]["water"]["yesterday"]["meters"] == 0

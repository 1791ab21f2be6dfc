"""Diagnostics download of a DDC entry."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator


async def test_diagnostics(
    hass: HomeAssistant, setup_ddc: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    result = await get_diagnostics_for_config_entry(hass, hass_client, setup_ddc)
    assert result["entry"]["data"]["host"] == "**REDACTED**"
    assert result["entry"]["data"]["transport"] == "tcp"
    assert result["line"]["transport"] == "tcp"
    assert result["line"]["connects"] == 1
    assert result["profile"]["name"] == "standard_shelter"
    assert len(result["profile"]["units"]) == 13
    assert (
        "holding 352: d011_u001.auto, d021_u001.auto" in result["profile"]["collisions"]
    )
    assert result["poll"]["last_requests"] == 5
    assert result["poll"]["last_plan"][0] == "coil 370+1"
    assert result["raw_registers"]["holding 352"] == 1
    assert result["units"]["d021_u001"]["summer_target"] == 24.0
    assert result["refused_registers"] == []
    assert result["last_update_success"] is True
    assert "127.0.0.1" not in str(result)

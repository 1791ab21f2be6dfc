"""Fixtures for the blueprint tests: a config dir holding this repository's blueprints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import shutil
from typing import Any

from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

# The entry kinds' own fixtures, reused as they are: the DDC, and the card sync
# (a MariaDB on 127.0.0.1 and a fresh interface table per test).
from tests.cards.conftest import (  # noqa: F401
    card_table,
    cards_entry,
    groups,
    setup_cards,
)
from tests.shelter.conftest import ddc_entry, hass_seoul, setup_ddc  # noqa: F401

BLUEPRINTS = Path(__file__).parents[2] / "blueprints" / "automation" / "smartcity_ddc"
AUTOMATION = "automation.under_test"


@pytest.fixture
async def config_dir(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[Path]:
    """A config dir of its own with the repository's blueprints, as a user imports them."""
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(
        BLUEPRINTS, tmp_path / "blueprints" / "automation" / "smartcity_ddc"
    )
    assert await async_setup_component(hass, "homeassistant", {})
    yield tmp_path
    # Stop the automation's time triggers before Home Assistant checks for leftover timers.
    if hass.states.get(AUTOMATION) is not None:
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": AUTOMATION}, blocking=True
        )


async def use_blueprint(hass: HomeAssistant, name: str, **inputs: Any) -> str:
    """Create an automation from a blueprint of this repository; return its entity id."""
    config = {
        "automation": [
            {
                "id": "under_test",
                "alias": "Under test",
                "use_blueprint": {"path": f"smartcity_ddc/{name}", "input": inputs},
            }
        ]
    }
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    state = hass.states.get(AUTOMATION)
    # An automation whose blueprint or inputs are invalid is created unavailable.
    assert state is not None
    assert state.state == STATE_ON, state.attributes
    return AUTOMATION

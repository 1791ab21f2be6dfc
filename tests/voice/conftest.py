"""Fixtures for the Assist tests: a DDC set up in a chosen language, Assist with or without the shipped sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import shutil

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from devtools.simulator import ShelterDdc
from tests.shelter.conftest import ddc_entry  # noqa: F401

CUSTOM_SENTENCES = Path(__file__).parents[2] / "custom_sentences"


@pytest.fixture
def language() -> str:
    """Home Assistant's language, which names the devices (English unless a test says)."""
    return "en"


@pytest.fixture
def install_sentences() -> bool:
    """Whether the shipped custom sentences are installed (yes unless a test says)."""
    return True


@pytest.fixture
def power_rule() -> PowerRule:
    """The entry's power rule (refuse unless a test says)."""
    return PowerRule.REFUSE


@pytest.fixture
def shelter(ddc: ShelterDdc) -> ShelterDdc:
    """The simulated DDC with known values to act on and to ask about.

    Interior light 1 (DO1, also the cooler/heater's power) runs by hand; the
    summer target is 20.0 °C so a command to 24 shows; the air-quality sensor
    reads 21.3 °C and the cooler/heater 25.5 °C.
    """
    ddc.set_port(1, auto=False)
    ddc.set("holding", 125, 200)
    ddc.set("input", 139, 213)
    ddc.set("input", 120, 255)
    return ddc


@pytest.fixture
async def assist(
    hass: HomeAssistant,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    language: str,
    install_sentences: bool,
    power_rule: PowerRule,
    shelter: ShelterDdc,
) -> AsyncIterator[MockConfigEntry]:
    """The DDC set up with its devices named in `language`, and Assist ready."""
    entry: MockConfigEntry = request.getfixturevalue("ddc_entry")
    await hass.config.async_set_time_zone("Asia/Seoul")
    hass.config.language = language
    hass.config.config_dir = str(tmp_path)
    if install_sentences:
        # As a user installs them: <config>/custom_sentences/<language>/*.yaml
        shutil.copytree(CUSTOM_SENTENCES, tmp_path / "custom_sentences")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_POWER_RULE: power_rule}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for component in ("homeassistant", "conversation", "intent"):
        assert await async_setup_component(hass, component, {})
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

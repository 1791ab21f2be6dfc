"""A shelter stored by the previous release (config entry version 1) migrates with all it had."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import DOMAIN
from devtools.simulator import SimulatorServer
from tests.helpers import downgrade_to_version_1, registry_of


async def test_a_shelter_keeps_its_entities_and_devices(
    hass_seoul: HomeAssistant,
    ddc_entry: MockConfigEntry,
    simulator: SimulatorServer,
) -> None:
    hass = hass_seoul
    ddc_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    before = registry_of(hass, ddc_entry.entry_id)
    assert len(before[0]) > 50
    issues = ir.async_get(hass)
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"register_collision_{ddc_entry.entry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="shelter_register_collision",
    )
    await downgrade_to_version_1(
        hass,
        ddc_entry,
        data={**ddc_entry.data, "kind": "ddc"},
        unique_id=f"net:127.0.0.1:{simulator.port}#1",
    )

    assert await hass.config_entries.async_setup(ddc_entry.entry_id)
    await hass.async_block_till_done()
    assert ddc_entry.state is ConfigEntryState.LOADED
    assert (ddc_entry.version, ddc_entry.data["kind"]) == (2, "shelter")
    # No unique id made of a host name any more.
    assert ddc_entry.unique_id is None
    assert registry_of(hass, ddc_entry.entry_id) == before
    assert hass.states.get("switch.interior_light_1").state == "off"
    # The old issue id went; the new one is raised afresh.
    assert (
        issues.async_get_issue(DOMAIN, f"register_collision_{ddc_entry.entry_id}")
        is None
    )
    assert issues.async_get_issue(
        DOMAIN, f"shelter_register_collision_{ddc_entry.entry_id}"
    )
    assert await hass.config_entries.async_unload(ddc_entry.entry_id)


async def test_a_serial_shelter_stores_parity_as_a_word(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        version=1,
        domain=DOMAIN,
        unique_id="serial:/dev/ttyNOPE0#1",
        data={
            "kind": "ddc",
            "transport": "serial",
            "serial_port": "/dev/ttyNOPE0",
            "baudrate": 9600,
            "bytesize": 8,
            "parity": "E",
            "stopbits": 1,
            "slave": 1,
        },
        options={"scan_interval": 10, "power_rule": "refuse"},
    )
    entry.add_to_hass(hass)
    # No adapter at that path: the entry migrates, then waits for its line.
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.version == 2
    assert entry.data["parity"] == "even"
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_entry_from_a_newer_release_is_left_alone(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(version=3, domain=DOMAIN, data={"kind": "meters"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.version == 3


async def test_a_version_1_entry_of_an_unknown_kind_is_not_guessed(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(version=1, domain=DOMAIN, data={"kind": "elevator"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert (entry.version, dict(entry.data)) == (1, {"kind": "elevator"})


async def test_an_entry_from_a_newer_minor_release_loads_unchanged(
    hass: HomeAssistant, ddc_entry: MockConfigEntry
) -> None:
    # A later 2.x release may add to an entry without changing its meaning:
    # this release reads it as it is.
    entry = MockConfigEntry(
        version=2,
        minor_version=9,
        domain=DOMAIN,
        title=ddc_entry.title,
        data=dict(ddc_entry.data),
        options=dict(ddc_entry.options),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (2, 9)
    assert hass.states.get("switch.interior_light_1") is not None
    await hass.config_entries.async_unload(entry.entry_id)

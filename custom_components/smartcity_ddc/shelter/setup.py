"""Set up, remove and migrate entries of the shelter job; the Job the integration routes to."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import issue_registry as ir

from ..const import CONF_PARITY, CONF_SLAVE, DOMAIN, LOGGER, EntryKind
from ..entity import device_identifier
from ..helpers import (
    async_prune_devices,
    async_register_hub,
    async_report_issue,
    line_config,
    line_pool,
)
from ..job import Job
from ..line import LineConflictError
from . import binary_sensor, calendar, climate, diagnostics, fan, sensor, switch, time
from .const import MANUFACTURER
from .coordinator import ShelterConfigEntry, ShelterCoordinator, build_profile
from .engine.client import DdcClient
from .engine.errors import ProfileError
from .errors import ERROR_KEYS
from .flow import ShelterOptionsFlow
from .names import async_unit_names

#: Repair issues a shelter raises, by the entry they belong to.
_ISSUES = ("shelter_unreachable_{}", "shelter_register_collision_{}")


async def async_setup_entry(hass: HomeAssistant, entry: ShelterConfigEntry) -> None:
    """Connect to a DDC, poll it once and register its devices."""
    try:
        profile = await hass.async_add_executor_job(build_profile, entry.options)
        line = line_pool(hass).acquire(line_config(entry.data))
    except (ProfileError, LineConflictError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key=ERROR_KEYS.key(err),
            translation_placeholders={"line": "", "unit": "", "error": str(err)},
        ) from err
    coordinator = ShelterCoordinator(
        hass, entry, DdcClient(line, entry.data[CONF_SLAVE], profile)
    )
    if coordinator.update_interval is not None:
        # A gateway that is back must be found by this DDC's next poll.
        line.limit_backoff(coordinator.update_interval.total_seconds() / 2)
    coordinator.unit_names = await async_unit_names(hass, profile.units)
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()

    async_register_hub(hass, entry, model="DDC", manufacturer=MANUFACTURER)
    # Units taken out of the layout leave no orphaned devices behind.
    async_prune_devices(
        hass,
        entry,
        {device_identifier(entry.entry_id, unit.uid) for unit in profile.units},
    )

    collision_issue = f"shelter_register_collision_{entry.entry_id}"
    if collisions := profile.collisions():
        LOGGER.warning(
            "%s: %d registers are used by more than one unit: %s",
            entry.title,
            len(collisions),
            "; ".join(map(str, collisions)),
        )
        async_report_issue(
            hass,
            collision_issue,
            translation_key="shelter_register_collision",
            placeholders={
                "title": entry.title,
                "count": str(len(collisions)),
                "collisions": "\n".join(f"- {collision}" for collision in collisions),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, collision_issue)


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the repair issues a shelter raised."""
    for issue in _ISSUES:
        ir.async_delete_issue(hass, DOMAIN, issue.format(entry.entry_id))


#: Version 1 stored a serial line's parity as pymodbus's letter.
_PARITY_WORDS = {"N": "none", "E": "even", "O": "odd"}


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Bring a version 1 shelter entry to version 2 (named job, parity words, no host in the unique id)."""
    data: dict[str, Any] = {**entry.data, "kind": EntryKind.SHELTER}
    if (parity := data.get(CONF_PARITY)) in _PARITY_WORDS:
        data[CONF_PARITY] = _PARITY_WORDS[parity]
    for old in ("unreachable_{}", "register_collision_{}"):
        ir.async_delete_issue(hass, DOMAIN, old.format(entry.entry_id))
    hass.config_entries.async_update_entry(entry, data=data, unique_id=None)


JOB = Job(
    kind=EntryKind.SHELTER,
    async_setup_entry=async_setup_entry,
    platforms={
        Platform.BINARY_SENSOR: binary_sensor.entities,
        Platform.CALENDAR: calendar.entities,
        Platform.CLIMATE: climate.entities,
        Platform.FAN: fan.entities,
        Platform.SENSOR: sensor.entities,
        Platform.SWITCH: switch.entities,
        Platform.TIME: time.entities,
    },
    options_flow=ShelterOptionsFlow,
    diagnostics=diagnostics.diagnostics,
    async_remove_entry=async_remove_entry,
    async_migrate_entry=async_migrate_entry,
)

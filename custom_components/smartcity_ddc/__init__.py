"""The Smart City DDC integration: shelters, access cards and meters, one job per entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from .const import CONF_KIND, DOMAIN, ENTRY_VERSION, LOGGER, EntryKind
from .jobs import JOBS, job_of

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

#: Entries with a reload scheduled that has not read the entry yet.
_RELOADS: HassKey[set[str]] = HassKey(f"{DOMAIN}_reloads")

#: The kind names version 1 entries stored.
_V1_KINDS = {
    "ddc": EntryKind.SHELTER,
    "cards": EntryKind.CARDS,
    "water": EntryKind.METERS,
}


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register every job's actions."""
    for job in JOBS.values():
        if job.async_setup_services is not None:
            job.async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up one config entry of any job."""
    # Registered before anything is read from the entry: a change stored while
    # the entry sets up (or between a reload's unload and this setup) reloads
    # it again, so the running entry always ends as the stored one.
    entry.async_on_unload(entry.add_update_listener(_async_reload_on_change))
    hass.data.setdefault(_RELOADS, set()).discard(entry.entry_id)
    job = job_of(entry)
    await job.async_setup_entry(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, list(job.platforms))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload a config entry; its coordinator ends its work and releases what it holds."""
    hass.data.setdefault(_RELOADS, set()).discard(entry.entry_id)
    return await hass.config_entries.async_unload_platforms(
        entry, list(job_of(entry).platforms)
    )


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove what a deleted entry left behind (repair issues, stored data)."""
    await job_of(entry).async_remove_entry(hass, entry)


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry stored by an older release to this release's shape."""
    if entry.version > ENTRY_VERSION:
        # Stored by a newer release: refuse rather than guess.
        return False
    if entry.version == 1:
        kind = _V1_KINDS.get(str(entry.data.get(CONF_KIND)))
        if kind is None:
            return False
        await JOBS[kind].async_migrate_entry(hass, entry)
        hass.config_entries.async_update_entry(entry, version=2, minor_version=1)
        LOGGER.info("Migrated %s to config entry version 2", entry.title)
    return True


async def _async_reload_on_change(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Reload an entry after its options or subentries changed.

    Changes in quick succession (five meters added one after another) need
    one reload, not five: a reload that has not set the entry up yet will
    read all of them.
    """
    pending = hass.data.setdefault(_RELOADS, set())
    if entry.entry_id in pending:
        return
    pending.add(entry.entry_id)
    hass.config_entries.async_schedule_reload(entry.entry_id)

"""Every job of the integration, by the kind of entry that does it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .cards.setup import JOB as CARDS
from .const import CONF_KIND, EntryKind
from .job import Job
from .meters.setup import JOB as METERS
from .shelter.setup import JOB as SHELTER

JOBS: Final[dict[EntryKind, Job]] = {
    EntryKind.SHELTER: SHELTER,
    EntryKind.CARDS: CARDS,
    EntryKind.METERS: METERS,
}


def job_of(entry: ConfigEntry) -> Job:
    """Return the job a config entry does."""
    return JOBS[EntryKind(entry.data[CONF_KIND])]


def platform_setup(
    platform: Platform,
) -> Callable[
    [HomeAssistant, ConfigEntry, AddConfigEntryEntitiesCallback],
    Coroutine[Any, Any, None],
]:
    """Return a platform's async_setup_entry: the entry's job builds the entities.

    Entities that belong to a subentry (a meter of a site) are added to it.
    """

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: ConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        """Add the entities the entry's job has on this platform."""
        by_subentry: dict[str | None, list[Entity]] = {}
        for entity in job_of(entry).platforms[platform](entry.runtime_data):
            by_subentry.setdefault(getattr(entity, "subentry_id", None), []).append(
                entity
            )
        for subentry_id, entities in by_subentry.items():
            async_add_entities(entities, config_subentry_id=subentry_id)

    return async_setup_entry

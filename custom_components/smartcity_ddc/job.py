"""What each job (shelter, card sync, meter site) hands the integration's routing modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentryFlow, OptionsFlow
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity

from .const import EntryKind

if TYPE_CHECKING:
    from homeassistant.components.repairs import RepairsFlow

type EntryHook = Callable[[HomeAssistant, ConfigEntry], Awaitable[None]]


async def _nothing(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Do nothing (a job with nothing to clean up or migrate)."""


@dataclass(frozen=True, kw_only=True)
class Job:
    """One job's rooms: setup, entities per platform, flows, diagnostics, repairs.

    The top-level modules of the integration route to these by the entry's
    kind and know nothing else about a job.
    """

    kind: EntryKind
    #: Sets the entry up (its runtime data, devices, repair issues).
    async_setup_entry: EntryHook
    #: The entities of each platform, built from the entry's runtime data.
    platforms: Mapping[Platform, Callable[[Any], Iterable[Entity]]]
    options_flow: Callable[[], OptionsFlow]
    diagnostics: Callable[[Any], dict[str, Any]]
    #: Deletes what a removed entry left (stored data, repair issues).
    async_remove_entry: EntryHook = _nothing
    #: Brings an entry of config entry version 1 to version 2.
    async_migrate_entry: EntryHook = _nothing
    subentry_flows: Mapping[str, type[ConfigSubentryFlow]] = field(default_factory=dict)
    fix_flow: Callable[[HomeAssistant, Mapping[str, Any]], RepairsFlow] | None = None
    async_setup_services: Callable[[HomeAssistant], None] | None = None

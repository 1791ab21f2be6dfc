"""Test helpers shared across the suites."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.smartcity_ddc.compat import move_device_to_subentry
from custom_components.smartcity_ddc.const import EntryKind
from custom_components.smartcity_ddc.jobs import JOBS


def _unit(unit: str | None) -> str | None:
    """Spell a unit as the newest release does: µg/m³ with a Greek mu, not the micro sign."""
    return unit.replace("\u00b5", "\u03bc") if unit else unit


def _plain_keys(mapping: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return a copy keyed by plain strings (newer releases key attributes by StrEnum)."""
    return (
        None if mapping is None else {str(key): value for key, value in mapping.items()}
    )


def entity_snapshot(
    hass: HomeAssistant, entry_id: str, domain: str | None = None
) -> dict[str, Any]:
    """Describe every entity of an entry: what users and reviewers see, in a shape stable across HA releases.

    HA's own registry serializer gains fields between releases; this keeps the
    parts a change in name, unit, device class or category would touch. Units
    are spelled as the newest release spells them (compat.py takes each
    release's own unit constants), and attribute names as plain strings.
    """
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    result: dict[str, Any] = {}
    for entry in sorted(
        er.async_entries_for_config_entry(entities, entry_id), key=lambda e: e.entity_id
    ):
        if domain is not None and entry.domain != domain:
            continue
        device = devices.async_get(entry.device_id) if entry.device_id else None
        state = hass.states.get(entry.entity_id)
        attributes = _plain_keys(state.attributes) if state else None
        if attributes and "unit_of_measurement" in attributes:
            attributes["unit_of_measurement"] = _unit(attributes["unit_of_measurement"])
        result[entry.entity_id] = {
            "unique_id": entry.unique_id,
            "device": device.name if device else None,
            "original_name": entry.original_name,
            "translation_key": entry.translation_key,
            "device_class": entry.original_device_class,
            "entity_category": entry.entity_category,
            "unit": _unit(entry.unit_of_measurement),
            "disabled_by": entry.disabled_by,
            "capabilities": _plain_keys(entry.capabilities),
            "state": state.state if state else None,
            "attributes": attributes,
        }
    return result


@contextmanager
def only_platforms(kind: EntryKind, platforms: Iterable[Platform]) -> Iterator[None]:
    """Let a job set up only some of its platforms while the context lasts."""
    job = JOBS[kind]
    narrowed = replace(job, platforms={p: job.platforms[p] for p in platforms})
    with patch.dict(JOBS, {kind: narrowed}):
        yield


def registry_of(
    hass: HomeAssistant, entry_id: str
) -> tuple[dict[str, str], dict[str, frozenset[tuple[str, str]]]]:
    """Return the entry's entity ids by unique id, and its devices' identifiers by id."""
    entities = {
        e.unique_id: e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }
    devices = {
        d.id: frozenset(d.identifiers)
        for d in dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)
    }
    return entities, devices


async def downgrade_to_version_1(
    hass: HomeAssistant, entry: ConfigEntry, *, data: dict[str, Any], **changes: Any
) -> None:
    """Unload an entry and put it, and its registry links, back as version 1 stored them."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    entities, devices = er.async_get(hass), dr.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        entities.async_update_entity(entity.entity_id, config_subentry_id=None)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        move_device_to_subentry(devices, device, entry.entry_id, None)
    # Version 1 had no subentries; the manager offers no public way to drop
    # them without also dropping their devices, which version 1 kept.
    hass.config_entries._async_update_entry(entry, subentries={})
    hass.config_entries.async_update_entry(entry, version=1, data=data, **changes)

"""Set up, remove and migrate entries of the meters job; the Job the integration routes to."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import CONF_NAME, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.storage import Store

from ..compat import device_by_identifier, move_device_to_subentry
from ..const import CONF_KIND, DOMAIN, EntryKind
from ..entity import device_identifier
from ..helpers import async_prune_devices, async_register_hub
from ..job import Job
from . import binary_sensor, diagnostics, sensor, services, switch
from .const import CONF_METER_ID, SUBENTRY_BUS, SUBENTRY_METER
from .coordinator import STORAGE_VERSION, MetersConfigEntry, MetersCoordinator
from .flow import BusSubentryFlow, MetersOptionsFlow, MeterSubentryFlow


def _store_key(entry_id: str) -> str:
    """Return the storage key of a site's reading history."""
    return f"{DOMAIN}.water_{entry_id}"


async def async_setup_entry(hass: HomeAssistant, entry: MetersConfigEntry) -> None:
    """Load a site's history, read its meters once and register its devices."""
    coordinator = MetersCoordinator(hass, entry)
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()
    coordinator.start()
    async_register_hub(hass, entry, model="Meter site")
    # Meters taken out of the site leave no orphaned devices behind.
    async_prune_devices(
        hass,
        entry,
        {
            device_identifier(entry.entry_id, meter.part)
            for meter in coordinator.meters.values()
        },
    )


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete a removed site's stored history and ledgers, and its repair issues."""
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if (
            domain == DOMAIN
            and issue_id.startswith("meters_")
            and entry.entry_id in issue_id
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    await Store[Any](hass, STORAGE_VERSION, _store_key(entry.entry_id)).async_remove()


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Bring a version 1 water site to version 2: its meters become subentries.

    Every meter keeps its id (and so its statistic), its device, its entities
    and their ids; the stored reading history is keyed by meter id and stays.
    """
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    options = dict(entry.options)
    for meter in options.pop("meters", []):
        meter_id = meter[CONF_METER_ID]
        subentry = ConfigSubentry(
            data=MappingProxyType(
                {key: value for key, value in meter.items() if key != CONF_NAME}
            ),
            subentry_type=SUBENTRY_METER,
            title=meter.get(CONF_NAME) or meter_id,
            unique_id=meter_id,
        )
        hass.config_entries.async_add_subentry(entry, subentry)
        # Version 1 had water meters only.
        part = f"water_{meter_id}"
        # The entities first: moving the device removes from the registry
        # (with the user's names and settings) its entities left behind.
        prefix = f"{entry.entry_id}_{part}_"
        for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
            if entity.unique_id.startswith(prefix):
                entities.async_update_entity(
                    entity.entity_id, config_subentry_id=subentry.subentry_id
                )
        device = device_by_identifier(
            devices, device_identifier(entry.entry_id, part), entry.entry_id
        )
        if device is not None:
            move_device_to_subentry(
                devices, device, entry.entry_id, subentry.subentry_id
            )
    ir.async_delete_issue(hass, DOMAIN, f"water_recorder_missing_{entry.entry_id}")
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_KIND: EntryKind.METERS},
        options=options,
        unique_id=None,
    )


JOB = Job(
    kind=EntryKind.METERS,
    async_setup_entry=async_setup_entry,
    platforms={
        Platform.BINARY_SENSOR: binary_sensor.entities,
        Platform.SENSOR: sensor.entities,
        Platform.SWITCH: switch.entities,
    },
    options_flow=MetersOptionsFlow,
    diagnostics=diagnostics.diagnostics,
    async_remove_entry=async_remove_entry,
    async_migrate_entry=async_migrate_entry,
    subentry_flows={SUBENTRY_METER: MeterSubentryFlow, SUBENTRY_BUS: BusSubentryFlow},
    async_setup_services=services.async_setup_services,
)

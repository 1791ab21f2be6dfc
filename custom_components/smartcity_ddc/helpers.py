"""Device-registry helpers shared by the entry kinds."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN


def unit_device_identifier(entry_id: str, uid: str) -> tuple[str, str]:
    """Return the device registry identifier of a DDC unit."""
    return (DOMAIN, f"{entry_id}_{uid}")


def water_meter_identifier(entry_id: str, meter_id: str) -> tuple[str, str]:
    """Return the device registry identifier of a water meter."""
    return (DOMAIN, f"{entry_id}_water_{meter_id}")


@callback
def async_prune_devices(
    hass: HomeAssistant, entry: ConfigEntry, keep: set[tuple[str, str]]
) -> None:
    """Remove the entry's devices that are gone (units or meters taken out), keeping its hub.

    Each of these devices belongs to this entry alone (its identifier holds the
    entry id), so removing it is what detaching its only entry did before.
    """
    registry = dr.async_get(hass)
    keep = {*keep, (DOMAIN, entry.entry_id)}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & keep:
            registry.async_remove_device(device.id)

"""The Smart City DDC integration: shelters, access cards and water meters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import CONF_KIND, DOMAIN, EntryKind
from .coordinator import async_remove_ddc_entry, async_setup_ddc_entry
from .coordinator_cards import async_remove_cards_entry, async_setup_cards_entry
from .coordinator_water import async_remove_water_entry, async_setup_water_entry
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: Final[dict[EntryKind, list[Platform]]] = {
    EntryKind.DDC: [
        Platform.BINARY_SENSOR,
        Platform.CALENDAR,
        Platform.CLIMATE,
        Platform.FAN,
        Platform.SENSOR,
        Platform.SWITCH,
        Platform.TIME,
    ],
    EntryKind.CARDS: [Platform.BINARY_SENSOR, Platform.SENSOR],
    EntryKind.WATER: [Platform.BINARY_SENSOR, Platform.SENSOR],
}

type _EntryHook = Callable[[HomeAssistant, ConfigEntry], Awaitable[None]]

#: Each kind sets itself up (coordinator, devices, repair issues) beside its coordinator.
_SETUP: Final[dict[EntryKind, _EntryHook]] = {
    EntryKind.DDC: async_setup_ddc_entry,
    EntryKind.CARDS: async_setup_cards_entry,
    EntryKind.WATER: async_setup_water_entry,
}
_REMOVE: Final[dict[EntryKind, _EntryHook]] = {
    EntryKind.DDC: async_remove_ddc_entry,
    EntryKind.CARDS: async_remove_cards_entry,
    EntryKind.WATER: async_remove_water_entry,
}


def entry_kind(entry: ConfigEntry) -> EntryKind:
    """Return which job a config entry does."""
    return EntryKind(entry.data[CONF_KIND])


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Set up one config entry of any kind."""
    kind = entry_kind(entry)
    await _SETUP[kind](hass, entry)
    entry.async_on_unload(entry.add_update_listener(_async_reload_on_change))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS[kind])
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload a config entry; coordinators release their resources on unload."""
    return await hass.config_entries.async_unload_platforms(
        entry, PLATFORMS[entry_kind(entry)]
    )


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove what a deleted entry left behind (repair issues, stored data)."""
    await _REMOVE[entry_kind(entry)](hass, entry)


async def _async_reload_on_change(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Reload an entry after its options changed."""
    await hass.config_entries.async_reload(entry.entry_id)

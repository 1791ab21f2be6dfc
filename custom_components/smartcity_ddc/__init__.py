"""The Smart City DDC integration: shelters, access cards and water meters."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType

from .const import CONF_KIND, CONF_SLAVE, DOMAIN, LOGGER, MANUFACTURER, EntryKind
from .coordinator import (
    DdcConfigEntry,
    DdcCoordinator,
    build_profile,
    line_config,
    line_pool,
)
from .coordinator_cards import async_remove_cards_entry, async_setup_cards_entry
from .coordinator_water import STORAGE_VERSION, WaterConfigEntry, WaterCoordinator
from .ddc import DdcClient, LineConflictError, ProfileError
from .entity import unit_device_identifier, water_meter_identifier
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
    if kind is EntryKind.DDC:
        await _async_setup_ddc(hass, entry)
    elif kind is EntryKind.CARDS:
        await async_setup_cards_entry(hass, entry)
    elif kind is EntryKind.WATER:
        await _async_setup_water(hass, entry)
    entry.async_on_unload(entry.add_update_listener(_async_reload_on_change))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS[kind])
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Unload a config entry; coordinators release their resources on unload."""
    return await hass.config_entries.async_unload_platforms(
        entry, PLATFORMS[entry_kind(entry)]
    )


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove what an entry left behind: repair issues, a card sync's registry, a water site's history."""
    if entry_kind(entry) is EntryKind.CARDS:
        await async_remove_cards_entry(hass, entry)
    for issue_id in (
        f"unreachable_{entry.entry_id}",
        f"register_collision_{entry.entry_id}",
        f"water_recorder_missing_{entry.entry_id}",
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
    if entry_kind(entry) is EntryKind.WATER:
        await Store[Any](
            hass, STORAGE_VERSION, f"{DOMAIN}.water_{entry.entry_id}"
        ).async_remove()


async def _async_reload_on_change(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Reload an entry after its options changed."""
    await hass.config_entries.async_reload(entry.entry_id)


async def _async_setup_ddc(hass: HomeAssistant, entry: DdcConfigEntry) -> None:
    """Connect to a DDC, poll it once and register its devices."""
    try:
        profile = await hass.async_add_executor_job(build_profile, entry.options)
    except ProfileError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_profile",
            translation_placeholders={"issues": str(err)},
        ) from err
    pool = line_pool(hass)
    try:
        line = pool.acquire(line_config(entry.data))
    except LineConflictError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="line_conflict",
            translation_placeholders={"error": str(err)},
        ) from err
    coordinator = DdcCoordinator(
        hass, entry, DdcClient(line, entry.data[CONF_SLAVE], profile)
    )
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()

    device_registry = dr.async_get(hass)
    device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer=MANUFACTURER,
        model="DDC",
        name=entry.title,
    )
    # Units taken out of the layout leave no orphaned devices behind.
    current = {unit_device_identifier(entry.entry_id, unit) for unit in profile.units}
    current.add((DOMAIN, entry.entry_id))
    for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
        if not device.identifiers & current:
            device_registry.async_update_device(
                device.id, remove_config_entry_id=entry.entry_id
            )

    collision_issue = f"register_collision_{entry.entry_id}"
    if collisions := profile.collisions():
        LOGGER.warning(
            "%s: %d registers are used by more than one unit: %s",
            entry.title,
            len(collisions),
            "; ".join(map(str, collisions)),
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            collision_issue,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="register_collision",
            translation_placeholders={
                "title": entry.title,
                "count": str(len(collisions)),
                "collisions": "\n".join(f"- {collision}" for collision in collisions),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, collision_issue)


async def _async_setup_water(hass: HomeAssistant, entry: WaterConfigEntry) -> None:
    """Load a water site's history, read its meters once and register its devices."""
    coordinator = WaterCoordinator(hass, entry)
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()
    coordinator.start()

    device_registry = dr.async_get(hass)
    device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        model="Water meter site",
        name=entry.title,
    )
    # Meters taken out of the site leave no orphaned devices behind.
    current = {
        water_meter_identifier(entry.entry_id, meter_id)
        for meter_id in coordinator.meters
    }
    current.add((DOMAIN, entry.entry_id))
    for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id):
        if not device.identifiers & current:
            device_registry.async_update_device(
                device.id, remove_config_entry_id=entry.entry_id
            )

"""The base entity of every job: a translated name, a unique id and a device under its entry."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .compat import via_hub
from .const import DOMAIN


def device_identifier(entry_id: str, part: str | None = None) -> tuple[str, str]:
    """Return the registry identifier of an entry's hub (no part) or of one of its children."""
    return (DOMAIN, f"{entry_id}_{part}" if part else entry_id)


def child_device(
    hass: HomeAssistant, entry_id: str, part: str, info: DeviceInfo
) -> DeviceInfo:
    """Describe a device (a unit, a meter) that hangs off its entry's hub."""
    return DeviceInfo(
        **info,
        identifiers={device_identifier(entry_id, part)},
        **via_hub(hass, entry_id),
    )


class SmartCityEntity[CoordinatorT: DataUpdateCoordinator[Any]](
    CoordinatorEntity[CoordinatorT]
):
    """An entity of one entry, on the entry's hub or on one of its child devices.

    Its unique id is the entry id, the child's part (if any) and the
    description's key; names and icons come from the translations.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        description: EntityDescription,
        *,
        part: str | None = None,
        device: DeviceInfo | None = None,
    ) -> None:
        """Bind the description and place the entity on its device."""
        super().__init__(coordinator)
        assert coordinator.config_entry is not None
        entry_id = coordinator.config_entry.entry_id
        self.entity_description = description
        self._attr_unique_id = "_".join(
            item for item in (entry_id, part, description.key) if item
        )
        self._attr_device_info = device or DeviceInfo(
            identifiers={device_identifier(entry_id, part)}
        )

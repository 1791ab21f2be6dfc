"""Binary sensors of a card sync: whether the sync needs attention."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity

from .coordinator import CardsCoordinator
from .entity import CardsEntity

CARDS_SYNC_PROBLEM = BinarySensorEntityDescription(
    key="cards_sync_problem",
    translation_key="cards_sync_problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
    entity_category=EntityCategory.DIAGNOSTIC,
)


def entities(coordinator: CardsCoordinator) -> list[Entity]:
    """Return the sync-problem sensor."""
    return [CardsSyncProblemSensor(coordinator, CARDS_SYNC_PROBLEM)]


class CardsSyncProblemSensor(CardsEntity, BinarySensorEntity):
    """On while the sync fails, rejected rows wait for a look, or group codes lack a name."""

    @property
    def _error(self) -> str | None:
        """Return the translation key of the last failure, if the last sync failed."""
        if self.coordinator.last_update_success:
            return None
        err = self.coordinator.last_exception
        if isinstance(err, HomeAssistantError) and err.translation_key:
            return err.translation_key
        return "cards_database_error"

    @property
    def is_on(self) -> bool:
        """Return True while something needs attention."""
        data = self.coordinator.data
        return (
            self._error is not None
            or data.unacknowledged_rejected > 0
            or bool(data.unknown_groups)
        )

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Return what the problem is (no personal data)."""
        data = self.coordinator.data
        return {
            "error": self._error,
            "unacknowledged_rejected_rows": data.unacknowledged_rejected,
            "unknown_group_codes": sorted(data.unknown_groups),
        }

"""Sensors of a card sync: the registry's counts, per access group, and the last sync's figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.typing import StateType

from .coordinator import CardsCoordinator, CardsData
from .entity import CardsEntity


@dataclass(frozen=True, kw_only=True)
class CardsSensorEntityDescription(SensorEntityDescription):
    """A figure of the card registry or of the last sync."""

    value_fn: Callable[[CardsData], StateType | datetime]
    attrs_fn: Callable[[CardsData], Mapping[str, Any]] | None = None


def _summary_value(data: CardsData, name: str) -> int | None:
    """Return a count of the last successful sync."""
    return None if data.last_summary is None else int(getattr(data.last_summary, name))


CARDS_SENSORS: tuple[CardsSensorEntityDescription, ...] = (
    CardsSensorEntityDescription(
        key="cards_registered",
        translation_key="cards_registered",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.total,
        attrs_fn=lambda data: {
            "managers": data.managers,
            "residents": data.total - data.managers,
            "by_group": dict(sorted(data.by_group.items())),
            "unknown_group_cards": sum(data.unknown_groups.values()),
        },
    ),
    CardsSensorEntityDescription(
        key="cards_last_sync",
        translation_key="cards_last_sync",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.last_success,
    ),
    CardsSensorEntityDescription(
        key="cards_rows_applied",
        translation_key="cards_rows_applied",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: _summary_value(data, "applied"),
        attrs_fn=lambda data: {
            "issued": _summary_value(data, "issued"),
            "deleted": _summary_value(data, "deleted"),
        },
    ),
    CardsSensorEntityDescription(
        key="cards_rows_rejected",
        translation_key="cards_rows_rejected",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: _summary_value(data, "rejected"),
        attrs_fn=lambda data: {"unacknowledged": data.unacknowledged_rejected},
    ),
)


def entities(coordinator: CardsCoordinator) -> list[Entity]:
    """Return the registry's sensors and one per named access group."""
    return [
        *(CardsSensor(coordinator, description) for description in CARDS_SENSORS),
        *(
            CardsGroupSensor(coordinator, code, name)
            for code, name in sorted(coordinator.groups.items())
        ),
    ]


class CardsSensor(CardsEntity, SensorEntity):
    """A count or time of the card registry and its sync."""

    entity_description: CardsSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the figure."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return counts that belong with the figure (no personal data)."""
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.coordinator.data)


class CardsGroupSensor(CardsEntity, SensorEntity):
    """The cards of one lobby-phone access group."""

    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: CardsCoordinator, code: str, name: str) -> None:
        """Name the sensor after the group; its code is an attribute."""
        super().__init__(
            coordinator,
            SensorEntityDescription(
                key=f"cards_group_{code}", translation_key="cards_group"
            ),
        )
        self.code = code
        self._attr_translation_placeholders = {"group": name}
        self._attr_extra_state_attributes = {"code": code}

    @property
    def native_value(self) -> int:
        """Return the number of cards in the group."""
        return self.coordinator.data.by_group.get(self.code, 0)

"""Time entities: start and end of each unit's daily schedule windows."""

from __future__ import annotations

from datetime import time
from typing import Final

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.helpers.entity import Entity

from .coordinator import ShelterCoordinator
from .engine.profile import Unit
from .entity import DdcUnitEntity

_EDGE_KEYS: Final = {"start": "window_start", "end": "window_end"}


def entities(coordinator: ShelterCoordinator) -> list[Entity]:
    """Return a start and an end time for every schedule window."""
    return [
        WindowTime(coordinator, unit, number, edge)
        for unit in coordinator.profile.units
        for number in range(1, len(unit.windows) + 1)
        for edge in ("start", "end")
    ]


class WindowTime(DdcUnitEntity, TimeEntity):
    """One edge of a daily window (hour and minute registers together)."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(
        self, coordinator: ShelterCoordinator, unit: Unit, number: int, edge: str
    ) -> None:
        """Bind to window `number` (1-based) and its 'start' or 'end'."""
        description = TimeEntityDescription(
            key=f"window{number}_{edge}", translation_key=_EDGE_KEYS[edge]
        )
        super().__init__(coordinator, unit, description)
        self._number = number
        self._edge = edge
        self._attr_translation_placeholders = {"window": str(number)}

    @property
    def native_value(self) -> time | None:
        """Return the time the DDC holds."""
        windows = self.unit_state.windows
        if len(windows) < self._number:
            return None
        window = windows[self._number - 1]
        return window.start if self._edge == "start" else window.end

    @property
    def available(self) -> bool:
        """Return False while the DDC or these registers can't be read."""
        return super().available and self.native_value is not None

    async def async_set_value(self, value: time) -> None:
        """Write hour and minute, confirmed by read-back."""
        await self.coordinator.async_set_window(
            self.unit.uid, self._number, self._edge, value
        )

"""Repair flow of a card sync: acknowledge the rows it rejected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .coordinator import CardsCoordinator


class CardsRejectedRepairFlow(ConfirmRepairFlow):
    """Confirm that the rejected rows were taken up with the access-control vendor."""

    def __init__(self, entry_id: str) -> None:
        """Remember which card sync the rows belong to."""
        self.entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Mark every rejected row as handled once confirmed."""
        if user_input is not None:
            entry = self.hass.config_entries.async_get_entry(self.entry_id)
            if (
                entry is not None
                and entry.state is ConfigEntryState.LOADED
                and isinstance(entry.runtime_data, CardsCoordinator)
            ):
                await entry.runtime_data.async_acknowledge_rejected()
        return await super().async_step_confirm(user_input)


def fix_flow(hass: HomeAssistant, data: Mapping[str, Any]) -> RepairsFlow:
    """Return the repair flow of a card sync's rejected-rows issue."""
    return CardsRejectedRepairFlow(str(data["entry_id"]))

"""Repair flows: acknowledge the rows a card sync rejected."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .coordinator_cards import CardsCoordinator


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


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Return the repair flow of a fixable issue."""
    if issue_id.startswith("cards_rejected_") and data and "entry_id" in data:
        return CardsRejectedRepairFlow(str(data["entry_id"]))
    return ConfirmRepairFlow()

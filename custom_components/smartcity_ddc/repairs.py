"""Repair flows of fixable issues: the job of the issue's entry provides the flow."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .jobs import job_of


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Return the repair flow of a fixable issue (its data names the entry)."""
    entry = hass.config_entries.async_get_entry(str((data or {}).get("entry_id")))
    if entry is not None and (fix_flow := job_of(entry).fix_flow) is not None:
        return fix_flow(hass, data or {})
    return ConfirmRepairFlow()

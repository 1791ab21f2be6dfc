"""Diagnostics download of any entry: its job describes itself, nothing secret or personal."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .jobs import job_of


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry
) -> dict[str, Any]:
    """Return the diagnostics of an entry of any job."""
    return job_of(entry).diagnostics(entry)

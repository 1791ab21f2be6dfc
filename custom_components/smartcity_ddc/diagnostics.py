"""Diagnostics download: settings, profile, raw registers and statistics, nothing secret."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .coordinator import DdcCoordinator

TO_REDACT = {CONF_HOST}


def _ddc_diagnostics(entry: ConfigEntry, coordinator: DdcCoordinator) -> dict[str, Any]:
    """Describe one DDC entry."""
    client = coordinator.client
    snapshot = coordinator.data
    stats = asdict(client.stats)
    stats["last_plan"] = [
        f"{r.kind} {r.start}+{r.count}" for r in client.stats.last_plan
    ]
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "line": {
            "transport": client.line.config.transport,
            **asdict(client.line.stats),
        },
        "profile": {
            "name": client.profile.name,
            "address_offset": client.profile.address_offset,
            "units": [
                {
                    "uid": unit.uid,
                    "type": unit.type,
                    "port": unit.port,
                    "keys": sorted(unit.points),
                }
                for unit in client.profile.units
            ],
            "collisions": [str(collision) for collision in client.profile.collisions()],
        },
        "poll": stats,
        "last_update_success": coordinator.last_update_success,
        "raw_registers": {
            str(ref): value for ref, value in sorted(snapshot.raw.items())
        }
        if snapshot
        else {},
        "refused_registers": sorted(str(ref) for ref in snapshot.refused)
        if snapshot
        else [],
        "units": {uid: asdict(state) for uid, state in snapshot.units.items()}
        if snapshot
        else {},
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for an entry of any kind."""
    coordinator = entry.runtime_data
    if isinstance(coordinator, DdcCoordinator):
        return _ddc_diagnostics(entry, coordinator)
    return {}

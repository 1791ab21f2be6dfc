"""Diagnostics of a shelter: settings, profile, line and poll figures, raw registers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST

from .coordinator import ShelterConfigEntry

TO_REDACT = {CONF_HOST}


def diagnostics(entry: ShelterConfigEntry) -> dict[str, Any]:
    """Describe one shelter's DDC (its gateway's address redacted)."""
    coordinator = entry.runtime_data
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

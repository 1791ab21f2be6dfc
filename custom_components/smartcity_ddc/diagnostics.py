"""Diagnostics download: settings, profile, raw registers, meter histories; nothing secret.

A card sync's dump holds counts, the rejected log's reasons and the database
statistics; card numbers, holders' names and credentials never leave.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_DATABASE, CONF_TLS_CA_FILE, CONF_WATER_METERS
from .coordinator import DdcCoordinator
from .coordinator_cards import CardsCoordinator
from .coordinator_water import WaterCoordinator

TO_REDACT = {CONF_HOST}
CARDS_TO_REDACT = {
    CONF_HOST,
    CONF_USERNAME,
    CONF_PASSWORD,
    CONF_DATABASE,
    CONF_TLS_CA_FILE,
}


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


def _water_diagnostics(
    entry: ConfigEntry, coordinator: WaterCoordinator
) -> dict[str, Any]:
    """Describe one water site: settings, each meter's history and statistics."""
    data = coordinator.data
    meters: dict[str, Any] = {}
    for meter_id, meter in coordinator.site.meters.items():
        history = meter.history
        config = coordinator.meters[meter_id]
        span = history.span
        meters[meter_id] = {
            "source": config.source,
            "line": config.line.transport if config.line else None,
            "stored_readings": len(history),
            "received_readings": sum(history.weights()),
            "first_valid": span[0] if span else None,
            "last_valid": span[1] if span else None,
            "statistics_origin": history.origin,
            "rejected": dict(coordinator.rejected[meter_id]),
            "last_error": coordinator.last_error.get(meter_id),
            "summary": asdict(data.meters[meter_id]) if data else None,
        }
    return {
        "entry": {
            "title": entry.title,
            "data": dict(entry.data),
            "options": {
                **entry.options,
                "meters": [
                    async_redact_data(dict(meter), TO_REDACT)
                    for meter in entry.options.get(CONF_WATER_METERS, [])
                ],
            },
        },
        "rules": asdict(coordinator.site.rules),
        "long_term_statistics": coordinator.add_statistics is not None,
        "imported_rows": coordinator.imported_rows,
        "meters": meters,
        "today": asdict(data.today) if data else None,
        "yesterday": asdict(data.yesterday) if data else None,
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for an entry of any kind."""
    coordinator = entry.runtime_data
    if isinstance(coordinator, DdcCoordinator):
        return _ddc_diagnostics(entry, coordinator)
    if isinstance(coordinator, CardsCoordinator):
        return _cards_diagnostics(entry, coordinator)
    if isinstance(coordinator, WaterCoordinator):
        return _water_diagnostics(entry, coordinator)
    return {}


def _cards_diagnostics(
    entry: ConfigEntry, coordinator: CardsCoordinator
) -> dict[str, Any]:
    """Describe one card sync: counts and reasons only, nothing personal."""
    engine = coordinator.engine
    stats = engine.stats()
    summary = coordinator.last_summary
    error = coordinator.last_exception
    database = asdict(coordinator.database.stats)
    settings = coordinator.database.settings
    if database["last_error"]:
        for secret in (settings.host, settings.user, settings.database):
            database["last_error"] = database["last_error"].replace(
                secret, "**REDACTED**"
            )
    return {
        "entry": {
            "title": "**REDACTED**",
            "data": async_redact_data(dict(entry.data), CARDS_TO_REDACT),
            "options": dict(entry.options),
        },
        "registry": {
            "total": stats.total,
            "managers": stats.managers,
            "by_group": dict(sorted(stats.by_group.items())),
            "unknown_groups": engine.unknown_groups(),
            "pending_deletes": len(engine.pending),
        },
        "rejected": [
            {
                key: row.get(key)
                for key in ("idx", "reason", "column", "flag", "at", "acknowledged")
            }
            for row in engine.rejected
        ],
        "database": database,
        "last_update_success": coordinator.last_update_success,
        "last_error": type(error).__name__ if error else None,
        "last_error_key": getattr(error, "translation_key", None),
        "last_success": coordinator.last_success.isoformat()
        if coordinator.last_success
        else None,
        "last_summary": summary.as_dict() if summary else None,
    }

"""Diagnostics of a card sync: counts, the rejected log's reasons, database figures; nothing personal.

Card numbers, holders' names and credentials never leave.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME

from .const import CONF_DATABASE, CONF_TLS_CA_FILE
from .coordinator import CardsConfigEntry

TO_REDACT = {
    CONF_HOST,
    CONF_USERNAME,
    CONF_PASSWORD,
    CONF_DATABASE,
    CONF_TLS_CA_FILE,
}


def diagnostics(entry: CardsConfigEntry) -> dict[str, Any]:
    """Describe one card sync: counts and reasons only, nothing personal."""
    coordinator = entry.runtime_data
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
            "data": async_redact_data(dict(entry.data), TO_REDACT),
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

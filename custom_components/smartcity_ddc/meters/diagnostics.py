"""Diagnostics of a meter site: settings, each meter's history and statistics (gateway addresses and relay codes redacted)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST

from .const import CONF_METER_PASSWORD, CONF_OPERATOR_CODE
from .coordinator import MetersConfigEntry

TO_REDACT = {CONF_HOST, CONF_METER_PASSWORD, CONF_OPERATOR_CODE}


def diagnostics(entry: MetersConfigEntry) -> dict[str, Any]:
    """Describe one meter site: settings, each meter's history and statistics."""
    coordinator = entry.runtime_data
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
            "summary": asdict(data.meters[meter_id].summary) if data else None,
            "live": asdict(data.meters[meter_id].live) if data else None,
        }
    return {
        "entry": {
            "title": entry.title,
            "data": dict(entry.data),
            "options": dict(entry.options),
            "meters": [
                {
                    "title": subentry.title,
                    "data": async_redact_data(dict(subentry.data), TO_REDACT),
                }
                for subentry in entry.subentries.values()
            ],
        },
        "rules": asdict(coordinator.site.rules),
        "long_term_statistics": coordinator.add_statistics is not None,
        "imported_rows": coordinator.imported_rows,
        "meters": meters,
        "aggregates": {
            medium: {"today": asdict(today), "yesterday": asdict(yesterday)}
            for medium, (today, yesterday) in data.aggregates.items()
        }
        if data
        else None,
    }

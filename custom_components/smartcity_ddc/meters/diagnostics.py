"""Diagnostics of a meter site: settings, buses, each meter's history, reads, statistics and credit.

Redacted: gateway addresses (also inside error texts), meter passwords and
operator codes; STS tokens are left out (only how many top-ups had one).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST

from .const import CONF_METER_PASSWORD, CONF_OPERATOR_CODE
from .coordinator import MetersConfigEntry, MetersCoordinator
from .engine.prepaid import LedgerError
from .engine.stats import MeterSummary, SiteAggregate

TO_REDACT = {CONF_HOST, CONF_METER_PASSWORD, CONF_OPERATOR_CODE}
REDACTED = "**REDACTED**"


def _scrub(coordinator: MetersCoordinator, text: str | None) -> str | None:
    """Return an error text without the gateway addresses it may name."""
    if text is None:
        return None
    for settings in coordinator.bus_settings.values():
        if settings.config.host:
            text = text.replace(settings.config.host, REDACTED)
    for meter in coordinator.meters.values():
        if meter.line is not None and meter.line.host:
            text = text.replace(meter.line.host, REDACTED)
    return text


def _summary(summary: MeterSummary) -> dict[str, Any]:
    """Return a meter's statistics as JSON can hold them (problems as a sorted list)."""
    return {**asdict(summary), "problems": sorted(summary.problems)}


def _aggregate(aggregate: SiteAggregate) -> dict[str, Any]:
    """Return a day's 검침집계 as JSON can hold it (the day as an ISO date)."""
    return {**asdict(aggregate), "day": aggregate.day.isoformat()}


def _credit(coordinator: MetersCoordinator, meter_id: str) -> dict[str, Any] | None:
    """Describe a prepaid meter's ledger without its tokens."""
    if coordinator.meters[meter_id].prepaid is None:
        return None
    if meter_id in coordinator.credit.damaged:
        return {"ledger": "damaged"}
    ledger = coordinator.credit.ledgers.get(meter_id)
    if ledger is None:
        return {"ledger": None}
    top_ups = ledger.top_ups
    try:
        total: float | None = float(ledger.total())
    except LedgerError:
        total = None
    return {
        "ledger": {
            "start": ledger.start,
            "start_index": float(ledger.start_index),
            "unit": ledger.unit.value,
            "tariff": None if ledger.tariff is None else float(ledger.tariff),
            "top_ups": len(top_ups),
            "with_token": sum(1 for top_up in top_ups if top_up.token),
            "total": total,
        },
        "low_credit_announced": meter_id in coordinator.credit.low,
    }


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
            "last_error": _scrub(coordinator, coordinator.last_error.get(meter_id)),
            "bus_read": None
            if (result := coordinator.bus_results.get(meter_id)) is None
            else {
                "status": result.status.value,
                "reasons": list(result.reasons),
                "detail": _scrub(coordinator, result.detail),
                "refused": list(result.refused),
            },
            "credit": _credit(coordinator, meter_id),
            "summary": _summary(data.meters[meter_id].summary) if data else None,
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
        "buses": {
            bus_id: {
                "name": bus.settings.name,
                "transport": bus.settings.config.transport.value,
                "interval_minutes": bus.settings.interval.total_seconds() / 60,
                "meters": len(bus.meters),
                "stats": {
                    **asdict(bus.bus.stats),
                    "last_error": _scrub(coordinator, bus.bus.stats.last_error),
                },
                "unreachable_rounds": coordinator.unreachable_rounds[bus_id],
            }
            for bus_id, bus in coordinator.buses.items()
        },
        "long_term_statistics": coordinator.add_statistics is not None,
        "imported_rows": coordinator.imported_rows,
        "meters": meters,
        "aggregates": {
            medium: {"today": _aggregate(today), "yesterday": _aggregate(yesterday)}
            for medium, (today, yesterday) in data.aggregates.items()
        }
        if data
        else None,
    }

"""Coordinator of one access-card sync: runs the sync engine, stores the registry, reports.

The card registry is local (Home Assistant storage), so the entry loads and its
entities and actions keep working while the complex server is unreachable;
the "sync problem" binary sensor shows the outage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from ..const import DOMAIN, LOGGER
from ..helpers import EntryWork, async_report_issue, polling
from .const import (
    CONF_DATABASE,
    CONF_TABLE,
    CONF_TLS,
    CONF_TLS_CA_FILE,
    CONF_TLS_VERIFY,
    CONNECT_TIMEOUT,
    DEFAULT_MYSQL_PORT,
    DEFAULT_SCAN_INTERVAL,
    EVENT_CARD_DELETED,
    EVENT_CARD_ISSUED,
    EVENT_CARD_REJECTED,
    QUERY_TIMEOUT,
)
from .engine.database import CardDatabase, DbSettings, tls_context
from .engine.errors import (
    CardSyncAuthError,
    CardSyncColumnMissingError,
    CardSyncError,
    CardSyncPermissionError,
)
from .engine.model import DEFAULT_TABLE
from .engine.sync import CardEvent, CardSync, EventKind, SyncSummary
from .errors import ERROR_KEYS

type CardsConfigEntry = ConfigEntry[CardsCoordinator]

#: The rejected-rows repair issue lists at most this many rows.
_ISSUE_ROWS = 20


def cards_title(data: Mapping[str, Any]) -> str:
    """Return the entry title: database and server (and the table if not the standard one)."""
    table = data.get(CONF_TABLE, DEFAULT_TABLE)
    where = f"{data[CONF_DATABASE]} @ {data[CONF_HOST]}"
    return (
        f"Access cards ({where})"
        if table == DEFAULT_TABLE
        else f"Access cards ({table}, {where})"
    )


async def async_db_settings(hass: HomeAssistant, data: Mapping[str, Any]) -> DbSettings:
    """Build the connection settings of an entry (reads the CA file in an executor)."""
    context = None
    if data.get(CONF_TLS):
        context = await hass.async_add_executor_job(
            tls_context,
            data.get(CONF_TLS_CA_FILE) or None,
            data.get(CONF_TLS_VERIFY, True),
        )
    return DbSettings(
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_MYSQL_PORT)),
        user=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        database=data[CONF_DATABASE],
        table=data.get(CONF_TABLE, DEFAULT_TABLE),
        tls=context,
        connect_timeout=CONNECT_TIMEOUT,
        query_timeout=QUERY_TIMEOUT,
    )


def error_placeholders(err: CardSyncError, settings: DbSettings) -> dict[str, str]:
    """Return the placeholders every card-sync error message may use."""
    return {
        "server": f"{settings.host}:{settings.port}",
        "database": settings.database,
        "table": settings.table,
        "columns": ", ".join(err.columns)
        if isinstance(err, CardSyncColumnMissingError)
        else "",
        "privilege": err.privilege if isinstance(err, CardSyncPermissionError) else "",
        "error": str(err),
    }


@dataclass(frozen=True, slots=True)
class CardsData:
    """What the entities show: counts only, no personal data."""

    total: int
    managers: int
    by_group: Mapping[str, int]
    unknown_groups: Mapping[str, int]
    unacknowledged_rejected: int
    last_success: datetime | None
    last_summary: SyncSummary | None


class CardsCoordinator(DataUpdateCoordinator[CardsData]):
    """Runs the card sync at the entry's interval and on demand."""

    config_entry: CardsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CardsConfigEntry,
        engine: CardSync,
        database: CardDatabase,
    ) -> None:
        """Set up syncing at the entry's interval."""
        super().__init__(hass, LOGGER, **polling(entry, DEFAULT_SCAN_INTERVAL))
        self.engine = engine
        self.database = database
        self.work = EntryWork(entry.title)
        self.groups: dict[str, str] = dict(engine.groups)
        engine.on_commit = self._fire_events
        self.last_success: datetime | None = None
        self.last_summary: SyncSummary | None = None
        self._warned_groups: set[str] = set()

    def build_data(self) -> CardsData:
        """Summarise the registry for the entities."""
        stats = self.engine.stats()
        return CardsData(
            total=stats.total,
            managers=stats.managers,
            by_group=stats.by_group,
            unknown_groups=self.engine.unknown_groups(),
            unacknowledged_rejected=len(self.engine.unacknowledged()),
            last_success=self.last_success,
            last_summary=self.last_summary,
        )

    def _translated(self, err: CardSyncError) -> dict[str, Any]:
        """Return the translation arguments of an error."""
        return {
            "translation_domain": DOMAIN,
            "translation_key": ERROR_KEYS.key(err),
            "translation_placeholders": error_placeholders(err, self.database.settings),
        }

    async def _async_sync(self) -> SyncSummary:
        """Run one round and refresh the repair issues."""
        async with self.work.run():
            summary = await self.engine.sync()
        self.last_success = dt_util.utcnow()
        self.last_summary = summary
        self.async_update_issues()
        return summary

    def _show_partial_progress(self) -> None:
        """Publish batches a failed round stored before it failed."""
        data = self.build_data()
        if data != self.data:
            self.data = data
            self.async_update_listeners()

    async def _async_update_data(self) -> CardsData:
        """Sync; a failure keeps the registry and marks the sync as failed."""
        try:
            await self._async_sync()
        except CardSyncAuthError as err:
            raise ConfigEntryAuthFailed(**self._translated(err)) from err
        except CardSyncError as err:
            self._show_partial_progress()
            raise UpdateFailed(**self._translated(err)) from err
        return self.build_data()

    async def async_sync_now(self) -> SyncSummary:
        """Sync at once (the sync_cards action); raise a translated error on failure."""
        try:
            summary = await self._async_sync()
        except CardSyncError as err:
            error = HomeAssistantError(**self._translated(err))
            if isinstance(err, CardSyncAuthError):
                self.config_entry.async_start_reauth(self.hass)
            self._show_partial_progress()
            self.async_set_update_error(error)
            raise error from err
        self.async_set_updated_data(self.build_data())
        return summary

    async def async_acknowledge_rejected(self) -> int:
        """Mark the rejected rows as handled (the repair flow)."""
        try:
            async with self.work.run():
                count = await self.engine.acknowledge_rejected()
        except CardSyncError as err:
            raise HomeAssistantError(**self._translated(err)) from err
        self.async_update_issues()
        self.async_set_updated_data(self.build_data())
        return count

    async def async_shutdown(self) -> None:
        """Stop syncing, let a sync in flight end, then close the connections to the server."""
        await super().async_shutdown()
        await self.work.close()
        await self.database.close()

    def _fire_events(self, events: list[CardEvent]) -> None:
        """Announce the rows of a batch that is now stored (masked numbers only)."""
        entry_id = self.config_entry.entry_id
        fire = self.hass.bus.async_fire
        for event in events:
            if event.kind is EventKind.REJECTED:
                fire(
                    EVENT_CARD_REJECTED,
                    {
                        "entry_id": entry_id,
                        "idx": event.idx,
                        "reason": event.reason,
                        "column": event.column,
                        "masked_card_number": event.masked_card_number,
                        "dong": event.dong,
                        "ho": event.ho,
                    },
                )
                continue
            data = {
                "entry_id": entry_id,
                "idx": event.idx,
                "masked_card_number": event.masked_card_number,
                "dong": event.dong,
                "ho": event.ho,
                "group": event.group,
                "group_name": self.groups.get(event.group or ""),
                "manager": event.manager,
            }
            if event.kind is EventKind.ISSUED:
                fire(EVENT_CARD_ISSUED, {**data, "replaced": event.known})
            else:
                fire(EVENT_CARD_DELETED, {**data, "was_registered": event.known})

    def async_update_issues(self) -> None:
        """Raise or clear the repair issues for rejected rows and unnamed group codes."""
        entry = self.config_entry
        rejected_issue = f"cards_rejected_{entry.entry_id}"
        if fresh := self.engine.unacknowledged():
            lines = [
                f"- idx {row['idx']}: {row['reason']} ({row['column'] or '-'})"
                + (f", {row['masked']}" if row["masked"] else "")
                for row in fresh[-_ISSUE_ROWS:]
            ]
            if len(fresh) > _ISSUE_ROWS:
                lines.insert(0, f"- … {len(fresh) - _ISSUE_ROWS}")
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                rejected_issue,
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="cards_rejected",
                translation_placeholders={
                    "title": entry.title,
                    "count": str(len(fresh)),
                    "rows": "\n".join(lines),
                },
                data={"entry_id": entry.entry_id},
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, rejected_issue)

        group_issue = f"cards_unknown_group_{entry.entry_id}"
        if unknown := self.engine.unknown_groups():
            for code in unknown.keys() - self._warned_groups:
                LOGGER.warning(
                    "%s: access group code %r has no name; add it in the options",
                    entry.title,
                    code,
                )
            self._warned_groups |= unknown.keys()
            async_report_issue(
                self.hass,
                group_issue,
                translation_key="cards_unknown_group",
                placeholders={
                    "title": entry.title,
                    "codes": ", ".join(
                        f"{code or '-'} ({count})" for code, count in unknown.items()
                    ),
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, group_issue)

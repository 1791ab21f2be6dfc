"""Coordinator of one shelter's DDC: polls it, confirms commands, reports outages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, time
import functools
import json
import re
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from ..compat import device_by_identifier
from ..const import DOMAIN, LOGGER
from ..entity import device_identifier
from ..helpers import EntryWork, async_report_issue, line_pool, polling
from .const import (
    CONF_ADDED_UNITS,
    CONF_POWER_RULE,
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
    CONF_UNIT_PORTS,
    DEFAULT_SCAN_INTERVAL,
    UNREACHABLE_REPAIR_AFTER,
    PowerRule,
)
from .engine.client import DdcClient
from .engine.errors import DdcNotWritableError, DdcPowerRuleError, DdcValueError
from .engine.profile import (
    Key,
    Profile,
    customize_layout,
    parse_profile_text,
    profile_from_data,
    standard_profile_text,
)
from .engine.state import Snapshot
from .errors import ERROR_KEYS, SHELTER_ERRORS

#: A line whose DDCs need more of its time than this is reported, and the
#: report goes away below the second figure (so it does not flicker).
OVERLOADED_ABOVE: Final = 1.0
OVERLOAD_CLEARED_BELOW: Final = 0.9

type ShelterConfigEntry = ConfigEntry[ShelterCoordinator]


def build_profile(options: Mapping[str, Any]) -> Profile:
    """Return the effective profile of an entry (reads the built-in file: run in an executor).

    Profiles are immutable, so DDCs with the same layout share one: a site
    with a hundred shelters parses the layout once, not a hundred times at
    every start.
    """
    layout = {
        key: options.get(key)
        for key in (CONF_PROFILE, CONF_REMOVED_UNITS, CONF_UNIT_PORTS, CONF_ADDED_UNITS)
    }
    return _build_profile(json.dumps(layout, sort_keys=True, ensure_ascii=False))


@functools.lru_cache(maxsize=16)
def _build_profile(layout_json: str) -> Profile:
    """Build a profile from the layout options, as JSON so that it can be cached."""
    options = json.loads(layout_json)
    text = options.get(CONF_PROFILE) or standard_profile_text()
    data, lines = parse_profile_text(text)
    if (
        options.get(CONF_REMOVED_UNITS)
        or options.get(CONF_UNIT_PORTS)
        or options.get(CONF_ADDED_UNITS)
    ):
        data = customize_layout(
            data,
            removed=options.get(CONF_REMOVED_UNITS) or [],
            ports=options.get(CONF_UNIT_PORTS) or {},
            added=options.get(CONF_ADDED_UNITS) or [],
        )
    return profile_from_data(data, lines)


class ShelterCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls one DDC and publishes every confirmed command at once."""

    config_entry: ShelterConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: ShelterConfigEntry, client: DdcClient
    ) -> None:
        """Set up polling at the entry's interval."""
        super().__init__(hass, LOGGER, **polling(entry, DEFAULT_SCAN_INTERVAL))
        self.client = client
        self.work = EntryWork(entry.title)
        self.power_rule = PowerRule(
            entry.options.get(CONF_POWER_RULE, PowerRule.REFUSE)
        )
        #: Each unit's name as its device is first named (given or translated).
        self.unit_names: dict[str, str] = {}
        self.unreachable_since: datetime | None = None
        #: Units whose entities must write their state even if unchanged.
        self.republish: set[str] = set()
        self._value_problems: dict[str, str] = {}
        if self.update_interval is not None:
            interval = self.update_interval.total_seconds()
            client.line.declare(self, client.wire_per_round(interval), interval)

    @property
    def line_issue_id(self) -> str:
        """Return the repair issue id of this DDC's line (one per line, whoever raises it)."""
        return "shelter_line_overloaded_" + re.sub(
            r"[^a-z0-9]+", "_", str(self.client.line.config.key[1]).lower()
        )

    def _check_line_budget(self) -> None:
        """Raise a repair issue while the DDCs on this line need more time than it has."""
        line = self.client.line
        if line.load > OVERLOADED_ABOVE and self.update_interval is not None:
            interval = self.update_interval.total_seconds()
            async_report_issue(
                self.hass,
                self.line_issue_id,
                translation_key="shelter_line_overloaded",
                placeholders={
                    "line": line.config.describe(),
                    "load": f"{line.load * 100:.0f}",
                    "ddcs": str(line.users),
                    "round": f"{line.round_seconds(interval):.1f}",
                    "interval": f"{interval:g}",
                },
            )
        elif line.load < OVERLOAD_CLEARED_BELOW:
            ir.async_delete_issue(self.hass, DOMAIN, self.line_issue_id)

    async def async_request_refresh(self) -> None:
        """Read every value now, trying the line at once (a user asked for it)."""
        self.client.line.retry_now()
        self.client.reread_all()
        await super().async_request_refresh()

    @property
    def profile(self) -> Profile:
        """Return the profile this DDC is polled with."""
        return self.client.profile

    @property
    def _repair_id(self) -> str:
        return f"shelter_unreachable_{self.config_entry.entry_id}"

    def _placeholders(self, err: Exception, uid: str | None = None) -> dict[str, str]:
        """Return every placeholder a shelter error message may use."""
        return {
            "line": self.client.line.config.describe(),
            "unit": self.unit_name(uid) if uid else "",
            "error": str(err),
        }

    async def _async_update_data(self) -> Snapshot:
        """Poll the DDC; a failed poll makes every entity unavailable."""
        async with self.work.run():
            try:
                snapshot = await self.client.poll()
            except SHELTER_ERRORS as err:
                self._check_line_budget()
                self._note_outage()
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key=ERROR_KEYS.key(err),
                    translation_placeholders=self._placeholders(err),
                ) from err
        if self.unreachable_since is not None:
            self.unreachable_since = None
            ir.async_delete_issue(self.hass, DOMAIN, self._repair_id)
        self._check_line_budget()
        self._report_values(snapshot)
        return snapshot

    def _report_values(self, snapshot: Snapshot) -> None:
        """Log once when values turn unavailable (refused or invalid) and once when they are back."""
        problems = dict.fromkeys(map(str, snapshot.refused), "refused by the DDC")
        problems |= dict.fromkeys(snapshot.invalid, "invalid value")
        if new := sorted(problems.keys() - self._value_problems.keys()):
            LOGGER.info(
                "%s: shown as unavailable: %s",
                self.config_entry.title,
                ", ".join(f"{key} ({problems[key]})" for key in new),
            )
        if back := sorted(self._value_problems.keys() - problems.keys()):
            LOGGER.info(
                "%s: readable again: %s", self.config_entry.title, ", ".join(back)
            )
        self._value_problems = problems

    def _note_outage(self) -> None:
        """Raise a repair issue once the DDC has been unreachable for long."""
        now = dt_util.utcnow()
        if self.unreachable_since is None:
            self.unreachable_since = now
        elif (now - self.unreachable_since).total_seconds() >= UNREACHABLE_REPAIR_AFTER:
            async_report_issue(
                self.hass,
                self._repair_id,
                translation_key="shelter_unreachable",
                placeholders={
                    "title": self.config_entry.title,
                    "line": self.client.line.config.describe(),
                    "since": dt_util.as_local(self.unreachable_since).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                },
                severity=ir.IssueSeverity.ERROR,
            )

    async def async_shutdown(self) -> None:
        """Stop polling, let commands in flight end, then give the line back to the pool."""
        await super().async_shutdown()
        await self.work.close()
        line = self.client.line
        line.withdraw(self)
        await line_pool(self.hass).release(line)
        if line.retired:
            ir.async_delete_issue(self.hass, DOMAIN, self.line_issue_id)

    async def _command[T](self, uid: str, command: Callable[[], Awaitable[T]]) -> T:
        """Run a command, translate its errors, then publish the confirmed state."""
        failed = True
        try:
            async with self.work.run():
                result = await command()
        except (DdcPowerRuleError, DdcValueError, DdcNotWritableError) as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=ERROR_KEYS.key(err),
                translation_placeholders=self._placeholders(err, uid),
            ) from err
        except SHELTER_ERRORS as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=ERROR_KEYS.key(err),
                translation_placeholders=self._placeholders(err, uid),
            ) from err
        else:
            failed = False
            return result
        finally:
            if self.last_update_success:
                # After a refused or failed command the confirmed state may be
                # unchanged; writing it anyway makes a frontend drop the
                # optimistic "on" it showed while the command was running.
                self.republish = {uid} if failed else set()
                try:
                    self.async_set_updated_data(self.client.snapshot)
                finally:
                    self.republish = set()

    def unit_name(self, uid: str) -> str:
        """Return a unit's name as its device shows it (translated, or as the user renamed it)."""
        entry_id = self.config_entry.entry_id
        device = device_by_identifier(
            dr.async_get(self.hass), device_identifier(entry_id, uid), entry_id
        )
        if device is not None and (name := device.name_by_user or device.name):
            return name
        return self.unit_names.get(uid, uid)

    async def async_check_power_rule(self, uid: str) -> None:
        """Refuse early when the DDC would ignore a power change (unit follows its schedule).

        The mode is read again unless the latest poll said "manual": a mode
        polled at a slow cadence may be minutes old.
        """
        if self.power_rule is PowerRule.REFUSE:
            await self._command(uid, lambda: self.client.check_power_rule(uid))

    async def async_set_power(self, uid: str, on: bool) -> None:
        """Switch a unit, applying the entry's power rule."""
        override = self.power_rule is PowerRule.MANUAL_OVERRIDE
        await self._command(
            uid, lambda: self.client.set_power(uid, on, manual_override=override)
        )

    async def async_set_value(self, uid: str, key: Key, value: Any) -> None:
        """Write a value (auto, mode, speed, target) and confirm it."""
        await self._command(uid, lambda: self.client.set_value(uid, key, value))

    async def async_set_window(
        self, uid: str, window: int, edge: str, value: time
    ) -> None:
        """Write a schedule window's start or end time and confirm it."""
        await self._command(
            uid, lambda: self.client.set_window(uid, window, edge, value)
        )

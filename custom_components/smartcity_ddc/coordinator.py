"""Coordinator of one DDC: polls it, confirms commands, reports outages."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime, time, timedelta
import functools
import json
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    EVENT_HOMEASSISTANT_STOP,
)
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryError,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_ADDED_UNITS,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_PARITY,
    CONF_POWER_RULE,
    CONF_PROFILE,
    CONF_REMOVED_UNITS,
    CONF_SERIAL_PORT,
    CONF_SLAVE,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    CONF_UNIT_PORTS,
    DEFAULT_BAUDRATE,
    DEFAULT_DDC_SCAN_INTERVAL,
    DEFAULT_TIMEOUT,
    DOMAIN,
    LOGGER,
    MANUFACTURER,
    UNREACHABLE_REPAIR_AFTER,
    PowerRule,
)
from .ddc import (
    DdcClient,
    DdcConnectionError,
    DdcDeviceError,
    DdcError,
    DdcNotWritableError,
    DdcPowerRuleError,
    DdcTimeoutError,
    DdcValueError,
    DdcWriteNotConfirmedError,
    Key,
    LineConfig,
    LineConflictError,
    LinePool,
    Profile,
    ProfileError,
    Snapshot,
    Transport,
    Value,
    customize_layout,
    parse_profile_text,
    profile_from_data,
    standard_profile_text,
)
from .helpers import async_prune_devices, unit_device_identifier

type DdcConfigEntry = ConfigEntry[DdcCoordinator]

#: One LinePool for the whole integration: DDCs on one gateway share a line.
DATA_LINES: HassKey[LinePool] = HassKey(f"{DOMAIN}_lines")


def line_pool(hass: HomeAssistant) -> LinePool:
    """Return the integration-wide pool of Modbus lines (closed when Home Assistant stops)."""
    if (pool := hass.data.get(DATA_LINES)) is None:
        pool = hass.data[DATA_LINES] = LinePool()

        async def _close(_event: Event) -> None:
            await pool.close_all()

        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _close)
    return pool


def line_config(data: Mapping[str, Any]) -> LineConfig:
    """Build the line settings stored in a config entry."""
    transport = Transport(data[CONF_TRANSPORT])
    if transport is Transport.SERIAL:
        return LineConfig(
            transport=transport,
            serial_port=data[CONF_SERIAL_PORT],
            baudrate=data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE),
            bytesize=data.get(CONF_BYTESIZE, 8),
            parity=data.get(CONF_PARITY, "N"),
            stopbits=data.get(CONF_STOPBITS, 1),
            timeout=DEFAULT_TIMEOUT,
        )
    return LineConfig(
        transport=transport,
        host=data[CONF_HOST],
        port=data[CONF_PORT],
        timeout=DEFAULT_TIMEOUT,
    )


def entry_unique_id(data: Mapping[str, Any]) -> str:
    """Return the identity of a DDC: its line and slave id."""
    kind, where = line_config(data).key
    return f"{kind}:{where}#{data[CONF_SLAVE]}"


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


class DdcCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls one DDC and publishes every confirmed command at once."""

    config_entry: DdcConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: DdcConfigEntry, client: DdcClient
    ) -> None:
        """Set up polling at the entry's interval."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=timedelta(
                seconds=entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_DDC_SCAN_INTERVAL)
            ),
            always_update=False,
        )
        self.client = client
        self.power_rule = PowerRule(
            entry.options.get(CONF_POWER_RULE, PowerRule.REFUSE)
        )
        self.unreachable_since: datetime | None = None
        #: Units whose entities must write their state even if unchanged.
        self.republish: set[str] = set()
        self._value_problems: dict[str, str] = {}

    @property
    def profile(self) -> Profile:
        """Return the profile this DDC is polled with."""
        return self.client.profile

    @property
    def _repair_id(self) -> str:
        return f"unreachable_{self.config_entry.entry_id}"

    async def _async_update_data(self) -> Snapshot:
        """Poll the DDC; a failed poll makes every entity unavailable."""
        try:
            snapshot = await self.client.poll()
        except DdcError as err:
            self._note_outage()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=_error_key(err),
                translation_placeholders={
                    "line": self.client.line.config.describe(),
                    "error": str(err),
                },
            ) from err
        if self.unreachable_since is not None:
            self.unreachable_since = None
            ir.async_delete_issue(self.hass, DOMAIN, self._repair_id)
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
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._repair_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="ddc_unreachable",
                translation_placeholders={
                    "title": self.config_entry.title,
                    "line": self.client.line.config.describe(),
                    "since": dt_util.as_local(self.unreachable_since).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                },
            )

    async def async_shutdown(self) -> None:
        """Stop polling and give the line back to the pool."""
        await super().async_shutdown()
        await line_pool(self.hass).release(self.client.line)

    async def _command[T](self, command: Awaitable[T], uid: str) -> T:
        """Run a command, translate its errors, then publish the confirmed state."""
        failed = True
        try:
            result = await command
        except DdcPowerRuleError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="power_follows_schedule",
                translation_placeholders={"unit": self.unit_name(uid)},
            ) from err
        except (DdcValueError, DdcNotWritableError) as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders={
                    "unit": self.unit_name(uid),
                    "error": str(err),
                },
            ) from err
        except DdcError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=_error_key(err),
                translation_placeholders={
                    "line": self.client.line.config.describe(),
                    "unit": self.unit_name(uid),
                    "error": str(err),
                },
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
        """Return a unit's name in the configured language."""
        unit = self.profile.unit(uid)
        return unit.name_ko if self.hass.config.language == "ko" else unit.name_en

    def check_power_rule(self, uid: str) -> None:
        """Refuse early when the DDC would ignore a power change (unit follows its schedule)."""
        if self.power_rule is PowerRule.REFUSE and self.data.unit(uid).auto is True:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="power_follows_schedule",
                translation_placeholders={"unit": self.unit_name(uid)},
            )

    async def async_set_power(self, uid: str, on: bool) -> None:
        """Switch a unit, applying the entry's power rule."""
        override = self.power_rule is PowerRule.MANUAL_OVERRIDE
        await self._command(
            self.client.set_power(uid, on, manual_override=override), uid
        )

    async def async_set_value(self, uid: str, key: Key, value: Value) -> None:
        """Write a value (auto, mode, speed, target) and confirm it."""
        await self._command(self.client.set_value(uid, key, value), uid)

    async def async_set_window(
        self, uid: str, window: int, edge: str, value: time
    ) -> None:
        """Write a schedule window's start or end time and confirm it."""
        await self._command(self.client.set_window(uid, window, edge, value), uid)


def _error_key(err: DdcError) -> str:
    """Return the translation key that explains a DDC error to a user."""
    if isinstance(err, DdcWriteNotConfirmedError):
        return "write_not_confirmed"
    if isinstance(err, DdcTimeoutError):
        return "timeout"
    if isinstance(err, DdcDeviceError):
        return "device_error"
    if isinstance(err, DdcConnectionError):
        return "cannot_connect"
    return "ddc_error"


async def async_setup_ddc_entry(hass: HomeAssistant, entry: DdcConfigEntry) -> None:
    """Connect to a DDC, poll it once and register its devices."""
    try:
        profile = await hass.async_add_executor_job(build_profile, entry.options)
    except ProfileError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_profile",
            translation_placeholders={"issues": str(err)},
        ) from err
    pool = line_pool(hass)
    try:
        line = pool.acquire(line_config(entry.data))
    except LineConflictError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="line_conflict",
            translation_placeholders={"error": str(err)},
        ) from err
    coordinator = DdcCoordinator(
        hass, entry, DdcClient(line, entry.data[CONF_SLAVE], profile)
    )
    if coordinator.update_interval is not None:
        # A gateway that is back must be found by this DDC's next poll.
        line.limit_backoff(coordinator.update_interval.total_seconds() / 2)
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()

    device_registry = dr.async_get(hass)
    device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer=MANUFACTURER,
        model="DDC",
        name=entry.title,
    )
    # Units taken out of the layout leave no orphaned devices behind.
    async_prune_devices(
        hass,
        entry,
        {unit_device_identifier(entry.entry_id, unit.uid) for unit in profile.units},
    )

    collision_issue = f"register_collision_{entry.entry_id}"
    if collisions := profile.collisions():
        LOGGER.warning(
            "%s: %d registers are used by more than one unit: %s",
            entry.title,
            len(collisions),
            "; ".join(map(str, collisions)),
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            collision_issue,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="register_collision",
            translation_placeholders={
                "title": entry.title,
                "count": str(len(collisions)),
                "collisions": "\n".join(f"- {collision}" for collision in collisions),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, collision_issue)


async def async_remove_ddc_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the repair issues a DDC entry raised."""
    for issue_id in (
        f"unreachable_{entry.entry_id}",
        f"register_collision_{entry.entry_id}",
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id)

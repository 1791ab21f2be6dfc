"""Home Assistant glue every job shares: the line pool, hub devices, selectors, errors, work in flight."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Literal

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    EVENT_HOMEASSISTANT_STOP,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir, selector
from homeassistant.helpers.typing import UNDEFINED, UndefinedType
from homeassistant.util.hass_dict import HassKey
import serial.tools.list_ports
import voluptuous as vol

from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    DEFAULT_BAUDRATE,
    DEFAULT_TIMEOUT,
    DOMAIN,
    SERVICE_MANUFACTURER,
)
from .line import LineConfig, LinePool, Parity, Transport

#: One LinePool for the whole integration: every job's devices on one gateway share a line.
DATA_LINES: HassKey[LinePool] = HassKey(f"{DOMAIN}_lines")

#: How long unloading an entry waits for its commands and syncs before it cancels them.
DRAIN_TIMEOUT: Final = 8.0


def line_pool(hass: HomeAssistant) -> LinePool:
    """Return the integration-wide pool of lines (closed when Home Assistant stops)."""
    if (pool := hass.data.get(DATA_LINES)) is None:
        pool = hass.data[DATA_LINES] = LinePool()

        async def _close(_event: Event) -> None:
            await pool.close_all()

        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _close)
    return pool


def serial_settings(
    data: Mapping[str, Any], *, baudrate: int, parity: Parity
) -> dict[str, Any]:
    """Return a stored serial line's port and character format (defaults for what is missing)."""
    return {
        "serial_port": data[CONF_SERIAL_PORT],
        "baudrate": int(data.get(CONF_BAUDRATE, baudrate)),
        "bytesize": int(data.get(CONF_BYTESIZE, 8)),
        "parity": Parity(data.get(CONF_PARITY, parity)),
        "stopbits": int(data.get(CONF_STOPBITS, 1)),
    }


def line_config(data: Mapping[str, Any]) -> LineConfig:
    """Build the line settings a config entry or subentry stores."""
    transport = Transport(data[CONF_TRANSPORT])
    if transport is Transport.SERIAL:
        return LineConfig(
            transport=transport,
            **serial_settings(data, baudrate=DEFAULT_BAUDRATE, parity=Parity.NONE),
            timeout=DEFAULT_TIMEOUT,
        )
    return LineConfig(
        transport=transport,
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        timeout=DEFAULT_TIMEOUT,
    )


def polling(entry: ConfigEntry, default_interval: int) -> dict[str, Any]:
    """Return a job coordinator's settings: its entry, name and the entry's interval."""
    return {
        "config_entry": entry,
        "name": f"{DOMAIN} {entry.title}",
        "update_interval": timedelta(
            seconds=entry.options.get(CONF_SCAN_INTERVAL, default_interval)
        ),
        "always_update": False,
    }


# --- repairs ----------------------------------------------------------------------


@callback
def async_report_issue(
    hass: HomeAssistant,
    issue_id: str,
    *,
    translation_key: str,
    placeholders: dict[str, str] | None = None,
    severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
) -> None:
    """Raise (or update) a repair issue that says what to do; the user does it outside the repair."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )


# --- devices ----------------------------------------------------------------------


@callback
def async_register_hub(
    hass: HomeAssistant,
    entry: ConfigEntry,
    *,
    model: str,
    manufacturer: str | None = None,
) -> None:
    """Register an entry's hub device.

    A job that drives hardware (a shelter's DDC) names the hardware's maker; a
    job that is a service of this integration (card sync, meter site) is a
    service device made by the integration.
    """
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer=manufacturer or SERVICE_MANUFACTURER,
        entry_type=None if manufacturer else dr.DeviceEntryType.SERVICE,
        model=model,
        name=entry.title,
    )


@callback
def async_prune_devices(
    hass: HomeAssistant, entry: ConfigEntry, keep: set[tuple[str, str]]
) -> None:
    """Remove the entry's devices that are gone (units or meters taken out), keeping its hub.

    Each of these devices belongs to this entry alone (its identifier holds the
    entry id), so removing it is what detaching its only entry did before.
    """
    registry = dr.async_get(hass)
    keep = {*keep, (DOMAIN, entry.entry_id)}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & keep:
            registry.async_remove_device(device.id)


# --- flow forms -------------------------------------------------------------------


def async_finish_update(
    flow: ConfigFlow,
    entry: ConfigEntry,
    *,
    title: str | UndefinedType = UNDEFINED,
    data: Mapping[str, Any],
    reason: str | UndefinedType = UNDEFINED,
) -> ConfigFlowResult:
    """Store a reconfigured or reauthenticated entry and end the flow.

    A set-up entry reloads through its own update listener when it changed
    (newer releases refuse flows that reload such an entry themselves); one
    that is not set up (its setup failed, waiting for new credentials) has no
    listener and is reloaded here.
    """
    if not entry.update_listeners:
        return flow.async_update_reload_and_abort(
            entry, title=title, data=data, reason=reason
        )
    flow.hass.config_entries.async_update_entry(entry, title=title, data=data)
    if reason is UNDEFINED:
        reason = (
            "reconfigure_successful"
            if flow.source == SOURCE_RECONFIGURE
            else "reauth_successful"
        )
    return flow.async_abort(reason=reason)


def serial_ports() -> list[str]:
    """List the serial ports of this machine (blocking: run it in the executor)."""
    return sorted(
        port.device for port in serial.tools.list_ports.comports(include_links=True)
    )


def serial_line_fields(
    draft: Mapping[str, Any],
    ports: list[str],
    baudrates: list[str],
    *,
    baudrate: int,
    parity: Parity,
) -> dict[vol.Marker, Any]:
    """Return the form fields of a serial line: port, baud rate, byte size, parity, stop bits.

    `baudrate` and `parity` are the defaults of a new line; a draft's values
    come first.
    """
    return {
        vol.Required(
            CONF_SERIAL_PORT,
            default=draft.get(CONF_SERIAL_PORT, ports[0] if ports else ""),
        ): dropdown(ports, custom=True),
        vol.Required(
            CONF_BAUDRATE, default=str(draft.get(CONF_BAUDRATE, baudrate))
        ): dropdown(baudrates),
        vol.Required(CONF_BYTESIZE, default=str(draft.get(CONF_BYTESIZE, 8))): dropdown(
            ["7", "8"]
        ),
        vol.Required(CONF_PARITY, default=draft.get(CONF_PARITY, parity)): dropdown(
            [choice.value for choice in Parity], "line_parity"
        ),
        vol.Required(CONF_STOPBITS, default=str(draft.get(CONF_STOPBITS, 1))): dropdown(
            ["1", "2"]
        ),
    }


def serial_line_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return a serial line's answers as stored: the port trimmed, numbers as numbers."""
    return {
        CONF_SERIAL_PORT: str(user_input[CONF_SERIAL_PORT]).strip(),
        CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
        CONF_BYTESIZE: int(user_input[CONF_BYTESIZE]),
        CONF_PARITY: Parity(user_input[CONF_PARITY]),
        CONF_STOPBITS: int(user_input[CONF_STOPBITS]),
    }


def number_box(
    minimum: float,
    maximum: float,
    step: float | Literal["any"] = 1,
    unit: str | None = None,
) -> selector.NumberSelector:
    """Return a number box selector."""
    config = selector.NumberSelectorConfig(
        min=minimum, max=maximum, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def number_field(
    values: Mapping[str, Any],
    key: str,
    default: float,
    box: selector.NumberSelector,
) -> dict[vol.Marker, Any]:
    """Return a required number field, filled from `values` or else `default`."""
    return {vol.Required(key, default=values.get(key, default)): box}


def dropdown(
    options: list[str] | list[selector.SelectOptionDict],
    key: str | None = None,
    *,
    custom: bool = False,
    multiple: bool = False,
) -> selector.SelectSelector:
    """Return a select selector (a list when several may be picked), translated when a key is given."""
    config = selector.SelectSelectorConfig(
        options=options,
        custom_value=custom,
        multiple=multiple,
        mode=selector.SelectSelectorMode.LIST
        if multiple
        else selector.SelectSelectorMode.DROPDOWN,
    )
    if key is not None:
        config["translation_key"] = key
    return selector.SelectSelector(config)


# --- errors -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorKeys:
    """One job's table of which translation key explains which error; the first match wins.

    The job's flow shows the key as a form error, its coordinator and
    actions raise it as a translated exception: one table, both places.
    """

    table: tuple[tuple[type[BaseException], str], ...]
    fallback: str

    def key(self, err: BaseException) -> str:
        """Return the translation key that explains an error to a user."""
        for kind, key in self.table:
            if isinstance(err, kind):
                return key
        return self.fallback


# --- work in flight ----------------------------------------------------------------


class EntryWork:
    """The commands, syncs and polls running for one loaded entry.

    Unloading an entry (a reload, a removal, Home Assistant stopping) first
    refuses new work, then waits a bounded time for what runs to finish, then
    cancels it: nothing an old entry started goes on beside its successor.
    """

    def __init__(self, title: str, drain: float = DRAIN_TIMEOUT) -> None:
        """Start open, with nothing running; unloading waits `drain` seconds for work."""
        self.title = title
        self.drain = drain
        self.closed = False
        self._running: Counter[asyncio.Task[Any]] = Counter()
        self._idle = asyncio.Event()
        self._idle.set()
        self._cancelled: set[asyncio.Task[Any]] = set()

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run a piece of work; refused with a translated error once the entry unloads."""
        if self.closed:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="entry_unloading",
                translation_placeholders={"title": self.title},
            )
        task = asyncio.current_task()
        assert task is not None
        self._running[task] += 1
        self._idle.clear()
        try:
            yield
        except asyncio.CancelledError:
            if task not in self._cancelled:
                raise
            self._cancelled.discard(task)
            task.uncancel()
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="entry_unloading",
                translation_placeholders={"title": self.title},
            ) from None
        finally:
            self._running[task] -= 1
            if self._running[task] <= 0:
                del self._running[task]
            if not self._running:
                self._idle.set()

    @property
    def busy(self) -> bool:
        """Return True while any work runs."""
        return bool(self._running)

    async def close(self) -> None:
        """Refuse new work, let running work finish within the drain time, then cancel it."""
        self.closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.drain):
                await self._idle.wait()
        if not self._running:
            return
        for task in self._running:
            self._cancelled.add(task)
            task.cancel(f"{self.title} is unloading")
        await self._idle.wait()

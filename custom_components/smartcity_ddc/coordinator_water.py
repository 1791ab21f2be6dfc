"""Coordinator of a water-meter site: readings in from every source, statistics out."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    CONF_HOST,
    CONF_NAME,
    CONF_PORT,
    CONF_SCAN_INTERVAL,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfVolume,
)
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import ConfigEntryError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_change,
    async_track_time_interval,
)
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import VolumeConverter

from . import compat
from .const import (
    CONF_SLAVE,
    CONF_TRANSPORT,
    CONF_WATER_ENTITY,
    CONF_WATER_GAP_HOURS,
    CONF_WATER_LEAK_THRESHOLD,
    CONF_WATER_METER_ID,
    CONF_WATER_METERS,
    CONF_WATER_Q3,
    CONF_WATER_Q4,
    CONF_WATER_REGISTER,
    CONF_WATER_REGISTER_KIND,
    CONF_WATER_SCALE,
    CONF_WATER_SOURCE,
    CONF_WATER_WORD_ORDER,
    DEFAULT_TIMEOUT,
    DEFAULT_WATER_GAP_HOURS,
    DEFAULT_WATER_SCALE,
    DEFAULT_WATER_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    RECORDER,
    WATER_SAVE_DELAY,
    WaterSource,
)
from .coordinator import line_pool
from .ddc import (
    DdcError,
    LineConfig,
    LineConflictError,
    ModbusLine,
    Point,
    ReadRequest,
    RegisterKind,
    RegisterRef,
    Transport,
    ValueType,
    decode,
)
from .helpers import async_prune_devices, water_meter_identifier
from .water import (
    DEFAULT_LEAK_THRESHOLD,
    DEFAULT_Q3,
    DEFAULT_Q4,
    Change,
    HourRow,
    MeterSpec,
    MeterSummary,
    Reading,
    ReadingError,
    RejectReason,
    Rules,
    SiteAggregate,
    WaterSite,
    parse_index,
    parse_number,
)

type WaterConfigEntry = ConfigEntry[WaterCoordinator]

STORAGE_VERSION: Final = 1
#: After a restart the newest hours are imported again, in case the recorder
#: had not committed them when Home Assistant stopped.
REIMPORT_HOURS: Final = 24

#: The translation key that explains each rejection to a user.
REJECT_KEYS: Final[dict[RejectReason, str]] = {
    RejectReason.NON_NUMERIC: "water_reading_non_numeric",
    RejectReason.NEGATIVE: "water_reading_negative",
    RejectReason.BACKWARDS: "water_reading_backwards",
    RejectReason.FUTURE: "water_reading_future",
    RejectReason.DUPLICATE: "water_reading_duplicate",
    RejectReason.TOO_OLD: "water_reading_too_old",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    """One meter as configured in the entry's options."""

    meter_id: str
    name: str
    q3: float = DEFAULT_Q3
    q4: float = DEFAULT_Q4
    source: WaterSource = WaterSource.PUSH
    entity_id: str | None = None
    line: LineConfig | None = None
    slave: int = 1
    register: int = 0
    register_kind: RegisterKind = RegisterKind.HOLDING
    scale: float = DEFAULT_WATER_SCALE
    word_order: str = "big"

    @classmethod
    def from_options(cls, data: Mapping[str, Any]) -> MeterConfig:
        """Build from one entry of the options' meter list."""
        source = WaterSource(data.get(CONF_WATER_SOURCE, WaterSource.PUSH))
        line = None
        if source is WaterSource.MODBUS:
            line = LineConfig(
                transport=Transport(data[CONF_TRANSPORT]),
                host=data[CONF_HOST],
                port=int(data[CONF_PORT]),
                timeout=DEFAULT_TIMEOUT,
            )
        return cls(
            meter_id=data[CONF_WATER_METER_ID],
            name=data[CONF_NAME],
            q3=float(data.get(CONF_WATER_Q3, DEFAULT_Q3)),
            q4=float(data.get(CONF_WATER_Q4, DEFAULT_Q4)),
            source=source,
            entity_id=data.get(CONF_WATER_ENTITY),
            line=line,
            slave=int(data.get(CONF_SLAVE, 1)),
            register=int(data.get(CONF_WATER_REGISTER, 0)),
            register_kind=RegisterKind(
                data.get(CONF_WATER_REGISTER_KIND, RegisterKind.HOLDING)
            ),
            scale=float(data.get(CONF_WATER_SCALE, DEFAULT_WATER_SCALE)),
            word_order=data.get(CONF_WATER_WORD_ORDER, "big"),
        )

    @property
    def statistic_id(self) -> str:
        """Return the external statistic of the meter's hourly usage."""
        return f"{DOMAIN}:water_{self.meter_id}"

    def point(self) -> Point:
        """Return the meter's index register as a protocol-library point."""
        return Point(
            name=self.meter_id,
            read=RegisterRef(self.register_kind, self.register),
            write=None,
            value_type=ValueType.UINT32,
            scale=self.scale,
            word_order=self.word_order,
        )


def meter_configs(options: Mapping[str, Any]) -> list[MeterConfig]:
    """Return the meters of an entry's options."""
    return [
        MeterConfig.from_options(meter) for meter in options.get(CONF_WATER_METERS, [])
    ]


def site_rules(options: Mapping[str, Any]) -> Rules:
    """Return the status thresholds of an entry's options (leak threshold is stored in L/h)."""
    return Rules(
        gap=int(
            float(options.get(CONF_WATER_GAP_HOURS, DEFAULT_WATER_GAP_HOURS)) * 3600
        ),
        leak_threshold=float(
            options.get(CONF_WATER_LEAK_THRESHOLD, DEFAULT_LEAK_THRESHOLD * 1000)
        )
        / 1000,
    )


@dataclass(frozen=True, slots=True)
class WaterData:
    """What the entities of a water site show."""

    meters: Mapping[str, MeterSummary]
    today: SiteAggregate
    yesterday: SiteAggregate
    #: Meters whose summary changed in this update; None means all of them.
    changed: frozenset[str] | None = None


def _now() -> int:
    """Return the current time in epoch seconds."""
    return int(dt_util.utcnow().timestamp())


class WaterCoordinator(DataUpdateCoordinator[WaterData]):
    """Follows sensors, polls Modbus meters, takes pushed readings; imports statistics."""

    config_entry: WaterConfigEntry

    def __init__(self, hass: HomeAssistant, entry: WaterConfigEntry) -> None:
        """Prepare the site; history is loaded in _async_setup."""
        # Readings arrive on their own schedule: publication is manual, and
        # the poll and midnight timers are started by start().
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,
        )
        self.meters = {meter.meter_id: meter for meter in meter_configs(entry.options)}
        self.site = WaterSite(
            dt_util.get_default_time_zone(), site_rules(entry.options)
        )
        self.scan_interval = timedelta(
            seconds=int(
                entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_WATER_SCAN_INTERVAL)
            )
        )
        self.store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.water_{entry.entry_id}"
        )
        self.rejected: dict[str, Counter[str]] = {
            meter_id: Counter() for meter_id in self.meters
        }
        self.last_error: dict[str, str] = {}
        #: Writes hourly rows to long-term statistics; None without the recorder.
        self.add_statistics: (
            Callable[[HomeAssistant, str, str, list[HourRow]], None] | None
        ) = None
        self.imported_rows = 0
        self._lines: dict[str, ModbusLine] = {}
        self._by_entity: dict[str, list[str]] = {}
        for meter in self.meters.values():
            if meter.source is WaterSource.SENSOR and meter.entity_id:
                self._by_entity.setdefault(meter.entity_id, []).append(meter.meter_id)
        self._base_sums: dict[str, float] = {}
        self._loaded = False

    @property
    def _recorder_issue(self) -> str:
        return f"water_recorder_missing_{self.config_entry.entry_id}"

    async def _async_setup(self) -> None:
        """Load the stored history, open Modbus lines, prepare statistics."""
        now = _now()
        stored = WaterSite.stored_meters(await self.store.async_load())
        for meter in self.meters.values():
            try:
                self.site.add_meter(
                    meter.meter_id,
                    MeterSpec(meter.q3, meter.q4),
                    added=now,
                    stored=stored.get(meter.meter_id),
                )
            except (ValueError, KeyError, TypeError) as err:
                LOGGER.warning(
                    "%s: the stored history of meter %s is unreadable and starts afresh: %s",
                    self.config_entry.title,
                    meter.meter_id,
                    err,
                )
                self.site.add_meter(
                    meter.meter_id, MeterSpec(meter.q3, meter.q4), added=now
                )
        self._loaded = True
        pool = line_pool(self.hass)
        for meter in self.meters.values():
            if meter.line is not None:
                try:
                    self._lines[meter.meter_id] = pool.acquire(meter.line)
                except LineConflictError as err:
                    raise ConfigEntryError(
                        translation_domain=DOMAIN,
                        translation_key="line_conflict",
                        translation_placeholders={"error": str(err)},
                    ) from err
        await self._async_setup_statistics()

    async def _async_setup_statistics(self) -> None:
        """Use long-term statistics if the recorder runs; raise a repair issue if not."""
        if RECORDER not in self.hass.config.components:
            LOGGER.warning(
                "%s: the recorder is not loaded, so hourly water usage is not"
                " written to long-term statistics (history graphs and the"
                " Energy dashboard stay empty)",
                self.config_entry.title,
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._recorder_issue,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="water_recorder_missing",
                translation_placeholders={"title": self.config_entry.title},
            )
            return
        ir.async_delete_issue(self.hass, DOMAIN, self._recorder_issue)
        self.add_statistics = compat.async_add_water_statistics
        for meter_id, meter in self.site.meters.items():
            if meter.history.origin is None:
                self._base_sums[meter_id] = await compat.async_last_sum(
                    self.hass, self.meters[meter_id].statistic_id
                )
        now = _now()
        for meter_id in self.site.meters:
            self._import_statistics(
                meter_id, Change(now - (REIMPORT_HOURS + 1) * 3600, now)
            )

    def start(self) -> None:
        """Follow source sensors and start the poll and midnight timers."""
        entry = self.config_entry
        if self._by_entity:
            entry.async_on_unload(
                async_track_state_change_event(
                    self.hass, list(self._by_entity), self._async_sensor_changed
                )
            )
        entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self._async_tick,
                self.scan_interval,
                name=f"{DOMAIN} water poll {entry.title}",
                cancel_on_shutdown=True,
            )
        )
        # "Today" and "yesterday" move on at local midnight.
        entry.async_on_unload(
            async_track_time_change(
                self.hass, self._async_midnight, hour=0, minute=0, second=0
            )
        )

    async def async_shutdown(self) -> None:
        """Save the history and give the Modbus lines back."""
        await super().async_shutdown()
        if self._loaded:
            await self.store.async_save(self.site.to_json())
        pool = line_pool(self.hass)
        for line in self._lines.values():
            await pool.release(line)
        self._lines.clear()

    # --- readings in ---------------------------------------------------------------

    def record(self, meter_id: str, reading: Reading) -> None:
        """Add a reading (ReadingError if refused), import statistics and publish."""
        now = _now()
        change = self.site.record(meter_id, reading, now)
        if change is not None:
            self._import_statistics(meter_id, change)
        self.store.async_delay_save(self.site.to_json, WATER_SAVE_DELAY)
        self._publish(frozenset((meter_id,)))

    def _record_from_source(self, meter_id: str, reading: Reading) -> None:
        """Add a reading a source delivered; refusals are counted and logged."""
        try:
            self.record(meter_id, reading)
        except ReadingError as err:
            self._note_rejection(meter_id, err)

    def _note_rejection(self, meter_id: str, err: ReadingError) -> None:
        """Count a refused source reading; re-reads of an unchanged reading are normal."""
        self.rejected[meter_id][err.reason] += 1
        if err.reason is not RejectReason.DUPLICATE:
            LOGGER.warning(
                "%s: reading of meter %s refused (%s): %s",
                self.config_entry.title,
                meter_id,
                err.reason,
                err,
            )

    @callback
    def _async_sensor_changed(self, event: Event[EventStateChangedData]) -> None:
        """Take the new state of a source sensor as a reading."""
        if (state := event.data["new_state"]) is None:
            return
        for meter_id in self._by_entity[event.data["entity_id"]]:
            self._read_sensor(meter_id, state, state.last_updated)

    def _read_sensor(self, meter_id: str, state: State, when: datetime) -> None:
        """Convert a sensor state (m³, L, gal, ...) to a reading at `when`."""
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        try:
            value = parse_number(state.state)
            if unit not in (None, UnitOfVolume.CUBIC_METERS):
                if unit not in VolumeConverter.VALID_UNITS:
                    self.last_error[meter_id] = f"unit {unit!r} is not a volume"
                    return
                value = VolumeConverter.convert(value, unit, UnitOfVolume.CUBIC_METERS)
            reading = Reading(int(when.timestamp()), parse_index(value))
        except ReadingError as err:
            self._note_rejection(meter_id, err)
            return
        self.last_error.pop(meter_id, None)
        self._record_from_source(meter_id, reading)

    async def _async_read_modbus(self, meter: MeterConfig) -> None:
        """Read a meter's index register once and record it."""
        line = self._lines[meter.meter_id]
        point = meter.point()
        try:
            words = await line.read(
                meter.slave,
                ReadRequest(
                    meter.register_kind, meter.register, point.value_type.words
                ),
            )
        except DdcError as err:
            if meter.meter_id not in self.last_error:
                LOGGER.warning(
                    "%s: cannot read water meter %s on %s: %s",
                    self.config_entry.title,
                    meter.meter_id,
                    line.config.describe(),
                    err,
                )
            self.last_error[meter.meter_id] = str(err)
            return
        if self.last_error.pop(meter.meter_id, None) is not None:
            LOGGER.info(
                "%s: water meter %s answers again",
                self.config_entry.title,
                meter.meter_id,
            )
        value = decode(point, words)
        assert isinstance(value, int | float)
        self._record_from_source(meter.meter_id, Reading(_now(), float(value)))

    async def _async_update_data(self) -> WaterData:
        """Read every polled source once and compute the statistics."""
        await self._async_poll()
        return self._snapshot(None)

    async def _async_poll(self) -> None:
        """Read Modbus meters and sample followed sensors."""
        now = dt_util.utcnow()
        # A wallpad's index sensor only changes while water flows; that it
        # still holds a value now is a reading too.
        for meter in self.meters.values():
            if (
                meter.source is WaterSource.SENSOR
                and meter.entity_id
                and (state := self.hass.states.get(meter.entity_id)) is not None
            ):
                self._read_sensor(meter.meter_id, state, now)
        await asyncio.gather(
            *(
                self._async_read_modbus(meter)
                for meter in self.meters.values()
                if meter.source is WaterSource.MODBUS
            )
        )
        self.site.prune(_now())

    async def _async_tick(self, _now_dt: datetime) -> None:
        """Poll, then re-evaluate every meter (communication faults depend on time)."""
        await self._async_poll()
        self._publish(None)

    @callback
    def _async_midnight(self, _now_dt: datetime) -> None:
        """Move every daily statistic to the new day."""
        self._publish(None)

    # --- statistics out --------------------------------------------------------------

    def _snapshot(self, changed: frozenset[str] | None) -> WaterData:
        """Compute summaries (of the changed meters only, if given) and the aggregates."""
        now = _now()
        previous = (
            self.data.meters if self.data is not None and changed is not None else {}
        )
        meters = {
            meter_id: (
                previous[meter_id]
                if meter_id in previous
                and changed is not None
                and meter_id not in changed
                else self.site.summary(meter_id, now)
            )
            for meter_id in self.site.meters
        }
        today = self.site.today(now)
        return WaterData(
            meters=meters,
            today=self.site.aggregate(today),
            yesterday=self.site.aggregate(today - 1),
            changed=changed,
        )

    def _publish(self, changed: frozenset[str] | None) -> None:
        """Hand fresh statistics to the entities."""
        self.async_set_updated_data(self._snapshot(changed))

    def _import_statistics(self, meter_id: str, change: Change) -> None:
        """Write the hourly rows a change touched to long-term statistics."""
        if self.add_statistics is None:
            return
        meter = self.site.meters[meter_id]
        rows = meter.hour_rows(
            change.start, change.end, base_sum=self._base_sums.get(meter_id, 0.0)
        )
        if not rows:
            return
        config = self.meters[meter_id]
        self.add_statistics(self.hass, config.statistic_id, config.name, rows)
        self.imported_rows += len(rows)
        self.store.async_delay_save(self.site.to_json, WATER_SAVE_DELAY)


def find_meter(hass: HomeAssistant, meter_id: str) -> WaterCoordinator:
    """Return the coordinator of the loaded water site that has a meter."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        coordinator = entry.runtime_data
        if isinstance(coordinator, WaterCoordinator) and meter_id in coordinator.meters:
            return coordinator
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="water_unknown_meter",
        translation_placeholders={"meter": meter_id},
    )


async def async_setup_water_entry(hass: HomeAssistant, entry: WaterConfigEntry) -> None:
    """Load a water site's history, read its meters once and register its devices."""
    coordinator = WaterCoordinator(hass, entry)
    entry.runtime_data = coordinator
    await coordinator.async_config_entry_first_refresh()
    coordinator.start()

    device_registry = dr.async_get(hass)
    device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        model="Water meter site",
        name=entry.title,
    )
    # Meters taken out of the site leave no orphaned devices behind.
    async_prune_devices(
        hass,
        entry,
        {
            water_meter_identifier(entry.entry_id, meter_id)
            for meter_id in coordinator.meters
        },
    )


async def async_remove_water_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete a removed site's stored history and its repair issue."""
    ir.async_delete_issue(hass, DOMAIN, f"water_recorder_missing_{entry.entry_id}")
    await Store[Any](
        hass, STORAGE_VERSION, f"{DOMAIN}.water_{entry.entry_id}"
    ).async_remove()

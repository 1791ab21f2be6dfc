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
    CONF_SCAN_INTERVAL,
    EVENT_HOMEASSISTANT_FINAL_WRITE,
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
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import (
    async_call_later,
    async_track_state_change_event,
    async_track_time_change,
    async_track_time_interval,
)
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import VolumeConverter

from .. import compat
from ..const import CONF_SLAVE, DOMAIN, LOGGER, RECORDER
from ..helpers import EntryWork, line_config, line_pool
from ..line import (
    LineConfig,
    LineConflictError,
    LineError,
    ModbusLine,
    ReadRequest,
    RegisterKind,
)
from .const import (
    CONF_ENTITY,
    CONF_GAP_HOURS,
    CONF_LEAK_THRESHOLD,
    CONF_METER_ID,
    CONF_Q3,
    CONF_Q4,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_SCALE,
    CONF_SOURCE,
    CONF_WORD_ORDER,
    DEFAULT_GAP_HOURS,
    DEFAULT_SCALE,
    DEFAULT_SCAN_INTERVAL,
    SAVE_DELAY,
    SUBENTRY_METER,
    MeterSource,
)
from .engine.history import Change
from .engine.model import (
    DEFAULT_LEAK_THRESHOLD,
    DEFAULT_Q3,
    DEFAULT_Q4,
    INDEX_RESOLUTION,
    PLAUSIBLE_Q4_FACTOR,
    Reading,
    ReadingError,
    RejectReason,
    Rules,
    index_from_words,
    parse_index,
    parse_number,
)
from .engine.site import HourRow, WaterSite
from .engine.stats import MeterSpec, MeterSummary, SiteAggregate
from .errors import ERROR_KEYS

type MetersConfigEntry = ConfigEntry[MetersCoordinator]

STORAGE_VERSION: Final = 1
#: After a restart the newest hours are imported again, in case the recorder
#: had not committed them when Home Assistant stopped.
REIMPORT_HOURS: Final = 24
#: Seconds a save waits for the recorder to write the rows of the readings in it.
RECORDER_WAIT: Final = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    """One meter as its subentry configures it."""

    meter_id: str
    name: str
    subentry_id: str | None = None
    q3: float = DEFAULT_Q3
    q4: float = DEFAULT_Q4
    source: MeterSource = MeterSource.PUSH
    entity_id: str | None = None
    line: LineConfig | None = None
    slave: int = 1
    register: int = 0
    register_kind: RegisterKind = RegisterKind.HOLDING
    scale: float = DEFAULT_SCALE
    word_order: str = "big"

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, name: str, subentry_id: str | None = None
    ) -> MeterConfig:
        """Build from a meter subentry's data and title."""
        source = MeterSource(data.get(CONF_SOURCE, MeterSource.PUSH))
        return cls(
            meter_id=data[CONF_METER_ID],
            name=name,
            subentry_id=subentry_id,
            q3=float(data.get(CONF_Q3, DEFAULT_Q3)),
            q4=float(data.get(CONF_Q4, DEFAULT_Q4)),
            source=source,
            entity_id=data.get(CONF_ENTITY),
            line=line_config(data) if source is MeterSource.MODBUS else None,
            slave=int(data.get(CONF_SLAVE, 1)),
            register=int(data.get(CONF_REGISTER, 0)),
            register_kind=RegisterKind(
                data.get(CONF_REGISTER_KIND, RegisterKind.HOLDING)
            ),
            scale=float(data.get(CONF_SCALE, DEFAULT_SCALE)),
            word_order=data.get(CONF_WORD_ORDER, "big"),
        )

    @property
    def statistic_id(self) -> str:
        """Return the external statistic of the meter's hourly usage."""
        return f"{DOMAIN}:water_{self.meter_id}"

    @property
    def index_request(self) -> ReadRequest:
        """Return the read of the meter's two index registers."""
        return ReadRequest(self.register_kind, self.register, 2)


def meter_configs(entry: ConfigEntry) -> list[MeterConfig]:
    """Return the meters of a site: one per meter subentry."""
    return [
        MeterConfig.from_data(
            subentry.data, name=subentry.title, subentry_id=subentry.subentry_id
        )
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_METER
    ]


def site_rules(options: Mapping[str, Any]) -> Rules:
    """Return the status thresholds of an entry's options (leak threshold is stored in L/h)."""
    return Rules(
        gap=int(float(options.get(CONF_GAP_HOURS, DEFAULT_GAP_HOURS)) * 3600),
        leak_threshold=float(
            options.get(CONF_LEAK_THRESHOLD, DEFAULT_LEAK_THRESHOLD * 1000)
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


class MetersCoordinator(DataUpdateCoordinator[WaterData]):
    """Follows sensors, polls Modbus meters, takes pushed readings; imports statistics."""

    config_entry: MetersConfigEntry

    def __init__(self, hass: HomeAssistant, entry: MetersConfigEntry) -> None:
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
        self.meters = {meter.meter_id: meter for meter in meter_configs(entry)}
        self.work = EntryWork(entry.title)
        self.site = WaterSite(
            dt_util.get_default_time_zone(), site_rules(entry.options)
        )
        self.scan_interval = timedelta(
            seconds=int(entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
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
            if meter.source is MeterSource.SENSOR and meter.entity_id:
                self._by_entity.setdefault(meter.entity_id, []).append(meter.meter_id)
        self._base_sums: dict[str, float] = {}
        #: Newest statistics row of meters that start without a stored history.
        self._last_rows: dict[str, HourRow] = {}
        #: Cancels the pending save; None when everything is on disk.
        self._save_timer: Callable[[], None] | None = None
        self._loaded = False

    @property
    def _recorder_issue(self) -> str:
        return f"meters_recorder_missing_{self.config_entry.entry_id}"

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
                        translation_key=ERROR_KEYS.key(err),
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
                translation_key="meters_recorder_missing",
                translation_placeholders={"title": self.config_entry.title},
            )
            return
        ir.async_delete_issue(self.hass, DOMAIN, self._recorder_issue)
        self.add_statistics = compat.async_add_water_statistics
        for meter_id, meter in self.site.meters.items():
            if meter.history.origin is None:
                statistic_id = self.meters[meter_id].statistic_id
                oldest = meter.history.oldest_valid
                if oldest is not None:
                    self._base_sums[meter_id] = await compat.async_sum_before(
                        self.hass, statistic_id, oldest.timestamp
                    )
                elif last := await compat.async_last_row(self.hass, statistic_id):
                    # Nothing stored: a new meter under an old id, or a crash
                    # before the meter's history was first saved.
                    self._last_rows[meter_id] = last
                    self._base_sums[meter_id] = last.sum
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
        # Home Assistant does not unload entries when it stops: a pending save
        # is written with the rest of its storage.
        entry.async_on_unload(
            self.hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_FINAL_WRITE, self._async_final_write
            )
        )

    async def async_shutdown(self) -> None:
        """Let reads in flight end, save the history and give the Modbus lines back."""
        await super().async_shutdown()
        await self.work.close()
        if self._save_timer is not None:
            self._save_timer()
            self._save_timer = None
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
        self._schedule_save()
        self._publish(frozenset((meter_id,)))

    def correct(self, meter_id: str, timestamp: int, index: float | None) -> None:
        """Replace or remove a stored reading (KeyError if none), rewrite statistics, publish."""
        change = self.site.correct(meter_id, timestamp, index)
        self._import_statistics(meter_id, change)
        self._schedule_save()
        self._publish(frozenset((meter_id,)))

    def _schedule_save(self) -> None:
        """Save within SAVE_DELAY of the first unsaved change, however often readings come.

        A power cut loses at most the readings of the last SAVE_DELAY seconds:
        a new reading never pushes a pending save back.
        """
        if self._save_timer is None and self._loaded:
            self._save_timer = async_call_later(
                self.hass, SAVE_DELAY, self._async_save_due
            )

    async def _async_save_due(self, _now: datetime) -> None:
        """Write the history, once the recorder has the rows of every reading in it."""
        self._save_timer = None
        history = self.site.to_json()
        if self.add_statistics is not None:
            # Rows of readings older than REIMPORT_HOURS are not imported
            # again after a crash: they must be written before the history
            # that no longer asks for them.
            try:
                async with asyncio.timeout(RECORDER_WAIT):
                    await get_instance(self.hass).async_block_till_done()
            except TimeoutError:
                LOGGER.warning(
                    "%s: the recorder did not write the water statistics within"
                    " %d s; saving the readings anyway",
                    self.config_entry.title,
                    RECORDER_WAIT,
                )
        await self.store.async_save(history)

    async def _async_final_write(self, _event: Event) -> None:
        """Write unsaved readings as Home Assistant stops (the recorder writes its queue as it stops)."""
        if self._save_timer is not None:
            self._save_timer()
            self._save_timer = None
            await self.store.async_save(self.site.to_json())

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
        try:
            words = await line.read(meter.slave, meter.index_request)
        except LineError as err:
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
        try:
            index = parse_index(
                index_from_words(words, word_order=meter.word_order, scale=meter.scale)
            )
        except ReadingError as err:
            self._note_rejection(meter.meter_id, err)
            return
        self._record_from_source(meter.meter_id, Reading(_now(), index))

    async def _async_update_data(self) -> WaterData:
        """Read every polled source once and compute the statistics."""
        async with self.work.run():
            await self._async_poll()
        return self._snapshot(None)

    async def _async_poll(self) -> None:
        """Read Modbus meters and sample followed sensors."""
        now = dt_util.utcnow()
        # A wallpad's index sensor only changes while water flows; that it
        # still holds a value now is a reading too.
        for meter in self.meters.values():
            if (
                meter.source is MeterSource.SENSOR
                and meter.entity_id
                and (state := self.hass.states.get(meter.entity_id)) is not None
            ):
                self._read_sensor(meter.meter_id, state, now)
        await asyncio.gather(
            *(
                self._async_read_modbus(meter)
                for meter in self.meters.values()
                if meter.source is MeterSource.MODBUS
            )
        )
        self.site.prune(_now())

    async def _async_tick(self, _now_dt: datetime) -> None:
        """Poll, then re-evaluate every meter (communication faults depend on time)."""
        if self.work.closed:
            return
        async with self.work.run():
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

    def _continue_series(self, meter_id: str) -> None:
        """Count from the statistic's own origin when the first reading carries its index on.

        A crash before a meter's history was first saved loses the origin its
        sum counts from, not its rows. A first reading after the newest row,
        at or above its index and by no more than the meter can pass since, is
        the same meter going on; anything else is a new meter, whose sum goes
        on from the old one's.
        """
        last = self._last_rows[meter_id]
        oldest = self.site.meters[meter_id].history.oldest_valid
        ends = last.start + 3600
        if oldest is None or oldest.timestamp < ends:
            return
        most = (
            PLAUSIBLE_Q4_FACTOR
            * self.meters[meter_id].q4
            * (oldest.timestamp - ends)
            / 3600
        )
        if -INDEX_RESOLUTION <= oldest.index - last.state <= most + INDEX_RESOLUTION:
            self._base_sums[meter_id] = oldest.index - (last.state - last.sum)

    def _import_statistics(self, meter_id: str, change: Change) -> None:
        """Write the hourly rows a change touched to long-term statistics."""
        if self.add_statistics is None:
            return
        meter = self.site.meters[meter_id]
        if meter.history.origin is None and meter_id in self._last_rows:
            self._continue_series(meter_id)
        rows = meter.hour_rows(
            change.start, change.end, base_sum=self._base_sums.get(meter_id, 0.0)
        )
        if not rows:
            return
        config = self.meters[meter_id]
        self.add_statistics(self.hass, config.statistic_id, config.name, rows)
        self.imported_rows += len(rows)
        self._schedule_save()

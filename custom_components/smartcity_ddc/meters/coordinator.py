"""Coordinator of a meter site: readings in from every source, statistics and credit out.

Readings come from source sensors, Modbus registers, the record action and
the site's RS-485 meter buses (DL/T645 electricity and M-Bus water meters,
read in turn on each bus's schedule). Each accepted reading updates the
meter's history and its hourly external statistic; each update also works
out prepaid balances (credit.py) and raises or clears the site's repairs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
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
from homeassistant.exceptions import ConfigEntryError, HomeAssistantError
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
from ..const import DOMAIN, LOGGER, RECORDER
from ..helpers import EntryWork, async_report_issue, line_pool
from ..line import LineConflictError, LineError, ModbusLine, PooledLine
from .buses import OpenBus, bus_settings
from .config import (
    MeterConfig,
    MeterLive,
    MetersData,
    MeterView,
    meter_configs,
    site_rules,
)
from .const import (
    DEFAULT_SCAN_INTERVAL,
    EVENT_LOW_CREDIT,
    EVENT_TOP_UP,
    SAVE_DELAY,
    SILENT_REPAIR_AFTER,
    UNREACHABLE_ROUNDS,
    MeterSource,
)
from .credit import CreditBook
from .engine.bus import BusReadResult, MeterBus, ReadStatus, read_bus
from .engine.history import Change
from .engine.model import (
    INDEX_RESOLUTION,
    STATUS_PRIORITY,
    Flag,
    Medium,
    Reading,
    ReadingError,
    RejectReason,
    Status,
    index_from_words,
    parse_index,
    parse_number,
)
from .engine.prepaid import CreditUnit, TopUp
from .engine.site import HourRow, WaterSite
from .errors import ERROR_KEYS

type MetersConfigEntry = ConfigEntry[MetersCoordinator]

STORAGE_VERSION: Final = 1
#: After a restart the newest hours are imported again, in case the recorder
#: had not committed them when Home Assistant stopped.
REIMPORT_HOURS: Final = 24
#: Seconds a save waits for the recorder to write the rows of the readings in it.
RECORDER_WAIT: Final = 10


#: What a failed bus read shows as the meter's status.
_READ_PROBLEMS: Final = {
    ReadStatus.NO_ANSWER: Status.COMMUNICATION_FAULT,
    ReadStatus.BUS_ERROR: Status.COMMUNICATION_FAULT,
    ReadStatus.CHECKSUM: Status.COMMUNICATION_FAULT,
    ReadStatus.WRONG_ADDRESS: Status.COMMUNICATION_FAULT,
    ReadStatus.METER_ERROR: Status.METER_FAULT,
    ReadStatus.BAD_DATA: Status.METER_FAULT,
}


#: Outcomes worth asking the meter once more in the same read: a request
#: lost or garbled on the line (RS-485 noise, a meter busy for a moment).
_TRY_AGAIN: Final = frozenset((ReadStatus.NO_ANSWER, ReadStatus.CHECKSUM))


def _number(value: object) -> float | None:
    """Return a decoded value as a float (None if the meter didn't report it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: object) -> int | None:
    """Return a decoded value as an int (None if the meter didn't report it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _now() -> int:
    """Return the current time in epoch seconds."""
    return int(dt_util.utcnow().timestamp())


class MetersCoordinator(DataUpdateCoordinator[MetersData]):
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
        # Private (the ledgers hold STS tokens) and written atomically: a
        # power cut mid-write leaves the previous file, never half of one.
        self.store: Store[dict[str, Any]] = Store(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.water_{entry.entry_id}",
            private=True,
            atomic_writes=True,
        )
        self.rejected: dict[str, Counter[str]] = {
            meter_id: Counter() for meter_id in self.meters
        }
        self.last_error: dict[str, str] = {}
        #: Writes hourly rows to long-term statistics; None without the recorder.
        self.add_statistics: (
            Callable[[HomeAssistant, str, str, str, list[HourRow]], None] | None
        ) = None
        self.imported_rows = 0
        self._lines: dict[str, ModbusLine] = {}
        #: The site's meter buses by subentry id, and those open (borrowed from the pool).
        self.bus_settings = bus_settings(entry)
        self.buses: dict[str, OpenBus] = {}
        #: The meters read on each bus, in reading order.
        self._bus_meters: dict[str, list[str]] = {}
        #: Each bus meter's latest read: its outcome, and what it reported besides its index.
        self.bus_results: dict[str, BusReadResult] = {}
        self.live: dict[str, MeterLive] = {}
        #: Reads in a row in which a bus could not be reached at all.
        self.unreachable_rounds: Counter[str] = Counter()
        self._reading_buses: set[str] = set()
        self.credit = CreditBook(self.meters)
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
        #: Counts the writes begun: a delayed save that waited for the
        #: recorder gives way to any write begun meanwhile (it has newer data).
        self._writes = 0

    @property
    def _recorder_issue(self) -> str:
        return f"meters_recorder_missing_{self.config_entry.entry_id}"

    async def _async_setup(self) -> None:
        """Load the stored history and ledgers, open lines and buses, prepare statistics."""
        now = _now()
        raw = await self.store.async_load()
        stored = WaterSite.stored_meters(raw)
        for meter_id, error in self.credit.load(raw):
            LOGGER.error(
                "%s: the stored prepaid ledger of meter %s can't be read (%s);"
                " it is kept as it is, and top-ups to the meter are refused"
                " until it is repaired",
                self.config_entry.title,
                meter_id,
                error,
            )
        for meter in self.meters.values():
            try:
                self.site.add_meter(
                    meter.meter_id,
                    meter.spec,
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
                self.site.add_meter(meter.meter_id, meter.spec, added=now)
        self._loaded = True
        try:
            self._open_lines()
        except LineConflictError as err:
            await self._async_release_lines()
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key=ERROR_KEYS.key(err),
                translation_placeholders={"error": str(err)},
            ) from err
        self._add_bus_meters()
        await self._async_setup_statistics()

    def _open_lines(self) -> None:
        """Borrow each Modbus meter's line and each bus from the pool (LineConflictError)."""
        pool = line_pool(self.hass)
        for meter in self.meters.values():
            if meter.line is not None:
                self._lines[meter.meter_id] = pool.acquire(meter.line)
        for bus_id, settings in self.bus_settings.items():
            self.buses[bus_id] = OpenBus(
                settings, pool.acquire(settings.config, MeterBus)
            )

    def _add_bus_meters(self) -> None:
        """Give each bus meter its reader on its bus; a repair names those that can't be read."""
        unread: list[str] = []
        for meter in self.meters.values():
            if not meter.on_bus:
                continue
            bus = self.buses.get(meter.bus_id or "")
            if bus is None:
                problem = "its bus is no longer part of the site"
            else:
                try:
                    bus.add_meter(
                        meter.meter_id, meter.source, meter.address, meter.version
                    )
                except ValueError as err:
                    problem = f"its address {meter.address!r} is not valid: {err}"
                else:
                    self._bus_meters.setdefault(bus.settings.bus_id, []).append(
                        meter.meter_id
                    )
                    continue
            LOGGER.warning(
                "%s: meter %s is not read: %s",
                self.config_entry.title,
                meter.meter_id,
                problem,
            )
            self.last_error[meter.meter_id] = problem
            unread.append(meter.name)
        issue = f"meters_meter_unread_{self.config_entry.entry_id}"
        if not unread:
            ir.async_delete_issue(self.hass, DOMAIN, issue)
            return
        async_report_issue(
            self.hass,
            issue,
            translation_key="meters_meter_unread",
            placeholders={
                "title": self.config_entry.title,
                "meters": ", ".join(sorted(unread)),
            },
        )

    def reads_on_bus(self, meter_id: str) -> bool:
        """Return True for a meter this site reads on one of its buses."""
        return any(meter_id in meters for meters in self._bus_meters.values())

    async def _async_release_lines(self) -> None:
        """Give every line and bus back to the pool."""
        pool = line_pool(self.hass)
        lines: list[PooledLine] = [*self._lines.values()]
        lines.extend(bus.bus for bus in self.buses.values())
        self._lines.clear()
        self.buses.clear()
        for line in lines:
            await pool.release(line)

    async def _async_setup_statistics(self) -> None:
        """Use long-term statistics if the recorder runs; raise a repair issue if not."""
        if RECORDER not in self.hass.config.components:
            LOGGER.warning(
                "%s: the recorder is not loaded, so hourly water usage is not"
                " written to long-term statistics (history graphs and the"
                " Energy dashboard stay empty)",
                self.config_entry.title,
            )
            async_report_issue(
                self.hass,
                self._recorder_issue,
                translation_key="meters_recorder_missing",
                placeholders={"title": self.config_entry.title},
            )
            return
        ir.async_delete_issue(self.hass, DOMAIN, self._recorder_issue)
        self.add_statistics = compat.async_add_meter_statistics
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
        for bus_id, bus in self.buses.items():
            if bus_id not in self._bus_meters:
                continue
            entry.async_on_unload(
                async_track_time_interval(
                    self.hass,
                    partial(self._async_bus_tick, bus_id),
                    bus.settings.interval,
                    name=f"{DOMAIN} meter bus {bus.settings.name}",
                    cancel_on_shutdown=True,
                )
            )
            # The first read starts now, beside Home Assistant starting up: a
            # bus of a hundred meters at 2400 baud takes minutes.
            entry.async_create_background_task(
                self.hass,
                self.async_read_bus(bus_id),
                f"{DOMAIN} first read of meter bus {bus.settings.name}",
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
            await self._async_write(self._stored())
        await self._async_release_lines()

    def _stored(self) -> dict[str, Any]:
        """Return what the site store keeps: the reading history and the ledgers."""
        return {**self.site.to_json(), **self.credit.to_json()}

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
        # The history as it is now; the ledgers as they are when it is
        # written (a top-up meanwhile is saved at once and must stay).
        history = self.site.to_json()
        writes = self._writes
        if self.add_statistics is not None:
            # Rows of readings older than REIMPORT_HOURS are not imported
            # again after a crash: they must be written before the history
            # that no longer asks for them.
            try:
                async with asyncio.timeout(RECORDER_WAIT):
                    await get_instance(self.hass).async_block_till_done()
            except TimeoutError:
                LOGGER.warning(
                    "%s: the recorder did not write the meter statistics within"
                    " %d s; saving the readings anyway",
                    self.config_entry.title,
                    RECORDER_WAIT,
                )
        if self._writes != writes:
            return  # written meanwhile, with everything this save holds
        await self._async_write({**history, **self.credit.to_json()})

    async def _async_save_now(self) -> None:
        """Write everything now, taking the place of a pending save."""
        if self._save_timer is not None:
            self._save_timer()
            self._save_timer = None
        await self._async_write(self._stored())

    async def _async_write(self, data: dict[str, Any]) -> None:
        """Write the site store."""
        self._writes += 1
        await self.store.async_save(data)

    async def _async_final_write(self, _event: Event) -> None:
        """Write unsaved readings as Home Assistant stops (the recorder writes its queue as it stops)."""
        if self._save_timer is not None:
            await self._async_save_now()

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

    async def _async_update_data(self) -> MetersData:
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

    # --- meter buses ---------------------------------------------------------------

    async def _async_bus_tick(self, bus_id: str, _now_dt: datetime) -> None:
        """Read a bus's meters on its schedule."""
        await self.async_read_bus(bus_id)

    async def async_read_bus(self, bus_id: str) -> None:
        """Read every meter of a bus once, in turn; each result is taken as it comes.

        A meter that gave no answer or a garbled one is asked once more at
        the end of the round, and only its second answer counts. A read
        still running when the next is due is not doubled: the new one is
        skipped. Unloading the entry stops a read between two requests;
        what was read until then is kept.
        """
        meter_ids = self._bus_meters.get(bus_id)
        bus = self.buses.get(bus_id)
        if not meter_ids or bus is None or self.work.closed:
            return
        if bus_id in self._reading_buses:
            LOGGER.debug(
                "%s: the previous read of bus %s is still running",
                self.config_entry.title,
                bus.settings.name,
            )
            return
        self._reading_buses.add(bus_id)
        readers = [bus.meters[meter_id] for meter_id in meter_ids]

        def take_first(position: int, result: BusReadResult) -> None:
            # A meter that missed one request is asked again after the others.
            if result.status not in _TRY_AGAIN:
                self._take_bus_result(meter_ids[position], result)

        try:
            async with self.work.run():
                results = await read_bus(bus.bus, readers, on_result=take_first)
                again = [
                    position
                    for position, result in enumerate(results)
                    if result.status in _TRY_AGAIN
                ]
                if again:
                    retried = await read_bus(
                        bus.bus,
                        [readers[position] for position in again],
                        on_result=lambda position, result: self._take_bus_result(
                            meter_ids[again[position]], result
                        ),
                    )
                    for position, result in zip(again, retried, strict=True):
                        results[position] = result
        except HomeAssistantError:
            # The entry is unloading: the read stopped part-way.
            return
        finally:
            self._reading_buses.discard(bus_id)
        self._bus_round_done(bus_id, results)

    def _take_bus_result(self, meter_id: str, result: BusReadResult) -> None:
        """Take one meter's read: its index as a reading, its live values, or its failure."""
        meter = self.meters[meter_id]
        index: float | None = None
        if result.ok:
            amount = result.values.get(
                "energy" if meter.medium is Medium.ELECTRICITY else "volume"
            )
            try:
                index = parse_index(amount)
            except ReadingError as err:
                # A meter that answers with an index no meter can show (below
                # zero, not a number) is at fault: its answer is not used.
                self._note_rejection(meter_id, err)
                result = BusReadResult(
                    result.meter,
                    ReadStatus.BAD_DATA,
                    detail=f"index {amount!r} refused ({err.reason})",
                )
        previous = self.bus_results.get(meter_id)
        self.bus_results[meter_id] = result
        if not result.ok or index is None:
            # What the meter reported last time is not what it reports now.
            self.live[meter_id] = MeterLive()
            self.last_error[meter_id] = f"{result.status}: {result.detail}".rstrip(": ")
            if previous is None or previous.ok:
                LOGGER.warning(
                    "%s: cannot read %s meter %s (%s): %s",
                    self.config_entry.title,
                    meter.source,
                    meter.meter_id,
                    result.status,
                    result.detail or ", ".join(result.reasons),
                )
            self._publish(frozenset((meter_id,)))
            return
        if previous is not None and not previous.ok:
            LOGGER.info("%s: meter %s answers again", self.config_entry.title, meter_id)
        self.last_error.pop(meter_id, None)
        values = result.values
        relay_open = values.get("relay_open")
        self.live[meter_id] = MeterLive(
            power=_number(values.get("power")),
            voltage=_number(values.get("voltage")),
            current=_number(values.get("current")),
            remaining_energy=_number(values.get("remaining_energy")),
            remaining_money=_number(values.get("remaining_money")),
            relay_closed=None if relay_open is None else not relay_open,
            error_flags=_integer(values.get("error_flags")),
        )
        flags = Flag.RELAY_OPEN if relay_open is True else Flag.NONE
        self._record_from_source(meter_id, Reading(_now(), index, flags))
        # A refused reading (the same index twice in a second) still brought live values.
        self._publish(frozenset((meter_id,)))

    def _bus_round_done(self, bus_id: str, results: list[BusReadResult]) -> None:
        """After a whole bus was read: raise or clear its repairs and its meters'."""
        bus = self.buses[bus_id]
        issue = f"meters_bus_unreachable_{self.config_entry.entry_id}_{bus_id}"
        if results and all(r.status is ReadStatus.BUS_ERROR for r in results):
            self.unreachable_rounds[bus_id] += 1
            if self.unreachable_rounds[bus_id] >= UNREACHABLE_ROUNDS:
                async_report_issue(
                    self.hass,
                    issue,
                    translation_key="meters_bus_unreachable",
                    placeholders={
                        "title": self.config_entry.title,
                        "bus": bus.settings.name,
                        "error": results[0].detail,
                    },
                    severity=ir.IssueSeverity.ERROR,
                )
        else:
            self.unreachable_rounds.pop(bus_id, None)
            ir.async_delete_issue(self.hass, DOMAIN, issue)
        now = _now()
        for meter_id in self._bus_meters[bus_id]:
            self._check_silent(meter_id, now)

    def _check_silent(self, meter_id: str, now: int) -> None:
        """Raise a repair for a bus meter without a sound read for a day; clear it once it reads."""
        history = self.site.meters[meter_id].history
        newest = history.newest
        last = newest.timestamp if newest is not None else history.added
        issue = f"meters_meter_silent_{self.config_entry.entry_id}_{meter_id}"
        if now - last < SILENT_REPAIR_AFTER:
            ir.async_delete_issue(self.hass, DOMAIN, issue)
            return
        meter = self.meters[meter_id]
        result = self.bus_results.get(meter_id)
        async_report_issue(
            self.hass,
            issue,
            translation_key="meters_meter_silent",
            placeholders={
                "title": self.config_entry.title,
                "meter": meter.name,
                "address": meter.address,
                "status": str(result.status) if result else "-",
            },
        )

    async def async_set_relay(self, meter_id: str, *, closed: bool) -> bool:
        """Close or trip a meter's supply relay; return the state read back (True = closed).

        Raises the protocol's errors (the meter refused, no answer); the
        caller turns them into a translated message.
        """
        meter = self.meters[meter_id]
        bus = self.buses[meter.bus_id or ""]
        async with self.work.run():
            relay_open = await bus.set_relay(
                meter_id,
                open_relay=not closed,
                password=meter.meter_password,
                operator=meter.operator_code,
            )
        live = self.live.get(meter_id, MeterLive())
        self.live[meter_id] = replace(live, relay_closed=not relay_open)
        self._publish(frozenset((meter_id,)))
        return not relay_open

    # --- prepaid credit ----------------------------------------------------------------

    async def async_record_top_up(
        self,
        meter_id: str,
        amount: Decimal | float | str,
        unit: CreditUnit,
        token: str | None,
    ) -> TopUp:
        """Record a top-up in the meter's ledger, save it at once and tell automations.

        Money is not left waiting for the next save: the action returns once
        the ledger is on disk. Raises TokenError, LedgerError or
        credit.NoIndexError.
        """
        async with self.work.run():
            summary = self.site.summary(meter_id, _now())
            top_up = self.credit.record_top_up(
                meter_id,
                at=dt_util.utcnow().timestamp(),
                amount=amount,
                unit=unit,
                token=token,
                index=summary.index,
            )
            await self._async_save_now()
        self._publish(frozenset((meter_id,)))
        meter = self.meters[meter_id]
        prepaid = self.data.meters[meter_id].prepaid
        self.hass.bus.async_fire(
            EVENT_TOP_UP,
            {
                "meter": meter_id,
                "name": meter.name,
                "amount": float(top_up.amount),
                "unit": top_up.unit.value,
                "currency": self._currency(top_up.unit),
                "with_token": top_up.token is not None,
                "balance": None if prepaid is None else prepaid.balance,
            },
        )
        return top_up

    # --- statistics out --------------------------------------------------------------

    def _view(self, meter_id: str, now: int) -> MeterView:
        """Compute one meter's view at now: statistics, live values, credit, status."""
        meter = self.meters[meter_id]
        result = self.bus_results.get(meter_id)
        extra = frozenset(
            () if result is None or result.ok else (_READ_PROBLEMS[result.status],)
        )
        summary = self.site.summary(meter_id, now, extra_problems=extra)
        live = self.live.get(meter_id, MeterLive())
        prepaid = self.credit.state(meter, summary, live)
        if prepaid is not None and prepaid.low:
            problems = summary.problems | {Status.LOW_CREDIT}
            summary = replace(
                summary,
                problems=problems,
                status=next(s for s in STATUS_PRIORITY if s in problems),
            )
        return MeterView(
            summary=summary,
            live=live,
            prepaid=prepaid,
            read_status=None if result is None else result.status.value,
        )

    def _snapshot(self, changed: frozenset[str] | None) -> MetersData:
        """Compute the views (of the changed meters only, if given) and the aggregates."""
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
                else self._view(meter_id, now)
            )
            for meter_id in self.site.meters
        }
        today = self.site.today(now)
        return MetersData(
            meters=meters,
            aggregates={
                medium: (
                    self.site.aggregate(today, medium),
                    self.site.aggregate(today - 1, medium),
                )
                for medium in Medium
            },
            changed=changed,
        )

    def _publish(self, changed: frozenset[str] | None) -> None:
        """Hand fresh statistics to the entities; tell automations of new low credit."""
        self.async_set_updated_data(self._snapshot(changed))
        self._announce_low_credit(changed)

    def _currency(self, unit: CreditUnit) -> str | None:
        """Return the currency an amount of money is in (None for kWh)."""
        return self.hass.config.currency if unit is CreditUnit.MONEY else None

    def _announce_low_credit(self, changed: frozenset[str] | None) -> None:
        """Fire the low-credit event once each time a meter's credit becomes low."""
        low = self.credit.low
        before = set(low)
        for meter_id, view in self.data.meters.items():
            if changed is not None and meter_id not in changed:
                continue
            if view.prepaid is not None and view.prepaid.balance is None:
                # Unknown for now (a failed read): not the end of a dip.
                continue
            if view.prepaid is None or not view.prepaid.low:
                low.discard(meter_id)
                continue
            if meter_id in low:
                continue
            low.add(meter_id)
            meter = self.meters[meter_id]
            assert meter.prepaid is not None
            self.hass.bus.async_fire(
                EVENT_LOW_CREDIT,
                {
                    "meter": meter_id,
                    "name": meter.name,
                    "balance": view.prepaid.balance,
                    "unit": view.prepaid.unit.value,
                    "currency": self._currency(view.prepaid.unit),
                    "days_left": view.prepaid.days_left,
                    "threshold": meter.prepaid.threshold,
                },
            )
        if low != before:
            self._schedule_save()

    def _continue_series(self, meter_id: str) -> None:
        """Count from the statistic's own origin when the first reading carries its index on.

        A crash before a meter's history was first saved loses the origin its
        sum counts from, not its rows. A first reading after the newest row,
        at or above its index and by no more than the meter can pass since, is
        the same meter going on; anything else is a new meter, whose sum goes
        on from the old one's.
        """
        last = self._last_rows[meter_id]
        meter = self.site.meters[meter_id]
        oldest = meter.history.oldest_valid
        ends = last.start + 3600
        if oldest is None or oldest.timestamp < ends:
            return
        most = meter.spec.max_rate * (oldest.timestamp - ends) / 3600
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
        self.add_statistics(
            self.hass, config.statistic_id, config.name, config.medium, rows
        )
        self.imported_rows += len(rows)
        self._schedule_save()

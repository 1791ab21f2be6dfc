"""Flow steps of a meter site: the site (add, rename), its settings, its meters and meter buses as subentries.

A meter is water or electricity; its readings come from a sensor, a Modbus
register, the record action, or an RS-485 meter bus of the site (DL/T645
electricity meters, M-Bus water meters). A bus meter is read once before it
is saved, on the bus borrowed from the line pool (the same bus the site reads
when it is loaded, so the trial read waits its turn). A bus is a port or a
transparent gateway: opened once before it is saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
import re
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util, slugify
import voluptuous as vol

from ..const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_KIND,
    CONF_PARITY,
    CONF_SERIAL_PORT,
    CONF_SLAVE,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    DEFAULT_TCP_PORT,
    DOMAIN,
    EntryKind,
)
from ..helpers import (
    async_finish_update,
    dropdown,
    line_config,
    line_pool,
    number_box,
    number_field,
    serial_line_fields,
    serial_line_input,
    serial_ports,
)
from ..line import (
    LineConflictError,
    LineConnectionError,
    LineError,
    Parity,
    RegisterKind,
    Transport,
)
from .buses import BusSettings, OpenBus, async_scan_mbus, bus_config, bus_settings
from .config import MeterConfig
from .const import (
    CONF_ADDRESS,
    CONF_BUS,
    CONF_ENTITY,
    CONF_GAP_HOURS,
    CONF_LEAK_THRESHOLD,
    CONF_LOW_CREDIT,
    CONF_MAX_POWER,
    CONF_MEDIUM,
    CONF_METER_ID,
    CONF_METER_PASSWORD,
    CONF_OPERATOR_CODE,
    CONF_PREPAID,
    CONF_Q3,
    CONF_Q4,
    CONF_READ_INTERVAL,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_RELAY_CONTROL,
    CONF_REPLY_TIMEOUT,
    CONF_SCALE,
    CONF_SOURCE,
    CONF_TARIFF,
    CONF_VERSION,
    CONF_WORD_ORDER,
    DEFAULT_BUS_BAUDRATE,
    DEFAULT_GAP_HOURS,
    DEFAULT_READ_INTERVAL,
    DEFAULT_REPLY_TIMEOUT,
    DEFAULT_SCALE,
    DEFAULT_SCAN_INTERVAL,
    SUBENTRY_BUS,
    SUBENTRY_METER,
    MeterSource,
)
from .engine.bus import BusConfig, BusTransport, MeterBus
from .engine.dlt645 import (
    BROADCAST,
    AddressError,
    Dlt645Error,
    RelayCommand,
    SecretError,
    address_to_wire,
    control_data,
    read_address,
)
from .engine.mbus import WATER_MEDIA, SecondaryAddress, medium_name
from .engine.mbus_scan import ScanResult
from .engine.model import (
    DEFAULT_LEAK_THRESHOLD,
    DEFAULT_MAX_POWER,
    DEFAULT_Q3,
    DEFAULT_Q4,
    Medium,
)
from .engine.prepaid import CreditUnit
from .errors import BUS_ERROR_KEYS, ERROR_KEYS, READ_KEYS

#: Meter ids become statistic ids (smartcity_ddc:water_<id>): lowercase words joined by "_".
METER_ID: Final = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
METER_ID_MAX: Final = 40
#: What a meter read over Modbus stores besides its id and ratings.
_MODBUS_KEYS: Final = (
    CONF_TRANSPORT,
    CONF_HOST,
    CONF_PORT,
    CONF_SLAVE,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_SCALE,
    CONF_WORD_ORDER,
)
#: Where each medium's readings may come from. A sensor gives volumes only (the
#: site converts volume units); DL/T645 meters count electricity, M-Bus meters water.
SOURCES: Final[dict[Medium, tuple[MeterSource, ...]]] = {
    Medium.WATER: (
        MeterSource.SENSOR,
        MeterSource.MODBUS,
        MeterSource.PUSH,
        MeterSource.MBUS,
    ),
    Medium.ELECTRICITY: (MeterSource.DLT645, MeterSource.MODBUS, MeterSource.PUSH),
}
BUS_SOURCES: Final = frozenset({MeterSource.DLT645, MeterSource.MBUS})
#: Credit a prepaid meter counts in: water meters count money only.
CREDIT_UNITS: Final[dict[Medium, tuple[str, ...]]] = {
    Medium.WATER: ("none", CreditUnit.MONEY),
    Medium.ELECTRICITY: ("none", CreditUnit.MONEY, CreditUnit.ENERGY),
}
#: The meter id a trial read gives the meter being added.
_TRIAL: Final = "trial"
#: Why an address typed for each bus protocol can't be a meter's.
_BAD_ADDRESS: Final = {
    MeterSource.DLT645: "meters_invalid_dlt645_address",
    MeterSource.MBUS: "meters_invalid_mbus_address",
}
_WELL_FORMED_CODE: Final = "00000000"

# A meter bus.
_BUS_BAUDRATES: Final = ["1200", "2400", "4800", "9600", "19200"]
#: What each way of reaching a bus stores besides its schedule.
_BUS_KEYS: Final[dict[BusTransport, tuple[str, ...]]] = {
    BusTransport.TCP: (CONF_HOST, CONF_PORT),
    BusTransport.SERIAL: (
        CONF_SERIAL_PORT,
        CONF_BAUDRATE,
        CONF_BYTESIZE,
        CONF_PARITY,
        CONF_STOPBITS,
    ),
}


def _site_fields(defaults: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Return the communication gap and leak threshold fields."""
    return {
        **number_field(
            defaults, CONF_GAP_HOURS, DEFAULT_GAP_HOURS, number_box(1, 168, 1, "h")
        ),
        **number_field(
            defaults,
            CONF_LEAK_THRESHOLD,
            DEFAULT_LEAK_THRESHOLD * 1000,
            number_box(0.1, 1000, 0.1, "L/h"),
        ),
    }


def _site_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the site thresholds as stored."""
    return {
        CONF_GAP_HOURS: float(user_input[CONF_GAP_HOURS]),
        CONF_LEAK_THRESHOLD: float(user_input[CONF_LEAK_THRESHOLD]),
    }


def _site_name_error(
    hass: HomeAssistant, name: str, entry_id: str | None = None
) -> str | None:
    """Return why a site name can't be used: no letter or digit, or another site's name."""
    if not any(char.isalnum() for char in name):
        return "meters_invalid_name"
    if any(
        slugify(other.title) == slugify(name)
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.data.get(CONF_KIND) == EntryKind.METERS and other.entry_id != entry_id
    ):
        return "meters_name_taken"
    return None


class MetersFlowMixin(ConfigFlow):
    """Steps that add or rename a meter site; its meters are added as subentries."""

    async def async_step_meters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the site and set its status thresholds (reconfigure: rename it)."""
        reconfigure = self.source == SOURCE_RECONFIGURE
        entry = self._get_reconfigure_entry() if reconfigure else None
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if error := _site_name_error(
                self.hass, name, entry.entry_id if entry else None
            ):
                errors[CONF_NAME] = error
            elif entry is not None:
                return async_finish_update(
                    self, entry, title=name, data={**entry.data, CONF_NAME: name}
                )
            else:
                return self.async_create_entry(
                    title=name,
                    data={CONF_KIND: EntryKind.METERS, CONF_NAME: name},
                    options={
                        **_site_options(user_input),
                        CONF_SCAN_INTERVAL: DEFAULT_SCAN_INTERVAL,
                    },
                )
        fields: dict[vol.Marker, Any] = {
            vol.Required(
                CONF_NAME, default=entry.title if entry else vol.UNDEFINED
            ): selector.TextSelector()
        }
        if entry is None:
            fields |= _site_fields(user_input or {})
        return self.async_show_form(
            step_id="meters", data_schema=vol.Schema(fields), errors=errors
        )


class MetersOptionsFlow(OptionsFlow):
    """A site's communication gap, leak threshold and Modbus poll interval."""

    async def async_step_meters_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Communication gap, leak threshold and Modbus poll interval."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    **self.config_entry.options,
                    **_site_options(user_input),
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                **_site_fields(options),
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
                ): number_box(10, 3600, 1, "s"),
            }
        )
        return self.async_show_form(step_id="meters_settings", data_schema=schema)

    #: The options open at the site's settings.
    async_step_init = async_step_meters_settings


# --- trial reads -------------------------------------------------------------------


async def async_validate_modbus_meter(
    hass: HomeAssistant, meter: MeterConfig
) -> dict[str, str]:
    """Read a meter's index registers once; return form errors."""
    assert meter.line is not None
    pool = line_pool(hass)
    try:
        line = pool.acquire(meter.line)
    except LineError as err:
        return {"base": ERROR_KEYS.key(err)}
    try:
        await line.read(meter.slave, meter.index_request)
    except LineError as err:
        return {"base": ERROR_KEYS.key(err)}
    finally:
        await pool.release(line)
    return {}


@contextlib.asynccontextmanager
async def _borrowed_bus(
    hass: HomeAssistant, settings: BusSettings
) -> AsyncIterator[OpenBus]:
    """Borrow a site's bus from the pool (LineConflictError) and give it back after."""
    pool = line_pool(hass)
    bus = pool.acquire(settings.config, MeterBus)
    try:
        yield OpenBus(settings, bus)
    finally:
        await pool.release(bus)


async def async_read_bus_meter(
    hass: HomeAssistant,
    settings: BusSettings,
    source: MeterSource,
    address: str,
    version: int,
) -> dict[str, str]:
    """Read a DL/T645 or M-Bus meter once, as the site would; return form errors."""
    try:
        async with _borrowed_bus(hass, settings) as bus:
            bus.add_meter(_TRIAL, source, address, version)
            async with bus.bus.turn:
                result = await bus.meters[_TRIAL].read(bus.bus)
    except LineConflictError as err:
        return {"base": BUS_ERROR_KEYS.key(err)}
    return {} if result.ok else {"base": READ_KEYS[result.status]}


async def async_who_is_there(
    hass: HomeAssistant, settings: BusSettings
) -> tuple[str | None, dict[str, str]]:
    """Ask a bus with one DL/T645-2007 meter for its address; return it or form errors."""
    try:
        async with _borrowed_bus(hass, settings) as bus, bus.bus.turn:
            address = await read_address(bus.bus, reply_timeout=settings.config.timeout)
    except (LineConflictError, LineConnectionError) as err:
        return None, {"base": BUS_ERROR_KEYS.key(err)}
    except (LineError, Dlt645Error):
        # Silence, or several meters answering the broadcast at once: their
        # answers garble each other, and what comes is no frame at all.
        return None, {"base": "meters_find_failed"}
    return address, {}


async def async_open_bus(
    hass: HomeAssistant, config: BusConfig, current: BusConfig | None = None
) -> dict[str, str]:
    """Open a bus's port or gateway connection once; return form errors.

    ``current`` is the bus's stored settings when it is being changed: while
    its site is loaded the pool holds the port with those, so a change of
    speed or timeout on the same port is checked through the open bus (the
    site's reload then reopens it with the new settings).
    """
    pool = line_pool(hass)
    try:
        bus = pool.acquire(config, MeterBus)
    except LineConflictError as err:
        if current is None or current.key != config.key:
            return {"base": BUS_ERROR_KEYS.key(err)}
        try:
            bus = pool.acquire(current, MeterBus)
        except LineConflictError as again:
            return {"base": BUS_ERROR_KEYS.key(again)}
    try:
        await bus.connect()
    except LineError as err:
        return {"base": BUS_ERROR_KEYS.key(err)}
    finally:
        await pool.release(bus)
    return {}


# --- where things are ----------------------------------------------------------------


def meter_ids(hass: HomeAssistant) -> set[str]:
    """Return the id of every meter of every site (ids name statistics, so they are unique)."""
    return {
        str(subentry.data.get(CONF_METER_ID))
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_METER
    }


def _port_id(key: tuple[str, str]) -> str:
    """Return a port's physical identity as a unique id: net:host:port or serial:/dev/…."""
    return ":".join(key)


def _bus_on_port(hass: HomeAssistant, key: tuple[str, str], skip: str | None) -> bool:
    """Return True when a bus of any site (but the one being changed) uses this port."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        for subentry in entry.subentries.values():
            if subentry.subentry_type != SUBENTRY_BUS or subentry.subentry_id == skip:
                continue
            with contextlib.suppress(KeyError, ValueError):
                if bus_config(subentry.data).key == key:
                    return True
    return False


def _modbus_on_port(hass: HomeAssistant, key: tuple[str, str]) -> bool:
    """Return True when a DDC or a Modbus meter uses this port as a Modbus line."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        datas = [entry.data] if entry.data.get(CONF_KIND) == EntryKind.SHELTER else []
        datas.extend(
            subentry.data
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_METER
            and subentry.data.get(CONF_SOURCE) == MeterSource.MODBUS
        )
        for data in datas:
            with contextlib.suppress(KeyError, ValueError):
                if line_config(data).key == key:
                    return True
    return False


def _dlt645_address(text: str) -> str | None:
    """Return a nameplate number as stored (12 digits), None if it can't be a meter's."""
    text = text.strip()
    try:
        wire = address_to_wire(text)
    except AddressError:
        return None
    return None if wire == BROADCAST else text.zfill(12)


def _mbus_address(text: str) -> str | None:
    """Return an M-Bus address as stored (1-250, or 16 hex digits), None if it can't be one."""
    text = text.strip().upper()
    if text.isdigit() and len(text) <= 3:
        return str(int(text)) if 1 <= int(text) <= 250 else None
    if len(text) != 16:
        return None
    try:
        address = SecondaryAddress.parse(text)
    except ValueError:
        return None
    return None if address.is_mask else str(address)


def _code_errors(codes: Mapping[str, str]) -> dict[str, str]:
    """Return the relay codes missing, or that a control command can't carry (8 digits each)."""
    errors: dict[str, str] = {}
    for key, code in codes.items():
        if not code:
            errors[key] = "meters_secret_required"
            continue
        # Each code is checked beside well-formed others, to name its field.
        checked = dict.fromkeys(codes, _WELL_FORMED_CODE) | {key: code}
        try:
            control_data(
                RelayCommand.CLOSE,
                checked[CONF_METER_PASSWORD],
                checked[CONF_OPERATOR_CODE],
                dt_util.now(),
            )
        except SecretError:
            errors[key] = "meters_invalid_secret"
    return errors


# --- meters --------------------------------------------------------------------------


class _SavingSubentryFlow(ConfigSubentryFlow):
    """A subentry flow that ends by saving: the subentry being reconfigured, or a new one."""

    def _async_save(
        self, title: str, data: dict[str, Any], unique_id: str
    ) -> SubentryFlowResult:
        """Update the subentry being reconfigured, or create one."""
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=title,
                data=data,
                unique_id=unique_id,
            )
        return self.async_create_entry(title=title, data=data, unique_id=unique_id)


class MeterSubentryFlow(_SavingSubentryFlow):
    """Add a meter to a site, or change one: medium, ratings, where its readings come from, credit, relay."""

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._scan: asyncio.Task[ScanResult] | None = None
        self._found: list[SecondaryAddress] = []
        self._scan_placeholders: dict[str, str] = {}

    # The draft and the site.

    @property
    def _medium(self) -> Medium:
        """Return the medium of the meter being added or changed."""
        return Medium(self._draft.get(CONF_MEDIUM, Medium.WATER))

    @property
    def _source(self) -> MeterSource:
        """Return where the meter's readings come from."""
        return MeterSource(self._draft[CONF_SOURCE])

    def _buses(self) -> dict[str, BusSettings]:
        """Return the site's meter buses by subentry id."""
        return bus_settings(self._get_entry())

    def _skip(self) -> str | None:
        """Return the subentry being changed (it doesn't conflict with itself)."""
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_subentry().subentry_id
        return None

    def _addresses_in_use(self, bus_id: str) -> set[str]:
        """Return the addresses of the site's other meters on a bus."""
        return {
            str(subentry.data.get(CONF_ADDRESS))
            for subentry in self._get_entry().subentries.values()
            if subentry.subentry_type == SUBENTRY_METER
            and subentry.subentry_id != self._skip()
            and subentry.data.get(CONF_BUS) == bus_id
        }

    # Name, medium, ratings, source.

    def _rating_fields(self) -> dict[vol.Marker, Any]:
        """Return the rated flows (water) or the rated power (electricity), and the source."""
        draft = self._draft
        fields: dict[vol.Marker, Any]
        if self._medium is Medium.WATER:
            flow = number_box(0.01, 10000, 0.001, "m³/h")
            fields = {
                **number_field(draft, CONF_Q3, DEFAULT_Q3, flow),
                **number_field(draft, CONF_Q4, DEFAULT_Q4, flow),
            }
        else:
            fields = {
                vol.Required(
                    CONF_MAX_POWER, default=draft.get(CONF_MAX_POWER, DEFAULT_MAX_POWER)
                ): number_box(0.1, 100000, 0.1, "kW")
            }
        sources = SOURCES[self._medium]
        fields[
            vol.Required(CONF_SOURCE, default=draft.get(CONF_SOURCE, MeterSource.PUSH))
        ] = dropdown([source.value for source in sources], "meters_source")
        return fields

    def _take_ratings(self, user_input: dict[str, Any]) -> dict[str, str]:
        """Copy the ratings and the source into the draft; return form errors."""
        if self._medium is Medium.WATER:
            q3, q4 = float(user_input[CONF_Q3]), float(user_input[CONF_Q4])
            if not 0 < q3 <= q4:
                return {CONF_Q4: "meters_invalid_flow"}
            self._draft.update({CONF_Q3: q3, CONF_Q4: q4})
        else:
            self._draft[CONF_MAX_POWER] = float(user_input[CONF_MAX_POWER])
        source = MeterSource(user_input[CONF_SOURCE])
        self._draft[CONF_SOURCE] = source
        if source in BUS_SOURCES and not self._buses():
            return {CONF_SOURCE: "meters_no_bus"}
        return {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a meter: its id, name and what it measures."""
        errors: dict[str, str] = {}
        if user_input is not None:
            meter_id = user_input[CONF_METER_ID].strip().lower()
            name = user_input[CONF_NAME].strip()
            self._draft.update(
                {
                    CONF_METER_ID: meter_id,
                    CONF_NAME: name,
                    CONF_MEDIUM: Medium(user_input[CONF_MEDIUM]),
                }
            )
            if not METER_ID.fullmatch(meter_id) or len(meter_id) > METER_ID_MAX:
                errors[CONF_METER_ID] = "meters_invalid_meter_id"
            elif meter_id in meter_ids(self.hass):
                errors[CONF_METER_ID] = "meters_meter_exists"
            elif not name:
                errors[CONF_NAME] = "meters_invalid_name"
            elif self._medium is Medium.WATER:
                return await self.async_step_water()
            else:
                return await self.async_step_electricity()
        draft = self._draft
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_METER_ID, default=draft.get(CONF_METER_ID, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_NAME, default=draft.get(CONF_NAME, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_MEDIUM, default=draft.get(CONF_MEDIUM, Medium.WATER)
                ): dropdown([medium.value for medium in Medium], "meters_medium"),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_water(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a water meter's rated flows and where its readings come from."""
        return await self._async_step_ratings("water", user_input)

    async def async_step_electricity(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an electricity meter's rated power and where its readings come from."""
        return await self._async_step_ratings("electricity", user_input)

    async def _async_step_ratings(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        """Ask for the ratings and the source of the meter being added."""
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := self._take_ratings(user_input)):
            return await self._async_step_source()
        return self.async_show_form(
            step_id=step_id,
            data_schema=vol.Schema(self._rating_fields()),
            errors=errors,
            description_placeholders={"meter": self._draft[CONF_METER_ID]},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a meter's name, ratings or source (its id and medium stay)."""
        if not self._draft:
            subentry = self._get_reconfigure_subentry()
            self._draft = {**subentry.data, CONF_NAME: subentry.title}
        errors: dict[str, str] = {}
        if user_input is not None:
            self._draft[CONF_NAME] = user_input[CONF_NAME].strip()
            if not self._draft[CONF_NAME]:
                errors[CONF_NAME] = "meters_invalid_name"
            elif not (errors := self._take_ratings(user_input)):
                return await self._async_step_source()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_NAME, default=self._draft.get(CONF_NAME, "")
                ): selector.TextSelector(),
                **self._rating_fields(),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"meter": self._draft[CONF_METER_ID]},
        )

    async def _async_step_source(self) -> SubentryFlowResult:
        """Continue with the settings of the meter's source."""
        match self._source:
            case MeterSource.SENSOR:
                return await self.async_step_sensor()
            case MeterSource.MODBUS:
                return await self.async_step_modbus()
            case MeterSource.DLT645:
                return await self.async_step_dlt645()
            case MeterSource.MBUS:
                return await self.async_step_mbus()
        return await self._async_step_credit()

    # The sources.

    async def async_step_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose the sensor that carries the meter's index."""
        if user_input is not None:
            self._draft[CONF_ENTITY] = user_input[CONF_ENTITY]
            return await self._async_step_credit()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_ENTITY, default=self._draft.get(CONF_ENTITY, vol.UNDEFINED)
                ): selector.EntitySelector(
                    selector.EntitySelectorConfig(domain="sensor")
                )
            }
        )
        return self.async_show_form(step_id="sensor", data_schema=schema)

    async def async_step_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Where the meter's uint32 index register is: line, slave, address, scale."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft.update(
                {
                    **user_input,
                    CONF_PORT: int(user_input[CONF_PORT]),
                    CONF_SLAVE: int(user_input[CONF_SLAVE]),
                    CONF_REGISTER: int(user_input[CONF_REGISTER]),
                    CONF_SCALE: float(user_input[CONF_SCALE]),
                }
            )
            meter = MeterConfig.from_data(draft, name=draft[CONF_NAME])
            if not (errors := await async_validate_modbus_meter(self.hass, meter)):
                return await self._async_step_credit()
        unit = "m³" if self._medium is Medium.WATER else "kWh"
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TRANSPORT, default=draft.get(CONF_TRANSPORT, Transport.TCP)
                ): dropdown(
                    [Transport.TCP.value, Transport.RTU_OVER_TCP.value],
                    "line_transport",
                ),
                vol.Required(
                    CONF_HOST, default=draft.get(CONF_HOST, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_PORT, default=draft.get(CONF_PORT, DEFAULT_TCP_PORT)
                ): number_box(1, 65535),
                vol.Required(CONF_SLAVE, default=draft.get(CONF_SLAVE, 1)): number_box(
                    1, 247
                ),
                vol.Required(
                    CONF_REGISTER, default=draft.get(CONF_REGISTER, 0)
                ): number_box(0, 65534),
                vol.Required(
                    CONF_REGISTER_KIND,
                    default=draft.get(CONF_REGISTER_KIND, RegisterKind.HOLDING),
                ): dropdown(
                    [RegisterKind.HOLDING.value, RegisterKind.INPUT.value],
                    "meters_register_kind",
                ),
                vol.Required(
                    CONF_SCALE, default=draft.get(CONF_SCALE, DEFAULT_SCALE)
                ): number_box(0.0001, 1000, "any", unit),
                vol.Required(
                    CONF_WORD_ORDER, default=draft.get(CONF_WORD_ORDER, "big")
                ): dropdown(["big", "little"], "meters_word_order"),
            }
        )
        return self.async_show_form(step_id="modbus", data_schema=schema, errors=errors)

    def _bus_field(self) -> dict[vol.Marker, Any]:
        """Return the choice of one of the site's buses."""
        buses = self._buses()
        options = [
            selector.SelectOptionDict(value=bus_id, label=settings.name)
            for bus_id, settings in sorted(
                buses.items(), key=lambda item: item[1].name.casefold()
            )
        ]
        default = self._draft.get(CONF_BUS)
        if default not in buses:
            default = options[0]["value"] if options else vol.UNDEFINED
        return {vol.Required(CONF_BUS, default=default): dropdown(options)}

    def _address_field(self) -> dict[vol.Marker, Any]:
        """Return the address field, filled with the draft's address if there is one."""
        return {
            vol.Optional(
                CONF_ADDRESS,
                description={"suggested_value": self._draft.get(CONF_ADDRESS)},
            ): selector.TextSelector()
        }

    def _take_bus_address(
        self, user_input: dict[str, Any], parse: Callable[[str], str | None]
    ) -> dict[str, str]:
        """Copy the bus and the address into the draft; return form errors."""
        self._draft[CONF_BUS] = user_input[CONF_BUS]
        text = str(user_input.get(CONF_ADDRESS, "")).strip()
        self._draft[CONF_ADDRESS] = text
        if user_input[CONF_BUS] not in self._buses():
            return {CONF_BUS: "meters_no_bus"}
        if not text:
            return {CONF_ADDRESS: "meters_address_required"}
        if (address := parse(text)) is None:
            return {CONF_ADDRESS: _BAD_ADDRESS[self._source]}
        self._draft[CONF_ADDRESS] = address
        if address in self._addresses_in_use(user_input[CONF_BUS]):
            return {CONF_ADDRESS: "meters_address_taken"}
        return {}

    def _bus_address_schema(self, fields: dict[vol.Marker, Any]) -> vol.Schema:
        """Return a bus meter's form: the bus, the address, then the protocol's own fields."""
        return vol.Schema({**self._bus_field(), **self._address_field(), **fields})

    async def _async_take_meter(
        self, user_input: dict[str, Any], parse: Callable[[str], str | None]
    ) -> dict[str, str]:
        """Take the bus and the address, then read the meter once; return form errors."""
        return (
            self._take_bus_address(user_input, parse) or await self._async_trial_read()
        )

    async def _async_trial_read(self) -> dict[str, str]:
        """Read the drafted bus meter once; return form errors."""
        draft = self._draft
        return await async_read_bus_meter(
            self.hass,
            self._buses()[draft[CONF_BUS]],
            self._source,
            draft[CONF_ADDRESS],
            int(draft.get(CONF_VERSION, 2007)),
        )

    async def async_step_dlt645(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a DL/T645 meter's bus, address and protocol version, or ask the bus who is there."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft[CONF_VERSION] = int(user_input[CONF_VERSION])
            if user_input.get("find"):
                errors = await self._async_find_address(user_input)
            elif not (
                errors := await self._async_take_meter(user_input, _dlt645_address)
            ):
                return await self._async_step_credit()
        schema = self._bus_address_schema(
            {
                vol.Required(
                    CONF_VERSION, default=str(draft.get(CONF_VERSION, 2007))
                ): dropdown(["2007", "1997"], "meters_dlt645_version"),
                vol.Required("find", default=False): selector.BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="dlt645", data_schema=schema, errors=errors)

    async def _async_find_address(self, user_input: dict[str, Any]) -> dict[str, str]:
        """Ask the chosen bus "who is there" and put the answer in the address field."""
        self._draft[CONF_BUS] = user_input[CONF_BUS]
        self._draft[CONF_ADDRESS] = str(user_input.get(CONF_ADDRESS, "")).strip()
        if user_input[CONF_BUS] not in self._buses():
            return {CONF_BUS: "meters_no_bus"}
        if self._draft[CONF_VERSION] != 2007:
            # DL/T645-1997 has no read-address command.
            return {CONF_VERSION: "meters_find_needs_2007"}
        address, errors = await async_who_is_there(
            self.hass, self._buses()[user_input[CONF_BUS]]
        )
        if address is not None:
            self._draft[CONF_ADDRESS] = address
        return errors

    async def async_step_mbus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an M-Bus meter's bus and primary or secondary address, or scan the bus."""
        if self._scan is not None:
            return self._scan_progress()
        errors, self._errors = self._errors, {}
        if user_input is not None:
            if user_input.get("scan"):
                self._draft[CONF_BUS] = user_input[CONF_BUS]
                if user_input[CONF_BUS] not in self._buses():
                    errors = {CONF_BUS: "meters_no_bus"}
                else:
                    return self._start_scan()
            elif not (
                errors := await self._async_take_meter(user_input, _mbus_address)
            ):
                return await self._async_step_credit()
        schema = self._bus_address_schema(
            {
                vol.Required("scan", default=False): selector.BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="mbus", data_schema=schema, errors=errors)

    def _start_scan(self) -> SubentryFlowResult:
        """Scan the chosen bus in the background; a big bus takes a minute."""
        settings = self._buses()[self._draft[CONF_BUS]]
        self._scan_placeholders = {"bus": settings.name}
        self._scan = self.hass.async_create_task(
            async_scan_mbus(line_pool(self.hass), settings.config),
            f"{DOMAIN} M-Bus scan of {settings.name}",
        )
        return self._scan_progress()

    def _scan_progress(self) -> SubentryFlowResult:
        """Show the scan running; when it is done, go on to the meters it found."""
        scan = self._scan
        assert scan is not None
        if not scan.done():
            return self.async_show_progress(
                progress_action="meters_mbus_scan",
                progress_task=scan,
                description_placeholders=self._scan_placeholders,
            )
        self._scan = None
        try:
            result = scan.result()
        except LineError as err:
            self._errors = {"base": BUS_ERROR_KEYS.key(err)}
            return self.async_show_progress_done(next_step_id="mbus")
        taken = self._addresses_in_use(self._draft[CONF_BUS])
        water = [meter for meter in result.meters if meter.medium in WATER_MEDIA]
        self._found = [meter for meter in water if str(meter) not in taken]
        self._scan_placeholders = {
            "found": str(len(result.meters)),
            "taken": str(len(water) - len(self._found)),
            "other": str(len(result.meters) - len(water)),
            "unresolved": str(len(result.unresolved)),
        }
        if not self._found:
            self._errors = {"base": "meters_scan_found_none"}
            return self.async_show_progress_done(next_step_id="mbus")
        return self.async_show_progress_done(next_step_id="mbus_found")

    async def async_step_mbus_found(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pick one of the water meters the scan found (those already added are left out)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._draft[CONF_ADDRESS] = user_input[CONF_ADDRESS]
            if not (errors := await self._async_trial_read()):
                return await self._async_step_credit()
        translations = await async_get_translations(
            self.hass, self.hass.config.language, "selector", {DOMAIN}
        )
        prefix = f"component.{DOMAIN}.selector.meters_mbus_medium.options."
        options = [
            selector.SelectOptionDict(
                value=str(meter),
                label=" · ".join(
                    (
                        meter.ident,
                        meter.manufacturer or "?",
                        translations.get(
                            prefix + medium_name(meter.medium or 0),
                            medium_name(meter.medium or 0),
                        ),
                    )
                ),
            )
            for meter in self._found
        ]
        schema = vol.Schema(
            {vol.Required(CONF_ADDRESS, default=options[0]["value"]): dropdown(options)}
        )
        return self.async_show_form(
            step_id="mbus_found",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._scan_placeholders,
        )

    # Prepaid credit and the supply relay.

    def _asks_credit(self) -> bool:
        """Return True for a meter that may be prepaid: on a bus, or any electricity meter."""
        return self._source in BUS_SOURCES or self._medium is Medium.ELECTRICITY

    def _asks_relay(self) -> bool:
        """Return True for a meter whose relay the site may switch: DL/T645-2007."""
        return (
            self._source is MeterSource.DLT645
            and int(self._draft.get(CONF_VERSION, 2007)) == 2007
        )

    async def _async_step_credit(self) -> SubentryFlowResult:
        """Continue with prepaid credit and the relay where they apply, then save."""
        if self._asks_credit():
            return await self.async_step_prepaid()
        return await self._async_step_relay()

    async def _async_step_relay(self) -> SubentryFlowResult:
        """Continue with the relay where it applies, then save."""
        if self._asks_relay():
            return await self.async_step_relay()
        return self._save_meter()

    async def async_step_prepaid(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Whether the meter is prepaid, in money or kWh, at what tariff; when credit is low."""
        draft = self._draft
        units = CREDIT_UNITS[self._medium]
        if user_input is not None:
            draft[CONF_PREPAID] = user_input[CONF_PREPAID]
            draft[CONF_TARIFF] = (
                None
                if user_input.get(CONF_TARIFF) is None
                else float(user_input[CONF_TARIFF])
            )
            draft[CONF_LOW_CREDIT] = float(user_input[CONF_LOW_CREDIT])
            return await self._async_step_relay()
        prepaid = draft.get(CONF_PREPAID, "none")
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_PREPAID, default=prepaid if prepaid in units else "none"
                ): dropdown(list(units), "meters_prepaid"),
                vol.Optional(
                    CONF_TARIFF,
                    description={"suggested_value": draft.get(CONF_TARIFF)},
                ): number_box(0.0001, 1000000, "any"),
                vol.Required(
                    CONF_LOW_CREDIT, default=draft.get(CONF_LOW_CREDIT, 0)
                ): number_box(0, 1000000, "any"),
            }
        )
        return self.async_show_form(
            step_id="prepaid",
            data_schema=schema,
            description_placeholders={
                "usage": "m³" if self._medium is Medium.WATER else "kWh"
            },
        )

    async def async_step_relay(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Whether the site may switch the meter's supply relay, with the meter's codes.

        The codes are never shown again: left empty when the meter is changed,
        the stored ones stay.
        """
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft[CONF_RELAY_CONTROL] = bool(user_input[CONF_RELAY_CONTROL])
            codes = {
                key: str(user_input.get(key) or "").strip() or str(draft.get(key) or "")
                for key in (CONF_METER_PASSWORD, CONF_OPERATOR_CODE)
            }
            if draft[CONF_RELAY_CONTROL]:
                errors = _code_errors(codes)
            if not errors:
                draft.update(codes)
                return self._save_meter()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_RELAY_CONTROL, default=bool(draft.get(CONF_RELAY_CONTROL))
                ): selector.BooleanSelector(),
                vol.Optional(CONF_METER_PASSWORD): selector.TextSelector(
                    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                ),
                vol.Optional(CONF_OPERATOR_CODE): selector.TextSelector(
                    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                ),
            }
        )
        return self.async_show_form(step_id="relay", data_schema=schema, errors=errors)

    def _save_meter(self) -> SubentryFlowResult:
        """Store the draft as a new meter, or as the meter being reconfigured."""
        draft = self._draft
        source = self._source
        data: dict[str, Any] = {
            CONF_METER_ID: draft[CONF_METER_ID],
            CONF_MEDIUM: self._medium,
        }
        if self._medium is Medium.WATER:
            data.update({CONF_Q3: draft[CONF_Q3], CONF_Q4: draft[CONF_Q4]})
        else:
            data[CONF_MAX_POWER] = draft[CONF_MAX_POWER]
        data[CONF_SOURCE] = source
        if source is MeterSource.SENSOR:
            data[CONF_ENTITY] = draft[CONF_ENTITY]
        elif source is MeterSource.MODBUS:
            data.update({key: draft[key] for key in _MODBUS_KEYS})
        elif source in BUS_SOURCES:
            data.update({CONF_BUS: draft[CONF_BUS], CONF_ADDRESS: draft[CONF_ADDRESS]})
            if source is MeterSource.DLT645:
                data[CONF_VERSION] = int(draft.get(CONF_VERSION, 2007))
        if self._asks_credit():
            data[CONF_PREPAID] = draft.get(CONF_PREPAID, "none")
            if data[CONF_PREPAID] != "none":
                data[CONF_LOW_CREDIT] = draft[CONF_LOW_CREDIT]
                if draft.get(CONF_TARIFF) is not None:
                    data[CONF_TARIFF] = draft[CONF_TARIFF]
        if self._asks_relay():
            data[CONF_RELAY_CONTROL] = bool(draft.get(CONF_RELAY_CONTROL))
            # Codes are kept only while the site may use them.
            if data[CONF_RELAY_CONTROL]:
                data[CONF_METER_PASSWORD] = draft[CONF_METER_PASSWORD]
                data[CONF_OPERATOR_CODE] = draft[CONF_OPERATOR_CODE]
        return self._async_save(draft[CONF_NAME], data, data[CONF_METER_ID])


# --- meter buses ---------------------------------------------------------------------


def _interval_fields(draft: Mapping[str, Any]) -> dict[vol.Marker, Any]:
    """Return how often a bus's meters are read and how long a meter has to answer."""
    return {
        **number_field(
            draft,
            CONF_READ_INTERVAL,
            DEFAULT_READ_INTERVAL,
            number_box(1, 1440, 1, "min"),
        ),
        **number_field(
            draft,
            CONF_REPLY_TIMEOUT,
            DEFAULT_REPLY_TIMEOUT,
            number_box(0.2, 30, 0.1, "s"),
        ),
    }


def _interval_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return a bus's schedule answers as numbers."""
    return {
        CONF_READ_INTERVAL: int(user_input[CONF_READ_INTERVAL]),
        CONF_REPLY_TIMEOUT: float(user_input[CONF_REPLY_TIMEOUT]),
    }


class BusSubentryFlow(_SavingSubentryFlow):
    """Add an RS-485 meter bus to a site, or change one: a serial port or a transparent gateway."""

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Name the bus and choose how Home Assistant reaches it."""
        return await self._async_step_start("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a bus: its name, how it is reached, its schedule (its meters stay on it)."""
        if not self._draft:
            subentry = self._get_reconfigure_subentry()
            self._draft = {**subentry.data, CONF_NAME: subentry.title}
        return await self._async_step_start("reconfigure", user_input)

    def _skip(self) -> str | None:
        """Return the bus being changed (it doesn't conflict with itself)."""
        if self.source == SOURCE_RECONFIGURE:
            return self._get_reconfigure_subentry().subentry_id
        return None

    async def _async_step_start(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        """Ask for the name and the transport."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            draft.update(
                {
                    CONF_NAME: name,
                    CONF_TRANSPORT: BusTransport(user_input[CONF_TRANSPORT]),
                }
            )
            if not name:
                errors[CONF_NAME] = "meters_invalid_name"
            elif any(
                subentry.title.casefold() == name.casefold()
                for subentry in self._get_entry().subentries.values()
                if subentry.subentry_type == SUBENTRY_BUS
                and subentry.subentry_id != self._skip()
            ):
                errors[CONF_NAME] = "meters_bus_name_taken"
            elif draft[CONF_TRANSPORT] is BusTransport.SERIAL:
                return await self.async_step_serial()
            else:
                return await self.async_step_tcp()
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_NAME, default=draft.get(CONF_NAME, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_TRANSPORT, default=draft.get(CONF_TRANSPORT, BusTransport.TCP)
                ): dropdown([t.value for t in BusTransport], "meters_bus_transport"),
            }
        )
        return self.async_show_form(step_id=step_id, data_schema=schema, errors=errors)

    async def async_step_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a transparent RS-485/TCP gateway's address, and the bus's schedule."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft.update(
                {
                    CONF_HOST: user_input[CONF_HOST].strip(),
                    CONF_PORT: int(user_input[CONF_PORT]),
                    **_interval_input(user_input),
                }
            )
            if not draft[CONF_HOST]:
                errors = {CONF_HOST: "meters_invalid_host"}
            else:
                result, errors = await self._async_finish()
                if result is not None:
                    return result
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_HOST, default=draft.get(CONF_HOST, "")
                ): selector.TextSelector(),
                vol.Required(
                    CONF_PORT, default=draft.get(CONF_PORT, vol.UNDEFINED)
                ): number_box(1, 65535),
                **_interval_fields(draft),
            }
        )
        return self.async_show_form(step_id="tcp", data_schema=schema, errors=errors)

    async def async_step_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a USB RS-485 adapter's port and line settings, and the bus's schedule."""
        errors: dict[str, str] = {}
        draft = self._draft
        if user_input is not None:
            draft.update(
                {**serial_line_input(user_input), **_interval_input(user_input)}
            )
            result, errors = await self._async_finish()
            if result is not None:
                return result
        ports = await self.hass.async_add_executor_job(serial_ports)
        schema = vol.Schema(
            {
                **serial_line_fields(
                    draft,
                    ports,
                    _BUS_BAUDRATES,
                    baudrate=DEFAULT_BUS_BAUDRATE,
                    parity=Parity.EVEN,
                ),
                **_interval_fields(draft),
            }
        )
        return self.async_show_form(step_id="serial", data_schema=schema, errors=errors)

    async def _async_finish(
        self,
    ) -> tuple[SubentryFlowResult | None, dict[str, str]]:
        """Open the bus once, then add it or store the change; return form errors otherwise."""
        draft = self._draft
        transport = BusTransport(draft[CONF_TRANSPORT])
        data: dict[str, Any] = {
            CONF_TRANSPORT: transport,
            **{key: draft[key] for key in _BUS_KEYS[transport]},
            CONF_READ_INTERVAL: draft[CONF_READ_INTERVAL],
            CONF_REPLY_TIMEOUT: draft[CONF_REPLY_TIMEOUT],
        }
        config = bus_config(data)
        if _bus_on_port(self.hass, config.key, self._skip()):
            return self.async_abort(reason="already_configured"), {}
        if _modbus_on_port(self.hass, config.key):
            return None, {"base": "meters_bus_port_in_use"}
        current: BusConfig | None = None
        if self.source == SOURCE_RECONFIGURE:
            with contextlib.suppress(KeyError, ValueError):
                current = bus_config(self._get_reconfigure_subentry().data)
        if errors := await async_open_bus(self.hass, config, current):
            return None, errors
        return self._async_save(draft[CONF_NAME], data, _port_id(config.key)), {}

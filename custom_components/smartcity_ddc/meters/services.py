"""The meter-site actions: record a pushed reading, correct or remove a wrong one, record a top-up.

All are for administrators (and for automations and scripts, which only
administrators write): a reading changes a household's usage statistics for
weeks, a top-up its credit. Readings are only pushed to meters whose readings
come by the action; a meter read from a sensor, a Modbus register or a bus
takes them from there. A top-up's amount is the user's (from the receipt):
an STS token can't be decoded without the utility's key, so it is only
checked (format, class, not recorded before) and kept against duplicates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ..const import DOMAIN
from .const import MeterSource
from .coordinator import MetersCoordinator
from .credit import NoIndexError
from .engine.model import (
    FLAG_NAMES,
    Flag,
    ReadingError,
    Signal,
    make_reading,
    parse_index,
)
from .engine.prepaid import CreditUnit, LedgerError
from .engine.sts import TokenError
from .errors import ledger_key, reading_key, token_key

SERVICE_RECORD_WATER_READING: Final = "record_water_reading"
SERVICE_CORRECT_WATER_READING: Final = "correct_water_reading"
SERVICE_RECORD_TOP_UP: Final = "record_top_up"
ATTR_AMOUNT: Final = "amount"
ATTR_UNIT: Final = "unit"
ATTR_TOKEN: Final = "token"  # noqa: S105 - the field's name
ATTR_METER: Final = "meter"
ATTR_TIMESTAMP: Final = "timestamp"
ATTR_INDEX: Final = "index"
ATTR_FLAGS: Final = "flags"
#: The flags a pushed reading may carry (services.yaml offers these); an open
#: relay is only ever read from the meter itself.
PUSHED_FLAGS: Final = ("meter_fault", "low_battery", "backflow")
SIGNAL_FIELDS: Final = ("rssi", "rsrq", "rsrp", "snr")

#: A meter id is at most 40 characters (longer can't name a meter).
_METER = vol.All(cv.string, vol.Length(max=40))

RECORD_WATER_READING_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_METER): _METER,
        vol.Optional(ATTR_TIMESTAMP): cv.datetime,
        # Any value: a non-number is refused with a translated explanation.
        vol.Required(ATTR_INDEX): object,
        vol.Optional(ATTR_FLAGS, default=list): vol.All(
            cv.ensure_list,
            vol.Length(max=len(PUSHED_FLAGS)),
            [vol.In(PUSHED_FLAGS)],
        ),
        vol.Optional("rssi"): vol.Coerce(float),
        vol.Optional("rsrq"): vol.Coerce(float),
        vol.Optional("rsrp"): vol.Coerce(float),
        vol.Optional("snr"): vol.Coerce(float),
    }
)
CORRECT_WATER_READING_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_METER): _METER,
        vol.Required(ATTR_TIMESTAMP): cv.datetime,
        # Without an index the reading is removed.
        vol.Optional(ATTR_INDEX): object,
    }
)


RECORD_TOP_UP_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_METER): _METER,
        # Any value: a non-number is refused with a translated explanation.
        vol.Required(ATTR_AMOUNT): object,
        vol.Optional(ATTR_UNIT): vol.In([unit.value for unit in CreditUnit]),
        # 20 digits, maybe grouped: anything longer can't be a token.
        vol.Optional(ATTR_TOKEN): vol.All(cv.string, vol.Length(max=40)),
    }
)


def find_meter(hass: HomeAssistant, meter_id: str) -> MetersCoordinator:
    """Return the coordinator of the loaded meter site that has a meter."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        coordinator = getattr(entry, "runtime_data", None)
        if (
            isinstance(coordinator, MetersCoordinator)
            and meter_id in coordinator.meters
        ):
            return coordinator
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="meters_unknown_meter",
        translation_placeholders={"meter": meter_id},
    )


def _refused(
    err: ReadingError, meter_id: str, index: object, when: datetime
) -> ServiceValidationError:
    """Return the translated refusal of a reading."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=reading_key(err),
        translation_placeholders={
            "meter": meter_id,
            "index": str(index)[:64],
            "timestamp": dt_util.as_local(when).isoformat(),
            "error": str(err),
        },
    )


async def _async_record_water_reading(call: ServiceCall) -> None:
    """Add a reading to a meter of any site."""
    meter_id: str = call.data[ATTR_METER]
    coordinator = find_meter(call.hass, meter_id)
    if coordinator.meters[meter_id].source is not MeterSource.PUSH:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="meters_reading_not_pushed",
            translation_placeholders={
                "meter": meter_id,
                "source": coordinator.meters[meter_id].source,
            },
        )
    # A time without a zone is Home Assistant's local time.
    when: datetime = dt_util.as_utc(call.data.get(ATTR_TIMESTAMP) or dt_util.utcnow())
    flags = Flag.NONE
    for name in call.data[ATTR_FLAGS]:
        flags |= FLAG_NAMES[name]
    signal = (
        Signal(*(call.data.get(field) for field in SIGNAL_FIELDS))
        if any(field in call.data for field in SIGNAL_FIELDS)
        else None
    )
    try:
        coordinator.record(
            meter_id,
            make_reading(when.timestamp(), call.data[ATTR_INDEX], flags, signal),
        )
    except ReadingError as err:
        raise _refused(err, meter_id, call.data[ATTR_INDEX], when) from err


async def _async_correct_water_reading(call: ServiceCall) -> None:
    """Replace the index of a stored reading, or remove it; statistics are rewritten."""
    meter_id: str = call.data[ATTR_METER]
    coordinator = find_meter(call.hass, meter_id)
    when: datetime = dt_util.as_utc(call.data[ATTR_TIMESTAMP])
    index: float | None = None
    try:
        if ATTR_INDEX in call.data:
            index = parse_index(call.data[ATTR_INDEX])
        coordinator.correct(meter_id, int(when.timestamp()), index)
    except ReadingError as err:
        raise _refused(err, meter_id, call.data.get(ATTR_INDEX), when) from err
    except KeyError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="meters_no_reading_at",
            translation_placeholders={
                "meter": meter_id,
                "timestamp": dt_util.as_local(when).isoformat(),
            },
        ) from err


async def _async_record_top_up(call: ServiceCall) -> None:
    """Add a top-up to a prepaid meter's ledger."""
    meter_id: str = call.data[ATTR_METER]
    coordinator = find_meter(call.hass, meter_id)
    meter = coordinator.meters[meter_id]
    placeholders = {"meter": meter_id}
    if meter.prepaid is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="meters_not_prepaid",
            translation_placeholders=placeholders,
        )
    unit = CreditUnit(call.data.get(ATTR_UNIT, meter.prepaid.unit))
    amount = call.data[ATTR_AMOUNT]
    try:
        await coordinator.async_record_top_up(
            meter_id,
            amount
            if isinstance(amount, int | float | str) and not isinstance(amount, bool)
            else repr(amount),
            unit,
            call.data.get(ATTR_TOKEN),
        )
    except TokenError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=token_key(err),
            translation_placeholders=placeholders,
        ) from err
    except LedgerError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=ledger_key(err),
            translation_placeholders={
                **placeholders,
                "amount": str(amount)[:64],
                "unit": unit.value,
            },
        ) from err
    except NoIndexError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="meters_top_up_no_reading",
            translation_placeholders=placeholders,
        ) from err


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the meter-site actions (administrators only)."""
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_RECORD_WATER_READING,
        _async_record_water_reading,
        schema=RECORD_WATER_READING_SCHEMA,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_CORRECT_WATER_READING,
        _async_correct_water_reading,
        schema=CORRECT_WATER_READING_SCHEMA,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_RECORD_TOP_UP,
        _async_record_top_up,
        schema=RECORD_TOP_UP_SCHEMA,
    )

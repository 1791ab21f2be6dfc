"""The meter-site action: record a reading pushed by a meter-data platform or an automation."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ..const import DOMAIN
from .coordinator import MetersCoordinator
from .engine.model import FLAG_NAMES, Flag, ReadingError, Signal, make_reading
from .errors import reading_key

SERVICE_RECORD_WATER_READING: Final = "record_water_reading"
ATTR_METER: Final = "meter"
ATTR_TIMESTAMP: Final = "timestamp"
ATTR_INDEX: Final = "index"
ATTR_FLAGS: Final = "flags"
SIGNAL_FIELDS: Final = ("rssi", "rsrq", "rsrp", "snr")

RECORD_WATER_READING_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_METER): cv.string,
        vol.Optional(ATTR_TIMESTAMP): cv.datetime,
        # Any value: a non-number is refused with a translated explanation.
        vol.Required(ATTR_INDEX): object,
        vol.Optional(ATTR_FLAGS, default=list): vol.All(
            cv.ensure_list, [vol.In(FLAG_NAMES)]
        ),
        vol.Optional("rssi"): vol.Coerce(float),
        vol.Optional("rsrq"): vol.Coerce(float),
        vol.Optional("rsrp"): vol.Coerce(float),
        vol.Optional("snr"): vol.Coerce(float),
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


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register smartcity_ddc.record_water_reading."""

    async def _async_record_water_reading(call: ServiceCall) -> None:
        """Add a reading to a meter of any water site."""
        meter_id: str = call.data[ATTR_METER]
        coordinator = find_meter(hass, meter_id)
        # A time without a zone is Home Assistant's local time.
        when: datetime = dt_util.as_utc(
            call.data.get(ATTR_TIMESTAMP) or dt_util.utcnow()
        )
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
                make_reading(
                    when.timestamp(),
                    call.data[ATTR_INDEX],
                    flags,
                    signal,
                ),
            )
        except ReadingError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=reading_key(err),
                translation_placeholders={
                    "meter": meter_id,
                    "index": str(call.data[ATTR_INDEX]),
                    "timestamp": dt_util.as_local(when).isoformat(),
                    "error": str(err),
                },
            ) from err

    hass.services.async_register(
        DOMAIN,
        SERVICE_RECORD_WATER_READING,
        _async_record_water_reading,
        schema=RECORD_WATER_READING_SCHEMA,
    )

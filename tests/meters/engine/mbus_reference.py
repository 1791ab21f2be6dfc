"""pyMeterBus as the independent reference for our M-Bus codec: import it safely, compare decodes.

pyMeterBus calls ``logging.basicConfig(level=INFO)`` when imported, so it is
imported by a function that puts the root logger back as it was. Its
values are binary floats dressed as ``Decimal``: they are rounded to the
places of our exact value before comparing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
import functools
import importlib
import logging
from types import ModuleType
from typing import Any

from custom_components.smartcity_ddc.meters.engine.mbus import (
    MBusRecord,
    Quantity,
    Telegram,
    parse_rsp_ud,
)

#: pyMeterBus's unit names for the units our records carry.
UNITS = {
    "m^3": "m³",
    "m^3/h": "m³/h",
    "m^3/min": "m³/min",
    "m^3/s": "m³/s",
    "Wh": "Wh",
    "J": "J",
    "kg": "kg",
    "W": "W",
    "C": "°C",
    "K": "K",
    "bar": "bar",
    "Currency unit": "currency",
}
SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
FUNCTIONS = {
    "instantaneous": "FunctionType.INSTANTANEOUS_VALUE",
    "maximum": "FunctionType.MAXIMUM_VALUE",
    "minimum": "FunctionType.MINIMUM_VALUE",
    "error_state": "FunctionType.ERROR_STATE_VALUE",
}


@functools.cache
def pymeterbus() -> ModuleType:
    """Return the pyMeterBus module, imported once with the root logger left as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return importlib.import_module("meterbus")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _same_value(ours: MBusRecord, theirs: Any) -> None:
    """Assert that pyMeterBus's value of a record is ours (theirs rounded to our places)."""
    value = ours.value
    if isinstance(value, datetime):
        assert theirs == value.isoformat(timespec="minutes"), ours
    elif isinstance(value, date):
        assert theirs == value.isoformat(), ours
    elif ours.quantity in (
        Quantity.ERROR_FLAGS,
        Quantity.DIGITAL_INPUT,
        Quantity.DIGITAL_OUTPUT,
    ):
        # pyMeterBus reads flags as a signed integer; the bits are the same.
        assert int(theirs) & ((1 << (8 * len(ours.data))) - 1) == value, ours
    elif isinstance(value, Decimal) and ours.unit in SECONDS:
        # pyMeterBus gives durations in seconds; ours stay in the meter's unit.
        assert Decimal(theirs) == value * SECONDS[ours.unit], (ours, theirs)
    elif isinstance(value, Decimal):
        places = max(0, -int(value.as_tuple().exponent))
        assert round(Decimal(theirs), places) == value, (ours, theirs)
    elif isinstance(value, int):
        assert int(theirs) == value, (ours, theirs)
    else:
        raise AssertionError(f"no comparison for {ours}")


def agree(frame: bytes) -> Telegram:
    """Decode an RSP_UD with our codec and with pyMeterBus; assert they agree on every value."""
    ours = parse_rsp_ud(frame)
    theirs = pymeterbus().load(frame)
    header = theirs.body.bodyHeader.interpreted
    assert header["manufacturer"] == ours.header.manufacturer
    assert (
        "".join(f"{b:02x}" for b in theirs.body.bodyHeader.id_nr)
        == ours.header.ident.lower()
    )
    assert int(header["medium"], 16) == ours.header.medium
    assert int(header["version"], 16) == ours.header.version
    assert header["access_no"] == ours.header.access_number
    assert int(header["status"], 16) == ours.header.status.raw
    assert theirs.secondary_address == str(ours.header.secondary)
    records = [r for r in theirs.records if not r.dib.is_eoud]
    assert len(records) == len(ours.records)
    assert theirs.more_records_follow == ours.more_follow
    for mine, their in zip(ours.records, records, strict=True):
        interpreted = their.interpreted
        assert interpreted["storage_number"] == mine.storage, mine
        assert interpreted.get("tariff", 0) == mine.tariff, mine
        assert interpreted.get("device", 0) == mine.subunit, mine
        assert interpreted["function"] == FUNCTIONS[mine.function], mine
        if mine.value is None:
            continue
        if interpreted["unit"] in UNITS and mine.unit:
            assert UNITS[interpreted["unit"]] == mine.unit, mine
        _same_value(mine, their.value)
    return ours

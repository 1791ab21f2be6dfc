"""Readings, status flags, statuses and rejection reasons of the meter engine.

A meter measures one medium: water (index in m³) or electricity (index in
kWh). Everything that follows an index — history, usage, read rates — is the
same for both; the status rules and the plausibility bound differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntFlag, StrEnum
import math
from typing import Final

#: Days of readings kept per meter (the 30-day statistics need 31 days back).
RETENTION_DAYS: Final = 40
#: A terminal's clock may run this far ahead before its readings count as "in the future".
FUTURE_TOLERANCE: Final = 300
#: 15 mm domestic meter (ISO 4064 / OIML R49): Q3 2.5 m³/h, Q4 = 1.25 Q3.
DEFAULT_Q3: Final = 2.5
DEFAULT_Q4: Final = 3.125
DEFAULT_GAP: Final = 3 * 3600
#: Leak rule: at least this much flow (m³/h) in each of the last 24 hours.
DEFAULT_LEAK_THRESHOLD: Final = 0.001
#: No meter shows an index this large (m³ or kWh; a meter's register has 8-9 digits).
MAX_INDEX: Final = 1e9
#: An electricity meter's default most power (kW): a 100 A three-phase supply.
DEFAULT_MAX_POWER: Final = 70.0
#: A meter cannot pass more than this many times its overload flow Q4: a rise
#: faster than that between two readings is not water but a wrong number.
PLAUSIBLE_Q4_FACTOR: Final = 4.0
#: Rounding a meter's index may add this much (m³) to a rise without any flow.
INDEX_RESOLUTION: Final = 0.001


class Medium(StrEnum):
    """What a meter measures."""

    WATER = "water"
    ELECTRICITY = "electricity"


class Flag(IntFlag):
    """Status bits a meter or its terminal reports with a reading."""

    NONE = 0
    #: The meter is broken or disconnected from its terminal: the index can't be trusted.
    METER_FAULT = 1
    LOW_BATTERY = 2
    #: The meter saw water flowing back; its index may go down.
    BACKFLOW = 4
    #: An electricity meter's supply relay is open (tripped, or out of credit).
    RELAY_OPEN = 8


#: The flags by the names the action and the storage use.
FLAG_NAMES: Final[dict[str, Flag]] = {
    "meter_fault": Flag.METER_FAULT,
    "low_battery": Flag.LOW_BATTERY,
    "backflow": Flag.BACKFLOW,
    "relay_open": Flag.RELAY_OPEN,
}


class Status(StrEnum):
    """What a meter's status sensor shows (SPEC §5)."""

    NORMAL = "normal"
    COMMUNICATION_FAULT = "communication_fault"
    METER_FAULT = "meter_fault"
    LEAK = "leak"
    OVER_Q4 = "over_q4"
    LOW_BATTERY = "low_battery"
    BACKFLOW = "backflow"
    RELAY_OPEN = "relay_open"
    LOW_CREDIT = "low_credit"


#: When several problems are present the status shows the first of this list:
#: no data at all hides everything else, a broken meter makes the flow rules
#: meaningless, then what needs action soonest (a supply already cut first).
STATUS_PRIORITY: Final = (
    Status.COMMUNICATION_FAULT,
    Status.METER_FAULT,
    Status.RELAY_OPEN,
    Status.BACKFLOW,
    Status.OVER_Q4,
    Status.LOW_CREDIT,
    Status.LEAK,
    Status.LOW_BATTERY,
)

#: The problems each medium's meters can show (and have a problem sensor for);
#: a prepaid meter can also show low credit.
PROBLEMS: Final[dict[Medium, tuple[Status, ...]]] = {
    Medium.WATER: (
        Status.COMMUNICATION_FAULT,
        Status.METER_FAULT,
        Status.LEAK,
        Status.OVER_Q4,
        Status.LOW_BATTERY,
        Status.BACKFLOW,
    ),
    Medium.ELECTRICITY: (
        Status.COMMUNICATION_FAULT,
        Status.METER_FAULT,
        Status.RELAY_OPEN,
    ),
}


class RejectReason(StrEnum):
    """Why a reading was refused; it never enters the statistics."""

    NON_NUMERIC = "non_numeric"
    NEGATIVE = "negative"
    BACKWARDS = "backwards"
    FUTURE = "future"
    DUPLICATE = "duplicate"
    TOO_OLD = "too_old"
    #: The index would rise faster than the meter can run, or is beyond any meter.
    IMPLAUSIBLE = "implausible"


class ReadingError(ValueError):
    """A reading was rejected; reason says why."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        """Store the typed reason with a readable message."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Signal:
    """Radio quality of the terminal (LoRa / NB-IoT) with a reading."""

    rssi: float | None = None
    rsrq: float | None = None
    rsrp: float | None = None
    snr: float | None = None

    def to_list(self) -> list[float | None]:
        """Return [rssi, rsrq, rsrp, snr] for storage."""
        return [self.rssi, self.rsrq, self.rsrp, self.snr]

    @classmethod
    def from_list(cls, values: list[float | None]) -> Signal:
        """Rebuild from [rssi, rsrq, rsrp, snr]."""
        rssi, rsrq, rsrp, snr = values
        return cls(rssi, rsrq, rsrp, snr)


@dataclass(frozen=True, slots=True)
class Reading:
    """One meter reading: when (epoch seconds, UTC), the index in m³, flags, signal."""

    timestamp: int
    index: float
    flags: Flag = Flag.NONE
    signal: Signal | None = None

    @property
    def valid(self) -> bool:
        """Return True unless the meter reported itself faulty with this reading."""
        return not self.flags & Flag.METER_FAULT


@dataclass(frozen=True, slots=True)
class Rules:
    """The site's thresholds for the status rules."""

    #: Seconds without any reading before a meter shows a communication fault.
    gap: int = DEFAULT_GAP
    #: m³/h that must flow in every one of the last 24 hours to suspect a leak.
    leak_threshold: float = DEFAULT_LEAK_THRESHOLD


def parse_number(value: object) -> float:
    """Return value as a finite float or raise ReadingError(NON_NUMERIC)."""
    number: float
    if isinstance(value, bool):
        raise ReadingError(RejectReason.NON_NUMERIC, f"{value!r} is not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ReadingError(
                RejectReason.IMPLAUSIBLE, f"{value!r} is too large for an index"
            ) from None
    elif isinstance(value, str):
        if len(value) > 64:
            raise ReadingError(RejectReason.NON_NUMERIC, "the index text is too long")
        try:
            number = float(value.strip())
        except ValueError:
            raise ReadingError(
                RejectReason.NON_NUMERIC, f"{value!r} is not a number"
            ) from None
    else:
        raise ReadingError(RejectReason.NON_NUMERIC, f"{value!r} is not a number")
    if not math.isfinite(number):
        raise ReadingError(RejectReason.NON_NUMERIC, f"{value!r} is not a number")
    return number


def parse_index(value: object) -> float:
    """Return a meter index, rejecting non-numbers, negatives and the impossibly large."""
    number = parse_number(value)
    if number < 0:
        raise ReadingError(RejectReason.NEGATIVE, f"index {number:g} is negative")
    if number > MAX_INDEX:
        raise ReadingError(
            RejectReason.IMPLAUSIBLE,
            f"index {number:g} is beyond any meter's {MAX_INDEX:g}",
        )
    return number


def make_reading(
    timestamp: float,
    index: object,
    flags: Flag = Flag.NONE,
    signal: Signal | None = None,
) -> Reading:
    """Build a reading from untrusted input (timestamp in epoch seconds)."""
    return Reading(int(timestamp), parse_index(index), Flag(flags), signal)


def index_from_words(
    words: Sequence[int], *, word_order: str = "big", scale: float = 1.0
) -> float:
    """Return a meter's index from the two registers of its unsigned 32-bit counter."""
    if len(words) != 2:
        raise ReadingError(
            RejectReason.NON_NUMERIC, f"an index needs 2 registers, got {len(words)}"
        )
    high, low = (words[0], words[1]) if word_order == "big" else (words[1], words[0])
    # The scale's precision, not binary noise: 0.001 m³ per count stays exact.
    return round((((high & 0xFFFF) << 16) | (low & 0xFFFF)) * scale, 6)

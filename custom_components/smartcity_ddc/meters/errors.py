"""Which translation key explains which error of a meter site: its lines and refused readings."""

from __future__ import annotations

from typing import Final

from ..helpers import ErrorKeys
from ..line import (
    LineConflictError,
    LineConnectionError,
    LineDeviceError,
    LineTimeoutError,
)
from .engine.bus import ReadStatus
from .engine.model import ReadingError, RejectReason
from .engine.prepaid import LedgerError, LedgerReason
from .engine.sts import TokenError, TokenReason

ERROR_KEYS: Final = ErrorKeys(
    (
        (LineConflictError, "meters_line_conflict"),
        (LineTimeoutError, "meters_timeout"),
        (LineDeviceError, "meters_read_refused"),
        (LineConnectionError, "meters_cannot_connect"),
    ),
    fallback="meters_cannot_connect",
)

#: Why a meter bus can't be used (the bus flow): the port is another line's, or unreachable.
BUS_ERROR_KEYS: Final = ErrorKeys(
    ((LineConflictError, "meters_bus_port_in_use"),),
    fallback="meters_bus_cannot_connect",
)

#: The translation key that explains a bus meter's failed trial read (the meter flow).
READ_KEYS: Final[dict[ReadStatus, str]] = {
    ReadStatus.NO_ANSWER: "meters_no_answer",
    ReadStatus.WRONG_ADDRESS: "meters_wrong_address",
    ReadStatus.CHECKSUM: "meters_garbled_answer",
    ReadStatus.METER_ERROR: "meters_meter_error",
    ReadStatus.BAD_DATA: "meters_unreadable_answer",
    ReadStatus.BUS_ERROR: "meters_bus_cannot_connect",
}

#: The translation key that explains each refused reading to a user.
REJECT_KEYS: Final[dict[RejectReason, str]] = {
    RejectReason.NON_NUMERIC: "meters_reading_non_numeric",
    RejectReason.NEGATIVE: "meters_reading_negative",
    RejectReason.BACKWARDS: "meters_reading_backwards",
    RejectReason.FUTURE: "meters_reading_future",
    RejectReason.DUPLICATE: "meters_reading_duplicate",
    RejectReason.TOO_OLD: "meters_reading_too_old",
    RejectReason.IMPLAUSIBLE: "meters_reading_implausible",
}


def reading_key(err: ReadingError) -> str:
    """Return the translation key that explains a refused reading."""
    return REJECT_KEYS[err.reason]


#: Why a token was refused, as the action's error explains it.
TOKEN_KEYS: Final[dict[TokenReason, str]] = {
    TokenReason.LENGTH: "meters_token_length",
    TokenReason.NOT_DIGITS: "meters_token_not_digits",
    TokenReason.TOO_LARGE: "meters_token_too_large",
    TokenReason.RESERVED_CLASS: "meters_token_reserved_class",
    TokenReason.NOT_CREDIT: "meters_token_not_credit",
    TokenReason.DUPLICATE: "meters_token_duplicate",
}

#: Why the ledger refused a top-up, as the action's error explains it.
LEDGER_KEYS: Final[dict[LedgerReason, str]] = {
    LedgerReason.BAD_AMOUNT: "meters_top_up_bad_amount",
    LedgerReason.NO_TARIFF: "meters_top_up_no_tariff",
    LedgerReason.BAD_STORAGE: "meters_top_up_bad_storage",
}


def token_key(err: TokenError) -> str:
    """Return the translation key that explains a refused STS token."""
    return TOKEN_KEYS[err.reason]


def ledger_key(err: LedgerError) -> str:
    """Return the translation key that explains a refused top-up."""
    return LEDGER_KEYS[err.reason]

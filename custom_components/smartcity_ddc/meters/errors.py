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
from .engine.model import ReadingError, RejectReason
from .engine.prepaid import LedgerError
from .engine.sts import TokenError

ERROR_KEYS: Final = ErrorKeys(
    (
        (LineConflictError, "meters_line_conflict"),
        (LineTimeoutError, "meters_timeout"),
        (LineDeviceError, "meters_read_refused"),
        (LineConnectionError, "meters_cannot_connect"),
    ),
    fallback="meters_cannot_connect",
)

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


def token_key(err: TokenError) -> str:
    """Return the translation key that explains a refused STS token (meters_token_<reason>)."""
    return f"meters_token_{err.reason}"


def ledger_key(err: LedgerError) -> str:
    """Return the translation key that explains a refused top-up (meters_top_up_<reason>)."""
    return f"meters_top_up_{err.reason}"

"""Which translation key explains which error of a shelter's DDC or its line."""

from __future__ import annotations

from typing import Final

from ..helpers import ErrorKeys
from ..line import (
    LineConflictError,
    LineConnectionError,
    LineDeviceError,
    LineError,
    LineNoResponseError,
    LineTimeoutError,
)
from .engine.errors import (
    DdcError,
    DdcNotWritableError,
    DdcPowerRuleError,
    DdcValueError,
    DdcWriteNotConfirmedError,
    ProfileError,
)

#: Everything a poll or a command can raise that the user must be told about.
SHELTER_ERRORS: Final = (LineError, DdcError)

ERROR_KEYS: Final = ErrorKeys(
    (
        (DdcPowerRuleError, "shelter_power_follows_schedule"),
        (DdcValueError, "shelter_invalid_value"),
        (DdcNotWritableError, "shelter_invalid_value"),
        (DdcWriteNotConfirmedError, "shelter_write_not_confirmed"),
        (ProfileError, "shelter_invalid_profile"),
        (LineConflictError, "shelter_line_conflict"),
        (LineNoResponseError, "shelter_no_response"),
        (LineTimeoutError, "shelter_timeout"),
        (LineDeviceError, "shelter_device_error"),
        (LineConnectionError, "shelter_cannot_connect"),
    ),
    fallback="shelter_error",
)

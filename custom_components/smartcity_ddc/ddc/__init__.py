"""Sungil DDC protocol library: profiles, read planning, codec and async client.

Plain Python: nothing here imports Home Assistant (a test enforces it), so the
library can be tested and benchmarked on its own.
"""

from .client import (
    DdcClient,
    LineConfig,
    LineConflictError,
    LinePool,
    LineStats,
    ModbusLine,
    PollStats,
    Transport,
)
from .codec import Value, decode, encode
from .errors import (
    DdcConnectionError,
    DdcDeviceError,
    DdcError,
    DdcNotWritableError,
    DdcPowerRuleError,
    DdcTimeoutError,
    DdcValueError,
    DdcWriteNotConfirmedError,
    ProfileError,
    ProfileIssue,
)
from .planner import MAX_READ, ReadRequest, WireModel, plan_reads
from .profile import (
    Collision,
    Key,
    Point,
    Profile,
    RegisterKind,
    RegisterRef,
    Unit,
    UnitType,
    ValueType,
    Window,
    load_profile,
    profile_from_data,
    standard_profile,
    standard_profile_text,
)
from .state import ScheduleWindow, Snapshot, UnitState

__all__ = [
    "MAX_READ",
    "Collision",
    "DdcClient",
    "DdcConnectionError",
    "DdcDeviceError",
    "DdcError",
    "DdcNotWritableError",
    "DdcPowerRuleError",
    "DdcTimeoutError",
    "DdcValueError",
    "DdcWriteNotConfirmedError",
    "Key",
    "LineConfig",
    "LineConflictError",
    "LinePool",
    "LineStats",
    "ModbusLine",
    "Point",
    "PollStats",
    "Profile",
    "ProfileError",
    "ProfileIssue",
    "ReadRequest",
    "RegisterKind",
    "RegisterRef",
    "ScheduleWindow",
    "Snapshot",
    "Transport",
    "Unit",
    "UnitState",
    "UnitType",
    "Value",
    "ValueType",
    "Window",
    "WireModel",
    "decode",
    "encode",
    "load_profile",
    "plan_reads",
    "profile_from_data",
    "standard_profile",
    "standard_profile_text",
]

"""Typed, decoded state of a DDC: one snapshot per poll."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import time
from typing import TYPE_CHECKING

from ...line import RegisterRef
from .codec import Value, decode
from .profile import Key, Point, Profile, Unit

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class ScheduleWindow:
    """A daily window as the DDC evaluates it.

    The DDC switches a unit on when start <= now < end. A window whose start is
    after its end spans midnight; start == end is an empty window (never on).
    """

    start: time | None
    end: time | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitState:
    """Every value of one unit; None means unknown (unread or invalid)."""

    auto: bool | None = None
    power: bool | None = None
    mode: str | None = None
    speed: str | None = None
    current_temperature: float | None = None
    summer_target: float | None = None
    winter_target: float | None = None
    pm10: float | None = None
    pm2_5: float | None = None
    pm1_0: float | None = None
    co2: float | None = None
    voc: float | None = None
    temperature: float | None = None
    humidity: float | None = None
    windows: tuple[ScheduleWindow, ...] = ()

    def value(self, key: Key) -> Value | None:
        """Return the value of a key."""
        result: Value | None = getattr(self, key.value)
        return result


_UNKNOWN = UnitState()

_STATE_FIELDS = frozenset(f.name for f in fields(UnitState))
assert {key.value for key in Key} <= _STATE_FIELDS, (
    "UnitState must have a field per Key"
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The decoded state of every unit, plus the raw words it came from.

    refused: registers the DDC answers with an exception; invalid: points
    ('d061_u001.humidity') whose registers hold a value outside the point's
    range or value map. Both read as unknown.
    """

    units: Mapping[str, UnitState]
    raw: Mapping[RegisterRef, int] = field(default_factory=dict)
    refused: frozenset[RegisterRef] = frozenset()
    invalid: frozenset[str] = frozenset()

    def unit(self, uid: str) -> UnitState:
        """Return a unit's state (all unknown if the unit was never read)."""
        return self.units.get(uid, _UNKNOWN)


def decode_point(point: Point, raw: Mapping[RegisterRef, int]) -> Value | None:
    """Decode one point from the raw register memory; None if any word is missing."""
    if point.read is not None and point.value_type.words == 1:
        # Most points are one register: skip building its reference list.
        word = raw.get(point.read)
        return None if word is None else decode(point, (word,))
    words = [raw.get(ref) for ref in point.read_registers()]
    if not words or None in words:
        return None
    return decode(point, [w for w in words if w is not None])


def _time_of(hour: Value | None, minute: Value | None) -> time | None:
    """Combine decoded hour and minute registers into a time of day."""
    if isinstance(hour, int) and isinstance(minute, int):
        return time(hour, minute)
    return None


def decode_unit(unit: Unit, raw: Mapping[RegisterRef, int]) -> UnitState:
    """Decode a unit's typed state from raw register memory."""
    values: dict[str, object] = {
        key.value: decode_point(point, raw) for key, point in unit.points.items()
    }
    values["windows"] = tuple(
        ScheduleWindow(
            _time_of(
                decode_point(w.start_hour, raw), decode_point(w.start_minute, raw)
            ),
            _time_of(decode_point(w.end_hour, raw), decode_point(w.end_minute, raw)),
        )
        for w in unit.windows
    )
    return UnitState(**values)  # type: ignore[arg-type]


def unit_registers(unit: Unit) -> frozenset[RegisterRef]:
    """Return every register a unit's state is decoded from."""
    return frozenset(
        ref for point in unit.all_points() for ref in point.read_registers()
    )


def _invalid_points(unit: Unit, raw: Mapping[RegisterRef, int]) -> set[str]:
    """Return the unit's points whose registers were read but hold no valid value."""
    return {
        f"{unit.uid}.{point.name}"
        for point in unit.all_points()
        if point.read is not None
        and all(ref in raw for ref in point.read_registers())
        and decode_point(point, raw) is None
    }


def decode_snapshot(
    profile: Profile,
    raw: Mapping[RegisterRef, int],
    refused: frozenset[RegisterRef],
    *,
    previous: Snapshot | None = None,
    registers: Mapping[str, frozenset[RegisterRef]] | None = None,
) -> Snapshot:
    """Decode every unit of a profile.

    With the previous snapshot and each unit's registers, a unit none of whose
    registers changed keeps its state object: a poll usually changes only
    the measured values of one or two units.
    """
    units: dict[str, UnitState] = {}
    invalid: set[str] = set()
    for unit in profile.units:
        old = previous.units.get(unit.uid) if previous is not None else None
        if (
            old is not None
            and previous is not None
            and registers is not None
            and all(
                raw.get(ref) == previous.raw.get(ref) for ref in registers[unit.uid]
            )
        ):
            units[unit.uid] = old
            prefix = f"{unit.uid}."
            invalid.update(name for name in previous.invalid if name.startswith(prefix))
        else:
            units[unit.uid] = state = decode_unit(unit, raw)
            if None in (getattr(state, key.value) for key in unit.points) or any(
                None in (window.start, window.end) for window in state.windows
            ):
                invalid |= _invalid_points(unit, raw)
    return Snapshot(
        units=units, raw=dict(raw), refused=refused, invalid=frozenset(invalid)
    )

"""DDC profiles: which units a DDC drives and where their values live.

A profile is data. The code knows unit *types* and the meaning of each key
(what "auto" or "summer_target" is); the profile says which register holds
it, how it is scaled and which raw values mean which option. The standard
shelter layout ships as ``profiles/standard_shelter.yaml``; a site can load
its own from YAML or JSON text and every problem is reported with its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
import math
from pathlib import Path
import re
from typing import Any, Final

import yaml

from ...line import RegisterKind, RegisterRef
from .errors import ProfileError, ProfileIssue

MAX_ADDRESS: Final = 0xFFFF


class ValueType(StrEnum):
    """How raw register words become a number."""

    BOOL = "bool"
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"

    @property
    def words(self) -> int:
        """Return how many 16-bit registers the value spans."""
        return 2 if self in (ValueType.UINT32, ValueType.INT32) else 1


class UnitType(StrEnum):
    """The kinds of equipment a shelter DDC drives (SPEC §2)."""

    LIGHTING = "lighting"
    COOLER = "cooler"
    EXCHANGER = "exchanger"
    AIRCURTAIN = "aircurtain"
    BENCH = "bench"
    DOOR = "door"
    SENSOR = "sensor"
    EXTERNALSW = "externalsw"
    RELAY = "relay"


class Key(StrEnum):
    """The values a unit can have; each is one point of the profile."""

    AUTO = "auto"
    POWER = "power"
    MODE = "mode"
    SPEED = "speed"
    CURRENT_TEMPERATURE = "current_temperature"
    SUMMER_TARGET = "summer_target"
    WINTER_TARGET = "winter_target"
    PM10 = "pm10"
    PM2_5 = "pm2_5"
    PM1_0 = "pm1_0"
    CO2 = "co2"
    VOC = "voc"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"


class WindowField(StrEnum):
    """The four registers of one daily schedule window."""

    START_HOUR = "start_hour"
    START_MINUTE = "start_minute"
    END_HOUR = "end_hour"
    END_MINUTE = "end_minute"


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One value of a unit: where it is read, where it is written, how it is coded."""

    name: str
    read: RegisterRef | None
    write: RegisterRef | None
    value_type: ValueType = ValueType.UINT16
    scale: float = 1.0
    minimum: float | None = None
    maximum: float | None = None
    value_map: Mapping[int, str] | None = None
    word_order: str = "big"
    slow: bool = False
    """Read on the slow cycle (and after any write), not every poll."""
    every: float | None = None
    """Read every so many seconds (and after any write) instead of every poll."""

    @property
    def live(self) -> bool:
        """Return True for a value read on every poll."""
        return not self.slow and self.every is None

    def read_registers(self) -> tuple[RegisterRef, ...]:
        """Return every register a read of this point needs."""
        if self.read is None:
            return ()
        kind, start = self.read.kind, self.read.address
        return tuple(RegisterRef(kind, start + i) for i in range(self.value_type.words))

    def options(self) -> tuple[str, ...]:
        """Return the mapped options in raw-value order."""
        if self.value_map is None:
            return ()
        return tuple(self.value_map[raw] for raw in sorted(self.value_map))


@dataclass(frozen=True, slots=True)
class Window:
    """A daily on-window: four holding registers for start/end hour and minute."""

    start_hour: Point
    start_minute: Point
    end_hour: Point
    end_minute: Point

    def points(self) -> tuple[Point, Point, Point, Point]:
        """Return the four points in register-table order."""
        return (self.start_hour, self.start_minute, self.end_hour, self.end_minute)


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of equipment: a device in Home Assistant."""

    device_id: str
    unit_id: str
    type: UnitType
    #: The site's own names by language; empty: named after its type and number.
    names: Mapping[str, str]
    port: int | None
    points: Mapping[Key, Point]
    windows: tuple[Window, ...] = ()

    @property
    def uid(self) -> str:
        """Return the stable identifier used in unique ids: 'd011_u001'."""
        return f"{self.device_id}_{self.unit_id}"

    @property
    def number(self) -> int:
        """Return the unit's number within its device: u002 is 2."""
        return int(self.unit_id[1:])

    def all_points(self) -> Iterator[Point]:
        """Yield every point, window points included."""
        yield from self.points.values()
        for window in self.windows:
            yield from window.points()


@dataclass(frozen=True, slots=True)
class Collision:
    """A register that more than one unit reads or writes."""

    register: RegisterRef
    users: tuple[str, ...]

    def __str__(self) -> str:
        """Render as 'holding 352: d011_u001.auto, d021_u001.auto'."""
        return f"{self.register}: {', '.join(self.users)}"


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated DDC profile."""

    name: str
    units: tuple[Unit, ...]
    address_offset: int = 0
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def unit(self, uid: str) -> Unit:
        """Return the unit with this uid."""
        for unit in self.units:
            if unit.uid == uid:
                return unit
        raise KeyError(uid)

    def collisions(self) -> tuple[Collision, ...]:
        """Return the registers shared by two or more units (SPEC §3.6)."""
        users: dict[RegisterRef, set[str]] = {}
        for unit in self.units:
            for point in unit.all_points():
                refs = {
                    *point.read_registers(),
                    *((point.write,) if point.write else ()),
                }
                for ref in refs:
                    users.setdefault(ref, set()).add(f"{unit.uid}.{point.name}")
        found = []
        for ref, names in users.items():
            if len({name.split(".", 1)[0] for name in names}) > 1:
                found.append(Collision(ref, tuple(sorted(names))))
        return tuple(sorted(found, key=lambda c: c.register))


# --- what the code knows about keys and types --------------------------------


@dataclass(frozen=True, slots=True)
class _KeySpec:
    value_type: ValueType
    scale: float = 1.0
    minimum: float | None = None
    maximum: float | None = None
    mapped: bool = False
    #: Changes by itself (a measurement, an output's state): read every poll.
    #: Set-points and modes change only when someone writes them: slow cycle.
    live: bool = True


_KEYS: Final[Mapping[Key, _KeySpec]] = {
    Key.AUTO: _KeySpec(ValueType.BOOL, live=False),
    Key.POWER: _KeySpec(ValueType.BOOL),
    Key.MODE: _KeySpec(ValueType.UINT16, mapped=True, live=False),
    Key.SPEED: _KeySpec(ValueType.UINT16, mapped=True, live=False),
    Key.CURRENT_TEMPERATURE: _KeySpec(ValueType.INT16, 0.1, -99.0, 99.0),
    Key.SUMMER_TARGET: _KeySpec(ValueType.UINT16, 0.1, 16.0, 30.0, live=False),
    Key.WINTER_TARGET: _KeySpec(ValueType.UINT16, 0.1, 16.0, 30.0, live=False),
    Key.PM10: _KeySpec(ValueType.UINT16, 1.0, 0, 1000),
    Key.PM2_5: _KeySpec(ValueType.UINT16, 1.0, 0, 1000),
    Key.PM1_0: _KeySpec(ValueType.UINT16, 1.0, 0, 1000),
    Key.CO2: _KeySpec(ValueType.UINT16, 1.0, 400, 10000),
    Key.VOC: _KeySpec(ValueType.UINT16, 1.0, 0, 60000),
    Key.TEMPERATURE: _KeySpec(ValueType.INT16, 0.1, -40.0, 125.0),
    Key.HUMIDITY: _KeySpec(ValueType.UINT16, 0.1, 0.0, 100.0),
}

_WINDOW_KEYS: Final[Mapping[WindowField, _KeySpec]] = {
    WindowField.START_HOUR: _KeySpec(ValueType.UINT16, 1.0, 0, 23, live=False),
    WindowField.START_MINUTE: _KeySpec(ValueType.UINT16, 1.0, 0, 59, live=False),
    WindowField.END_HOUR: _KeySpec(ValueType.UINT16, 1.0, 0, 23, live=False),
    WindowField.END_MINUTE: _KeySpec(ValueType.UINT16, 1.0, 0, 59, live=False),
}
#: How often a point is read: every poll, on the slow cycle, or every N seconds.
_LIVE, _SLOW = "live", "slow"
_MIN_EVERY: Final = 1.0

RELAY_TYPES: Final = frozenset(
    {
        UnitType.LIGHTING,
        UnitType.AIRCURTAIN,
        UnitType.BENCH,
        UnitType.DOOR,
        UnitType.RELAY,
        UnitType.EXTERNALSW,
    }
)
_AIR_KEYS: Final = frozenset(
    {Key.PM10, Key.PM2_5, Key.PM1_0, Key.CO2, Key.VOC, Key.TEMPERATURE, Key.HUMIDITY}
)


@dataclass(frozen=True, slots=True)
class _TypeSpec:
    allowed: frozenset[Key]
    required: frozenset[Key]
    max_windows: int
    options: Mapping[Key, frozenset[str]] = field(default_factory=dict)
    power_writable: bool = True


_RELAY_SPEC: Final = _TypeSpec(
    frozenset({Key.AUTO, Key.POWER}), frozenset({Key.POWER}), max_windows=2
)
_TYPES: Final[Mapping[UnitType, _TypeSpec]] = {
    UnitType.LIGHTING: _RELAY_SPEC,
    UnitType.AIRCURTAIN: _RELAY_SPEC,
    UnitType.BENCH: _RELAY_SPEC,
    UnitType.DOOR: _RELAY_SPEC,
    UnitType.RELAY: _RELAY_SPEC,
    # The door's external push switch is an input the DDC acts on by itself.
    UnitType.EXTERNALSW: _TypeSpec(
        frozenset({Key.AUTO, Key.POWER}),
        frozenset({Key.POWER}),
        max_windows=2,
        power_writable=False,
    ),
    UnitType.COOLER: _TypeSpec(
        frozenset(
            {
                Key.AUTO,
                Key.POWER,
                Key.MODE,
                Key.SPEED,
                Key.CURRENT_TEMPERATURE,
                Key.SUMMER_TARGET,
                Key.WINTER_TARGET,
            }
        ),
        frozenset({Key.POWER}),
        max_windows=2,
        options={
            Key.MODE: frozenset({"cool", "dry", "fan_only", "auto", "heat"}),
            Key.SPEED: frozenset({"low", "medium", "high", "auto"}),
        },
    ),
    UnitType.EXCHANGER: _TypeSpec(
        frozenset({Key.AUTO, Key.POWER, Key.MODE, Key.SPEED}),
        frozenset({Key.POWER}),
        max_windows=2,
        options={
            Key.MODE: frozenset({"manual", "auto", "bypass", "sleep"}),
            Key.SPEED: frozenset({"stop", "low", "medium", "high"}),
        },
    ),
    UnitType.SENSOR: _TypeSpec(_AIR_KEYS, frozenset(), max_windows=0),
}


# --- loading -----------------------------------------------------------------

_UNIT_ID = re.compile(r"^([a-z0-9]{1,16})\.([a-z0-9]{1,16})$")
_REGISTER = re.compile(r"^\s*(coil|discrete|holding|input)\s*[: ]\s*(-?\d+)\s*$")
_POINT_FIELDS: Final = frozenset(
    {
        "read",
        "write",
        "register",
        "type",
        "scale",
        "min",
        "max",
        "map",
        "word_order",
        "slow",
        "poll",
    }
)
_PORT_FIELDS: Final = frozenset({"auto", "power_command", "power_status", "window"})
_UNIT_FIELDS: Final = frozenset({"id", "type", "name", "port", "points", "windows"})
_PROFILE_FIELDS: Final = frozenset({"name", "address_offset", "relay_ports", "units"})


#: A profile is pasted into the options by a person: these bound what one can
#: make Home Assistant do. The standard profile is 4 kB, 6 levels deep, 538
#: YAML nodes and uses no alias.
MAX_PROFILE_CHARACTERS: Final = 32 * 1024
MAX_PROFILE_DEPTH: Final = 16
MAX_PROFILE_ALIASES: Final = 100
#: Values written, and values once aliases are expanded: an alias of an alias
#: of a list multiplies (a 400-byte "billion laughs" document expands to a
#: billion strings).
MAX_PROFILE_NODES: Final = 5_000


def _issue(message: str, mark: Any = None, path: str = "") -> ProfileError:
    """Return a ProfileError with one issue, located at a YAML mark."""
    line = mark.line + 1 if mark is not None else None
    return ProfileError([ProfileIssue(path, message, line)])


#: Characters after which a quote starts a quoted scalar (elsewhere it is text).
_TOKEN_START: Final = frozenset(" \t\r\n[{,:-?")


def _quote_end(text: str, start: int) -> int:
    """Return the index of the quote closing the quoted scalar at start (or the end)."""
    quote = text[start]
    position = start + 1
    while (found := text.find(quote, position)) != -1:
        if quote == "'" and text.startswith("''", found):
            position = found + 2  # '' is a quote inside single quotes
            continue
        backslashes = 0
        while quote == '"' and text[found - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return found
        position = found + 1
    return len(text)


def _check_flow_depth(text: str) -> None:
    """Refuse brackets nested deeper than the limit before the YAML scanner sees them."""
    # PyYAML's scanner keeps a possible key for every open [ or { of a line
    # and rechecks them all at each token: 5000 brackets take it seconds.
    # Brackets in quoted scalars and comments do not count.
    depth, line, position, previous = 0, 1, 0, "\n"
    while position < len(text):
        char = text[position]
        if char in "'\"" and previous in _TOKEN_START:
            end = _quote_end(text, position)
            line += text.count("\n", position, end)
            position = end
        elif char == "#" and previous in " \t\n":
            end = text.find("\n", position)
            position = len(text) if end == -1 else end
            continue
        elif char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_PROFILE_DEPTH:
                raise ProfileError([ProfileIssue("", _TOO_DEEP, line)])
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char
        position += 1


_TOO_DEEP: Final = f"nested deeper than {MAX_PROFILE_DEPTH} levels"


def _refuse_over(count: int, limit: int, message: str, mark: Any) -> None:
    """Raise a ProfileError at mark when count went past limit."""
    if count > limit:
        raise _issue(message, mark)


def _check_shape(loader: Any) -> None:
    """Refuse nesting, aliases and values beyond the limits before anything is built."""
    # The parser is iterative; the composer and constructor recurse, so the
    # depth is checked on the events, before a node is composed.
    depth = aliases = values = 0
    while loader.check_event():
        event = loader.get_event()
        mark = event.start_mark
        if isinstance(event, yaml.NodeEvent):
            values += 1
            _refuse_over(
                values, MAX_PROFILE_NODES, f"more than {MAX_PROFILE_NODES} values", mark
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            _refuse_over(depth, MAX_PROFILE_DEPTH, _TOO_DEEP, mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            _refuse_over(
                aliases,
                MAX_PROFILE_ALIASES,
                f"more than {MAX_PROFILE_ALIASES} aliases (*name)",
                mark,
            )


#: libyaml's parser when PyYAML has it (ten times faster), else PyYAML's own.
_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_text(text: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML or JSON text, remembering the source line of every path."""
    if len(text) > MAX_PROFILE_CHARACTERS:
        raise _issue(
            f"the profile has {len(text)} characters; "
            f"at most {MAX_PROFILE_CHARACTERS} are accepted"
        )
    _check_flow_depth(text)
    scanner = _LOADER(text)
    try:
        _check_shape(scanner)
    finally:
        scanner.dispose()
    lines: dict[str, int] = {}
    loader = _LOADER(text)
    budget = MAX_PROFILE_NODES
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines

        def walk(node: yaml.Node, path: str, depth: int) -> Any:
            nonlocal budget
            budget -= 1
            if budget < 0:
                raise _issue(
                    f"more than {MAX_PROFILE_NODES} values once aliases are expanded",
                    node.start_mark,
                    path,
                )
            if depth > MAX_PROFILE_DEPTH:
                # Only an alias inside the collection it names gets here.
                raise _issue(_TOO_DEEP, node.start_mark, path)
            lines.setdefault(path, node.start_mark.line + 1)
            if isinstance(node, yaml.MappingNode):
                result: dict[Any, Any] = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, yaml.ScalarNode):
                        raise _issue(
                            "a key must be a plain value, not a list or a mapping",
                            key_node.start_mark,
                            path,
                        )
                    key = loader.construct_object(key_node)
                    child = f"{path}.{key}" if path else str(key)
                    lines[child] = key_node.start_mark.line + 1
                    result[key] = walk(value_node, child, depth + 1)
                return result
            if isinstance(node, yaml.SequenceNode):
                return [
                    walk(item, f"{path}[{i}]", depth + 1)
                    for i, item in enumerate(node.value)
                ]
            return loader.construct_object(node)

        return walk(node, "", 0), lines
    finally:
        loader.dispose()


class _Builder:
    """Turns parsed profile data into a Profile, collecting every issue."""

    def __init__(self, lines: Mapping[str, int]) -> None:
        self.lines = lines
        self.issues: list[ProfileIssue] = []
        self.offset = 0

    def fail(self, path: str, message: str) -> None:
        """Record an issue at path, with the nearest known line."""
        probe = path
        while probe and probe not in self.lines:
            probe = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe)
        self.issues.append(ProfileIssue(path, message, self.lines.get(probe)))

    def unknown_fields(
        self, data: Mapping[Any, Any], allowed: frozenset[str], path: str
    ) -> None:
        """Report fields the format does not define (typos would be silent otherwise)."""
        for key in data:
            if key not in allowed:
                self.fail(
                    f"{path}.{key}" if path else str(key), f"unknown field {key!r}"
                )

    def address(self, value: Any, path: str) -> int | None:
        """Validate one address and apply the profile's address offset."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"address must be an integer, got {value!r}")
            return None
        address: int = value + self.offset
        if not 0 <= address <= MAX_ADDRESS:
            self.fail(path, f"address {value} is out of range 0-{MAX_ADDRESS}")
            return None
        return address

    def register(self, value: Any, path: str) -> RegisterRef | None:
        """Parse 'holding 352' or {kind: holding, address: 352}."""
        if isinstance(value, str) and (match := _REGISTER.match(value)):
            kind, raw = RegisterKind(match[1]), int(match[2])
        elif isinstance(value, Mapping) and set(value) == {"kind", "address"}:
            try:
                kind = RegisterKind(value["kind"])
            except ValueError:
                self.fail(path, f"unknown register kind {value['kind']!r}")
                return None
            raw = value["address"]
        else:
            self.fail(path, f"expected a register like 'holding 352', got {value!r}")
            return None
        address = self.address(raw, path)
        return None if address is None else RegisterRef(kind, address)

    def point(
        self,
        name: str,
        spec: _KeySpec,
        data: Any,
        path: str,
        *,
        options: frozenset[str] = frozenset(),
    ) -> Point | None:
        """Build one point from its profile entry and the key's defaults."""
        if isinstance(data, str):
            data = {"register": data}
        if not isinstance(data, Mapping):
            self.fail(path, f"expected a register or a mapping, got {data!r}")
            return None
        self.unknown_fields(data, _POINT_FIELDS, path)
        if not {"register", "read", "write"} & data.keys():
            self.fail(path, "a point needs a 'register', or 'read' and/or 'write'")
            return None
        read = write = None
        if "register" in data:
            if "read" in data or "write" in data:
                self.fail(path, "use either 'register' or 'read'/'write', not both")
            # "register" means the value lives there: read it, and write it
            # too when the table is writable.
            read = self.register(data["register"], f"{path}.register")
            write = read if read is not None and read.kind.writable else None
        if "read" in data:
            read = self.register(data["read"], f"{path}.read")
        if "write" in data and data["write"] is not None:
            write = self.register(data["write"], f"{path}.write")
        if write is not None and not write.kind.writable:
            self.fail(f"{path}.write", f"{write.kind} registers cannot be written")

        value_type = spec.value_type
        if "type" in data:
            try:
                value_type = ValueType(data["type"])
            except ValueError:
                self.fail(f"{path}.type", f"unknown value type {data['type']!r}")
        is_bit = any(ref is not None and ref.kind.is_bit for ref in (read, write))
        if is_bit and value_type is not ValueType.BOOL:
            self.fail(
                path, f"a {value_type} value cannot live in a single-bit register"
            )
        if read is not None and value_type.words == 2 and read.address == MAX_ADDRESS:
            self.fail(f"{path}.read", "a 32-bit value needs two registers")

        scale = data.get("scale", spec.scale)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, int | float)
            or not math.isfinite(scale)
            or scale <= 0
        ):
            self.fail(
                f"{path}.scale", f"scale must be a positive number, got {scale!r}"
            )
            scale = 1.0
        minimum, maximum = data.get("min", spec.minimum), data.get("max", spec.maximum)
        for bound, label in ((minimum, "min"), (maximum, "max")):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int | float)
            ):
                self.fail(f"{path}.{label}", f"{label} must be a number, got {bound!r}")
                minimum = maximum = None
        if minimum is not None and maximum is not None and minimum > maximum:
            self.fail(path, f"min {minimum} is above max {maximum}")

        value_map = (
            self.value_map(data.get("map"), f"{path}.map", options)
            if "map" in data
            else None
        )
        if spec.mapped and value_map is None:
            self.fail(path, f"{name} needs a 'map' of raw values to {sorted(options)}")
        word_order = data.get("word_order", "big")
        if word_order not in ("big", "little"):
            self.fail(f"{path}.word_order", "word_order must be 'big' or 'little'")
        slow, every = self.cadence(data, path, live=spec.live)
        return Point(
            name=name,
            read=read,
            write=write,
            value_type=value_type,
            scale=float(scale),
            minimum=minimum,
            maximum=maximum,
            value_map=value_map,
            word_order=word_order,
            slow=slow,
            every=every,
        )

    def cadence(
        self, data: Mapping[Any, Any], path: str, *, live: bool
    ) -> tuple[bool, float | None]:
        """Return (slow, every) from 'poll: live|slow|N' or the older 'slow: true'."""
        if "slow" in data:
            if "poll" in data:
                self.fail(path, "use either 'poll' or 'slow', not both")
            return bool(data["slow"]), None
        poll = data.get("poll", _LIVE if live else _SLOW)
        if poll in (_LIVE, _SLOW):
            return poll == _SLOW, None
        if (
            isinstance(poll, bool)
            or not isinstance(poll, int | float)
            or not math.isfinite(poll)
            or poll < _MIN_EVERY
        ):
            self.fail(
                f"{path}.poll",
                f"poll is 'live', 'slow' or a number of seconds (at least {_MIN_EVERY:g}), got {poll!r}",
            )
            return False, None
        return False, float(poll)

    def value_map(
        self, data: Any, path: str, options: frozenset[str]
    ) -> Mapping[int, str] | None:
        """Validate a raw-value → option map against the key's vocabulary."""
        if not isinstance(data, Mapping) or not data:
            self.fail(path, "map must be a non-empty mapping of raw values to options")
            return None
        result: dict[int, str] = {}
        for raw, option in data.items():
            if (
                isinstance(raw, bool)
                or not isinstance(raw, int)
                or not 0 <= raw <= 0xFFFF
            ):
                self.fail(
                    f"{path}.{raw}", f"raw value {raw!r} must be an integer 0-65535"
                )
            elif options and option not in options:
                self.fail(
                    f"{path}.{raw}",
                    f"unknown option {option!r}, expected one of {sorted(options)}",
                )
            elif option in result.values():
                self.fail(f"{path}.{raw}", f"option {option!r} is mapped twice")
            else:
                result[raw] = str(option)
        return result

    def window(self, data: Any, path: str, number: int) -> Window | None:
        """Build window `number` from four holding addresses [sh, sm, eh, em]."""
        if not isinstance(data, list) or len(data) != 4:
            self.fail(
                path,
                "a window is [start hour, start minute, end hour, end minute] addresses",
            )
            return None
        points = [
            self.point(
                f"window{number}_{window_field}",
                spec,
                {"register": {"kind": "holding", "address": address}},
                f"{path}[{index}]",
            )
            for index, ((window_field, spec), address) in enumerate(
                zip(_WINDOW_KEYS.items(), data, strict=True)
            )
        ]
        if any(point is None for point in points):
            return None
        return Window(*points)  # type: ignore[arg-type]

    def ports(self, data: Any) -> dict[int, dict[str, Any]]:
        """Validate the relay port table: DO number → its registers."""
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.fail(
                "relay_ports", "relay_ports must be a mapping of DO number to registers"
            )
            return {}
        ports: dict[int, dict[str, Any]] = {}
        for number, entry in data.items():
            path = f"relay_ports.{number}"
            if (
                isinstance(number, bool)
                or not isinstance(number, int)
                or not 1 <= number <= 64
            ):
                self.fail(path, f"relay port must be a number 1-64, got {number!r}")
                continue
            if not isinstance(entry, Mapping) or "power_status" not in entry:
                self.fail(path, "a relay port needs at least 'power_status'")
                continue
            self.unknown_fields(entry, _PORT_FIELDS, path)
            ports[number] = dict(entry)
        return ports

    def unit(
        self, data: Any, path: str, ports: Mapping[int, Mapping[str, Any]]
    ) -> Unit | None:
        """Build one unit, expanding its relay port into points and a window."""
        if not isinstance(data, Mapping):
            self.fail(path, "a unit must be a mapping")
            return None
        before = len(self.issues)
        self.unknown_fields(data, _UNIT_FIELDS, path)
        match = _UNIT_ID.match(str(data.get("id", "")))
        if match is None:
            self.fail(
                f"{path}.id",
                f"unit id must look like 'd011.u001', got {data.get('id')!r}",
            )
        try:
            unit_type = UnitType(str(data.get("type")))
        except ValueError:
            self.fail(
                f"{path}.type",
                f"unknown unit type {data.get('type')!r}, expected one of {sorted(t.value for t in UnitType)}",
            )
            return None
        spec = _TYPES[unit_type]
        names = data.get("name", {})
        if isinstance(names, str):
            names = {"en": names}
        if (
            not isinstance(names, Mapping)
            or ("name" in data and not names)
            or not all(
                isinstance(language, str) and isinstance(name, str) and name.strip()
                for language, name in names.items()
            )
        ):
            self.fail(
                f"{path}.name",
                "name is text, or names by language such as {ko: 내부조명1, en: Interior light 1}",
            )
            names = {}

        raw_points: dict[str, tuple[Any, str]] = {}
        windows_data: list[tuple[Any, str]] = []
        port = data.get("port")
        if port is not None:
            if unit_type not in RELAY_TYPES:
                self.fail(f"{path}.port", f"a {unit_type} unit is not on a relay port")
            elif port not in ports:
                self.fail(f"{path}.port", f"relay port {port!r} is not in relay_ports")
            else:
                entry, port_path = ports[port], f"relay_ports.{port}"
                # A DDC relay port always has its mode in a holding register,
                # its power command on a coil and its output status in an
                # input register (SPEC §3.2).
                if "auto" in entry:
                    raw_points["auto"] = (
                        {"register": {"kind": "holding", "address": entry["auto"]}},
                        f"{port_path}.auto",
                    )
                command = entry.get("power_command") if spec.power_writable else None
                raw_points["power"] = (
                    {
                        "read": {"kind": "input", "address": entry["power_status"]},
                        "write": None
                        if command is None
                        else {"kind": "coil", "address": command},
                    },
                    port_path,
                )
                if "window" in entry:
                    windows_data.append((entry["window"], f"{port_path}.window"))
        points_data = data.get("points") or {}
        if not isinstance(points_data, Mapping):
            self.fail(f"{path}.points", "points must be a mapping")
            points_data = {}
        for key, value in points_data.items():
            raw_points[str(key)] = (value, f"{path}.points.{key}")
        if "windows" in data:
            windows_data = [
                (item, f"{path}.windows[{i}]")
                for i, item in enumerate(data["windows"] or [])
            ]

        points: dict[Key, Point] = {}
        for key_name, (value, point_path) in raw_points.items():
            try:
                key = Key(key_name)
            except ValueError:
                self.fail(point_path, f"unknown key {key_name!r}")
                continue
            if key not in spec.allowed:
                self.fail(point_path, f"a {unit_type} unit has no {key}")
                continue
            built = self.point(
                key.value,
                _KEYS[key],
                value,
                point_path,
                options=spec.options.get(key, frozenset()),
            )
            if built is not None:
                points[key] = built
        for key in spec.required - points.keys():
            self.fail(path, f"a {unit_type} unit needs {key}")
        if unit_type is UnitType.SENSOR and not points:
            self.fail(path, "a sensor unit needs at least one value")
        power = points.get(Key.POWER)
        if power is not None and power.write is not None and not spec.power_writable:
            self.fail(
                path,
                f"a {unit_type} unit is read-only; its power has no write register",
            )
        if len(windows_data) > spec.max_windows:
            self.fail(
                path, f"a {unit_type} unit has at most {spec.max_windows} windows"
            )
        windows = tuple(
            window
            for number, (item, window_path) in enumerate(windows_data, start=1)
            if (window := self.window(item, window_path, number)) is not None
        )
        if match is None or len(self.issues) > before:
            return None
        return Unit(
            device_id=match[1],
            unit_id=match[2],
            type=unit_type,
            names={language: name.strip() for language, name in names.items()},
            port=port,
            points=points,
            windows=windows,
        )

    def profile(self, data: Any) -> Profile | None:
        """Build the whole profile."""
        if not isinstance(data, Mapping):
            self.fail("", "a profile must be a mapping with 'units'")
            return None
        self.unknown_fields(data, _PROFILE_FIELDS, "")
        offset = data.get("address_offset", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 1:
            self.fail("address_offset", "address_offset must be -1, 0 or 1")
        else:
            self.offset = offset
        ports = self.ports(data.get("relay_ports"))
        units_data = data.get("units")
        if not isinstance(units_data, list) or not units_data:
            self.fail("units", "a profile needs a non-empty list of units")
            return None
        units: list[Unit] = []
        seen: dict[str, str] = {}
        for index, unit_data in enumerate(units_data):
            path = f"units[{index}]"
            unit = self.unit(unit_data, path, ports)
            if unit is None:
                continue
            if unit.uid in seen:
                self.fail(f"{path}.id", f"unit id is already used by {seen[unit.uid]}")
                continue
            seen[unit.uid] = path
            units.append(unit)
        if self.issues:
            return None
        return Profile(
            name=str(data.get("name", "custom")),
            units=tuple(units),
            address_offset=self.offset,
            source=data,
        )


def profile_from_data(data: Any, lines: Mapping[str, int] | None = None) -> Profile:
    """Validate already-parsed profile data; raise ProfileError with every issue."""
    builder = _Builder(lines or {})
    profile = builder.profile(data)
    if profile is None:
        raise ProfileError(builder.issues)
    return profile


def parse_profile_text(text: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML or JSON profile text into data and a path → line map."""
    try:
        return _parse_text(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ProfileError(
            [ProfileIssue("", f"not valid YAML/JSON: {err.problem}", line)]
        ) from err
    except yaml.YAMLError as err:
        raise ProfileError([ProfileIssue("", f"not valid YAML/JSON: {err}")]) from err


def customize_layout(
    data: Mapping[str, Any],
    *,
    removed: Iterable[str] = (),
    ports: Mapping[str, int] | None = None,
    added: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Return profile data with a site's layout changes applied.

    removed: unit ids ('d011.u001') the site does not have; ports: unit id →
    DO port for relay units wired to another output; added: extra units
    (for example a spare relay on DO9) in profile format.
    """
    removed_ids = set(removed)
    ports = ports or {}
    units = []
    for original in data.get("units") or []:
        if not isinstance(original, Mapping) or original.get("id") in removed_ids:
            continue
        unit = dict(original)
        if unit.get("id") in ports:
            unit["port"] = ports[unit["id"]]
        units.append(unit)
    units.extend(dict(unit) for unit in added)
    return {**data, "units": units}


def load_profile(text: str) -> Profile:
    """Parse and validate a profile from YAML or JSON text."""
    return profile_from_data(*parse_profile_text(text))


STANDARD_PROFILE_PATH: Final = (
    Path(__file__).parent / "profiles" / "standard_shelter.yaml"
)


@cache
def standard_profile_text() -> str:
    """Return the built-in standard shelter profile (blocking file read, cached)."""
    return STANDARD_PROFILE_PATH.read_text(encoding="utf-8")


@cache
def standard_profile() -> Profile:
    """Return the built-in standard shelter profile (SPEC §2-3)."""
    return load_profile(standard_profile_text())

"""Raw register words ↔ engineering values, with range checks.

Decoding never guesses: a raw value outside the point's range or value map
decodes to None (unknown), so a faulty register never shows as a wrong number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DdcValueError
from .profile import Point, ValueType

if TYPE_CHECKING:
    from collections.abc import Sequence

type Value = bool | int | float | str

_BITS = {
    ValueType.UINT16: 16,
    ValueType.INT16: 16,
    ValueType.UINT32: 32,
    ValueType.INT32: 32,
}


def _combine(point: Point, words: Sequence[int]) -> int:
    """Join one or two 16-bit words into an unsigned integer."""
    if point.value_type.words == 1:
        return words[0] & 0xFFFF
    high, low = (
        (words[0], words[1]) if point.word_order == "big" else (words[1], words[0])
    )
    return ((high & 0xFFFF) << 16) | (low & 0xFFFF)


def _split(point: Point, raw: int) -> list[int]:
    """Split an unsigned integer into the point's register words."""
    if point.value_type.words == 1:
        return [raw]
    high, low = (raw >> 16) & 0xFFFF, raw & 0xFFFF
    return [high, low] if point.word_order == "big" else [low, high]


def _in_range(point: Point, value: float) -> bool:
    """Return True when value lies within the point's declared range."""
    if point.minimum is not None and value < point.minimum:
        return False
    return point.maximum is None or value <= point.maximum


def decode(point: Point, words: Sequence[int]) -> Value | None:
    """Decode raw words (or a bit as 0/1) into the point's value, or None if invalid."""
    if len(words) != point.value_type.words:
        return None
    if point.value_type is ValueType.BOOL:
        # Only 0 and 1 are states; anything else is a faulty register.
        return {0: False, 1: True}.get(words[0])
    raw = _combine(point, words)
    if point.value_map is not None:
        return point.value_map.get(raw)
    bits = _BITS[point.value_type]
    if point.value_type in (ValueType.INT16, ValueType.INT32) and raw >= 1 << (
        bits - 1
    ):
        raw -= 1 << bits
    value: float = raw * point.scale
    if point.scale != 1.0:
        # Scaled values carry the scale's precision, not binary noise.
        value = round(value, 6)
    if not _in_range(point, value):
        return None
    return value if point.scale != 1.0 else int(value)


def encode(point: Point, value: Value) -> list[int]:
    """Encode a value into raw words for the point's write register."""
    if point.value_type is ValueType.BOOL:
        if not isinstance(value, bool):
            raise DdcValueError(f"{point.name} takes on/off, got {value!r}")
        return [int(value)]
    if point.value_map is not None:
        for raw, option in point.value_map.items():
            if option == value:
                return _split(point, raw)
        raise DdcValueError(
            f"{point.name} takes one of {list(point.options())}, got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DdcValueError(f"{point.name} takes a number, got {value!r}")
    if not _in_range(point, value):
        raise DdcValueError(
            f"{point.name} must be between {point.minimum} and {point.maximum}, got {value}"
        )
    raw = round(value / point.scale)
    if abs(raw * point.scale - value) > point.scale / 1000:
        raise DdcValueError(
            f"{point.name} has a resolution of {point.scale}, got {value}"
        )
    bits = _BITS[point.value_type]
    signed = point.value_type in (ValueType.INT16, ValueType.INT32)
    low, high = (
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    )
    if not low <= raw <= high:
        raise DdcValueError(
            f"{point.name} value {value} does not fit a {point.value_type}"
        )
    return _split(point, raw & ((1 << bits) - 1))

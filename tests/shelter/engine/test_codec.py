"""Codec: scales, signed values, 32-bit words, ranges and value maps."""

from __future__ import annotations

import pytest

from custom_components.smartcity_ddc.line import RegisterKind, RegisterRef
from custom_components.smartcity_ddc.shelter.engine.codec import decode, encode
from custom_components.smartcity_ddc.shelter.engine.errors import DdcValueError
from custom_components.smartcity_ddc.shelter.engine.profile import Point, ValueType

HOLDING = RegisterRef(RegisterKind.HOLDING, 10)


def point(**kwargs: object) -> Point:
    return Point(name="p", read=HOLDING, write=HOLDING, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0.0),
        (245, 24.5),
        (990, 99.0),
        (0xFC18, -100.0),
        (0xFF9C, -10.0),
        (0x8000, None),
    ],
)
def test_signed_scaled_temperature(raw: int, expected: float | None) -> None:
    temperature = point(
        value_type=ValueType.INT16, scale=0.1, minimum=-99.0, maximum=99.0
    )
    if expected is not None and not -99.0 <= expected <= 99.0:
        expected = None
    assert decode(temperature, [raw]) == expected


def test_unsigned_voc_above_32767() -> None:
    voc = point(value_type=ValueType.UINT16, minimum=0, maximum=60000)
    assert decode(voc, [45000]) == 45000
    assert decode(voc, [60001]) is None


def test_out_of_range_is_none_never_a_wrong_number() -> None:
    target = point(scale=0.1, minimum=16.0, maximum=30.0)
    assert decode(target, [160]) == 16.0
    assert decode(target, [300]) == 30.0
    assert decode(target, [159]) is None
    assert decode(target, [301]) is None
    assert decode(target, [65535]) is None


def test_bool_accepts_only_zero_and_one() -> None:
    flag = point(value_type=ValueType.BOOL)
    assert decode(flag, [0]) is False
    assert decode(flag, [1]) is True
    assert decode(flag, [2]) is None
    assert encode(flag, True) == [1]
    with pytest.raises(DdcValueError):
        encode(flag, 1)


def test_value_map_round_trip_and_unknown_raw() -> None:
    mode = point(value_map={0: "cool", 4: "heat"})
    assert decode(mode, [4]) == "heat"
    assert decode(mode, [2]) is None
    assert encode(mode, "cool") == [0]
    with pytest.raises(DdcValueError, match="one of"):
        encode(mode, "turbo")


@pytest.mark.parametrize("order", ["big", "little"])
def test_uint32_words(order: str) -> None:
    index = point(value_type=ValueType.UINT32, scale=0.001, word_order=order)
    words = encode(index, 123456.789)
    assert len(words) == 2
    assert decode(index, words) == pytest.approx(123456.789)
    high, low = 0x0001, 0xE240  # 123456
    assert (
        decode(
            point(value_type=ValueType.UINT32, word_order=order),
            [high, low] if order == "big" else [low, high],
        )
        == 123456
    )


def test_int32_negative() -> None:
    signed = point(value_type=ValueType.INT32)
    assert decode(signed, encode(signed, -5)) == -5


def test_encode_checks_range_resolution_and_type() -> None:
    target = point(scale=0.1, minimum=16.0, maximum=30.0)
    assert encode(target, 24.5) == [245]
    assert encode(target, 16) == [160]
    with pytest.raises(DdcValueError, match="between"):
        encode(target, 31.0)
    with pytest.raises(DdcValueError, match="resolution"):
        encode(target, 24.55)
    with pytest.raises(DdcValueError, match="number"):
        encode(target, "warm")
    with pytest.raises(DdcValueError, match="fit"):
        encode(point(value_type=ValueType.INT16), 40000)


def test_wrong_word_count_is_none() -> None:
    assert decode(point(value_type=ValueType.UINT32), [1]) is None

"""Row validation, masking, group mapping: pure functions of the card-sync engine."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, strategies as st
import pytest

from custom_components.smartcity_ddc.cards.engine.database import validate_table_name
from custom_components.smartcity_ddc.cards.engine.errors import InvalidTableNameError
from custom_components.smartcity_ddc.cards.engine.model import (
    CardChange,
    Flag,
    RawRow,
    Rejection,
    RejectReason,
    format_groups,
    is_manager,
    mask_card_number,
    parse_groups,
    validate_row,
    validate_row_carefully,
)

PACKAGE = Path(__file__).parents[2] / "custom_components" / "smartcity_ddc"


def row(*values: object, idx: int = 7) -> RawRow:
    return RawRow(idx=idx, values=tuple(values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("card_no", "masked"),
    [
        ("8801234567", "****4567"),
        ("12345678", "****5678"),
        ("1234567", "****567"),
        ("1234", "****34"),
        ("12", "****2"),
        ("1", "****"),
        ("", "****"),
    ],
)
def test_mask_never_shows_more_than_four_or_half(card_no: str, masked: str) -> None:
    assert mask_card_number(card_no) == masked


def test_managers_are_dong_9999_ho_9999() -> None:
    assert is_manager("9999", "9999")
    assert not is_manager("101", "9999")
    assert not is_manager("9999", "101")
    assert not is_manager(None, None)


def test_valid_issue_row_is_decoded_and_stripped() -> None:
    result = validate_row(
        row(b"8801234567", "홍길동".encode(), b"A", b"101 ", b"1203", b"I")
    )
    assert result == CardChange(
        idx=7,
        flag=Flag.ISSUE,
        card_no="8801234567",
        name="홍길동",
        group="A",
        dong="101",
        ho="1203",
    )
    # The repr of a change (e.g. in a traceback) hides the personal fields.
    assert "8801234567" not in repr(result)
    assert "홍길동" not in repr(result)


def test_integer_codes_from_a_vendor_table_are_accepted() -> None:
    result = validate_row(row("8801234567", "Kim", "A", 101, 1203, "I"))
    assert isinstance(result, CardChange)
    assert (result.dong, result.ho) == ("101", "1203")


def test_delete_needs_only_the_card_number() -> None:
    result = validate_row(row(b"8801234567", None, None, None, None, b"D"))
    assert isinstance(result, CardChange)
    assert result.flag is Flag.DELETE
    assert (result.name, result.group, result.dong, result.ho) == (None,) * 4


def test_delete_with_garbled_labels_still_deletes() -> None:
    result = validate_row(row(b"8801234567", b"x" * 99, b"AB", b"10101", b"\xff", b"D"))
    assert isinstance(result, CardChange)
    assert result.flag is Flag.DELETE
    assert (result.group, result.dong, result.ho) == (None, None, None)


@pytest.mark.parametrize(
    ("values", "reason", "column"),
    [
        (
            (b"1", b"n", b"A", b"101", b"1", b"X"),
            RejectReason.UNKNOWN_FLAG,
            "issue_flag",
        ),
        (
            (b"1", b"n", b"A", b"101", b"1", b"i"),
            RejectReason.UNKNOWN_FLAG,
            "issue_flag",
        ),
        (
            (b"1", b"n", b"A", b"101", b"1", b""),
            RejectReason.UNKNOWN_FLAG,
            "issue_flag",
        ),
        (
            (b"1", b"n", b"A", b"101", b"1", None),
            RejectReason.MISSING_VALUE,
            "issue_flag",
        ),
        (
            (b"", b"n", b"A", b"101", b"1", b"I"),
            RejectReason.EMPTY_CARD_NUMBER,
            "card_no",
        ),
        (
            (b"   ", b"n", b"A", b"101", b"1", b"D"),
            RejectReason.EMPTY_CARD_NUMBER,
            "card_no",
        ),
        ((None, b"n", b"A", b"101", b"1", b"I"), RejectReason.MISSING_VALUE, "card_no"),
        ((b"1" * 21, b"n", b"A", b"101", b"1", b"I"), RejectReason.TOO_LONG, "card_no"),
        (
            (b"12 34", b"n", b"A", b"101", b"1", b"I"),
            RejectReason.INVALID_CHARACTERS,
            "card_no",
        ),
        (
            (b"1\xff", b"n", b"A", b"101", b"1", b"I"),
            RejectReason.INVALID_ENCODING,
            "card_no",
        ),
        (
            (b"1", None, b"A", b"101", b"1", b"I"),
            RejectReason.MISSING_VALUE,
            "user_name",
        ),
        (
            (b"1", b"n" * 31, b"A", b"101", b"1", b"I"),
            RejectReason.TOO_LONG,
            "user_name",
        ),
        (
            (b"1", b"a\x07b", b"A", b"101", b"1", b"I"),
            RejectReason.INVALID_CHARACTERS,
            "user_name",
        ),
        (
            (b"1", b"\xc3", b"A", b"101", b"1", b"I"),
            RejectReason.INVALID_ENCODING,
            "user_name",
        ),
        (
            (b"1", b"n", None, b"101", b"1", b"I"),
            RejectReason.MISSING_VALUE,
            "io_group_id",
        ),
        (
            (b"1", b"n", b"", b"101", b"1", b"I"),
            RejectReason.MISSING_VALUE,
            "io_group_id",
        ),
        ((b"1", b"n", b"AB", b"101", b"1", b"I"), RejectReason.TOO_LONG, "io_group_id"),
        (
            (b"1", b"n", b"*", b"101", b"1", b"I"),
            RejectReason.INVALID_CHARACTERS,
            "io_group_id",
        ),
        ((b"1", b"n", b"A", None, b"1", b"I"), RejectReason.MISSING_VALUE, "dong_code"),
        ((b"1", b"n", b"A", b"10101", b"1", b"I"), RejectReason.TOO_LONG, "dong_code"),
        ((b"1", b"n", b"A", b"101", None, b"I"), RejectReason.MISSING_VALUE, "ho_code"),
        (
            (b"1", b"n", b"A", b"101", b"1-2", b"I"),
            RejectReason.INVALID_CHARACTERS,
            "ho_code",
        ),
    ],
)
def test_malformed_rows_are_rejected_with_a_reason(
    values: tuple[object, ...], reason: RejectReason, column: str
) -> None:
    result = validate_row(row(*values))
    assert isinstance(result, Rejection)
    assert (result.reason, result.column, result.idx) == (reason, column, 7)


def test_rejection_keeps_the_row_but_reports_only_safe_values() -> None:
    result = validate_row(row(b"8801234567", b"\xed\x95", b"A", b"101", b"1203", b"I"))
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.INVALID_ENCODING
    assert result.masked_card_number == "****4567"
    assert (result.flag, result.dong, result.ho) == ("I", "101", "1203")
    # The local log keeps the raw row, undecodable bytes as hex.
    assert result.row["card_no"] == "8801234567"
    assert result.row["user_name"] == "hex:ed95"
    assert "8801234567" not in repr(result)


def test_fingerprint_tells_rows_apart() -> None:
    first = row(b"8801234567", b"Kim", b"A", b"101", b"1203", b"I")
    assert (
        first.fingerprint()
        == row(b"8801234567", b"Kim", b"A", b"101", b"1203", b"I").fingerprint()
    )
    assert (
        first.fingerprint()
        != row(b"8801234567", b"Kim", b"A", b"101", b"1203", b"D").fingerprint()
    )
    assert (
        first.fingerprint()
        != row(b"8801234567", b"Kim", b"A", b"101", b"1203", b"I", idx=8).fingerprint()
    )
    assert row(None, "x").fingerprint() != row("", "x").fingerprint()
    assert row(b"ab", b"c").fingerprint() != row(b"a", b"bc").fingerprint()
    # What the server sent, types included: the same table sends the same types.
    assert row(1, 2).fingerprint() != row("1", "2").fingerprint()
    assert len(first.fingerprint()) == 16


def test_group_mapping_round_trip() -> None:
    groups, bad = parse_groups("A = 101동 공동현관\n# comment\n\nB: 관리동\n")
    assert groups == {"A": "101동 공동현관", "B": "관리동"}
    assert bad == []
    assert parse_groups(format_groups(groups)) == (groups, [])


@pytest.mark.parametrize(
    "text",
    [
        "AB = two letters",
        "A =",
        "= nameless",
        "no separator",
        "* = star",
        "A = x\nA = y",
    ],
)
def test_group_mapping_reports_bad_lines(text: str) -> None:
    _, bad = parse_groups(text)
    assert bad == [len(text.splitlines())]


@pytest.mark.parametrize("name", ["t_card_issue_if", "T1", "_x", "card$if", "a" * 64])
def test_table_names_that_are_identifiers(name: str) -> None:
    assert validate_table_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "1table", "t-card", "t card", "db.table", "t`x", "a" * 65, "카드"]
)
def test_table_names_that_are_refused(name: str) -> None:
    with pytest.raises(InvalidTableNameError):
        validate_table_name(name)


_VALUE = st.one_of(
    st.none(),
    st.binary(max_size=6),
    st.text(alphabet="0123456789AaZ -\t가\x07", max_size=24).map(str.encode),
    st.sampled_from([b"I", b"D", b" I", b"i", b"9999", b"101", b"A", b""]),
)


@given(values=st.tuples(_VALUE, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE))
def test_the_fast_path_agrees_with_the_careful_one(
    values: tuple[bytes | None, ...],
) -> None:
    raw = RawRow(idx=3, values=values)
    assert validate_row(raw) == validate_row_carefully(raw)


@given(
    card=st.from_regex(r"[0-9A-Za-z\-]{1,20}", fullmatch=True),
    name=st.text(max_size=30).filter(
        lambda text: not any(ord(c) < 32 or ord(c) == 127 for c in text)
    ),
    group=st.from_regex(r"[0-9A-Za-z]", fullmatch=True),
    dong=st.from_regex(r"[0-9A-Za-z]{1,4}", fullmatch=True),
    ho=st.from_regex(r"[0-9A-Za-z]{1,4}", fullmatch=True),
)
def test_valid_issue_rows_take_either_path_to_the_same_change(
    card: str, name: str, group: str, dong: str, ho: str
) -> None:
    raw = RawRow(
        idx=3, values=tuple(v.encode() for v in (card, name, group, dong, ho, "I"))
    )
    fast = validate_row(raw)
    assert fast == validate_row_carefully(raw)
    assert isinstance(fast, CardChange)
    assert fast.card_no == card.upper()


def test_a_long_raw_value_is_kept_cut_and_fingerprinted() -> None:
    junk = b"\xff" * 65536
    result = validate_row(row(b"8801234567", junk, b"A", b"101", b"1203", b"I"))
    assert isinstance(result, Rejection)
    kept = result.row["user_name"]
    assert kept is not None
    assert kept.startswith("hex:" + "ff" * 30)
    assert "… [65536 bytes, blake2b " in kept
    assert len(kept) < 120
    other = validate_row(
        row(b"8801234567", junk[:-1] + b"\xfe", b"A", b"101", b"1203", b"I")
    )
    assert isinstance(other, Rejection)
    assert other.row["user_name"] != kept
    # Short values are kept whole.
    assert result.row["card_no"] == "8801234567"


def test_card_numbers_take_the_upper_case_form() -> None:
    result = validate_row(row(b"04a1b2c3", None, None, None, None, b"D"))
    assert isinstance(result, CardChange)
    assert result.card_no == "04A1B2C3"
    rejected = validate_row(row(b"04a1b2c3", b"x", b"A", b"101", b"1203", b"?"))
    assert isinstance(rejected, Rejection)
    assert rejected.masked_card_number == "****B2C3"

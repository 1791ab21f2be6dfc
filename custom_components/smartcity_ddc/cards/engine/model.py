"""Rows of the interface table, their validation, card records and masking.

The access-control server writes one row per card issue (``I``) or deletion
(``D``) into ``t_card_issue_if`` (SPEC §4). A row the sync cannot apply is not
an error of the sync: it becomes a ``Rejection`` with a reason, so one bad row
never blocks the rows behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import hashlib
import re
from typing import Final, NamedTuple, NotRequired, TypedDict

#: The interface table's columns, in the order the sync reads them.
COLUMNS: Final = (
    "idx",
    "card_no",
    "user_name",
    "io_group_id",
    "dong_code",
    "ho_code",
    "issue_flag",
)
DEFAULT_TABLE: Final = "t_card_issue_if"

#: Column sizes of SPEC §4; a wider vendor column still gets checked against them.
MAX_LENGTHS: Final[Mapping[str, int]] = {
    "card_no": 20,
    "user_name": 30,
    "io_group_id": 1,
    "dong_code": 4,
    "ho_code": 4,
}
#: dong_code and ho_code of a site manager's card.
MANAGER_CODE: Final = "9999"
#: The rejected log keeps this many characters of each raw value; the rest
#: is replaced by its size and digest, so junk rows cannot bloat the registry.
RAW_VALUE_KEEP: Final = 64

# Card numbers are printed or encoded on the card: digits, latin letters
# (hexadecimal UIDs) and dashes. Whitespace or control characters inside one
# mean the row was written wrongly. Readers print hexadecimal UIDs in either
# case and access-control servers pass them on as read, so 04a1… and 04A1…
# are one card: the registry keeps the upper-case form.
_CARD_NUMBER = re.compile(r"[0-9A-Za-z\-]+")
_CODE = re.compile(r"[0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The common case in one pass: an issue row of bytes that is plainly valid.
_FAST_CARD = re.compile(r"[0-9A-Za-z\-]{1,20}")
_FAST_GROUP = re.compile(r"[0-9A-Za-z]")
_FAST_CODE = re.compile(r"[0-9A-Za-z]{1,4}")


class Flag(StrEnum):
    """What a row asks for."""

    ISSUE = "I"
    DELETE = "D"


class RejectReason(StrEnum):
    """Why a row could not be applied."""

    UNKNOWN_FLAG = "unknown_flag"
    EMPTY_CARD_NUMBER = "empty_card_number"
    MISSING_VALUE = "missing_value"
    TOO_LONG = "too_long"
    INVALID_CHARACTERS = "invalid_characters"
    INVALID_ENCODING = "invalid_encoding"


type RawValue = bytes | str | int | float | None


class RawRow(NamedTuple):
    """One row as read from the table; values as the server sent them."""

    idx: int
    values: tuple[RawValue, ...]

    def __repr__(self) -> str:
        """Show the idx only: the values are personal data."""
        return f"RawRow(idx={self.idx})"

    def fingerprint(self) -> str:
        """Return a short digest of the row, to tell a re-read row from a new one at the same idx."""
        # repr() of ints, bytes, str and None is unambiguous and stable.
        text = repr((self.idx, self.values)).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(text, digest_size=8).hexdigest()


class CardChange(NamedTuple):
    """A valid row: register (or update) a card, or remove it."""

    idx: int
    flag: Flag
    card_no: str
    name: str | None
    group: str | None
    dong: str | None
    ho: str | None

    def __repr__(self) -> str:
        """Leave out the card number and the holder's name."""
        return (
            f"CardChange(idx={self.idx}, flag={self.flag.value}, group={self.group!r}, "
            f"dong={self.dong!r}, ho={self.ho!r})"
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that could not be applied, and why."""

    idx: int
    reason: RejectReason
    column: str | None
    masked_card_number: str | None
    flag: str | None
    dong: str | None
    ho: str | None
    #: The row's values, kept in the local log so nothing is lost; never exported.
    row: dict[str, str | None] = field(repr=False)


class CardRecord(TypedDict):
    """A registered card as stored in the local registry (keyed by card number)."""

    name: str
    group: str
    dong: str
    ho: str
    idx: int
    updated: str


class RejectedRecord(TypedDict):
    """A rejected row as stored in the local rejected log."""

    idx: int
    reason: str
    column: str | None
    masked: str | None
    flag: str | None
    dong: str | None
    ho: str | None
    at: str
    acknowledged: bool
    row: NotRequired[dict[str, str | None]]


def mask_card_number(card_no: str) -> str:
    """Return a card number with all but its last four characters hidden."""
    # A short number shows at most half of itself: a mask never reveals a whole one.
    shown = min(4, len(card_no) // 2)
    return "****" + (card_no[-shown:] if shown else "")


def canonical_card_number(card_no: str) -> str:
    """Return the registry's form of a card number: upper case."""
    return card_no.upper()


def is_manager(dong: str | None, ho: str | None) -> bool:
    """Return True for a site manager's card (dong 9999, ho 9999)."""
    return dong == MANAGER_CODE and ho == MANAGER_CODE


def bounded_raw_value(text: str | None, size: int | None = None) -> str | None:
    """Return a raw value for the rejected log: at most RAW_VALUE_KEEP characters kept."""
    if text is None or len(text) <= RAW_VALUE_KEEP:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8)
    size = len(text.encode("utf-8", "surrogatepass")) if size is None else size
    return f"{text[:RAW_VALUE_KEEP]}… [{size} bytes, blake2b {digest.hexdigest()}]"


def _printable(value: RawValue) -> str | None:
    """Render a value for the local rejected log, even when it cannot be decoded."""
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = "hex:" + value.hex()
        return bounded_raw_value(text, len(value))
    return None if value is None else bounded_raw_value(str(value))


def _check(column: str, value: RawValue) -> tuple[str | None, RejectReason | None]:
    """Decode and check one value; return it (stripped) or why it is unusable."""
    if value is None:
        return None, RejectReason.MISSING_VALUE
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return None, RejectReason.INVALID_ENCODING
    else:
        text = str(value)
    # CHAR columns come back space-padded from some servers; vendors pad too.
    text = text.strip()
    if column == "issue_flag":
        return (
            (text, None)
            if text in (Flag.ISSUE, Flag.DELETE)
            else (None, RejectReason.UNKNOWN_FLAG)
        )
    if len(text) > MAX_LENGTHS[column]:
        return None, RejectReason.TOO_LONG
    if column == "user_name":
        if _CONTROL.search(text):
            return None, RejectReason.INVALID_CHARACTERS
        return text, None
    if not text:
        if column == "card_no":
            return None, RejectReason.EMPTY_CARD_NUMBER
        return None, RejectReason.MISSING_VALUE
    pattern = _CARD_NUMBER if column == "card_no" else _CODE
    if not pattern.fullmatch(text):
        return None, RejectReason.INVALID_CHARACTERS
    return text, None


def _plainly_valid_issue(row: RawRow) -> CardChange | None:
    """Return the change of a well-formed 'I' row of bytes; None sends it the careful way."""
    try:
        card_no, name, group, dong, ho, flag = (
            value.decode().strip()  # type: ignore[union-attr]
            for value in row.values
        )
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    if (
        flag == "I"
        and _FAST_CARD.fullmatch(card_no)
        and len(name) <= MAX_LENGTHS["user_name"]
        and not _CONTROL.search(name)
        and _FAST_GROUP.fullmatch(group)
        and _FAST_CODE.fullmatch(dong)
        and _FAST_CODE.fullmatch(ho)
    ):
        return CardChange(
            row.idx, Flag.ISSUE, canonical_card_number(card_no), name, group, dong, ho
        )
    return None


def validate_row(row: RawRow) -> CardChange | Rejection:
    """Check one row; return what to apply, or why it cannot be applied."""
    return _plainly_valid_issue(row) or validate_row_carefully(row)


def validate_row_carefully(row: RawRow) -> CardChange | Rejection:
    """Check one row value by value, naming the first problem."""
    raw = dict(zip(COLUMNS[1:], row.values, strict=True))
    checked = {column: _check(column, value) for column, value in raw.items()}
    good = {column: value for column, (value, _) in checked.items()}

    def reject(column: str) -> Rejection:
        card_no = good["card_no"]
        return Rejection(
            idx=row.idx,
            reason=checked[column][1] or RejectReason.MISSING_VALUE,
            column=column,
            masked_card_number=mask_card_number(canonical_card_number(card_no))
            if card_no
            else None,
            flag=good["issue_flag"],
            dong=good["dong_code"],
            ho=good["ho_code"],
            row={column: _printable(value) for column, value in raw.items()},
        )

    for column in ("issue_flag", "card_no"):
        if checked[column][1] is not None:
            return reject(column)
    flag = Flag(good["issue_flag"] or "")
    card_no = canonical_card_number(good["card_no"] or "")
    if flag is Flag.ISSUE:
        for column in ("user_name", "io_group_id", "dong_code", "ho_code"):
            if checked[column][1] is not None:
                return reject(column)
    # A deletion needs only the card number: refusing it for a missing or
    # garbled name would leave a revoked card registered. Its other values
    # only label the event, so an unusable one is simply left out.
    return CardChange(
        idx=row.idx,
        flag=flag,
        card_no=card_no,
        name=good["user_name"],
        group=good["io_group_id"],
        dong=good["dong_code"],
        ho=good["ho_code"],
    )


def parse_groups(text: str) -> tuple[dict[str, str], list[int]]:
    """Parse 'code = name' lines into a mapping; return it and the numbers of bad lines."""
    groups: dict[str, str] = {}
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        code, sep, name = stripped.partition("=")
        if not sep:
            code, sep, name = stripped.partition(":")
        code, name = code.strip(), name.strip()
        if (
            not sep
            or len(code) != MAX_LENGTHS["io_group_id"]
            or not _CODE.fullmatch(code)
            or not name
            or code in groups
        ):
            bad.append(number)
            continue
        groups[code] = name
    return groups, bad


def format_groups(groups: Mapping[str, str]) -> str:
    """Render a group mapping as 'code = name' lines."""
    return "\n".join(f"{code} = {name}" for code, name in sorted(groups.items()))

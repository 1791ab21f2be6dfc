"""STS prepaid tokens (IEC 62055-41): what can be checked without the utility's key.

A token is 20 decimal digits encoding a 66-bit number. 64 of the bits are a
block encrypted (for credit and meter-specific tokens) with a decoder key
that only the utility's vending system and the meter hold; the other 2 are
the token class:

* 0 - credit transfer (electricity, water, gas, time; encrypted)
* 1 - non-meter-specific management: test tokens and the like (not encrypted)
* 2 - meter-specific management: key change, power limit, ... (encrypted)
* 3 - reserved: no valid token has it

**Where the class bits are.** The vending system appends the 2 class bits
to the 64-bit block as bits 65 and 64 and then *transposes* them with bits
28 and 27 (IEC 62055-41, "transposition of the class bits"): in the
66-bit number on the receipt, bit 28 is the class's high bit and bit 27 its
low bit (bits counted from 0 at the least significant end), and the
block's own bits 28 and 27 travel in bits 65 and 64. So the class is
``(number >> 27) & 0b11``. (As in public STS token implementations:
``insert_and_transposition_class_bits`` moves block bits 28/27 to 65/64 and
puts the class bits at 28/27.)

Amount, token identifier and check code are inside the encrypted block:
without the key nothing here can read them, and nothing tries. The amount
of a top-up comes from the receipt, typed by the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

#: The largest number 66 bits hold; a 20-digit token above it is mistyped.
MAX_TOKEN: Final = 2**66 - 1
TOKEN_DIGITS: Final = 20
#: The class's two bits after the transposition: bit 28 (high) and bit 27 (low).
CLASS_SHIFT: Final = 27
#: Separators people type between the digit groups printed on a receipt.
_SEPARATORS: Final = str.maketrans("", "", " -\t")


class TokenClass(IntEnum):
    """The token class of an STS token."""

    CREDIT = 0
    NON_METER_SPECIFIC = 1
    METER_SPECIFIC = 2
    RESERVED = 3

    @property
    def encrypted(self) -> bool:
        """Return True for the classes whose block is encrypted with the meter's key."""
        return self in (TokenClass.CREDIT, TokenClass.METER_SPECIFIC)


class TokenReason(StrEnum):
    """Why a token was refused: stable codes a user interface translates."""

    LENGTH = "length"
    NOT_DIGITS = "not_digits"
    TOO_LARGE = "too_large"
    """Above 2^66 - 1: not a 66-bit number, so a typing mistake."""
    RESERVED_CLASS = "reserved_class"
    NOT_CREDIT = "not_credit"
    """A management or test token: it carries no credit."""
    DUPLICATE = "duplicate"


class TokenError(ValueError):
    """A token that can't be accepted, with the reason a user interface translates."""

    def __init__(self, message: str, *, reason: TokenReason) -> None:
        """Store the message and the reason code."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StsToken:
    """A token that passed the format and class checks."""

    digits: str
    """The 20 digits, without separators."""

    @property
    def number(self) -> int:
        """Return the 66-bit number the digits encode."""
        return int(self.digits)

    @property
    def token_class(self) -> TokenClass:
        """Return the token class from bits 28 and 27."""
        return TokenClass(self.number >> CLASS_SHIFT & 0b11)

    @property
    def grouped(self) -> str:
        """Return the digits in groups of four, as receipts print them."""
        return " ".join(self.digits[i : i + 4] for i in range(0, TOKEN_DIGITS, 4))

    def __str__(self) -> str:
        """Render in groups of four."""
        return self.grouped


def parse_token(text: str) -> StsToken:
    """Check a token's format and class; raise TokenError with the reason."""
    digits = text.translate(_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()):
        raise TokenError("a token has only digits", reason=TokenReason.NOT_DIGITS)
    if len(digits) != TOKEN_DIGITS:
        raise TokenError(
            f"a token has {TOKEN_DIGITS} digits, not {len(digits)}",
            reason=TokenReason.LENGTH,
        )
    if int(digits) > MAX_TOKEN:
        raise TokenError(
            "the digits are more than a 66-bit token holds: a typing mistake?",
            reason=TokenReason.TOO_LARGE,
        )
    token = StsToken(digits)
    if token.token_class is TokenClass.RESERVED:
        raise TokenError(
            "the token's class is reserved: no valid token has it",
            reason=TokenReason.RESERVED_CLASS,
        )
    return token


def parse_credit_token(text: str) -> StsToken:
    """Check a token given with a top-up: it must also be a credit token (class 0)."""
    token = parse_token(text)
    if token.token_class is not TokenClass.CREDIT:
        raise TokenError(
            f"a class {int(token.token_class)} token carries no credit",
            reason=TokenReason.NOT_CREDIT,
        )
    return token

"""STS token checks, with tokens worked out by hand from the class-bit positions."""

from __future__ import annotations

import pytest

from custom_components.smartcity_ddc.meters.engine.sts import (
    MAX_TOKEN,
    TokenClass,
    TokenError,
    TokenReason,
    parse_credit_token,
    parse_token,
)

# Tokens built as 100_000_000_000 * 2^29 + class * 2^27 + 4242: bits 28 and 27
# (the class after the transposition) hold the class, nothing else does.
# 2^29 = 536_870_912, 2^27 = 134_217_728.
BASE = "536870912000"
CREDIT = BASE + "00004242"  # class 0
TEST = "53687091200134221970"  # class 1: 4242 + 2^27
MANAGEMENT = "53687091200268439698"  # class 2: 4242 + 2^28
RESERVED = "53687091200402657426"  # class 3: 4242 + 3 * 2^27


def test_hand_worked_numbers_are_what_the_comments_say() -> None:
    assert int(CREDIT) == 100_000_000_000 * 2**29 + 4242
    assert int(TEST) == int(CREDIT) + 2**27
    assert int(MANAGEMENT) == int(CREDIT) + 2**28
    assert int(RESERVED) == int(CREDIT) + 3 * 2**27


@pytest.mark.parametrize(
    ("digits", "token_class", "encrypted"),
    [
        (CREDIT, TokenClass.CREDIT, True),
        (TEST, TokenClass.NON_METER_SPECIFIC, False),
        (MANAGEMENT, TokenClass.METER_SPECIFIC, True),
    ],
)
def test_valid_tokens_and_their_class(
    digits: str, token_class: TokenClass, encrypted: bool
) -> None:
    token = parse_token(digits)
    assert token.token_class is token_class
    assert token.token_class.encrypted is encrypted
    assert token.number == int(digits)


def test_receipt_grouping_is_accepted_and_rendered() -> None:
    token = parse_token("5368 7091-2000 0000\t4242")
    assert token.digits == CREDIT
    assert str(token) == "5368 7091 2000 0000 4242"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (CREDIT[:-1], TokenReason.LENGTH),
        (CREDIT + "0", TokenReason.LENGTH),
        ("", TokenReason.NOT_DIGITS),
        (CREDIT[:-1] + "a", TokenReason.NOT_DIGITS),
        ("\uff15" + CREDIT[1:], TokenReason.NOT_DIGITS),  # a full-width 5
        ("73786976294838206464", TokenReason.TOO_LARGE),  # 2^66
        ("99999999999999999999", TokenReason.TOO_LARGE),
        (RESERVED, TokenReason.RESERVED_CLASS),
        # 2^66 - 1 has every bit set: class 3, reserved.
        (str(MAX_TOKEN), TokenReason.RESERVED_CLASS),
    ],
)
def test_refused_tokens(text: str, reason: TokenReason) -> None:
    with pytest.raises(TokenError) as err:
        parse_token(text)
    assert err.value.reason is reason


def test_largest_tokens() -> None:
    assert MAX_TOKEN == 73786976294838206463
    # Clear bit 27 of 2^66 - 1: class 2, the largest meter-specific token.
    token = parse_token(str(MAX_TOKEN - 2**27))
    assert token.token_class is TokenClass.METER_SPECIFIC


def test_a_top_up_needs_a_credit_token() -> None:
    assert parse_credit_token(CREDIT).token_class is TokenClass.CREDIT
    for digits in (TEST, MANAGEMENT):
        with pytest.raises(TokenError) as err:
            parse_credit_token(digits)
        assert err.value.reason is TokenReason.NOT_CREDIT

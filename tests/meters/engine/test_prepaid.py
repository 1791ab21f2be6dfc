"""The prepaid ledger, every figure worked out by hand."""

from __future__ import annotations

from decimal import Decimal
import json

import pytest

from custom_components.smartcity_ddc.meters.engine.prepaid import (
    Balance,
    CreditUnit,
    LedgerError,
    LedgerReason,
    PrepaidLedger,
)
from custom_components.smartcity_ddc.meters.engine.sts import TokenError, TokenReason

#: Credit tokens (class bits 28 and 27 clear): see test_sts.py.
TOKEN_A = "53687091200000004242"
TOKEN_B = "53687091200000009999"
START = 1_767_538_800.0  # 2026-01-05 00:00 in Seoul
DAY = 86_400.0


def won_ledger() -> PrepaidLedger:
    """A meter prepaid in won at 120 won a kWh, started at index 1000.00 kWh."""
    ledger = PrepaidLedger(
        start=START, start_index="1000.00", unit=CreditUnit.MONEY, tariff=120
    )
    ledger.record_top_up(START + 60, 10_000, CreditUnit.MONEY, TOKEN_A)
    ledger.record_top_up(START + DAY, "5000", CreditUnit.MONEY)
    return ledger


def test_money_balance_days_left_and_low_credit() -> None:
    ledger = won_ledger()
    # 15,000 won paid; 1100.5 - 1000.0 = 100.5 kWh used at 120 = 12,060 won.
    balance = ledger.balance("1100.5")
    assert balance == Balance(Decimal(2940), CreditUnit.MONEY, "ledger")
    # 8.4 kWh a day at 120 won = 1,008 won a day; 2,940 / 1,008 = 35/12 days.
    days = ledger.days_left(balance, 8.4)
    assert days is not None
    assert days.quantize(Decimal("0.0001")) == Decimal("2.9167")
    assert ledger.low_credit(balance, 3000)
    assert ledger.low_credit(balance, 2940)
    assert not ledger.low_credit(balance, 2000)


def test_energy_top_up_in_a_money_ledger_goes_through_the_tariff() -> None:
    ledger = won_ledger()
    ledger.record_top_up(START + 2 * DAY, 50, CreditUnit.ENERGY)
    # 50 kWh at 120 won = 6,000 won on top of 2,940.
    assert ledger.balance(1100.5).value == Decimal(8940)
    assert ledger.total() == Decimal(21_000)


def test_energy_ledger() -> None:
    ledger = PrepaidLedger(
        start=START, start_index=500, unit=CreditUnit.ENERGY, tariff=120
    )
    ledger.record_top_up(START, 100, CreditUnit.ENERGY)
    ledger.record_top_up(START, "50", CreditUnit.ENERGY)
    # 150 kWh bought, 620 - 500 = 120 used.
    balance = ledger.balance(620)
    assert balance.value == Decimal(30)
    assert ledger.days_left(balance, 6) == Decimal(5)
    # 1,200 won at 120 won a kWh = 10 kWh more.
    ledger.record_top_up(START, 1200, CreditUnit.MONEY)
    assert ledger.balance(620).value == Decimal(40)


def test_the_meters_own_credit_wins() -> None:
    ledger = won_ledger()
    balance = ledger.balance(1100.5, meter_credit=12.34)
    assert balance == Balance(Decimal("12.34"), CreditUnit.MONEY, "meter")
    assert ledger.low_credit(balance, "12.34")


def test_days_left_edges() -> None:
    ledger = won_ledger()
    overdrawn = ledger.balance(1200)  # 200 kWh = 24,000 won > 15,000 paid
    assert overdrawn.value == Decimal(-9000)
    assert ledger.days_left(overdrawn, 8) == Decimal(0)
    positive = ledger.balance(1000)
    assert ledger.days_left(positive, 0) is None
    assert ledger.days_left(positive, None) is None
    ledger.set_tariff(None)
    with pytest.raises(LedgerError) as err:
        ledger.days_left(Balance(Decimal(10), CreditUnit.MONEY, "meter"), 5)
    assert err.value.reason is LedgerReason.NO_TARIFF


def test_a_token_is_recorded_once() -> None:
    ledger = won_ledger()
    assert ledger.has_token("5368 7091 2000 0000 4242")
    assert not ledger.has_token(TOKEN_B)
    assert not ledger.has_token("not a token")
    with pytest.raises(TokenError) as err:
        ledger.record_top_up(
            START + 5, 10_000, CreditUnit.MONEY, "5368-7091-2000-0000-4242"
        )
    assert err.value.reason is TokenReason.DUPLICATE
    # Nothing was added by the refused top-up.
    assert ledger.total() == Decimal(15_000)
    ledger.record_top_up(START + 5, 1000, CreditUnit.MONEY, TOKEN_B)
    assert ledger.total() == Decimal(16_000)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("1234", TokenReason.LENGTH),
        ("53687091200134221970", TokenReason.NOT_CREDIT),  # class 1: a test token
        ("53687091200402657426", TokenReason.RESERVED_CLASS),
        ("73786976294838206464", TokenReason.TOO_LARGE),
    ],
)
def test_a_bad_token_is_refused(token: str, reason: TokenReason) -> None:
    ledger = won_ledger()
    with pytest.raises(TokenError) as err:
        ledger.record_top_up(START, 1000, CreditUnit.MONEY, token)
    assert err.value.reason is reason
    assert len(ledger.top_ups) == 2


@pytest.mark.parametrize("amount", [0, -5, "abc", float("nan"), "Infinity"])
def test_bad_amounts(amount: object) -> None:
    with pytest.raises(LedgerError) as err:
        won_ledger().record_top_up(START, amount, CreditUnit.MONEY)  # type: ignore[arg-type]
    assert err.value.reason is LedgerReason.BAD_AMOUNT


def test_bad_tariff() -> None:
    with pytest.raises(LedgerError):
        PrepaidLedger(start=START, start_index=0, tariff=0)


def test_mixed_units_without_a_tariff() -> None:
    ledger = PrepaidLedger(start=START, start_index=0, unit=CreditUnit.MONEY)
    ledger.record_top_up(START, 10, CreditUnit.MONEY)
    with pytest.raises(LedgerError) as err:
        ledger.balance(1)
    assert err.value.reason is LedgerReason.NO_TARIFF


def test_json_round_trip() -> None:
    ledger = won_ledger()
    ledger.record_top_up(START + 7, "0.1", CreditUnit.ENERGY)
    stored = json.loads(json.dumps(ledger.as_dict()))
    assert stored["top_ups"][0] == {
        "at": START + 60,
        "amount": "10000",
        "unit": "money",
        "token": TOKEN_A,
    }
    again = PrepaidLedger.from_dict(stored)
    assert again.top_ups == ledger.top_ups
    assert again.balance(1100.5) == ledger.balance(1100.5)
    # 2,940 + 0.1 kWh * 120 = 2,952 won.
    assert again.balance(1100.5).value == Decimal(2952)
    assert again.has_token(TOKEN_A)
    assert (again.start, again.start_index, again.tariff) == (
        START,
        Decimal("1000.00"),
        Decimal(120),
    )


@pytest.mark.parametrize(
    "damage",
    [
        {"version": 2},
        {"top_ups": [{"at": 1}]},
        {"unit": "litres"},
        {"start_index": "lots"},
        {"top_ups": [{"at": 1, "amount": "5", "unit": "money", "token": TOKEN_A}] * 2},
    ],
)
def test_damaged_storage(damage: dict[str, object]) -> None:
    stored = won_ledger().as_dict() | damage
    with pytest.raises(LedgerError) as err:
        PrepaidLedger.from_dict(stored)
    assert err.value.reason is LedgerReason.BAD_STORAGE

"""A prepaid meter's ledger: top-ups in, balance, days left and low credit out.

Definitions:

* **Balance** - the meter's own remaining credit where it reports one (a
  DL/T645 meter's remaining money or kWh): the meter decides when to cut,
  so its word counts. Otherwise the ledger's: every top-up since the
  ledger's start minus the energy metered since then (index now - index at
  the start), in the ledger's unit. Money top-ups and energy are brought
  to one unit with the tariff (money per kWh); a ledger that mixes units
  without a tariff can't give a balance.
* **Days left** - balance / average daily usage (kWh a day, e.g. the 7-day
  average), in money through the tariff. None when nothing is used (no
  end in sight); 0 when the balance is gone.
* **Low credit** - balance at or below the threshold (in the ledger's unit).

A top-up may carry the STS token typed from the receipt: it must be a
valid credit token (sts.py) and never seen before in this ledger. Its
amount is the user's: a token can't be decoded without the utility's key.

Amounts are Decimals (money must add up to the cent); the JSON form keeps
them as strings. Times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

from .sts import TokenError, TokenReason, parse_credit_token

STORAGE_VERSION: Final = 1

type Number = Decimal | int | float | str


class CreditUnit(StrEnum):
    """What a credit is counted in."""

    MONEY = "money"
    ENERGY = "kwh"


class LedgerReason(StrEnum):
    """Why the ledger refused something: stable codes a user interface translates."""

    BAD_AMOUNT = "bad_amount"
    NO_TARIFF = "no_tariff"
    BAD_STORAGE = "bad_storage"


class LedgerError(ValueError):
    """A top-up or a stored ledger that can't be accepted."""

    def __init__(self, message: str, *, reason: LedgerReason) -> None:
        """Store the message and the reason code."""
        super().__init__(message)
        self.reason = reason


def to_decimal(value: Number) -> Decimal:
    """Return a finite Decimal of a number (floats through their shortest text)."""
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as err:
        raise LedgerError(
            f"{value!r} is not a number", reason=LedgerReason.BAD_AMOUNT
        ) from err
    if not number.is_finite():
        raise LedgerError(f"{value!r} is not a number", reason=LedgerReason.BAD_AMOUNT)
    return number


@dataclass(frozen=True, slots=True)
class TopUp:
    """One recorded top-up."""

    at: float
    amount: Decimal
    unit: CreditUnit
    token: str | None = None
    """The token's 20 digits, when one was given."""

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "at": self.at,
            "amount": str(self.amount),
            "unit": self.unit.value,
            "token": self.token,
        }


@dataclass(frozen=True, slots=True)
class Balance:
    """A balance, where it comes from, and in what unit."""

    value: Decimal
    unit: CreditUnit
    source: str
    """"meter" (the meter's own register) or "ledger"."""


class PrepaidLedger:
    """The top-ups of one prepaid meter since the ledger's start."""

    def __init__(
        self,
        *,
        start: float,
        start_index: Number,
        unit: CreditUnit = CreditUnit.MONEY,
        tariff: Number | None = None,
    ) -> None:
        """Start a ledger at a time and the meter's index (kWh) then."""
        self.start = start
        self.start_index = to_decimal(start_index)
        self.unit = unit
        self.tariff = None if tariff is None else self._tariff(tariff)
        self._top_ups: list[TopUp] = []
        self._tokens: set[str] = set()

    @staticmethod
    def _tariff(value: Number) -> Decimal:
        """Check a tariff: a positive price per kWh."""
        tariff = to_decimal(value)
        if tariff <= 0:
            raise LedgerError("a tariff is above zero", reason=LedgerReason.BAD_AMOUNT)
        return tariff

    def set_tariff(self, tariff: Number | None) -> None:
        """Change the tariff (money per kWh); None: no tariff."""
        self.tariff = None if tariff is None else self._tariff(tariff)

    @property
    def top_ups(self) -> tuple[TopUp, ...]:
        """Return the top-ups in the order recorded."""
        return tuple(self._top_ups)

    def has_token(self, token: str) -> bool:
        """Return True when a token (any spacing) is already recorded."""
        try:
            return parse_credit_token(token).digits in self._tokens
        except TokenError:
            return False

    def record_top_up(
        self,
        at: float,
        amount: Number,
        unit: CreditUnit,
        token: str | None = None,
    ) -> TopUp:
        """Record a top-up; raise TokenError or LedgerError when it can't be accepted."""
        value = to_decimal(amount)
        if value <= 0:
            raise LedgerError(
                "a top-up adds an amount above zero", reason=LedgerReason.BAD_AMOUNT
            )
        digits = None
        if token is not None:
            digits = parse_credit_token(token).digits
            if digits in self._tokens:
                raise TokenError(
                    "this token is already recorded", reason=TokenReason.DUPLICATE
                )
        top_up = TopUp(at, value, unit, digits)
        self._top_ups.append(top_up)
        if digits is not None:
            self._tokens.add(digits)
        return top_up

    def _in_unit(self, amount: Decimal, unit: CreditUnit) -> Decimal:
        """Convert an amount to the ledger's unit through the tariff."""
        if unit is self.unit:
            return amount
        if self.tariff is None:
            raise LedgerError(
                "money and kWh can't be compared without a tariff",
                reason=LedgerReason.NO_TARIFF,
            )
        if unit is CreditUnit.ENERGY:
            return amount * self.tariff
        return amount / self.tariff

    def total(self) -> Decimal:
        """Return every top-up added up, in the ledger's unit."""
        return sum(
            (self._in_unit(top_up.amount, top_up.unit) for top_up in self._top_ups),
            Decimal(0),
        )

    def balance(self, index: Number, meter_credit: Number | None = None) -> Balance:
        """Return the balance: the meter's own credit if it reports one, else the ledger's.

        index is the meter's energy index (kWh) now.
        """
        if meter_credit is not None:
            return Balance(to_decimal(meter_credit), self.unit, "meter")
        used = to_decimal(index) - self.start_index
        return Balance(
            self.total() - self._in_unit(used, CreditUnit.ENERGY), self.unit, "ledger"
        )

    def days_left(self, balance: Balance, daily_usage: Number | None) -> Decimal | None:
        """Return the days the balance lasts at a daily usage (kWh a day)."""
        if daily_usage is None:
            return None
        usage = to_decimal(daily_usage)
        if usage <= 0:
            return None
        if balance.value <= 0:
            return Decimal(0)
        per_day = (
            usage
            if balance.unit is CreditUnit.ENERGY
            else self._tariff_for_money() * usage
        )
        return balance.value / per_day

    def _tariff_for_money(self) -> Decimal:
        """Return the tariff, needed to spend money at a kWh rate."""
        if self.tariff is None:
            raise LedgerError(
                "days left in money need a tariff", reason=LedgerReason.NO_TARIFF
            )
        return self.tariff

    @staticmethod
    def low_credit(balance: Balance, threshold: Number) -> bool:
        """Return True when the balance is at or below the threshold."""
        return balance.value <= to_decimal(threshold)

    # Storage.

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "version": STORAGE_VERSION,
            "start": self.start,
            "start_index": str(self.start_index),
            "unit": self.unit.value,
            "tariff": None if self.tariff is None else str(self.tariff),
            "top_ups": [top_up.as_dict() for top_up in self._top_ups],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrepaidLedger:
        """Rebuild a ledger from its JSON form; raise LedgerError for a damaged one."""
        try:
            if data["version"] != STORAGE_VERSION:
                raise LedgerError(
                    f"unknown ledger version {data['version']!r}",
                    reason=LedgerReason.BAD_STORAGE,
                )
            ledger = cls(
                start=float(data["start"]),
                start_index=data["start_index"],
                unit=CreditUnit(data["unit"]),
                tariff=data["tariff"],
            )
            for top_up in data["top_ups"]:
                ledger.record_top_up(
                    float(top_up["at"]),
                    top_up["amount"],
                    CreditUnit(top_up["unit"]),
                    top_up["token"],
                )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, LedgerError) and err.reason is LedgerReason.BAD_STORAGE:
                raise
            raise LedgerError(
                f"damaged ledger: {err}", reason=LedgerReason.BAD_STORAGE
            ) from err
        return ledger

"""Prepaid credit of a site's meters: the ledgers, and the balance each meter shows.

A prepaid meter's balance is its own remaining credit where it reports one
(a DL/T645 meter's remaining money or kWh, an M-Bus meter's credit record),
otherwise its ledger's: the top-ups recorded with ``record_top_up`` minus the
usage metered since the first of them, at the meter's tariff (engine/prepaid.py
has the definitions). Before the first top-up a meter without its own
credit register has no balance: unknown, never a made-up zero.

The ledgers live in the site's store beside the reading history. A ledger
that can't be read back is kept as it was stored (and reported), never
dropped: the next save writes it back untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from .config import MeterConfig, MeterLive, PrepaidState
from .engine.prepaid import (
    Balance,
    CreditUnit,
    LedgerError,
    LedgerReason,
    PrepaidLedger,
    TopUp,
)
from .engine.stats import MeterSummary

#: Keys of the site store that hold the ledgers and the meters shown low on credit.
LEDGERS: Final = "ledgers"
LOW_CREDIT: Final = "low_credit"


def meter_credit(meter: MeterConfig, live: MeterLive) -> float | None:
    """Return the credit the meter reports itself, in its ledger's unit (None: none)."""
    assert meter.prepaid is not None
    if meter.prepaid.unit == CreditUnit.MONEY:
        return live.remaining_money
    return live.remaining_energy


class CreditBook:
    """The prepaid ledgers of one site's meters."""

    def __init__(self, meters: Mapping[str, MeterConfig]) -> None:
        """Start without ledgers; load() brings the stored ones."""
        self._meters = meters
        self.ledgers: dict[str, PrepaidLedger] = {}
        #: Stored ledgers that could not be read, kept as stored, by meter id.
        self.damaged: dict[str, Any] = {}
        #: Meters that showed low credit at the last update (an event fires on entry).
        self.low: set[str] = set()
        #: Meters that have reported their own credit since the site started:
        #: while a read of theirs fails, their balance is unknown, not the ledger's.
        self.own: set[str] = set()

    def load(self, stored: Mapping[str, Any] | None) -> list[tuple[str, str]]:
        """Take the ledgers of the stored site data; return (meter id, error) of damaged ones."""
        problems: list[tuple[str, str]] = []
        if not stored:
            return problems
        for meter_id, data in dict(stored.get(LEDGERS) or {}).items():
            meter = self._meters.get(meter_id)
            try:
                ledger = PrepaidLedger.from_dict(data)
            except LedgerError as err:
                self.damaged[meter_id] = data
                problems.append((meter_id, str(err)))
                continue
            if meter is not None and meter.prepaid is not None:
                ledger.set_tariff(meter.prepaid.tariff)
            self.ledgers[meter_id] = ledger
        self.low = {
            meter_id
            for meter_id in stored.get(LOW_CREDIT) or ()
            if isinstance(meter_id, str)
        }
        return problems

    def to_json(self) -> dict[str, Any]:
        """Return what the site store keeps of the ledgers (damaged ones as they came)."""
        return {
            LEDGERS: {
                **self.damaged,
                **{
                    meter_id: ledger.as_dict()
                    for meter_id, ledger in self.ledgers.items()
                },
            },
            LOW_CREDIT: sorted(self.low),
        }

    def record_top_up(
        self,
        meter_id: str,
        *,
        at: float,
        amount: Decimal | float | str,
        unit: CreditUnit,
        token: str | None,
        index: float | None,
    ) -> TopUp:
        """Record a top-up; the first one starts the ledger at the meter's index now.

        Raises TokenError or LedgerError (a wrong token, an amount that is
        not above zero, units that can't be compared without a tariff), and
        LedgerError(BAD_STORAGE) while the meter's stored ledger is damaged:
        a new ledger must not hide the old one's top-ups.
        """
        meter = self._meters[meter_id]
        assert meter.prepaid is not None
        if meter_id in self.damaged:
            raise LedgerError(
                "the stored ledger of this meter is damaged",
                reason=LedgerReason.BAD_STORAGE,
            )
        ledger = self.ledgers.get(meter_id)
        fresh = ledger is None
        if ledger is None:
            if index is None:
                raise NoIndexError(meter_id)
            ledger = PrepaidLedger(
                start=at,
                start_index=index,
                unit=CreditUnit(meter.prepaid.unit),
                tariff=meter.prepaid.tariff,
            )
        if unit is not ledger.unit and ledger.tariff is None:
            # Refused now, not found out at the next update.
            raise LedgerError(
                "money and kWh can't be compared without a tariff",
                reason=LedgerReason.NO_TARIFF,
            )
        top_up = ledger.record_top_up(at, amount, unit, token)
        if fresh:
            self.ledgers[meter_id] = ledger
        return top_up

    def state(
        self, meter: MeterConfig, summary: MeterSummary, live: MeterLive
    ) -> PrepaidState | None:
        """Return a prepaid meter's balance, days left and low credit (None if not prepaid)."""
        if meter.prepaid is None:
            return None
        unit = CreditUnit(meter.prepaid.unit)
        ledger = self.ledgers.get(meter.meter_id)
        own = meter_credit(meter, live)
        balance: Balance | None = None
        if own is not None:
            self.own.add(meter.meter_id)
        try:
            if own is not None:
                balance = Balance(Decimal(str(own)), unit, "meter")
            elif meter.meter_id in self.own:
                # The meter's own figure is the balance; it is unknown until
                # the meter answers again (the ledger's is another figure).
                balance = None
            elif ledger is not None and summary.index is not None:
                balance = ledger.balance(summary.index)
        except LedgerError:
            balance = None
        if balance is None:
            return PrepaidState(balance=None, days_left=None, low=False, unit=unit)
        # Days left only needs the tariff; a meter's own credit needs no ledger.
        rate = ledger or PrepaidLedger(
            start=0, start_index=0, unit=unit, tariff=meter.prepaid.tariff
        )
        try:
            days = rate.days_left(balance, summary.usage_avg_7d)
        except LedgerError:
            days = None
        return PrepaidState(
            balance=float(round(balance.value, 4)),
            days_left=None if days is None else float(round(days, 2)),
            low=PrepaidLedger.low_credit(balance, meter.prepaid.threshold),
            unit=unit,
            source=balance.source,
        )


class NoIndexError(LookupError):
    """A first top-up came before the meter's first reading: nothing to start the ledger at."""

    def __init__(self, meter_id: str) -> None:
        """Name the meter."""
        super().__init__(f"meter {meter_id} has no reading yet")
        self.meter_id = meter_id

"""Simulated water meters behind an RS-485 data collector.

Each meter's cumulative index, in litres, is an unsigned 32-bit value in two
holding registers (high word first) at address 2 x meter number. Households
draw water in a daily pattern — a morning and an evening peak, little at
night — with seeded randomness, so the demo's usage graphs look like a real
apartment block's. `usage_between` gives the same pattern for any past
period, which the demo uses to backfill a week of readings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
import random

from .device import SEOUL, ModbusDevice

#: Litres per hour at each local hour of a typical household day.
#: Nobody draws water between 1 and 5 a.m., as in a real household: a meter
#: that keeps counting through the night has a leak.
_DAY_PROFILE = (
    2, 0, 0, 0, 0, 8, 30, 45, 35, 18, 12, 12,
    15, 12, 10, 10, 14, 22, 35, 40, 30, 20, 10, 5,
)  # fmt: skip


class WaterMeterBank(ModbusDevice):
    """A data collector exposing several meters' indexes in holding registers."""

    def __init__(
        self,
        start_litres: Sequence[int],
        *,
        scales: Sequence[float] | None = None,
        leaks: Sequence[float] | None = None,
        clock: Callable[[], datetime] | None = None,
        seed: int = 0,
    ) -> None:
        """Create meters with their starting indexes, household sizes and leaks (L/h)."""
        super().__init__()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(SEOUL))
        self.scales = list(scales or [1.0] * len(start_litres))
        self.leaks = list(leaks or [0.0] * len(start_litres))
        self._litres = [float(value) for value in start_litres]
        self._rng = random.Random(seed)
        self._publish()

    @staticmethod
    def rate(hour: float, scale: float = 1.0) -> float:
        """Return a household's typical draw in litres per hour at a local hour of day."""
        # A step per hour, not interpolation: the night's zero hours stay zero.
        return scale * _DAY_PROFILE[int(hour) % 24]

    @classmethod
    def usage_between(
        cls, start: datetime, end: datetime, scale: float = 1.0, leak: float = 0.0
    ) -> float:
        """Return the litres a household of this scale (and leak, L/h) typically draws between two times."""
        total, step = leak * (end - start).total_seconds() / 3600, timedelta(minutes=10)
        moment = start
        while moment < end:
            local = moment.astimezone(SEOUL)
            span = min(step, end - moment).total_seconds() / 3600
            total += cls.rate(local.hour + local.minute / 60, scale) * span
            moment += step
        return total

    def index(self, meter: int) -> int:
        """Return a meter's index in litres."""
        return int(self._litres[meter])

    def set_index(self, meter: int, litres: int) -> None:
        """Set a meter's index (as if replaced or corrected)."""
        self._litres[meter] = float(litres)
        self._publish()

    def tick(self, dt: float) -> None:
        """Let every household draw water for dt seconds."""
        now = self.clock()
        hour = now.hour + now.minute / 60
        for meter, scale in enumerate(self.scales):
            self._litres[meter] += (
                self.rate(hour, scale) * dt / 3600 * self._rng.uniform(0.6, 1.4)
            )
        self._publish()

    def _publish(self) -> None:
        """Write every index into its register pair."""
        for meter, litres in enumerate(self._litres):
            value = int(litres) & 0xFFFFFFFF
            self._store("holding", 2 * meter, (value >> 16, value & 0xFFFF))

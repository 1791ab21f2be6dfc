"""Simulated Sungil DDC: register memory, firmware rules, physics and device faults.

Memory: four tables of 65536 addresses (coils, discrete inputs, holding and
input registers), all zero unless written; one memory per DDC. The register
map below is written from SPEC §3 independently of the integration's profile.

Firmware, run as a scan before every request is served, after every write and
on every tick (`evaluate`):

* Relay port DOn (SPEC §3.2): mode holding register non-zero = auto, zero =
  manual. In auto the output follows the port's daily window(s) on the DDC's
  clock and the power coil is ignored; in manual it follows the power coil
  (ports without a coil, DO13-DO15, stay off). The status input register holds
  the output (1 on, 0 off). The firmware owns the status registers.
* Window: start and end are HH:MM from an hour register (0-23) and a minute
  register (0-59). On when start <= now < end; start > end spans midnight (on
  when now >= start or now < end); start == end is empty (never on). A window
  with an out-of-range hour or minute is treated as empty.
* Door external switches (d081, DO13/DO14 rows): the status register reports
  the switch input (DI13/DI14). In manual mode the DDC always honours the
  switch; in auto mode only inside the port's window (outside it the switch is
  ignored and the status reads 0).

Shared registers (SPEC §3.6 item 1) are modelled literally, as one memory:

* The cooler *is* DO1's output: same auto (352), coil (368), status (821) and
  window 1. Its window 2 (146/150 - 155/160) belongs to DO1 too, so DO1's
  output in auto is on when either window is on. Lighting u001 sees window 2
  only if a client sets it; the initial state leaves it empty.
* The ventilator uses DO2's mode (353) and window and coil 370, which is also
  DO3's power command. Power coils are commands: the firmware never rewrites a
  coil. The ventilator runs when (353 != 0 and DO2's window is on) or
  (353 == 0 and coil 370 is on); in auto mode coil 370 therefore still reads
  back the last manual command, not the run state (`ventilator_running`).
* DO14's and DO15's window registers overlap the cooler's window 2: whatever
  is written there counts for every rule that reads the address.

Mirroring: a write to cooler mode/speed (holding 122/123) is forwarded to the
LG unit and read back into input 116/117; ventilator mode/speed (holding
111/110) into input 108/107. Values the unit does not know (cooler mode 0-4,
speed 1-4; ventilator mode 1-4, speed 0-3) are rejected by the unit, so the
read-back keeps its previous value. Mirroring happens on writes only, so a test
can set the read-back alone to simulate a unit changed at its own remote.

Physics (`tick`): the room temperature (input 120, signed x10) approaches the
active target while the cooler output is on (summer target 125 in cool, dry or
auto mode, winter target 126 in heat; dry slowly; fan-only acts like off) and
the ambient temperature otherwise. The air-quality sensor (input 134-140)
follows a seeded random walk: PM1.0 <= PM2.5 <= PM10, CO2 falls towards
outdoor level while the ventilator runs at a speed above 0 and rises with
occupancy otherwise. A value a test pokes into memory is adopted as the new
state on the next tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import math
import random
from typing import TYPE_CHECKING, Final, Literal, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

type Kind = Literal["coil", "discrete", "holding", "input"]
MEMORY_SIZE: Final = 65536
SEOUL: Final = ZoneInfo("Asia/Seoul")


class ModbusError(Exception):
    """A request the device answers with a Modbus exception code."""

    def __init__(self, code: int) -> None:
        """Store the exception code."""
        super().__init__(f"Modbus exception {code}")
        self.code = code


class Window(NamedTuple):
    """Holding-register addresses of one daily window."""

    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int


class Port(NamedTuple):
    """One relay port DOn of the DDC (SPEC §3.2)."""

    number: int
    mode: int
    coil: int | None
    status: int
    windows: tuple[Window, ...]
    switch: int | None = None


# The cooler's second window (SPEC §3.3); the cooler is DO1's output.
COOLER_WINDOW_2: Final = Window(146, 150, 155, 160)

# SPEC §3.2, one row per port: number, mode, power coil, status, windows.
DO_PORTS: Final[tuple[Port, ...]] = (
    Port(1, 352, 368, 821, (Window(42, 58, 74, 90), COOLER_WINDOW_2)),
    Port(2, 353, 369, 822, (Window(43, 59, 75, 91),)),
    Port(3, 354, 370, 823, (Window(44, 60, 76, 92),)),
    Port(4, 355, 371, 824, (Window(45, 61, 77, 93),)),
    Port(5, 356, 372, 825, (Window(46, 62, 78, 94),)),
    Port(6, 357, 373, 826, (Window(47, 63, 79, 95),)),
    Port(7, 358, 374, 827, (Window(48, 64, 80, 96),)),
    Port(8, 359, 375, 828, (Window(49, 65, 81, 97),)),
    Port(9, 360, 376, 829, (Window(50, 66, 82, 98),)),
    Port(10, 361, 377, 830, (Window(51, 67, 83, 99),)),
    Port(11, 362, 378, 831, (Window(52, 68, 84, 100),)),
    Port(12, 363, 379, 832, (Window(53, 69, 85, 101),)),
    Port(13, 364, None, 833, (Window(54, 70, 86, 102),), switch=1),
    Port(14, 385, None, 834, (Window(150, 155, 160, 165),), switch=2),
    Port(15, 386, None, 835, (Window(167, 168, 169, 170),)),
    Port(16, 367, 383, 836, ()),
)

# Cooler (SPEC §3.3): mode/speed commands and read-backs, temperatures.
COOLER_MODE, COOLER_SPEED = 122, 123
COOLER_MODE_IN, COOLER_SPEED_IN = 116, 117
COOLER_TEMPERATURE = 120
SUMMER_TARGET, WINTER_TARGET = 125, 126
COOL, DRY, FAN_ONLY, AUTO, HEAT = 0, 1, 2, 3, 4

# Ventilator (SPEC §3.4).
VENT_AUTO = 353
VENT_POWER = 370
VENT_WINDOW: Final = DO_PORTS[1].windows[0]
VENT_MODE, VENT_SPEED = 111, 110
VENT_MODE_IN, VENT_SPEED_IN = 108, 107

# Air-quality sensor (SPEC §3.5), input registers.
PM10, PM2_5, PM1_0, CO2, VOC, AIR_TEMPERATURE, HUMIDITY = range(134, 141)

# Command holding register -> (read-back input register, values the unit accepts).
_MIRRORS: Final[dict[int, tuple[int, range]]] = {
    COOLER_MODE: (COOLER_MODE_IN, range(5)),
    COOLER_SPEED: (COOLER_SPEED_IN, range(1, 5)),
    VENT_MODE: (VENT_MODE_IN, range(1, 5)),
    VENT_SPEED: (VENT_SPEED_IN, range(4)),
}


def _signed(value: int) -> int:
    """Decode a 16-bit register as two's complement."""
    return value - 0x10000 if value & 0x8000 else value


def _clamp(value: float, low: float, high: float) -> float:
    """Limit value to [low, high]."""
    return max(low, min(high, value))


@dataclass
class DeviceFaults:
    """Faults of one slave; all off by default."""

    silent: bool = False
    """The slave does not answer at all (not even broadcasts are applied)."""
    exception_ranges: list[tuple[Kind, int, int, int]] = field(default_factory=list)
    """(kind, start, end_inclusive, code): a request touching the range gets that exception."""
    garbage: dict[tuple[Kind, int], int] = field(default_factory=dict)
    """(kind, address) -> raw value returned on reads instead of memory."""
    ignore_writes: bool = False
    """Writes are acknowledged normally but not applied."""

    def clear(self) -> None:
        """Switch every fault off."""
        self.silent = False
        self.exception_ranges.clear()
        self.garbage.clear()
        self.ignore_writes = False

    def exception_for(self, kind: Kind, address: int, count: int) -> int | None:
        """Return the exception code for a request touching a faulty range, if any."""
        last = address + count - 1
        for fault_kind, start, end, code in self.exception_ranges:
            if fault_kind == kind and address <= end and start <= last:
                return code
        return None


class ModbusDevice:
    """A Modbus slave: four 65536-address tables, faults, and firmware hooks."""

    def __init__(self) -> None:
        """Create zeroed memory and no faults."""
        self._bits: dict[Kind, bytearray] = {
            "coil": bytearray(MEMORY_SIZE),
            "discrete": bytearray(MEMORY_SIZE),
        }
        self._words: dict[Kind, list[int]] = {
            "holding": [0] * MEMORY_SIZE,
            "input": [0] * MEMORY_SIZE,
        }
        self.faults = DeviceFaults()
        #: Whether it does FC23 (read/write multiple registers); without, it
        #: answers "illegal function" as many field devices do.
        self.read_write_supported = True

    def _table(self, kind: Kind) -> bytearray | list[int]:
        """Return the memory table of a kind."""
        if kind in self._bits:
            return self._bits[kind]
        if kind in self._words:
            return self._words[kind]
        raise ValueError(f"unknown kind {kind!r}")

    def _store(self, kind: Kind, address: int, values: Iterable[int]) -> int:
        """Put values into memory without firmware; return how many were stored."""
        table = self._table(kind)
        stored = 0
        for offset, value in enumerate(values):
            if kind in self._bits:
                table[address + offset] = 1 if value else 0
            elif -0x8000 <= value <= 0xFFFF:
                table[address + offset] = value & 0xFFFF
            else:
                raise ValueError(f"{value} does not fit a 16-bit register")
            stored += 1
        return stored

    def get(self, kind: Kind, address: int) -> int:
        """Read one address after a firmware scan (faults do not apply)."""
        self.evaluate()
        return self._table(kind)[address]

    def set(self, kind: Kind, address: int, value: int) -> None:
        """Write one address like a client would (firmware runs, faults do not apply).

        Registers take 0..65535 or a negative value (stored as two's complement);
        a register the firmware owns (port status) is recomputed at once.
        """
        self._store(kind, address, (value,))
        self._written(kind, address, 1)

    def read(self, kind: Kind, address: int, count: int) -> list[int]:
        """Serve a Modbus read: firmware scan, exception ranges, garbage values."""
        if (code := self.faults.exception_for(kind, address, count)) is not None:
            raise ModbusError(code)
        self.evaluate()
        values = list(self._table(kind)[address : address + count])
        for (fault_kind, fault_address), raw in self.faults.garbage.items():
            if fault_kind == kind and address <= fault_address < address + count:
                values[fault_address - address] = (
                    (1 if raw else 0) if kind in self._bits else raw & 0xFFFF
                )
        return values

    def write(self, kind: Kind, address: int, values: list[int]) -> None:
        """Serve a Modbus write: exception ranges, ignore_writes, then firmware."""
        if (code := self.faults.exception_for(kind, address, len(values))) is not None:
            raise ModbusError(code)
        if self.faults.ignore_writes:
            return
        self._written(kind, address, self._store(kind, address, values))

    def _written(self, kind: Kind, address: int, count: int) -> None:
        """React to a write of count addresses (firmware hook)."""
        self.evaluate()

    def evaluate(self) -> None:
        """Run the firmware scan (nothing for a plain device)."""

    def tick(self, dt: float) -> None:
        """Advance simulated time by dt seconds."""
        self.evaluate()


class ShelterDdc(ModbusDevice):
    """A Sungil DDC running the standard shelter (SPEC §2-3).

    Initial state: lighting DO1/DO2 in auto with the evening window
    18:00-06:00 (which, through the shared registers, puts the cooler and the
    ventilator in auto with that window too); every other port manual, coil
    off, window 00:00-00:00 (empty); cooler window 2 empty. Cooler: mode cool,
    fan auto, summer target 24.0 °C, winter target 20.0 °C; room and ambient
    27.0 °C. Ventilator: mode auto, speed low. Air: PM10 35, PM2.5 21, PM1.0 15
    µg/m³, CO2 650 ppm, VOC 300 ppb, 27.0 °C, 55.0 %. Switches released.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        seed: int = 0,
        ambient_temperature: float = 27.0,
    ) -> None:
        """Create a DDC with the standard initial state."""
        super().__init__()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(SEOUL))
        self.ambient_temperature = ambient_temperature
        self._rng = random.Random(seed)
        self._switches = {1: False, 2: False}
        # Physical state behind the integer registers.
        self.room_temperature = ambient_temperature
        self._log_pm10 = math.log(35.0)
        self._pm25_ratio = 0.6
        self._pm1_ratio = 0.7
        self._co2 = 650.0
        self._log_voc = math.log(300.0)
        self._air_offset = 0.0
        self._humidity = 55.0
        self._published: dict[int, int] = {}

        for port in DO_PORTS[:2]:
            self._store("holding", port.mode, (1,))
            self.set_window(port.windows[0], "18:00", "06:00")
        self._store("holding", COOLER_MODE, (COOL, 4))
        self._store("input", COOLER_MODE_IN, (COOL, 4))
        self._store("holding", SUMMER_TARGET, (240, 200))
        self._store("holding", VENT_SPEED, (1, 2))
        self._store("input", VENT_SPEED_IN, (1, 2))
        self._publish()
        self.evaluate()

    # Readable helpers for tests and the demo.

    def set_window(self, window: Window, start: str, end: str) -> None:
        """Set a window's registers from "HH:MM" strings."""
        values = [int(part) for text in (start, end) for part in text.split(":", 1)]
        for address, value in zip(window, values, strict=True):
            self._store("holding", address, (value,))
        self.evaluate()

    def set_port(
        self, number: int, *, auto: bool | None = None, power: bool | None = None
    ) -> None:
        """Set DOn's mode and/or power coil as a client would."""
        port = DO_PORTS[number - 1]
        if auto is not None:
            self.set("holding", port.mode, int(auto))
        if power is not None:
            if port.coil is None:
                raise ValueError(f"DO{number} has no power coil")
            self.set("coil", port.coil, int(power))

    def output(self, number: int) -> bool:
        """Return whether DOn's output is on (its status register)."""
        return bool(self.get("input", DO_PORTS[number - 1].status))

    def press_external_switch(self, number: int, pressed: bool) -> None:
        """Press (True) or release (False) door external switch 1 (DI13) or 2 (DI14)."""
        if number not in self._switches:
            raise ValueError("external switches are 1 and 2")
        self._switches[number] = pressed
        self.evaluate()

    @property
    def cooler_running(self) -> bool:
        """Whether the cooler runs: it is DO1's output."""
        return self.output(1)

    @property
    def ventilator_running(self) -> bool:
        """Whether the ventilator runs (DO2's window in auto, coil 370 in manual)."""
        holding = self._words["holding"]
        if holding[VENT_AUTO]:
            return self._window_on(VENT_WINDOW, self._minute_of_day())
        return bool(self._bits["coil"][VENT_POWER])

    # Firmware.

    def _minute_of_day(self) -> int:
        """Return the DDC clock's minute of the day."""
        now = self.clock()
        return now.hour * 60 + now.minute

    def _window_on(self, window: Window, minute: int) -> bool:
        """Evaluate one window at a minute of the day (semantics: module docstring)."""
        start_hour, start_minute, end_hour, end_minute = (
            self._words["holding"][a] for a in window
        )
        if max(start_hour, end_hour) > 23 or max(start_minute, end_minute) > 59:
            return False
        start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end

    def evaluate(self) -> None:
        """Recompute every port's output into its status register."""
        minute = self._minute_of_day()
        holding, coils, inputs = (
            self._words["holding"],
            self._bits["coil"],
            self._words["input"],
        )
        for port in DO_PORTS:
            in_window = any(self._window_on(window, minute) for window in port.windows)
            auto = holding[port.mode] != 0
            if port.switch is not None:
                on = self._switches[port.switch] and (in_window or not auto)
            elif auto:
                on = in_window
            else:
                on = port.coil is not None and bool(coils[port.coil])
            inputs[port.status] = int(on)

    def _written(self, kind: Kind, address: int, count: int) -> None:
        """Forward cooler/ventilator commands to the unit, then scan."""
        if kind == "holding":
            for command, (readback, accepted) in _MIRRORS.items():
                if (
                    address <= command < address + count
                    and (value := self._words["holding"][command]) in accepted
                ):
                    self._words["input"][readback] = value
        self.evaluate()

    # Physics.

    def tick(self, dt: float) -> None:
        """Advance the room temperature and the air quality by dt seconds."""
        if dt < 0:
            raise ValueError("dt must not be negative")
        self.evaluate()
        self._adopt_poked_values()
        goal, tau = self._temperature_goal()
        self.room_temperature = goal + (self.room_temperature - goal) * math.exp(
            -dt / tau
        )
        self._step_air(dt)
        self._publish()

    def _temperature_goal(self) -> tuple[float, float]:
        """Return (temperature the room approaches, time constant in seconds)."""
        inputs, holding = self._words["input"], self._words["holding"]
        if self.cooler_running:
            mode = inputs[COOLER_MODE_IN]
            speed_factor = {1: 0.6, 2: 0.8, 3: 1.0, 4: 0.9}.get(
                inputs[COOLER_SPEED_IN], 0.8
            )
            target = SUMMER_TARGET if mode in (COOL, DRY, AUTO) else WINTER_TARGET
            goal = _clamp(holding[target], 160, 300) / 10
            if mode in (COOL, AUTO, HEAT):
                return goal, 600 / speed_factor
            if mode == DRY:
                return goal, 2400 / speed_factor
        return self.ambient_temperature, 3600.0

    def _walk(
        self, value: float, mean: float, spread: float, tau: float, dt: float
    ) -> float:
        """Step a mean-reverting random walk (exact for any dt): stationary spread, time constant tau."""
        decay = math.exp(-dt / tau)
        return (
            mean
            + (value - mean) * decay
            + spread * math.sqrt(1 - decay * decay) * self._rng.gauss()
        )

    def _step_air(self, dt: float) -> None:
        """Advance the air-quality sensor's state."""
        ventilating = (
            self.ventilator_running and self._words["input"][VENT_SPEED_IN] > 0
        )
        self._log_pm10 = self._walk(self._log_pm10, math.log(35.0), 0.35, 1800, dt)
        self._pm25_ratio = _clamp(
            self._walk(self._pm25_ratio, 0.6, 0.08, 900, dt), 0.3, 0.95
        )
        self._pm1_ratio = _clamp(
            self._walk(self._pm1_ratio, 0.7, 0.06, 900, dt), 0.4, 0.95
        )
        # Fresh air pulls CO2 towards outdoor level, faster at higher speed;
        # without it, occupants push it up.
        if ventilating:
            speed = max(1, self._words["input"][VENT_SPEED_IN])
            self._co2 = self._walk(self._co2, 450, 15, 900 / speed, dt)
        else:
            self._co2 = self._walk(self._co2, 1100, 60, 3600, dt)
        self._co2 = _clamp(self._co2, 400, 10000)
        self._log_voc = self._walk(self._log_voc, math.log(300.0), 0.5, 1800, dt)
        self._air_offset = self._walk(self._air_offset, 0.0, 0.3, 600, dt)
        self._humidity = _clamp(self._walk(self._humidity, 55.0, 8.0, 3600, dt), 0, 100)

    def _registers(self) -> dict[int, int]:
        """Encode the physical state as the input registers the DDC reports."""
        pm10 = round(_clamp(math.exp(self._log_pm10), 0, 1000))
        pm25 = min(pm10, round(pm10 * self._pm25_ratio))
        pm1 = min(pm25, round(pm25 * self._pm1_ratio))
        room = round(_clamp(self.room_temperature, -99, 99) * 10)
        air = round(_clamp(self.room_temperature + self._air_offset, -40, 125) * 10)
        return {
            COOLER_TEMPERATURE: room & 0xFFFF,
            PM10: pm10,
            PM2_5: pm25,
            PM1_0: pm1,
            CO2: round(self._co2),
            VOC: round(_clamp(math.exp(self._log_voc), 0, 60000)),
            AIR_TEMPERATURE: air & 0xFFFF,
            HUMIDITY: round(self._humidity * 10),
        }

    def _publish(self) -> None:
        """Write the physical state into the input registers."""
        self._published = self._registers()
        for address, value in self._published.items():
            self._words["input"][address] = value

    def _adopt_poked_values(self) -> None:
        """Take values a test wrote into the physics registers as the new state."""
        inputs = self._words["input"]
        poked = {a for a, v in self._published.items() if inputs[a] != v}
        if COOLER_TEMPERATURE in poked:
            self.room_temperature = _signed(inputs[COOLER_TEMPERATURE]) / 10
        if poked & {PM10, PM2_5, PM1_0}:
            pm10, pm25, pm1 = (max(inputs[a], 1) for a in (PM10, PM2_5, PM1_0))
            self._log_pm10 = math.log(pm10)
            self._pm25_ratio, self._pm1_ratio = (
                min(pm25 / pm10, 1.0),
                min(pm1 / pm25, 1.0),
            )
        if CO2 in poked:
            self._co2 = inputs[CO2]
        if VOC in poked:
            self._log_voc = math.log(max(inputs[VOC], 1))
        if AIR_TEMPERATURE in poked:
            self._air_offset = (
                _signed(inputs[AIR_TEMPERATURE]) / 10 - self.room_temperature
            )
        if HUMIDITY in poked:
            self._humidity = inputs[HUMIDITY] / 10

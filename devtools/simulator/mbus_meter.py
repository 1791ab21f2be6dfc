"""Simulated M-Bus water meters (EN 13757-2/-3) for the meter-bus simulator and the tests.

Written from the standard and the public M-Bus documentation, independently
of the integration's codec: the meters parse requests and build telegrams
with their own code here. The bus hands every complete request to every
device (``BusDevice.reply``); a meter answers only when addressed:

* by its primary address, by 254 (everyone answers), or by 253 while it is
  selected; 255 is a broadcast nobody answers;
* SND_NKE (C 40): link reset, clears the FCB, ``E5``; to 253 it also
  deselects the meter;
* SND_UD (C 53/73) to 253 with CI 52 and 8 data bytes: selection by
  identification (BCD, any digit F = wildcard), manufacturer, version and
  medium (FF / FFFF = wildcard). A match selects the meter and it answers
  ``E5``; a mismatch deselects it silently;
* SND_UD with CI 50: application reset, the telegram sequence restarts, ``E5``;
* REQ_UD2 (C 5B/7B, or 4B/6B without FCV): RSP_UD with CI 72. A toggled FCB
  (or no FCV) asks for the next telegram — the first one after the last —
  the same FCB again repeats the last telegram (its values brought up to
  date, as the standard says). The access number counts new telegrams.
* A request with a bad checksum or of an unknown kind is ignored (silence).

Records of a water meter: volume in litres (VIF 13, 8-digit BCD or 32-bit
integer), date and time (type F), error flags (VIFE FD17), fabrication
number, optionally credit in 1/100 currency units (VIFE FD01) running down
with use, and monthly history (storage 1..n with a type G date) — enough
history makes the answer span several telegrams (each but the last ends
with DIF 1F). The volume follows ``flow_m3_h`` on the meter's clock.

Faults: ``silent``, ``bad_checksum`` (RSP_UD checksum off by one),
``wrong_address`` (RSP_UD from another A field), ``reply_delay`` (seconds
before the meter answers; the bus decides what a slow reply means). Two
addressed meters both answer: the bus concatenates their replies, which is
what a collision looks like to the master's framing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Final, Protocol

ACK: Final = b"\xe5"
SELECTED: Final = 253
EVERYONE: Final = 254
BROADCAST: Final = 255
WATER: Final = 0x07
#: User data of one RSP_UD: L is one byte, 3 of it are C, A and CI.
MAX_USER_DATA: Final = 252


class BusDevice(Protocol):
    """A device on a simulated bus: sees every complete request, answers only when addressed."""

    def reply(self, request: bytes) -> bytes | None:
        """Return the device's answer to a request, or None to stay silent."""


def _manufacturer_code(letters: str) -> int:
    """Return the 15-bit code of three manufacturer letters."""
    return (
        ((ord(letters[0]) - 64) << 10)
        | ((ord(letters[1]) - 64) << 5)
        | (ord(letters[2]) - 64)
    )


def _bcd(number: int, size: int) -> bytes:
    """Return a non-negative number as little-endian BCD of size bytes."""
    digits = f"{number:0{2 * size}d}"
    if len(digits) > 2 * size:
        raise ValueError(f"{number} does not fit {size} BCD bytes")
    return bytes.fromhex(digits)[::-1]


def _type_f(moment: datetime) -> bytes:
    """Return date and time to the minute as type F."""
    year = moment.year % 100
    return bytes(
        (
            moment.minute,
            moment.hour,
            moment.day | ((year & 0x07) << 5),
            moment.month | ((year >> 3) << 4),
        )
    )


def _type_g(day: datetime) -> bytes:
    """Return a date as type G."""
    year = day.year % 100
    return bytes((day.day | ((year & 0x07) << 5), day.month | ((year >> 3) << 4)))


def _storage_dib(storage: int, field_code: int) -> bytes:
    """Return a DIF (and DIFEs) for an instantaneous value in a storage number."""
    dif = field_code | ((storage & 0x01) << 6)
    rest = storage >> 1
    difes = []
    while rest:
        difes.append(rest & 0x0F)
        rest >>= 4
    if not difes:
        return bytes((dif,))
    extended = [d | 0x80 for d in difes[:-1]] + [difes[-1]]
    return bytes((dif | 0x80, *extended))


def _long_frame(control: int, address: int, ci: int, data: bytes) -> bytes:
    """Return a long frame with its checksum."""
    body = bytes((control, address, ci)) + data
    return (
        bytes((0x68, len(body), len(body), 0x68))
        + body
        + bytes((sum(body) & 0xFF, 0x16))
    )


def _parse_request(data: bytes) -> tuple[int, int, int | None, bytes] | None:
    """Return (C, A, CI, data) of a request, or None if it is not one valid frame."""
    if len(data) == 5 and data[0] == 0x10 and data[4] == 0x16:
        if (data[1] + data[2]) & 0xFF != data[3]:
            return None
        return data[1], data[2], None, b""
    if (
        len(data) >= 9
        and data[0] == data[3] == 0x68
        and data[1] == data[2] == len(data) - 6
        and data[-1] == 0x16
        and sum(data[4:-2]) & 0xFF == data[-2]
    ):
        return data[4], data[5], data[6], bytes(data[7:-2])
    return None


def _start_of_day_utc() -> datetime:
    """Return a fixed start time for meters made without a clock."""
    return datetime(2026, 1, 5, tzinfo=UTC)


@dataclass
class MBusWaterMeter:
    """A water meter on an M-Bus: primary and secondary address, a running index, faults."""

    ident: str
    primary: int = 0
    manufacturer: str = "SCW"
    version: int = 1
    medium: int = WATER
    clock: Callable[[], datetime] = _start_of_day_utc
    volume_m3: Decimal = Decimal(0)
    flow_m3_h: Decimal = Decimal(0)
    #: Credit in currency units at the start; None: the meter has no credit record.
    credit: Decimal | None = None
    price_per_m3: Decimal = Decimal(0)
    #: Months of history (storage 1..n); many months make a multi-telegram answer.
    history: int = 0
    #: Volume coded as "bcd" (DIF 0C) or "int" (DIF 04).
    volume_coding: str = "bcd"
    #: Record bytes per telegram before the meter starts the next one.
    frame_capacity: int = 200
    manufacturer_data: bytes = b""
    #: The low bits of the status byte: 01 busy, 02 error, 04 power low, 08 permanent, 10 temporary.
    status: int = 0
    error_flags: int = 0
    silent: bool = False
    bad_checksum: bool = False
    wrong_address: int | None = None
    reply_delay: float = 0.0
    selected: bool = False
    access_number: int = 0
    requests_seen: int = 0
    #: The FCB of the last REQ_UD2 (cleared by SND_NKE), the telegram last sent.
    _fcb: bool = field(default=False, init=False, repr=False)
    _last: int | None = field(default=None, init=False, repr=False)
    _start: datetime = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the address and note when the meter started counting."""
        if len(self.ident) != 8 or not self.ident.isdigit():
            raise ValueError(f"identification {self.ident!r} is not 8 digits")
        self._start = self.clock()

    # --- what the meter measures --------------------------------------------------

    def volume_at(self, moment: datetime) -> Decimal:
        """Return the index in m³ at a moment (never below the starting volume)."""
        hours = Decimal(max(0.0, (moment - self._start).total_seconds())) / 3600
        return self.volume_m3 + self.flow_m3_h * hours

    def litres(self, moment: datetime | None = None) -> int:
        """Return the whole litres the register shows."""
        volume = self.volume_at(self.clock() if moment is None else moment)
        return int((volume * 1000).to_integral_value(ROUND_FLOOR))

    def credit_now(self) -> Decimal | None:
        """Return the remaining credit: the start credit less the water used since, at the price."""
        if self.credit is None:
            return None
        used = Decimal(self.litres() - self.litres(self._start)) / 1000
        return self.credit - used * self.price_per_m3

    # --- telegrams ----------------------------------------------------------------

    def records(self) -> list[bytes]:
        """Return the data records of a full answer, one bytes per record."""
        now = self.clock()
        litres = self.litres(now)
        if self.volume_coding == "bcd":
            volume = bytes((0x0C, 0x13)) + _bcd(litres, 4)
        else:
            volume = bytes((0x04, 0x13)) + litres.to_bytes(4, "little", signed=True)
        records = [
            volume,
            bytes((0x04, 0x6D)) + _type_f(now),
            bytes((0x02, 0xFD, 0x17)) + self.error_flags.to_bytes(2, "little"),
            bytes((0x0C, 0x78)) + _bcd(int(self.ident), 4),
        ]
        credit = self.credit_now()
        if credit is not None:
            cents = int((credit * 100).to_integral_value(ROUND_FLOOR))
            records.append(
                bytes((0x04, 0xFD, 0x01)) + cents.to_bytes(4, "little", signed=True)
            )
        for month in range(1, self.history + 1):
            past = now - timedelta(days=30 * month)
            records.append(
                _storage_dib(month, 0x0C) + b"\x13" + _bcd(self.litres(past), 4)
            )
            records.append(_storage_dib(month, 0x02) + b"\x6c" + _type_g(past))
        return records

    def telegrams(self) -> list[bytes]:
        """Return the user data (after CI) of each telegram of a full answer."""
        header = (
            _bcd(int(self.ident), 4)
            + _manufacturer_code(self.manufacturer).to_bytes(2, "little")
            + bytes(
                (
                    self.version,
                    self.medium,
                    self.access_number & 0xFF,
                    self.status & 0x1F,
                )
            )
            + b"\x00\x00"
        )
        groups: list[bytes] = [b""]
        for record in self.records():
            # Room for the header, the DIF 1F / 0F and the manufacturer data.
            room = min(
                self.frame_capacity,
                MAX_USER_DATA - 12 - 1 - len(self.manufacturer_data),
            )
            if groups[-1] and len(groups[-1]) + len(record) > room:
                groups.append(b"")
            groups[-1] += record
        telegrams = [header + group + b"\x1f" for group in groups[:-1]]
        last = header + groups[-1]
        if self.manufacturer_data:
            last += b"\x0f" + self.manufacturer_data
        return [*telegrams, last]

    def _rsp_ud(self, index: int) -> bytes:
        """Return telegram number index as an RSP_UD frame, with the faults applied."""
        telegrams = self.telegrams()
        index = min(index, len(telegrams) - 1)
        more = index < len(telegrams) - 1
        address = self.primary if self.wrong_address is None else self.wrong_address
        # Like some meters, DFC set on every telegram but the last.
        frame = _long_frame(0x18 if more else 0x08, address, 0x72, telegrams[index])
        if self.bad_checksum:
            frame = frame[:-2] + bytes(((frame[-2] + 1) & 0xFF, 0x16))
        return frame

    # --- the bus side ---------------------------------------------------------------

    def _addressed(self, address: int) -> bool:
        """Return whether a request to address is for this meter."""
        return address in (self.primary, EVERYONE) or (
            address == SELECTED and self.selected
        )

    def _matches(self, mask: bytes) -> bool:
        """Return whether an 8-byte selection mask matches this meter."""
        ident = mask[3::-1].hex().upper()
        if any(m not in ("F", c) for m, c in zip(ident, self.ident, strict=True)):
            return False
        manufacturer = int.from_bytes(mask[4:6], "little")
        return (
            manufacturer in (0xFFFF, _manufacturer_code(self.manufacturer))
            and mask[6] in (0xFF, self.version)
            and mask[7] in (0xFF, self.medium)
        )

    def reply(self, request: bytes) -> bytes | None:
        """Answer a request as the meter would (see the module docstring)."""
        if self.silent:
            return None
        parsed = _parse_request(request)
        if parsed is None:
            return None
        control, address, ci, data = parsed
        if control == 0x40:  # SND_NKE
            if not (self._addressed(address) or address == BROADCAST):
                return None
            self._fcb, self._last = False, None
            if address == SELECTED:
                self.selected = False
            return None if address == BROADCAST else ACK
        if control in (0x53, 0x73) and ci == 0x52 and address == SELECTED:
            self.selected = len(data) == 8 and self._matches(data)
            return ACK if self.selected else None
        if control in (0x53, 0x73) and ci == 0x50 and self._addressed(address):
            self._last = None
            return ACK
        if control & 0xCF == 0x4B and self._addressed(address):  # REQ_UD2
            return self._request_data(control)
        return None

    def _request_data(self, control: int) -> bytes:
        """Answer REQ_UD2: next telegram on a toggled FCB, the same again otherwise."""
        self.requests_seen += 1
        fcv, fcb = bool(control & 0x10), bool(control & 0x20)
        if self._last is not None and fcv and fcb == self._fcb:
            return self._rsp_ud(self._last)
        if not fcv or self._last is None or self._last >= len(self.telegrams()) - 1:
            index = 0
        else:
            index = self._last + 1
        if fcv:
            self._fcb = fcb
        self.access_number = (self.access_number + 1) & 0xFF
        self._last = index
        return self._rsp_ud(index)


@dataclass
class WireModel:
    """Time on an RS-485 M-Bus line: bytes at a baud rate, gaps between frames, the meters' delay."""

    baud: int = 2400
    #: 8E1: start, 8 data, parity, stop.
    bits_per_byte: int = 11
    #: Idle line before each frame, in bit times.
    gap_bits: int = 11
    #: How long the master waits for a reply that doesn't come.
    timeout: float = 0.5

    def bytes_time(self, count: int) -> float:
        """Return the seconds count bytes take on the wire."""
        return count * self.bits_per_byte / self.baud

    @property
    def gap(self) -> float:
        """Return the idle time before each frame."""
        return self.gap_bits / self.baud


class InMemoryBus:
    """A bus without wires: every device sees each request; the replies come back concatenated.

    Also an ``Exchange`` for the M-Bus reader and scans. It models the line's
    time (``wire_time``) without sleeping: a meter whose ``reply_delay``
    exceeds the timeout is not heard, and silence costs the timeout.
    """

    def __init__(
        self, devices: Iterable[BusDevice] = (), wire: WireModel | None = None
    ) -> None:
        """Put devices on the bus."""
        self.devices = list(devices)
        self.wire = wire or WireModel()
        self.requests = 0
        self.frame_bytes = 0
        self.wire_time = 0.0
        self.log: list[tuple[bytes, bytes | None]] = []

    async def __call__(self, request: bytes, expect_reply: bool) -> bytes | None:
        """Send a request to every device; return what the master hears."""
        self.requests += 1
        self.frame_bytes += len(request)
        self.wire_time += self.wire.gap + self.wire.bytes_time(len(request))
        heard: list[bytes] = []
        delays: list[float] = []
        for device in self.devices:
            answer = device.reply(request)
            delay = float(getattr(device, "reply_delay", 0.0))
            if answer and delay <= self.wire.timeout:
                heard.append(answer)
                delays.append(delay)
        reply = b"".join(heard) if heard and expect_reply else None
        if reply is None:
            if expect_reply:
                self.wire_time += self.wire.timeout
        else:
            self.frame_bytes += len(reply)
            self.wire_time += (
                self.wire.gap + max(delays) + self.wire.bytes_time(len(reply))
            )
        self.log.append((request, reply))
        return reply

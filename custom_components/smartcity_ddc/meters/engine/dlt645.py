"""DL/T645-2007 and DL/T645-1997 electricity meters: the frame codec and a bus reader.

Written here rather than taken from the ``dlt645`` package, which has no
1997, returns nothing for the prepaid identifiers and puts a nameplate
address on the wire in the wrong byte order (TOOLCHAIN.md); the tests
decode every 2007 frame with that package as an independent check.

Frame (both versions): optional wake-up ``FE`` bytes, ``68``, address A0..A5
(6 bytes BCD, low byte first: the nameplate number reversed), ``68``,
control C, length L, data (each byte + 0x33 on the wire), CS (sum of every
byte from the first ``68`` through the data, mod 256), ``16``.

Control byte: D7 direction (1 = from the meter), D6 error reply, D5 more
frames follow, D4..D0 function. Functions used here:

======================  ========  ========  =====================================
request                 2007      1997      normal / more / error reply
======================  ========  ========  =====================================
read data               ``11``    ``01``    ``91``/``B1``/``D1``; ``81``/``A1``/``C1``
read follow-up frame    ``12``    ``02``    ``92``/``B2``/``D2``; ``82``/``A2``/``C2``
read address            ``13``    -         ``93`` (broadcast ``AA``x6; one meter on the bus)
control (relay)         ``1C``    -         ``9C`` / ``DC``
======================  ========  ========  =====================================

Read data: 2007 sends the 4-byte identifier DI0..DI3 (low byte first), the
reply repeats it and adds the value; 1997 the same with 2-byte identifiers.
A 2007 follow-up request adds a frame sequence number after the identifier,
and the meter's follow-up replies end with it.

Error reply: one error byte, each bit a reason. 2007: D0 other error, D1 no
requested data (the meter doesn't have the identifier), D2 password wrong /
unauthorized, D3 baud rate can't be changed, D4 too many year zones, D5 too
many day periods, D6 too many tariffs. 1997: D0 illegal data, D1 identifier
wrong, D2 password wrong, D4..D6 as 2007. (Bits as the ``dlt645`` package's
``ErrorCode`` for 2007; 1997 as in public master programs' error tables.)

**Control (relay trip / close), 2007, control code 1C** - the layout
implemented here, data field before the +0x33:

========  =======  ============================================================
offset    bytes    content
========  =======  ============================================================
0         1        PA: the password's privilege level (e.g. 02)
1         3        P0 P1 P2: the 6-digit password, BCD, low byte first
4         4        C0..C3: the operator code (8 digits BCD), low byte first
8         1        N1: command - 1A trip, 1B close allowed (the customer
                   closes with the meter's button), 1C close at once
                   (2013 amendment), 2A alarm, 2B alarm off, 3A keep power,
                   3B keep power off
9         1        N2: reserved, 00
10        6        N3..N8: validity deadline ss mm hh DD MM YY, BCD (the
                   meter ignores the command after it)
========  =======  ============================================================

The meter answers ``9C`` without data, or ``DC`` with the error byte (D2 for
a wrong password). Sources: DL/T645-2007 §7 and its 2013 amendment
(remote-control command), as used by public concentrator code
(``C_GwProxy::HandleMeterBrake``: "N1 command type, N2 reserved, N3..N8
validity deadline ssmmhhDDMMYY" with 1A trip / 1B close allowed / 1C close
at once). Password and operator code are given as the 8 digits printed in
the meter's manual: ``"02123456"`` = level 02, password 123456, sent
``02 56 34 12``; operator ``"00000001"`` sent ``01 00 00 00`` - low byte
first like every multi-byte item of the standard. (The ``dlt645`` package
sends both in the order written; the two agree for the all-zero factory
codes. Confirm with a real meter before relying on a non-zero password.)

Run-status word 3 (``04000503``, 2 bytes, bits, not BCD): D4 relay state
(0 closed, 1 open), D6 relay command state (0 close, 1 trip), D7 pre-trip
alarm, D8..D9 meter kind (00 not prepaid, 01 prepaid by kWh, 10 prepaid by
money). A master confirms a trip by reading D4 back (``ExpectedState3 & 0x10``
in the same concentrator code).

Identifiers read (2007 / 1997):

=================  ==============  ===========  ===========  ===================
quantity           2007            1997         format       unit
=================  ==============  ===========  ===========  ===================
energy             00000000        9010         XXXXXX.XX    kWh (2007 combined
                                                             active: signed)
voltage            02010100        B611         XXX.X / XXX  V (phase A)
current            02020100        B621         XXX.XXX /    A (phase A; 2007
                                                XX.XX        signed)
power              02030000        B630         XX.XXXX      kW (signed)
remaining energy   00900100        -            XXXXXX.XX    kWh
remaining money    00900200        -            XXXXXX.XX    money
status word 3      04000503        -            2 bytes      bits (relay)
=================  ==============  ===========  ===========  ===================

DL/T645-1997 has no standard prepaid or relay identifiers (vendors use
their own), so a 1997 meter is read for energy, voltage, current and power.
BCD values are sent low byte first; a signed value carries its sign in the
top bit of its most significant byte. A nibble above 9 is an error, never a
number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Final

from ...line import LineConnectionError, LineTimeoutError
from .bus import BusReadResult, MeterBus, MeterProtocolError, ReadStatus

START: Final = 0x68
END: Final = 0x16
WAKEUP: Final = 0xFE
OFFSET: Final = 0x33
#: The broadcast address, on the wire and as a nameplate.
BROADCAST: Final = b"\xaa" * 6
BROADCAST_NAMEPLATE: Final = "AAAAAAAAAAAA"

#: Control bits.
FROM_METER: Final = 0x80
ERROR_REPLY: Final = 0x40
MORE_FOLLOWS: Final = 0x20
FUNCTION: Final = 0x1F

#: Most follow-up frames one read may take (a long record; ours fit in one).
MAX_FOLLOW_UPS: Final = 8


class Version(IntEnum):
    """The two editions of the protocol; both share the frame."""

    V1997 = 1997
    V2007 = 2007

    @property
    def read(self) -> int:
        """Return the function code of a read request."""
        return 0x11 if self is Version.V2007 else 0x01

    @property
    def read_follow_up(self) -> int:
        """Return the function code that asks for the next frame of a long answer."""
        return 0x12 if self is Version.V2007 else 0x02

    @property
    def identifier_size(self) -> int:
        """Return the size of a data identifier: 4 bytes (2007) or 2 (1997)."""
        return 4 if self is Version.V2007 else 2


READ_ADDRESS: Final = 0x13
CONTROL: Final = 0x1C


class Reason(StrEnum):
    """Why an answer was refused: stable codes a user interface translates."""

    BAD_ADDRESS = "bad_address"
    """A nameplate address that can't be a DL/T645 address."""
    CHECKSUM = "checksum"
    WRONG_ADDRESS = "wrong_address"
    METER_ERROR = "meter_error"
    NOT_BCD = "not_bcd"
    BAD_LENGTH = "bad_length"
    WRONG_IDENTIFIER = "wrong_identifier"
    UNSUPPORTED = "unsupported"
    """The protocol version has no such identifier or command."""
    BAD_SECRET = "bad_secret"  # noqa: S105 - a reason code, not a secret
    """A password or operator code that isn't 8 digits."""


class Refusal(StrEnum):
    """One bit of a meter's error byte."""

    OTHER = "other"
    ILLEGAL_DATA = "illegal_data"
    NO_DATA = "no_data"
    """The meter has no such data identifier (2007 D1, 1997 D1)."""
    PASSWORD = "password"  # noqa: S105 - a reason code, not a secret
    BAUD_RATE = "baud_rate"
    YEAR_ZONES = "year_zones"
    DAY_PERIODS = "day_periods"
    TARIFFS = "tariffs"
    RESERVED = "reserved"


_REFUSAL_BITS: Final[dict[Version, tuple[Refusal, ...]]] = {
    Version.V2007: (
        Refusal.OTHER,
        Refusal.NO_DATA,
        Refusal.PASSWORD,
        Refusal.BAUD_RATE,
        Refusal.YEAR_ZONES,
        Refusal.DAY_PERIODS,
        Refusal.TARIFFS,
        Refusal.RESERVED,
    ),
    Version.V1997: (
        Refusal.ILLEGAL_DATA,
        Refusal.NO_DATA,
        Refusal.PASSWORD,
        Refusal.RESERVED,
        Refusal.YEAR_ZONES,
        Refusal.DAY_PERIODS,
        Refusal.TARIFFS,
        Refusal.RESERVED,
    ),
}


def refusals(error_byte: int, version: Version) -> tuple[Refusal, ...]:
    """Return the reasons set in a meter's error byte, low bit first."""
    bits = _REFUSAL_BITS[version]
    found = [bits[bit] for bit in range(8) if error_byte >> bit & 1]
    return tuple(dict.fromkeys(found))


class Dlt645Error(MeterProtocolError):
    """Base class of every DL/T645 protocol error."""


class AddressError(Dlt645Error, ValueError):
    """A nameplate number that can't be a meter address."""

    reason = Reason.BAD_ADDRESS


class SecretError(Dlt645Error, ValueError):
    """A password or operator code that isn't 8 decimal digits."""

    reason = Reason.BAD_SECRET


class ChecksumError(Dlt645Error):
    """An answer came but its checksum doesn't match: corrupted on the line."""

    reason = Reason.CHECKSUM


class WrongAddressError(Dlt645Error):
    """A meter with another address answered."""

    reason = Reason.WRONG_ADDRESS

    def __init__(self, message: str, *, answered: str) -> None:
        """Store the nameplate number of the meter that answered."""
        super().__init__(message)
        self.answered = answered


class MeterRefusalError(Dlt645Error):
    """The meter answered with an error reply."""

    reason = Reason.METER_ERROR

    def __init__(self, message: str, *, error_byte: int, version: Version) -> None:
        """Store the error byte and its decoded reasons."""
        super().__init__(message)
        self.error_byte = error_byte
        self.refusals = refusals(error_byte, version)

    @property
    def no_such_data(self) -> bool:
        """Return True when the meter simply doesn't have the identifier asked for."""
        return Refusal.NO_DATA in self.refusals


class BadDataError(Dlt645Error):
    """A well-framed answer whose content can't be a value."""

    reason = Reason.BAD_LENGTH


class UnsupportedError(Dlt645Error):
    """The protocol version has no such identifier or command."""

    reason = Reason.UNSUPPORTED


# Addresses.


def address_to_wire(nameplate: str) -> bytes:
    """Return the 6 wire bytes of a nameplate number (up to 12 digits, zero-padded).

    The nameplate's digits are BCD, most significant first; the wire sends
    the low byte first: "000012345678" -> 78 56 34 12 00 00.
    """
    text = nameplate.strip()
    if text.upper() == BROADCAST_NAMEPLATE:
        return BROADCAST
    if not (1 <= len(text) <= 12 and text.isascii() and text.isdigit()):
        raise AddressError(f"a meter address is 1-12 digits, not {nameplate!r}")
    return bytes.fromhex(text.zfill(12))[::-1]


def address_from_wire(wire: bytes) -> str:
    """Return the nameplate number of 6 wire bytes; raise for non-BCD bytes."""
    if len(wire) != 6:
        raise AddressError(f"an address is 6 bytes, not {len(wire)}")
    if wire == BROADCAST:
        return BROADCAST_NAMEPLATE
    text = wire[::-1].hex()
    if not text.isdigit():
        raise AddressError(f"address {wire.hex(' ')} is not BCD", reason=Reason.NOT_BCD)
    return text


# BCD.


def decode_bcd(data: bytes, *, decimals: int = 0, signed: bool = False) -> float:
    """Decode a BCD value sent low byte first; the sign, if any, in the top bit."""
    if not data:
        raise BadDataError("no value bytes")
    digits = bytearray(data[::-1])
    negative = False
    if signed:
        negative = bool(digits[0] & 0x80)
        digits[0] &= 0x7F
    text = digits.hex()
    if not text.isdigit():
        raise BadDataError(f"value {data.hex(' ')} is not BCD", reason=Reason.NOT_BCD)
    number = int(text)
    value = number / 10**decimals if decimals else float(number)
    return -value if negative and number else value


def encode_bcd(
    value: float, size: int, *, decimals: int = 0, signed: bool = False
) -> bytes:
    """Encode a value as size BCD bytes, low byte first (the inverse of decode_bcd)."""
    scaled = round(abs(value) * 10**decimals)
    limit = 10 ** (2 * size) // (5 if signed else 1)
    if scaled >= limit:
        raise ValueError(f"{value} does not fit {size} BCD bytes")
    raw = bytearray(bytes.fromhex(str(scaled).zfill(2 * size)))
    if signed and value < 0 and scaled:
        raw[0] |= 0x80
    return bytes(raw[::-1])


def _bcd_byte(number: int) -> int:
    """Return one BCD byte of 0-99."""
    return (number // 10) << 4 | number % 10


def _secret(text: str, name: str) -> bytes:
    """Return an 8-digit password or operator code as 4 bytes, in the order written."""
    if not (len(text) == 8 and text.isascii() and text.isdigit()):
        raise SecretError(f"the {name} is 8 digits")
    return bytes.fromhex(text)


# Data items.


class Quantity(StrEnum):
    """What a meter is read for: the keys of a reading's values."""

    ENERGY = "energy"
    VOLTAGE = "voltage"
    CURRENT = "current"
    POWER = "power"
    REMAINING_ENERGY = "remaining_energy"
    REMAINING_MONEY = "remaining_money"
    STATUS_WORD_3 = "status_word_3"


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data identifier of one protocol version and its value format."""

    quantity: Quantity
    version: Version
    identifier: int
    size: int
    decimals: int = 0
    signed: bool = False
    unit: str | None = None
    bcd: bool = True

    @property
    def wire_identifier(self) -> bytes:
        """Return the identifier as sent: low byte first."""
        return self.identifier.to_bytes(self.version.identifier_size, "little")

    def decode(self, value: bytes) -> float | int:
        """Decode the value bytes of a reply (after the identifier)."""
        if len(value) != self.size:
            raise BadDataError(
                f"{self} is {self.size} bytes, the meter sent {len(value)}"
            )
        if not self.bcd:
            return int.from_bytes(value, "little")
        return decode_bcd(value, decimals=self.decimals, signed=self.signed)

    def __str__(self) -> str:
        """Render as '00000000 (energy)'."""
        width = 2 * self.version.identifier_size
        return f"{self.identifier:0{width}X} ({self.quantity})"


_V07, _V97 = Version.V2007, Version.V1997

ITEMS: Final[Mapping[Version, Mapping[Quantity, DataItem]]] = {
    _V07: {
        item.quantity: item
        for item in (
            DataItem(Quantity.ENERGY, _V07, 0x00000000, 4, 2, signed=True, unit="kWh"),
            DataItem(Quantity.VOLTAGE, _V07, 0x02010100, 2, 1, unit="V"),
            DataItem(Quantity.CURRENT, _V07, 0x02020100, 3, 3, signed=True, unit="A"),
            DataItem(Quantity.POWER, _V07, 0x02030000, 3, 4, signed=True, unit="kW"),
            DataItem(Quantity.REMAINING_ENERGY, _V07, 0x00900100, 4, 2, unit="kWh"),
            DataItem(Quantity.REMAINING_MONEY, _V07, 0x00900200, 4, 2),
            DataItem(Quantity.STATUS_WORD_3, _V07, 0x04000503, 2, bcd=False),
        )
    },
    _V97: {
        item.quantity: item
        for item in (
            DataItem(Quantity.ENERGY, _V97, 0x9010, 4, 2, unit="kWh"),
            DataItem(Quantity.VOLTAGE, _V97, 0xB611, 2, 0, unit="V"),
            DataItem(Quantity.CURRENT, _V97, 0xB621, 2, 2, unit="A"),
            DataItem(Quantity.POWER, _V97, 0xB630, 3, 4, signed=True, unit="kW"),
        )
    },
}


def item(version: Version, quantity: Quantity) -> DataItem:
    """Return the data item of a quantity in a version; raise if it has none."""
    try:
        return ITEMS[version][quantity]
    except KeyError:
        raise UnsupportedError(
            f"DL/T645-{version.value} has no standard identifier for {quantity}"
        ) from None


class PrepaidKind(IntEnum):
    """What run-status word 3 says the meter counts credit in."""

    NONE = 0
    ENERGY = 1
    MONEY = 2


@dataclass(frozen=True, slots=True)
class RunStatus3:
    """Run-status word 3 of a 2007 meter, decoded."""

    word: int

    @property
    def relay_open(self) -> bool:
        """Return True when the relay is open (supply cut): D4."""
        return bool(self.word & 0x10)

    @property
    def relay_commanded_open(self) -> bool:
        """Return True when the last relay command was a trip: D6."""
        return bool(self.word & 0x40)

    @property
    def pre_trip_alarm(self) -> bool:
        """Return True while the meter warns of a coming trip: D7."""
        return bool(self.word & 0x80)

    @property
    def prepaid(self) -> PrepaidKind | None:
        """Return the meter kind of D8..D9; None for the reserved value."""
        kind = self.word >> 8 & 0b11
        return None if kind == 3 else PrepaidKind(kind)


# Frames.


@dataclass(frozen=True, slots=True)
class Frame:
    """One DL/T645 frame, its data with the 0x33 offset removed."""

    address: bytes
    control: int
    data: bytes = b""

    @property
    def function(self) -> int:
        """Return the function code (D4..D0)."""
        return self.control & FUNCTION

    @property
    def from_meter(self) -> bool:
        """Return True for a meter's reply (D7)."""
        return bool(self.control & FROM_METER)

    @property
    def is_error(self) -> bool:
        """Return True for an error reply (D6)."""
        return bool(self.control & ERROR_REPLY)

    @property
    def more_follows(self) -> bool:
        """Return True when the meter has more frames of this answer (D5)."""
        return bool(self.control & MORE_FOLLOWS)

    @property
    def nameplate(self) -> str:
        """Return the address as a nameplate number."""
        return address_from_wire(self.address)

    def encode(self, *, wakeup: int = 0) -> bytes:
        """Return the frame's wire bytes, after wakeup FE bytes."""
        return encode_frame(self.address, self.control, self.data, wakeup=wakeup)


def checksum(body: bytes | bytearray) -> int:
    """Return the checksum of the bytes from the first 68 through the data."""
    return sum(body) & 0xFF


def encode_frame(
    address: bytes, control: int, data: bytes = b"", *, wakeup: int = 4
) -> bytes:
    """Build a frame on the wire: wake-up bytes, header, data + 0x33, CS, 16."""
    if len(address) != 6:
        raise AddressError(f"an address is 6 bytes, not {len(address)}")
    if len(data) > 255:
        raise ValueError("a frame carries at most 255 data bytes")
    body = bytes((START, *address, START, control, len(data))) + bytes(
        (byte + OFFSET) & 0xFF for byte in data
    )
    return bytes((WAKEUP,) * wakeup) + body + bytes((checksum(body), END))


class _Scan(IntEnum):
    """What lies at one 68 in a received byte stream."""

    NOT_A_FRAME = 0
    INCOMPLETE = 1
    CORRUPT = 2
    FRAME = 3


def _frame_at(buffer: bytearray, start: int) -> tuple[_Scan, int]:
    """Classify the bytes from a 68 at start; return the class and the frame's end."""
    if len(buffer) < start + 10:
        return _Scan.INCOMPLETE, 0
    if buffer[start + 7] != START:
        return _Scan.NOT_A_FRAME, 0
    end = start + 12 + buffer[start + 9]
    if len(buffer) < end:
        return _Scan.INCOMPLETE, 0
    if buffer[end - 1] != END:
        return _Scan.NOT_A_FRAME, 0
    if checksum(buffer[start : end - 2]) != buffer[end - 2]:
        return _Scan.CORRUPT, end
    return _Scan.FRAME, end


def _decode(buffer: bytearray, start: int, end: int) -> Frame:
    """Return the frame between start and end of a buffer (already checked)."""
    return Frame(
        address=bytes(buffer[start + 1 : start + 7]),
        control=buffer[start + 8],
        data=bytes((byte - OFFSET) & 0xFF for byte in buffer[start + 10 : end - 2]),
    )


def decode_frame(wire: bytes) -> Frame:
    """Decode exactly one frame (wake-up bytes allowed); raise if it isn't one."""
    body = bytearray(wire.lstrip(bytes((WAKEUP,))))
    kind, end = (
        _frame_at(body, 0) if body[:1] == bytes((START,)) else (_Scan.NOT_A_FRAME, 0)
    )
    if kind is _Scan.CORRUPT:
        raise ChecksumError(f"checksum wrong in {bytes(body).hex(' ')}")
    if kind is not _Scan.FRAME or end != len(body):
        raise BadDataError(f"not one DL/T645 frame: {wire.hex(' ')}")
    return _decode(body, 0, end)


class ReplyMatcher:
    """Finds a meter's reply to one request in the bytes a bus receives.

    Skips what a real bus brings along: wake-up FE bytes, the RS-485
    adapter's echo of our own request (a frame without D7), noise, frames
    of other meters; a reply cut into pieces just waits for the rest. What
    it skipped is remembered, so that a timeout can say what went wrong: a
    corrupted reply (checksum) or another meter answering. With an
    identifier, a normal reply for another identifier is skipped too: the
    late answer to an earlier request, never this one's value.
    """

    def __init__(self, address: bytes, function: int, identifier: bytes = b"") -> None:
        """Match replies from address (any address for broadcast) to function."""
        self.address = address
        self.function = function
        self.identifier = identifier
        self.corrupt = False
        self.echoes = 0
        self.stale = 0
        self.others: list[bytes] = []

    def __call__(self, buffer: bytearray) -> Frame | None:
        """Return the reply once complete, consuming the bytes up to its end."""
        position = 0
        while (start := buffer.find(START, position)) >= 0:
            kind, end = _frame_at(buffer, start)
            if kind is _Scan.CORRUPT:
                self.corrupt = True
            if kind is not _Scan.FRAME:
                position = start + 1
                continue
            frame = _decode(buffer, start, end)
            del buffer[:end]
            position = 0
            if not frame.from_meter:
                self.echoes += 1
            elif frame.function != self.function:
                continue
            elif self.address not in (BROADCAST, frame.address):
                self.others.append(frame.address)
            elif not frame.is_error and not frame.data.startswith(self.identifier):
                self.stale += 1
            else:
                return frame
        return None

    def failure(self, err: LineTimeoutError) -> Dlt645Error | LineTimeoutError:
        """Return the error that best explains a timeout: what came instead of the reply."""
        if self.others:
            answered = self.others[-1]
            try:
                name = address_from_wire(answered)
            except AddressError:
                name = answered[::-1].hex()
            return WrongAddressError(
                f"meter {name} answered instead of {self.address[::-1].hex()}",
                answered=name,
            )
        if self.corrupt:
            return ChecksumError(
                f"the answer of {self.address[::-1].hex()} was corrupted (checksum)"
            )
        if self.stale:
            return BadDataError(
                f"meter {self.address[::-1].hex()} answered for another identifier than {self.identifier[::-1].hex().upper()}",
                reason=Reason.WRONG_IDENTIFIER,
            )
        return err


# Requests.


def read_request(address: bytes, data_item: DataItem, *, wakeup: int = 4) -> bytes:
    """Build a read-data request for one identifier."""
    return encode_frame(
        address, data_item.version.read, data_item.wire_identifier, wakeup=wakeup
    )


def read_follow_up_request(
    address: bytes, data_item: DataItem, sequence: int, *, wakeup: int = 4
) -> bytes:
    """Build a request for the next frame of a long answer (sequence from 1)."""
    data = data_item.wire_identifier
    if data_item.version is Version.V2007:
        data += bytes((sequence & 0xFF,))
    return encode_frame(address, data_item.version.read_follow_up, data, wakeup=wakeup)


def read_address_request(*, wakeup: int = 4) -> bytes:
    """Build the 2007 broadcast that asks the only meter on a bus for its address."""
    return encode_frame(BROADCAST, READ_ADDRESS, wakeup=wakeup)


class RelayCommand(IntEnum):
    """The N1 byte of a 2007 control command."""

    TRIP = 0x1A
    CLOSE_ALLOWED = 0x1B
    """The meter allows closing; the customer closes with the meter's button."""
    CLOSE = 0x1C
    """Close at once (DL/T645-2007 amendment 2013)."""
    ALARM = 0x2A
    ALARM_OFF = 0x2B
    KEEP_POWER = 0x3A
    KEEP_POWER_OFF = 0x3B


def control_data(
    command: RelayCommand, password: str, operator: str, valid_until: datetime
) -> bytes:
    """Return the data field of a control command (layout in the module docstring)."""
    secret = _secret(password, "password")
    level, digits = secret[:1], secret[1:]
    deadline = bytes(
        _bcd_byte(part)
        for part in (
            valid_until.second,
            valid_until.minute,
            valid_until.hour,
            valid_until.day,
            valid_until.month,
            valid_until.year % 100,
        )
    )
    return (
        level
        + digits[::-1]
        + _secret(operator, "operator code")[::-1]
        + bytes((command, 0x00))
        + deadline
    )


def control_request(
    address: bytes,
    command: RelayCommand,
    *,
    password: str,
    operator: str,
    valid_until: datetime,
    wakeup: int = 4,
) -> bytes:
    """Build a 2007 control (relay) command."""
    return encode_frame(
        address,
        CONTROL,
        control_data(command, password, operator, valid_until),
        wakeup=wakeup,
    )


# Replies.


def raise_for_error(frame: Frame, version: Version) -> None:
    """Raise MeterRefusalError for an error reply."""
    if frame.is_error:
        error_byte = frame.data[0] if frame.data else 0
        found = ", ".join(refusals(error_byte, version)) or "no reason given"
        raise MeterRefusalError(
            f"meter {frame.nameplate} refused (error byte {error_byte:02X}: {found})",
            error_byte=error_byte,
            version=version,
        )


def value_bytes(frame: Frame, data_item: DataItem, *, follow_up: bool = False) -> bytes:
    """Return the value bytes of a read reply after checking its identifier."""
    raise_for_error(frame, data_item.version)
    size = data_item.version.identifier_size
    if frame.data[:size] != data_item.wire_identifier:
        raise BadDataError(
            f"asked for {data_item}, the meter answered {frame.data[:size][::-1].hex().upper()}",
            reason=Reason.WRONG_IDENTIFIER,
        )
    value = frame.data[size:]
    if follow_up and data_item.version is Version.V2007:
        # A 2007 follow-up reply ends with its frame sequence number.
        value = value[:-1]
    return value


def decode_read_reply(frame: Frame, data_item: DataItem) -> float | int:
    """Return the value of a one-frame read reply."""
    return data_item.decode(value_bytes(frame, data_item))


def decode_address_reply(frame: Frame) -> str:
    """Return the nameplate number a read-address reply carries."""
    raise_for_error(frame, Version.V2007)
    if len(frame.data) != 6 or frame.data != frame.address:
        raise BadDataError("a read-address reply carries the 6 address bytes")
    return address_from_wire(frame.data)


# Talking to meters on a bus.


def _now() -> datetime:
    """Return the local time (meters keep local time)."""
    return datetime.now().astimezone()


async def _ask(
    bus: MeterBus,
    request: bytes,
    address: bytes,
    function: int,
    reply_timeout: float | None,
    identifier: bytes = b"",
) -> Frame:
    """Send one request and return the meter's reply frame."""
    matcher = ReplyMatcher(address, function, identifier)
    try:
        return await bus.exchange(request, matcher, reply_timeout)
    except LineTimeoutError as err:
        failure = matcher.failure(err)
        if failure is err:
            raise
        raise failure from err


async def read_value(
    bus: MeterBus,
    address: bytes,
    data_item: DataItem,
    *,
    reply_timeout: float | None = None,
    wakeup: int = 4,
) -> float | int:
    """Read one identifier, following a long answer over several frames."""
    version = data_item.version
    frame = await _ask(
        bus,
        read_request(address, data_item, wakeup=wakeup),
        address,
        version.read,
        reply_timeout,
        data_item.wire_identifier,
    )
    value = value_bytes(frame, data_item)
    sequence = 0
    while frame.more_follows:
        sequence += 1
        if sequence > MAX_FOLLOW_UPS:
            raise BadDataError(
                f"{data_item}: more than {MAX_FOLLOW_UPS} follow-up frames"
            )
        frame = await _ask(
            bus,
            read_follow_up_request(address, data_item, sequence, wakeup=wakeup),
            address,
            version.read_follow_up,
            reply_timeout,
            data_item.wire_identifier,
        )
        value += value_bytes(frame, data_item, follow_up=True)
    return data_item.decode(value)


async def read_address(bus: MeterBus, *, reply_timeout: float | None = None) -> str:
    """Ask the bus "who is there" (2007 broadcast); valid with one meter connected."""
    frame = await _ask(
        bus, read_address_request(), BROADCAST, READ_ADDRESS, reply_timeout
    )
    return decode_address_reply(frame)


async def control(
    bus: MeterBus,
    address: bytes,
    command: RelayCommand,
    *,
    password: str,
    operator: str,
    valid_for: timedelta = timedelta(minutes=5),
    now: Callable[[], datetime] = _now,
    reply_timeout: float | None = None,
) -> None:
    """Send a 2007 control command; raise MeterRefusalError when the meter refuses."""
    request = control_request(
        address,
        command,
        password=password,
        operator=operator,
        valid_until=now() + valid_for,
    )
    frame = await _ask(bus, request, address, CONTROL, reply_timeout)
    raise_for_error(frame, Version.V2007)


async def set_relay(
    bus: MeterBus,
    address: bytes,
    *,
    open_relay: bool,
    password: str,
    operator: str,
    now: Callable[[], datetime] = _now,
    reply_timeout: float | None = None,
) -> bool:
    """Trip or close a 2007 meter's relay and return the relay state read back (True = open).

    The meter's own word is what counts: the state comes from run-status
    word 3 after the command, not from the command's acknowledgement.
    """
    await control(
        bus,
        address,
        RelayCommand.TRIP if open_relay else RelayCommand.CLOSE,
        password=password,
        operator=operator,
        now=now,
        reply_timeout=reply_timeout,
    )
    word = await read_value(
        bus,
        address,
        item(Version.V2007, Quantity.STATUS_WORD_3),
        reply_timeout=reply_timeout,
    )
    return RunStatus3(int(word)).relay_open


#: Quantities read from every meter; the others only while the meter answers them.
REQUIRED: Final = frozenset({Quantity.ENERGY})


@dataclass(slots=True)
class Dlt645Meter:
    """One DL/T645 meter on a bus, read for every quantity its version has.

    Quantities the meter refuses ("no such data") are remembered and asked
    again only every ``recheck_every`` reads, so a meter without prepaid
    registers costs one refusal, not one per read. Follows ``bus.BusMeter``.
    """

    nameplate: str
    version: Version = Version.V2007
    quantities: tuple[Quantity, ...] = tuple(Quantity)
    reply_timeout: float | None = None
    recheck_every: int = 24
    wakeup: int = 4
    refused: set[Quantity] = field(default_factory=set)
    address: bytes = field(init=False, repr=False)
    reads: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        """Check the address and keep only the quantities the version has."""
        self.address = address_to_wire(self.nameplate)
        if self.address == BROADCAST:
            raise AddressError("a meter is read at its own address, not broadcast")
        self.quantities = tuple(q for q in self.quantities if q in ITEMS[self.version])

    @property
    def key(self) -> str:
        """Return the nameplate number."""
        return self.nameplate

    def _to_ask(self) -> list[Quantity]:
        """Return the quantities to ask this time."""
        recheck = self.recheck_every > 0 and self.reads % self.recheck_every == 0
        return [q for q in self.quantities if recheck or q not in self.refused]

    async def read(self, bus: MeterBus) -> BusReadResult:
        """Read the meter; a failure of any quantity asked gives a status and no values."""
        values: dict[str, float | int | bool | str] = {}
        asking = self._to_ask()
        self.reads += 1
        try:
            for quantity in asking:
                data_item = ITEMS[self.version][quantity]
                try:
                    value = await read_value(
                        bus,
                        self.address,
                        data_item,
                        reply_timeout=self.reply_timeout,
                        wakeup=self.wakeup,
                    )
                except MeterRefusalError as err:
                    if not err.no_such_data or quantity in REQUIRED:
                        raise
                    self.refused.add(quantity)
                    continue
                self.refused.discard(quantity)
                values[quantity] = value
        except MeterRefusalError as err:
            return self._failed(ReadStatus.METER_ERROR, err, tuple(err.refusals))
        except (ChecksumError, WrongAddressError) as err:
            status = (
                ReadStatus.CHECKSUM
                if isinstance(err, ChecksumError)
                else ReadStatus.WRONG_ADDRESS
            )
            return self._failed(status, err, (err.reason,))
        except Dlt645Error as err:
            return self._failed(ReadStatus.BAD_DATA, err, (err.reason,))
        except LineTimeoutError as err:
            return self._failed(ReadStatus.NO_ANSWER, err, ())
        except LineConnectionError as err:
            return self._failed(ReadStatus.BUS_ERROR, err, ())
        if Quantity.STATUS_WORD_3 in values:
            status_word = RunStatus3(int(values[Quantity.STATUS_WORD_3]))
            values["relay_open"] = status_word.relay_open
            if (kind := status_word.prepaid) is not None:
                values["prepaid"] = kind.name.lower()
        return BusReadResult(
            self.nameplate,
            ReadStatus.OK,
            values,
            refused=tuple(sorted(self.refused)),
        )

    def _failed(
        self, status: ReadStatus, err: Exception, reasons: tuple[str, ...]
    ) -> BusReadResult:
        """Return a result without values."""
        return BusReadResult(
            self.nameplate,
            status,
            reasons=tuple(str(reason) for reason in reasons),
            detail=str(err),
            refused=tuple(sorted(self.refused)),
        )

"""M-Bus (EN 13757-2 link layer, EN 13757-3 application layer) frames and records.

Our own codec, small and exact. ``pyMeterBus`` decodes RSP_UD records well,
but it is blocking (pyserial), calls ``logging.basicConfig`` when imported
(it would reconfigure Home Assistant's logging) and returns binary floats
dressed as ``Decimal`` (12.565 m³ comes back as 12.5649999…); it also builds
no long frames and reads variable-length BCD with the wrong length. So the
integration uses this module, and the tests use pyMeterBus only as an
independent check that both decode every simulated frame alike.

What the link layer looks like on the wire:

* single character ``E5``: the meter's acknowledgement;
* short frame ``10 C A CS 16`` (SND_NKE, REQ_UD2);
* long frame ``68 L L 68 C A CI data CS 16`` with L = 3 + len(data) and
  CS = (C + A + CI + sum(data)) mod 256; a control frame is a long frame
  without data.

Values are ``Decimal`` scaled exactly from the coded integer or BCD number by
the VIF's power of ten; a 32-bit real becomes the shortest decimal that is
the same float32. A record whose VIF or VIF extensions we don't know is kept
with its raw number and ``Quantity.UNKNOWN``: never guessed, never scaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
import struct
from typing import Final

from .protocol import MeterProtocolError

ACK: Final = 0xE5
START_SHORT: Final = 0x10
START_LONG: Final = 0x68
STOP: Final = 0x16

#: C fields, master to meter: PRM set; FCV (0x10) says the FCB (0x20) counts.
C_SND_NKE: Final = 0x40
C_SND_UD: Final = 0x53
C_REQ_UD2: Final = 0x5B
FCB: Final = 0x20
FCV: Final = 0x10

#: CI fields.
CI_APPLICATION_RESET: Final = 0x50
CI_SELECT: Final = 0x52
CI_RSP_VARIABLE: Final = 0x72

#: Addresses: 0 is an unconfigured meter, 1-250 primary addresses.
ADDRESS_SELECTED: Final = 253
ADDRESS_BROADCAST_REPLY: Final = 254
ADDRESS_BROADCAST: Final = 255
PRIMARY_ADDRESSES: Final = range(1, 251)

#: EN 13757-3 limits: ten DIFEs / VIFEs at most per record.
MAX_EXTENSIONS: Final = 10
HEADER_LENGTH: Final = 12
MAX_LONG_DATA: Final = 252

MEDIUM_NAMES: Final[dict[int, str]] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat",
    0x05: "steam",
    0x06: "warm_water",
    0x07: "water",
    0x08: "heat_cost_allocator",
    0x09: "compressed_air",
    0x0A: "cooling_outlet",
    0x0B: "cooling_inlet",
    0x0C: "heat_inlet",
    0x0D: "heat_cooling",
    0x0E: "bus_system",
    0x0F: "unknown",
    0x15: "hot_water",
    0x16: "cold_water",
    0x17: "dual_water",
    0x18: "pressure",
    0x19: "ad_converter",
}
#: Media whose meters count water volume.
WATER_MEDIA: Final = frozenset({0x06, 0x07, 0x15, 0x16, 0x17})


class MBusError(MeterProtocolError):
    """An M-Bus error made of a reason code and an optional detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        """Keep the reason code (e.g. ``bad_checksum``) and an optional human detail."""
        super().__init__(f"{reason}: {detail}" if detail else reason, reason=reason)


class MBusFrameError(MBusError):
    """The bytes are not exactly one valid M-Bus frame (checksum, length, start/stop, extra bytes)."""


class MBusDataError(MBusError):
    """A frame is valid but its application data can't be read (truncated record, wrong CI, …)."""


def medium_name(code: int) -> str:
    """Return the name of a medium code (``reserved_0x1a`` for codes the standard reserves)."""
    return MEDIUM_NAMES.get(code, f"reserved_0x{code:02x}")


# --- link layer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """The single character E5."""


@dataclass(frozen=True, slots=True)
class ShortFrame:
    """``10 C A CS 16``."""

    control: int
    address: int


@dataclass(frozen=True, slots=True)
class LongFrame:
    """``68 L L 68 C A CI data CS 16`` (a control frame when data is empty)."""

    control: int
    address: int
    ci: int
    data: bytes


type Frame = Ack | ShortFrame | LongFrame


def frame_length(buffer: bytes) -> int | None:
    """Return the length of the frame at the start of buffer, or None while more bytes are needed.

    For a byte-stream transport to know where a reply ends; it checks only
    the start character and the length field, parse_frame checks the rest.
    """
    if not buffer:
        return None
    start = buffer[0]
    if start == ACK:
        return 1
    if start == START_SHORT:
        return 5 if len(buffer) >= 5 else None
    if start == START_LONG:
        if len(buffer) < 4:
            return None
        if buffer[1] != buffer[2] or buffer[3] != START_LONG or buffer[1] < 3:
            raise MBusFrameError(
                "bad_length", f"long frame header {buffer[:4].hex(' ')}"
            )
        total = buffer[1] + 6
        return total if len(buffer) >= total else None
    raise MBusFrameError("bad_start", f"first byte {start:02x}")


def parse_frame(data: bytes) -> Frame:
    """Parse bytes that must be exactly one frame; anything else is an MBusFrameError.

    Bytes after the frame mean several meters answered at once (a collision)
    or noise: reason ``trailing_bytes``.
    """
    if not data:
        raise MBusFrameError("empty")
    length = frame_length(data)
    if length is None:
        raise MBusFrameError("truncated", f"{len(data)} bytes: {data[:8].hex(' ')}")
    if len(data) > length:
        raise MBusFrameError(
            "trailing_bytes", f"{len(data) - length} bytes after the frame"
        )
    if data[0] == ACK:
        return Ack()
    if data[-1] != STOP:
        raise MBusFrameError("bad_stop", f"last byte {data[-1]:02x}")
    if data[0] == START_SHORT:
        if (data[1] + data[2]) & 0xFF != data[3]:
            raise MBusFrameError("bad_checksum", data.hex(" "))
        return ShortFrame(data[1], data[2])
    body = data[4:-2]
    if sum(body) & 0xFF != data[-2]:
        raise MBusFrameError("bad_checksum", f"long frame of {len(data)} bytes")
    return LongFrame(body[0], body[1], body[2], bytes(body[3:]))


def _check_address(address: int) -> int:
    """Return address if it is a byte, else raise ValueError."""
    if not 0 <= address <= 255:
        raise ValueError(f"M-Bus address {address} is not 0-255")
    return address


def build_short(control: int, address: int) -> bytes:
    """Return a short frame."""
    _check_address(address)
    return bytes((START_SHORT, control, address, (control + address) & 0xFF, STOP))


def build_long(control: int, address: int, ci: int, data: bytes = b"") -> bytes:
    """Return a long frame (a control frame when data is empty)."""
    _check_address(address)
    if len(data) > MAX_LONG_DATA:
        raise ValueError(f"{len(data)} data bytes do not fit a long frame")
    body = bytes((control, address, ci)) + data
    return (
        bytes((START_LONG, len(body), len(body), START_LONG))
        + body
        + bytes((sum(body) & 0xFF, STOP))
    )


def build_snd_nke(address: int) -> bytes:
    """Return SND_NKE: link reset; the meter clears its FCB (to 253: also deselects)."""
    return build_short(C_SND_NKE, address)


def build_req_ud2(address: int, fcb: bool) -> bytes:
    """Return REQ_UD2 with FCV set; toggling the FCB asks for the next telegram."""
    return build_short(C_REQ_UD2 | (FCB if fcb else 0), address)


def build_application_reset(address: int, subcode: int | None = None) -> bytes:
    """Return SND_UD with CI 50: the meter restarts its telegram sequence."""
    data = b"" if subcode is None else bytes((subcode,))
    return build_long(C_SND_UD, address, CI_APPLICATION_RESET, data)


def build_select(address: SecondaryAddress) -> bytes:
    """Return SND_UD to 253 with CI 52: meters matching the (wildcard) secondary address get selected."""
    return build_long(C_SND_UD, ADDRESS_SELECTED, CI_SELECT, address.select_data())


def build_deselect() -> bytes:
    """Return SND_NKE to 253: the selected meter acknowledges and leaves the selected state."""
    return build_snd_nke(ADDRESS_SELECTED)


# --- identification -----------------------------------------------------------------


def decode_manufacturer(code: int) -> str:
    """Return the three letters of a manufacturer code (EN 13757-3: 5 bits per letter)."""
    code &= 0x7FFF
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def encode_manufacturer(letters: str) -> int:
    """Return the manufacturer code of three letters A-Z."""
    if len(letters) != 3 or not all("A" <= c <= "Z" for c in letters):
        raise ValueError(f"manufacturer {letters!r} is not three letters A-Z")
    return sum(
        (ord(c) - 64) << shift for c, shift in zip(letters, (10, 5, 0), strict=True)
    )


def _bcd_digits(data: bytes) -> str:
    """Return the nibbles of little-endian BCD bytes as a string, most significant first."""
    return data[::-1].hex().upper()


@dataclass(frozen=True, slots=True)
class SecondaryAddress:
    """Identification, manufacturer, version, medium; as a mask ``F`` digits and None are wildcards."""

    ident: str = "FFFFFFFF"
    manufacturer: str | None = None
    version: int | None = None
    medium: int | None = None

    def __post_init__(self) -> None:
        """Refuse what can't be sent in a selection."""
        if len(self.ident) != 8 or any(c not in "0123456789F" for c in self.ident):
            raise ValueError(
                f"identification {self.ident!r} is not 8 digits (F = wildcard)"
            )
        if self.manufacturer is not None:
            encode_manufacturer(self.manufacturer)
        for name in ("version", "medium"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 0xFE:
                raise ValueError(f"{name} {value} is not 0-254")

    @property
    def is_mask(self) -> bool:
        """Return whether any part is a wildcard."""
        return (
            "F" in self.ident
            or self.manufacturer is None
            or self.version is None
            or self.medium is None
        )

    def select_data(self) -> bytes:
        """Return the 8 data bytes of a selection: id BCD, manufacturer, version, medium (LSB first)."""
        manufacturer = (
            0xFFFF
            if self.manufacturer is None
            else encode_manufacturer(self.manufacturer)
        )
        return (
            bytes.fromhex(self.ident)[::-1]
            + manufacturer.to_bytes(2, "little")
            + bytes(
                (
                    0xFF if self.version is None else self.version,
                    0xFF if self.medium is None else self.medium,
                )
            )
        )

    def matches(self, other: SecondaryAddress) -> bool:
        """Return whether a meter with address other answers a selection with this mask."""
        return (
            all(m in ("F", c) for m, c in zip(self.ident, other.ident, strict=True))
            and self.manufacturer in (None, other.manufacturer)
            and self.version in (None, other.version)
            and self.medium in (None, other.medium)
        )

    @classmethod
    def parse(cls, text: str) -> SecondaryAddress:
        """Read ``12345678`` or the 16-hex-digit form tools print (see ``__str__``)."""
        text = text.strip().upper()
        if len(text) == 8:
            return cls(text)
        if len(text) != 16 or any(c not in "0123456789ABCDEF" for c in text):
            raise ValueError(f"secondary address {text!r} is not 8 or 16 hex digits")
        manufacturer = int.from_bytes(bytes.fromhex(text[8:12]), "little")
        version, medium = int(text[12:14], 16), int(text[14:16], 16)
        return cls(
            text[:8],
            None if manufacturer == 0xFFFF else decode_manufacturer(manufacturer),
            None if version == 0xFF else version,
            None if medium == 0xFF else medium,
        )

    def __str__(self) -> str:
        """Return the 16-hex-digit form libmbus and pyMeterBus print: id, manufacturer bytes as sent, version, medium."""
        return self.ident + self.select_data()[4:].hex().upper()


class ApplicationStatus(StrEnum):
    """Bits 0-1 of the status byte."""

    OK = "ok"
    BUSY = "busy"
    ERROR = "error"
    #: 13757-3:2013 "abnormal condition / alarm" (reserved in older meters).
    ALARM = "alarm"


_APPLICATION: Final = (
    ApplicationStatus.OK,
    ApplicationStatus.BUSY,
    ApplicationStatus.ERROR,
    ApplicationStatus.ALARM,
)


@dataclass(frozen=True, slots=True)
class MeterStatus:
    """The status byte of the fixed header."""

    raw: int

    @property
    def application(self) -> ApplicationStatus:
        """Return the application state (bits 0-1)."""
        return _APPLICATION[self.raw & 0x03]

    @property
    def power_low(self) -> bool:
        """Return bit 2: the meter's battery or supply is low."""
        return bool(self.raw & 0x04)

    @property
    def permanent_error(self) -> bool:
        """Return bit 3: the meter reports a permanent error."""
        return bool(self.raw & 0x08)

    @property
    def temporary_error(self) -> bool:
        """Return bit 4: the meter reports a temporary error."""
        return bool(self.raw & 0x10)

    @property
    def manufacturer_bits(self) -> int:
        """Return bits 5-7, whose meaning is the manufacturer's."""
        return self.raw >> 5

    @property
    def has_error(self) -> bool:
        """Return whether the meter says its values can't be trusted (error, alarm, either error bit)."""
        return (
            self.application in (ApplicationStatus.ERROR, ApplicationStatus.ALARM)
            or self.permanent_error
            or self.temporary_error
        )


@dataclass(frozen=True, slots=True)
class FixedHeader:
    """The 12-byte fixed header of a variable data structure (CI 72)."""

    ident: str
    manufacturer: str
    version: int
    medium: int
    access_number: int
    status: MeterStatus
    signature: int

    @property
    def secondary(self) -> SecondaryAddress:
        """Return the meter's full secondary address."""
        return SecondaryAddress(
            self.ident, self.manufacturer, self.version, self.medium
        )

    @classmethod
    def parse(cls, data: bytes) -> FixedHeader:
        """Read the 12 header bytes."""
        if len(data) < HEADER_LENGTH:
            raise MBusDataError("truncated_header", f"{len(data)} of 12 bytes")
        return cls(
            ident=_bcd_digits(data[0:4]),
            manufacturer=decode_manufacturer(int.from_bytes(data[4:6], "little")),
            version=data[6],
            medium=data[7],
            access_number=data[8],
            status=MeterStatus(data[9]),
            signature=int.from_bytes(data[10:12], "little"),
        )


# --- records --------------------------------------------------------------------------


class Function(StrEnum):
    """DIF bits 4-5."""

    INSTANTANEOUS = "instantaneous"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    ERROR_STATE = "error_state"


_FUNCTIONS: Final = (
    Function.INSTANTANEOUS,
    Function.MAXIMUM,
    Function.MINIMUM,
    Function.ERROR_STATE,
)


class Quantity(StrEnum):
    """What a record measures, from its VIF (and VIFE for the extension tables)."""

    ENERGY = "energy"
    VOLUME = "volume"
    MASS = "mass"
    ON_TIME = "on_time"
    OPERATING_TIME = "operating_time"
    POWER = "power"
    VOLUME_FLOW = "volume_flow"
    MASS_FLOW = "mass_flow"
    FLOW_TEMPERATURE = "flow_temperature"
    RETURN_TEMPERATURE = "return_temperature"
    TEMPERATURE_DIFFERENCE = "temperature_difference"
    EXTERNAL_TEMPERATURE = "external_temperature"
    PRESSURE = "pressure"
    DATE = "date"
    DATE_TIME = "date_time"
    HCA_UNITS = "hca_units"
    AVERAGING_DURATION = "averaging_duration"
    ACTUALITY_DURATION = "actuality_duration"
    FABRICATION_NUMBER = "fabrication_number"
    ENHANCED_IDENTIFICATION = "enhanced_identification"
    BUS_ADDRESS = "bus_address"
    CREDIT = "credit"
    DEBIT = "debit"
    ACCESS_NUMBER = "access_number"
    MEDIUM = "medium"
    MANUFACTURER = "manufacturer"
    PARAMETER_SET = "parameter_set"
    MODEL_VERSION = "model_version"
    HARDWARE_VERSION = "hardware_version"
    FIRMWARE_VERSION = "firmware_version"
    SOFTWARE_VERSION = "software_version"
    CUSTOMER_LOCATION = "customer_location"
    CUSTOMER = "customer"
    ERROR_FLAGS = "error_flags"
    ERROR_MASK = "error_mask"
    DIGITAL_OUTPUT = "digital_output"
    DIGITAL_INPUT = "digital_input"
    BAUD_RATE = "baud_rate"
    RESPONSE_DELAY = "response_delay"
    RETRY = "retry"
    VOLTAGE = "voltage"
    CURRENT = "current"
    #: VIF 7C/FC: the unit is text sent with the record; the number is kept unscaled.
    PLAIN_TEXT = "plain_text"
    #: VIF 7F/FF or a VIFE 7F/FF: the manufacturer's own meaning, kept raw.
    MANUFACTURER_SPECIFIC = "manufacturer_specific"
    UNKNOWN = "unknown"


#: How a record's number becomes its value.
_NUMBER, _UNSIGNED, _DATE, _DATE_TIME, _RAW = (
    "number",
    "unsigned",
    "date",
    "date_time",
    "raw",
)
_TIME_UNITS: Final = ("s", "min", "h", "d")

type _Meaning = tuple[Quantity, str, int, str]
type MBusValue = Decimal | int | str | date | datetime | None


def _primary_vif(code: int) -> _Meaning | None:
    """Return (quantity, unit, power of ten, kind) of a primary VIF without its extension bit."""
    n = code & 0x07
    ranges: tuple[tuple[int, Quantity, str, int], ...] = (
        (0x00, Quantity.ENERGY, "Wh", n - 3),
        (0x08, Quantity.ENERGY, "J", n),
        (0x10, Quantity.VOLUME, "m³", n - 6),
        (0x18, Quantity.MASS, "kg", n - 3),
        (0x28, Quantity.POWER, "W", n - 3),
        (0x30, Quantity.POWER, "J/h", n),
        (0x38, Quantity.VOLUME_FLOW, "m³/h", n - 6),
        (0x40, Quantity.VOLUME_FLOW, "m³/min", n - 7),
        (0x48, Quantity.VOLUME_FLOW, "m³/s", n - 9),
        (0x50, Quantity.MASS_FLOW, "kg/h", n - 3),
    )
    for base, quantity, unit, exponent in ranges:
        if base <= code <= base + 7:
            return quantity, unit, exponent, _NUMBER
    nn = code & 0x03
    fours: tuple[tuple[int, Quantity, str, int, str], ...] = (
        (0x20, Quantity.ON_TIME, _TIME_UNITS[nn], 0, _NUMBER),
        (0x24, Quantity.OPERATING_TIME, _TIME_UNITS[nn], 0, _NUMBER),
        (0x58, Quantity.FLOW_TEMPERATURE, "°C", nn - 3, _NUMBER),
        (0x5C, Quantity.RETURN_TEMPERATURE, "°C", nn - 3, _NUMBER),
        (0x60, Quantity.TEMPERATURE_DIFFERENCE, "K", nn - 3, _NUMBER),
        (0x64, Quantity.EXTERNAL_TEMPERATURE, "°C", nn - 3, _NUMBER),
        (0x68, Quantity.PRESSURE, "bar", nn - 3, _NUMBER),
        (0x70, Quantity.AVERAGING_DURATION, _TIME_UNITS[nn], 0, _NUMBER),
        (0x74, Quantity.ACTUALITY_DURATION, _TIME_UNITS[nn], 0, _NUMBER),
    )
    for base, quantity, unit, exponent, kind in fours:
        if base <= code <= base + 3:
            return quantity, unit, exponent, kind
    return {
        0x6C: (Quantity.DATE, "", 0, _DATE),
        0x6D: (Quantity.DATE_TIME, "", 0, _DATE_TIME),
        0x6E: (Quantity.HCA_UNITS, "", 0, _NUMBER),
        0x78: (Quantity.FABRICATION_NUMBER, "", 0, _UNSIGNED),
        0x79: (Quantity.ENHANCED_IDENTIFICATION, "", 0, _UNSIGNED),
        0x7A: (Quantity.BUS_ADDRESS, "", 0, _UNSIGNED),
    }.get(code)


def _fd_vife(code: int) -> _Meaning | None:
    """Return the meaning of a VIFE of the main extension table (after VIF FD)."""
    if code <= 0x03:
        return Quantity.CREDIT, "currency", code - 3, _NUMBER
    if code <= 0x07:
        return Quantity.DEBIT, "currency", (code & 0x03) - 3, _NUMBER
    if 0x40 <= code <= 0x4F:
        return Quantity.VOLTAGE, "V", (code & 0x0F) - 9, _NUMBER
    if 0x50 <= code <= 0x5F:
        return Quantity.CURRENT, "A", (code & 0x0F) - 12, _NUMBER
    unsigned = {
        0x08: Quantity.ACCESS_NUMBER,
        0x09: Quantity.MEDIUM,
        0x0A: Quantity.MANUFACTURER,
        0x0B: Quantity.PARAMETER_SET,
        0x0C: Quantity.MODEL_VERSION,
        0x0D: Quantity.HARDWARE_VERSION,
        0x0E: Quantity.FIRMWARE_VERSION,
        0x0F: Quantity.SOFTWARE_VERSION,
        0x10: Quantity.CUSTOMER_LOCATION,
        0x11: Quantity.CUSTOMER,
        0x17: Quantity.ERROR_FLAGS,
        0x18: Quantity.ERROR_MASK,
        0x1A: Quantity.DIGITAL_OUTPUT,
        0x1B: Quantity.DIGITAL_INPUT,
        0x1E: Quantity.RETRY,
    }
    if code in unsigned:
        return unsigned[code], "", 0, _UNSIGNED
    if code == 0x1C:
        return Quantity.BAUD_RATE, "Bd", 0, _UNSIGNED
    if code == 0x1D:
        return Quantity.RESPONSE_DELAY, "bit times", 0, _UNSIGNED
    return None


def _fb_vife(code: int) -> _Meaning | None:
    """Return the meaning of a VIFE of the first extension table (after VIF FB): the large units."""
    n = code & 0x01
    return {
        0x00: (Quantity.ENERGY, "Wh", n + 5, _NUMBER),  # 10^(n-1) MWh
        0x08: (Quantity.ENERGY, "J", n + 8, _NUMBER),  # 10^(n-1) GJ
        0x10: (Quantity.VOLUME, "m³", n + 2, _NUMBER),
        0x18: (Quantity.MASS, "kg", n + 5, _NUMBER),  # 10^(n+2) t
        0x28: (Quantity.POWER, "W", n + 5, _NUMBER),  # 10^(n-1) MW
        0x30: (Quantity.POWER, "J/h", n + 8, _NUMBER),  # 10^(n-1) GJ/h
    }.get(code & 0x7E)


@dataclass(frozen=True, slots=True)
class MBusRecord:
    """One data record: where it sits (function, storage, tariff, subunit), what it is, its value.

    ``raw`` is the number or text as coded, before any scaling; ``value`` is
    the record in ``unit`` (None when the record is not understood, or
    carries no value, e.g. an invalid date or a BCD with hex digits).
    """

    dib: bytes
    vib: bytes
    data: bytes
    function: Function
    storage: int
    tariff: int
    subunit: int
    quantity: Quantity
    unit: str
    value: MBusValue
    raw: Decimal | int | str | None

    @property
    def is_current(self) -> bool:
        """Return whether this is the instantaneous value of storage 0, tariff 0, subunit 0."""
        return (
            self.function is Function.INSTANTANEOUS
            and self.storage == 0
            and self.tariff == 0
            and self.subunit == 0
        )


def _signed(data: bytes) -> int:
    """Return a little-endian two's complement integer (type B)."""
    return int.from_bytes(data, "little", signed=True)


def _bcd(data: bytes) -> int | None:
    """Return a little-endian BCD number (type A); a top nibble F is the minus sign; None if not BCD."""
    digits = _bcd_digits(data)
    sign = 1
    if digits[0] == "F":
        sign, digits = -1, "0" + digits[1:]
    if not digits.isdigit():
        return None
    return sign * int(digits)


def _real(data: bytes) -> Decimal:
    """Return a float32 as the shortest decimal that reads back as the same float32."""
    number = struct.unpack("<f", data)[0]
    for digits in range(6, 10):
        text = f"{number:.{digits}g}"
        if struct.pack("<f", float(text)) == data:
            return Decimal(text)
    return Decimal(repr(number))  # pragma: no cover - 9 digits always round-trip


def _date_g(low: int, high: int) -> date | None:
    """Return a type G date (day, month, 7-bit year split over both bytes), None if invalid."""
    year = ((high & 0xF0) >> 1) | ((low & 0xE0) >> 5)
    if year > 99:
        return None
    # Two-digit years as the standard asks for old meters: 00-80 = 2000-2080.
    year += 2000 if year <= 80 else 1900
    try:
        return date(year, high & 0x0F, low & 0x1F)
    except ValueError:
        return None


def _date_time_f(data: bytes) -> datetime | None:
    """Return a type F date and time to the minute (meter's local time), None if flagged invalid."""
    if data[0] & 0x80:  # IV: the meter says its clock is not valid
        return None
    day = _date_g(data[2], data[3])
    minute, hour = data[0] & 0x3F, data[1] & 0x1F
    if day is None or minute > 59 or hour > 23:
        return None
    return datetime(day.year, day.month, day.day, hour, minute)  # noqa: DTZ001 - the meter's local time


def _lvar_length(lvar: int) -> tuple[int, str]:
    """Return (data bytes, coding) of a variable-length record's LVAR byte."""
    if lvar <= 0xBF:
        return lvar, "text"
    if 0xC0 <= lvar <= 0xC9:
        return lvar - 0xC0, "bcd"
    if 0xD0 <= lvar <= 0xD9:
        return lvar - 0xD0, "-bcd"
    if 0xE0 <= lvar <= 0xEF:
        return lvar - 0xE0, "binary"
    if 0xF0 <= lvar <= 0xF4:
        return 4 * (lvar - 0xEC), "binary"
    if lvar == 0xF5:
        return 48, "binary"
    if lvar == 0xF6:
        return 64, "binary"
    raise MBusDataError("reserved_lvar", f"LVAR {lvar:02x}")


#: DIF data field: bytes and coding (D = variable length, F = special function).
_DATA_FIELD: Final[dict[int, tuple[int, str]]] = {
    0x0: (0, "none"),
    0x1: (1, "int"),
    0x2: (2, "int"),
    0x3: (3, "int"),
    0x4: (4, "int"),
    0x5: (4, "real"),
    0x6: (6, "int"),
    0x7: (8, "int"),
    0x8: (0, "none"),  # "selection for readout": only in requests
    0x9: (1, "bcd"),
    0xA: (2, "bcd"),
    0xB: (3, "bcd"),
    0xC: (4, "bcd"),
    0xE: (6, "bcd"),
}


class _Cursor:
    """Reads a record block byte by byte, with a typed error when it runs out."""

    def __init__(self, data: bytes) -> None:
        """Start at the first byte."""
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        """Return whether bytes are left."""
        return self.pos < len(self.data)

    def byte(self) -> int:
        """Return the next byte."""
        if self.pos >= len(self.data):
            raise MBusDataError("truncated_record", f"record ends at byte {self.pos}")
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, count: int) -> bytes:
        """Return the next count bytes."""
        if self.pos + count > len(self.data):
            raise MBusDataError(
                "truncated_record",
                f"{count} bytes wanted at {self.pos} of {len(self.data)}",
            )
        self.pos += count
        return self.data[self.pos - count : self.pos]

    def rest(self) -> bytes:
        """Return every byte left."""
        rest = self.data[self.pos :]
        self.pos = len(self.data)
        return rest


def _extensions(cursor: _Cursor, first: int, what: str) -> bytes:
    """Return a DIF/VIF and its extension bytes (each with bit 7 set when another follows)."""
    block = bytearray((first,))
    while block[-1] & 0x80:
        if len(block) > MAX_EXTENSIONS:
            raise MBusDataError(f"too_many_{what}e", f"more than {MAX_EXTENSIONS}")
        block.append(cursor.byte())
    return bytes(block)


def _meaning(vib: bytes, unit_text: str) -> _Meaning:
    """Return the meaning of a VIB; any VIFE we don't know makes the whole record UNKNOWN."""
    vif = vib[0]
    code = vif & 0x7F
    extensions = vib[1:]
    if code == 0x7C:
        meaning: _Meaning | None = (Quantity.PLAIN_TEXT, unit_text, 0, _RAW)
    elif code == 0x7F:
        return Quantity.MANUFACTURER_SPECIFIC, "", 0, _RAW
    elif vif in (0xFB, 0xFD):
        if not extensions:  # pragma: no cover - _extensions always adds one
            return Quantity.UNKNOWN, "", 0, _RAW
        table = _fb_vife if vif == 0xFB else _fd_vife
        meaning = table(extensions[0] & 0x7F)
        extensions = extensions[1:]
    else:
        meaning = _primary_vif(code)
    if any(e & 0x7F == 0x7F for e in extensions):
        return Quantity.MANUFACTURER_SPECIFIC, "", 0, _RAW
    if meaning is None or extensions:
        # Combinable VIFEs (per hour, correction factors, error codes, …) change
        # what the number means: without knowing them it is not trusted.
        return Quantity.UNKNOWN, "", 0, _RAW
    return meaning


def _decode_raw(coding: str, data: bytes) -> Decimal | int | str | None:
    """Return the number or text of a data field as coded."""
    if coding == "int":
        return _signed(data)
    if coding == "real":
        return _real(data)
    if coding == "bcd":
        return _bcd(data)
    if coding == "-bcd":
        number = _bcd(data)
        return None if number is None else -number
    if coding == "binary":
        return int.from_bytes(data, "little")
    if coding == "text":
        return data[::-1].decode("latin-1")
    return None


def _value(
    meaning: _Meaning, coding: str, data: bytes, raw: Decimal | int | str | None
) -> MBusValue:
    """Return the record's value in its unit, or None when the data can't carry it."""
    _, _, exponent, kind = meaning
    if kind == _RAW or raw is None:
        return None
    if kind == _DATE:
        return _date_g(data[0], data[1]) if coding == "int" and len(data) == 2 else None
    if kind == _DATE_TIME:
        return _date_time_f(data) if coding == "int" and len(data) == 4 else None
    if kind == _UNSIGNED:
        if coding == "int":
            return int.from_bytes(data, "little")
        return raw if isinstance(raw, int) else None
    if isinstance(raw, str):
        return None
    return Decimal(raw).scaleb(exponent)


def _record(cursor: _Cursor, dif: int) -> MBusRecord:
    """Read one record after its DIF."""
    dib = _extensions(cursor, dif, "dif")
    storage, tariff, subunit = (dif >> 6) & 0x01, 0, 0
    for index, dife in enumerate(dib[1:]):
        storage |= (dife & 0x0F) << (1 + 4 * index)
        tariff |= ((dife >> 4) & 0x03) << (2 * index)
        subunit |= ((dife >> 6) & 0x01) << index
    vif = cursor.byte()
    unit_text = ""
    if vif & 0x7F == 0x7C:
        # Plain-text VIF: a length and the unit's characters, last character first;
        # the VIFEs of an FC VIF come after the text.
        unit_text = cursor.take(cursor.byte())[::-1].decode("latin-1")
        vib = bytes((vif,)) + (
            _extensions(cursor, cursor.byte(), "vif") if vif & 0x80 else b""
        )
    else:
        vib = _extensions(cursor, vif, "vif")
    field = dif & 0x0F
    if field == 0xD:
        length, coding = _lvar_length(cursor.byte())
    else:
        length, coding = _DATA_FIELD[field]
    data = cursor.take(length)
    meaning = _meaning(vib, unit_text)
    raw = _decode_raw(coding, data)
    return MBusRecord(
        dib=dib,
        vib=vib,
        data=data,
        function=_FUNCTIONS[(dif >> 4) & 0x03],
        storage=storage,
        tariff=tariff,
        subunit=subunit,
        quantity=meaning[0],
        unit=meaning[1],
        value=_value(meaning, coding, data, raw),
        raw=raw,
    )


@dataclass(frozen=True, slots=True)
class RecordBlock:
    """The records of one telegram, its manufacturer-specific tail, and whether more telegrams follow."""

    records: tuple[MBusRecord, ...]
    manufacturer_data: bytes
    more_follow: bool


def parse_records(data: bytes) -> RecordBlock:
    """Read the data records after the fixed header."""
    cursor = _Cursor(data)
    records: list[MBusRecord] = []
    while cursor.more():
        dif = cursor.byte()
        if dif == 0x2F:  # idle filler
            continue
        if dif in (0x0F, 0x1F):
            # Manufacturer-specific data to the end of the telegram; 1F adds that
            # the meter has more records in its next telegram.
            return RecordBlock(tuple(records), cursor.rest(), dif == 0x1F)
        if dif & 0x0F == 0x0F:
            raise MBusDataError(
                "reserved_dif", f"DIF {dif:02x} at byte {cursor.pos - 1}"
            )
        records.append(_record(cursor, dif))
    return RecordBlock(tuple(records), b"", False)


# --- RSP_UD ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Telegram:
    """One RSP_UD frame: who sent it, its fixed header and its records."""

    control: int
    address: int
    header: FixedHeader
    records: tuple[MBusRecord, ...]
    manufacturer_data: bytes
    more_follow: bool


def parse_rsp_ud(frame: bytes | Frame) -> Telegram:
    """Read an RSP_UD with a variable data structure (CI 72) from bytes or a parsed frame."""
    parsed = parse_frame(frame) if isinstance(frame, bytes) else frame
    if not isinstance(parsed, LongFrame) or parsed.control & 0xCF != 0x08:
        raise MBusDataError("not_rsp_ud", f"got {parsed}")
    if parsed.ci != CI_RSP_VARIABLE:
        raise MBusDataError("unsupported_ci", f"CI {parsed.ci:02x}")
    header = FixedHeader.parse(parsed.data)
    block = parse_records(parsed.data[HEADER_LENGTH:])
    return Telegram(
        parsed.control,
        parsed.address,
        header,
        block.records,
        block.manufacturer_data,
        block.more_follow,
    )


@dataclass(frozen=True, slots=True)
class MBusReading:
    """A meter's full answer (one or more telegrams) and the values the integration uses.

    ``volume_m3`` is the instantaneous volume of storage 0, tariff 0,
    subunit 0; ``credit`` / ``debit`` (local currency units) and
    ``error_flags`` (VIFE FD17, unsigned) only where the meter reports them.
    """

    address: int
    header: FixedHeader
    volume_m3: Decimal | None
    credit: Decimal | None
    debit: Decimal | None
    error_flags: int | None
    records: tuple[MBusRecord, ...]
    manufacturer_data: bytes
    frames: int

    @property
    def status(self) -> MeterStatus:
        """Return the status byte of the last telegram."""
        return self.header.status


def _current(records: Sequence[MBusRecord], quantity: Quantity) -> MBusRecord | None:
    """Return the first current (instantaneous, storage 0, tariff 0, subunit 0) record of a quantity."""
    return next((r for r in records if r.quantity is quantity and r.is_current), None)


def _number(record: MBusRecord | None) -> Decimal | None:
    """Return a record's value if it is a number."""
    return (
        record.value
        if record is not None and isinstance(record.value, Decimal)
        else None
    )


def reading_from(telegrams: Sequence[Telegram]) -> MBusReading:
    """Join the telegrams of one answer; they must all come from the same meter."""
    if not telegrams:
        raise MBusDataError("no_telegram")
    first = telegrams[0]
    for telegram in telegrams[1:]:
        if telegram.header.secondary != first.header.secondary:
            raise MBusDataError(
                "frame_mismatch",
                f"{telegram.header.secondary} answered after {first.header.secondary}",
            )
    records = tuple(r for t in telegrams for r in t.records)
    volume = _current(records, Quantity.VOLUME)
    flags = next(
        (r for r in records if r.quantity is Quantity.ERROR_FLAGS and r.storage == 0),
        None,
    )
    return MBusReading(
        address=first.address,
        header=telegrams[-1].header,
        volume_m3=_number(volume)
        if volume is not None and volume.unit == "m³"
        else None,
        credit=_number(_current(records, Quantity.CREDIT)),
        debit=_number(_current(records, Quantity.DEBIT)),
        error_flags=flags.value
        if flags is not None and isinstance(flags.value, int)
        else None,
        records=records,
        manufacturer_data=b"".join(t.manufacturer_data for t in telegrams),
        frames=len(telegrams),
    )

"""The M-Bus codec on its own: frames, records, and documented telegrams, checked against pyMeterBus."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
import logging
import struct
import sys

import pytest

from custom_components.smartcity_ddc.meters.engine.mbus import (
    ACK,
    CI_RSP_VARIABLE,
    Ack,
    ApplicationStatus,
    Function,
    LongFrame,
    MBusDataError,
    MBusFrameError,
    MBusRecord,
    MeterStatus,
    Quantity,
    SecondaryAddress,
    ShortFrame,
    build_application_reset,
    build_deselect,
    build_long,
    build_req_ud2,
    build_select,
    build_short,
    build_snd_nke,
    decode_manufacturer,
    encode_manufacturer,
    frame_length,
    medium_name,
    parse_frame,
    parse_records,
    parse_rsp_ud,
    reading_from,
)
from custom_components.smartcity_ddc.meters.engine.mbus_bus import find_frame
from custom_components.smartcity_ddc.meters.engine.protocol import MeterProtocolError

from .mbus_reference import agree, pymeterbus

#: m-bus.com, application layer, example of an RSP_UD with a variable data structure.
DOC_EXAMPLE = bytes.fromhex(
    "68 1F 1F 68 08 02 72 78 56 34 12 24 40 01 07 55 00 00 00"
    " 03 13 15 31 00 DA 02 3B 13 01 8B 60 04 37 18 02 18 16"
)
#: An Actaris gas meter read by a hobbyist's master (published with its decode):
#: plain-text VIFs, a manufacturer-specific VIFE and manufacturer data.
GAS_EXAMPLE = bytes.fromhex(
    "68 56 56 68 08 40 72 43 60 52 00 77 04 14 03 CA 10 00 00 0C 78 76 03 01 10"
    " 0D 7C 08 44 49 20 2E 74 73 75 63 0A 30 30 30 30 30 30 30 30 30 30"
    " 04 6D 38 15 AA 19 02 7C 09 65 6D 69 74 20 2E 74 61 62 22 0C"
    " 04 13 C1 0E 00 00 04 93 7F 4E 01 00 00 44 13 5D 08 00 00 0F 01 00 1F DE 16"
)
HEADER = bytes.fromhex("78 56 34 12 24 40 01 07 55 00 00 00")


def naive(*parts: int) -> datetime:
    """Return a date and time without zone: the meter's own local time."""
    return datetime(*parts)  # noqa: DTZ001


def rsp(records: bytes, *, status: int = 0, address: int = 1) -> bytes:
    """Return an RSP_UD (CI 72) from meter 12345678 PAD v1 water with these records."""
    header = HEADER[:9] + bytes((status,)) + HEADER[10:]
    return build_long(0x08, address, 0x72, header + records)


def one(records: bytes) -> MBusRecord:
    """Return the single record of a record block."""
    (record,) = parse_records(records).records
    return record


class FakeSerial:
    """Collects what pyMeterBus writes to its serial port."""

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytearray) -> None:
        self.written += bytes(data)


# --- link layer -----------------------------------------------------------------------


def test_short_frames_worked_by_hand() -> None:
    assert build_snd_nke(5) == bytes.fromhex("10 40 05 45 16")
    assert build_req_ud2(5, fcb=True) == bytes.fromhex("10 7B 05 80 16")
    assert build_req_ud2(5, fcb=False) == bytes.fromhex("10 5B 05 60 16")
    assert build_deselect() == bytes.fromhex("10 40 FD 3D 16")
    assert parse_frame(bytes.fromhex("10 7B 05 80 16")) == ShortFrame(0x7B, 5)
    assert parse_frame(b"\xe5") == Ack()


def test_long_frames_worked_by_hand() -> None:
    # m-bus.com Fig. 29: selection of 12345678 / PAD / version 1 / water.
    select = build_select(SecondaryAddress("12345678", "PAD", 1, 7))
    assert select == bytes.fromhex("68 0B 0B 68 53 FD 52 78 56 34 12 24 40 01 07 22 16")
    wildcard = build_select(SecondaryAddress("12FFFFFF"))
    assert wildcard == bytes.fromhex(
        "68 0B 0B 68 53 FD 52 FF FF FF 12 FF FF FF FF AD 16"
    )
    assert build_application_reset(5) == bytes.fromhex("68 03 03 68 53 05 50 A8 16")
    assert build_application_reset(5, 0x10) == bytes.fromhex(
        "68 04 04 68 53 05 50 10 B8 16"
    )
    assert parse_frame(select) == LongFrame(
        0x53, 0xFD, 0x52, bytes.fromhex("78 56 34 12 24 40 01 07")
    )


def test_pymeterbus_import_leaves_the_root_logger_alone() -> None:
    root = logging.getLogger()
    saved = {
        name: module
        for name, module in sys.modules.items()
        if name.startswith("meterbus")
    }
    handlers, level = root.handlers[:], root.level
    try:
        for name in saved:
            del sys.modules[name]
        pymeterbus.cache_clear()
        root.handlers[:] = []  # with no handler, basicConfig would install one
        root.setLevel(logging.WARNING)
        assert pymeterbus().__version__ == "0.8.5"
        assert root.handlers == []
        assert root.level == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        sys.modules.update(saved)
        pymeterbus.cache_clear()


def test_requests_as_pymeterbus_builds_them() -> None:
    meterbus = pymeterbus()
    port = FakeSerial()
    meterbus.send_ping_frame(port, 7)
    assert port.written == build_snd_nke(7)
    port = FakeSerial()
    meterbus.send_request_frame(port, 7)
    assert port.written == build_req_ud2(7, fcb=False)
    port = FakeSerial()
    meterbus.send_select_frame(port, "12FFFF562440FF07")
    theirs = parse_frame(port.written)
    ours = parse_frame(build_select(SecondaryAddress("12FFFF56", "PAD", None, 7)))
    assert isinstance(theirs, LongFrame)
    # pyMeterBus sends its selection with the FCB set (73), we without (53).
    assert ours == LongFrame(0x53, theirs.address, theirs.ci, theirs.data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x00", "bad_start"),
        (bytes.fromhex("68 1F"), "truncated"),
        (bytes.fromhex("10 40 05"), "truncated"),
        (bytes.fromhex("68 05 06 68 08 01 72 00 00 7B 16"), "bad_length"),
        (bytes.fromhex("68 02 02 68 08 01 09 16"), "bad_length"),
        (bytes.fromhex("10 40 05 46 16"), "bad_checksum"),
        (DOC_EXAMPLE[:-2] + b"\x19\x16", "bad_checksum"),
        (DOC_EXAMPLE[:-1] + b"\x17", "bad_stop"),
        (bytes.fromhex("10 40 05 45 17"), "bad_stop"),
        (b"\xe5\xe5", "trailing_bytes"),
        (DOC_EXAMPLE + DOC_EXAMPLE, "trailing_bytes"),
    ],
)
def test_malformed_frames_are_typed_errors(data: bytes, reason: str) -> None:
    with pytest.raises(MBusFrameError) as caught:
        parse_frame(data)
    assert caught.value.reason == reason
    assert isinstance(caught.value, MeterProtocolError)


def test_frame_length_tells_a_stream_where_the_reply_ends() -> None:
    lengths = [frame_length(DOC_EXAMPLE[:n]) for n in range(len(DOC_EXAMPLE) + 1)]
    assert lengths[:37] == [None] * 37
    assert lengths[37] == 37
    assert frame_length(b"\xe5\x68") == 1
    assert frame_length(bytes.fromhex("10 40 05 45")) is None
    assert frame_length(bytes.fromhex("10 40 05 45 16 E5")) == 5
    with pytest.raises(MBusFrameError, match="bad_start"):
        frame_length(b"\x16")


def test_builders_refuse_what_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="not 0-255"):
        build_short(0x40, 256)
    with pytest.raises(ValueError, match="do not fit"):
        build_long(0x53, 1, 0x51, bytes(253))
    assert len(build_long(0x53, 1, 0x51, bytes(252))) == 261


# --- identification -------------------------------------------------------------------


def test_manufacturer_letters() -> None:
    assert encode_manufacturer("PAD") == 0x4024
    assert encode_manufacturer("KAM") == 0x2C2D  # Kamstrup sends 2D 2C
    assert decode_manufacturer(0x0477) == "ACW"
    assert decode_manufacturer(0x8000 | 0x4024) == "PAD"  # bit 15 is not a letter
    for bad in ("PA", "pad", "P4D"):
        with pytest.raises(ValueError, match="three letters"):
            encode_manufacturer(bad)


def test_secondary_addresses_and_masks() -> None:
    meter = SecondaryAddress("12345678", "PAD", 1, 7)
    assert str(meter) == "1234567824400107"
    assert SecondaryAddress.parse("1234567824400107") == meter
    assert SecondaryAddress.parse(" 12345678 ") == SecondaryAddress("12345678")
    assert SecondaryAddress.parse("12FFFFFFFFFFFFFF") == SecondaryAddress("12FFFFFF")
    assert not meter.is_mask
    assert SecondaryAddress("1234567F", "PAD", 1, 7).is_mask
    assert SecondaryAddress("12345678", None, 1, 7).is_mask
    assert SecondaryAddress("1FFFFFFF").matches(meter)
    assert SecondaryAddress("FFFFFF78", "PAD", None, 7).matches(meter)
    assert not SecondaryAddress("2FFFFFFF").matches(meter)
    assert not SecondaryAddress("FFFFFFFF", "ABC").matches(meter)
    assert not SecondaryAddress("FFFFFFFF", medium=2).matches(meter)
    for bad in ("1234567", "1234567A", "12345678244001", "12345678XX400107"):
        with pytest.raises(ValueError, match="not"):
            SecondaryAddress.parse(bad)
    with pytest.raises(ValueError, match="medium 255"):
        SecondaryAddress("12345678", medium=255)


@pytest.mark.parametrize(
    ("raw", "application", "power_low", "permanent", "temporary", "error"),
    [
        (0x00, ApplicationStatus.OK, False, False, False, False),
        (0x01, ApplicationStatus.BUSY, False, False, False, False),
        (0x02, ApplicationStatus.ERROR, False, False, False, True),
        (0x03, ApplicationStatus.ALARM, False, False, False, True),
        (0x04, ApplicationStatus.OK, True, False, False, False),
        (0x08, ApplicationStatus.OK, False, True, False, True),
        (0x10, ApplicationStatus.OK, False, False, True, True),
        (0x14, ApplicationStatus.OK, True, False, True, True),
    ],
)
def test_status_byte_bits(
    raw: int,
    application: ApplicationStatus,
    power_low: bool,
    permanent: bool,
    temporary: bool,
    error: bool,
) -> None:
    status = MeterStatus(raw | 0xA0)
    assert status.application is application
    assert status.power_low is power_low
    assert status.permanent_error is permanent
    assert status.temporary_error is temporary
    assert status.has_error is error
    assert status.manufacturer_bits == 0b101


def test_medium_names() -> None:
    assert medium_name(0x07) == "water"
    assert medium_name(0x02) == "electricity"
    assert medium_name(0x1A) == "reserved_0x1a"


# --- documented telegrams -------------------------------------------------------------


def test_documented_example_decodes_as_documented() -> None:
    telegram = agree(DOC_EXAMPLE)
    assert telegram.address == 2
    header = telegram.header
    assert (header.ident, header.manufacturer, header.version, header.medium) == (
        "12345678",
        "PAD",
        1,
        7,
    )
    assert (header.access_number, header.status.raw, header.signature) == (0x55, 0, 0)
    volume, flow, energy = telegram.records
    # 03 13: 24-bit integer, litres: 0x003115 = 12565 l.
    assert (volume.quantity, volume.unit, volume.value) == (
        Quantity.VOLUME,
        "m³",
        Decimal("12.565"),
    )
    assert volume.is_current
    # DA 02 3B: maximum, storage 1 + 2·2 = 5, 4-digit BCD, l/h: 0113.
    assert (flow.function, flow.storage, flow.quantity, flow.value) == (
        Function.MAXIMUM,
        5,
        Quantity.VOLUME_FLOW,
        Decimal("0.113"),
    )
    # 8B 60 04: 6-digit BCD, tariff 2, subunit 1, 10 Wh: 021837 · 10 Wh.
    assert (energy.tariff, energy.subunit, energy.storage) == (2, 1, 0)
    assert (energy.quantity, energy.unit, energy.value) == (
        Quantity.ENERGY,
        "Wh",
        218370,
    )
    reading = reading_from([telegram])
    assert reading.volume_m3 == Decimal("12.565")
    assert (reading.credit, reading.debit, reading.error_flags) == (None, None, None)


def test_gas_meter_example_keeps_what_it_does_not_know_raw() -> None:
    telegram = agree(GAS_EXAMPLE)
    header = telegram.header
    assert (header.ident, header.manufacturer, header.version) == (
        "00526043",
        "ACW",
        0x14,
    )
    assert medium_name(header.medium) == "gas"
    assert header.status.temporary_error
    fabrication, customer, clock, battery, volume, secret, monthly = telegram.records
    assert (fabrication.quantity, fabrication.value) == (
        Quantity.FABRICATION_NUMBER,
        10010376,
    )
    assert (customer.quantity, customer.unit, customer.raw) == (
        Quantity.PLAIN_TEXT,
        "cust. ID",
        "0000000000",
    )
    assert customer.value is None
    assert clock.value == naive(2013, 9, 10, 21, 56)  # 38 15 AA 19, type F
    assert (battery.unit, battery.raw, battery.value) == ("bat. time", 0x0C22, None)
    assert volume.value == Decimal("3.777")
    # 93 7F: volume with a manufacturer-specific VIFE is not a volume we can trust.
    assert (secret.quantity, secret.raw, secret.value) == (
        Quantity.MANUFACTURER_SPECIFIC,
        0x014E,
        None,
    )
    assert (monthly.storage, monthly.value) == (1, Decimal("2.141"))
    assert telegram.manufacturer_data == bytes.fromhex("01 00 1F")
    assert not telegram.more_follow
    assert reading_from([telegram]).volume_m3 == Decimal("3.777")


def test_water_meter_manual_example() -> None:
    # A module manual's RSP_UD: 0C 13 73 42 50 28 "= 28504,273 m³",
    # 04 6D 32 37 1F 15 "= 31.05.2008 23:50".
    frame = rsp(bytes.fromhex("0C 13 73 42 50 28 04 6D 32 37 1F 15 42 6C 1F 15"))
    telegram = agree(frame)
    volume, clock, due_day = telegram.records
    assert volume.value == Decimal("28504.273")
    assert clock.value == naive(2008, 5, 31, 23, 50)
    assert (due_day.storage, due_day.value) == (1, date(2008, 5, 31))


# --- records --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "value"),
    [
        ("01 13 FF", Decimal("-0.001")),
        ("02 13 39 30", Decimal("12.345")),
        ("03 13 15 31 00", Decimal("12.565")),
        ("04 13 D2 02 96 49", Decimal("1234567.890")),
        ("06 13 01 00 00 00 00 01", Decimal("1099511627.777")),
        ("07 13 FF FF FF FF FF FF FF FF", Decimal("-0.001")),
        ("09 13 12", Decimal("0.012")),
        ("0A 13 34 12", Decimal("1.234")),
        ("0B 13 56 34 12", Decimal("123.456")),
        ("0C 13 78 56 34 12", Decimal("12345.678")),
        ("0C 13 12 00 00 F0", Decimal("-0.012")),
        ("0E 13 12 90 78 56 34 12", Decimal("123456789.012")),
        ("0A 13 1A 00", None),
        ("00 13", None),
    ],
)
def test_data_field_types(record: str, value: Decimal | None) -> None:
    decoded = one(bytes.fromhex(record))
    assert decoded.value == value
    if value is not None:
        agree(rsp(bytes.fromhex(record)))


def test_real_values_are_the_shortest_decimal_of_the_float32() -> None:
    record = bytes.fromhex("05 13") + struct.pack("<f", 1.1)
    assert one(record).raw == Decimal("1.1")
    assert one(record).value == Decimal("0.0011")
    assert one(bytes.fromhex("05 5A") + struct.pack("<f", -12.25)).value == Decimal(
        "-1.225"
    )
    # Eight digits where seven would name another float32.
    assert one(bytes.fromhex("05 13") + struct.pack("<f", 1.2345678)).raw == Decimal(
        "1.2345678"
    )
    agree(rsp(record))


@pytest.mark.parametrize(
    ("dib", "function", "storage", "tariff", "subunit"),
    [
        ("04", Function.INSTANTANEOUS, 0, 0, 0),
        ("14", Function.MAXIMUM, 0, 0, 0),
        ("24", Function.MINIMUM, 0, 0, 0),
        ("34", Function.ERROR_STATE, 0, 0, 0),
        ("44", Function.INSTANTANEOUS, 1, 0, 0),
        ("C4 01", Function.INSTANTANEOUS, 3, 0, 0),
        ("84 10", Function.INSTANTANEOUS, 0, 1, 0),
        ("84 40", Function.INSTANTANEOUS, 0, 0, 1),
        ("84 80 10", Function.INSTANTANEOUS, 0, 4, 0),
        ("C4 8F 4F", Function.INSTANTANEOUS, 1 + 30 + 480, 0, 2),
    ],
)
def test_dif_and_dife(
    dib: str, function: Function, storage: int, tariff: int, subunit: int
) -> None:
    record = bytes.fromhex(f"{dib} 13 01 00 00 00")
    decoded = one(record)
    assert (decoded.function, decoded.storage, decoded.tariff, decoded.subunit) == (
        function,
        storage,
        tariff,
        subunit,
    )
    assert decoded.is_current is (dib == "04")
    agree(rsp(record))


@pytest.mark.parametrize(
    ("vif", "quantity", "unit", "value"),
    [
        ("03", Quantity.ENERGY, "Wh", Decimal(1234)),
        ("06", Quantity.ENERGY, "Wh", Decimal(1234000)),
        ("0E", Quantity.ENERGY, "J", Decimal(1234000000)),
        ("10", Quantity.VOLUME, "m³", Decimal("0.001234")),
        ("14", Quantity.VOLUME, "m³", Decimal("12.34")),
        ("17", Quantity.VOLUME, "m³", Decimal(12340)),
        ("1B", Quantity.MASS, "kg", Decimal(1234)),
        ("22", Quantity.ON_TIME, "h", Decimal(1234)),
        ("27", Quantity.OPERATING_TIME, "d", Decimal(1234)),
        ("2B", Quantity.POWER, "W", Decimal(1234)),
        ("33", Quantity.POWER, "J/h", Decimal(1234000)),
        ("3B", Quantity.VOLUME_FLOW, "m³/h", Decimal("1.234")),
        ("43", Quantity.VOLUME_FLOW, "m³/min", Decimal("0.1234")),
        ("4B", Quantity.VOLUME_FLOW, "m³/s", Decimal("0.001234")),
        ("53", Quantity.MASS_FLOW, "kg/h", Decimal(1234)),
        ("59", Quantity.FLOW_TEMPERATURE, "°C", Decimal("12.34")),
        ("5E", Quantity.RETURN_TEMPERATURE, "°C", Decimal("123.4")),
        ("61", Quantity.TEMPERATURE_DIFFERENCE, "K", Decimal("12.34")),
        ("65", Quantity.EXTERNAL_TEMPERATURE, "°C", Decimal("12.34")),
        ("69", Quantity.PRESSURE, "bar", Decimal("12.34")),
        ("6E", Quantity.HCA_UNITS, "", Decimal(1234)),
        ("72", Quantity.AVERAGING_DURATION, "h", Decimal(1234)),
        ("74", Quantity.ACTUALITY_DURATION, "s", Decimal(1234)),
        ("78", Quantity.FABRICATION_NUMBER, "", 1234),
        ("79", Quantity.ENHANCED_IDENTIFICATION, "", 1234),
        ("FD 01", Quantity.CREDIT, "currency", Decimal("12.34")),
        ("FD 03", Quantity.CREDIT, "currency", Decimal(1234)),
        ("FD 04", Quantity.DEBIT, "currency", Decimal("1.234")),
        ("FD 17", Quantity.ERROR_FLAGS, "", 1234),
        ("FD 1A", Quantity.DIGITAL_OUTPUT, "", 1234),
        ("FD 0E", Quantity.FIRMWARE_VERSION, "", 1234),
        ("FD 1C", Quantity.BAUD_RATE, "Bd", 1234),
        ("FD 1D", Quantity.RESPONSE_DELAY, "bit times", 1234),
        ("FD 48", Quantity.VOLTAGE, "V", Decimal("123.4")),
        ("FD 59", Quantity.CURRENT, "A", Decimal("1.234")),
        ("FB 00", Quantity.ENERGY, "Wh", Decimal(123400000)),
        ("FB 09", Quantity.ENERGY, "J", Decimal(1234000000000)),
        ("FB 11", Quantity.VOLUME, "m³", Decimal(1234000)),
        ("FB 19", Quantity.MASS, "kg", Decimal(1234000000)),
        ("FB 28", Quantity.POWER, "W", Decimal(123400000)),
    ],
)
def test_vif_tables(
    vif: str, quantity: Quantity, unit: str, value: Decimal | int
) -> None:
    # 04: a 32-bit integer; 0x04D2 = 1234.
    decoded = one(bytes.fromhex(f"04 {vif} D2 04 00 00"))
    assert (decoded.quantity, decoded.unit, decoded.value, decoded.raw) == (
        quantity,
        unit,
        value,
        1234,
    )


def test_vif_tables_agree_with_pymeterbus() -> None:
    records = "".join(
        f"04 {vif} D2 04 00 00 "
        for vif in (
            "03",
            "0E",
            "10",
            "14",
            "1B",
            "22",
            "2B",
            "3B",
            "43",
            "59",
            "5E",
            "69",
        )
    )
    records += "04 FD 01 D2 04 00 00 04 FD 05 D2 04 00 00 02 FD 17 04 80 01 7A 05 0C 78 78 56 34 12"
    agree(rsp(bytes.fromhex(records)))


def test_flags_and_addresses_are_unsigned() -> None:
    assert one(bytes.fromhex("02 FD 17 04 80")).value == 0x8004
    assert one(bytes.fromhex("01 7A FA")).value == 250
    assert one(bytes.fromhex("0C FD 17 01 00 00 00")).value == 1  # BCD-coded flags
    assert (
        one(bytes.fromhex("05 FD 17 00 00 80 3F")).value is None
    )  # flags as a real: nonsense


@pytest.mark.parametrize(
    ("record", "quantity"),
    [
        ("04 6F D2 04 00 00", Quantity.UNKNOWN),  # reserved VIF
        ("04 93 3B D2 04 00 00", Quantity.UNKNOWN),  # volume with a combinable VIFE
        ("04 FD 3A D2 04 00 00", Quantity.UNKNOWN),  # FD table code we don't use
        ("04 FB 7E D2 04 00 00", Quantity.UNKNOWN),  # FB table code we don't use
        ("04 FD 97 3B D2 04 00 00", Quantity.UNKNOWN),  # error flags "per hour"
        ("04 7E D2 04 00 00", Quantity.UNKNOWN),  # "any VIF"
        ("04 FF 01 D2 04 00 00", Quantity.MANUFACTURER_SPECIFIC),
        ("04 7F D2 04 00 00", Quantity.MANUFACTURER_SPECIFIC),
        ("04 93 FF 01 D2 04 00 00", Quantity.MANUFACTURER_SPECIFIC),
    ],
)
def test_unknown_records_are_kept_raw_never_scaled(
    record: str, quantity: Quantity
) -> None:
    decoded = one(bytes.fromhex(record))
    assert (decoded.quantity, decoded.value, decoded.raw, decoded.unit) == (
        quantity,
        None,
        1234,
        "",
    )
    assert decoded.data == bytes.fromhex("D2 04 00 00")


def test_plain_text_vif() -> None:
    # 7C: length 3, "l/h" sent last character first; then the data.
    text = one(bytes.fromhex("02 7C 03 68 2F 6C 0A 00"))
    assert (text.quantity, text.unit, text.raw, text.value) == (
        Quantity.PLAIN_TEXT,
        "l/h",
        10,
        None,
    )
    # FC: the VIFEs come after the text; unknown ones make the record unknown.
    extended = one(bytes.fromhex("02 FC 03 68 2F 6C 3B 0A 00"))
    assert (extended.quantity, extended.vib, extended.raw) == (
        Quantity.UNKNOWN,
        b"\xfc\x3b",
        10,
    )


@pytest.mark.parametrize(
    ("record", "value"),
    [
        ("02 6C 1F 15", date(2008, 5, 31)),
        ("02 6C 45 31", date(2026, 1, 5)),
        ("02 6C 45 F1", None),  # year 122: not a two-digit year
        ("02 6C 5F 3F", None),  # month 15
        ("02 6C 21 C3", date(1997, 3, 1)),  # year 97: the last century
        ("04 6D 32 37 1F 15", naive(2008, 5, 31, 23, 50)),
        ("04 6D B2 37 1F 15", None),  # IV: the meter's clock is invalid
        ("04 6D 3C 37 1F 15", None),  # minute 60
        ("04 6D 32 37 00 15", None),  # day 0
        ("06 6D 00 32 37 1F 15 00", None),  # 6-byte date-time: kept raw
        ("03 6C 1F 15 00", None),  # a date needs 2 bytes
    ],
)
def test_dates(record: str, value: date | None) -> None:
    assert one(bytes.fromhex(record)).value == value


@pytest.mark.parametrize(
    ("record", "raw"),
    [
        ("0D 13 03 63 62 61", "abc"),
        ("0D 13 C2 34 12", 1234),
        ("0D 13 D1 12", -12),
        ("0D 13 E2 34 12", 0x1234),
        ("0D 13 F0" + " 00" * 16, 0),
        ("0D 13 F5" + " 00" * 47 + " 01", 1 << 376),
        ("0D 13 F6" + " 00" * 64, 0),
        ("0D 13 00", ""),
    ],
)
def test_variable_length_data(record: str, raw: int | str) -> None:
    decoded = one(bytes.fromhex(record))
    assert decoded.raw == raw
    if isinstance(raw, int):
        assert decoded.value == Decimal(raw).scaleb(-3)


def test_special_functions() -> None:
    block = parse_records(bytes.fromhex("2F 2F 04 13 01 00 00 00 2F 0F AA BB 1F"))
    assert len(block.records) == 1
    assert (block.manufacturer_data, block.more_follow) == (
        bytes.fromhex("AA BB 1F"),
        False,
    )
    block = parse_records(bytes.fromhex("04 13 01 00 00 00 1F"))
    assert (block.manufacturer_data, block.more_follow) == (b"", True)
    assert parse_records(bytes.fromhex("08 13")).records[0].data == b""


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ("3F 13 00", "reserved_dif"),
        ("04 13 01 00", "truncated_record"),
        ("84", "truncated_record"),
        ("04", "truncated_record"),
        ("0D 13 F8 00", "reserved_lvar"),
        ("0D 7C 05 41", "truncated_record"),
        ("84" + " 80" * 10 + " 00 13 00 00 00 00", "too_many_dife"),
        ("04 93" + " BB" * 10 + " 3B 00 00 00 00", "too_many_vife"),
    ],
)
def test_malformed_records_are_typed_errors(records: str, reason: str) -> None:
    with pytest.raises(MBusDataError) as caught:
        parse_records(bytes.fromhex(records))
    assert caught.value.reason == reason


# --- RSP_UD and readings --------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\xe5", "not_rsp_ud"),
        (build_req_ud2(1, fcb=True), "not_rsp_ud"),
        (build_long(0x53, 1, 0x72, HEADER), "not_rsp_ud"),
        (build_long(0x08, 1, 0x76, HEADER), "unsupported_ci"),
        (build_long(0x08, 1, 0x72, HEADER[:11]), "truncated_header"),
    ],
)
def test_replies_that_are_not_a_variable_rsp_ud(frame: bytes, reason: str) -> None:
    with pytest.raises(MBusDataError) as caught:
        parse_rsp_ud(frame)
    assert caught.value.reason == reason


def test_rsp_ud_control_fields_with_dfc_and_acd() -> None:
    for control in (0x08, 0x18, 0x28, 0x38):
        assert parse_rsp_ud(build_long(control, 1, 0x72, HEADER)).control == control


def test_a_reading_from_two_telegrams() -> None:
    first = agree(
        rsp(bytes.fromhex("44 13 10 27 00 00 84 10 13 20 4E 00 00 1F"), address=3),
    )
    second = agree(
        rsp(
            bytes.fromhex(
                "04 13 40 9C 00 00 04 FD 01 E8 03 00 00 02 FD 17 03 00 0F 01 02"
            ),
            status=0x04,
            address=3,
        ),
    )
    assert first.more_follow
    reading = reading_from([first, second])
    assert reading.frames == 2
    assert reading.address == 3
    assert len(reading.records) == 5
    assert reading.volume_m3 == Decimal(
        "40.000"
    )  # 0x9C40 litres; not storage 1, not tariff 1
    assert reading.credit == Decimal("10.00")
    assert reading.error_flags == 3
    assert reading.status.power_low
    assert reading.manufacturer_data == bytes.fromhex("01 02")


def test_reading_values_only_from_current_records() -> None:
    history_only = parse_rsp_ud(
        rsp(bytes.fromhex("44 13 10 27 00 00 14 FD 01 01 00 00 00"))
    )
    reading = reading_from([history_only])
    assert (reading.volume_m3, reading.credit) == (None, None)
    bad_bcd = parse_rsp_ud(rsp(bytes.fromhex("0C 13 12 00 A0 00")))
    assert reading_from([bad_bcd]).volume_m3 is None
    debit = parse_rsp_ud(rsp(bytes.fromhex("02 FD 06 34 12")))
    assert reading_from([debit]).debit == Decimal("466.0")


def test_a_reading_refuses_telegrams_of_two_meters() -> None:
    mine = parse_rsp_ud(rsp(b""))
    other = parse_rsp_ud(build_long(0x08, 1, 0x72, bytes.fromhex("79") + HEADER[1:]))
    with pytest.raises(MBusDataError, match="frame_mismatch"):
        reading_from([mine, other])
    with pytest.raises(MBusDataError, match="no_telegram"):
        reading_from([])


# --- finding the meter's frame in what the bus delivered ---------------------------------


def test_find_frame_skips_noise_echo_and_broken_frames() -> None:
    request = build_req_ud2(5, fcb=True)
    reply = build_long(0x08, 5, CI_RSP_VARIABLE, bytes(12))
    corrupted = bytearray(reply)
    corrupted[-2] ^= 0xFF  # wrong checksum: a frame in shape, not sound
    # The meter's reply alone.
    assert find_frame(reply, request) == reply
    # Line noise (including start characters that begin nothing) before it.
    assert find_frame(b"\x00\xff\x10\x68\x01" + reply, request) == reply
    # The adapter's echo of our own request is a sound frame, but ours.
    assert find_frame(request + reply, request) == reply
    assert find_frame(request, request) is None
    # A broken frame before a sound one: the sound one is the answer.
    assert find_frame(bytes(corrupted) + reply, request) == reply
    assert find_frame(bytes(corrupted), request) is None
    # The single-character acknowledgement is a frame too.
    assert find_frame(request + bytes([ACK]), request) == bytes([ACK])


def test_find_frame_waits_for_the_rest_of_a_frame() -> None:
    request = build_req_ud2(5, fcb=False)
    reply = build_long(0x08, 5, CI_RSP_VARIABLE, bytes(30))
    for cut in range(1, len(reply)):
        # Part of a frame: not an answer yet, whatever came before it.
        assert find_frame(request + reply[:cut], request) is None, cut
    assert find_frame(request + reply, request) == reply
    # What follows a whole frame (the next meter's bytes) is not part of it.
    assert find_frame(reply + b"\x68\x03", request) == reply

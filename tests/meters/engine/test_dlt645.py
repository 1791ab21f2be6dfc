"""The DL/T645 codec on its own: frames worked out by hand, and checked with the dlt645 package."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dlt645.common.transform import bcd_to_float
from dlt645.protocol.protocol import DLT645Protocol
import pytest

from custom_components.smartcity_ddc.line import LineTimeoutError
from custom_components.smartcity_ddc.meters.engine import dlt645
from custom_components.smartcity_ddc.meters.engine.bus import BusMeter
from custom_components.smartcity_ddc.meters.engine.dlt645 import (
    BROADCAST,
    AddressError,
    BadDataError,
    ChecksumError,
    DataItem,
    Dlt645Meter,
    Frame,
    MeterRefusalError,
    PrepaidKind,
    Quantity,
    Reason,
    Refusal,
    RelayCommand,
    ReplyMatcher,
    RunStatus3,
    SecretError,
    UnsupportedError,
    Version,
    WrongAddressError,
    address_from_wire,
    address_to_wire,
    control_request,
    decode_bcd,
    decode_frame,
    decode_read_reply,
    encode_bcd,
    encode_frame,
    item,
    read_address_request,
    read_follow_up_request,
    read_request,
    refusals,
    value_bytes,
)

SEOUL = ZoneInfo("Asia/Seoul")
METER = "000012345678"
WIRE = bytes.fromhex("785634120000")
ENERGY_07 = item(Version.V2007, Quantity.ENERGY)

# Read total active energy of meter 000012345678 (2007). CS by hand:
# 68+78+56+34+12+00+00+68+11+04+4*33 = 709 = 0x2C5 -> C5.
READ_ENERGY = bytes.fromhex("FEFEFEFE 68 785634120000 68 11 04 33333333 C5 16")

# A DL/T645-1997 exchange printed in a vendor's data-collector manual: read
# B611 (phase-A voltage) of meter 000000000003; the meter answers 100 V.
READ_B611_1997 = bytes.fromhex("68 030000000000 68 01 02 44E9 03 16")
REPLY_B611_1997 = bytes.fromhex("68 030000000000 68 81 04 44E9 3334 EC 16")


def reply(control: int, data: bytes, address: bytes = WIRE, wakeup: int = 0) -> bytes:
    """A meter's frame, built by hand (independent of encode_frame)."""
    body = bytes((0x68, *address, 0x68, control, len(data))) + bytes(
        (b + 0x33) & 0xFF for b in data
    )
    return b"\xfe" * wakeup + body + bytes((sum(body) & 0xFF, 0x16))


# Addresses.


def test_nameplate_goes_on_the_wire_reversed() -> None:
    assert address_to_wire("000012345678") == bytes.fromhex("785634120000")
    assert address_to_wire("12345678") == bytes.fromhex("785634120000")
    assert address_to_wire("210987654321") == bytes.fromhex("214365870921")
    assert address_from_wire(bytes.fromhex("214365870921")) == "210987654321"
    assert address_to_wire("aaaaaaaaaaaa") == BROADCAST
    assert address_from_wire(BROADCAST) == "AAAAAAAAAAAA"


@pytest.mark.parametrize(
    "bad", ["", "1234567890123", "12345a", "\uff11\uff12\uff13", " - "]
)
def test_bad_nameplate_is_refused(bad: str) -> None:
    with pytest.raises(AddressError) as err:
        address_to_wire(bad)
    assert err.value.reason == Reason.BAD_ADDRESS


def test_non_bcd_wire_address_is_an_error() -> None:
    with pytest.raises(AddressError) as err:
        address_from_wire(bytes.fromhex("7856341200A0"))
    assert err.value.reason == Reason.NOT_BCD
    with pytest.raises(AddressError):
        address_from_wire(b"\x00" * 5)


# Requests.


def test_read_request_worked_out_by_hand() -> None:
    assert read_request(WIRE, ENERGY_07) == READ_ENERGY
    assert read_request(WIRE, ENERGY_07, wakeup=0) == READ_ENERGY[4:]


def test_read_request_1997_matches_a_printed_exchange() -> None:
    voltage = item(Version.V1997, Quantity.VOLTAGE)
    address = address_to_wire("3")
    assert read_request(address, voltage, wakeup=0) == READ_B611_1997
    frame = decode_frame(REPLY_B611_1997)
    assert frame.control == 0x81
    assert frame.nameplate == "000000000003"
    assert decode_read_reply(frame, voltage) == 100.0


def test_every_2007_read_request_is_what_the_dlt645_package_reads() -> None:
    for data_item in dlt645.ITEMS[Version.V2007].values():
        theirs = DLT645Protocol.deserialize(read_request(WIRE, data_item))
        assert bytes(theirs.addr) == WIRE
        assert theirs.ctrl_code == 0x11
        assert int.from_bytes(theirs.data, "little") == data_item.identifier


def test_read_address_and_follow_up_requests() -> None:
    # 2*68 + 6*AA + 13 = 208 + 1020 + 19 = 1247 = 0x4DF -> DF (the well-known frame)
    assert read_address_request(wakeup=0) == bytes.fromhex(
        "68 AAAAAAAAAAAA 68 13 00 DF 16"
    )
    request = read_follow_up_request(WIRE, ENERGY_07, 2, wakeup=0)
    frame = decode_frame(request)
    assert (frame.control, frame.data) == (0x12, bytes.fromhex("0000000002"))
    energy_97 = item(Version.V1997, Quantity.ENERGY)
    frame = decode_frame(read_follow_up_request(WIRE, energy_97, 1))
    assert (frame.control, frame.data) == (0x02, bytes.fromhex("1090"))


def test_control_request_layout() -> None:
    request = control_request(
        WIRE,
        RelayCommand.TRIP,
        password="02123456",
        operator="00000001",
        valid_until=datetime(2026, 1, 5, 13, 45, 30, tzinfo=SEOUL),
    )
    frame = decode_frame(request)
    assert frame.control == 0x1C
    assert frame.data == bytes.fromhex(
        "02 563412"  # level 02, password 123456 low byte first
        "01000000"  # operator code 00000001 low byte first
        "1A 00"  # trip, reserved
        "30 45 13 05 01 26"  # ss mm hh DD MM YY
    )
    theirs = DLT645Protocol.deserialize(request)
    assert theirs.ctrl_code == 0x1C
    assert bytes(theirs.data) == frame.data


@pytest.mark.parametrize(
    ("password", "operator"), [("0212345", "00000000"), ("02000000", "abcdefgh")]
)
def test_control_secrets_must_be_8_digits(password: str, operator: str) -> None:
    with pytest.raises(SecretError) as err:
        control_request(
            WIRE,
            RelayCommand.CLOSE,
            password=password,
            operator=operator,
            valid_until=datetime(2026, 1, 5, tzinfo=SEOUL),
        )
    assert err.value.reason == Reason.BAD_SECRET
    # The secret itself never appears in the message.
    assert operator not in str(err.value)


def test_encode_frame_limits() -> None:
    with pytest.raises(AddressError):
        encode_frame(b"\x00", 0x11)
    with pytest.raises(ValueError, match="255"):
        encode_frame(WIRE, 0x11, bytes(256))


# Values.


@pytest.mark.parametrize(
    ("data", "decimals", "signed", "expected"),
    [
        (bytes.fromhex("78563412"), 2, False, 123456.78),
        (bytes.fromhex("78563412"), 2, True, 123456.78),
        (bytes.fromhex("785692"), 3, True, -125.678),  # sign in the top bit
        (bytes.fromhex("785612"), 3, True, 125.678),
        (bytes.fromhex("5002"), 1, False, 25.0),
        (bytes.fromhex("000080"), 4, True, 0.0),  # minus zero is zero
    ],
)
def test_bcd_values_worked_out_by_hand(
    data: bytes, decimals: int, signed: bool, expected: float
) -> None:
    assert decode_bcd(data, decimals=decimals, signed=signed) == expected
    endian_format = "X" * (2 * len(data) - decimals) + "." + "X" * decimals
    assert bcd_to_float(data, endian_format, "little") == expected


@pytest.mark.parametrize("data", ["7A563412", "785634F2", "FFFFFFFF", ""])
def test_non_bcd_is_an_error_never_a_number(data: str) -> None:
    with pytest.raises(BadDataError):
        decode_bcd(bytes.fromhex(data), decimals=2)


def test_non_bcd_reason() -> None:
    with pytest.raises(BadDataError) as err:
        decode_bcd(b"\x0a")
    assert err.value.reason == Reason.NOT_BCD


def test_encode_bcd_is_the_inverse() -> None:
    assert encode_bcd(-125.678, 3, decimals=3, signed=True) == bytes.fromhex("785692")
    assert encode_bcd(123456.78, 4, decimals=2) == bytes.fromhex("78563412")
    with pytest.raises(ValueError, match="does not fit"):
        encode_bcd(80, 3, decimals=4, signed=True)


@pytest.mark.parametrize(
    ("quantity", "value_hex", "expected"),
    [
        (Quantity.ENERGY, "45230100", 123.45),
        (Quantity.VOLTAGE, "0522", 220.5),
        (Quantity.CURRENT, "345280", -5.234),  # 80 52 34: sign bit, 005.234
        (Quantity.POWER, "501201", 1.125),
        (Quantity.REMAINING_ENERGY, "00500000", 50.0),
        (Quantity.REMAINING_MONEY, "99990000", 99.99),
    ],
)
def test_2007_replies_decode_as_the_dlt645_package_decodes_them(
    quantity: Quantity, value_hex: str, expected: float
) -> None:
    data_item = item(Version.V2007, quantity)
    wire = reply(0x91, data_item.wire_identifier + bytes.fromhex(value_hex))
    ours = decode_read_reply(decode_frame(wire), data_item)
    assert ours == expected
    theirs = DLT645Protocol.deserialize(wire)
    value_format = (
        "X" * (2 * data_item.size - data_item.decimals) + "." + "X" * data_item.decimals
    )
    assert bcd_to_float(bytes(theirs.data[4:]), value_format, "little") == ours, (
        quantity
    )


def test_run_status_word_3() -> None:
    data_item = item(Version.V2007, Quantity.STATUS_WORD_3)
    wire = reply(0x91, data_item.wire_identifier + bytes.fromhex("5002"))
    word = decode_read_reply(decode_frame(wire), data_item)
    assert word == 0x0250
    status = RunStatus3(int(word))
    assert status.relay_open  # D4
    assert status.relay_commanded_open  # D6
    assert not status.pre_trip_alarm
    assert status.prepaid is PrepaidKind.MONEY  # D9..D8 = 10
    assert not RunStatus3(0).relay_open
    assert RunStatus3(0x0300).prepaid is None
    assert RunStatus3(0x0180).pre_trip_alarm


def test_wrong_identifier_or_length_is_bad_data() -> None:
    voltage = item(Version.V2007, Quantity.VOLTAGE)
    wrong_id = decode_frame(reply(0x91, bytes.fromhex("00010201") + b"\x05\x22"))
    with pytest.raises(BadDataError) as err:
        decode_read_reply(wrong_id, voltage)
    assert err.value.reason == Reason.WRONG_IDENTIFIER
    short = decode_frame(reply(0x91, voltage.wire_identifier + b"\x05"))
    with pytest.raises(BadDataError) as err:
        decode_read_reply(short, voltage)
    assert err.value.reason == Reason.BAD_LENGTH


def test_1997_has_no_prepaid_identifiers() -> None:
    with pytest.raises(UnsupportedError):
        item(Version.V1997, Quantity.REMAINING_MONEY)
    meter = Dlt645Meter("3", Version.V1997)
    assert meter.quantities == (
        Quantity.ENERGY,
        Quantity.VOLTAGE,
        Quantity.CURRENT,
        Quantity.POWER,
    )


def test_item_str() -> None:
    assert str(ENERGY_07) == "00000000 (energy)"
    assert (
        str(DataItem(Quantity.ENERGY, Version.V1997, 0x9010, 4, 2)) == "9010 (energy)"
    )


# Error replies.


def test_error_byte_bits() -> None:
    assert refusals(0x02, Version.V2007) == (Refusal.NO_DATA,)
    assert refusals(0x05, Version.V2007) == (Refusal.OTHER, Refusal.PASSWORD)
    assert refusals(0x01, Version.V1997) == (Refusal.ILLEGAL_DATA,)
    assert refusals(0x70, Version.V1997) == (
        Refusal.YEAR_ZONES,
        Refusal.DAY_PERIODS,
        Refusal.TARIFFS,
    )
    assert refusals(0x88, Version.V2007) == (Refusal.BAUD_RATE, Refusal.RESERVED)
    assert refusals(0, Version.V2007) == ()


def test_error_reply_raises_with_reasons() -> None:
    frame = decode_frame(reply(0xD1, b"\x02"))
    assert frame.is_error
    assert frame.from_meter
    assert not frame.more_follows
    with pytest.raises(MeterRefusalError) as err:
        decode_read_reply(frame, ENERGY_07)
    assert err.value.no_such_data
    assert err.value.refusals == (Refusal.NO_DATA,)
    assert err.value.reason == Reason.METER_ERROR
    # 1997: C1 with "identifier wrong".
    frame = decode_frame(reply(0xC1, b"\x02"))
    with pytest.raises(MeterRefusalError) as err:
        decode_read_reply(frame, item(Version.V1997, Quantity.ENERGY))
    assert err.value.no_such_data
    # No error byte at all: still an error, with no reason.
    with pytest.raises(MeterRefusalError) as err:
        decode_read_reply(decode_frame(reply(0xD1, b"")), ENERGY_07)
    assert err.value.refusals == ()


def test_more_follows_reply_and_follow_up_value() -> None:
    frame = decode_frame(reply(0xB1, ENERGY_07.wire_identifier + b"\x45\x23"))
    assert frame.more_follows
    assert value_bytes(frame, ENERGY_07) == b"\x45\x23"
    follow = decode_frame(reply(0x92, ENERGY_07.wire_identifier + b"\x01\x00\x01"))
    assert value_bytes(follow, ENERGY_07, follow_up=True) == b"\x01\x00"


# Frames in a byte stream.


def test_decode_frame_refuses_what_is_not_one_frame() -> None:
    with pytest.raises(ChecksumError):
        decode_frame(READ_ENERGY[:-2] + b"\x00\x16")
    with pytest.raises(BadDataError):
        decode_frame(READ_ENERGY + b"\x00")
    with pytest.raises(BadDataError):
        decode_frame(b"\x00" + READ_ENERGY)
    assert Frame(WIRE, 0x11, b"\x00" * 4).encode(wakeup=4) == READ_ENERGY


def _feed(matcher: ReplyMatcher, *chunks: bytes) -> Frame | None:
    """Feed chunks one by one as a bus would; return the first match."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if (found := matcher(buffer)) is not None:
            return found
    return None


ANSWER = reply(0x91, ENERGY_07.wire_identifier + bytes.fromhex("45230100"), wakeup=4)


def test_matcher_skips_wakeup_echo_noise_and_waits_for_pieces() -> None:
    matcher = ReplyMatcher(WIRE, 0x11)
    noise = bytes.fromhex("00 68 13 FF 68 16")
    found = _feed(matcher, READ_ENERGY + noise + ANSWER[:7], ANSWER[7:15], ANSWER[15:])
    assert found is not None
    assert decode_read_reply(found, ENERGY_07) == 123.45
    assert matcher.echoes == 1
    assert not matcher.corrupt
    assert not matcher.others


def test_matcher_one_byte_at_a_time() -> None:
    matcher = ReplyMatcher(WIRE, 0x11)
    assert _feed(matcher, *(bytes((b,)) for b in READ_ENERGY + ANSWER)) is not None


def test_matcher_finds_a_frame_after_a_false_start() -> None:
    # A stray 68 68 pair with a huge length must not hide the real answer.
    stray = bytes.fromhex("68 000000000000 68 91 FF")
    assert _feed(ReplyMatcher(WIRE, 0x11), stray + ANSWER) is not None


def test_matcher_remembers_corruption_and_other_meters() -> None:
    matcher = ReplyMatcher(WIRE, 0x11)
    corrupt = bytearray(ANSWER)
    corrupt[-3] ^= 0x01
    other = reply(
        0x91, ENERGY_07.wire_identifier + b"\0\0\0\0", bytes.fromhex("010000000000")
    )
    unrelated = reply(0x93, WIRE, WIRE)
    assert _feed(matcher, bytes(corrupt), other, unrelated) is None
    assert matcher.corrupt
    assert matcher.others == [bytes.fromhex("010000000000")]
    timeout = LineTimeoutError("no answer")
    failure = matcher.failure(timeout)
    assert isinstance(failure, WrongAddressError)
    assert failure.answered == "000000000001"
    assert failure.reason == Reason.WRONG_ADDRESS


def test_matcher_failure_explains_a_timeout() -> None:
    timeout = LineTimeoutError("no answer")
    assert ReplyMatcher(WIRE, 0x11).failure(timeout) is timeout
    matcher = ReplyMatcher(WIRE, 0x11)
    corrupt = bytearray(ANSWER)
    corrupt[-2] ^= 0xFF
    assert _feed(matcher, bytes(corrupt)) is None
    assert isinstance(matcher.failure(timeout), ChecksumError)
    # A non-BCD address still gets named.
    matcher = ReplyMatcher(WIRE, 0x11)
    _feed(matcher, reply(0x91, b"", bytes.fromhex("0A0000000000")))
    assert isinstance(failure := matcher.failure(timeout), WrongAddressError)
    assert failure.answered == "00000000000a"


def test_broadcast_matcher_takes_any_address() -> None:
    answer = reply(0x93, WIRE)
    found = _feed(ReplyMatcher(BROADCAST, 0x13), read_address_request() + answer)
    assert found is not None
    assert dlt645.decode_address_reply(found) == METER
    with pytest.raises(BadDataError):
        dlt645.decode_address_reply(decode_frame(reply(0x93, b"\x01")))


def test_meter_reader_follows_the_bus_protocol() -> None:
    meter = Dlt645Meter(METER)
    assert isinstance(meter, BusMeter)
    assert meter.key == METER
    assert meter.address == WIRE
    with pytest.raises(AddressError):
        Dlt645Meter("AAAAAAAAAAAA")


def test_matcher_skips_a_late_answer_for_another_identifier() -> None:
    voltage = item(Version.V2007, Quantity.VOLTAGE)
    matcher = ReplyMatcher(WIRE, 0x11, voltage.wire_identifier)
    late_energy = reply(0x91, ENERGY_07.wire_identifier + bytes.fromhex("45230100"))
    assert _feed(matcher, late_energy) is None
    assert matcher.stale == 1
    failure = matcher.failure(LineTimeoutError("no answer"))
    assert isinstance(failure, BadDataError)
    assert failure.reason == Reason.WRONG_IDENTIFIER
    answer = reply(0x91, voltage.wire_identifier + bytes.fromhex("0522"))
    found = _feed(matcher, late_energy + answer)
    assert found is not None
    assert decode_read_reply(found, voltage) == 220.5
    # An error reply carries no identifier and is this request's answer.
    assert _feed(
        ReplyMatcher(WIRE, 0x11, voltage.wire_identifier), reply(0xD1, b"\x02")
    )


def test_a_frame_without_its_end_byte_is_not_a_frame() -> None:
    wrong_end = READ_ENERGY[:-1] + b"\x17"
    with pytest.raises(BadDataError):
        decode_frame(wrong_end)
    assert (
        _feed(ReplyMatcher(WIRE, 0x11), wrong_end.replace(b"\x11", b"\x91", 1)) is None
    )

"""Simulated M-Bus water meters: every telegram they send decoded alike by pyMeterBus and our codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from custom_components.smartcity_ddc.meters.engine.mbus import (
    LongFrame,
    MBusFrameError,
    Quantity,
    SecondaryAddress,
    build_application_reset,
    build_deselect,
    build_long,
    build_req_ud2,
    build_select,
    build_short,
    build_snd_nke,
    parse_frame,
    parse_rsp_ud,
)
from devtools.simulator.mbus_meter import InMemoryBus, MBusWaterMeter, WireModel
from tests.meters.engine.mbus_reference import agree, pymeterbus

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


class Clock:
    """A meter clock moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, ident: str = "12345678", **kwargs: object) -> MBusWaterMeter:
    """Return a water meter at primary address 5 on the given clock."""
    kwargs.setdefault("primary", 5)
    return MBusWaterMeter(ident, clock=clock, **kwargs)  # type: ignore[arg-type]


def first_answer(device: MBusWaterMeter) -> list[bytes]:
    """Reset the meter and collect every telegram of one full answer."""
    assert device.reply(build_snd_nke(device.primary)) == b"\xe5"
    frames, fcb = [], True
    while True:
        frame = device.reply(build_req_ud2(device.primary, fcb))
        assert frame is not None
        frames.append(frame)
        fcb = not fcb
        if not parse_rsp_ud(frame).more_follow:
            return frames


METERS = {
    "bcd": {"volume_m3": Decimal("12.345")},
    "int": {"volume_m3": Decimal("987.654"), "volume_coding": "int"},
    "credit": {
        "volume_m3": Decimal(3),
        "credit": Decimal("50.5"),
        "price_per_m3": Decimal(2),
    },
    "debt": {"volume_m3": Decimal(3), "credit": Decimal("-7.25")},
    "history": {"volume_m3": Decimal(100), "flow_m3_h": Decimal("0.02"), "history": 30},
    "small frames": {
        "history": 6,
        "frame_capacity": 40,
        "manufacturer_data": b"\x01\x02",
    },
    "flags": {
        "error_flags": 0x8421,
        "status": 0x1F,
        "manufacturer": "KAM",
        "version": 0x1B,
    },
}


@pytest.mark.parametrize("options", METERS.values(), ids=METERS.keys())
def test_every_telegram_decodes_alike_in_pymeterbus_and_ours(
    clock: Clock, options: dict[str, object]
) -> None:
    device = make(clock, **options)
    clock.now += timedelta(hours=7, minutes=13)
    frames = first_answer(device)
    telegrams = [agree(frame) for frame in frames]
    assert len(frames) == len(device.telegrams())
    assert all(len(frame) <= 261 for frame in frames)
    assert [t.more_follow for t in telegrams] == [True] * (len(frames) - 1) + [False]
    records = [r for t in telegrams for r in t.records]
    assert len(records) == len(device.records())


def test_values_worked_by_hand(clock: Clock) -> None:
    device = make(
        clock,
        volume_m3=Decimal("12.345"),
        flow_m3_h=Decimal("0.6"),
        credit=Decimal(50),
        price_per_m3=Decimal(2),
        history=2,
    )
    clock.now += timedelta(minutes=30)  # 0.3 m³ at 0.6 m³/h
    (frame,) = first_answer(device)
    telegram = agree(frame)
    header = telegram.header
    assert (header.ident, header.manufacturer, header.version, header.medium) == (
        "12345678",
        "SCW",
        1,
        7,
    )
    assert telegram.address == 5
    values = {(r.quantity, r.storage): r.value for r in telegram.records}
    assert values[Quantity.VOLUME, 0] == Decimal("12.645")
    assert values[Quantity.CREDIT, 0] == Decimal("49.40")  # 50 - 0.3 m³ x 2
    assert values[Quantity.DATE_TIME, 0] == datetime(2026, 1, 5, 10, 0)  # noqa: DTZ001
    assert values[Quantity.ERROR_FLAGS, 0] == 0
    assert values[Quantity.FABRICATION_NUMBER, 0] == 12345678
    # History: the register 30 and 60 days back (before the meter started: its start volume).
    assert values[Quantity.VOLUME, 1] == Decimal("12.345")
    assert values[Quantity.DATE, 1] == datetime(2025, 12, 6).date()  # noqa: DTZ001
    assert values[Quantity.DATE, 2] == datetime(2025, 11, 6).date()  # noqa: DTZ001
    # The raw record bytes: 0C 13 and 12645 litres as BCD.
    assert frame[19:25] == bytes.fromhex("0C 13 45 26 01 00")


def test_the_clock_advances_the_index_and_runs_credit_down(clock: Clock) -> None:
    device = make(
        clock, volume_m3=Decimal(1), flow_m3_h=Decimal("1.5"), credit=Decimal(10)
    )
    device.price_per_m3 = Decimal("2.5")
    assert device.litres() == 1000
    clock.now += timedelta(hours=2)
    assert device.litres() == 4000
    assert device.credit_now() == Decimal("2.5")
    clock.now += timedelta(hours=2)
    assert device.credit_now() == Decimal("-5")  # the meter lets it go negative
    clock.now = START - timedelta(hours=1)
    assert device.litres() == 1000


def test_frame_count_bit(clock: Clock) -> None:
    device = make(clock, history=6, frame_capacity=40)
    count = len(device.telegrams())
    assert count >= 3
    assert device.reply(build_snd_nke(5)) == b"\xe5"
    first = device.reply(build_req_ud2(5, fcb=True))
    assert (
        device.reply(build_req_ud2(5, fcb=True)) == first
    )  # same FCB: the same telegram
    second = device.reply(build_req_ud2(5, fcb=False))
    assert second != first
    assert (
        parse_rsp_ud(second).header.access_number
        == parse_rsp_ud(first).header.access_number + 1
    )
    fcb, last = True, second
    for _ in range(count - 2):
        last = device.reply(build_req_ud2(5, fcb))
        fcb = not fcb
    assert last is not None
    assert not parse_rsp_ud(last).more_follow
    assert parse_frame(last).control == 0x08  # type: ignore[union-attr]
    assert parse_frame(first).control == 0x18  # type: ignore[union-attr]
    # After the last telegram a toggled FCB starts a fresh answer.
    again = device.reply(build_req_ud2(5, fcb))
    assert again is not None
    assert parse_rsp_ud(again).records == parse_rsp_ud(first).records
    # SND_NKE clears the FCB: FCB 0 is then "the same", and there is nothing to repeat.
    assert device.reply(build_snd_nke(5)) == b"\xe5"
    restart = device.reply(build_req_ud2(5, fcb=False))
    assert restart is not None
    assert parse_rsp_ud(restart).records == parse_rsp_ud(first).records
    # Without FCV (C 4B / 6B) the meter starts from its first telegram.
    device.reply(build_req_ud2(5, fcb=True))
    no_fcv = device.reply(build_short(0x4B, 5))
    assert no_fcv is not None
    assert parse_rsp_ud(no_fcv).records == parse_rsp_ud(first).records


def test_a_repeated_telegram_carries_the_values_of_now(clock: Clock) -> None:
    device = make(clock, flow_m3_h=Decimal(1))
    device.reply(build_snd_nke(5))
    first = parse_rsp_ud(device.reply(build_req_ud2(5, fcb=True)) or b"")
    clock.now += timedelta(hours=1)
    repeat = parse_rsp_ud(device.reply(build_req_ud2(5, fcb=True)) or b"")
    assert repeat.header.access_number == first.header.access_number
    assert repeat.records[0].value == first.records[0].value + 1


def test_addressing(clock: Clock) -> None:
    device = make(clock)
    assert device.reply(build_req_ud2(6, fcb=True)) is None
    assert device.reply(build_req_ud2(254, fcb=True)) is not None  # everyone answers
    assert device.reply(build_req_ud2(255, fcb=True)) is None
    assert device.reply(build_snd_nke(255)) is None  # broadcast: reset, no answer
    assert device.reply(build_req_ud2(253, fcb=True)) is None  # not selected
    assert (
        device.reply(bytes.fromhex("10 40 05 46 16")) is None
    )  # bad checksum: ignored
    assert device.reply(bytes.fromhex("10 40 05")) is None
    assert (
        device.reply(build_long(0x53, 5, 0x51, b"\x00")) is None
    )  # data we don't take
    assert device.reply(build_application_reset(5)) == b"\xe5"


@pytest.mark.parametrize(
    ("mask", "selected"),
    [
        (SecondaryAddress("12345678", "SCW", 1, 7), True),
        (SecondaryAddress("1234567F"), True),
        (SecondaryAddress("FFFFFFFF", "SCW", None, 7), True),
        (SecondaryAddress("FFFFFFFF", None, 1, None), True),
        (SecondaryAddress("1234567F", medium=2), False),
        (SecondaryAddress("1234567F", "KAM"), False),
        (SecondaryAddress("FFFFFFFF", version=2), False),
        (SecondaryAddress("2FFFFFFF"), False),
        (SecondaryAddress("12345679"), False),
    ],
)
def test_selection(clock: Clock, mask: SecondaryAddress, selected: bool) -> None:
    device = make(clock)
    assert device.reply(build_select(mask)) == (b"\xe5" if selected else None)
    assert device.selected is selected
    answer = device.reply(build_req_ud2(253, fcb=True))
    assert (answer is not None) is selected


def test_deselection(clock: Clock) -> None:
    device = make(clock)
    device.reply(build_select(SecondaryAddress("1FFFFFFF")))
    assert device.selected
    device.reply(
        build_select(SecondaryAddress("2FFFFFFF"))
    )  # a selection it doesn't match
    assert not device.selected
    device.reply(build_select(SecondaryAddress("1FFFFFFF")))
    assert device.reply(build_deselect()) == b"\xe5"  # SND_NKE to 253
    assert not device.selected
    assert device.reply(build_deselect()) is None
    short_mask = build_long(0x53, 253, 0x52, bytes.fromhex("78 56 34 12"))
    assert device.reply(short_mask) is None


def test_faults(clock: Clock) -> None:
    device = make(clock, silent=True)
    assert device.reply(build_snd_nke(5)) is None
    device.silent, device.bad_checksum = False, True
    assert device.reply(build_snd_nke(5)) == b"\xe5"  # acks are single characters
    broken = device.reply(build_req_ud2(5, fcb=True))
    assert broken is not None
    with pytest.raises(MBusFrameError, match="bad_checksum"):
        parse_frame(broken)
    with pytest.raises(pymeterbus().exceptions.MBusFrameCRCError):
        pymeterbus().load(broken)
    device.bad_checksum, device.wrong_address = False, 9
    assert agree(device.reply(build_req_ud2(5, fcb=False)) or b"").address == 9


async def test_two_answering_meters_collide_on_the_bus(clock: Clock) -> None:
    bus = InMemoryBus([make(clock, "12345678"), make(clock, "12345679")])
    acks = await bus(build_select(SecondaryAddress("1234567F")), expect_reply=True)
    assert acks == b"\xe5\xe5"
    both = await bus(build_req_ud2(253, fcb=True), expect_reply=True)
    assert both is not None
    with pytest.raises(MBusFrameError, match="trailing_bytes"):
        parse_frame(both)
    with pytest.raises(pymeterbus().MBusFrameDecodeError):
        pymeterbus().load(both)
    single = await bus(build_select(SecondaryAddress("12345679")), expect_reply=True)
    assert single == b"\xe5"
    assert isinstance(
        parse_frame(await bus(build_req_ud2(253, True), True) or b""), LongFrame
    )


async def test_in_memory_bus_wire_time(clock: Clock) -> None:
    slow = make(clock, "00000001", primary=1, reply_delay=0.1)
    late = make(clock, "00000002", primary=2, reply_delay=0.6)
    bus = InMemoryBus([slow, late], WireModel(baud=2400, gap_bits=11, timeout=0.5))
    # SND_NKE: gap + 5 bytes, then gap + 0.1 s + 1 byte: (11 + 55 + 11 + 11) / 2400 + 0.1.
    assert await bus(build_snd_nke(1), expect_reply=True) == b"\xe5"
    assert bus.wire_time == pytest.approx(88 / 2400 + 0.1)
    # The late meter answers after the master stopped listening: the timeout, no reply.
    assert await bus(build_snd_nke(2), expect_reply=True) is None
    assert bus.wire_time == pytest.approx(88 / 2400 + 0.1 + 66 / 2400 + 0.5)
    # A broadcast expects nothing and costs only its own bytes.
    assert await bus(build_snd_nke(255), expect_reply=False) is None
    assert bus.wire_time == pytest.approx(154 / 2400 + 0.6 + 66 / 2400)
    assert (bus.requests, bus.frame_bytes) == (3, 16)


def test_meter_refuses_an_identification_that_is_not_bcd() -> None:
    with pytest.raises(ValueError, match="not 8 digits"):
        MBusWaterMeter("1234567A")
    device = MBusWaterMeter("00000001", volume_m3=Decimal("100000000"))
    with pytest.raises(ValueError, match="does not fit"):
        device.records()

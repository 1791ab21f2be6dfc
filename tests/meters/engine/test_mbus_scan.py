"""The M-Bus reader and the bus scans, against simulated meters on an in-memory bus."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
import random

import pytest

from custom_components.smartcity_ddc.meters.engine.mbus import (
    SecondaryAddress,
    build_long,
    parse_frame,
)
from custom_components.smartcity_ddc.meters.engine.mbus_scan import (
    MBusReader,
    MeterAddress,
    ReadStatus,
    scan_primary,
    scan_secondary,
)
from devtools.simulator.mbus_meter import InMemoryBus, MBusWaterMeter

HEADER = bytes.fromhex("78 56 34 12 24 40 01 07 00 00 00 00")


def meter(ident: str, primary: int = 0, **kwargs: object) -> MBusWaterMeter:
    """Return a water meter at 12.345 m³."""
    return MBusWaterMeter(ident, primary=primary, volume_m3=Decimal("12.345"), **kwargs)  # type: ignore[arg-type]


def secondary(device: MBusWaterMeter) -> SecondaryAddress:
    """Return the full secondary address of a simulated meter."""
    return SecondaryAddress(
        device.ident, device.manufacturer, device.version, device.medium
    )


def sent(bus: InMemoryBus) -> list[str]:
    """Return the requests the bus carried, as hex."""
    return [request.hex(" ") for request, _ in bus.log]


class Scripted:
    """A device that answers every request addressed to it with the next of a list of replies."""

    def __init__(self, address: int, replies: list[bytes]) -> None:
        self.address = address
        self.replies = replies
        self.count = 0

    def reply(self, request: bytes) -> bytes | None:
        frame = parse_frame(request)
        if getattr(frame, "address", None) != self.address:
            return None
        answer = self.replies[min(self.count, len(self.replies) - 1)]
        self.count += 1
        return answer


class NoisyOnce:
    """Wraps a bus: corrupts the first reply that is a long frame (a burst of noise on the line)."""

    def __init__(self, bus: InMemoryBus) -> None:
        self.bus = bus
        self.done = False

    async def __call__(self, request: bytes, expect_reply: bool) -> bytes | None:
        reply = await self.bus(request, expect_reply)
        if reply and len(reply) > 1 and not self.done:
            self.done = True
            return reply[:20] + bytes((reply[20] ^ 0x10,)) + reply[21:]
        return reply


class InPhaseBus(InMemoryBus):
    """A line where identical E5s sent at the same time look like one clean E5."""

    async def __call__(self, request: bytes, expect_reply: bool) -> bytes | None:
        reply = await super().__call__(request, expect_reply)
        if reply and set(reply) == {0xE5}:
            return b"\xe5"
        return reply


# --- addresses ----------------------------------------------------------------------


def test_meter_addresses() -> None:
    assert MeterAddress(primary=5).key == "p5"
    assert MeterAddress(secondary=SecondaryAddress("12345678", "PAD", 1, 7)).key == (
        "s1234567824400107"
    )
    with pytest.raises(ValueError, match="primary or a secondary"):
        MeterAddress()
    with pytest.raises(ValueError, match="0-250"):
        MeterAddress(primary=253)
    with pytest.raises(ValueError, match="wildcards"):
        MeterAddress(secondary=SecondaryAddress("1234567F", "PAD", 1, 7))


# --- the reader ----------------------------------------------------------------------


async def test_primary_read_resets_once_then_toggles_the_fcb() -> None:
    bus = InMemoryBus([meter("00000001", primary=5)])
    reader = MBusReader(bus)
    results = [await reader.read(MeterAddress(primary=5)) for _ in range(3)]
    assert [r.status for r in results] == [ReadStatus.OK] * 3
    assert [r.requests for r in results] == [2, 1, 1]
    assert sent(bus) == [
        "10 40 05 45 16",  # SND_NKE: the meter's FCB is unknown
        "10 7b 05 80 16",  # REQ_UD2, FCB 1
        "10 5b 05 60 16",  # FCB 0
        "10 7b 05 80 16",
    ]
    reading = results[0].reading
    assert reading is not None
    assert (reading.volume_m3, reading.header.ident, reading.address) == (
        Decimal("12.345"),
        "00000001",
        5,
    )


async def test_secondary_read_selects_reads_and_deselects() -> None:
    device = meter("12345678")
    bus = InMemoryBus([device, meter("12345679")])
    reader = MBusReader(bus)
    address = MeterAddress(secondary=secondary(device))
    first, second = await reader.read(address), await reader.read(address)
    assert (first.status, second.status) == (ReadStatus.OK, ReadStatus.OK)
    select = "68 0b 0b 68 53 fd 52 78 56 34 12 77 4c 01 07 81 16"
    assert sent(bus) == [
        select,
        "10 40 fd 3d 16",  # first contact: reset (which also deselects)
        select,
        "10 7b fd 78 16",
        "10 40 fd 3d 16",  # deselect, which clears the FCB again
        select,
        "10 7b fd 78 16",
        "10 40 fd 3d 16",
    ]
    assert (first.requests, second.requests) == (5, 3)
    assert not device.selected
    assert second.reading is not None
    assert second.reading.header.secondary == secondary(device)


async def test_multi_telegram_read_toggles_between_telegrams() -> None:
    device = meter("00000007", primary=7, history=24, credit=Decimal(30))
    bus = InMemoryBus([device])
    result = await MBusReader(bus).read(MeterAddress(primary=7))
    assert result.status is ReadStatus.OK
    reading = result.reading
    assert reading is not None
    frames = len(device.telegrams())
    assert frames >= 2
    assert reading.frames == frames
    assert len(reading.records) == 5 + 2 * 24
    assert (reading.volume_m3, reading.credit) == (Decimal("12.345"), Decimal("30.00"))
    # After the reset: FCB 1, 0, 1, … one REQ_UD2 per telegram.
    controls = [request[1] for request, _ in bus.log[1:]]
    assert controls == [0x5B if n % 2 else 0x7B for n in range(frames)]


async def test_a_broken_telegram_is_asked_again_with_the_same_fcb() -> None:
    device = meter("00000007", primary=7, history=24)
    bus = InMemoryBus([device])
    result = await MBusReader(NoisyOnce(bus)).read(MeterAddress(primary=7))
    assert result.status is ReadStatus.OK
    assert result.reading is not None
    # Had the FCB been toggled on the resend, the meter would have skipped its
    # first telegram and the current volume would be missing.
    assert result.reading.volume_m3 == Decimal("12.345")
    assert result.reading.frames == len(device.telegrams())
    assert [request[1] for request, _ in bus.log[1:4]] == [0x7B, 0x7B, 0x5B]


@pytest.mark.parametrize(
    ("fault", "status", "detail"),
    [
        ({"silent": True}, ReadStatus.NO_ANSWER, "no answer to reset"),
        ({"bad_checksum": True}, ReadStatus.BAD_FRAME, "bad_checksum"),
        ({"wrong_address": 6}, ReadStatus.WRONG_ADDRESS, "address 6 answered for 5"),
        ({"reply_delay": 0.6}, ReadStatus.NO_ANSWER, "no answer to reset"),
        ({"error_flags": 0x0010}, ReadStatus.METER_ERROR, "error flags 0x10"),
        ({"status": 0x01}, ReadStatus.BUSY, "application busy"),
        ({"status": 0x02}, ReadStatus.METER_ERROR, "status 02"),
        ({"status": 0x08}, ReadStatus.METER_ERROR, "status 08"),
        ({"status": 0x10}, ReadStatus.METER_ERROR, "status 10"),
    ],
)
async def test_faults_give_a_status_and_no_value(
    fault: dict[str, object], status: ReadStatus, detail: str
) -> None:
    device = meter("00000005", primary=5)
    for name, value in fault.items():
        setattr(device, name, value)
    result = await MBusReader(InMemoryBus([device])).read(MeterAddress(primary=5))
    assert result.status is status
    assert detail in result.detail
    assert result.reading is None
    if status in (ReadStatus.METER_ERROR, ReadStatus.BUSY):
        assert result.rejected is not None
        assert result.rejected.error_flags == device.error_flags
        assert result.rejected.status.raw == device.status


async def test_retries_and_recovery_after_a_failure() -> None:
    device = meter("00000005", primary=5)
    bus = InMemoryBus([device])
    reader = MBusReader(bus, retries=1)
    assert (await reader.read(MeterAddress(primary=5))).status is ReadStatus.OK
    device.bad_checksum = True
    failed = await reader.read(MeterAddress(primary=5))
    assert (failed.status, failed.requests) == (ReadStatus.BAD_FRAME, 2)
    device.bad_checksum = False
    recovered = await reader.read(MeterAddress(primary=5))
    assert recovered.status is ReadStatus.OK
    # After a failure the FCB is unknown: the reader resets the meter first.
    assert sent(bus)[-2:] == ["10 40 05 45 16", "10 7b 05 80 16"]


async def test_slow_but_in_time_and_power_low_still_read() -> None:
    device = meter("00000005", primary=5, reply_delay=0.2, status=0x04)
    result = await MBusReader(InMemoryBus([device])).read(MeterAddress(primary=5))
    assert result.status is ReadStatus.OK
    assert result.reading is not None
    assert result.reading.status.power_low


async def test_two_meters_on_one_primary_address_collide() -> None:
    bus = InMemoryBus([meter("00000001", primary=5), meter("00000002", primary=5)])
    result = await MBusReader(bus).read(MeterAddress(primary=5))
    assert (result.status, result.reading) == (ReadStatus.BAD_FRAME, None)
    assert "trailing_bytes" in result.detail


async def test_identity_is_checked_when_both_addresses_are_known() -> None:
    bus = InMemoryBus([meter("00000002", primary=5)])
    expected = SecondaryAddress("00000001", "SCW", 1, 7)
    result = await MBusReader(bus).read(MeterAddress(primary=5, secondary=expected))
    assert result.status is ReadStatus.WRONG_ADDRESS
    assert result.detail == "00000002774C0107 answered for 00000001774C0107"


async def test_a_failed_secondary_read_leaves_the_meter_deselected() -> None:
    device = meter("12345678", bad_checksum=True)
    bus = InMemoryBus([device])
    result = await MBusReader(bus, retries=1).read(
        MeterAddress(secondary=secondary(device))
    )
    assert (result.status, result.requests) == (ReadStatus.BAD_FRAME, 6)
    assert sent(bus)[-1] == "10 40 fd 3d 16"
    assert not device.selected


async def test_secondary_meter_missing_or_duplicated() -> None:
    missing = SecondaryAddress("99999999", "SCW", 1, 7)
    bus = InMemoryBus([meter("12345678")])
    result = await MBusReader(bus, retries=2).read(MeterAddress(secondary=missing))
    assert (result.status, result.requests, result.detail) == (
        ReadStatus.NO_ANSWER,
        3,
        "no answer to selection",
    )
    twins = InMemoryBus([meter("12345678"), meter("12345678")])
    result = await MBusReader(twins).read(
        MeterAddress(secondary=secondary(meter("12345678")))
    )
    assert result.status is ReadStatus.BAD_FRAME


async def test_replies_the_reader_cannot_use() -> None:
    mode2 = build_long(0x08, 9, 0x76, HEADER)
    bus = InMemoryBus([Scripted(9, [b"\xe5", mode2])])
    result = await MBusReader(bus).read(MeterAddress(primary=9))
    assert (result.status, result.requests) == (ReadStatus.UNSUPPORTED, 2)
    endless = build_long(0x08, 9, 0x72, HEADER + b"\x1f")
    bus = InMemoryBus([Scripted(9, [b"\xe5", endless])])
    result = await MBusReader(bus, max_frames=3).read(MeterAddress(primary=9))
    assert (result.status, result.detail) == (
        ReadStatus.UNSUPPORTED,
        "more than 3 telegrams",
    )
    broken = build_long(0x08, 9, 0x72, HEADER + b"\x04\x13\x01")
    result = await MBusReader(InMemoryBus([Scripted(9, [b"\xe5", broken])])).read(
        MeterAddress(primary=9)
    )
    assert (result.status, result.requests) == (ReadStatus.BAD_FRAME, 2)
    short = bytes.fromhex("10 08 09 11 16")
    result = await MBusReader(InMemoryBus([Scripted(9, [short])]), retries=0).read(
        MeterAddress(primary=9)
    )
    assert (result.status, result.detail) == (
        ReadStatus.BAD_FRAME,
        "reset: ShortFrame instead of E5",
    )


async def test_a_meter_silent_after_its_reset() -> None:
    bus = InMemoryBus([Scripted(9, [b"\xe5", b""])])
    result = await MBusReader(bus, retries=2).read(MeterAddress(primary=9))
    assert (result.status, result.detail, result.requests) == (
        ReadStatus.NO_ANSWER,
        "no answer to REQ_UD2",
        4,
    )


async def test_telegrams_of_two_meters_are_not_joined() -> None:
    other = bytes.fromhex("79") + HEADER[1:]
    replies = [
        b"\xe5",
        build_long(0x18, 9, 0x72, HEADER + b"\x1f"),
        build_long(0x08, 9, 0x72, other),
    ]
    result = await MBusReader(InMemoryBus([Scripted(9, replies)])).read(
        MeterAddress(primary=9)
    )
    assert result.status is ReadStatus.WRONG_ADDRESS
    assert "frame_mismatch" in result.detail


async def test_forget() -> None:
    bus = InMemoryBus([meter("00000005", primary=5), meter("00000006", primary=6)])
    reader = MBusReader(bus)
    for address in (5, 6):
        await reader.read(MeterAddress(primary=address))
    reader.forget(MeterAddress(primary=5))
    assert (await reader.read(MeterAddress(primary=5))).requests == 2
    assert (await reader.read(MeterAddress(primary=6))).requests == 1
    reader.forget()
    assert (await reader.read(MeterAddress(primary=6))).requests == 2


# --- secondary scan ------------------------------------------------------------------


def expected_requests(idents: Iterable[str]) -> int:
    """Count the requests of the wildcard search from the ids alone (an independent model).

    A mask costs one selection; one matching meter adds its REQ_UD2; several
    add the ten masks of the next digit. One deselection at the end.
    """
    pool = list(idents)

    def cost(prefix: str) -> int:
        matching = [i for i in pool if i.startswith(prefix)]
        if len(matching) <= 1:
            return 1 + len(matching)
        return 1 + sum(cost(prefix + digit) for digit in "0123456789")

    return cost("") + 1


def test_the_request_model_worked_by_hand() -> None:
    # Root collides (1); first digit: 0 nothing, 1 collides, 2 nothing, 3 one
    # meter, 4-9 nothing (1+1+1+2+6); under "1": 0 nothing, 1 and 2 one meter
    # each, 3-9 nothing (1+2+2+7); and the final deselection: 1+11+12+1 = 25.
    assert expected_requests(["11111111", "12222222", "30000000"]) == 25


async def test_scan_worked_by_hand() -> None:
    devices = [meter(i) for i in ("11111111", "12222222", "30000000")]
    bus = InMemoryBus(devices)
    result = await scan_secondary(bus)
    assert [m.ident for m in result.meters] == ["11111111", "12222222", "30000000"]
    assert result.requests == bus.requests == 25
    assert result.unresolved == ()
    assert not any(d.selected for d in devices)


def fifty_idents() -> list[str]:
    """Return 50 ids built to collide at every depth, plus random ones."""
    idents = [f"0000000{d}" for d in range(10)]  # share 7 digits: 8 levels of narrowing
    idents += [f"1234{d}678" for d in range(5)]  # collide down to the 5th digit
    idents += ["55555555", "55555556", "55555565", "55556555", "56555555"]  # staggered
    idents += ["99999999", "90000000", "09999999"]
    rng = random.Random(14)
    while len(idents) < 50:
        candidate = f"{rng.randrange(10**8):08d}"
        if candidate not in idents:
            idents.append(candidate)
    return idents


async def test_scan_finds_fifty_meters_and_counts_its_requests() -> None:
    idents = fifty_idents()
    devices = [
        meter(ident, manufacturer=("SCW", "KAM", "PAD")[n % 3], version=n % 4, medium=7)
        for n, ident in enumerate(idents)
    ]
    bus = InMemoryBus(devices)
    result = await scan_secondary(bus)
    assert {m.ident for m in result.meters} == set(idents)
    assert set(result.meters) == {secondary(d) for d in devices}
    assert result.requests == bus.requests == expected_requests(idents)
    # The ten 0000000x meters are told apart only at the eighth digit.
    selections = [r for r, _ in bus.log if r[0] == 0x68]
    idents_selected = {r[7:11][::-1].hex().upper() for r in selections}
    assert {
        "0000000F",
        "00000009",
        "1234FFFF",
        "12340FFF",
        "5555555F",
    } <= idents_selected
    assert result.unresolved == ()


async def test_scan_on_a_line_where_acks_overlap_cleanly() -> None:
    idents = fifty_idents()
    devices = [meter(ident) for ident in idents]
    bus = InPhaseBus(devices)
    result = await scan_secondary(bus)
    assert {m.ident for m in result.meters} == set(idents)
    # Every collision now costs a REQ_UD2 as well, whose replies do collide.
    assert result.requests > expected_requests(idents)


async def test_scan_with_a_mask_and_with_clashing_ids() -> None:
    devices = [
        meter("12345678"),
        meter("12345678", manufacturer="KAM"),
        meter("22345678"),
    ]
    bus = InMemoryBus(devices)
    result = await scan_secondary(bus, SecondaryAddress("1FFFFFFF"))
    assert result.meters == ()
    (unresolved,) = result.unresolved
    assert (unresolved.mask.ident, unresolved.reason) == ("12345678", "collision")
    only_kam = await scan_secondary(bus, SecondaryAddress("FFFFFFFF", "KAM"))
    assert [str(m) for m in only_kam.meters] == ["123456782D2C0107"]
    assert only_kam.requests == 3


async def test_scan_budget_and_meters_that_misbehave() -> None:
    bus = InMemoryBus([meter(f"0000000{d}") for d in range(10)])
    # Root and seven "0" levels collide (8), then two requests per meter found.
    result = await scan_secondary(bus, max_requests=20)
    assert [m.ident for m in result.meters] == [f"0000000{d}" for d in range(6)]
    assert {u.reason for u in result.unresolved} == {"request budget spent"}
    assert result.requests == 21
    # A meter that acknowledges its selection but then never answers.
    mute = meter("12345678")
    mute_bus = InMemoryBus([mute])
    original = mute.reply
    mute.reply = lambda request: original(request) if request[0] == 0x68 else None  # type: ignore[method-assign]
    result = await scan_secondary(mute_bus, SecondaryAddress("12345678"))
    assert [u.reason for u in result.unresolved] == ["no data after selection"]
    # A device that answers any selection with a telegram of a meter that doesn't match.
    liar = Scripted(253, [b"\xe5", build_long(0x08, 0, 0x72, HEADER)])
    result = await scan_secondary(InMemoryBus([liar]), SecondaryAddress("99999999"))
    assert result.unresolved[0].reason.endswith(
        "answered a selection it does not match"
    )
    unreadable = Scripted(253, [b"\xe5", build_long(0x08, 0, 0x76, HEADER)])
    result = await scan_secondary(
        InMemoryBus([unreadable]), SecondaryAddress("12345678")
    )
    assert result.unresolved[0].reason == "unreadable reply: unsupported_ci"


# --- primary scan ----------------------------------------------------------------------


async def test_primary_scan() -> None:
    devices = [
        meter("00000001", primary=1),
        meter("00000005", primary=5),
        meter("00000250", primary=250),
        meter("00000071", primary=7),
        meter("00000072", primary=7),
    ]
    unsupported = Scripted(9, [b"\xe5", build_long(0x08, 9, 0x76, HEADER)])
    mute = Scripted(11, [b"\xe5", b""])
    broken = Scripted(12, [b"\xe5", b"\x68\x03"])
    bus = InMemoryBus([*devices, unsupported, mute, broken])
    result = await scan_primary(bus)
    assert {a: m.ident for a, m in result.meters.items()} == {
        1: "00000001",
        5: "00000005",
        250: "00000250",
    }
    assert result.collisions == (7, 12)
    assert result.unreadable == (9, 11)
    # One SND_NKE per address, a REQ_UD2 where exactly one E5 came back.
    assert result.requests == bus.requests == 250 + 6

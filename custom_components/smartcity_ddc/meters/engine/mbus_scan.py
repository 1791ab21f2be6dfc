"""Talking to M-Bus meters on a bus: reading one meter, and finding the meters on a bus.

Written against an abstract ``Exchange`` (send one request, get back the raw
bytes the bus returned) so it runs on any transport: a serial port, an
RS-485/TCP gateway or the in-memory bus of the tests. What the meters do,
from EN 13757-2/-3 and the public M-Bus documentation:

* A meter acknowledges SND_NKE and a matching selection with ``E5`` and
  stays silent otherwise. Several meters answering at once collide: the
  master sees garbled bytes (or, for identical ``E5`` characters sent in
  step, possibly one clean ``E5`` — so a selection is confirmed with REQ_UD2,
  whose different replies can't overlap cleanly).
* The frame count bit: SND_NKE clears it in the meter. A REQ_UD2 whose FCB
  differs from the previous one (FCV set) asks for the next telegram of a
  multi-telegram answer, or a fresh answer after the last one; the same FCB
  again makes the meter repeat its last telegram. The master toggles the
  FCB after each good reply and resends with the same FCB after a missing
  or broken one.
* A selected meter stays selected until a selection it doesn't match, or a
  SND_NKE to address 253, which also clears its FCB.

The reader keeps each meter's FCB; a scan moves the FCBs of the meters it
identifies, so call ``MBusReader.forget()`` after scanning a bus a reader uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, Protocol

from .mbus import (
    ADDRESS_SELECTED,
    PRIMARY_ADDRESSES,
    Ack,
    ApplicationStatus,
    MBusDataError,
    MBusFrameError,
    MBusReading,
    SecondaryAddress,
    Telegram,
    build_deselect,
    build_req_ud2,
    build_select,
    build_snd_nke,
    parse_frame,
    parse_rsp_ud,
    reading_from,
)

#: A meter sends at most this many telegrams for one read (a guard against a
#: meter that always says "more records follow").
MAX_FRAMES: Final = 8
DIGITS: Final = "0123456789"


class Exchange(Protocol):
    """Sends one request on the bus; returns the raw bytes that came back, None for silence."""

    async def __call__(self, request: bytes, expect_reply: bool) -> bytes | None:
        """Send request; with expect_reply, wait for the reply (garbled bytes = a collision)."""


class ReadStatus(StrEnum):
    """The outcome of reading one meter."""

    OK = "ok"
    NO_ANSWER = "no_answer"
    #: Bad checksum, garbled or colliding replies, a malformed telegram.
    BAD_FRAME = "bad_frame"
    #: Another meter than the one asked for answered.
    WRONG_ADDRESS = "wrong_address"
    #: The meter flags an error (status byte or error flags): its values are not used.
    METER_ERROR = "meter_error"
    #: The meter says its application is busy: try again later.
    BUSY = "busy"
    #: A valid frame the codec can't read (fixed data structure, MSB-first mode, …).
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class MeterAddress:
    """Where a meter is: a primary address, a secondary address, or both (primary, identity checked)."""

    primary: int | None = None
    secondary: SecondaryAddress | None = None

    def __post_init__(self) -> None:
        """Refuse an address that can't name one meter."""
        if self.primary is None and self.secondary is None:
            raise ValueError("a meter needs a primary or a secondary address")
        if self.primary is not None and not 0 <= self.primary <= 250:
            raise ValueError(f"primary address {self.primary} is not 0-250")
        if self.secondary is not None and self.secondary.is_mask:
            raise ValueError(f"secondary address {self.secondary} has wildcards")

    @property
    def key(self) -> str:
        """Return a stable key for per-meter state."""
        return f"p{self.primary}" if self.primary is not None else f"s{self.secondary}"


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A meter's reading, or why there is none.

    ``reading`` is set only when ``status`` is OK. ``rejected`` holds a
    decoded answer that was refused (meter error, busy, another meter) for
    diagnostics: its values must not be used.
    """

    status: ReadStatus
    reading: MBusReading | None = None
    rejected: MBusReading | None = None
    detail: str = ""
    requests: int = 0


class _ReadFailedError(Exception):
    """A step of a read failed; carries the status to report."""

    def __init__(self, status: ReadStatus, detail: str) -> None:
        """Keep the status and a detail for the result."""
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class _Session:
    """Counts the requests of one read or scan."""

    exchange: Exchange
    requests: int = 0

    async def send(self, request: bytes) -> bytes | None:
        """Send a request that expects a reply."""
        self.requests += 1
        return await self.exchange(request, True)


class MBusReader:
    """Reads meters on one bus, one at a time, keeping each meter's frame count bit."""

    def __init__(
        self, exchange: Exchange, *, retries: int = 2, max_frames: int = MAX_FRAMES
    ) -> None:
        """Use exchange for every request; resend a request up to retries times."""
        self._exchange = exchange
        self._retries = retries
        self._max_frames = max_frames
        #: The FCB of each meter's next REQ_UD2; absent = unknown, reset first.
        self._fcb: dict[str, bool] = {}

    def forget(self, meter: MeterAddress | None = None) -> None:
        """Forget one meter's FCB (or every meter's): the next read starts with a reset."""
        if meter is None:
            self._fcb.clear()
        else:
            self._fcb.pop(meter.key, None)

    async def read(self, meter: MeterAddress) -> ReadResult:
        """Read a meter: select it if needed, fetch every telegram, deselect; never a wrong value."""
        session = _Session(self._exchange)
        try:
            telegrams = await self._read(session, meter)
        except _ReadFailedError as failed:
            self._fcb.pop(meter.key, None)
            return ReadResult(
                failed.status, detail=failed.detail, requests=session.requests
            )
        try:
            reading = reading_from(telegrams)
        except MBusDataError as err:
            self._fcb.pop(meter.key, None)
            return ReadResult(
                ReadStatus.WRONG_ADDRESS, detail=str(err), requests=session.requests
            )
        return self._judge(reading, session.requests)

    @staticmethod
    def _judge(reading: MBusReading, requests: int) -> ReadResult:
        """Accept a reading, or refuse it when the meter itself flags a problem."""
        status = reading.status
        if status.application is ApplicationStatus.BUSY:
            return ReadResult(
                ReadStatus.BUSY,
                rejected=reading,
                detail="application busy",
                requests=requests,
            )
        if status.has_error or reading.error_flags:
            detail = (
                f"status {status.raw:02x}, error flags {reading.error_flags or 0:#x}"
            )
            return ReadResult(
                ReadStatus.METER_ERROR,
                rejected=reading,
                detail=detail,
                requests=requests,
            )
        return ReadResult(ReadStatus.OK, reading=reading, requests=requests)

    async def _read(self, session: _Session, meter: MeterAddress) -> list[Telegram]:
        """Run the whole conversation with one meter; raise _ReadFailedError on the first step that fails."""
        if meter.primary is not None:
            address = meter.primary
            if meter.key not in self._fcb:
                await self._acknowledged(session, build_snd_nke(address), "reset")
                self._fcb[meter.key] = True
            return await self._telegrams(session, meter, address)
        assert meter.secondary is not None
        select = build_select(meter.secondary)
        await self._acknowledged(session, select, "selection")
        if meter.key not in self._fcb:
            # SND_NKE to 253 clears the selected meter's FCB but also deselects it.
            await self._acknowledged(session, build_deselect(), "reset")
            await self._acknowledged(session, select, "selection")
            self._fcb[meter.key] = True
        try:
            telegrams = await self._telegrams(session, meter, ADDRESS_SELECTED)
        except _ReadFailedError:
            # Leave no meter selected behind a failed read (best effort, no retry).
            await session.send(build_deselect())
            raise
        # Deselecting also clears the FCB: the next read starts with FCB set.
        await self._acknowledged(session, build_deselect(), "deselection")
        self._fcb[meter.key] = True
        return telegrams

    async def _acknowledged(self, session: _Session, request: bytes, what: str) -> None:
        """Send a request the meter must acknowledge with E5; resend on silence or noise."""
        failure = _ReadFailedError(ReadStatus.NO_ANSWER, f"no answer to {what}")
        for _ in range(self._retries + 1):
            reply = await session.send(request)
            if reply is None:
                failure = _ReadFailedError(ReadStatus.NO_ANSWER, f"no answer to {what}")
                continue
            try:
                frame = parse_frame(reply)
            except MBusFrameError as err:
                failure = _ReadFailedError(
                    ReadStatus.BAD_FRAME, f"{what}: {err.reason}"
                )
                continue
            if isinstance(frame, Ack):
                return
            failure = _ReadFailedError(
                ReadStatus.BAD_FRAME, f"{what}: {type(frame).__name__} instead of E5"
            )
        raise failure

    async def _telegrams(
        self, session: _Session, meter: MeterAddress, address: int
    ) -> list[Telegram]:
        """Fetch telegrams with REQ_UD2 until the meter has no more, toggling the FCB after each."""
        telegrams: list[Telegram] = []
        while True:
            fcb = self._fcb[meter.key]
            telegram = await self._telegram(session, build_req_ud2(address, fcb))
            self._fcb[meter.key] = not fcb
            self._check_sender(meter, telegram)
            telegrams.append(telegram)
            if not telegram.more_follow:
                return telegrams
            if len(telegrams) >= self._max_frames:
                raise _ReadFailedError(
                    ReadStatus.UNSUPPORTED, f"more than {self._max_frames} telegrams"
                )

    async def _telegram(self, session: _Session, request: bytes) -> Telegram:
        """Send one REQ_UD2 and read its RSP_UD; resend (same FCB) on silence or a broken frame."""
        failure = _ReadFailedError(ReadStatus.NO_ANSWER, "no answer to REQ_UD2")
        for _ in range(self._retries + 1):
            reply = await session.send(request)
            if reply is None:
                failure = _ReadFailedError(ReadStatus.NO_ANSWER, "no answer to REQ_UD2")
                continue
            try:
                return parse_rsp_ud(reply)
            except MBusFrameError as err:
                failure = _ReadFailedError(ReadStatus.BAD_FRAME, err.reason)
            except MBusDataError as err:
                status = (
                    ReadStatus.UNSUPPORTED
                    if err.reason == "unsupported_ci"
                    else ReadStatus.BAD_FRAME
                )
                # A checksummed telegram we can't read won't read better when repeated.
                raise _ReadFailedError(status, str(err)) from err
        raise failure

    @staticmethod
    def _check_sender(meter: MeterAddress, telegram: Telegram) -> None:
        """Refuse a telegram from another meter than the one asked for."""
        if meter.primary is not None and telegram.address != meter.primary:
            raise _ReadFailedError(
                ReadStatus.WRONG_ADDRESS,
                f"address {telegram.address} answered for {meter.primary}",
            )
        if meter.secondary is not None and telegram.header.secondary != meter.secondary:
            raise _ReadFailedError(
                ReadStatus.WRONG_ADDRESS,
                f"{telegram.header.secondary} answered for {meter.secondary}",
            )


# --- scans ----------------------------------------------------------------------------


class _Probe(StrEnum):
    """What a selection with a mask found."""

    NOTHING = "nothing"
    SINGLE = "single"
    COLLISION = "collision"


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A mask behind which meters were heard but not identified, and why."""

    mask: SecondaryAddress
    reason: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The meters a secondary-address search found, and what it cost."""

    meters: tuple[SecondaryAddress, ...]
    requests: int
    unresolved: tuple[Unresolved, ...] = field(default=())


async def _probe(
    session: _Session, mask: SecondaryAddress
) -> tuple[_Probe, SecondaryAddress | None, str]:
    """Select with a mask; confirm a lone E5 with REQ_UD2 and read who answered."""
    reply = await session.send(build_select(mask))
    if reply is None:
        return _Probe.NOTHING, None, ""
    if reply != b"\xe5":
        return _Probe.COLLISION, None, "collision"
    reply = await session.send(build_req_ud2(ADDRESS_SELECTED, fcb=True))
    if reply is None:
        return _Probe.COLLISION, None, "no data after selection"
    try:
        telegram = parse_rsp_ud(reply)
    except MBusFrameError:
        return _Probe.COLLISION, None, "collision"
    except MBusDataError as err:
        return _Probe.COLLISION, None, f"unreadable reply: {err.reason}"
    found = telegram.header.secondary
    if not mask.matches(found):
        return _Probe.COLLISION, None, f"{found} answered a selection it does not match"
    return _Probe.SINGLE, found, ""


async def scan_secondary(
    exchange: Exchange,
    mask: SecondaryAddress | None = None,
    *,
    max_requests: int = 20_000,
) -> ScanResult:
    """Find every meter on the bus by secondary address (wildcard search).

    Select with the mask; where several meters answer, fix the next wildcard
    digit of the identification to 0-9 in turn and select again, deeper
    only where meters still collide. Ends with a SND_NKE to 253 so no meter
    stays selected.
    """
    session = _Session(exchange)
    found: dict[str, SecondaryAddress] = {}
    unresolved: list[Unresolved] = []
    pending = [mask or SecondaryAddress()]
    while pending:
        current = pending.pop()
        if session.requests >= max_requests:
            unresolved.append(Unresolved(current, "request budget spent"))
            continue
        outcome, meter, reason = await _probe(session, current)
        if outcome is _Probe.SINGLE and meter is not None:
            found[str(meter)] = meter
        elif outcome is _Probe.COLLISION:
            position = current.ident.find("F")
            if position < 0:
                unresolved.append(Unresolved(current, reason))
                continue
            # Pushed in reverse so the search runs 0 to 9, depth first.
            pending.extend(
                replace(
                    current,
                    ident=current.ident[:position]
                    + digit
                    + current.ident[position + 1 :],
                )
                for digit in reversed(DIGITS)
            )
    await session.send(build_deselect())
    return ScanResult(
        tuple(sorted(found.values(), key=str)), session.requests, tuple(unresolved)
    )


@dataclass(frozen=True, slots=True)
class PrimaryScanResult:
    """The meters found by polling primary addresses, and the addresses that misbehaved."""

    meters: dict[int, SecondaryAddress]
    requests: int
    #: Several meters answered (garbled): two meters share the address.
    collisions: tuple[int, ...] = ()
    #: A meter acknowledged but its data could not be read.
    unreadable: tuple[int, ...] = ()


async def scan_primary(
    exchange: Exchange, addresses: Iterable[int] = PRIMARY_ADDRESSES
) -> PrimaryScanResult:
    """Poll primary addresses with SND_NKE; identify each one that acknowledges with REQ_UD2."""
    session = _Session(exchange)
    meters: dict[int, SecondaryAddress] = {}
    collisions: list[int] = []
    unreadable: list[int] = []
    for address in addresses:
        reply = await session.send(build_snd_nke(address))
        if reply is None:
            continue
        if reply != b"\xe5":
            collisions.append(address)
            continue
        reply = await session.send(build_req_ud2(address, fcb=True))
        if reply is None:
            unreadable.append(address)
            continue
        try:
            telegram = parse_rsp_ud(reply)
        except MBusFrameError:
            collisions.append(address)
            continue
        except MBusDataError:
            unreadable.append(address)
            continue
        meters[address] = telegram.header.secondary
    return PrimaryScanResult(
        meters, session.requests, tuple(collisions), tuple(unreadable)
    )

"""M-Bus meters on the shared meter bus: the M-Bus reader and scans over a ``MeterBus``.

The M-Bus reader and scans (``mbus_scan``) talk through an ``Exchange``: a
request out, the raw bytes back (None for silence, garbled bytes when two
meters answered at once). :class:`BusExchange` is that exchange on a
``MeterBus``; :class:`MBusMeter` is an M-Bus meter the bus reader
(``bus.read_bus``) reads in turn with the DL/T645 meters, its values under
the same keys the integration uses for every bus meter.

Plain Python: nothing here imports Home Assistant (a test enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ...line import LineConnectionError, LineTimeoutError
from .bus import BusReadResult, MeterBus, ReadStatus
from .mbus import (
    ACK,
    START_LONG,
    START_SHORT,
    MBusFrameError,
    frame_length,
    parse_frame,
)
from .mbus_scan import MBusReader, MeterAddress, ReadStatus as MBusStatus

#: Seconds an M-Bus meter may take to answer: 330 bit times at 2400 baud plus
#: 50 ms (EN 13757-2), plus a gateway's forwarding.
DEFAULT_REPLY_TIMEOUT: Final = 0.5

#: The characters an M-Bus frame starts with.
_STARTS: Final = frozenset((ACK, START_SHORT, START_LONG))

#: How an M-Bus read's outcome shows on the bus reader's scale.
_STATUS: Final = {
    MBusStatus.OK: ReadStatus.OK,
    MBusStatus.NO_ANSWER: ReadStatus.NO_ANSWER,
    MBusStatus.BAD_FRAME: ReadStatus.CHECKSUM,
    MBusStatus.WRONG_ADDRESS: ReadStatus.WRONG_ADDRESS,
    MBusStatus.METER_ERROR: ReadStatus.METER_ERROR,
    MBusStatus.BUSY: ReadStatus.NO_ANSWER,
    MBusStatus.UNSUPPORTED: ReadStatus.BAD_DATA,
}


class BusExchange:
    """Send an M-Bus request on a meter bus; return the bytes of the reply, None for silence."""

    def __init__(
        self, bus: MeterBus, reply_timeout: float = DEFAULT_REPLY_TIMEOUT
    ) -> None:
        """Use the bus with the time a meter has to answer."""
        self.bus = bus
        self.reply_timeout = reply_timeout

    async def __call__(self, request: bytes, expect_reply: bool) -> bytes | None:
        """Send the request; with expect_reply, wait for one whole frame or for silence.

        Noise and the adapter's echo before the meter's frame are skipped
        (``find_frame``); bytes that never make a frame (two meters answering
        at once, a corrupted answer) come back as they are when the time is
        up: to the scan they mean a collision, to the reader a bad frame.
        """
        if not expect_reply:
            await self.bus.broadcast(request)
            return None
        heard = bytearray()

        def parse(buffer: bytearray) -> bytes | None:
            """Return the meter's frame once the buffer holds it, wherever it starts."""
            heard[:] = buffer
            return find_frame(bytes(buffer), request)

        try:
            return await self.bus.exchange(request, parse, self.reply_timeout)
        except LineTimeoutError:
            return bytes(heard) if heard else None


def find_frame(buffer: bytes, request: bytes) -> bytes | None:
    """Return the first sound M-Bus frame in buffer that is not our own request.

    Whatever comes before it is skipped: line noise, and an RS-485 adapter's
    echo of the request (a frame too, but ours). A frame is sound when it
    parses: start and stop characters, length and checksum. None while no
    sound frame is there yet; bytes that never make one (two meters
    answering at once) stay unanswered until the time is up.
    """
    position = 0
    while position < len(buffer):
        if buffer[position] not in _STARTS:
            position += 1
            continue
        try:
            length = frame_length(buffer[position:])
        except MBusFrameError:
            position += 1
            continue
        if length is None:
            return None
        frame = buffer[position : position + length]
        if frame == request:
            position += length
            continue
        try:
            parse_frame(frame)
        except MBusFrameError:
            position += 1
            continue
        return frame
    return None


@dataclass(slots=True)
class MBusMeter:
    """One M-Bus meter on a bus, for the bus reader (follows ``bus.BusMeter``)."""

    address: MeterAddress
    reader: MBusReader

    @property
    def key(self) -> str:
        """Return the meter's address as the user knows it."""
        if self.address.secondary is not None:
            return str(self.address.secondary)
        return str(self.address.primary)

    async def read(self, bus: MeterBus) -> BusReadResult:
        """Read the meter; a volume and a credit only when the meter reports them as sound."""
        try:
            result = await self.reader.read(self.address)
        except LineConnectionError as err:
            return BusReadResult(self.key, ReadStatus.BUS_ERROR, detail=str(err))
        if result.reading is None:
            flags = result.rejected.error_flags if result.rejected else None
            return BusReadResult(
                self.key,
                _STATUS[result.status],
                reasons=(result.status.value,)
                + ((f"error_flags_{flags:#x}",) if flags else ()),
                detail=result.detail,
            )
        reading = result.reading
        values: dict[str, float | int | bool | str] = {}
        if reading.volume_m3 is not None:
            values["volume"] = float(reading.volume_m3)
        if reading.credit is not None:
            values["remaining_money"] = float(reading.credit)
        values["error_flags"] = reading.error_flags or 0
        if reading.volume_m3 is None:
            return BusReadResult(
                self.key,
                ReadStatus.BAD_DATA,
                reasons=("no_volume",),
                detail="the meter reports no current volume record",
            )
        return BusReadResult(self.key, ReadStatus.OK, values)

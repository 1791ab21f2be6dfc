"""What the meter-bus codecs share: the base of their typed errors."""

from __future__ import annotations


class MeterProtocolError(Exception):
    """A meter's answer (or its absence) that a protocol can't turn into values.

    ``reason`` is a short stable code ("checksum", "wrong_address",
    "meter_error", ...) that a user interface translates.
    """

    reason: str = "protocol"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        """Store the message and, when given, a more specific reason code."""
        super().__init__(message)
        if reason is not None:
            self.reason = reason

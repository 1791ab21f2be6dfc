"""What the meter-bus codecs share: the base of their typed errors."""

from __future__ import annotations


class MeterProtocolError(Exception):
    """A meter's frame or data could not be understood; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        """Keep the reason code (e.g. ``bad_checksum``) and an optional human detail."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason

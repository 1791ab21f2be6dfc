"""Constants every job of the integration shares; each job keeps its own in <job>/const.py."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "smartcity_ddc"
LOGGER: Final = logging.getLogger(__package__)

#: Config entry version: 2 moved meters into subentries and named the jobs.
ENTRY_VERSION: Final = 2

CONF_KIND: Final = "kind"

#: The recorder integration (optional: only meter sites use it, when it runs).
RECORDER: Final = "recorder"

#: The manufacturer shown on the hub device of a job that is a service, not hardware.
SERVICE_MANUFACTURER: Final = "Smart City DDC"


class EntryKind(StrEnum):
    """The jobs one config entry can do."""

    SHELTER = "shelter"
    CARDS = "cards"
    METERS = "meters"


# --- a line (RS-485 bus, gateway or Modbus TCP) ---------------------------------
CONF_TRANSPORT: Final = "transport"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_SLAVE: Final = "slave"

DEFAULT_TCP_PORT: Final = 502
DEFAULT_BAUDRATE: Final = 9600
DEFAULT_TIMEOUT: Final = 3.0

"""Constants for the Smart City DDC integration."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "smartcity_ddc"
LOGGER: Final = logging.getLogger(__package__)

MANUFACTURER: Final = "Sungil"

#: Device models shown for each unit type: the SPEC §2 catalog, in English and Korean.
UNIT_MODELS: Final = {
    "lighting": "Lighting (조명)",
    "cooler": "Cooler/heater (냉난방기)",
    "exchanger": "Heat-recovery ventilator (전열교환기)",
    "aircurtain": "Air curtain (에어커튼)",
    "bench": "Heated bench (온열벤치)",
    "door": "Automatic door (자동문)",
    "sensor": "Integrated sensor (통합센서)",
    "externalsw": "Door external switch (자동문외부스위치)",
    "relay": "Relay output (릴레이)",
}

CONF_KIND: Final = "kind"


class EntryKind(StrEnum):
    """The three jobs one config entry can do."""

    DDC = "ddc"
    CARDS = "cards"
    WATER = "water"


# --- DDC entries ---------------------------------------------------------------
CONF_TRANSPORT: Final = "transport"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_SLAVE: Final = "slave"
CONF_POWER_RULE: Final = "power_rule"
CONF_PROFILE: Final = "profile"
CONF_REMOVED_UNITS: Final = "removed_units"
CONF_UNIT_PORTS: Final = "unit_ports"
CONF_ADDED_UNITS: Final = "added_units"

DEFAULT_TCP_PORT: Final = 502
DEFAULT_BAUDRATE: Final = 9600
DEFAULT_DDC_SCAN_INTERVAL: Final = 10
MIN_SCAN_INTERVAL: Final = 2
MAX_SCAN_INTERVAL: Final = 3600
DEFAULT_TIMEOUT: Final = 3.0

#: After this long unreachable, a repair issue tells the manager.
UNREACHABLE_REPAIR_AFTER: Final = 900


class PowerRule(StrEnum):
    """What a power command does while the unit follows its schedule."""

    REFUSE = "refuse"
    MANUAL_OVERRIDE = "manual_override"


# --- Card-sync entries -----------------------------------------------------------
CONF_DATABASE: Final = "database"
CONF_TABLE: Final = "table"
CONF_TLS: Final = "tls"
CONF_TLS_CA_FILE: Final = "tls_ca_file"
CONF_TLS_VERIFY: Final = "tls_verify"
CONF_GROUPS: Final = "groups"

DEFAULT_MYSQL_PORT: Final = 3306
DEFAULT_CARDS_SCAN_INTERVAL: Final = 30
MIN_CARDS_SCAN_INTERVAL: Final = 5
MAX_CARDS_SCAN_INTERVAL: Final = 86400

EVENT_CARD_ISSUED: Final = f"{DOMAIN}_card_issued"
EVENT_CARD_DELETED: Final = f"{DOMAIN}_card_deleted"
EVENT_CARD_REJECTED: Final = f"{DOMAIN}_card_rejected"

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

#: The recorder integration (optional: only water entries use it, when it runs).
RECORDER: Final = "recorder"


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

# --- water-meter entries ---------------------------------------------------------
CONF_WATER_GAP_HOURS: Final = "gap_hours"
CONF_WATER_LEAK_THRESHOLD: Final = "leak_threshold"
CONF_WATER_METERS: Final = "meters"
CONF_WATER_METER_ID: Final = "meter_id"
CONF_WATER_Q3: Final = "q3"
CONF_WATER_Q4: Final = "q4"
CONF_WATER_SOURCE: Final = "source"
CONF_WATER_ENTITY: Final = "entity_id"
CONF_WATER_REGISTER: Final = "register"
CONF_WATER_REGISTER_KIND: Final = "register_kind"
CONF_WATER_SCALE: Final = "scale"
CONF_WATER_WORD_ORDER: Final = "word_order"

DEFAULT_WATER_GAP_HOURS: Final = 3
DEFAULT_WATER_SCAN_INTERVAL: Final = 300
DEFAULT_WATER_SCALE: Final = 0.001
#: Pushed readings are saved to disk at most this often (seconds).
WATER_SAVE_DELAY: Final = 60


class WaterSource(StrEnum):
    """Where a water meter's readings come from."""

    SENSOR = "sensor"
    MODBUS = "modbus"
    PUSH = "push"

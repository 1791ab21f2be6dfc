"""Constants of the meter-site job."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from ..const import DOMAIN

#: The subentry types of a site: its meters, and the RS-485 buses meters hang on.
SUBENTRY_METER: Final = "meter"
SUBENTRY_BUS: Final = "bus"

CONF_MEDIUM: Final = "medium"
CONF_MAX_POWER: Final = "max_power"
CONF_GAP_HOURS: Final = "gap_hours"
CONF_LEAK_THRESHOLD: Final = "leak_threshold"
CONF_METER_ID: Final = "meter_id"
CONF_Q3: Final = "q3"
CONF_Q4: Final = "q4"
CONF_SOURCE: Final = "source"
CONF_ENTITY: Final = "entity_id"
CONF_REGISTER: Final = "register"
CONF_REGISTER_KIND: Final = "register_kind"
CONF_SCALE: Final = "scale"
CONF_WORD_ORDER: Final = "word_order"

# A meter on an RS-485 meter bus (DL/T645, M-Bus), and its bus.
CONF_BUS: Final = "bus"
CONF_ADDRESS: Final = "address"
CONF_VERSION: Final = "version"
CONF_READ_INTERVAL: Final = "read_interval"
CONF_REPLY_TIMEOUT: Final = "reply_timeout"
# Prepaid credit and the supply relay.
CONF_PREPAID: Final = "prepaid"
CONF_TARIFF: Final = "tariff"
CONF_LOW_CREDIT: Final = "low_credit"
CONF_RELAY_CONTROL: Final = "relay_control"
CONF_METER_PASSWORD: Final = "meter_password"  # noqa: S105 - the option's name
CONF_OPERATOR_CODE: Final = "operator_code"

DEFAULT_BUS_BAUDRATE: Final = 2400
#: Minutes between two reads of a bus's meters.
DEFAULT_READ_INTERVAL: Final = 60
#: Seconds a meter on a bus has to answer one request.
DEFAULT_REPLY_TIMEOUT: Final = 2.0
#: A bus meter without a sound read for this long raises a repair issue.
SILENT_REPAIR_AFTER: Final = 86400
#: A bus unreachable for this many reads in a row raises a repair issue.
UNREACHABLE_ROUNDS: Final = 2

EVENT_TOP_UP: Final = f"{DOMAIN}_top_up"
EVENT_LOW_CREDIT: Final = f"{DOMAIN}_low_credit"

DEFAULT_GAP_HOURS: Final = 3
DEFAULT_SCAN_INTERVAL: Final = 300
DEFAULT_SCALE: Final = 0.001
#: Pushed readings are saved to disk at most this often (seconds).
SAVE_DELAY: Final = 60


class MeterSource(StrEnum):
    """Where a meter's readings come from."""

    SENSOR = "sensor"
    MODBUS = "modbus"
    PUSH = "push"
    DLT645 = "dlt645"
    MBUS = "mbus"

"""Constants of the meter-site job."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

#: The subentry type of one meter of a site.
SUBENTRY_METER: Final = "meter"

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

"""Constants of the shelter job."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

MANUFACTURER: Final = "Sungil"

CONF_POWER_RULE: Final = "power_rule"
CONF_PROFILE: Final = "profile"
CONF_REMOVED_UNITS: Final = "removed_units"
CONF_UNIT_PORTS: Final = "unit_ports"
CONF_ADDED_UNITS: Final = "added_units"

DEFAULT_SCAN_INTERVAL: Final = 10
MIN_SCAN_INTERVAL: Final = 2
MAX_SCAN_INTERVAL: Final = 3600

#: After this long unreachable, a repair issue tells the manager.
UNREACHABLE_REPAIR_AFTER: Final = 900


class PowerRule(StrEnum):
    """What a power command does while the unit follows its schedule."""

    REFUSE = "refuse"
    MANUAL_OVERRIDE = "manual_override"

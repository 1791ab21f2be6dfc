"""Water-meter statistics engine: readings in, usage statistics and statuses out.

Plain Python: nothing here imports Home Assistant (a test enforces it), so
the engine can be tested and benchmarked on its own. See stats.py for the
definitions of every statistic and status rule, and history.py for how
interval usage is attributed to hours and days.
"""

from .calendar import LocalCalendar
from .history import COMPACT_AFTER, DAY, HOUR, Change, DayStats, MeterHistory
from .model import (
    DEFAULT_GAP,
    DEFAULT_LEAK_THRESHOLD,
    DEFAULT_Q3,
    DEFAULT_Q4,
    FLAG_NAMES,
    FUTURE_TOLERANCE,
    RETENTION_DAYS,
    STATUS_PRIORITY,
    Flag,
    Reading,
    ReadingError,
    RejectReason,
    Rules,
    Signal,
    Status,
    make_reading,
    parse_index,
    parse_number,
)
from .site import HourRow, Meter, WaterSite
from .stats import (
    MeterSpec,
    MeterSummary,
    SiteAggregate,
    aggregate,
    leak_suspected,
    summarize,
)

__all__ = [
    "COMPACT_AFTER",
    "DAY",
    "DEFAULT_GAP",
    "DEFAULT_LEAK_THRESHOLD",
    "DEFAULT_Q3",
    "DEFAULT_Q4",
    "FLAG_NAMES",
    "FUTURE_TOLERANCE",
    "HOUR",
    "RETENTION_DAYS",
    "STATUS_PRIORITY",
    "Change",
    "DayStats",
    "Flag",
    "HourRow",
    "LocalCalendar",
    "Meter",
    "MeterHistory",
    "MeterSpec",
    "MeterSummary",
    "Reading",
    "ReadingError",
    "RejectReason",
    "Rules",
    "Signal",
    "SiteAggregate",
    "Status",
    "WaterSite",
    "aggregate",
    "leak_suspected",
    "make_reading",
    "parse_index",
    "parse_number",
    "summarize",
]

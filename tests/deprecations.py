"""Deprecation reports about this project's code, collected over a whole test run.

Home Assistant announces a coming break in two ways: Python warnings
(``DeprecationWarning`` and kin) and log records from its deprecation and frame
helpers ("The deprecated constant X was used from smartcity_ddc ...",
"Detected that custom integration 'smartcity_ddc' ... This will stop working
in Home Assistant ..."). ``tests/conftest.py`` fails the run if any concern our
code, on every Home Assistant release the suite runs against.
"""

from __future__ import annotations

import logging
from pathlib import Path
import re
from typing import Final

#: The repository; the project's code is every file in it outside .venv.
ROOT: Final = Path(__file__).resolve().parent.parent
_OURS: Final = re.compile(r"smartcity_ddc|custom_components")
_REPORT: Final = re.compile(
    r"deprecat|will stop working|will be removed|no longer (?:be )?supported"
    r"|Detected that custom integration|report it to the author",
    re.IGNORECASE,
)
_WARNINGS: Final = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def is_our_file(filename: str) -> bool:
    """Tell whether a source file belongs to this repository (not its venv)."""
    try:
        path = Path(filename).resolve()
    except OSError:
        return False
    return path.is_relative_to(ROOT) and ".venv" not in path.relative_to(ROOT).parts


def warning_concerns_us(category: type[Warning], message: str, filename: str) -> bool:
    """Tell whether a Python warning is a deprecation raised at or about our code."""
    return issubclass(category, _WARNINGS) and (
        is_our_file(filename) or _OURS.search(message) is not None
    )


def record_concerns_us(record: logging.LogRecord) -> bool:
    """Tell whether a log record is a deprecation (or break) report about our code."""
    if record.levelno < logging.WARNING:
        return False
    message = record.getMessage()
    return _OURS.search(message) is not None and _REPORT.search(message) is not None


class DeprecationReports(logging.Handler):
    """A root-logger handler that keeps every report about our code, and the warnings."""

    def __init__(self) -> None:
        """Start with no reports."""
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep a record that reports on our code."""
        try:
            if record_concerns_us(record):
                self.reports.append(f"log {record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 (a handler must not raise)
            self.handleError(record)

    def add_warning(
        self,
        category: type[Warning],
        message: str,
        filename: str,
        lineno: int,
        where: str,
    ) -> None:
        """Keep a Python warning that concerns our code."""
        if warning_concerns_us(category, message, filename):
            self.reports.append(
                f"{category.__name__} at {filename}:{lineno} ({where}): {message}"
            )


#: The run's collector: installed on the root logger by tests/conftest.py.
REPORTS: Final = DeprecationReports()

"""Typed errors of the DDC library (the line's own errors are in line.py)."""

from __future__ import annotations

from dataclasses import dataclass


class DdcError(Exception):
    """Base class for every error the DDC library raises."""


class DdcValueError(DdcError):
    """A value cannot be written: outside the point's range or value map."""


class DdcNotWritableError(DdcError):
    """The point has no write register in the profile."""


class DdcPowerRuleError(DdcError):
    """Power was commanded while the unit follows its schedule.

    The DDC ignores the power command while a unit is in auto mode, so the
    library refuses it instead of reporting a change that will not happen.
    """


class DdcWriteNotConfirmedError(DdcError):
    """The DDC acknowledged a write but reading back shows another value."""

    def __init__(self, message: str, *, expected: object, actual: object) -> None:
        """Store what was written and what was read back."""
        super().__init__(message)
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class ProfileIssue:
    """One problem found in a profile, located by path and source line."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        """Render as 'line N: path: message'."""
        where = f"line {self.line}: " if self.line is not None else ""
        return (
            f"{where}{self.path}: {self.message}"
            if self.path
            else f"{where}{self.message}"
        )


class ProfileError(DdcError):
    """A profile failed to load or validate; carries every issue found."""

    def __init__(self, issues: list[ProfileIssue]) -> None:
        """Store the issues and build a readable message."""
        super().__init__("; ".join(str(issue) for issue in issues))
        self.issues = issues

"""Fixtures shared by every test: the integration enabled, a DDC simulator on 127.0.0.1.

The hooks at the end print the Home Assistant release the run tests against
and fail the run on any deprecation report about our code (tests/deprecations.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from datetime import datetime
from importlib.metadata import version
import logging
from unittest.mock import PropertyMock, patch
import warnings
from zoneinfo import ZoneInfo

from homeassistant.const import __version__ as ha_version
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported before the hass fixture runs, so Home Assistant's loader finds the
# package rather than the plugin's testing_config (see TOOLCHAIN.md).
import custom_components.smartcity_ddc  # noqa: F401
from devtools.mariadb import MariaDbServer
from devtools.serial_bridge import SerialBridge
from devtools.simulator import ShelterDdc, SimulatorServer
from tests import flow_strings
from tests.deprecations import REPORTS

SEOUL = ZoneInfo("Asia/Seoul")

# The plugin turns SQLAlchemy's statement log on; the recorder's thread then
# prints every statement of the statistics tests into the test report.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


class DdcClock:
    """The simulated DDC's own wall clock, set by hand in tests."""

    def __init__(self, hhmm: str = "12:00") -> None:
        """Start at a time of day on 2026-01-05 (a Monday) in Seoul."""
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=SEOUL)
        self.set(hhmm)

    def set(self, hhmm: str) -> None:
        """Move the clock to HH:MM of the same day."""
        hour, minute = (int(part) for part in hhmm.split(":"))
        self.now = self.now.replace(hour=hour, minute=minute)

    def __call__(self) -> datetime:
        """Return the DDC's current time."""
        return self.now


@pytest.fixture(autouse=True)
def _enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load this integration in every test that runs hass."""
    if "hass" in request.fixturenames:
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshot with Home Assistant's serializer (registry ids and times normalised)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def ddc_clock() -> DdcClock:
    """The simulated DDC's clock, at 12:00 unless a test moves it."""
    return DdcClock()


@pytest.fixture
async def simulator(
    socket_enabled: None, ddc_clock: DdcClock
) -> AsyncIterator[SimulatorServer]:
    """A standard shelter DDC at slave 1, served over Modbus TCP on 127.0.0.1."""
    async with SimulatorServer(framer="tcp", auto_tick=False) as server:
        server.add_device(1, ShelterDdc(clock=ddc_clock, seed=1))
        yield server


@pytest.fixture
def ddc(simulator: SimulatorServer) -> ShelterDdc:
    """The simulated DDC's memory and firmware."""
    device = simulator.devices[1]
    assert isinstance(device, ShelterDdc)
    return device


@pytest.fixture
async def serial_ddc(
    socket_enabled: None, ddc_clock: DdcClock
) -> AsyncIterator[tuple[str, SimulatorServer]]:
    """A pseudo-terminal path behind which a standard shelter DDC answers Modbus RTU at slave 1."""
    async with SimulatorServer(framer="rtu", auto_tick=False) as server:
        server.add_device(1, ShelterDdc(clock=ddc_clock, seed=1))
        async with SerialBridge(server.port) as bridge:
            yield bridge.path, server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDbServer]:
    """One throwaway MariaDB on 127.0.0.1 (with TLS available) for the whole session."""
    with MariaDbServer(tls=True, durable=False) as server:
        yield server


@pytest.fixture(autouse=True, scope="session")
def _record_flow_strings() -> Iterator[None]:
    """Record every step our flows show, for the string check at the end of the session."""
    with flow_strings.recording():
        yield


# --- The Home Assistant release, and deprecation reports about our code -----


def pytest_configure(config: pytest.Config) -> None:
    """Collect deprecation reports from every logger for the whole run."""
    logging.getLogger().addHandler(REPORTS)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop collecting."""
    logging.getLogger().removeHandler(REPORTS)


def pytest_report_header(config: pytest.Config) -> str:
    """Name the Home Assistant and pymodbus the run tests against."""
    return f"Home Assistant {ha_version}, pymodbus {version('pymodbus')}"


def pytest_warning_recorded(
    warning_message: warnings.WarningMessage,
    when: str,
    nodeid: str,
    location: tuple[str, int, str] | None,
) -> None:
    """Keep Python deprecation warnings raised at or about our code."""
    REPORTS.add_warning(
        warning_message.category,
        str(warning_message.message),
        warning_message.filename,
        warning_message.lineno,
        nodeid or when,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail an otherwise green run with deprecation reports or untranslated flow steps."""
    if REPORTS.reports and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _check_flow_strings(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the deprecation reports about our code; say so when there are none."""
    reports = REPORTS.reports
    if reports:
        terminalreporter.section("deprecation reports about smartcity_ddc", red=True)
        for report in reports:
            terminalreporter.write_line(report)
    terminalreporter.write_line(
        f"Home Assistant {ha_version}: {len(reports)} deprecation reports about"
        " smartcity_ddc (log reports and Python warnings)",
        red=bool(reports),
        green=not reports,
    )


def _check_flow_strings(session: pytest.Session) -> None:
    """Fail the run if a flow step the tests showed lacks a translation (what hassfest would catch)."""
    if not flow_strings.SHOWN:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    problems = flow_strings.problems()
    steps = len(
        {(shown.kind, shown.step_id, shown.abort) for shown in flow_strings.SHOWN}
    )
    if reporter is not None:
        reporter.write_line(
            f"flow strings: {steps} distinct steps shown, {len(problems)} problems"
        )
        for problem in problems:
            reporter.write_line(f"  {problem}", red=True)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

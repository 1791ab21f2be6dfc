"""The fault campaign: Home Assistant with the integration, a real simulator on 127.0.0.1, faults injected.

Polls are triggered by hand, one per simulated scan interval. The lines' own
clock (reconnect back-off) is a manual clock that moves on by POLL_GAP per
poll: Home Assistant schedules the next poll at a whole second plus a fixed
fraction after the previous one ended, so a poll can come up to one second
before a full interval has passed.

At the end of the session the campaign prints how many fault cases ran and
passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import (
    CONF_KIND,
    CONF_SLAVE,
    CONF_TRANSPORT,
    DOMAIN,
    EntryKind,
)
from custom_components.smartcity_ddc.helpers import DATA_LINES
from custom_components.smartcity_ddc.line import LinePool
from custom_components.smartcity_ddc.shelter.const import CONF_POWER_RULE, PowerRule
from custom_components.smartcity_ddc.shelter.coordinator import ShelterCoordinator
from devtools.simulator import ShelterDdc, SimulatorServer

SCAN_INTERVAL = 10
POLL_GAP = SCAN_INTERVAL - 1
TIMEOUT = 0.5

_CASE_PREFIX = "tests/faults/test_campaign.py::test_fault_case["
_outcomes: dict[str, bool] = {}
#: Figures a case measured, printed with the campaign's summary.
FIGURES: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record whether each fault case passed all of setup, call and teardown."""
    if not report.nodeid.startswith(_CASE_PREFIX):
        return
    case = report.nodeid.removeprefix(_CASE_PREFIX).removesuffix("]")
    if report.when == "setup" and case not in _outcomes:
        _outcomes[case] = True
    if report.failed:
        _outcomes[case] = False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the campaign's count of cases run and passed, and what cases measured."""
    for figure in FIGURES.values():
        terminalreporter.write_line(f"fault campaign: {figure}")
    if not _outcomes:
        return
    passed = sum(_outcomes.values())
    terminalreporter.write_line(
        f"fault campaign: {len(_outcomes)} cases, {passed} passed"
    )
    for case, ok in _outcomes.items():
        if not ok:
            terminalreporter.write_line(f"  failed: {case}")


class ManualClock:
    """The lines' monotonic clock, moved on by the campaign."""

    def __init__(self) -> None:
        """Start at an arbitrary point."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@dataclass
class Campaign:
    """Home Assistant running the DDC entry, and the simulator it talks to."""

    hass: HomeAssistant
    entry: MockConfigEntry
    simulator: SimulatorServer
    ddc: ShelterDdc
    clock: ManualClock

    @property
    def coordinator(self) -> ShelterCoordinator:
        """Return the entry's coordinator."""
        coordinator: ShelterCoordinator = self.entry.runtime_data
        return coordinator

    async def poll(self) -> None:
        """Run the next scheduled poll."""
        self.clock.now += POLL_GAP
        await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    def loaded(self) -> bool:
        """Whether the entry is still loaded (it was never reloaded)."""
        return self.entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def campaign(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    ddc: ShelterDdc,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Campaign]:
    """Set up the DDC entry (0.5 s timeouts, lines on a manual clock); unload it after the case."""
    await hass.config.async_set_time_zone("Asia/Seoul")
    monkeypatch.setattr(
        "custom_components.smartcity_ddc.helpers.DEFAULT_TIMEOUT", TIMEOUT
    )
    caplog.set_level(logging.INFO)
    clock = ManualClock()
    hass.data[DATA_LINES] = LinePool(clock=clock)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="DDC 1 @ 127.0.0.1",
        version=2,
        data={
            CONF_KIND: EntryKind.SHELTER,
            CONF_TRANSPORT: "tcp",
            CONF_HOST: "127.0.0.1",
            CONF_PORT: simulator.port,
            CONF_SLAVE: 1,
        },
        options={
            CONF_SCAN_INTERVAL: SCAN_INTERVAL,
            CONF_POWER_RULE: PowerRule.REFUSE,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield Campaign(hass, entry, simulator, ddc, clock)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

"""Fault campaign: every fault the simulator can inject, against Home Assistant with the integration.

Each case starts a fault, lets the DDC's values change while it lasts, polls
through it, tries a command, clears it and polls once more. For every case:

* no unhandled exception, and no error logged but the one expected;
* while it lasts, the entities it touches are unavailable and every other
  entity shows the DDC's current value (never a value from before the fault);
* one poll after it clears, every entity shows the DDC's current value,
  without a reload;
* a command is reported done only if the DDC did it;
* one log line when it starts and one when it is over (none for a fault the
  integration rides out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import logging

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.exceptions import HomeAssistantError
import pytest

from devtools.simulator import DO_PORTS, ShelterDdc, SimulatorServer

from .conftest import TIMEOUT, Campaign

PM10 = "sensor.air_quality_sensor_pm10"
PM1 = "sensor.air_quality_sensor_pm1"
HUMIDITY = "sensor.air_quality_sensor_humidity"
BENCH = "switch.heated_bench_1"
BENCH_MODE = "switch.heated_bench_1_follow_schedule"
BENCH_WINDOW = "time.heated_bench_1_schedule_1_start"
DOOR = "switch.automatic_door_1"
COOLER = "climate.cooler_heater"
VENTILATOR = "fan.heat_recovery_ventilator"
COMMANDED = "switch.heated_bench_2"  # DO6, manual and off at the start
#: Modes, set-points and windows are read every 5 minutes (and after any
#: write), not every poll: while a fault lasts they may lag by design.
SLOW = frozenset({BENCH_MODE, BENCH_WINDOW, f"{COOLER}.temperature"})

type Fault = Callable[[SimulatorServer, ShelterDdc], Awaitable[None] | None]


def _on(value: int) -> str:
    """Return a switch state from a 0/1 register."""
    return "on" if value else "off"


def truth(ddc: ShelterDdc) -> dict[str, object]:
    """Return what Home Assistant should show for the watched entities, from the DDC's memory."""
    window = DO_PORTS[4].windows[0]
    return {
        PM10: str(ddc.get("input", 134)),
        PM1: str(ddc.get("input", 136)),
        HUMIDITY: f"{ddc.get('input', 140) / 10:.1f}",
        BENCH: _on(ddc.get("input", 825)),
        BENCH_MODE: _on(ddc.get("holding", 356)),
        BENCH_WINDOW: f"{ddc.get('holding', window.start_hour):02d}:"
        f"{ddc.get('holding', window.start_minute):02d}:00",
        DOOR: _on(ddc.get("input", 827)),
        f"{COOLER}.temperature": ddc.get("holding", 125) / 10,
        VENTILATOR: _on(ddc.get("coil", 370)),
    }


def shown(campaign: Campaign) -> dict[str, object]:
    """Return what Home Assistant shows for the watched entities."""
    result: dict[str, object] = {}
    for key in truth(campaign.ddc):
        entity_id = key.removesuffix(".temperature")
        state = campaign.hass.states.get(entity_id)
        assert state is not None, entity_id
        if key != entity_id:
            result[key] = (
                STATE_UNAVAILABLE
                if state.state == STATE_UNAVAILABLE
                else state.attributes.get("temperature")
            )
        else:
            result[key] = state.state
    return result


def change_values(ddc: ShelterDdc) -> None:
    """Change live values at the DDC, as the shelter does while a fault lasts."""
    ddc.set("input", 134, ddc.get("input", 134) + 17)  # PM10
    ddc.set("input", 136, ddc.get("input", 136) + 3)  # PM1.0
    ddc.set("input", 140, ddc.get("input", 140) + 25)  # humidity
    ddc.set_port(5, power=True)  # someone switches heated bench 1 at the panel
    ddc.set("holding", 125, ddc.get("holding", 125) + 5)  # summer target
    ddc.set("coil", 370, 1 - ddc.get("coil", 370))  # ventilator


async def _clear(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
    """Clear every fault (a refusing gateway listens again on the same port)."""
    await simulator.clear_faults()


def _drop_once(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
    simulator.drop_on_request(2)


def _drop_every(n: int) -> Fault:
    def start(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
        simulator.drop_every = n

    return start


def _silent(_simulator: SimulatorServer, ddc: ShelterDdc) -> None:
    ddc.faults.silent = True


def _slow(factor: float) -> Fault:
    def start(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
        simulator.delay = factor * TIMEOUT

    return start


def _exception(kind: str, first: int, last: int, code: int) -> Fault:
    def start(_simulator: SimulatorServer, ddc: ShelterDdc) -> None:
        ddc.faults.exception_ranges.append((kind, first, last, code))

    return start


def _garbage(_simulator: SimulatorServer, ddc: ShelterDdc) -> None:
    ddc.faults.garbage[("input", 140)] = 1500  # 150.0 % humidity
    ddc.faults.garbage[("input", 827)] = 9  # a relay status that is neither 0 nor 1


def _ignore_writes(_simulator: SimulatorServer, ddc: ShelterDdc) -> None:
    ddc.faults.ignore_writes = True


def _refuse(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
    simulator.refuse_connections()


async def _restart(simulator: SimulatorServer, _ddc: ShelterDdc) -> None:
    await simulator.restart()


@dataclass(frozen=True)
class FaultCase:
    """One fault: how it starts, what it makes unavailable, what gets logged."""

    name: str
    start: Fault
    outage: bool = False
    """The whole DDC is unreachable while it lasts."""
    affected: frozenset[str] = field(default_factory=frozenset)
    """Watched entities unavailable while it lasts (all of them in an outage)."""
    logged: bool = True
    """One line when it starts and one when it is over; False: the integration rides it out."""
    polls: int = 3
    command: str = "done"
    """What a command does while it lasts: done, fails, or ignored (in an outage)."""


CASES = (
    FaultCase("connection dropped mid-poll once", _drop_once, logged=False),
    FaultCase(
        "connection dropped at every second request", _drop_every(2), logged=False
    ),
    FaultCase("connection dropped at every request", _drop_every(1), outage=True),
    FaultCase("slave silent", _silent, outage=True),
    FaultCase("slow responses just under the timeout", _slow(0.6), logged=False),
    FaultCase("slow responses just over the timeout", _slow(1.4), outage=True),
    FaultCase(
        "illegal address on one register inside a block",
        _exception("input", 136, 136, 2),
        affected=frozenset({PM1}),
    ),
    FaultCase(
        "illegal address on an unread register inside a block",
        _exception("input", 110, 110, 2),
        logged=False,
    ),
    FaultCase(
        "device failure on part of a block",
        _exception("input", 821, 828, 4),
        outage=True,
    ),
    FaultCase("garbage values", _garbage, affected=frozenset({HUMIDITY, DOOR})),
    FaultCase(
        "writes acknowledged but not applied",
        _ignore_writes,
        logged=False,
        command="fails",
    ),
    FaultCase("gateway restarts, back at once", _restart, logged=False),
    FaultCase(
        "gateway restarts, refusing connections for a minute",
        _refuse,
        outage=True,
        polls=8,
    ),
)


def _problem_lines(
    records: list[logging.LogRecord],
) -> tuple[list[logging.LogRecord], list[logging.LogRecord]]:
    """Split the integration's outage/recovery lines from everything at warning or above."""
    ours = [
        r
        for r in records
        if r.name.startswith("custom_components.smartcity_ddc")
        and r.levelno >= logging.INFO
    ]
    loud = [
        r
        for r in records
        if r.levelno >= logging.WARNING
        # Newer Home Assistant warns when an action targets an unavailable
        # entity: that is the campaign's own command during an outage.
        and not (
            r.name == "homeassistant.helpers.service"
            and r.getMessage().startswith("Referenced entities")
        )
    ]
    return ours, loud


async def _command(campaign: Campaign, expected: str) -> None:
    """Switch heated bench 2 on; it may be shown on only if the DDC switched it on.

    expected: "done", "fails" (the action raises and nothing is shown done) or
    "ignored" (the entity is unavailable, so Home Assistant does not send it).
    """
    hass, ddc = campaign.hass, campaign.ddc
    output = ddc.output(6)
    error: HomeAssistantError | None = None
    try:
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": COMMANDED}, blocking=True
        )
    except HomeAssistantError as err:
        error = err
    state = hass.states.get(COMMANDED).state
    if expected == "done":
        assert error is None
        assert (state, ddc.output(6)) == ("on", True)
    elif expected == "fails":
        assert error is not None
        assert error.translation_key == "shelter_write_not_confirmed"
        assert (state, ddc.output(6)) == ("off", False)
    else:
        assert error is None
        assert state == STATE_UNAVAILABLE
        assert ddc.output(6) == output


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_fault_case(
    campaign: Campaign, case: FaultCase, caplog: pytest.LogCaptureFixture
) -> None:
    hass, ddc, simulator = campaign.hass, campaign.ddc, campaign.simulator
    coordinator = campaign.coordinator
    assert shown(campaign) == truth(ddc)
    caplog.clear()

    # The fault starts; the shelter goes on changing.
    result = case.start(simulator, ddc)
    if result is not None:
        await result
    change_values(ddc)
    affected = set(truth(ddc)) if case.outage else case.affected
    for _ in range(case.polls):
        await campaign.poll()
        now, current = shown(campaign), truth(ddc)
        for key, value in now.items():
            if key in affected:
                assert value == STATE_UNAVAILABLE, key
            elif key not in SLOW:
                assert value == current[key], key
        if case.outage:
            assert all(
                state.state == STATE_UNAVAILABLE
                for state in hass.states.async_all()
                if state.entity_id.split(".")[0]
                in ("switch", "sensor", "climate", "fan", "time", "binary_sensor")
            )
    await _command(campaign, "ignored" if case.outage else case.command)
    during, loud_during = _problem_lines(caplog.records)

    # The fault clears: one poll later everything is current again.
    caplog.clear()
    await _clear(simulator, ddc)
    await campaign.poll()
    now, current = shown(campaign), truth(ddc)
    assert {k: v for k, v in now.items() if k not in SLOW} == {
        k: v for k, v in current.items() if k not in SLOW
    }
    # The 5-minute cycle comes: the slow values are current too.
    coordinator.client.reread_all()
    await campaign.poll()
    assert shown(campaign) == truth(ddc)
    assert campaign.loaded()
    assert campaign.coordinator is coordinator
    after, loud_after = _problem_lines(caplog.records)
    await _command(campaign, "done")

    assert not [r for r in caplog.records if r.exc_info], "unhandled exception"
    if not case.logged:
        assert [r.getMessage() for r in during + after] == []
        assert loud_during == loud_after == []
        return
    assert len(during) == 1, [r.getMessage() for r in during]
    assert len(after) == 1, [r.getMessage() for r in after]
    if case.outage:
        assert during[0].getMessage().startswith("Error fetching")
        assert after[0].getMessage().endswith("data recovered")
        assert [r.getMessage() for r in loud_during] == [during[0].getMessage()]
    else:
        assert "shown as unavailable" in during[0].getMessage()
        assert "readable again" in after[0].getMessage()
        assert loud_during == []
    assert loud_after == []

"""Meters on an RS-485 bus, read by a real meter site through the simulated gateway on 127.0.0.1.

Time is frozen but ticking (the bus waits on the event loop's clock); a
jump of the clock drives the bus schedule, real TCP I/O still completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
import socket

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.json import json_dumps
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.smartcity_ddc.helpers import line_pool
from custom_components.smartcity_ddc.meters.coordinator import MetersCoordinator
from devtools.serial_bridge import SerialBridge
from devtools.simulator import MeterBusServer
from devtools.simulator.mbus_meter import MBusWaterMeter

from .bus_site import (
    BUS_ID,
    OLD,
    OPERATOR,
    PASSWORD,
    PLAIN,
    PREPAID,
    bus_meters,
    bus_site,
    dlt,
    electricity,
    entity_id,
    mbus,
    state,
)
from .conftest import DAY1, seoul
from .helpers import at

pytestmark = pytest.mark.freeze_time(DAY1, tick=True)

E101, E102, E103 = "electricity_e101", "electricity_e102", "electricity_e103"
W201 = "water_w201"


@pytest.fixture(autouse=True)
def _allow_sockets(socket_enabled: None) -> None:
    """The gateway is a real TCP server on 127.0.0.1."""


@pytest.fixture
async def gateway() -> AsyncIterator[MeterBusServer]:
    """The simulated RS-485/TCP gateway with the site's four meters."""
    from .bus_site import add_meters

    # The test's clock jumps by hours (the loop's clock with it): the bound
    # is days of that clock; the fixture stops the server after the test.
    async with MeterBusServer(stop_after=30 * 86400) as server:
        add_meters(server)
        yield server


@pytest.fixture
async def site(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> AsyncIterator[MockConfigEntry]:
    """The meter site, set up; its first bus read has finished."""
    entry = bus_site(gateway.port)
    entry.add_to_hass(hass_seoul)
    assert await hass_seoul.config_entries.async_setup(entry.entry_id)
    await hass_seoul.async_block_till_done(wait_background_tasks=True)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass_seoul.config_entries.async_unload(entry.entry_id)
        await hass_seoul.async_block_till_done()


def coordinator(entry: MockConfigEntry) -> MetersCoordinator:
    """Return the site's coordinator."""
    assert isinstance(entry.runtime_data, MetersCoordinator)
    return entry.runtime_data


async def _switch_refused(
    hass: HomeAssistant, relay: str, service: str
) -> pytest.ExceptionInfo[HomeAssistantError]:
    """Call a relay switch's service; return the error it has to raise."""
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            "switch", service, {"entity_id": relay}, blocking=True
        )
    return raised


async def test_first_read_brings_every_value(
    hass_seoul: HomeAssistant, site: MockConfigEntry
) -> None:
    hass = hass_seoul
    # The prepaid 2007 meter: everything it has, and its own credit.
    assert state(hass, site, E101, "index") == pytest.approx(4321.09)
    assert state(hass, site, E101, "power") == pytest.approx(0.7712)
    assert state(hass, site, E101, "voltage") == pytest.approx(229.8)
    assert state(hass, site, E101, "current") == pytest.approx(3.5)
    assert state(hass, site, E101, "balance") == pytest.approx(12.34)
    assert state(hass, site, E101, "read_status") == "ok"
    assert state(hass, site, E101, "status") == "normal"
    balance = hass.states.get(entity_id(hass, site, E101, "balance"))
    assert balance is not None
    assert balance.attributes["unit_of_measurement"] == hass.config.currency
    assert balance.attributes["device_class"] == "monetary"
    assert hass.states.get(entity_id(hass, site, E101, "relay", "switch")).state == (
        STATE_ON
    )
    # The plain 2007 meter and the 1997 meter: no credit, no relay.
    assert state(hass, site, E102, "index") == pytest.approx(10.0)
    assert state(hass, site, E103, "index") == pytest.approx(77.7)
    assert state(hass, site, E103, "voltage") == pytest.approx(231.0)
    assert state(hass, site, E103, "current") == pytest.approx(4.25)
    # The M-Bus water meter: its volume in m³.
    assert state(hass, site, W201, "index") == pytest.approx(12.345)
    assert state(hass, site, W201, "read_status") == "ok"
    index = hass.states.get(entity_id(hass, site, W201, "index"))
    assert index is not None
    assert index.attributes["unit_of_measurement"] == "m³"


async def test_the_schedule_reads_the_bus_again(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    dlt(gateway, PLAIN).energy = 11.5
    mbus(gateway).volume_m3 += 1
    # Not before the hour is up.
    await at(hass, freezer, seoul(1, 0, 30))
    assert state(hass, site, E102, "index") == pytest.approx(10.0)
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, E102, "index") == pytest.approx(11.5)
    assert state(hass, site, E102, "last_interval_usage") == pytest.approx(1.5)
    assert state(hass, site, W201, "index") == pytest.approx(13.345)
    assert state(hass, site, E102, "readings_today") == 2


@pytest.mark.parametrize(
    ("fault", "read_status", "status"),
    [
        ({"silent": True}, "no_answer", "communication_fault"),
        ({"bad_checksum": True}, "checksum", "communication_fault"),
        ({"wrong_address": "000000000099"}, "wrong_address", "communication_fault"),
        ({"error_byte": 0x01}, "meter_error", "meter_fault"),
        ({"non_bcd": True}, "bad_data", "meter_fault"),
    ],
)
async def test_each_fault_is_a_clear_status_and_no_wrong_value(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
    fault: dict[str, object],
    read_status: str,
    status: str,
) -> None:
    hass = hass_seoul
    meter = dlt(gateway, PLAIN)
    meter.energy = 19.0
    for name, setting in fault.items():
        setattr(meter.faults, name, setting)
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, E102, "read_status") == read_status
    assert state(hass, site, E102, "status") == status
    problem = entity_id(hass, site, E102, status, "binary_sensor")
    assert hass.states.get(problem).state == STATE_ON
    # The index stays the last sound one; live values are unknown, not stale.
    assert state(hass, site, E102, "index") == pytest.approx(10.0)
    assert state(hass, site, E102, "power") is None
    assert state(hass, site, E102, "readings_today") == 1
    # The other meters on the same bus are read as ever.
    assert state(hass, site, E101, "read_status") == "ok"
    assert state(hass, site, W201, "read_status") == "ok"
    # Once the meter answers soundly, its status clears and its index moves.
    meter.faults.clear()
    await at(hass, freezer, seoul(1, 2, 1))
    assert state(hass, site, E102, "read_status") == "ok"
    assert state(hass, site, E102, "status") == "normal"
    assert state(hass, site, E102, "index") == pytest.approx(19.0)
    assert hass.states.get(problem).state == STATE_OFF


@pytest.mark.parametrize(
    ("fault", "read_status", "status"),
    [
        ({"silent": True}, "no_answer", "communication_fault"),
        ({"bad_checksum": True}, "checksum", "communication_fault"),
        ({"error_flags": 0x04}, "meter_error", "meter_fault"),
        ({"status": 0x02}, "meter_error", "meter_fault"),
    ],
)
async def test_mbus_faults_are_a_clear_status_and_no_wrong_value(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
    fault: dict[str, object],
    read_status: str,
    status: str,
) -> None:
    hass = hass_seoul
    meter = mbus(gateway)
    meter.volume_m3 += 5
    for name, setting in fault.items():
        setattr(meter, name, setting)
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, W201, "read_status") == read_status
    assert state(hass, site, W201, "status") == status
    assert state(hass, site, W201, "index") == pytest.approx(12.345)


async def test_bus_faults_still_read(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An adapter's echo, noise around answers and answers in pieces read as ever."""
    hass = hass_seoul
    gateway.echo = True
    gateway.noise = 3
    gateway.split = 3
    dlt(gateway, PLAIN).energy = 12.25
    await at(hass, freezer, seoul(1, 1, 1))
    for part in (E101, E102, E103, W201):
        assert state(hass, site, part, "read_status") == "ok", part
    assert state(hass, site, E102, "index") == pytest.approx(12.25)


async def test_gateway_restart_between_reads(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await gateway.restart()
    dlt(gateway, OLD).energy = 80.0
    await at(hass, freezer, seoul(1, 1, 1))
    # The connection the restart dropped is opened again for the next read.
    assert state(hass, site, E103, "index") == pytest.approx(80.0)
    assert state(hass, site, E101, "read_status") == "ok"


def _closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_bus_raises_a_repair_after_two_reads(
    hass_seoul: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    hass = hass_seoul
    entry = bus_site(_closed_port())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Set up all the same: the site's other sources don't wait for the bus.
    assert entry.state is ConfigEntryState.LOADED
    for part in (E101, E102, E103, W201):
        assert state(hass, entry, part, "read_status") == "bus_error"
        assert state(hass, entry, part, "status") == "communication_fault"
        assert state(hass, entry, part, "index") is None
    issue_id = f"meters_bus_unreachable_{entry.entry_id}_{BUS_ID}"
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    await at(hass, freezer, seoul(1, 1, 1))
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "meters_bus_unreachable"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["bus"] == "Collector A"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_silent_meter_raises_a_repair_after_a_day(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    issues = ir.async_get(hass)
    issue_id = f"meters_meter_silent_{site.entry_id}_e103"
    dlt(gateway, OLD).faults.silent = True
    await at(hass, freezer, seoul(1, 12, 1))
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    await at(hass, freezer, seoul(2, 0, 2))
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": "Hanbit Apartments",
        "meter": "Unit 103",
        "address": OLD,
        "status": "no_answer",
    }
    dlt(gateway, OLD).faults.clear()
    await at(hass, freezer, seoul(2, 1, 3))
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_relay_trip_and_close_are_confirmed_by_the_meter(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    relay = entity_id(hass, site, E101, "relay", "switch")
    meter = dlt(gateway, PREPAID)
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": relay}, blocking=True
    )
    assert meter.relay_open
    assert hass.states.get(relay).state == STATE_OFF
    # The next read reports the open relay as the meter's status.
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, E101, "status") == "relay_open"
    assert state(hass, site, E101, "power") == 0
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": relay}, blocking=True
    )
    assert not meter.relay_open
    assert hass.states.get(relay).state == STATE_ON


async def test_relay_refused_with_a_wrong_password(
    hass_seoul: HomeAssistant, gateway: MeterBusServer, caplog: pytest.LogCaptureFixture
) -> None:
    hass = hass_seoul
    meters = bus_meters()
    meters[0] = {**meters[0], "meter_password": "02999999"}
    entry = bus_site(gateway.port, meters)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    relay = entity_id(hass, entry, E101, "relay", "switch")
    raised = await _switch_refused(hass, relay, "turn_off")
    assert raised.value.translation_key == "meters_relay_refused"
    assert not dlt(gateway, PREPAID).relay_open
    assert hass.states.get(relay).state == STATE_ON
    issue_id = f"meters_relay_refused_{entry.entry_id}_e101"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    # Neither secret is written anywhere.
    assert "02999999" not in caplog.text
    assert "02000000" not in caplog.text
    await hass.config_entries.async_unload(entry.entry_id)


async def test_low_credit_is_one_dip_across_a_failed_read(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    events = async_capture_events(hass, "smartcity_ddc_low_credit")
    meter = dlt(gateway, PREPAID)
    # The meter's own credit falls under the threshold (5): one event.
    meter.remaining_money = 4.0
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, E101, "balance") == pytest.approx(4.0)
    assert len(events) == 1
    # A read fails: the balance is unknown (not a ledger's other figure) and
    # the dip has not ended.
    meter.faults.silent = True
    await at(hass, freezer, seoul(1, 2, 1))
    assert state(hass, site, E101, "read_status") == "no_answer"
    assert state(hass, site, E101, "balance") is None
    # The meter answers again, still low: the same dip, no second event.
    meter.faults.clear()
    await at(hass, freezer, seoul(1, 3, 1))
    assert state(hass, site, E101, "balance") == pytest.approx(4.0)
    assert len(events) == 1
    # Topped up above the threshold, then low again: a new dip, a new event.
    meter.remaining_money = 20.0
    await at(hass, freezer, seoul(1, 4, 1))
    meter.remaining_money = 3.0
    await at(hass, freezer, seoul(1, 5, 1))
    assert len(events) == 2
    assert events[1].data["balance"] == pytest.approx(3.0)


async def test_meters_of_a_deleted_bus_get_a_repair_and_no_relay(
    hass_seoul: HomeAssistant, site: MockConfigEntry
) -> None:
    hass = hass_seoul
    relay = entity_id(hass, site, E101, "relay", "switch")
    issue_id = f"meters_meter_unread_{site.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    # The bus is deleted; its meters stay in the site (with their history).
    assert hass.config_entries.async_remove_subentry(site, BUS_ID)
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "meters_meter_unread"
    assert issue.translation_placeholders == {
        "title": site.title,
        "meters": "Unit 101, Unit 102, Unit 103, Unit 201 water",
    }
    # No relay switch for a meter nothing can reach.
    current = hass.states.get(relay)
    assert current is None or current.state == "unavailable"
    assert state(hass, site, E101, "index") == pytest.approx(4321.09)
    # Once the meters are deleted too, nothing is left to report.
    for subentry_id, subentry in list(site.subentries.items()):
        if subentry.subentry_type == "meter" and subentry.data.get("bus"):
            assert hass.config_entries.async_remove_subentry(site, subentry_id)
            await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_closing_a_meter_without_credit_is_not_confirmed(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The meter takes the command but keeps the supply cut: the switch says so."""
    hass = hass_seoul
    meter = dlt(gateway, PREPAID)
    meter.remaining_money = 0.0
    meter.advance(60)
    assert meter.relay_open
    relay = entity_id(hass, site, E101, "relay", "switch")
    raised = await _switch_refused(hass, relay, "turn_on")
    assert raised.value.translation_key == "meters_relay_not_confirmed"
    assert hass.states.get(relay).state == STATE_OFF


async def test_only_switchable_meters_have_a_relay(
    hass_seoul: HomeAssistant, site: MockConfigEntry
) -> None:
    registry_ids = {
        entity.unique_id
        for entity in hass_seoul.data["entity_registry"].entities.values()
        if entity.domain == "switch" and entity.platform == DOMAIN
    }
    assert registry_ids == {f"{site.entry_id}_{E101}_relay"}


async def test_the_bus_is_shared_and_never_a_ddcs_line(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    """Two sites on one gateway share one connection; a DDC's line there is refused."""
    hass = hass_seoul
    first = bus_site(gateway.port, [electricity("e401", "Shop 401", PLAIN)])
    second = bus_site(
        gateway.port, [electricity("e402", "Shop 402", OLD, version=1997)]
    )
    for entry in (first, second):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, first, "electricity_e401", "read_status") == "ok"
    assert state(hass, second, "electricity_e402", "read_status") == "ok"
    assert gateway.open_connections == 1
    pool = line_pool(hass)
    from custom_components.smartcity_ddc.line import (
        LineConfig,
        LineConflictError,
        Transport,
    )

    with pytest.raises(LineConflictError):
        pool.acquire(
            LineConfig(
                transport=Transport.RTU_OVER_TCP, host="127.0.0.1", port=gateway.port
            )
        )
    for entry in (first, second):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_reload_during_a_read_stops_it_and_keeps_what_was_read(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    # Each DL/T645 meter takes a while to answer: a read of the bus takes
    # seconds, and the old entry waits only a moment for it before stopping it.
    for nameplate in (PREPAID, PLAIN, OLD):
        dlt(gateway, nameplate).faults.reply_delay = 0.1
    dlt(gateway, PREPAID).energy = 4330.0
    old = coordinator(site)
    old.work.drain = 0.05
    old_bus = old.buses[BUS_ID].bus
    first = dict(old.bus_results)
    freezer.move_to(seoul(1, 1, 1))
    async_fire_time_changed(hass, seoul(1, 1, 1))
    # Wait until the first meter of the read is done, the read still going.
    for _ in range(200):
        if old.bus_results["e101"] is not first["e101"]:
            break
        await asyncio.sleep(0.02)
    assert old.bus_results["e101"].values["energy"] == 4330.0
    assert old.work.busy
    assert await hass.config_entries.async_reload(site.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert old_bus.retired
    assert not old.work.busy
    # The old read stopped before it reached the third meter.
    assert old.bus_results["e103"] is first["e103"]
    new = coordinator(site)
    assert new is not old
    # The old read's reading of e101 was kept (saved as the old entry
    # unloaded); the new entry read the bus again at setup.
    assert state(hass, site, E101, "index") == pytest.approx(4330.0)
    assert state(hass, site, E101, "readings_today") == 3
    assert state(hass, site, E101, "read_status") == "ok"
    assert state(hass, site, E103, "read_status") == "ok"


async def test_diagnostics_keep_secrets_and_tokens_out(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await hass.services.async_call(
        DOMAIN,
        "record_top_up",
        {"meter": "e101", "amount": 20, "token": "55556666777788889999"},
        blocking=True,
    )
    dlt(gateway, PLAIN).faults.silent = True
    await at(hass, freezer, seoul(1, 1, 1))
    diagnostics = await async_get_config_entry_diagnostics(hass, site)
    # As Home Assistant serves it for download.
    text = json_dumps(diagnostics)
    for secret in (PASSWORD, OPERATOR, "55556666777788889999", "127.0.0.1"):
        assert secret not in text, secret
    meters = diagnostics["meters"]
    assert meters["e102"]["bus_read"]["status"] == "no_answer"
    assert meters["e101"]["credit"]["ledger"]["top_ups"] == 1
    assert meters["e101"]["credit"]["ledger"]["with_token"] == 1
    bus = diagnostics["buses"][BUS_ID]
    assert bus["meters"] == 4
    assert bus["stats"]["answers"] > 0
    assert bus["stats"]["timeouts"] >= 1


async def test_a_bus_on_a_serial_port(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    """A USB RS-485 adapter at 2400 baud (a pseudo-terminal paced at the wire's speed).

    The pseudo-terminals here refuse a parity bit (see the engine's serial
    test), so the port runs 8N2: the same 11-bit characters as 8E1.
    """
    hass = hass_seoul
    async with SerialBridge(
        gateway.port, baudrate=2400, parity="N", stopbits=2, turnaround=0.01
    ) as bridge:
        entry = bus_site(
            0,
            transport="serial",
            serial_port=bridge.path,
            baudrate=2400,
            parity="none",
            stopbits=2,
            reply_timeout=2.0,
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert state(hass, entry, E101, "index") == pytest.approx(4321.09)
        assert state(hass, entry, E101, "balance") == pytest.approx(12.34)
        assert state(hass, entry, E103, "voltage") == pytest.approx(231.0)
        assert state(hass, entry, W201, "index") == pytest.approx(12.345)
        # Diagnostics of a bus on a serial port: its kind, its reads.
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert json_dumps(diagnostics)
        bus = diagnostics["buses"][BUS_ID]
        assert (bus["transport"], bus["meters"]) == ("serial", 4)
        assert diagnostics["meters"]["e103"]["bus_read"]["status"] == "ok"
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_relay_without_an_answer_says_the_meter_did_not_answer(
    hass_seoul: HomeAssistant, site: MockConfigEntry, gateway: MeterBusServer
) -> None:
    hass = hass_seoul
    relay = entity_id(hass, site, E101, "relay", "switch")
    meter = dlt(gateway, PREPAID)
    meter.faults.silent = True
    raised = await _switch_refused(hass, relay, "turn_off")
    assert raised.value.translation_key == "meters_relay_no_answer"
    assert raised.value.translation_placeholders == {"meter": "Unit 101"}
    # Nothing changed, and no answer is not a refusal: no repair about the codes.
    assert not meter.relay_open
    assert hass.states.get(relay).state == STATE_ON
    issue_id = f"meters_relay_refused_{site.entry_id}_e101"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"bad_checksum": True}, "checksum"),
        ({"wrong_address": "000000000099"}, "000000000099"),
    ],
)
async def test_relay_with_a_broken_answer_fails_with_the_error(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    fault: dict[str, object],
    error: str,
) -> None:
    hass = hass_seoul
    relay = entity_id(hass, site, E101, "relay", "switch")
    meter = dlt(gateway, PREPAID)
    for name, setting in fault.items():
        setattr(meter.faults, name, setting)
    raised = await _switch_refused(hass, relay, "turn_off")
    assert raised.value.translation_key == "meters_relay_failed"
    placeholders = raised.value.translation_placeholders
    assert placeholders is not None
    assert placeholders["meter"] == "Unit 101"
    assert error in placeholders["error"].lower()
    assert hass.states.get(relay).state == STATE_ON
    issue_id = f"meters_relay_refused_{site.entry_id}_e101"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_relay_on_an_unreachable_bus_fails(
    hass_seoul: HomeAssistant, site: MockConfigEntry, gateway: MeterBusServer
) -> None:
    hass = hass_seoul
    relay = entity_id(hass, site, E101, "relay", "switch")
    await gateway.stop()
    raised = await _switch_refused(hass, relay, "turn_off")
    assert raised.value.translation_key == "meters_relay_failed"
    assert hass.states.get(relay).state == STATE_ON


async def test_a_meter_with_an_invalid_address_is_named_in_a_repair(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    """An address no flow would take (an old or hand-edited entry): that meter is not read."""
    hass = hass_seoul
    meters = [
        *bus_meters(),
        electricity("e104", "Unit 104", "12345678901234"),
        {
            **bus_meters()[3],
            "meter_id": "w202",
            "name": "Unit 202 water",
            "address": "not an address",
        },
    ]
    entry = bus_site(gateway.port, meters)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"meters_meter_unread_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": entry.title,
        "meters": "Unit 104, Unit 202 water",
    }
    # Never read: no status from the bus, no index; the others read as ever.
    assert state(hass, entry, "electricity_e104", "read_status") is None
    assert state(hass, entry, "electricity_e104", "index") is None
    assert state(hass, entry, "water_w202", "index") is None
    assert state(hass, entry, E102, "read_status") == "ok"
    assert state(hass, entry, W201, "index") == pytest.approx(12.345)
    assert "not valid" in coordinator(entry).last_error["e104"]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "meters",
    [[], [electricity("e104", "Unit 104", "12345678901234")]],
    ids=["no meters", "no readable meter"],
)
async def test_a_bus_without_meters_to_read_is_never_opened(
    hass_seoul: HomeAssistant,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
    meters: list[dict[str, object]],
) -> None:
    hass = hass_seoul
    entry = bus_site(gateway.port, [*meters, {**bus_meters()[1], "bus": "other"}])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    await at(hass, freezer, seoul(1, 1, 1))
    await at(hass, freezer, seoul(1, 2, 1))
    assert gateway.stats.requests == 0
    assert gateway.open_connections == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_read_due_while_the_last_one_runs_is_skipped(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site_coordinator = coordinator(site)
    caplog.set_level("DEBUG", logger="custom_components.smartcity_ddc")
    # Two reads due at once (the schedule's and a slow first read): the
    # meters are asked once.
    before = gateway.stats.requests
    await asyncio.gather(
        site_coordinator.async_read_bus(BUS_ID),
        site_coordinator.async_read_bus(BUS_ID),
    )
    twice = gateway.stats.requests - before
    assert "the previous read of bus Collector A is still running" in caplog.text
    before = gateway.stats.requests
    await site_coordinator.async_read_bus(BUS_ID)
    once = gateway.stats.requests - before
    assert once > 0
    assert twice == once


async def test_a_read_after_the_site_unloaded_asks_nothing(
    hass_seoul: HomeAssistant, site: MockConfigEntry, gateway: MeterBusServer
) -> None:
    """A timer that fired as the site unloaded finds no bus: no request, no error."""
    hass = hass_seoul
    old = coordinator(site)
    assert await hass.config_entries.async_unload(site.entry_id)
    await hass.async_block_till_done()
    before = gateway.stats.requests
    await old.async_read_bus(BUS_ID)
    assert gateway.stats.requests == before


async def test_a_negative_volume_is_refused_and_the_index_stays(
    hass_seoul: HomeAssistant,
    site: MockConfigEntry,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A meter whose register wrapped below zero (signed volume): no reading from it."""
    hass = hass_seoul
    meter = mbus(gateway)
    meter.volume_coding = "int"
    meter.volume_m3 = Decimal(-5)
    await at(hass, freezer, seoul(1, 1, 1))
    assert state(hass, site, W201, "index") == pytest.approx(12.345)
    assert state(hass, site, W201, "readings_today") == 1
    assert coordinator(site).rejected["w201"]["negative"] == 1
    assert "reading of meter w201 refused (negative)" in caplog.text
    # The meter is at fault, and says so; the next sound answer clears it.
    assert state(hass, site, W201, "read_status") == "bad_data"
    assert state(hass, site, W201, "status") == "meter_fault"
    meter.volume_m3 = Decimal("12.5")
    await at(hass, freezer, seoul(1, 2, 1))
    assert state(hass, site, W201, "read_status") == "ok"
    assert state(hass, site, W201, "status") == "normal"
    assert state(hass, site, W201, "index") == pytest.approx(12.5)


class _NoVolumeMeter(MBusWaterMeter):
    """An M-Bus meter that reports no volume (a heat meter, or one set up wrong)."""

    def records(self) -> list[bytes]:
        """Every record but the volume."""
        return super().records()[1:]


async def test_an_mbus_meter_without_a_volume_is_a_meter_fault(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    hass = hass_seoul
    gateway.add(_NoVolumeMeter(ident="87654321", primary=6))
    water = {**bus_meters()[3], "meter_id": "w202", "name": "Unit 202 water"}
    entry = bus_site(gateway.port, [{**water, "address": "6"}])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, entry, "water_w202", "read_status") == "bad_data"
    assert state(hass, entry, "water_w202", "status") == "meter_fault"
    assert state(hass, entry, "water_w202", "index") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_mbus_meter_reports_its_own_credit(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    hass = hass_seoul
    mbus(gateway).credit = Decimal("30.25")
    water = {**bus_meters()[3], "prepaid": "money", "tariff": 2.0, "low_credit": 5}
    entry = bus_site(gateway.port, [water])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, entry, W201, "index") == pytest.approx(12.345)
    # No top-up was recorded: the balance is the meter's own.
    assert state(hass, entry, W201, "balance") == pytest.approx(30.25)
    assert state(hass, entry, W201, "low_credit", "binary_sensor") == STATE_OFF
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_meter_prepaid_in_kwh_shows_its_remaining_kwh(
    hass_seoul: HomeAssistant, gateway: MeterBusServer
) -> None:
    hass = hass_seoul
    meter = dlt(gateway, PREPAID)
    meter.prepaid = "energy"
    meter.remaining_energy = 42.5
    meters = bus_meters()[:1]
    meters[0] = {**meters[0], "prepaid": "kwh", "low_credit": 10}
    entry = bus_site(gateway.port, meters)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, entry, E101, "balance") == pytest.approx(42.5)
    balance = hass.states.get(entity_id(hass, entry, E101, "balance"))
    assert balance is not None
    assert balance.attributes["unit_of_measurement"] == "kWh"
    assert balance.attributes["device_class"] == "energy_storage"
    assert balance.attributes["state_class"] == "measurement"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_days_left_unknown_for_money_without_a_tariff(
    hass_seoul: HomeAssistant,
    gateway: MeterBusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The meter reports its money, but kWh a day can't be priced: no days left, no error."""
    hass = hass_seoul
    meters = bus_meters()[:1]
    meters[0] = {**meters[0], "tariff": None}
    entry = bus_site(gateway.port, meters)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    meter = dlt(gateway, PREPAID)
    # A week of 10 kWh a day, read each midnight.
    for day in range(2, 10):
        meter.energy += 10
        await at(hass, freezer, seoul(day, 0, 1))
    assert state(hass, entry, E101, "usage_avg_7d") == pytest.approx(10, abs=0.1)
    assert state(hass, entry, E101, "balance") == pytest.approx(12.34)
    assert state(hass, entry, E101, "days_left") is None
    assert state(hass, entry, E101, "read_status") == "ok"
    await hass.config_entries.async_unload(entry.entry_id)

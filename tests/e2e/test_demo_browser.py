"""End to end: the demo in Debian's headless Chromium through Playwright, driven like a person would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
import re
import shutil
import socket

from playwright.async_api import expect
import pytest

from devtools.demo import (
    ELECTRICITY,
    MBUS,
    PASSWORD,
    USERNAME,
    BusMeter,
    Demo,
    meter_statistics,
)
from devtools.frontend import TIMEOUT, HomeAssistantUI, chromium_page

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "e2e"
LIGHT = "switch.interior_light_1"
FOLLOW = "switch.interior_light_1_follow_schedule"
METERS = ("101동 1203호", "101동 1502호", "Shelter fountain")
METER_IDS = ("apt101_1203", "apt101_1502", "shelter_tap")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Wait (bounded) for something the browser set in motion to reach the simulator."""
    for _ in range(int(limit * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {limit} s: {what}")


@pytest.fixture
async def demo(socket_enabled: None, tmp_path: Path) -> AsyncIterator[Demo]:
    """The whole demo: simulator, MariaDB, and a real hass process."""
    running = Demo(
        tmp_path, _free_port(), _free_port(), feed_interval=5, bus_lifetime=900
    )
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
        log = running.config_dir / "home-assistant.log"
        if log.exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, ARTIFACTS / "home-assistant.log")


@pytest.fixture
async def ui(demo: Demo) -> AsyncIterator[HomeAssistantUI]:
    """A logged-in browser tab on the demo."""
    async with chromium_page(1280, 900) as page:
        ui = HomeAssistantUI(page, demo.url)
        try:
            await ui.login(USERNAME, PASSWORD)
            yield ui
        finally:
            # What the browser showed last: the first thing to look at when a step failed.
            await ui.save_artifacts(ARTIFACTS)


async def _checked(ui: HomeAssistantUI, entity_id: str, checked: bool) -> None:
    """Wait until the entity's toggle on the dashboard shows this state."""
    await expect(await ui.toggle(entity_id)).to_have_js_property(
        "checked", checked, timeout=TIMEOUT
    )


async def _meter_entity(
    ui: HomeAssistantUI, demo: Demo, meter: BusMeter, key: str
) -> str:
    """Return the entity id of a bus meter's entity by its key."""
    unique_id = f"{demo.entries['water']}_{meter.medium}_{meter.meter_id}_{key}"
    for entity in await ui.call_ws({"type": "config/entity_registry/list"}):
        if entity.get("unique_id") == unique_id:
            return str(entity["entity_id"])
    raise AssertionError(f"no entity {unique_id}")


async def _state(ui: HomeAssistantUI, entity_id: str) -> str:
    """Return an entity's state as the frontend has it."""
    return str(
        await ui.page.evaluate(
            "id => document.querySelector('home-assistant').hass.states[id]?.state",
            entity_id,
        )
    )


async def _shown_number(ui: HomeAssistantUI, entity_id: str) -> float:
    """Return the number the dashboard row of this entity shows (thousands separators and unit dropped)."""
    text = await ui.page.locator(
        "hui-sensor-entity-row, hui-simple-entity-row"
    ).evaluate_all(
        "(rows, id) => rows.find(row => row._config?.entity === id)?.shadowRoot"
        "?.querySelector('hui-generic-entity-row')?.textContent ?? ''",
        entity_id,
    )
    found = re.findall(r"\d[\d,]*(?:\.\d+)?", text)
    assert found, (entity_id, text)
    return float(found[-1].replace(",", ""))


async def test_shelter_dashboard_light_and_water_graph(
    demo: Demo, ui: HomeAssistantUI
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await ui.navigate("/smart-shelter/shelter")
    await ui.text_present("Interior light 1")
    await ui.text_present("Air quality")
    await ui.screenshot(ARTIFACTS / "shelter-dashboard.png")

    # The light follows its schedule: the DDC would ignore the command, and the UI says so.
    assert demo.shelter.get("holding", 352) == 1
    await (await ui.toggle(LIGHT)).click()
    await ui.text_present("follows its schedule")
    await ui.screenshot(ARTIFACTS / "power-rule-refused.png")
    assert demo.shelter.get("coil", 368) == 0

    # Take manual control, then switch the light on.
    await (await ui.toggle(FOLLOW)).click()
    await _until(
        lambda: demo.shelter.get("holding", 352) == 0, "follow schedule off on the DDC"
    )
    # The frontend shows a refused toggle as on for a moment, then springs it back.
    await _checked(ui, LIGHT, False)
    await (await ui.toggle(LIGHT)).click()
    await _until(lambda: demo.shelter.get("coil", 368) == 1, "coil 368 on")
    await _until(lambda: demo.shelter.get("input", 821) == 1, "status 821 on")
    await _checked(ui, LIGHT, True)
    await ui.screenshot(ARTIFACTS / "light-on.png")

    # The meters view draws every meter's usage from the long-term statistics.
    await ui.navigate("/smart-shelter/water")
    for meter in (*METERS, ELECTRICITY.name, MBUS.name):
        await ui.text_present(meter)
    cards = ui.page.locator("hui-statistics-graph-card")
    await expect(cards).to_have_count(3, timeout=TIMEOUT)
    for card in await cards.all():
        await expect(
            card.locator("ha-chart-base, statistics-chart").first
        ).to_be_attached(timeout=TIMEOUT)
    await asyncio.sleep(2)  # the chart animates in
    await ui.screenshot(ARTIFACTS / "water-usage.png")
    # Through the shadow roots (document.body.innerText would not see into them).
    await expect(ui.page.get_by_text("No statistics")).to_have_count(0)

    await _bus_meters(demo, ui)

    # The Energy dashboard shows the same meters as its water sources and the
    # prepaid meter as grid consumption, valid ones.
    # Newer releases give each medium a view of its own (/energy/water,
    # /energy/electricity); older ones show everything on /energy, whatever
    # follows it in the address.
    for view, meters, card in (
        ("water", (*METERS, MBUS.name), "hui-energy-water-graph-card"),
        ("electricity", (ELECTRICITY.name,), "hui-energy-usage-graph-card"),
    ):
        await ui.navigate(f"/energy/{view}")
        for meter in meters:
            await ui.text_present(meter)
        await expect(ui.page.locator(card)).to_have_count(1, timeout=TIMEOUT)
        await asyncio.sleep(2)  # the chart animates in
        await ui.screenshot(ARTIFACTS / f"energy-{view}.png")
    prefs = await ui.call_ws({"type": "energy/get_prefs"})
    water = [
        source["stat_energy_from"]
        for source in prefs["energy_sources"]
        if source["type"] == "water"
    ]
    grid = [
        flow["stat_energy_from"]
        for source in prefs["energy_sources"]
        if source["type"] == "grid"
        for flow in source.get("flow_from", [source])
    ]
    assert water == sorted(
        [f"smartcity_ddc:water_{meter_id}" for meter_id in METER_IDS]
        + [f"smartcity_ddc:water_{MBUS.meter_id}"]
    )
    assert grid == [f"smartcity_ddc:electricity_{ELECTRICITY.meter_id}"]
    assert {"water": water, "electricity": grid} == meter_statistics()
    issues = (await ui.call_ws({"type": "energy/validate"}))["energy_sources"]
    assert all(not found for found in issues), issues


async def _bus_meters(demo: Demo, ui: HomeAssistantUI) -> None:
    """The bus meters on the meters view show what the simulated meters hold; the relay switches."""
    balance = await _meter_entity(ui, demo, ELECTRICITY, "balance")
    index = await _meter_entity(ui, demo, ELECTRICITY, "index")
    water = await _meter_entity(ui, demo, MBUS, "index")
    relay = await _meter_entity(ui, demo, ELECTRICITY, "relay")
    # Read once a minute: the meter's credit and index moved on a little since.
    # Shown rounded to the cent and to 10 Wh / 1 L.
    shown = await _shown_number(ui, balance)
    credit = demo.electricity.remaining_money
    assert credit - 0.01 <= shown <= credit + 10, (shown, credit)
    assert shown < 12_000
    shown = await _shown_number(ui, index)
    energy = demo.electricity.energy
    assert energy - 0.1 <= shown <= energy + 0.01, (shown, energy)
    shown = await _shown_number(ui, water)
    litres = demo.mbus.litres()
    assert litres / 1000 - 0.05 <= shown <= litres / 1000, (shown, litres)
    for key, meter, expected in (
        ("read_status", ELECTRICITY, "ok"),
        ("read_status", MBUS, "ok"),
        ("low_credit", ELECTRICITY, "off"),
    ):
        assert await _state(ui, await _meter_entity(ui, demo, meter, key)) == expected
    days_left = float(
        await _state(ui, await _meter_entity(ui, demo, ELECTRICITY, "days_left"))
    )
    assert 3 < days_left < 30
    await ui.screenshot(ARTIFACTS / "bus-meters.png")

    # Cut the supply from the dashboard: the meter gets the trip command with its codes.
    await _checked(ui, relay, True)
    await (await ui.toggle(relay)).click()
    await _until(lambda: demo.electricity.relay_open, "relay open on the meter")
    await _checked(ui, relay, False)
    await (await ui.toggle(relay)).click()
    await _until(lambda: not demo.electricity.relay_open, "relay closed on the meter")
    await _checked(ui, relay, True)
    assert demo.electricity.commands[0] == 0x1A  # trip
    assert demo.electricity.commands[-1] in (0x1B, 0x1C)  # close

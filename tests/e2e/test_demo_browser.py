"""End to end: the demo in Debian's headless Chromium through Playwright, driven like a person would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
import shutil
import socket

from playwright.async_api import expect
import pytest

from devtools.demo import PASSWORD, USERNAME, Demo
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
    running = Demo(tmp_path, _free_port(), _free_port(), feed_interval=5)
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

    # The water view draws every meter's usage from the long-term statistics.
    await ui.navigate("/smart-shelter/water")
    for meter in METERS:
        await ui.text_present(meter)
    cards = ui.page.locator("hui-statistics-graph-card")
    await expect(cards).to_have_count(2, timeout=TIMEOUT)
    for card in await cards.all():
        await expect(
            card.locator("ha-chart-base, statistics-chart").first
        ).to_be_attached(timeout=TIMEOUT)
    await asyncio.sleep(2)  # the chart animates in
    await ui.screenshot(ARTIFACTS / "water-usage.png")
    # Through the shadow roots (document.body.innerText would not see into them).
    await expect(ui.page.get_by_text("No statistics")).to_have_count(0)

    # The Energy dashboard shows the same meters as its water sources, valid ones.
    await ui.navigate("/energy")
    for meter in METERS:
        await ui.text_present(meter)
    await expect(ui.page.locator("hui-energy-water-graph-card")).to_have_count(
        1, timeout=TIMEOUT
    )
    await asyncio.sleep(2)  # the chart animates in
    await ui.screenshot(ARTIFACTS / "energy.png")
    prefs = await ui.call_ws({"type": "energy/get_prefs"})
    water = [
        source["stat_energy_from"]
        for source in prefs["energy_sources"]
        if source["type"] == "water"
    ]
    assert water == sorted(f"smartcity_ddc:water_{meter_id}" for meter_id in METER_IDS)
    issues = (await ui.call_ws({"type": "energy/validate"}))["energy_sources"]
    assert all(not found for found in issues), issues

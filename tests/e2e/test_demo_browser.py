"""End to end: the demo in headless Chromium, driven like a person would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
import shutil
import socket

import pytest

from devtools.browser import Browser, HomeAssistantUI, toggle_position
from devtools.demo import PASSWORD, USERNAME, Demo

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "e2e"
LIGHT = "switch.interior_light_1"
FOLLOW = "switch.interior_light_1_follow_schedule"


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
    async with Browser(1280, 900) as browser:
        page = HomeAssistantUI(await browser.new_page(), demo.url)
        await page.login(USERNAME, PASSWORD)
        try:
            yield page
        finally:
            # What the browser showed last: the first thing to look at when a step failed.
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.page.screenshot(ARTIFACTS / "last.png")
            (ARTIFACTS / "console.txt").write_text(
                "\n".join(page.page.console()), "utf-8"
            )
            (ARTIFACTS / "last.txt").write_text(
                str(
                    await page.page.evaluate(
                        "[document.location.href, ...window.__deepQueryAll('*')"
                        ".filter(el => !el.children.length).map(window.__deepText)"
                        ".filter(Boolean)].join('\\n')"
                    )
                ),
                "utf-8",
            )


def _switch_js(entity_id: str) -> str:
    """JavaScript for the switch element of an entity's toggle row."""
    return (
        "window.__deepQueryAll('hui-toggle-entity-row')"
        f".find(r => r._config && r._config.entity === '{entity_id}')"
        ".shadowRoot.querySelector('ha-entity-toggle').shadowRoot.querySelector('ha-switch')"
    )


async def _click_toggle(ui: HomeAssistantUI, entity_id: str) -> None:
    """Click an entity's toggle with the mouse, like a person."""
    await ui.page.wait_for(
        "window.__deepQueryAll('hui-toggle-entity-row')"
        f".some(r => r._config && r._config.entity === '{entity_id}')"
    )
    await toggle_position(ui, entity_id)  # scrolls it into view
    await asyncio.sleep(0.3)  # let the scroll settle before the click lands
    position = await toggle_position(ui, entity_id)
    assert position is not None, entity_id
    await ui.page.click(position[0], position[1])


async def test_shelter_dashboard_light_and_water_graph(
    demo: Demo, ui: HomeAssistantUI
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await ui.navigate("/smart-shelter/shelter")
    await ui.text_present("Interior light 1")
    await ui.text_present("Air quality")
    await ui.page.screenshot(ARTIFACTS / "shelter-dashboard.png")

    # The light follows its schedule: the DDC would ignore the command, and the UI says so.
    assert demo.shelter.get("holding", 352) == 1
    await _click_toggle(ui, LIGHT)
    await ui.text_present("follows its schedule")
    await ui.page.screenshot(ARTIFACTS / "power-rule-refused.png")
    assert demo.shelter.get("coil", 368) == 0

    # Take manual control, then switch the light on.
    await _click_toggle(ui, FOLLOW)
    await _until(
        lambda: demo.shelter.get("holding", 352) == 0, "follow schedule off on the DDC"
    )
    # The frontend shows a refused toggle as on for a moment, then springs it back.
    await ui.page.wait_for(f"{_switch_js(LIGHT)}.checked === false")
    await _click_toggle(ui, LIGHT)
    await _until(lambda: demo.shelter.get("coil", 368) == 1, "coil 368 on")
    await _until(lambda: demo.shelter.get("input", 821) == 1, "status 821 on")
    await ui.page.wait_for(f"{_switch_js(LIGHT)}.checked === true")
    await ui.page.screenshot(ARTIFACTS / "light-on.png")

    # The water view draws every meter's usage from the long-term statistics.
    await ui.navigate("/smart-shelter/water")
    for meter in ("101동 1203호", "101동 1502호", "Shelter fountain"):
        await ui.text_present(meter)
    await ui.page.wait_for(
        "window.__deepQueryAll('hui-statistics-graph-card').length === 2"
    )
    await ui.page.wait_for(
        "window.__deepQueryAll('hui-statistics-graph-card').every(card => "
        "window.__deepQueryAll('ha-chart-base, statistics-chart', card.shadowRoot).length > 0)"
    )
    await asyncio.sleep(2)  # the chart animates in
    await ui.page.screenshot(ARTIFACTS / "water-usage.png")
    assert "No statistics" not in (
        await ui.page.evaluate("document.body.innerText") or ""
    )

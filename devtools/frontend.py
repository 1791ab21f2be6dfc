"""Home Assistant's frontend in Debian's headless Chromium, driven through Playwright.

Playwright's async API launches the system Chromium (`executable_path`), so
no browser is downloaded. Its CSS locators pierce open shadow roots, which
is where Home Assistant's web components keep everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
import re
import shutil
import time
from typing import Any

from playwright.async_api import ConsoleMessage, Error, Locator, Page, async_playwright

#: Chromium flags; Playwright adds --headless and its own automation flags.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--hide-scrollbars",
    # Everything but loopback fails fast: the demo needs nothing else.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
#: Milliseconds a step may take (Home Assistant's first page load is the slowest).
TIMEOUT = 30_000

# The visible text of the page, leaf by leaf, through every shadow root.
PAGE_TEXT = """() => {
  const lines = [document.location.href];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (!el.children.length && !['STYLE', 'SCRIPT', 'TEMPLATE'].includes(el.tagName)) {
        const text = (el.innerText || el.textContent || '').trim();
        if (text) lines.push(text);
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return lines.join('\\n');
}"""


class BrowserError(Exception):
    """The browser or a page did not do what was asked in time."""


def chromium_executable() -> str | None:
    """Return Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.asynccontextmanager
async def chromium_page(
    width: int = 1280, height: int = 900, time_zone: str = "Asia/Seoul"
) -> AsyncIterator[Page]:
    """Launch the system Chromium with a fresh profile and yield one page (in the site's time zone)."""
    executable = chromium_executable()
    if executable is None:
        raise BrowserError("chromium is not installed (scripts/setup installs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context(
                viewport={"width": width, "height": height}, timezone_id=time_zone
            )
            context.set_default_timeout(TIMEOUT)
            yield await context.new_page()
        finally:
            await browser.close()


class HomeAssistantUI:
    """What a person does in Home Assistant's frontend, as a test can do it."""

    def __init__(self, page: Page, url: str) -> None:
        """Drive `page` against the instance at `url`, recording its console."""
        self.page = page
        self.url = url
        self._console: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        """Keep a console message."""
        self._console.append(f"console.{message.type}: {message.text}")

    def _on_page_error(self, error: Error) -> None:
        """Keep an uncaught error."""
        name = f"{error.name}: " if error.name else ""
        self._console.append(
            f"uncaught: {name}{error.message} {error.stack or ''}".strip()
        )

    def console(self) -> list[str]:
        """Return (and forget) the console messages and uncaught errors so far."""
        lines, self._console = self._console, []
        return lines

    async def login(self, username: str, password: str) -> None:
        """Log in through the login form, like a person."""
        await self.page.goto(f"{self.url}/")
        form = self.page.locator("ha-authorize")
        await form.locator("input").nth(1).wait_for()
        await form.locator("input").nth(0).fill(username)
        await form.locator("input").nth(1).fill(password)
        await form.get_by_role(
            "button", name=re.compile("log in|로그인", re.IGNORECASE)
        ).click()
        await self.page.wait_for_function(
            "document.querySelector('home-assistant')?.hass?.connected === true"
        )

    async def call_ws(self, message: dict[str, Any]) -> Any:
        """Call the websocket API through the logged-in frontend."""
        return await self.page.evaluate(
            "message => document.querySelector('home-assistant').hass.callWS(message)",
            message,
        )

    async def navigate(self, path: str) -> None:
        """Navigate inside the app, as its own links do (keeps the session)."""
        await self.page.evaluate(
            "path => { history.pushState(null, '', path);"
            " window.dispatchEvent(new CustomEvent('location-changed', {detail: {replace: false}})); }",
            path,
        )

    async def text_present(self, text: str) -> None:
        """Wait until `text` is shown somewhere on the page."""
        await self.page.get_by_text(text).filter(visible=True).first.wait_for()

    async def toggle(self, entity_id: str) -> Locator:
        """Return the switch of the dashboard row that toggles this entity (waits for the row)."""
        rows = self.page.locator("hui-toggle-entity-row")
        deadline = time.monotonic() + TIMEOUT / 1000
        while (
            index := await rows.evaluate_all(
                "(rows, id) => rows.findIndex(row => row._config?.entity === id)",
                entity_id,
            )
        ) < 0:
            if time.monotonic() > deadline:
                raise BrowserError(f"no toggle row for {entity_id}")
            await asyncio.sleep(0.1)
        return rows.nth(index).locator("ha-switch")

    async def device_id(self, name: str) -> str:
        """Return the id of the device with this name."""
        devices = await self.call_ws({"type": "config/device_registry/list"})
        for device in devices:
            if (device.get("name_by_user") or device.get("name")) == name:
                return str(device["id"])
        raise BrowserError(f"no device named {name!r}")

    async def save_artifacts(self, folder: Path, name: str = "last") -> None:
        """Keep what the page shows: a screenshot, its text and the console so far."""
        folder.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(
            str(await self.page.evaluate(PAGE_TEXT)), "utf-8"
        )
        (folder / "console.txt").write_text("\n".join(self.console()), "utf-8")

    async def screenshot(self, path: Path) -> None:
        """Save the viewport as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=path)

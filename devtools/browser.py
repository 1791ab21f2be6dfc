"""Headless Debian Chromium driven over the DevTools protocol (no downloaded browser).

Enough of the protocol for end-to-end tests and screenshots: open a page,
navigate, evaluate JavaScript (Home Assistant's frontend lives in shadow DOM,
so tests reach into it with JS), click at coordinates and capture PNGs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
from pathlib import Path
import re
import shutil
import tempfile
import time
from types import TracebackType
from typing import Any, Self

import aiohttp

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    # Everything but loopback fails fast: the demo needs nothing else.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


class BrowserError(Exception):
    """The browser or a page did not do what was asked in time."""


class Page:
    """One browser tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap a tab's DevTools websocket."""
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Dispatch answers to their callers and queue events."""
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self._events.put_nowait(data)

    async def send(
        self, method: str, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        """Send one DevTools command and return its result."""
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[message_id] = future
        await self._ws.send_json({"id": message_id, "method": method, "params": params})
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def goto(self, url: str, timeout: float = 30) -> None:
        """Navigate and wait for the load event."""
        while not self._events.empty():
            self._events.get_nowait()
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(
                    self._events.get(), deadline - time.monotonic()
                )
            except TimeoutError:
                break
            if event["method"] == "Page.loadEventFired":
                return
        raise BrowserError(f"{url} did not load within {timeout} s")

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript (awaiting promises) and return its JSON value."""
        result = await self.send(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise BrowserError(
                f"JavaScript failed: {result['exceptionDetails'].get('text')}: {expression[:200]}"
            )
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate until the expression is truthy; return its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(BrowserError):
                last = await self.evaluate(expression)
                if last:
                    return last
            await asyncio.sleep(0.25)
        raise BrowserError(
            f"not true within {timeout} s (last {last!r}): {expression[:300]}"
        )

    def console(self) -> list[str]:
        """Return (and forget) the console messages and uncaught errors since the last navigation."""
        lines: list[str] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                text = " ".join(
                    str(arg.get("value", arg.get("description", "")))
                    for arg in params.get("args", [])
                )
                lines.append(f"console.{params.get('type')}: {text}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exception = details.get("exception", {})
                lines.append(
                    f"uncaught: {exception.get('description') or details.get('text')}"
                    f" {json.dumps(exception.get('preview', {}).get('properties', []))[:1000]}"
                )
        return lines

    async def click(self, x: float, y: float) -> None:
        """Click with the mouse at page coordinates."""
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=x,
                y=y,
                button="left",
                clickCount=1,
            )

    async def type_text(self, text: str) -> None:
        """Type into the focused element."""
        await self.send("Input.insertText", text=text)

    async def screenshot(self, path: Path) -> None:
        """Save the viewport as a PNG."""
        result = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))

    async def close(self) -> None:
        """Close the tab's connection."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


class Browser:
    """A headless Chromium process with its own throwaway profile."""

    def __init__(
        self, width: int = 1280, height: int = 900, time_zone: str = "Asia/Seoul"
    ) -> None:
        """Prepare; `start` launches the browser (in the site's time zone)."""
        self._size = (width, height)
        self._time_zone = time_zone
        self._process: asyncio.subprocess.Process | None = None
        self._profile = ""
        self._session: aiohttp.ClientSession | None = None
        self._endpoint = ""

    @staticmethod
    def executable() -> str | None:
        """Return Debian's chromium, if installed."""
        return shutil.which("chromium") or shutil.which("chromium-browser")

    async def start(self) -> None:
        """Launch Chromium and find its DevTools endpoint."""
        executable = self.executable()
        if executable is None:
            raise BrowserError("chromium is not installed (scripts/setup installs it)")
        self._profile = tempfile.mkdtemp(prefix="smartcity-chromium-")
        self._process = await asyncio.create_subprocess_exec(
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile}",
            f"--window-size={self._size[0]},{self._size[1]}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TZ": self._time_zone},
        )
        assert self._process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = await asyncio.wait_for(
                self._process.stderr.readline(), deadline - time.monotonic()
            )
            if not line:
                break
            if match := re.search(rb"DevTools listening on (ws://\S+)", line):
                self._endpoint = (
                    match[1].decode().split("/devtools/")[0].replace("ws://", "http://")
                )
                break
        if not self._endpoint:
            raise BrowserError("chromium did not start its DevTools endpoint")
        # Keep draining stderr so the browser never blocks on a full pipe.
        asyncio.get_running_loop().create_task(self._drain(self._process.stderr))
        self._session = aiohttp.ClientSession()

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    async def new_page(self) -> Page:
        """Open a new tab."""
        assert self._session is not None
        async with self._session.put(
            f"{self._endpoint}/json/new?about:blank"
        ) as response:
            target = await response.json()
        ws = await self._session.ws_connect(
            target["webSocketDebuggerUrl"], max_msg_size=0
        )
        page = Page(ws)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            width=self._size[0],
            height=self._size[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        return page

    async def stop(self) -> None:
        """Close the browser and delete its profile."""
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)

    async def __aenter__(self) -> Self:
        """Start the browser."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the browser."""
        await self.stop()


# Home Assistant's frontend is web components all the way down; this finds
# elements through every shadow root, like a piercing selector.
DEEP_QUERY = """
window.__deepQueryAll = (selector, root = document) => {
  const found = [];
  const walk = (node) => {
    found.push(...node.querySelectorAll(selector));
    for (const el of node.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
  };
  walk(root);
  return found;
};
window.__deepText = (node) => (node.innerText || node.textContent || '').trim();
true
"""


class HomeAssistantUI:
    """What a person does in Home Assistant's frontend, as a test can do it."""

    def __init__(self, page: Page, url: str) -> None:
        """Drive `page` against the instance at `url`."""
        self.page = page
        self.url = url

    async def login(self, username: str, password: str) -> None:
        """Log in through the login form, like a person."""
        await self.page.goto(f"{self.url}/")
        await self.page.wait_for(
            "document.querySelector('ha-authorize') !== null", timeout=60
        )
        await self.page.evaluate(DEEP_QUERY)
        await self.page.wait_for(
            "window.__deepQueryAll('input').length >= 2", timeout=30
        )
        for index, text in ((0, username), (1, password)):
            await self.page.evaluate(f"window.__deepQueryAll('input')[{index}].focus()")
            await self.page.type_text(text)
        find_button = (
            "window.__deepQueryAll('ha-button, mwc-button, button')"
            ".find(b => /log in|로그인/i.test(window.__deepText(b) || b.getAttribute('label') || ''))"
        )
        await self.page.wait_for(f"!!({find_button})", timeout=30)
        await self.page.evaluate(f"{find_button}.click(); true")
        await self.page.wait_for(
            "document.querySelector('home-assistant')?.hass?.connected === true",
            timeout=60,
        )
        await self.page.evaluate(DEEP_QUERY)

    async def call_ws(self, message: dict[str, Any]) -> Any:
        """Call the websocket API through the logged-in frontend."""
        return await self.page.evaluate(
            f"document.querySelector('home-assistant').hass.callWS({json.dumps(message)})"
        )

    async def navigate(
        self, path: str, ready: str = "true", timeout: float = 30
    ) -> None:
        """Navigate inside the app (keeps the session) and wait until `ready` is true."""
        await self.page.evaluate(
            f"history.pushState(null, '', {json.dumps(path)});"
            "window.dispatchEvent(new CustomEvent('location-changed', {detail: {replace: false}})); true"
        )
        await self.page.evaluate(DEEP_QUERY)
        await self.page.wait_for(ready, timeout=timeout)

    async def text_present(self, text: str, timeout: float = 30) -> None:
        """Wait until some element's text contains `text`."""
        await self.page.wait_for(
            f"window.__deepQueryAll('*').some(el => !el.children.length && window.__deepText(el).includes({json.dumps(text)}))",
            timeout=timeout,
        )

    async def device_id(self, name: str) -> str:
        """Return the id of the device with this name."""
        devices = await self.call_ws({"type": "config/device_registry/list"})
        for device in devices:
            if (device.get("name_by_user") or device.get("name")) == name:
                return str(device["id"])
        raise BrowserError(f"no device named {name!r}")


async def toggle_position(
    ui: HomeAssistantUI, entity_id: str
) -> tuple[float, float, bool] | None:
    """Return where an entity's toggle is on screen and whether it is on (scrolls it into view)."""
    result = await ui.page.evaluate(
        f"""(() => {{
  const row = window.__deepQueryAll('hui-toggle-entity-row')
    .find(r => r._config && r._config.entity === {json.dumps(entity_id)});
  if (!row) return null;
  const toggle = window.__deepQueryAll('ha-switch', row.shadowRoot || row)[0];
  if (!toggle) return null;
  toggle.scrollIntoView({{block: 'center'}});
  const box = toggle.getBoundingClientRect();
  return [box.x + box.width / 2, box.y + box.height / 2, !!toggle.checked];
}})()"""
    )
    if result is None:
        return None
    x, y, on = result
    return float(x), float(y), bool(on)

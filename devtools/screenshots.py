"""Bring up the demo, log in with headless Chromium (through Playwright) and save README screenshots.

Run with `scripts/screenshots`; PNGs go to docs/images/.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import tempfile

from devtools.demo import PASSWORD, ROOT, USERNAME, Demo
from devtools.frontend import HomeAssistantUI, chromium_page

SETTLE = 2.5  # seconds for cards and charts to finish drawing before a capture


async def main(out: Path, port: int, modbus_port: int) -> None:
    """Capture the pages the README shows."""
    with tempfile.TemporaryDirectory(prefix="smartcity-demo-") as run_dir:
        demo = Demo(Path(run_dir), port, modbus_port)
        try:
            await demo.start()
            async with chromium_page(1280, 900) as page:
                ui = HomeAssistantUI(page, demo.url)
                await ui.login(USERNAME, PASSWORD)
                await ui.navigate("/smart-shelter/shelter")
                await ui.text_present("Air quality")
                await asyncio.sleep(SETTLE)
                await ui.screenshot(out / "dashboard-shelter.png")
                # A power command to a light that follows its schedule, as a person would try it.
                await (await ui.toggle("switch.interior_light_1")).click()
                await ui.text_present("follows its schedule")
                await asyncio.sleep(1)  # the toast fades in
                await ui.screenshot(out / "power-rule.png")
                # The refusal's toast would otherwise cover the next page.
                await page.get_by_text("follows its schedule").first.wait_for(
                    state="hidden", timeout=30_000
                )
                await ui.navigate("/smart-shelter/water")
                await ui.text_present("M-Bus water")
                await asyncio.sleep(SETTLE)
                await ui.screenshot(out / "dashboard-water.png")
                cooler = await ui.device_id("Cooler/heater")
                await ui.navigate(f"/config/devices/device/{cooler}")
                await ui.text_present("Follow schedule")
                await asyncio.sleep(SETTLE)
                await ui.screenshot(out / "device-cooler.png")
                hub = await ui.device_id("DDC 1 @ 127.0.0.1")
                await ui.navigate(f"/config/devices/device/{hub}")
                await ui.text_present("Device info")
                await asyncio.sleep(SETTLE)
                await ui.screenshot(out / "device-ddc.png")
        finally:
            await demo.stop()
    print(f"screenshots saved in {out}")


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--port", type=int, default=18124)
    parser.add_argument("--modbus-port", type=int, default=15021)
    args = parser.parse_args()
    asyncio.run(main(Path(args.out), args.port, args.modbus_port))


if __name__ == "__main__":
    cli()

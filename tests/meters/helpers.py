"""Helpers of the water-meter Home Assistant tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.smartcity_ddc.const import DOMAIN


async def at(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: datetime
) -> None:
    """Move the clock to `when` and let every timer that fell due run."""
    freezer.move_to(when)
    async_fire_time_changed(hass, when)
    # The poll timer runs as a background task.
    await hass.async_block_till_done(wait_background_tasks=True)


async def push(hass: HomeAssistant, meter: str, index: Any, **extra: Any) -> None:
    """Record a reading through the action (time: now unless given)."""
    await hass.services.async_call(
        DOMAIN,
        "record_water_reading",
        {"meter": meter, "index": index, **extra},
        blocking=True,
    )


def value(hass: HomeAssistant, entity_id: str) -> float | str | None:
    """Return an entity's state as a number where it is one."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    if state.state == "unknown":
        return None
    try:
        return float(state.state)
    except ValueError:
        return state.state


def modbus_meter(port: int, **extra: Any) -> dict[str, Any]:
    """Return the options entry of a water meter whose uint32 index is at holding 100-101 of slave 5."""
    return {
        "meter_id": "m201",
        "name": "Shop 201",
        "q3": 2.5,
        "q4": 3.125,
        "source": "modbus",
        "transport": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "slave": 5,
        "register": 100,
        "register_kind": "holding",
        "scale": 0.001,
        "word_order": "big",
        **extra,
    }

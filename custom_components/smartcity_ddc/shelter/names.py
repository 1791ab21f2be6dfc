"""A unit's name: the one its site's profile gives it, or Home Assistant's translation of its type."""

from __future__ import annotations

from collections.abc import Iterable

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from ..const import DOMAIN
from .engine.profile import Unit


def given_name(hass: HomeAssistant, unit: Unit) -> str | None:
    """Return the name a site's profile gives a unit (data, in the languages it gave)."""
    names = unit.names
    return names.get(hass.config.language) or names.get("en") or names.get("ko")


async def async_unit_names(
    hass: HomeAssistant, units: Iterable[Unit]
) -> dict[str, str]:
    """Return each unit's name as its device is named: given, or translated after its type."""
    translations = await async_get_translations(
        hass, hass.config.language, "device", {DOMAIN}
    )
    names = {}
    for unit in units:
        if (name := given_name(hass, unit)) is None:
            template = translations.get(
                f"component.{DOMAIN}.device.{unit.type.value}.name", unit.uid
            )
            name = template.replace("{number}", str(unit.number))
        names[unit.uid] = name
    return names

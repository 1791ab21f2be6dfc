"""Actions of the integration, registered once in async_setup."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback

from .services_cards import async_setup_cards_services
from .services_water import async_setup_water_services


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    async_setup_cards_services(hass)
    async_setup_water_services(hass)

"""Config flow: add a shelter DDC, an access-card sync or a water-meter site.

Each kind of entry has its own steps in a flow_<kind>.py module; this class
routes between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback

from .const import CONF_KIND, DOMAIN, EntryKind
from .flow_cards import CardsFlowMixin, CardsOptionsFlow
from .flow_ddc import DdcFlowMixin, DdcOptionsFlow
from .flow_water import WaterFlowMixin, WaterOptionsFlow


class SmartCityConfigFlow(
    DdcFlowMixin, CardsFlowMixin, WaterFlowMixin, ConfigFlow, domain=DOMAIN
):
    """Add one DDC, card sync or water-meter site per entry."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow of the entry's kind."""
        match EntryKind(config_entry.data[CONF_KIND]):
            case EntryKind.DDC:
                return DdcOptionsFlow()
            case EntryKind.CARDS:
                return CardsOptionsFlow()
            case EntryKind.WATER:
                return WaterOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask which job the new entry does."""
        return self.async_show_menu(
            step_id="user",
            menu_options=[EntryKind.DDC, EntryKind.CARDS, EntryKind.WATER],
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the connection of an existing entry of any kind."""
        match EntryKind(self._get_reconfigure_entry().data[CONF_KIND]):
            case EntryKind.DDC:
                return await self.async_step_reconfigure_ddc()
            case EntryKind.CARDS:
                return await self.async_step_reconfigure_cards()
            case EntryKind.WATER:
                return await self.async_step_water_reconfigure()

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Ask for a new database password (only a card sync has credentials)."""
        return await self.async_step_cards_reauth(entry_data)

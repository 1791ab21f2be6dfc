"""Config flow: add a shelter DDC, an access-card sync or a water-meter site.

Each kind of entry has its own steps in a flow_<kind>.py module; this class
routes between them.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback

from .const import CONF_KIND, DOMAIN, EntryKind
from .flow_ddc import DdcFlowMixin, DdcOptionsFlow
from .flow_water import WaterFlowMixin, WaterOptionsFlow


class SmartCityConfigFlow(DdcFlowMixin, WaterFlowMixin, ConfigFlow, domain=DOMAIN):
    """Add one DDC, card sync or water-meter site per entry."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow of the entry's kind."""
        if EntryKind(config_entry.data[CONF_KIND]) is EntryKind.WATER:
            return WaterOptionsFlow()
        return DdcOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask which job the new entry does."""
        return self.async_show_menu(
            step_id="user", menu_options=[EntryKind.DDC, EntryKind.WATER]
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the connection of an existing entry of any kind."""
        kind = EntryKind(self._get_reconfigure_entry().data[CONF_KIND])
        if kind is EntryKind.DDC:
            return await self.async_step_reconfigure_ddc()
        if kind is EntryKind.WATER:
            return await self.async_step_water_reconfigure()
        return self.async_abort(reason="reconfigure_not_supported")

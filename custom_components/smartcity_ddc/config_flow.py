"""Config flow: add a shelter, an access-card sync or a meter site.

Each job keeps its steps in its own flow module; this class routes to them.
A job's first step has the job's name, and reconfigure starts there too.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback

from .cards.flow import CardsFlowMixin
from .const import DOMAIN, ENTRY_VERSION, EntryKind
from .jobs import job_of
from .meters.flow import MetersFlowMixin
from .shelter.flow import ShelterFlowMixin


class SmartCityConfigFlow(
    ShelterFlowMixin, CardsFlowMixin, MetersFlowMixin, ConfigFlow, domain=DOMAIN
):
    """Add one shelter, card sync or meter site per entry."""

    VERSION = ENTRY_VERSION
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with an empty draft."""
        self._draft: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow of the entry's job."""
        return job_of(config_entry).options_flow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentries of the entry's job (a meter site's meters)."""
        return dict(job_of(config_entry).subentry_flows)

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask which job the new entry does."""
        return self.async_show_menu(
            step_id="user", menu_options=[kind.value for kind in EntryKind]
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change an existing entry: each job's first step knows it is a reconfigure."""
        match job_of(self._get_reconfigure_entry()).kind:
            case EntryKind.SHELTER:
                return await self.async_step_shelter()
            case EntryKind.CARDS:
                return await self.async_step_cards()
            case EntryKind.METERS:
                return await self.async_step_meters()
        raise NotImplementedError

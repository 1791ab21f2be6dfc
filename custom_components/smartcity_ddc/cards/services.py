"""Actions of a card sync: sync now, and look up registered cards."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    Context,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    script as script_helper,
    trace as trace_helper,
)
import voluptuous as vol

from ..const import CONF_KIND, DOMAIN, LOGGER, EntryKind
from .coordinator import CardsCoordinator

SERVICE_SYNC_CARDS: Final = "sync_cards"
SERVICE_GET_CARDS: Final = "get_cards"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_DONG: Final = "dong"
ATTR_HO: Final = "ho"
ATTR_GROUP: Final = "group"
ATTR_FULL_NUMBERS: Final = "full_numbers"

SYNC_CARDS_SCHEMA: Final = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
GET_CARDS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_DONG): vol.All(cv.string, vol.Strip),
        vol.Optional(ATTR_HO): vol.All(cv.string, vol.Strip),
        vol.Optional(ATTR_GROUP): vol.All(cv.string, vol.Strip),
        vol.Optional(ATTR_FULL_NUMBERS, default=False): cv.boolean,
    }
)


def _coordinator(hass: HomeAssistant, call: ServiceCall) -> CardsCoordinator:
    """Return the coordinator of the card sync an action names."""
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = hass.config_entries.async_get_entry(entry_id)
    if (
        entry is None
        or entry.domain != DOMAIN
        or entry.data.get(CONF_KIND) != EntryKind.CARDS
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="cards_entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED or not isinstance(
        entry.runtime_data, CardsCoordinator
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="cards_entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry.runtime_data


def _in_script_or_automation() -> bool:
    """Return True while a script or an automation runs the action."""
    # Home Assistant keeps a run's trace, responses included, in memory and
    # in .storage/trace.saved_traces: an ordinary file, unlike the card
    # registry. Both context variables exist from 2021 to at least 2026.11;
    # looked up by name, so a release without them does not break the action.
    trace_id_get = getattr(trace_helper, "trace_id_get", None)
    if trace_id_get is not None and trace_id_get() is not None:
        return True
    script_stack = getattr(script_helper, "script_stack_cv", None)
    return script_stack is not None and bool(script_stack.get())


async def _is_admin(hass: HomeAssistant, context: Context) -> bool:
    """Return True when the caller is a user with administrator rights."""
    if context.user_id is None:
        return False
    user = await hass.auth.async_get_user(context.user_id)
    return user is not None and user.is_admin


async def _async_sync_cards(call: ServiceCall) -> ServiceResponse:
    """Sync at once; return what the round did."""
    coordinator = _coordinator(call.hass, call)
    summary = await coordinator.async_sync_now()
    return summary.as_dict()


async def _async_get_cards(call: ServiceCall) -> ServiceResponse:
    """Return the registered cards, masked unless an administrator asks for full numbers."""
    coordinator = _coordinator(call.hass, call)
    if call.data[ATTR_FULL_NUMBERS] and (
        call.context.user_id is None or _in_script_or_automation()
    ):
        # Full numbers go only to a person at the screen, never into a trace.
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="cards_full_numbers_direct_only",
        )
    full = bool(call.data[ATTR_FULL_NUMBERS]) and await _is_admin(
        call.hass, call.context
    )
    if call.data[ATTR_FULL_NUMBERS] and not full:
        LOGGER.info(
            "Full card numbers were asked for by a user who is not an administrator; "
            "returning masked numbers"
        )
    groups = coordinator.groups
    cards: list[dict[str, Any]] = []
    for card in coordinator.engine.cards(
        dong=call.data.get(ATTR_DONG),
        ho=call.data.get(ATTR_HO),
        group=call.data.get(ATTR_GROUP),
    ):
        item: dict[str, Any] = {
            "masked_card_number": card.masked_card_number,
            "dong": card.dong,
            "ho": card.ho,
            "group": card.group,
            "group_name": groups.get(card.group),
            "manager": card.manager,
            "updated": card.updated,
        }
        if full:
            item["card_number"] = card.card_no
            item["holder"] = card.name
        cards.append(item)
    response: dict[str, Any] = {
        "full_numbers": full,
        "count": len(cards),
        "cards": cards,
    }
    return response


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the card-sync actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SYNC_CARDS,
        _async_sync_cards,
        schema=SYNC_CARDS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_CARDS,
        _async_get_cards,
        schema=GET_CARDS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )

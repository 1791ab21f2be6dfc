"""Set up, remove and migrate entries of the cards job; the Job the integration routes to."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from ..const import CONF_KIND, DOMAIN, LOGGER, EntryKind
from ..helpers import async_register_hub, async_report_issue
from ..job import Job
from . import binary_sensor, diagnostics, repairs, sensor, services
from .const import CONF_GROUPS, CONF_TLS
from .coordinator import CardsConfigEntry, CardsCoordinator, async_db_settings
from .engine.database import CardDatabase
from .engine.errors import CardSyncError
from .engine.sync import CardSync
from .errors import ERROR_KEYS
from .flow import CardsOptionsFlow
from .store import CardsStore

#: Repair issues a card sync raises, by the entry they belong to.
_ISSUES = ("cards_rejected_{}", "cards_unknown_group_{}", "cards_no_tls_{}")


def _async_update_tls_issue(hass: HomeAssistant, entry: CardsConfigEntry) -> None:
    """Warn while a card sync reads personal data over an unencrypted connection."""
    issue_id = f"cards_no_tls_{entry.entry_id}"
    if entry.data.get(CONF_TLS):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    LOGGER.warning(
        "%s connects to its database without TLS: the login and the card data "
        "cross the network readable",
        entry.title,
    )
    async_report_issue(
        hass,
        issue_id,
        translation_key="cards_no_tls",
        placeholders={"title": entry.title},
    )


async def async_setup_entry(hass: HomeAssistant, entry: CardsConfigEntry) -> None:
    """Load the registry, sync once and register the sync's device."""
    try:
        database = CardDatabase(await async_db_settings(hass, entry.data))
        engine = CardSync(
            database,
            CardsStore(hass, entry.entry_id),
            groups=entry.options.get(CONF_GROUPS, {}),
        )
        await engine.load()
    except CardSyncError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key=ERROR_KEYS.key(err),
            translation_placeholders={"error": str(err)},
        ) from err
    _async_update_tls_issue(hass, entry)
    coordinator = CardsCoordinator(hass, entry, engine, database)
    entry.runtime_data = coordinator
    coordinator.data = coordinator.build_data()
    coordinator.async_update_issues()
    async_register_hub(hass, entry, model="Access-card sync")
    # A group taken out of the options leaves no orphaned sensor behind.
    entities = er.async_get(hass)
    prefix = f"{entry.entry_id}_cards_group_"
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if (
            entity.unique_id.startswith(prefix)
            and entity.unique_id.removeprefix(prefix) not in coordinator.groups
        ):
            entities.async_remove(entity.entity_id)
    # The registry is local: a server that is down now only shows as a sync
    # problem; a refused password starts the reauth flow.
    await coordinator.async_refresh()


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the registry file (personal data) and the entry's repair issues."""
    await CardsStore(hass, entry.entry_id).async_remove()
    for issue in _ISSUES:
        ir.async_delete_issue(hass, DOMAIN, issue.format(entry.entry_id))


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Bring a version 1 card sync to version 2: no server name in its unique id."""
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_KIND: EntryKind.CARDS}, unique_id=None
    )


JOB = Job(
    kind=EntryKind.CARDS,
    async_setup_entry=async_setup_entry,
    platforms={
        Platform.BINARY_SENSOR: binary_sensor.entities,
        Platform.SENSOR: sensor.entities,
    },
    options_flow=CardsOptionsFlow,
    diagnostics=diagnostics.diagnostics,
    async_remove_entry=async_remove_entry,
    async_migrate_entry=async_migrate_entry,
    fix_flow=repairs.fix_flow,
    async_setup_services=services.async_setup_services,
)

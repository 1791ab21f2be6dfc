"""A card sync stored by the previous release (config entry version 1) keeps its registry."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.const import DOMAIN

from .helpers import CardTable, issue, write_registry
from .test_init import state


async def test_a_card_sync_keeps_its_registry(
    hass: HomeAssistant,
    card_table: CardTable,
) -> None:
    data = {**card_table.entry_data(), "kind": "cards"}
    entry = MockConfigEntry(
        version=1,
        domain=DOMAIN,
        unique_id=f"mysql:127.0.0.1:{card_table.server.port}/{card_table.account.database}/t_card_issue_if",
        title="Access cards",
        data=data,
        options={"scan_interval": 30, "groups": {"A": "로비"}},
    )
    write_registry(
        hass,
        entry.entry_id,
        {
            "cards": {
                "8800000001": {
                    "name": "홍길동",
                    "group": "A",
                    "dong": "101",
                    "ho": "1203",
                    "idx": 1,
                    "updated": "2026-03-02T09:00:00+00:00",
                }
            },
            "rejected": [],
            "pending": {},
        },
    )
    card_table.insert(issue("8800000002", "김철수"))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert (entry.version, entry.unique_id) == (2, None)
    # The card version 1 registered, and the one synced now.
    assert state(hass, entry, "cards_registered").state == "2"
    assert await hass.config_entries.async_unload(entry.entry_id)

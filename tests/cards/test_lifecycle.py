"""A card sync's life has clean edges: a sync running when the entry reloads ends with the
old entry (finished, or stopped where the engine can stop), and the new one
neither loses nor applies a card twice; options saved back to back all run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.smartcity_ddc.cards.const import EVENT_CARD_ISSUED
from custom_components.smartcity_ddc.cards.engine.sync import SyncStep
from custom_components.smartcity_ddc.const import DOMAIN

from .helpers import CardTable, issue, read_registry


async def _until(condition: Callable[[], bool], limit: float = 10) -> None:
    """Let the loop run (bounded) until a condition holds."""
    for _ in range(int(limit * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def _save_groups(hass: HomeAssistant, entry: MockConfigEntry, text: str) -> None:
    """Edit the access-group names in the options, as a person does."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "cards_groups"}
    )
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"groups": text}
    )


async def test_group_names_edited_twice_quickly_end_as_stored(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(issue("8800000001", "a", "C"))
    await setup_cards.runtime_data.async_refresh()
    await _save_groups(hass, setup_cards, "A = 101동 공동현관")
    await _save_groups(hass, setup_cards, "A = 101동 공동현관\nC = 주차장")
    await hass.async_block_till_done()
    assert setup_cards.options["groups"] == {"A": "101동 공동현관", "C": "주차장"}
    assert setup_cards.runtime_data.groups == {"A": "101동 공동현관", "C": "주차장"}
    names = {
        state.attributes.get("code"): state.state
        for state in hass.states.async_all("sensor")
        if state.attributes.get("code")
    }
    assert names == {"A": "0", "C": "1"}


async def _sync_during_reload(
    hass: HomeAssistant,
    card_table: CardTable,
    entry: MockConfigEntry,
    *,
    drain: float,
) -> tuple[BaseException | None, list[int]]:
    """Run sync_cards, reload the entry while the sync is held after applying a batch.

    Return what the action raised and the idx of every card_issued event.
    """
    issued = async_capture_events(hass, EVENT_CARD_ISSUED)
    card_table.insert(*(issue(f"880000000{n}", f"user {n}") for n in range(1, 4)))
    old = entry.runtime_data
    old.work.drain = drain
    hold = asyncio.Event()
    held = asyncio.Event()

    async def pause_after_applying(step: SyncStep) -> None:
        if step is SyncStep.APPLIED:
            held.set()
            await hold.wait()

    old.engine.checkpoint = pause_after_applying
    sync = hass.async_create_task(
        hass.services.async_call(
            DOMAIN,
            "sync_cards",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
    )
    await held.wait()
    hass.config_entries.async_schedule_reload(entry.entry_id)
    await asyncio.sleep(0.3)
    hold.set()
    failure: BaseException | None = None
    try:
        await sync
    except HomeAssistantError as err:
        failure = err
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not old
    return failure, [event.data["idx"] for event in issued]


async def test_a_sync_running_during_a_reload_finishes_before_the_new_engine_loads(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    failure, events = await _sync_during_reload(
        hass, card_table, setup_cards, drain=8.0
    )
    assert failure is None
    # Every card once: registered, announced once, and gone from the table.
    assert sorted(events) == [1, 2, 3]
    cards = read_registry(hass, setup_cards.entry_id)["data"]["cards"]
    assert sorted(cards) == ["8800000001", "8800000002", "8800000003"]
    assert card_table.rows() == []
    new = setup_cards.runtime_data
    assert new.build_data().total == 3
    await new.async_sync_now()
    assert sorted(events) == [1, 2, 3]


async def test_a_sync_that_outlasts_the_drain_is_stopped_and_loses_nothing(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    failure, events = await _sync_during_reload(
        hass, card_table, setup_cards, drain=0.1
    )
    # The old sync was stopped before it stored anything, and said so.
    assert isinstance(failure, HomeAssistantError)
    assert failure.translation_key == "entry_unloading"
    # The new engine applied the rows the old one had not stored: once each.
    await setup_cards.runtime_data.async_sync_now()
    assert sorted(events) == [1, 2, 3]
    cards = read_registry(hass, setup_cards.entry_id)["data"]["cards"]
    assert sorted(cards) == ["8800000001", "8800000002", "8800000003"]
    assert card_table.rows() == []

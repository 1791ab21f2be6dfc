"""Card numbers and names never reach a script's or an automation's trace.

Home Assistant keeps what each step of a run returned in the run's trace: in
memory, through the trace websocket API, and on stop in
.storage/trace.saved_traces, an ordinary file that backups carry along. So
get_cards refuses full numbers inside a run; these tests run a real script
and a real automation and search everything their traces hold.
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components.trace.const import DATA_TRACE
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.json import ExtendedJSONEncoder
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.smartcity_ddc.const import DOMAIN

from .helpers import CardTable, assert_private
from .test_services import CARDS

SECRETS = [value for row in CARDS for value in (row[0], row[1]) if value]


def _lookup(entry_id: str, full_numbers: bool) -> list[dict[str, Any]]:
    """Return the steps of a run that looks cards up and keeps the response."""
    return [
        {
            "action": f"{DOMAIN}.get_cards",
            "data": {"config_entry_id": entry_id, "full_numbers": full_numbers},
            "response_variable": "cards",
        },
        {"variables": {"first": "{{ cards.cards[0] }}"}},
        {"stop": "done", "response_variable": "cards"},
    ]


async def _traces(client: Any, domain: str, item_id: str) -> list[dict[str, Any]]:
    """Return every stored trace of a script or automation, as the frontend reads them."""
    await client.send_json_auto_id({"type": "trace/list", "domain": domain})
    listed = await client.receive_json()
    assert listed["success"], listed
    traces = []
    for summary in listed["result"]:
        if summary["item_id"] != item_id:
            continue
        await client.send_json_auto_id(
            {
                "type": "trace/get",
                "domain": domain,
                "item_id": item_id,
                "run_id": summary["run_id"],
            }
        )
        trace = await client.receive_json()
        assert trace["success"], trace
        traces.append(trace["result"])
    return traces


@pytest.fixture
async def runs(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> MockConfigEntry:
    """A synced registry, a script and an automation that ask for full numbers."""
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    entry_id = setup_cards.entry_id
    assert await async_setup_component(
        hass,
        "script",
        {
            "script": {
                "full_lookup": {"sequence": _lookup(entry_id, True)},
                "masked_lookup": {"sequence": _lookup(entry_id, False)},
            }
        },
    )
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": "full_lookup_on_event",
                    "alias": "Full lookup",
                    "triggers": [{"trigger": "event", "event_type": "look_up_cards"}],
                    "actions": _lookup(entry_id, True),
                }
            ]
        },
    )
    await hass.async_block_till_done()
    return setup_cards


def _stored(traces: Any) -> list[Any]:
    """Return the traces kept for one script or automation.

    A dict of traces up to Home Assistant 2026.9, then buckets of runs and
    not-triggered traces.
    """
    if hasattr(traces, "all_traces"):
        return list(traces.all_traces())
    return list(traces.values())


async def test_no_card_number_or_name_in_any_trace(
    hass: HomeAssistant,
    runs: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_storage: dict[str, Any],
) -> None:
    # Connected first, as the frontend is: the server's tasks start outside
    # the runs below (this test's own task keeps the trace id of a run it
    # waited for, which no request of a real Home Assistant does).
    client = await hass_ws_client(hass)
    # A script asking for full numbers is refused, with the way to go on.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call("script", "full_lookup", blocking=True)
    assert err.value.translation_key == "cards_full_numbers_direct_only"
    # The same lookup without full numbers works, masked.
    masked = await hass.services.async_call(
        "script", "masked_lookup", blocking=True, return_response=True
    )
    assert masked is not None
    assert masked["count"] == 4
    # An automation run is refused the same way.
    hass.bus.async_fire("look_up_cards")
    await hass.async_block_till_done()

    full_traces = await _traces(client, "script", "full_lookup")
    masked_traces = await _traces(client, "script", "masked_lookup")
    automation_traces = await _traces(client, "automation", "full_lookup_on_event")
    assert len(full_traces) == len(masked_traces) == len(automation_traces) == 1
    # The control: a trace does keep what a step returned, here masked numbers.
    assert "****0001" in json.dumps(masked_traces)
    assert "101동 공동현관" in json.dumps(masked_traces, ensure_ascii=False)
    for trace in (*full_traces, *automation_traces):
        assert trace["state"] == "stopped"
        assert trace["script_execution"] == "error"
        assert "Developer tools" in trace["error"]
    # Names are searched as text: json.dumps would hide them as escapes.
    everything = json.dumps(
        [full_traces, masked_traces, automation_traces], ensure_ascii=False
    )
    assert_private(everything, SECRETS)
    in_memory = json.dumps(
        {
            key: [trace.as_extended_dict() for trace in _stored(traces)]
            for key, traces in hass.data[DATA_TRACE].items()
        },
        cls=ExtendedJSONEncoder,
        ensure_ascii=False,
    )
    assert "full_lookup_on_event" in in_memory
    assert_private(in_memory, SECRETS)

    # An administrator calling the action directly, as Developer tools do,
    # still gets them.
    await client.send_json_auto_id(
        {
            "type": "call_service",
            "domain": DOMAIN,
            "service": "get_cards",
            "service_data": {"config_entry_id": runs.entry_id, "full_numbers": True},
            "return_response": True,
        }
    )
    answer = await client.receive_json()
    assert answer["success"], answer
    cards = answer["result"]["response"]["cards"]
    assert (cards[0]["card_number"], cards[0]["holder"]) == CARDS[0][:2]

    # The frontend goes first, as when a browser tab closes.
    await client.close()
    await hass.async_block_till_done()
    # On stop, the traces are written to .storage/trace.saved_traces.
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    saved = json.dumps(
        hass_storage["trace.saved_traces"], cls=ExtendedJSONEncoder, ensure_ascii=False
    )
    assert "automation.full_lookup_on_event" in saved
    assert "script.full_lookup" in saved
    assert_private(saved, SECRETS)


async def test_an_administrator_running_a_script_gets_no_full_numbers_in_its_trace(
    hass: HomeAssistant,
    runs: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: Any,
) -> None:
    # Run from the script's page, the script carries the administrator's
    # user id: the same lookup that works in Developer tools is refused
    # inside the run, whose trace would keep the numbers.
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "call_service", "domain": "script", "service": "full_lookup"}
    )
    answer = await client.receive_json()
    assert not answer["success"], answer
    assert answer["error"]["translation_key"] == "cards_full_numbers_direct_only"
    [trace] = await _traces(client, "script", "full_lookup")
    assert trace["context"]["user_id"] == hass_admin_user.id
    assert trace["script_execution"] == "error"
    assert_private(json.dumps(trace, ensure_ascii=False), SECRETS)
    await client.close()
    await hass.async_block_till_done()

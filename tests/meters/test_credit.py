"""Prepaid credit: top-ups, balance, days left and low credit, worked out by hand.

The meter here reports no credit of its own (its readings are pushed), so
its balance is the ledger's: top-ups minus the energy used since the first
top-up, at the meter's tariff (0.5 a kWh).
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_dumps
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
)

from custom_components.smartcity_ddc.const import DOMAIN
from custom_components.smartcity_ddc.diagnostics import (
    async_get_config_entry_diagnostics,
)

from .conftest import push_meter, seoul
from .helpers import at, push

#: Credit tokens (class 0) and tokens refused for each reason.
TOKEN = "5555 6666 7777 8888 9999"
TOKEN_2 = "55556666777788880000"
MANAGEMENT_TOKEN = "12345678901234567890"
METER_SPECIFIC_TOKEN = "31415926535897932384"
RESERVED_TOKEN = "01234567890123456789"
TOO_LARGE_TOKEN = "98765432109876543210"

SHOP = "electricity_e301"


def prepaid_meter(**extra: Any) -> dict[str, Any]:
    """An electricity meter whose readings are pushed, prepaid in money at 0.5 a kWh."""
    settings: dict[str, Any] = {
        "medium": "electricity",
        "max_power": 12.0,
        "prepaid": "money",
        "tariff": 0.5,
        "low_credit": 10,
        **extra,
    }
    return push_meter("e301", "Shop 301", **settings)


@pytest.fixture
def water_meters() -> list[dict[str, Any]]:
    """The prepaid electricity meter and a plain water meter."""
    return [prepaid_meter(), push_meter("m101", "Unit 101")]


def eid(
    hass: HomeAssistant, entry: MockConfigEntry, key: str, domain: str = "sensor"
) -> str:
    """Return the entity id of one of the prepaid meter's entities."""
    found = er.async_get(hass).async_get_entity_id(
        domain, DOMAIN, f"{entry.entry_id}_{SHOP}_{key}"
    )
    assert found is not None, key
    return found


def number(hass: HomeAssistant, entity_id: str) -> float | None:
    """Return a sensor's state as a number, None while unknown."""
    state = hass.states.get(entity_id)
    assert state is not None
    return None if state.state == "unknown" else float(state.state)


async def top_up(hass: HomeAssistant, amount: Any, **extra: Any) -> None:
    """Record a top-up of the prepaid meter through the action."""
    await hass.services.async_call(
        DOMAIN,
        "record_top_up",
        {"meter": "e301", "amount": amount, **extra},
        blocking=True,
    )


async def refused(hass: HomeAssistant, amount: Any, **extra: Any) -> str:
    """Record a top-up that must be refused; return the translation key of the refusal."""
    with pytest.raises(ServiceValidationError) as raised:
        await top_up(hass, amount, **extra)
    key = raised.value.translation_key
    assert key is not None
    return key


async def test_balance_days_left_and_low_credit_by_hand(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    entry = setup_water
    balance, days_left = eid(hass, entry, "balance"), eid(hass, entry, "days_left")
    low = eid(hass, entry, "low_credit", "binary_sensor")
    events = async_capture_events(hass, f"{DOMAIN}_low_credit")
    top_ups = async_capture_events(hass, f"{DOMAIN}_top_up")
    balance_state = hass.states.get(balance)
    assert balance_state is not None
    assert balance_state.attributes["unit_of_measurement"] == hass.config.currency

    # No top-up yet: no balance, not a made-up zero.
    await push(hass, "e301", 100)
    assert number(hass, balance) is None
    assert hass.states.get(low).state == STATE_OFF

    # 50 of credit from index 100.
    await top_up(hass, 50, token=TOKEN)
    assert number(hass, balance) == pytest.approx(50)
    assert top_ups[-1].data == {
        "meter": "e301",
        "name": "Shop 301",
        "amount": 50.0,
        "unit": "money",
        "currency": hass.config.currency,
        "with_token": True,
        "balance": 50.0,
    }

    # 10 kWh a day for seven whole days (one reading each midnight).
    for day in range(2, 9):
        freezer.move_to(seoul(day, 0))
        await push(hass, "e301", 100 + 10 * (day - 1))
    # Index 170: 70 kWh used at 0.5 = 35; 50 - 35 = 15 left.
    assert number(hass, balance) == pytest.approx(15)
    # The 7-day average is 10 kWh = 5 a day: 15 lasts 3 days.
    assert number(hass, eid(hass, entry, "usage_avg_7d")) == pytest.approx(10)
    assert number(hass, days_left) == pytest.approx(3)
    assert hass.states.get(low).state == STATE_OFF

    # 20 kWh bought as energy count 20 x 0.5 = 10 in the ledger's money: 25, 5 days.
    await top_up(hass, 20, unit="kwh", token=TOKEN_2)
    assert number(hass, balance) == pytest.approx(25)
    assert number(hass, days_left) == pytest.approx(5)

    # 30 kWh more at noon: 15 used, 10 left - at the threshold of 10: low.
    freezer.move_to(seoul(8, 12))
    await push(hass, "e301", 200)
    assert number(hass, balance) == pytest.approx(10)
    assert number(hass, days_left) == pytest.approx(2)
    assert hass.states.get(low).state == STATE_ON
    status = hass.states.get(eid(hass, entry, "status"))
    assert status is not None
    assert status.state == "low_credit"
    assert len(events) == 1
    assert events[0].data == {
        "meter": "e301",
        "name": "Shop 301",
        "balance": 10.0,
        "unit": "money",
        "currency": hass.config.currency,
        "days_left": 2.0,
        "threshold": 10.0,
    }
    # Still low at the next reading: no second event.
    freezer.move_to(seoul(8, 13))
    await push(hass, "e301", 202)
    assert number(hass, balance) == pytest.approx(9)
    assert len(events) == 1
    # A top-up lifts it; falling low again later is a new event.
    await top_up(hass, 10)
    assert hass.states.get(low).state == STATE_OFF
    # 70 bought in all; 124 kWh used since index 100 cost 62: 8 left.
    freezer.move_to(seoul(8, 16))
    await push(hass, "e301", 224)
    assert number(hass, balance) == pytest.approx(8)
    assert len(events) == 2


async def test_used_up_credit_has_zero_days_left(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    await top_up(hass, 5)
    for day in range(2, 9):
        freezer.move_to(seoul(day, 0))
        await push(hass, "e301", 100 + 10 * (day - 1))
    # 70 kWh at 0.5 = 35 used of 5: 30 in debt, no days left.
    assert number(hass, eid(hass, setup_water, "balance")) == pytest.approx(-30)
    assert number(hass, eid(hass, setup_water, "days_left")) == 0


async def test_token_checks(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    assert await refused(hass, 10, token="1234 5678") == "meters_token_length"
    assert await refused(hass, 10, token="5555-6666-7777-8888-999x") == (
        "meters_token_not_digits"
    )
    assert await refused(hass, 10, token=TOO_LARGE_TOKEN) == "meters_token_too_large"
    assert await refused(hass, 10, token=RESERVED_TOKEN) == (
        "meters_token_reserved_class"
    )
    assert await refused(hass, 10, token=MANAGEMENT_TOKEN) == "meters_token_not_credit"
    assert await refused(hass, 10, token=METER_SPECIFIC_TOKEN) == (
        "meters_token_not_credit"
    )
    balance = eid(hass, setup_water, "balance")
    assert number(hass, balance) is None
    # Dashes and spaces are how receipts print it: the same token.
    await top_up(hass, 10, token="5555-6666-7777-8888-9999")
    assert await refused(hass, 10, token=TOKEN) == "meters_token_duplicate"
    assert number(hass, balance) == pytest.approx(10)


async def test_amounts_and_meters_refused(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    # Before the meter's first reading there is nothing to count usage from.
    assert await refused(hass, 10) == "meters_top_up_no_reading"
    await push(hass, "e301", 100)
    for amount in (0, -5, "ten", "nan", "inf", True, [1]):
        assert await refused(hass, amount) == "meters_top_up_bad_amount", amount
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN, "record_top_up", {"meter": "m101", "amount": 5}, blocking=True
        )
    assert raised.value.translation_key == "meters_not_prepaid"
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN, "record_top_up", {"meter": "nope", "amount": 5}, blocking=True
        )
    assert raised.value.translation_key == "meters_unknown_meter"
    assert number(hass, eid(hass, setup_water, "balance")) is None


@pytest.mark.parametrize(
    "water_meters", [[prepaid_meter(tariff=None)]], ids=["no tariff"]
)
async def test_without_a_tariff_units_do_not_mix(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    # A money ledger without a tariff can't take kWh, nor count kWh used.
    await top_up(hass, 10)
    assert await refused(hass, 10, unit="kwh") == "meters_top_up_no_tariff"
    assert number(hass, eid(hass, setup_water, "balance")) is None


async def test_only_administrators_record_top_ups(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    hass_read_only_user: MockUser,
    hass_admin_user: MockUser,
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "record_top_up",
            {"meter": "e301", "amount": 10},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    await hass.services.async_call(
        DOMAIN,
        "record_top_up",
        {"meter": "e301", "amount": 10},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert number(hass, eid(hass, setup_water, "balance")) == pytest.approx(10)


async def test_a_top_up_is_on_disk_when_the_action_returns(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A power cut right after the action loses no money: nothing waits for a later save."""
    hass = hass_seoul
    await push(hass, "e301", 100)
    await top_up(hass, 50, token=TOKEN)
    stored = hass_storage[f"{DOMAIN}.water_{setup_water.entry_id}"]["data"]
    ledger = stored["ledgers"]["e301"]
    assert float(ledger["start_index"]) == 100
    assert [(t["amount"], t["token"]) for t in ledger["top_ups"]] == [
        ("50", "55556666777788889999")
    ]
    # ...and a restart brings it back: the token is still known.
    assert await hass.config_entries.async_reload(setup_water.entry_id)
    await hass.async_block_till_done()
    assert number(hass, eid(hass, setup_water, "balance")) == pytest.approx(50)
    assert await refused(hass, 50, token=TOKEN) == "meters_token_duplicate"


async def test_a_damaged_ledger_is_kept_and_reported(
    hass_seoul: HomeAssistant,
    water_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass = hass_seoul
    damaged = {"version": 1, "start": "yesterday", "top_ups": "lost"}
    hass_storage[f"{DOMAIN}.water_{water_entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.water_{water_entry.entry_id}",
        "data": {"ledgers": {"e301": damaged}, "low_credit": []},
    }
    water_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(water_entry.entry_id)
    await hass.async_block_till_done()
    assert "stored prepaid ledger of meter e301 can't be read" in caplog.text
    await push(hass, "e301", 100)
    assert await refused(hass, 10) == "meters_top_up_bad_storage"
    # Diagnostics say so, without the ledger's contents.
    diagnostics = await async_get_config_entry_diagnostics(hass, water_entry)
    assert diagnostics["meters"]["e301"]["credit"] == {"ledger": "damaged"}
    # Saved as it came, never replaced by an empty ledger.
    await hass.config_entries.async_unload(water_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.water_{water_entry.entry_id}"]["data"]
    assert stored["ledgers"]["e301"] == damaged
    assert stored["meters"]["e301"]


async def test_diagnostics_describe_each_ledger(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    # No top-up yet: no ledger, and the other meter is not prepaid.
    meters = (await async_get_config_entry_diagnostics(hass, setup_water))["meters"]
    assert meters["e301"]["credit"] == {"ledger": None}
    assert meters["m101"]["credit"] is None
    await top_up(hass, 10, token=TOKEN)
    await top_up(hass, 20, unit="kwh")
    meters = (await async_get_config_entry_diagnostics(hass, setup_water))["meters"]
    ledger = meters["e301"]["credit"]["ledger"]
    # 10 and 20 kWh at 0.5 = 10: 20 in the ledger's money; tokens are counted, not shown.
    assert (ledger["top_ups"], ledger["with_token"], ledger["total"]) == (2, 1, 20.0)
    assert TOKEN.replace(" ", "") not in json_dumps(meters)


async def test_a_ledger_with_kwh_top_ups_after_its_tariff_is_removed(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    """kWh bought can't be counted in money any more: no balance rather than a wrong one."""
    hass = hass_seoul
    entry = setup_water
    await push(hass, "e301", 100)
    await top_up(hass, 10)
    await top_up(hass, 20, unit="kwh")
    assert number(hass, eid(hass, entry, "balance")) == pytest.approx(20)
    (subentry,) = (s for s in entry.subentries.values() if s.unique_id == "e301")
    assert hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "tariff": None}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert number(hass, eid(hass, entry, "balance")) is None
    assert number(hass, eid(hass, entry, "days_left")) is None
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    ledger = diagnostics["meters"]["e301"]["credit"]["ledger"]
    assert ledger["tariff"] is None
    assert ledger["top_ups"] == 2
    assert ledger["total"] is None


async def test_prepaid_switched_off_and_on_again_keeps_the_ledger(
    hass_seoul: HomeAssistant, setup_water: MockConfigEntry
) -> None:
    """Switching prepaid off by mistake loses no top-up: the ledger waits on disk."""
    hass = hass_seoul
    entry = setup_water
    await push(hass, "e301", 100)
    await top_up(hass, 50, token=TOKEN)
    (subentry,) = (s for s in entry.subentries.values() if s.unique_id == "e301")
    prepaid = dict(subentry.data)
    assert hass.config_entries.async_update_subentry(
        entry, subentry, data={**prepaid, "prepaid": "none"}
    )
    await hass.async_block_till_done()
    # No balance while the meter is not prepaid.
    balance = hass.states.get(eid(hass, entry, "balance"))
    assert balance is not None
    assert balance.state == "unavailable"
    assert hass.config_entries.async_update_subentry(entry, subentry, data=prepaid)
    await hass.async_block_till_done()
    assert number(hass, eid(hass, entry, "balance")) == pytest.approx(50)
    assert await refused(hass, 10, token=TOKEN) == "meters_token_duplicate"


async def test_a_top_up_with_nothing_else_unsaved_is_on_disk_too(
    hass_seoul: HomeAssistant,
    setup_water: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    hass = hass_seoul
    await push(hass, "e301", 100)
    # The reading's save has happened: nothing waits to be written.
    await at(hass, freezer, seoul(1, 0, 2))
    key = f"{DOMAIN}.water_{setup_water.entry_id}"
    assert hass_storage[key]["data"]["ledgers"] == {}
    await top_up(hass, 50)
    ledger = hass_storage[key]["data"]["ledgers"]["e301"]
    assert [t["amount"] for t in ledger["top_ups"]] == ["50"]

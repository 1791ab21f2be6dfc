"""The sync_cards and get_cards actions, with administrator and read-only callers."""

from __future__ import annotations

from homeassistant.const import CONF_HOST
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.smartcity_ddc.const import CONF_KIND, DOMAIN, EntryKind
from devtools.mariadb import HOST

from .helpers import CardTable, issue

CARDS = (
    issue("8800000001", "홍길동", "A", "101", "1203"),
    issue("8800000002", "김철수", "A", "101", "1204"),
    issue("8800000003", "이영희", "B", "102", "0301"),
    issue("8800000009", "관리자", "B", "9999", "9999"),
)


async def get_cards(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    user: MockUser | None = None,
    **data: object,
) -> dict:
    response = await hass.services.async_call(
        DOMAIN,
        "get_cards",
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=True,
        context=Context(user_id=user.id if user else None),
    )
    assert isinstance(response, dict)
    return response


async def test_sync_cards_returns_a_summary(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(*CARDS, ("8800000005", "x", "A", "1", "1", "X"))
    response = await hass.services.async_call(
        DOMAIN,
        "sync_cards",
        {"config_entry_id": setup_cards.entry_id},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert {key: response[key] for key in ("rows_read", "applied", "issued", "deleted",
            "rejected", "already_applied", "rows_deleted", "batches", "unknown_groups")} == {
        "rows_read": 5, "applied": 4, "issued": 4, "deleted": 0, "rejected": 1,
        "already_applied": 0, "rows_deleted": 5, "batches": 1, "unknown_groups": [],
    }  # fmt: skip
    assert set(response["seconds"]) == {"read", "apply", "persist", "delete", "total"}
    assert response["rejected_reasons"] == {"unknown_flag": 1}
    assert card_table.rows() == []
    registered = hass.states.async_all("sensor")
    assert any(state.state == "4" for state in registered)
    # Without asking for the response the action just runs.
    assert (
        await hass.services.async_call(
            DOMAIN,
            "sync_cards",
            {"config_entry_id": setup_cards.entry_id},
            blocking=True,
        )
        is None
    )


async def test_sync_cards_failure_is_translated(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.server.execute(
        "DROP TABLE t_card_issue_if", database=card_table.account.database
    )
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "sync_cards",
            {"config_entry_id": setup_cards.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "cards_table_missing"
    assert not setup_cards.runtime_data.last_update_success


async def test_sync_cards_with_a_refused_password_starts_reauth(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    account = card_table.account
    card_table.server.execute(
        f"ALTER USER '{account.user}'@'{HOST}' IDENTIFIED BY 'other'"
    )
    card_table.kill_connections()
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "sync_cards",
            {"config_entry_id": setup_cards.entry_id},
            blocking=True,
        )
    assert err.value.translation_key == "cards_invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_get_cards_masks_numbers_by_default(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    response = await get_cards(hass, setup_cards, hass_admin_user)
    assert response["full_numbers"] is False
    assert response["count"] == 4
    assert response["cards"][0] == {
        "masked_card_number": "****0001",
        "dong": "101",
        "ho": "1203",
        "group": "A",
        "group_name": "101동 공동현관",
        "manager": False,
        "updated": response["cards"][0]["updated"],
    }
    assert response["cards"][-1]["manager"] is True
    assert "8800000001" not in str(response)
    assert "홍길동" not in str(response)


async def test_full_numbers_for_an_administrator(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    response = await get_cards(hass, setup_cards, hass_admin_user, full_numbers=True)
    assert response["full_numbers"] is True
    first = response["cards"][0]
    assert (first["card_number"], first["holder"], first["masked_card_number"]) == (
        "8800000001", "홍길동", "****0001",
    )  # fmt: skip


async def test_full_numbers_are_refused_to_a_read_only_user(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    hass_read_only_user: MockUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    response = await get_cards(
        hass, setup_cards, hass_read_only_user, full_numbers=True
    )
    assert response["full_numbers"] is False
    assert all(
        "card_number" not in card and "holder" not in card for card in response["cards"]
    )
    assert "8800000001" not in str(response)
    assert "not an administrator" in caplog.text


async def test_calls_without_a_user_get_no_full_numbers(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    # Only a person calling the action directly gets them (see test_traces.py
    # for scripts and automations).
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    with pytest.raises(ServiceValidationError) as err:
        await get_cards(hass, setup_cards, None, full_numbers=True)
    assert err.value.translation_key == "cards_full_numbers_direct_only"
    assert (await get_cards(hass, setup_cards, None))["count"] == 4


async def test_a_deleted_user_gets_masked_numbers(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    response = await hass.services.async_call(
        DOMAIN,
        "get_cards",
        {"config_entry_id": setup_cards.entry_id, "full_numbers": True},
        blocking=True,
        return_response=True,
        context=Context(user_id="no-such-user"),
    )
    assert response is not None
    assert response["full_numbers"] is False


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"dong": "101"}, ["****0001", "****0002"]),
        ({"dong": " 101 ", "ho": "1204"}, ["****0002"]),
        ({"group": "B"}, ["****0003", "****0009"]),
        ({"group": "101동 공동현관"}, ["****0001", "****0002"]),
        ({"dong": "9999", "ho": "9999"}, ["****0009"]),
        ({"group": "Z"}, []),
    ],
)
async def test_get_cards_filters(
    hass: HomeAssistant,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
    filters: dict[str, str],
    expected: list[str],
) -> None:
    card_table.insert(*CARDS)
    await setup_cards.runtime_data.async_sync_now()
    response = await get_cards(hass, setup_cards, **filters)
    assert [card["masked_card_number"] for card in response["cards"]] == expected


async def test_actions_name_a_loaded_card_sync(
    hass: HomeAssistant, card_table: CardTable, setup_cards: MockConfigEntry
) -> None:
    ddc = MockConfigEntry(
        version=2, domain=DOMAIN, data={CONF_KIND: EntryKind.SHELTER, CONF_HOST: "x"}
    )
    ddc.add_to_hass(hass)
    for entry_id in ("nope", ddc.entry_id):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "sync_cards", {"config_entry_id": entry_id}, blocking=True
            )
        assert err.value.translation_key == "cards_entry_not_found"
    await hass.config_entries.async_unload(setup_cards.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_cards",
            {"config_entry_id": setup_cards.entry_id},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "cards_entry_not_loaded"


async def test_actions_are_described(
    hass: HomeAssistant, setup_cards: MockConfigEntry
) -> None:
    descriptions = await async_get_all_descriptions(hass)
    ours = descriptions[DOMAIN]
    assert set(ours["sync_cards"]["fields"]) == {"config_entry_id"}
    assert set(ours["get_cards"]["fields"]) == {
        "config_entry_id", "dong", "ho", "group", "full_numbers",
    }  # fmt: skip
    # Names and descriptions come from the translations (newer releases no
    # longer copy them into the descriptions; the frontend looks them up).
    texts = await async_get_translations(hass, "en", "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services"
    assert texts[f"{prefix}.sync_cards.name"] == "Sync access cards"
    for service, description in ours.items():
        assert texts[f"{prefix}.{service}.name"]
        assert texts[f"{prefix}.{service}.description"]
        for field in description["fields"]:
            assert texts[f"{prefix}.{service}.fields.{field}.name"]
            assert texts[f"{prefix}.{service}.fields.{field}.description"]

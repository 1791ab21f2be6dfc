"""TLS in Home Assistant: on by default, a clear way on when a server lacks it, a warning without it.

A server that cannot be trusted with the password (no TLS although it is
asked for, a demand for the clear-text password) is a connection problem,
never a wrong password: Home Assistant does not ask the user to type the
password again for it.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc.cards.const import (
    CONF_GROUPS,
    CONF_TLS,
    CONF_TLS_CA_FILE,
)
from custom_components.smartcity_ddc.cards.coordinator import cards_title
from custom_components.smartcity_ddc.const import DOMAIN
from devtools.hostile_mysql import HostileMySqlServer, Mode
from devtools.mariadb import HOST, MariaDbServer

from .helpers import CardTable
from .test_config_flow import form, open_form, submit


def _default_of(schema: Any, key: str) -> Any:
    """Return the default a form field shows."""
    for marker in schema.schema:
        if marker == key:
            return marker.default()
    raise AssertionError(f"no field {key}")


async def test_tls_is_on_by_default(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "cards"}
    )
    assert _default_of(result["data_schema"], CONF_TLS) is True


async def test_a_server_without_tls_is_named_and_the_site_can_go_on(
    hass: HomeAssistant, private_table: CardTable
) -> None:
    # This MariaDB offers no TLS.
    flow_id = await open_form(hass)
    result = await submit(hass, flow_id, form(private_table, **{CONF_TLS: True}))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TLS: "cards_tls_not_offered"}
    with patch("custom_components.smartcity_ddc.async_setup_entry", return_value=True):
        result = await submit(hass, flow_id, form(private_table, **{CONF_TLS: False}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TLS] is False


async def test_a_site_without_tls_is_warned_until_it_uses_tls(
    hass: HomeAssistant,
    mariadb: MariaDbServer,
    card_table: CardTable,
    setup_cards: MockConfigEntry,
) -> None:
    issue_id = f"cards_no_tls_{setup_cards.entry_id}"
    issues = ir.async_get(hass)
    found = issues.async_get_issue(DOMAIN, issue_id)
    assert found is not None
    assert found.translation_key == "cards_no_tls"
    assert found.severity is ir.IssueSeverity.WARNING
    assert found.translation_placeholders == {"title": setup_cards.title}
    # Reconfigured to TLS, the entry reloads and the warning goes.
    hass.config_entries.async_update_entry(
        setup_cards,
        data={
            **setup_cards.data,
            CONF_TLS: True,
            CONF_TLS_CA_FILE: str(mariadb.ca_file),
        },
    )
    assert await hass.config_entries.async_reload(setup_cards.entry_id)
    await hass.async_block_till_done()
    assert setup_cards.runtime_data.last_update_success
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    # The warning of an entry without TLS goes with the entry.
    hass.config_entries.async_update_entry(
        setup_cards, data={**setup_cards.data, CONF_TLS: False}
    )
    assert await hass.config_entries.async_reload(setup_cards.entry_id)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_remove(setup_cards.entry_id)
    assert issues.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize(
    ("mode", "tls", "key"),
    [
        (Mode.CLEARTEXT_GREETING, True, "cards_tls_not_offered"),
        (Mode.CLEARTEXT_SWITCH, True, "cards_tls_not_offered"),
        (Mode.CLEARTEXT_SWITCH, False, "cards_cleartext_password"),
    ],
)
async def test_a_server_that_cannot_be_trusted_does_not_start_reauthentication(
    hass: HomeAssistant,
    card_table: CardTable,
    mode: Mode,
    tls: bool,
    key: str,
) -> None:
    with HostileMySqlServer(mode) as server:
        data = card_table.entry_data(
            **{CONF_HOST: HOST, CONF_PORT: server.port, CONF_TLS: tls}
        )
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=cards_title(data),
            version=2,
            data=data,
            options={CONF_SCAN_INTERVAL: 30, CONF_GROUPS: {}},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        # The registry is local: the entry loads and shows the sync problem.
        assert entry.state is ConfigEntryState.LOADED
        coordinator = entry.runtime_data
        assert not coordinator.last_update_success
        assert getattr(coordinator.last_exception, "translation_key", None) == key
        with pytest.raises(HomeAssistantError) as err:
            await hass.services.async_call(
                DOMAIN,
                "sync_cards",
                {"config_entry_id": entry.entry_id},
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == key
        await hass.async_block_till_done()
        assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert card_table.account.password.encode() not in server.received
    if tls:
        # Not even the user name went out.
        assert server.received == b""

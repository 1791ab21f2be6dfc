from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant


async def test_setup(hass_seoul: HomeAssistant, setup_ddc) -> None:
    assert setup_ddc.state is ConfigEntryState.LOADED
    states = hass_seoul.states.async_all()
    for state in sorted(states, key=lambda s: s.entity_id):
        print(state.entity_id, state.state, state.attributes.get("friendly_name"))
    assert len(states) > 20

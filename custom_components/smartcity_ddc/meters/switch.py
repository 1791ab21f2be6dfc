"""The supply relay of a DL/T645 electricity meter, where the site allows switching it.

On means the relay is closed (supply on). A command is confirmed by reading
the meter's run-status word back: the switch shows what the meter says, not
what was asked. The meter's password and operator code go with the command
and nowhere else (not in logs, states or diagnostics).
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import (
    SwitchDeviceClass,
    SwitchEntity,
    SwitchEntityDescription,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity import Entity

from ..const import DOMAIN
from ..helpers import async_report_issue
from ..line import LineConnectionError, LineTimeoutError
from .config import MeterConfig
from .const import MeterSource
from .coordinator import MetersCoordinator
from .engine.dlt645 import Dlt645Error, MeterRefusalError
from .entity import MeterEntity

RELAY = SwitchEntityDescription(
    key="relay", translation_key="supply_relay", device_class=SwitchDeviceClass.SWITCH
)


def can_switch(meter: MeterConfig) -> bool:
    """Return True for a meter whose relay the site switches: DL/T645-2007, allowed."""
    return (
        meter.source is MeterSource.DLT645
        and meter.version == 2007
        and meter.relay_control
    )


def entities(coordinator: MetersCoordinator) -> list[Entity]:
    """Return a relay switch for each meter allowed to be switched, on a bus the site reads."""
    return [
        RelaySwitch(coordinator, meter, RELAY)
        for meter in coordinator.meters.values()
        if can_switch(meter) and coordinator.reads_on_bus(meter.meter_id)
    ]


class RelaySwitch(MeterEntity, SwitchEntity):
    """The meter's supply relay, as the meter reports it."""

    @property
    def is_on(self) -> bool | None:
        """Return True while the relay is closed; None when not known."""
        return self.view.live.relay_closed

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay (supply on) and confirm."""
        await self._async_switch(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Trip the relay (supply off) and confirm."""
        await self._async_switch(False)

    async def _async_switch(self, closed: bool) -> None:
        """Send the command; a refusal or a state that didn't follow is a translated error."""
        coordinator = self.coordinator
        meter = self.meter
        issue = (
            f"meters_relay_refused_{coordinator.config_entry.entry_id}_{meter.meter_id}"
        )
        placeholders = {"meter": meter.name}
        try:
            now_closed = await coordinator.async_set_relay(
                meter.meter_id, closed=closed
            )
        except MeterRefusalError as err:
            reasons = ", ".join(err.refusals) or f"{err.error_byte:#04x}"
            async_report_issue(
                self.hass,
                issue,
                translation_key="meters_relay_refused",
                placeholders={**placeholders, "reasons": reasons},
            )
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="meters_relay_refused",
                translation_placeholders={**placeholders, "reasons": reasons},
            ) from err
        except LineTimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="meters_relay_no_answer",
                translation_placeholders=placeholders,
            ) from err
        except (LineConnectionError, Dlt645Error) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="meters_relay_failed",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        ir.async_delete_issue(self.hass, DOMAIN, issue)
        if now_closed is not closed:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="meters_relay_not_confirmed",
                translation_placeholders=placeholders,
            )

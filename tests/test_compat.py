"""compat.py on the releases this run does not have, through stand-ins with their API.

The whole suite runs on the oldest supported release here and on the newest
in scripts/test-current-ha; these tests take the other release's branch of
each decision on this one, with a stand-in shaped as that release's API (the
newer release can't be installed beside the older one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smartcity_ddc import compat
from custom_components.smartcity_ddc.const import DOMAIN


def test_units_come_from_the_enum_where_a_release_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class UnitOfDensity(StrEnum):
        MICROGRAMS_PER_CUBIC_METER = "μg/m³"

    monkeypatch.setattr(compat.ha_const, "UnitOfDensity", UnitOfDensity, raising=False)
    assert (
        compat._unit(
            "UnitOfDensity",
            "MICROGRAMS_PER_CUBIC_METER",
            "CONCENTRATION_MICROGRAMS_PER_CUBIC_METER",
        )
        == "μg/m³"
    )
    # A release without the enum: its constant.
    monkeypatch.delattr(compat.ha_const, "UnitOfDensity")
    monkeypatch.setattr(compat.ha_const, "CONCENTRATION_OLD", "µg/m³", raising=False)
    assert compat._unit("UnitOfDensity", "X", "CONCENTRATION_OLD") == "µg/m³"


@dataclass
class NewerRegistry:
    """The device registry of a release where a device has one entry and subentry."""

    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lookups: list[tuple[tuple[str, str], str]] = field(default_factory=list)

    def async_update_device(
        self, device_id: str, *, new_config_subentry_id: str | None = None
    ) -> None:
        self.updates.append(
            (device_id, {"new_config_subentry_id": new_config_subentry_id})
        )

    def async_get_device_by_identifier(
        self, identifier: tuple[str, str], config_entry_id: str
    ) -> str:
        self.lookups.append((identifier, config_entry_id))
        return "found"


def test_newer_releases_move_a_device_in_one_update() -> None:
    registry = NewerRegistry()
    device: Any = SimpleNamespace(id="dev1", config_subentry_id=None)
    compat.move_device_to_subentry(registry, device, "entry1", "sub1")  # type: ignore[arg-type]
    assert registry.updates == [("dev1", {"new_config_subentry_id": "sub1"})]
    compat.move_device_to_subentry(registry, device, "entry1", None)  # type: ignore[arg-type]
    assert registry.updates[-1] == ("dev1", {"new_config_subentry_id": None})


def test_newer_releases_look_a_device_up_per_entry() -> None:
    registry = NewerRegistry()
    found = compat.device_by_identifier(registry, (DOMAIN, "x"), "entry1")  # type: ignore[arg-type]
    assert found == "found"
    assert registry.lookups == [((DOMAIN, "x"), "entry1")]


def test_a_devices_subentry_on_either_release() -> None:
    newer: Any = SimpleNamespace(config_subentry_id="sub1")
    assert compat.device_subentries(newer, "entry1") == {"sub1"}
    older: Any = SimpleNamespace(
        config_entries_subentries={"entry1": {None, "sub2"}, "other": {"sub3"}}
    )
    assert compat.device_subentries(older, "entry1") == {None, "sub2"}
    assert compat.device_subentries(older, "missing") == set()


async def test_newer_releases_link_a_device_to_its_hub_by_registry_id(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NewerDeviceInfo(TypedDict, total=False):
        via_device_id: str

    monkeypatch.setattr(compat, "DeviceInfo", NewerDeviceInfo)
    entry = MockConfigEntry(domain=DOMAIN)
    entry.add_to_hass(hass)
    # Before the hub is registered there is nothing to link to.
    assert compat.via_hub(hass, entry.entry_id) == {}
    hub = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, entry.entry_id)}
    )
    assert compat.via_hub(hass, entry.entry_id) == {"via_device_id": hub.id}

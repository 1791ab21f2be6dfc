"""Home Assistant APIs that differ between the releases we support, by feature detection.

Supported: 2025.4 to the newest release. Everything that depends on which
release runs lives here, decided by what the running release has, never by
its version number.

* Units of concentration: newer releases moved them into ``UnitOfDensity`` and
  ``UnitOfRatio`` (and spell µg/m³ with a Greek mu) and deprecated the
  ``CONCENTRATION_*`` constants; 2025.4 only has the constants.
* Device registry: newer releases link a device to its hub by the hub's
  registry id (``via_device_id``; the hub's identifier, ``via_device``, is
  deprecated) and look a device up per config entry
  (``async_get_device_by_identifier``; ``async_get_device`` is deprecated);
  2025.4 only has ``via_device`` and ``async_get_device``. A device belongs to
  one entry and subentry in newer releases, moved with
  ``new_config_subentry_id``; 2025.4 links it to the new subentry
  (``add_config_subentry_id``) and unlinks the old one
  (``remove_config_subentry_id``), calls newer releases refuse for Home
  Assistant's own code and take as a removal on their own.
* Recorder statistics metadata: 2025.4 describes a statistic's mean with
  ``mean_type`` (``has_mean`` is deprecated and goes away in 2026.4); older
  releases only know ``has_mean``. 2025.11 added ``unit_class``; passing it to
  an older recorder raises TypeError. The recorder is imported only when a
  statistics function runs, so installations without it never load it.
"""

from __future__ import annotations

from functools import cache
import inspect
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant import const as ha_const
from homeassistant.const import UnitOfEnergy, UnitOfVolume
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import EnergyConverter, VolumeConverter

from .const import DOMAIN
from .meters.engine.site import HourRow

if TYPE_CHECKING:
    from homeassistant.components.recorder.models import StatisticMetaData


def _unit(enum_name: str, member: str, constant: str) -> str:
    """Return a unit from its enum where this release has one, else from its constant."""
    units = getattr(ha_const, enum_name, None)
    if units is not None:
        return str(getattr(units, member))
    return str(getattr(ha_const, constant))


MICROGRAMS_PER_CUBIC_METER: Final = _unit(
    "UnitOfDensity",
    "MICROGRAMS_PER_CUBIC_METER",
    "CONCENTRATION_MICROGRAMS_PER_CUBIC_METER",
)
PARTS_PER_MILLION: Final = _unit(
    "UnitOfRatio", "PARTS_PER_MILLION", "CONCENTRATION_PARTS_PER_MILLION"
)
PARTS_PER_BILLION: Final = _unit(
    "UnitOfRatio", "PARTS_PER_BILLION", "CONCENTRATION_PARTS_PER_BILLION"
)


@callback
def device_by_identifier(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], config_entry_id: str
) -> dr.DeviceEntry | None:
    """Return the config entry's device with this identifier."""
    lookup = getattr(registry, "async_get_device_by_identifier", None)
    if lookup is not None:
        return cast("dr.DeviceEntry | None", lookup(identifier, config_entry_id))
    device = registry.async_get_device(identifiers={identifier})
    if device is None or config_entry_id not in device.config_entries:
        return None
    return device


@callback
def move_device_to_subentry(
    registry: dr.DeviceRegistry,
    device: dr.DeviceEntry,
    entry_id: str,
    subentry_id: str | None,
) -> None:
    """Move one of the entry's devices to a subentry of it (None: the entry itself)."""
    if "new_config_subentry_id" in _update_device_parameters(registry):
        update: Any = registry.async_update_device
        update(device.id, new_config_subentry_id=subentry_id)
        return
    old = device_subentries(device, entry_id) - {subentry_id}
    registry.async_update_device(
        device.id, add_config_entry_id=entry_id, add_config_subentry_id=subentry_id
    )
    for old_subentry_id in old:
        registry.async_update_device(
            device.id,
            remove_config_entry_id=entry_id,
            remove_config_subentry_id=old_subentry_id,
        )


def device_subentries(device: dr.DeviceEntry, entry_id: str) -> set[str | None]:
    """Return the subentries of the entry a device belongs to (None: the entry itself)."""
    if (subentry_id := getattr(device, "config_subentry_id", _MISSING)) is not _MISSING:
        return {cast("str | None", subentry_id)}
    return set(device.config_entries_subentries.get(entry_id, ()))


_MISSING: Final = object()


def _update_device_parameters(registry: dr.DeviceRegistry) -> frozenset[str]:
    """Return the keyword parameters of this release's device update."""
    return _parameters(type(registry).async_update_device)


@cache
def _parameters(function: Any) -> frozenset[str]:
    return frozenset(inspect.signature(function).parameters)


@callback
def via_hub(hass: HomeAssistant, entry_id: str) -> DeviceInfo:
    """Return the device info that links a device to its entry's hub device.

    The hub is registered when the entry is set up, before its entities.
    """
    hub = (DOMAIN, entry_id)
    if "via_device_id" not in DeviceInfo.__optional_keys__:
        return DeviceInfo(via_device=hub)
    device = device_by_identifier(dr.async_get(hass), hub, entry_id)
    if device is None:
        return DeviceInfo()
    return cast("DeviceInfo", {"via_device_id": device.id})


@cache
def metadata_keys() -> frozenset[str]:
    """Return the keys this release's StatisticMetaData knows."""
    from homeassistant.components.recorder.models import StatisticMetaData

    return frozenset(
        StatisticMetaData.__required_keys__ | StatisticMetaData.__optional_keys__
    )


#: Each medium's statistics: the unit of its hourly sums and its converter.
_UNITS: Final = {
    "water": (UnitOfVolume.CUBIC_METERS, VolumeConverter),
    "electricity": (UnitOfEnergy.KILO_WATT_HOUR, EnergyConverter),
}


def meter_metadata(
    statistic_id: str,
    name: str,
    medium: str = "water",
    keys: frozenset[str] | None = None,
) -> StatisticMetaData:
    """Describe a meter's hourly usage: a sum in m³ (water) or kWh (electricity), no mean."""
    from homeassistant.components.recorder import models

    if keys is None:
        keys = metadata_keys()
    unit, converter = _UNITS[medium]
    metadata: dict[str, Any] = {
        "has_sum": True,
        "name": name,
        "source": DOMAIN,
        "statistic_id": statistic_id,
        "unit_of_measurement": unit,
    }
    mean_type = getattr(models, "StatisticMeanType", None)
    if "mean_type" in keys and mean_type is not None:
        metadata["mean_type"] = mean_type.NONE
    else:
        metadata["has_mean"] = False
    if "unit_class" in keys:
        metadata["unit_class"] = converter.UNIT_CLASS
    return cast("StatisticMetaData", metadata)


def async_add_meter_statistics(
    hass: HomeAssistant,
    statistic_id: str,
    name: str,
    medium: str,
    rows: list[HourRow],
) -> None:
    """Queue hourly rows (insert or replace) of a meter's external statistic."""
    from homeassistant.components.recorder.models import StatisticData
    from homeassistant.components.recorder.statistics import (
        async_add_external_statistics,
    )

    async_add_external_statistics(
        hass,
        meter_metadata(statistic_id, name, medium),
        [
            StatisticData(
                start=dt_util.utc_from_timestamp(row.start),
                state=row.state,
                sum=row.sum,
            )
            for row in rows
        ],
    )


async def async_sum_before(
    hass: HomeAssistant, statistic_id: str, before: int | None = None
) -> float:
    """Return a statistic's sum at the end of its last hour ending at or before `before` (0 if none).

    A meter whose statistics start again (re-added, or restarted after a
    crash that lost where its sum counts from) continues from there; rows it
    wrote itself after `before` are not counted twice. Without `before`, the
    newest sum.
    """
    from homeassistant.components.recorder.statistics import (
        get_last_statistics,
        statistics_during_period,
    )

    recorder = get_instance(hass)
    last = await recorder.async_add_executor_job(
        get_last_statistics, hass, 1, statistic_id, False, {"sum"}
    )
    rows: list[Any] = list(last.get(statistic_id) or [])
    if rows and before is not None and float(rows[0]["start"]) + 3600 > before:
        # Rows after `before` exist: find the last one that ends before it.
        window = await recorder.async_add_executor_job(
            statistics_during_period,
            hass,
            dt_util.utc_from_timestamp(before - 41 * 86400),
            dt_util.utc_from_timestamp(before - 3600 + 1),
            {statistic_id},
            "hour",
            None,
            {"sum"},
        )
        rows = list(window.get(statistic_id) or [])[-1:]
    if not rows or rows[0].get("sum") is None:
        return 0.0
    return float(cast("float", rows[0]["sum"]))


async def async_last_row(hass: HomeAssistant, statistic_id: str) -> HourRow | None:
    """Return a statistic's newest hourly row (start, state, sum), or None without one."""
    from homeassistant.components.recorder.statistics import get_last_statistics

    recorder = get_instance(hass)
    last = await recorder.async_add_executor_job(
        get_last_statistics, hass, 1, statistic_id, False, {"state", "sum"}
    )
    rows: list[Any] = list(last.get(statistic_id) or [])
    if not rows or rows[0].get("state") is None or rows[0].get("sum") is None:
        return None
    row = rows[0]
    return HourRow(int(row["start"]), float(row["state"]), float(row["sum"]))

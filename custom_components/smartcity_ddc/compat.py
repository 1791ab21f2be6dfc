"""Recorder statistics across Home Assistant releases, by feature detection.

Only imported once the recorder is known to be loaded (see coordinator_water).

* 2025.4 describes a statistic's mean with ``mean_type`` (``has_mean`` is
  deprecated and goes away in 2026.4); older releases only know ``has_mean``.
* 2025.11 added ``unit_class`` to the metadata; passing it to an older
  recorder raises TypeError.
"""

from __future__ import annotations

from typing import Any, Final, cast

from homeassistant.components.recorder import models
from homeassistant.components.recorder.models import StatisticData, StatisticMetaData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
)
from homeassistant.const import UnitOfVolume
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import VolumeConverter

from .const import DOMAIN
from .water import HourRow

#: The keys this release's StatisticMetaData knows.
METADATA_KEYS: Final[frozenset[str]] = frozenset(
    StatisticMetaData.__required_keys__ | StatisticMetaData.__optional_keys__
)


def water_metadata(
    statistic_id: str, name: str, keys: frozenset[str] = METADATA_KEYS
) -> StatisticMetaData:
    """Describe a meter's hourly usage: a sum in m³, no mean."""
    metadata: dict[str, Any] = {
        "has_sum": True,
        "name": name,
        "source": DOMAIN,
        "statistic_id": statistic_id,
        "unit_of_measurement": UnitOfVolume.CUBIC_METERS,
    }
    mean_type = getattr(models, "StatisticMeanType", None)
    if "mean_type" in keys and mean_type is not None:
        metadata["mean_type"] = mean_type.NONE
    else:
        metadata["has_mean"] = False
    if "unit_class" in keys:
        metadata["unit_class"] = VolumeConverter.UNIT_CLASS
    return cast("StatisticMetaData", metadata)


def async_add_water_statistics(
    hass: HomeAssistant, statistic_id: str, name: str, rows: list[HourRow]
) -> None:
    """Queue hourly rows (insert or replace) of a meter's external statistic."""
    async_add_external_statistics(
        hass,
        water_metadata(statistic_id, name),
        [
            StatisticData(
                start=dt_util.utc_from_timestamp(row.start),
                state=row.state,
                sum=row.sum,
            )
            for row in rows
        ],
    )


async def async_last_sum(hass: HomeAssistant, statistic_id: str) -> float:
    """Return the newest sum a statistic already has (0 if none): a re-added meter continues from it."""
    last = await get_instance(hass).async_add_executor_job(
        get_last_statistics, hass, 1, statistic_id, False, {"sum"}
    )
    rows = last.get(statistic_id)
    if not rows or rows[0].get("sum") is None:
        return 0.0
    return float(cast("float", rows[0]["sum"]))

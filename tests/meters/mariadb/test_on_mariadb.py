"""Hourly statistics, backfill, re-added meters, corrections and crash recovery on MariaDB.

The same tests as with SQLite; this folder's conftest points the recorder at
MariaDB.
"""

from homeassistant.components.recorder import Recorder

from tests.meters.test_safety import (  # noqa: F401
    test_a_poisoned_reading_is_refused_and_a_wrong_one_can_be_removed,
    test_statistics_sums_stay_right_when_the_history_on_disk_is_older,
)
from tests.meters.test_statistics import (  # noqa: F401
    test_a_meter_added_again_continues_its_statistic,
    test_hourly_usage_rows_and_backfill,
    test_rows_are_imported_again_after_a_restart,
)


async def test_the_recorder_here_is_mariadb(recorder_mock: Recorder) -> None:
    """The tests above really ran against MariaDB, not SQLite."""
    assert recorder_mock.dialect_name == "mysql"
    assert recorder_mock.db_url.startswith("mysql+pymysql://")

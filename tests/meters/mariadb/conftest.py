"""The meter-site statistics tests again, with Home Assistant's recorder on MariaDB.

A site that outgrows SQLite moves the recorder to MySQL/MariaDB; the hourly
statistics this integration imports must work the same there. The session's
MariaDB (the one the card-sync tests use) gets a throwaway database per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.mariadb import MariaDbServer


@pytest.fixture
def recorder_db_url(
    mariadb: MariaDbServer, socket_enabled: None, hass_fixture_setup: list[bool]
) -> Iterator[str]:
    """A fresh MariaDB database for the recorder, dropped after the test."""
    assert not hass_fixture_setup
    account = mariadb.create_account(privileges="ALL PRIVILEGES")
    yield (
        f"mysql+pymysql://{account.user}:{account.password}@127.0.0.1:"
        f"{mariadb.port}/{account.database}?charset=utf8mb4"
    )
    mariadb.drop_account(account)

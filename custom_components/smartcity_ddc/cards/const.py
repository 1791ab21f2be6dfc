"""Constants of the card-sync job."""

from __future__ import annotations

from typing import Final

from ..const import DOMAIN

CONF_DATABASE: Final = "database"
CONF_TABLE: Final = "table"
CONF_TLS: Final = "tls"
CONF_TLS_CA_FILE: Final = "tls_ca_file"
CONF_TLS_VERIFY: Final = "tls_verify"
CONF_GROUPS: Final = "groups"

DEFAULT_MYSQL_PORT: Final = 3306
DEFAULT_SCAN_INTERVAL: Final = 30
MIN_SCAN_INTERVAL: Final = 5
MAX_SCAN_INTERVAL: Final = 86400

#: Seconds to connect (TCP and login) and to run one statement.
CONNECT_TIMEOUT: Final = 5.0
QUERY_TIMEOUT: Final = 15.0

EVENT_CARD_ISSUED: Final = f"{DOMAIN}_card_issued"
EVENT_CARD_DELETED: Final = f"{DOMAIN}_card_deleted"
EVENT_CARD_REJECTED: Final = f"{DOMAIN}_card_rejected"

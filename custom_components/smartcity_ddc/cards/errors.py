"""Which translation key explains which error of a card sync."""

from __future__ import annotations

from typing import Final

from ..helpers import ErrorKeys
from .engine.errors import (
    CardSyncAuthError,
    CardSyncCaFileError,
    CardSyncCleartextPasswordError,
    CardSyncColumnMissingError,
    CardSyncConnectionError,
    CardSyncInsecureServerError,
    CardSyncPasswordEncodingError,
    CardSyncPermissionError,
    CardSyncStoreError,
    CardSyncTableMissingError,
    CardSyncTimeoutError,
    CardSyncTlsError,
    CardSyncTlsNotOfferedError,
    CardSyncUnknownDatabaseError,
    InvalidTableNameError,
)

ERROR_KEYS: Final = ErrorKeys(
    (
        (CardSyncAuthError, "cards_invalid_auth"),
        (CardSyncPasswordEncodingError, "cards_password_encoding"),
        (CardSyncCaFileError, "cards_ca_file"),
        (CardSyncTlsNotOfferedError, "cards_tls_not_offered"),
        (CardSyncTlsError, "cards_tls_error"),
        (CardSyncCleartextPasswordError, "cards_cleartext_password"),
        (CardSyncInsecureServerError, "cards_insecure_server"),
        (CardSyncTimeoutError, "cards_timeout"),
        (CardSyncConnectionError, "cards_cannot_connect"),
        (CardSyncUnknownDatabaseError, "cards_unknown_database"),
        (CardSyncTableMissingError, "cards_table_missing"),
        (CardSyncColumnMissingError, "cards_column_missing"),
        (CardSyncPermissionError, "cards_no_permission"),
        (CardSyncStoreError, "cards_store_error"),
        (InvalidTableNameError, "cards_invalid_table_name"),
    ),
    fallback="cards_database_error",
)

#: The form field each error belongs to in the connection step (the rest: the whole form).
ERROR_FIELDS: Final = {
    "cards_ca_file": "tls_ca_file",
    "cards_tls_not_offered": "tls",
    "cards_password_encoding": "password",
    "cards_invalid_table_name": "table",
    "cards_unknown_database": "database",
    "cards_table_missing": "table",
    "cards_column_missing": "table",
}

"""Which translation key explains which error of a card sync."""

from __future__ import annotations

from typing import Final

from ..helpers import ErrorKeys
from .engine import errors

ERROR_KEYS: Final = ErrorKeys(
    (
        (errors.CardSyncAuthError, "cards_invalid_auth"),
        (errors.CardSyncPasswordEncodingError, "cards_password_encoding"),
        (errors.CardSyncCaFileError, "cards_ca_file"),
        (errors.CardSyncTlsNotOfferedError, "cards_tls_not_offered"),
        (errors.CardSyncTlsError, "cards_tls_error"),
        (errors.CardSyncCleartextPasswordError, "cards_cleartext_password"),
        (errors.CardSyncInsecureServerError, "cards_insecure_server"),
        (errors.CardSyncTimeoutError, "cards_timeout"),
        (errors.CardSyncConnectionError, "cards_cannot_connect"),
        (errors.CardSyncUnknownDatabaseError, "cards_unknown_database"),
        (errors.CardSyncTableMissingError, "cards_table_missing"),
        (errors.CardSyncColumnMissingError, "cards_column_missing"),
        (errors.CardSyncPermissionError, "cards_no_permission"),
        (errors.CardSyncStoreError, "cards_store_error"),
        (errors.InvalidTableNameError, "cards_invalid_table_name"),
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

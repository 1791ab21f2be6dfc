"""Typed errors of the card-sync engine.

Messages name the server, the table or a MySQL error code, never a card number
or a holder's name: the engine only ever sends idx values and identifiers to
the server, so nothing the server echoes back can contain them either.
"""

from __future__ import annotations


class CardSyncError(Exception):
    """Base class for every error the card-sync engine raises."""


class CardSyncConnectionError(CardSyncError):
    """The database server cannot be reached, or the connection was lost."""


class CardSyncTimeoutError(CardSyncConnectionError):
    """The server did not answer within the connect or query timeout."""


class CardSyncTlsError(CardSyncConnectionError):
    """TLS was asked for but could not be established or verified."""


class CardSyncCaFileError(CardSyncTlsError):
    """The CA file for verifying the server cannot be read."""


class CardSyncTlsNotOfferedError(CardSyncTlsError):
    """TLS was asked for and the server does not offer it; nothing was sent."""


class CardSyncInsecureServerError(CardSyncConnectionError):
    """The server asked for something the sync never gives; nothing was sent."""


class CardSyncCleartextPasswordError(CardSyncInsecureServerError):
    """The server asked for the password in clear text on an unencrypted connection."""


class CardSyncClosedError(CardSyncConnectionError):
    """The database was closed; it opens no new connection."""


class CardSyncAuthError(CardSyncError):
    """The server refused the user name or password."""


class CardSyncPasswordEncodingError(CardSyncError):
    """The password has characters that cannot be sent (not valid Unicode text)."""


# MySQL answers a user without global privileges with the same error for a
# database that does not exist and one it may not use, so that a stranger
# cannot probe which databases exist.
class CardSyncUnknownDatabaseError(CardSyncError):
    """The database does not exist, or the user has no rights on it."""


class CardSyncTableMissingError(CardSyncError):
    """The interface table does not exist in the database."""

    def __init__(self, table: str) -> None:
        """Store the table that is missing."""
        super().__init__(f"table {table} does not exist")
        self.table = table


class CardSyncColumnMissingError(CardSyncError):
    """The interface table lacks columns the sync needs."""

    def __init__(self, table: str, columns: list[str]) -> None:
        """Store the missing columns."""
        super().__init__(f"table {table} has no column {', '.join(columns)}")
        self.table = table
        self.columns = columns


class CardSyncPermissionError(CardSyncError):
    """The user may not read or delete rows of the interface table."""

    def __init__(self, table: str, privilege: str) -> None:
        """Store the privilege that is missing (SELECT or DELETE)."""
        super().__init__(f"the user lacks the {privilege} privilege on {table}")
        self.table = table
        self.privilege = privilege


class CardSyncQueryError(CardSyncError):
    """The server refused a statement for another reason."""

    def __init__(self, code: int | None, message: str) -> None:
        """Store the MySQL error code."""
        super().__init__(message)
        self.code = code


class CardSyncStoreError(CardSyncError):
    """The local registry could not be written; nothing is deleted from the table."""


class InvalidTableNameError(CardSyncError, ValueError):
    """A table name is not a plain MySQL identifier."""

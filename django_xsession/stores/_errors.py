"""Outage rules stores share, in a module that imports no model: the cache
store uses the db store's, and imports before Django's apps are ready."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError


def is_database_outage(error: Exception) -> bool:
    """Whether ``error`` says the database is unreachable or refused the statement.

    A deadlock or a serialization failure is one too, for a caller that
    cannot run its statement again.
    """
    # SQLite's "no such table" is a migration not run: a mistake to fix, not
    # an outage to wait out (other databases raise ProgrammingError for it).
    return isinstance(
        error, OperationalError | InterfaceError
    ) and "no such table" not in str(error)

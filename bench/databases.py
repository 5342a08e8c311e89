"""The databases the db engines run on: their tables made before, dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.models import Model

# The app labels of our Session model and django.contrib.sessions' one.
XSESSION_APP = "django_xsession"
DJANGO_SESSIONS_APP = "sessions"
LABELS = {"sqlite": "SQLite (file)", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Database:
    """One alias of ``bench.settings.DATABASES`` and what to call it in a title."""

    alias: str
    label: str


def available() -> tuple[Database, ...]:
    """The databases configured: SQLite always, PostgreSQL when it answered."""
    return tuple(
        Database(alias, LABELS.get(connections[alias].vendor, alias))
        for alias in settings.DATABASES
    )


class SessionsTo:
    """Routes ``django.contrib.sessions`` (and nothing else) to one alias.

    Django's db engines take no alias of their own: the router is how each
    engine of the bench is pointed at its database. It goes into the
    engine's ``DATABASE_ROUTERS``, which ``override_settings`` can swap.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def _route(self, model: type[Model]) -> str | None:
        return self.alias if model._meta.app_label == DJANGO_SESSIONS_APP else None

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._route(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._route(model)

    def __repr__(self) -> str:
        return f"SessionsTo({self.alias!r})"


def session_models() -> tuple[type[Model], ...]:
    """Our Session model and Django's: the tables the db engines need."""
    return (
        *apps.get_app_config(XSESSION_APP).get_models(),
        *apps.get_app_config(DJANGO_SESSIONS_APP).get_models(),
    )


def create_tables(alias: str) -> None:
    """Create both apps' tables in ``alias`` from the models as they are now.

    The schema editor rather than ``migrate``: the tables then match the
    code being measured even while a migration for it is still being
    written, and no ``django_migrations`` table is left to clean up.
    """
    with connections[alias].schema_editor() as editor:
        for model in session_models():
            editor.create_model(model)


@contextmanager
def tables(databases: tuple[Database, ...]) -> Iterator[None]:
    """Both apps' tables in every database for the duration; dropped after.

    In PostgreSQL they live in a schema of their own, dropped whole; the
    SQLite file goes with the bench's temporary directory.
    """
    created: list[Database] = []
    try:
        for database in databases:
            connection = connections[database.alias]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"CREATE SCHEMA {_schema(database)}")
            created.append(database)
            create_tables(database.alias)
        yield
    finally:
        for database in created:
            connection = connections[database.alias]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP SCHEMA {_schema(database)} CASCADE")
            connection.close()


def _schema(database: Database) -> str:
    options = connections[database.alias].settings_dict["OPTIONS"]["options"]
    # "-c search_path=NAME", set by bench.settings.
    schema = str(options).rpartition("=")[2]
    return str(connections[database.alias].ops.quote_name(schema))

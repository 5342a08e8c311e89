"""The database store: the shared contract on every database, and what only it does."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import pickle
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.signing import JSONSerializer
from django.db import (
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Model
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xsession.engine import SessionStore
from django_xsession.models import Session
from django_xsession.stores.base import Record, Store
from django_xsession.stores.db import DatabaseStore
from tests.services import MARIADB, POSTGRES, missing
from tests.store_contract import StoreContract, new_sid

if TYPE_CHECKING:
    from django.test import SimpleTestCase

    _TestCase = SimpleTestCase
else:
    _TestCase = object

HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)
TABLE = Session._meta.db_table
#: The server behind each optional database alias of ``tests.settings``.
SERVICES = {"postgres": ("PostgreSQL", POSTGRES), "mariadb": ("MariaDB", MARIADB)}


def require_database(alias: str) -> None:
    """Skip loudly (or fail under XSESSION_REQUIRE_SERVICES=1) without ``alias``."""
    if alias not in settings.DATABASES:
        name, address = SERVICES[alias]
        missing(name, address)


class RequiresDatabases(_TestCase):
    """Mix in first: the class skips, or fails, unless its ``databases`` exist."""

    @classmethod
    def setUpClass(cls) -> None:
        if cls.databases != "__all__":
            for alias in sorted(cls.databases):
                require_database(alias)
        super().setUpClass()


def db_store(alias: str) -> override_settings:
    """``override_settings`` for the db store on ``alias``."""
    return override_settings(
        XSESSION={"STORE": {"BACKEND": "db", "OPTIONS": {"using": alias}}}
    )


# The contract on every database. Django reads ``databases`` from the class,
# and its stubs type it as a set: hence the noqa for RUF012.


class DatabaseStoreTests(StoreContract, TestCase):
    exact_across_use_tz = False

    def make_store(self) -> Store:
        return DatabaseStore()


class PostgresDatabaseStoreTests(RequiresDatabases, StoreContract, TestCase):
    databases = {"default", "postgres"}  # noqa: RUF012

    def make_store(self) -> Store:
        return DatabaseStore(using="postgres")


class MariaDBDatabaseStoreTests(RequiresDatabases, StoreContract, TestCase):
    databases = {"default", "mariadb"}  # noqa: RUF012
    exact_across_use_tz = False

    def make_store(self) -> Store:
        return DatabaseStore(using="mariadb")


# What only the database store does, on SQLite.


class ReversedJSON:
    """A SESSION_SERIALIZER of a project's own: JSON, backwards."""

    def dumps(self, obj: Any) -> bytes:
        return JSONSerializer().dumps(obj)[::-1]

    def loads(self, data: bytes) -> Any:
        return JSONSerializer().loads(data[::-1])


class MarkedJSON:
    """A SESSION_SERIALIZER whose text starts as the store's base64 does."""

    def dumps(self, obj: Any) -> bytes:
        return b"base64:" + JSONSerializer().dumps(obj)

    def loads(self, data: bytes) -> Any:
        return JSONSerializer().loads(data.removeprefix(b"base64:"))


def saved_session(data: dict[str, Any]) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def loaded(token: str | None) -> SessionStore:
    """A session loaded from the store, as a request with ``token`` has it."""
    session = SessionStore(token)
    session.get("anything")
    return session


def data_of(token: str | None) -> dict[str, Any]:
    return dict(loaded(token).items())


def row_of(session: SessionStore) -> Session:
    return Session.objects.get(key=Store.digest(session.id))


@db_store("default")
class AtRestTests(TestCase):
    def raw_rows(self) -> list[dict[str, Any]]:
        with connections["default"].cursor() as cursor:
            cursor.execute(f"SELECT * FROM {TABLE}")
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def test_the_id_is_hashed_at_rest(self) -> None:
        session = saved_session({"cart": [1, 2]})
        sid, token = session.id, session.session_key
        assert token is not None
        assert sid in token

        rows = self.raw_rows()

        assert len(rows) == 1
        (row,) = rows
        assert row["key"] == hashlib.sha256(sid.encode()).hexdigest()
        for column, value in row.items():
            assert sid not in str(value), column
            assert token not in str(value), column

    def test_data_is_json_text(self) -> None:
        data = {"cart": [1, 2], "name": "Zoë ✓", "nested": {"a": None}}
        session = saved_session(data)

        (row,) = self.raw_rows()

        assert isinstance(row["data"], str)
        assert json.loads(row["data"]) == data == data_of(session.session_key)

    def test_data_is_what_djangos_json_serializer_writes(self) -> None:
        data = {"b": [1.5, -0.0, True, None], "a": "Zoë ✓\u2028", "n": {"x": []}}
        saved_session(data)

        (row,) = self.raw_rows()

        assert row["data"] == JSONSerializer().dumps(data).decode("latin-1")

    @override_settings(SESSION_SERIALIZER=f"{__name__}.ReversedJSON")
    def test_a_custom_session_serializer_encodes_the_stored_data(self) -> None:
        session = saved_session({"cart": [1, 2]})

        (row,) = self.raw_rows()

        assert row["data"] == '}]2,1[:"trac"{'
        assert data_of(session.session_key) == {"cart": [1, 2]}

    @override_settings(SESSION_SERIALIZER="tests.store_contract.PickleSerializer")
    def test_binary_data_is_stored_as_base64_text(self) -> None:
        data = {"raw": b"\x00\xff", "n": 1}
        session = saved_session(data)

        (row,) = self.raw_rows()

        assert row["data"] == "base64:" + base64.b64encode(pickle.dumps(data)).decode()
        assert data_of(session.session_key) == data

    @override_settings(SESSION_SERIALIZER=f"{__name__}.MarkedJSON")
    def test_text_that_starts_like_base64_data_is_stored_as_base64(self) -> None:
        session = saved_session({"cart": [1, 2]})

        (row,) = self.raw_rows()

        encoded = base64.b64encode(b'base64:{"cart":[1,2]}').decode()
        assert row["data"] == "base64:" + encoded
        assert data_of(session.session_key) == {"cart": [1, 2]}

    def test_an_expired_row_is_not_returned_before_clear_expired(self) -> None:
        sid = new_sid()
        now = timezone.now()
        Session.objects.create(
            key=Store.digest(sid),
            data='{"a":1}',
            expires=now - SECOND,
            created=now - HOUR,
            last_seen=now - HOUR,
        )

        assert DatabaseStore().get(sid) is None
        assert DatabaseStore().all() == {}
        assert DatabaseStore().length() == 0
        assert DatabaseStore().count_expired() == 1

    def test_a_session_past_expiry_loads_empty(self) -> None:
        session = saved_session({"a": 1})
        token = session.session_key
        assert data_of(token) == {"a": 1}
        Session.objects.filter(key=Store.digest(session.id)).update(
            expires=timezone.now() - SECOND
        )

        again = loaded(token)

        assert dict(again.items()) == {}
        assert again.get("a") is None
        assert not again.is_stored
        assert Session.objects.filter(key=Store.digest(session.id)).exists()

    def test_user_id_follows_the_auth_user_key(self) -> None:
        session = saved_session({"a": 1})
        assert row_of(session).user_id is None

        session["_auth_user_id"] = 42
        session.save()
        assert row_of(session).user_id == "42"

        del session["_auth_user_id"]
        session.save()
        assert row_of(session).user_id is None

    def test_user_id_follows_on_the_fast_and_the_locked_path(self) -> None:
        token = saved_session({"a": 1, "_auth_user_id": 7}).session_key
        assert row_of(loaded(token)).user_id == "7"

        # Loaded, changed and saved with nobody in between: the fast path.
        fast = loaded(token)
        del fast["_auth_user_id"]
        fast.save()
        assert row_of(fast).user_id is None
        fast = loaded(token)
        fast["_auth_user_id"] = "8"
        fast.save()
        assert row_of(fast).user_id == "8"
        fast = loaded(token)
        fast["c"] = 3
        fast.save()
        assert row_of(fast).user_id == "8"

        # Loaded before another save moved the version: the locked path.
        stale, other = loaded(token), loaded(token)
        other["b"] = 2
        other.save()
        del stale["_auth_user_id"]
        stale.save()

        assert row_of(stale).user_id is None
        assert data_of(token) == {"a": 1, "b": 2, "c": 3}


@contextlib.contextmanager
def database_time_zone(alias: str, name: str) -> Iterator[None]:
    """``DATABASES[alias]["TIME_ZONE"]`` set to ``name`` for the block."""
    connection = connections[alias]
    before = connection.settings_dict.get("TIME_ZONE")

    def take(zone: str | None) -> None:
        connection.settings_dict["TIME_ZONE"] = zone
        # Both are cached properties of the connection: read, then forgotten.
        for cached in ("timezone", "timezone_name"):
            getattr(connection, cached)
            delattr(connection, cached)

    take(name)
    try:
        yield
    finally:
        take(before)


@db_store("default")
class DatabaseTimeZoneTests(TestCase):
    """A database on a clock with DST (``DATABASES[...]["TIME_ZONE"]``), which
    SQLite and MariaDB compare naive wall-clock times on."""

    def test_a_session_expired_in_the_repeated_hour_is_not_served(self) -> None:
        # New York's clocks go back from 2 to 1 am (EDT to EST) at 06:00 UTC.
        saved_at = datetime.datetime(2024, 11, 3, 5, 30, tzinfo=datetime.timezone.utc)
        read_at = datetime.datetime(2024, 11, 3, 6, 10, tzinfo=datetime.timezone.utc)
        with database_time_zone("default", "America/New_York"):
            with mock.patch("django.utils.timezone.now", return_value=saved_at):
                session = SessionStore()
                session.update({"a": 1, "_auth_user_id": 7})
                session.set_expiry(600)  # 01:40 EDT; read at 01:10 EST
                session.save()
                token = session.session_key

            with mock.patch("django.utils.timezone.now", return_value=read_at):
                assert SessionStore().exists(token) is False
                assert data_of(token) == {}
                assert DatabaseStore().all() == {}
                assert DatabaseStore().user_sessions("7") == {}


@db_store("default")
class FailedSaveTests(TestCase):
    def test_a_save_that_fails_inside_atomic_marks_it_for_rollback(self) -> None:
        session = loaded(saved_session({"a": 1}).session_key)
        session["a"] = 2
        connection = connections["default"]
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE UPDATE ON {TABLE} "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )

        with transaction.atomic():
            with pytest.raises(IntegrityError):
                session.save()
            # As a failed QuerySet.update would: the caller's transaction
            # cannot commit half of what it did.
            assert connection.needs_rollback


class ReplaceTests(TestCase):
    def test_replace_deletes_and_creates_in_one_transaction(self) -> None:
        store = DatabaseStore()
        old = new_sid()
        record = Record(data={"a": 1}, expires=timezone.now() + datetime.timedelta(1))
        store.set(old, record, create=True)

        def failing_after_the_delete(*args: Any, **kwargs: Any) -> None:
            # Here the old row is deleted, inside the transaction.
            assert not Session.objects.filter(key=store.digest(old)).exists()
            raise RuntimeError("the process dies here")

        with (
            mock.patch.object(store, "_write", failing_after_the_delete),
            pytest.raises(RuntimeError),
        ):
            store.replace(old, new_sid(), record)

        # Rolled back: the old row was never gone for other connections.
        assert store.get(old) is not None

    def test_replace_is_one_delete_and_one_insert(self) -> None:
        store = DatabaseStore()
        old = new_sid()
        record = Record(data={"a": 1}, expires=timezone.now() + datetime.timedelta(1))
        store.set(old, record, create=True)

        with CaptureQueriesContext(connections["default"]) as queries:
            assert store.replace(old, new_sid(), record)

        statements = [query["sql"].split()[0] for query in queries]
        assert statements.count("DELETE") == 1
        assert statements.count("INSERT") == 1


@db_store("default")
class VersionTests(TestCase):
    def test_an_uncontested_save_is_one_update_and_bumps_the_version(self) -> None:
        token = saved_session({"a": 1}).session_key
        session = loaded(token)
        version = row_of(session).version
        session["b"] = 2

        with CaptureQueriesContext(connections["default"]) as queries:
            session.save()

        assert len(queries) == 1
        assert queries[0]["sql"].startswith("UPDATE")
        assert row_of(session).version == version + 1
        assert data_of(token) == {"a": 1, "b": 2}

    def test_a_moved_version_takes_the_locked_path_and_merges(self) -> None:
        token = saved_session({"a": 1}).session_key
        first, second = loaded(token), loaded(token)
        version = row_of(first).version
        first["a"] = 10
        first.save()
        assert row_of(first).version == version + 1
        second["b"] = 2

        with CaptureQueriesContext(connections["default"]) as queries:
            second.save()

        sql = [query["sql"] for query in queries]
        assert len(sql) > 1
        # The fast path's UPDATE found no row at the loaded version...
        assert sql[0].startswith("UPDATE")
        # ...so the row was locked, re-read and the delta applied.
        assert any(statement.startswith("SELECT") for statement in sql)
        assert row_of(second).version > version + 1
        assert data_of(token) == {"a": 10, "b": 2}


class SessionsToTheFile:
    """Routes the Session model to "sqlite_file", and nothing else anywhere."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "sqlite_file" if model is Session else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return "sqlite_file" if model is Session else None


class DatabaseChoiceTests(TestCase):
    databases = {"default", "sqlite_file"}  # noqa: RUF012

    def assert_only_in_the_file(self, session: SessionStore) -> None:
        key = Store.digest(session.id)
        assert Session.objects.using("sqlite_file").filter(key=key).exists()
        assert not Session.objects.using("default").exists()
        assert data_of(session.session_key) == {"a": 1, "b": 2}

    def plant_in_default(self, sid: str) -> None:
        # A row only "default" has: reading it would mean a read went there.
        now = timezone.now()
        Session.objects.using("default").create(
            key=Store.digest(sid),
            data='{"in":"default"}',
            expires=now + HOUR,
            created=now,
            last_seen=now,
        )

    @override_settings(
        DATABASE_ROUTERS=[f"{__name__}.SessionsToTheFile"],
        XSESSION={"STORE": "db"},
    )
    def test_the_routers_choose_the_database(self) -> None:
        session = saved_session({"a": 1})
        session["b"] = 2
        session.save()
        self.assert_only_in_the_file(session)

        planted = new_sid()
        self.plant_in_default(planted)
        assert DatabaseStore().get(planted) is None

    @db_store("sqlite_file")
    def test_options_using_chooses_the_database(self) -> None:
        session = saved_session({"a": 1})
        session["b"] = 2
        session.save()
        self.assert_only_in_the_file(session)


class LaggingReplica:
    """Writes sessions to "sqlite_file" and reads them from "default": a
    read replica that has not caught up (it never does)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "default" if model is Session else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return "sqlite_file" if model is Session else None


@override_settings(DATABASE_ROUTERS=[f"{__name__}.LaggingReplica"])
class ReplicaTests(TestCase):
    databases = {"default", "sqlite_file"}  # noqa: RUF012

    def test_the_next_request_reads_the_session_just_written(self) -> None:
        for store in ("db", "cached_db"):
            with self.subTest(store=store), self.settings(XSESSION={"STORE": store}):
                self.client.get("/write/", {"a": "1"})

                assert self.client.get("/read/").json() == {"a": "1"}

    def test_a_session_ended_is_not_served_by_the_replica(self) -> None:
        for store in ("db", "cached_db"):
            with self.subTest(store=store), self.settings(XSESSION={"STORE": store}):
                session = saved_session({"a": 1})
                # The replica has the row; the logout has not reached it.
                row = Session.objects.using("sqlite_file").get(
                    key=Store.digest(session.id)
                )
                row.save(using="default")
                session.delete()

                assert data_of(session.session_key) == {}


class MigrationTests(TestCase):
    def test_the_migrations_match_the_model(self) -> None:
        # Exits with status 1 when the model has changes with no migration.
        call_command(
            "makemigrations", "django_xsession", "--check", "--dry-run", verbosity=0
        )


@override_settings(XSESSION={"STORE": "db"})
class MissingTableTests(TestCase):
    def test_a_migration_not_run_is_an_error_not_an_outage(self) -> None:
        # SQLite says "no such table" with an OperationalError, as it says
        # "unable to open database"; only the second is an outage (503).
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {Session._meta.db_table}")
        with self.assertRaisesMessage(OperationalError, "no such table"):
            self.client.get("/write/", {"a": "1"})

"""``manage.py clearsessions`` runs against the configured store."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from unittest import mock

from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session as ContribSession
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import SimpleTestCase, TestCase, modify_settings, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import testproject.settings
from django_xsession.models import Session
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store

REPO_ROOT = Path(__file__).resolve().parent.parent


class NoClearStore(Store):
    """A store that, like a cache, cannot list its expired sessions."""

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        raise NotImplementedError


class SessionStore(SessionBase):
    """This module as an engine that, like Django's base, cannot clear."""


def clearsessions(*args: str) -> str:
    out = StringIO()
    call_command("clearsessions", *args, stdout=out)
    return out.getvalue()


@override_settings(XSESSION={"STORE": "memory"})
class ClearSessionsTests(SimpleTestCase):
    def setUp(self) -> None:
        self.store = get_store()
        self.store.clear()
        self.now = timezone.now()

    def create(self, sid: str, lasts: datetime.timedelta) -> None:
        record = Record({"sid": sid}, expires=self.now + lasts, created=self.now)
        self.store.set(sid, record, create=True)

    def test_deletes_expired_sessions_and_says_how_many(self) -> None:
        self.create("expiring-1", datetime.timedelta(minutes=1))
        self.create("expiring-2", datetime.timedelta(minutes=1))
        self.create("staying", datetime.timedelta(hours=1))
        later = self.now + datetime.timedelta(minutes=2)

        # The memory store prunes on every write: let the sessions expire
        # while nothing writes, as they would overnight.
        with mock.patch("django.utils.timezone.now", return_value=later):
            output = clearsessions()

            assert output == "Deleted 2 expired session(s).\n"
            assert set(self.store.all()) == {Store.digest("staying")}
            assert clearsessions() == "Deleted 0 expired session(s).\n"

    def test_leaves_live_sessions_alone(self) -> None:
        self.create("staying", datetime.timedelta(hours=1))

        assert clearsessions() == "Deleted 0 expired session(s).\n"

        record = self.store.get("staying")
        assert record is not None
        assert record.data == {"sid": "staying"}

    def test_verbosity_2_reports_what_the_store_deleted(self) -> None:
        self.create("expiring-1", datetime.timedelta(minutes=1))
        self.create("expiring-2", datetime.timedelta(minutes=1))
        later = self.now + datetime.timedelta(minutes=2)

        with mock.patch("django.utils.timezone.now", return_value=later):
            output = clearsessions("--verbosity", "2")

        assert output == (
            "Deleted 2 expired session(s) (2 so far).\nDeleted 2 expired session(s).\n"
        )

    def test_dry_run_counts_without_deleting(self) -> None:
        self.create("expiring", datetime.timedelta(minutes=1))
        self.create("staying", datetime.timedelta(hours=1))
        later = self.now + datetime.timedelta(minutes=2)

        with mock.patch("django.utils.timezone.now", return_value=later):
            assert clearsessions("--dry-run") == "Would delete 1 expired session(s).\n"
            assert clearsessions("--dry-run") == "Would delete 1 expired session(s).\n"
            assert clearsessions() == "Deleted 1 expired session(s).\n"

    def test_batch_size_must_be_positive(self) -> None:
        self.create("expiring", datetime.timedelta(minutes=1))
        later = self.now + datetime.timedelta(minutes=2)

        with mock.patch("django.utils.timezone.now", return_value=later):
            # The top one: more would overflow SQLite's and PostgreSQL's
            # integers with a raw error.
            for size in ("0", "-10", "1000000001", str(2**63)):
                with (
                    self.subTest(size=size),
                    self.assertRaisesMessage(
                        CommandError,
                        f"--batch-size must be from 1 to 1,000,000,000, not {size}.",
                    ),
                ):
                    clearsessions("--batch-size", size)
            with self.assertRaisesMessage(CommandError, "invalid int value: 'ten'"):
                clearsessions("--batch-size", "ten")

            assert self.store.count_expired() == 1

    @override_settings(XSESSION={"STORE": "tests.test_clearsessions.NoClearStore"})
    def test_a_store_that_cannot_clear_expired_is_a_command_error(self) -> None:
        with self.assertRaisesMessage(
            CommandError, "'tests.test_clearsessions.NoClearStore'"
        ):
            clearsessions()

    @override_settings(XSESSION={"STORE": "tests.test_clearsessions.NoClearStore"})
    def test_a_store_that_cannot_count_expired_is_a_command_error(self) -> None:
        with self.assertRaisesMessage(
            CommandError,
            "Session store 'tests.test_clearsessions.NoClearStore' doesn't support "
            "counting expired sessions.",
        ):
            clearsessions("--dry-run")


def add_rows(name: str, count: int, expires: datetime.datetime) -> set[str]:
    """Store ``count`` sessions directly in the table; return their keys."""
    now = timezone.now()
    rows = [
        Session(
            key=Store.digest(f"{name}-{i}"),
            data="{}",
            expires=expires,
            created=now,
            last_seen=now,
        )
        for i in range(count)
    ]
    Session.objects.bulk_create(rows)
    return {row.key for row in rows}


@override_settings(XSESSION={"STORE": "cache"})
class ClearSessionsCacheStoreTests(SimpleTestCase):
    def test_the_cache_store_has_nothing_to_delete(self) -> None:
        nothing = "Nothing to delete: the session store expires sessions itself.\n"
        assert clearsessions() == nothing
        assert clearsessions("--dry-run") == nothing


@override_settings(
    XSESSION={"STORE": {"BACKEND": "db", "OPTIONS": {"using": "unreachable"}}}
)
class ClearSessionsOutageTests(SimpleTestCase):
    databases = {"unreachable"}  # noqa: RUF012

    def test_an_unreachable_database_is_a_command_error(self) -> None:
        for args in ((), ("--dry-run",)):
            with (
                self.subTest(args=args),
                self.assertRaisesMessage(
                    CommandError, "The session database is unreachable"
                ),
            ):
                clearsessions(*args)


@override_settings(XSESSION={"STORE": "db"})
class ClearSessionsDatabaseTests(TestCase):
    def setUp(self) -> None:
        now = timezone.now()
        self.expired = add_rows("expired", 25, now - datetime.timedelta(minutes=1))
        self.live = add_rows("live", 5, now + datetime.timedelta(hours=1))

    def remaining(self) -> set[str]:
        return set(Session.objects.values_list("key", flat=True))

    def test_verbosity_2_reports_every_batch(self) -> None:
        output = clearsessions("--batch-size", "10", "--verbosity", "2")

        assert output.splitlines() == [
            "Deleted 10 expired session(s) (10 so far).",
            "Deleted 10 expired session(s) (20 so far).",
            "Deleted 5 expired session(s) (25 so far).",
            "Deleted 25 expired session(s).",
        ]
        assert self.remaining() == self.live

    def test_verbosity_1_reports_the_total_only(self) -> None:
        assert clearsessions("--batch-size", "10") == "Deleted 25 expired session(s).\n"
        assert self.remaining() == self.live

    def test_verbosity_0_reports_nothing(self) -> None:
        assert clearsessions("--batch-size", "10", "--verbosity", "0") == ""
        assert self.remaining() == self.live

    def test_dry_run_deletes_nothing(self) -> None:
        output = clearsessions("--dry-run", "--batch-size", "10", "--verbosity", "2")

        assert output == "Would delete 25 expired session(s).\n"
        assert self.remaining() == self.expired | self.live

    def test_no_statement_deletes_more_than_a_batch(self) -> None:
        # Memory stays flat however many sessions expired: no key is fetched,
        # and each statement deletes a bounded batch.
        with CaptureQueriesContext(connection) as queries:
            clearsessions("--batch-size", "10")

        statements = [query["sql"] for query in queries.captured_queries]
        deletes = [sql for sql in statements if sql.startswith("DELETE")]
        assert len(deletes) == 3
        assert all(re.search(r"\bLIMIT 10\b", sql) for sql in deletes), deletes
        assert not [sql for sql in statements if sql.startswith("SELECT")]
        assert self.remaining() == self.live

    def test_batch_size_defaults_to_ten_thousand(self) -> None:
        with CaptureQueriesContext(connection) as queries:
            clearsessions()

        deletes = [
            query["sql"]
            for query in queries.captured_queries
            if query["sql"].startswith("DELETE")
        ]
        assert len(deletes) == 1
        assert re.search(r"\bLIMIT 10000\b", deletes[0]), deletes


DJANGO_DB_ENGINE = "django.contrib.sessions.backends.db"


@override_settings(XSESSION={"STORE": "memory"})
class ClearSessionsOfDjangosEngineTests(TestCase):
    """Before a migration's step 2, or after a rollback, as Django's command."""

    def setUp(self) -> None:
        get_store().clear()
        now = timezone.now()
        for key, expires in (
            ("expired0django0session", now - datetime.timedelta(minutes=1)),
            ("live0django0session", now + datetime.timedelta(hours=1)),
        ):
            ContribSession.objects.create(
                session_key=key, session_data="", expire_date=expires
            )

    def remaining(self) -> set[str]:
        return set(ContribSession.objects.values_list("session_key", flat=True))

    @override_settings(SESSION_ENGINE=DJANGO_DB_ENGINE)
    def test_its_expired_sessions_are_deleted(self) -> None:
        output = clearsessions()

        assert output == (
            f"Cleared the expired sessions of SESSION_ENGINE '{DJANGO_DB_ENGINE}' "
            "(the engine does not count them).\n"
            "Deleted 0 expired session(s).\n"
        )
        assert self.remaining() == {"live0django0session"}

    @override_settings(SESSION_ENGINE=DJANGO_DB_ENGINE)
    def test_dry_run_deletes_none_of_them(self) -> None:
        output = clearsessions("--dry-run")

        assert output.startswith(
            f"Would clear the expired sessions of SESSION_ENGINE '{DJANGO_DB_ENGINE}'"
        )
        assert self.remaining() == {"expired0django0session", "live0django0session"}

    @override_settings(SESSION_ENGINE="tests.test_clearsessions")
    def test_an_engine_that_cannot_clear_is_djangos_command_error(self) -> None:
        with self.assertRaisesMessage(
            CommandError,
            "Session engine 'tests.test_clearsessions' doesn't support clearing "
            "expired sessions.",
        ):
            clearsessions()

    @override_settings(XSESSION={"STORE": "memory", "LEGACY_CONTRIB": True})
    def test_under_our_engine_the_old_table_is_left_alone(self) -> None:
        assert clearsessions() == "Deleted 0 expired session(s).\n"
        assert self.remaining() == {"expired0django0session", "live0django0session"}


@override_settings(XSESSION={"STORE": "memory"}, SESSION_ENGINE=DJANGO_DB_ENGINE)
@modify_settings(INSTALLED_APPS={"remove": ["django.contrib.sessions"]})
class ClearSessionsOfAnEngineLeftOverTests(SimpleTestCase):
    def test_without_django_contrib_sessions_only_our_store_is_cleared(self) -> None:
        # Django's command, not installed, would not have run either.
        assert clearsessions() == "Deleted 0 expired session(s).\n"


class ClearSessionsWithoutContribSessionsTests(SimpleTestCase):
    def test_demo_project_runs_clearsessions(self) -> None:
        # The demo project replaces django.contrib.sessions rather than
        # installing it next to django-xsession.
        assert "django.contrib.sessions" not in testproject.settings.INSTALLED_APPS

        with tempfile.TemporaryDirectory() as scratch:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "testproject.settings",
                "TESTPROJECT_DATABASE": str(Path(scratch) / "demo.sqlite3"),
            }

            def manage(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [sys.executable, "manage.py", *args],
                    cwd=REPO_ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )

            migrated = manage("migrate", "--noinput")
            assert migrated.returncode == 0, migrated.stderr
            result = manage("clearsessions")
            dry_run = manage("clearsessions", "--dry-run")

        assert result.returncode == 0, result.stderr
        assert result.stdout == "Deleted 0 expired session(s).\n"
        assert dry_run.returncode == 0, dry_run.stderr
        assert dry_run.stdout == "Would delete 0 expired session(s).\n"

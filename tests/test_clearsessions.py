"""``manage.py clearsessions`` runs against the configured store."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, override_settings
from django.utils import timezone

import testproject.settings
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store

REPO_ROOT = Path(__file__).resolve().parent.parent


class NoClearStore(Store):
    """A store that, like a cache, cannot list its expired sessions."""

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        raise NotImplementedError


def clearsessions() -> str:
    out = StringIO()
    call_command("clearsessions", stdout=out)
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

    @override_settings(XSESSION={"STORE": "tests.test_clearsessions.NoClearStore"})
    def test_a_store_that_cannot_clear_expired_is_a_command_error(self) -> None:
        with self.assertRaisesMessage(
            CommandError, "'tests.test_clearsessions.NoClearStore'"
        ):
            clearsessions()


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

        assert result.returncode == 0, result.stderr
        assert result.stdout == "Deleted 0 expired session(s).\n"

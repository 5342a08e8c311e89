"""IDLE_TIMEOUT, ABSOLUTE_TIMEOUT and TOUCH_AFTER, through the middleware.

The behaviour is written once, in :class:`Timeouts`, and run on the memory
and the database store; each store says how it counts the writes a request
makes. A store that keeps no last-seen time has a test of its own. Time is
Django's clock, frozen at chosen instants: nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookies import Morsel
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponseBase
from django.test import SimpleTestCase, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xsession import signing
from django_xsession.conf import get_options
from django_xsession.models import Session as SessionRow
from django_xsession.session import Session
from django_xsession.stores import get_store
from django_xsession.stores.base import Record
from django_xsession.stores.memory import MemoryStore
from tests.stores import CountingCalls, CountingMemoryStore
from tests.test_stores_redis import REDIS_STORE, RequiresRedis

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    _TestCase = TestCase
else:
    _TestCase = object

NAME = "sessionid"
SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)
AGE = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
ALICE = {"username": "alice", "password": "secret"}


class Timeouts(_TestCase):
    """Mix in first, with ``TestCase``; set ``store_setting`` and ``writes``."""

    #: The store's XSESSION["STORE"].
    store_setting: ClassVar[Any]

    alice: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)

    def setUp(self) -> None:
        super().setUp()
        self.now = timezone.now().replace(microsecond=0)
        get_store().clear()
        self.addCleanup(get_store().clear)

    def configure(self, **options: Any) -> None:
        """Use these options, and the class's store, for the rest of the test."""
        overridden = self.settings(XSESSION={"STORE": self.store_setting, **options})
        overridden.enable()
        self.addCleanup(overridden.disable)

    @contextmanager
    def writes(self) -> Iterator[Callable[[], int]]:
        """Count the store writes (saves, touches, deletes) made meanwhile."""
        raise NotImplementedError

    @contextmanager
    def clock_at(self, offset: datetime.timedelta) -> Iterator[None]:
        with mock.patch("django.utils.timezone.now", return_value=self.now + offset):
            yield

    def get(self, path: str, at: datetime.timedelta, **query: str) -> Response:
        with self.clock_at(at):
            return self.client.get(path, query)

    def sid(self) -> str:
        verified = signing.unsign(
            self.client.cookies[NAME].value, get_options().secrets
        )
        assert verified is not None
        return verified.sid

    def record(self, sid: str, at: datetime.timedelta) -> Record | None:
        with self.clock_at(at):
            return get_store().get(sid)

    def cookie(self, response: HttpResponseBase) -> Morsel[str] | None:
        return response.cookies.get(NAME)

    def max_age(self, response: HttpResponseBase) -> int:
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value
        return int(morsel["max-age"])

    def cleared(self, response: HttpResponseBase) -> bool:
        morsel = self.cookie(response)
        return morsel is not None and morsel.value == "" and morsel["max-age"] == 0

    def whoami(self, at: datetime.timedelta) -> str:
        return self.get("/whoami/", at).content.decode()

    # IDLE_TIMEOUT

    def test_a_request_within_the_idle_limit_keeps_the_session(self) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()

        assert self.whoami(599 * SECOND) == "alice"
        record = self.record(sid, 599 * SECOND)
        assert record is not None
        assert record.last_seen == self.now + 599 * SECOND
        # 1198 s after the login, but only 599 s after the last request.
        assert self.whoami(1198 * SECOND) == "alice"

    def test_past_the_idle_limit_the_session_is_destroyed_and_anonymous(
        self,
    ) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/login/", 0 * SECOND, **ALICE)
        self.get("/write/", 0 * SECOND, cart="apples")
        sid = self.sid()

        response = self.get("/read/", 601 * SECOND)

        assert response.json() == {}
        assert self.cleared(response)
        assert self.whoami(601 * SECOND) == ""
        assert self.record(sid, 601 * SECOND) is None
        # Gone from the store itself, not merely hidden past the limit.
        assert self.record(sid, 0 * SECOND) is None

    def test_past_the_idle_limit_a_write_starts_a_new_session(self) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/login/", 0 * SECOND, **ALICE)
        old = self.sid()

        response = self.get("/write/", 601 * SECOND, fresh="1")

        assert response.json() == {"fresh": "1"}
        assert self.sid() != old
        assert self.record(old, 0 * SECOND) is None
        assert self.whoami(602 * SECOND) == ""

    def test_a_request_that_does_not_read_the_session_still_counts_as_activity(
        self,
    ) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()

        self.get("/nothing/", 500 * SECOND)

        record = self.record(sid, 500 * SECOND)
        assert record is not None
        assert record.last_seen == self.now + 500 * SECOND
        assert self.whoami(1000 * SECOND) == "alice"

    def test_idle_refresh_moves_last_seen_but_not_the_expiry(self) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/write/", 0 * SECOND, cart="apples")
        sid = self.sid()

        with self.writes() as written:
            response = self.get("/read/", 100 * SECOND)

        assert written() == 1
        assert self.cookie(response) is None
        record = self.record(sid, 100 * SECOND)
        assert record is not None
        assert record.last_seen == self.now + 100 * SECOND
        assert record.expires == self.now + AGE
        assert record.created == self.now

    def test_clearing_an_idle_session_unread_starts_a_new_one(self) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/login/", 0 * SECOND, **ALICE)
        old = self.sid()

        self.get("/clear-then-write/", 3600 * SECOND)

        assert self.sid() != old
        assert self.record(old, 0 * SECOND) is None
        assert self.get("/read/", 3601 * SECOND).json() == {"step": 1}

    def test_clearing_a_session_unread_keeps_its_absolute_deadline(self) -> None:
        self.configure(ABSOLUTE_TIMEOUT=3600)
        self.get("/write/", 0 * SECOND, cart="apples")
        sid = self.sid()

        self.get("/clear-then-write/", 1800 * SECOND)

        assert self.sid() == sid
        record = self.record(sid, 1800 * SECOND)
        assert record is not None
        assert record.data == {"step": 1}
        assert record.created == self.now
        assert self.get("/read/", 3601 * SECOND).json() == {}

    async def test_an_idle_session_is_destroyed_under_asgi(self) -> None:
        await sync_to_async(self.configure)(IDLE_TIMEOUT=600)
        await sync_to_async(self.get)("/login/", 0 * SECOND, **ALICE)
        self.async_client.cookies[NAME] = self.client.cookies[NAME].value
        sid = self.sid()

        with self.clock_at(300 * SECOND):
            response = await self.async_client.get("/async/session-user/")
        assert response.content == b"alice"
        with self.clock_at(901 * SECOND):
            response = await self.async_client.get("/async/session-user/")

        assert response.content == b""
        assert await sync_to_async(self.record)(sid, 0 * SECOND) is None

    # ABSOLUTE_TIMEOUT

    def test_a_busy_rolling_session_still_ends_at_the_absolute_deadline(
        self,
    ) -> None:
        self.configure(ROLLING=True, ABSOLUTE_TIMEOUT=3600)
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()

        for seconds in range(300, 3600, 300):
            assert self.whoami(seconds * SECOND) == "alice"
        assert self.whoami(3599 * SECOND) == "alice"

        response = self.get("/whoami/", 3600 * SECOND)
        assert response.content == b""
        # The store's own expiry ended it, with the cookie's: nothing to clear.
        assert self.cookie(response) is None
        assert self.record(sid, 3600 * SECOND) is None

    def test_the_stored_expiry_never_passes_the_deadline(self) -> None:
        self.configure(ROLLING=True, ABSOLUTE_TIMEOUT=3600)
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()

        for seconds in (0, 1200, 3000):
            self.get("/increment/", seconds * SECOND)
            record = self.record(sid, seconds * SECOND)
            assert record is not None
            assert record.expires == self.now + 3600 * SECOND
            assert record.created == self.now

    def test_the_cookie_max_age_never_reaches_past_the_deadline(self) -> None:
        self.configure(ROLLING=True, ABSOLUTE_TIMEOUT=3600)

        response = self.get("/login/", 0 * SECOND, **ALICE)
        assert self.max_age(response) == 3600
        response = self.get("/whoami/", 1000 * SECOND)
        assert self.max_age(response) == 2600
        response = self.get("/write/", 3000 * SECOND, cart="apples")
        assert self.max_age(response) == 600

    def test_a_longer_cookie_lifetime_is_capped_too(self) -> None:
        self.configure(ABSOLUTE_TIMEOUT=3600)

        response = self.get("/remember/", 0 * SECOND, seconds=str(30 * 24 * 3600))
        assert self.max_age(response) == 3600
        record = self.record(self.sid(), 0 * SECOND)
        assert record is not None
        assert record.expires == self.now + 3600 * SECOND

    def test_a_shorter_max_age_is_left_alone(self) -> None:
        self.configure(ROLLING=True, ABSOLUTE_TIMEOUT=3600, MAX_AGE=600)

        response = self.get("/write/", 0 * SECOND, cart="apples")
        assert self.max_age(response) == 600
        for seconds in range(500, 3500, 500):
            response = self.get("/read/", seconds * SECOND)
            assert self.max_age(response) == 600
        response = self.get("/read/", 3300 * SECOND)
        assert self.max_age(response) == 300

    def test_a_login_does_not_move_the_absolute_deadline(self) -> None:
        self.configure(ABSOLUTE_TIMEOUT=60)
        self.get("/write/", 0 * SECOND, cart="apples")
        self.get("/login/", 50 * SECOND, **ALICE)
        self.get("/write/", 55 * SECOND, cart="pears")

        assert self.get("/read/", 61 * SECOND).json() == {}
        assert self.whoami(61 * SECOND) == ""

    def test_a_session_found_past_the_deadline_is_destroyed(self) -> None:
        # Stored before ABSOLUTE_TIMEOUT was configured, so its own expiry is
        # weeks away: the deadline, counted from its creation, still ends it.
        self.configure()
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()
        self.configure(ABSOLUTE_TIMEOUT=3600)

        assert self.whoami(3599 * SECOND) == "alice"
        assert self.whoami(3601 * SECOND) == ""
        assert self.record(sid, 0 * SECOND) is None

    # exists(): a session past a timeout has ended, though its store holds it

    def test_exists_is_false_past_the_idle_limit(self) -> None:
        self.configure(IDLE_TIMEOUT=600)
        self.get("/write/", 0 * SECOND, cart="apples")
        token = self.client.cookies[NAME].value

        with self.clock_at(599 * SECOND):
            assert Session(token).exists(token)
        with self.clock_at(600 * SECOND):
            assert not Session(token).exists(token)
        assert self.record(self.sid(), 600 * SECOND) is not None

    def test_exists_is_false_past_the_absolute_deadline(self) -> None:
        # Stored before ABSOLUTE_TIMEOUT was configured: its own expiry is
        # weeks away, so only the deadline ends it.
        self.configure()
        self.get("/write/", 0 * SECOND, cart="apples")
        token = self.client.cookies[NAME].value
        self.configure(ABSOLUTE_TIMEOUT=3600)

        with self.clock_at(3599 * SECOND):
            assert Session(token).exists(token)
        with self.clock_at(3600 * SECOND):
            assert not Session(token).exists(token)
        assert self.record(self.sid(), 3600 * SECOND) is not None

    async def test_aexists_is_false_past_the_idle_limit(self) -> None:
        await sync_to_async(self.configure)(IDLE_TIMEOUT=600)
        await sync_to_async(self.get)("/write/", 0 * SECOND, cart="apples")
        token = self.client.cookies[NAME].value

        with self.clock_at(599 * SECOND):
            assert await Session(token).aexists(token)
        with self.clock_at(600 * SECOND):
            assert not await Session(token).aexists(token)

    # TOUCH_AFTER

    def test_touch_after_spares_the_store_and_the_cookie_within_the_interval(
        self,
    ) -> None:
        self.configure(ROLLING=True, TOUCH_AFTER=60)
        self.get("/write/", 0 * SECOND, cart="apples")
        sid = self.sid()

        with self.writes() as written:
            responses = [self.get("/read/", s * SECOND) for s in (1, 30, 59)]

        assert written() == 0
        assert [self.cookie(response) for response in responses] == [None] * 3
        assert [response.json() for response in responses] == [{"cart": "apples"}] * 3
        record = self.record(sid, 59 * SECOND)
        assert record is not None
        assert record.expires == self.now + AGE

    def test_touch_after_touches_once_and_resends_the_cookie_once_due(self) -> None:
        self.configure(ROLLING=True, TOUCH_AFTER=60)
        self.get("/write/", 0 * SECOND, cart="apples")
        sid = self.sid()

        with self.writes() as written:
            due = self.get("/read/", 60 * SECOND)
        assert written() == 1
        assert self.max_age(due) == settings.SESSION_COOKIE_AGE
        record = self.record(sid, 60 * SECOND)
        assert record is not None
        assert record.expires == self.now + 60 * SECOND + AGE
        assert record.last_seen == self.now + 60 * SECOND

        # The interval counts from that touch now.
        with self.writes() as written:
            quiet = self.get("/read/", 119 * SECOND)
            again = self.get("/read/", 120 * SECOND)
        assert written() == 1
        assert self.cookie(quiet) is None
        assert self.max_age(again) == settings.SESSION_COOKIE_AGE

    def test_touch_after_never_holds_back_a_write(self) -> None:
        self.configure(ROLLING=True, TOUCH_AFTER=60)
        self.get("/write/", 0 * SECOND, cart="apples")

        with self.writes() as written:
            response = self.get("/write/", 10 * SECOND, cart="pears")

        assert written() == 1
        assert self.max_age(response) == settings.SESSION_COOKIE_AGE
        assert self.get("/read/", 11 * SECOND).json() == {"cart": "pears"}

    def test_touch_after_with_idle_timeout_refreshes_last_seen_only_when_due(
        self,
    ) -> None:
        self.configure(IDLE_TIMEOUT=600, TOUCH_AFTER=60)
        self.get("/login/", 0 * SECOND, **ALICE)
        sid = self.sid()

        with self.writes() as written:
            assert self.whoami(30 * SECOND) == "alice"
        assert written() == 0
        record = self.record(sid, 30 * SECOND)
        assert record is not None
        assert record.last_seen == self.now

        with self.writes() as written:
            response = self.get("/whoami/", 90 * SECOND)
        assert written() == 1
        assert self.cookie(response) is None
        record = self.record(sid, 90 * SECOND)
        assert record is not None
        assert record.last_seen == self.now + 90 * SECOND
        assert record.expires == self.now + AGE


@override_settings(XSESSION={"STORE": "tests.stores.CountingMemoryStore"})
class MemoryTimeoutTests(Timeouts, TestCase):
    store_setting = "tests.stores.CountingMemoryStore"

    @contextmanager
    def writes(self) -> Iterator[Callable[[], int]]:
        calls = CountingMemoryStore.calls
        before = calls["set"] + calls["touch"] + calls["destroy"]
        yield lambda: calls["set"] + calls["touch"] + calls["destroy"] - before


@override_settings(XSESSION={"STORE": "db"})
class DatabaseTimeoutTests(Timeouts, TestCase):
    store_setting = "db"

    @contextmanager
    def writes(self) -> Iterator[Callable[[], int]]:
        table = SessionRow._meta.db_table
        with CaptureQueriesContext(connection) as queries:
            yield lambda: sum(
                1
                for query in queries.captured_queries
                if table in query["sql"]
                and query["sql"]
                .lstrip()
                .upper()
                .startswith(("INSERT", "UPDATE", "DELETE"))
            )


@override_settings(XSESSION=REDIS_STORE)
class RedisTimeoutTests(RequiresRedis, Timeouts, TestCase):
    store_setting: ClassVar[Any] = {
        **REDIS_STORE["STORE"],
        "BACKEND": "tests.stores.CountingRedisStore",
    }

    @contextmanager
    def writes(self) -> Iterator[Callable[[], int]]:
        calls = CountingCalls.calls
        before = calls["set"] + calls["touch"] + calls["destroy"]
        yield lambda: calls["set"] + calls["touch"] + calls["destroy"] - before


class NoLastSeenStore(MemoryStore):
    """A store of a project's own that keeps no last-seen time: its records
    leave ``last_seen`` at its default, ``None``."""

    def get(self, sid: str) -> Record | None:
        record = super().get(sid)
        return None if record is None else dataclasses.replace(record, last_seen=None)


@override_settings(
    XSESSION={"STORE": "tests.test_timeouts.NoLastSeenStore", "IDLE_TIMEOUT": 600}
)
class NoLastSeenTimeoutTests(SimpleTestCase):
    def setUp(self) -> None:
        get_store().clear()
        self.now = timezone.now().replace(microsecond=0)

    def read_at(self, offset: datetime.timedelta) -> dict[str, Any]:
        with mock.patch("django.utils.timezone.now", return_value=self.now + offset):
            response = self.client.get("/read/")
        data: dict[str, Any] = response.json()
        return data

    def test_the_idle_timeout_counts_from_the_sessions_creation(self) -> None:
        with mock.patch("django.utils.timezone.now", return_value=self.now):
            self.client.get("/write/", {"cart": "apples"})

        assert self.read_at(599 * SECOND) == {"cart": "apples"}
        assert self.read_at(601 * SECOND) == {}

"""The behaviour every session store promises, as a reusable test suite.

A store's tests are a two-line class (plus what the store cannot do)::

    class MemoryStoreTests(StoreContract, SimpleTestCase):
        def make_store(self) -> Store:
            return MemoryStore()

The suite uses only the public :class:`~django_xsession.stores.base.Store`
API and Django's ``timezone.now()``. It never sleeps: an expired session is
written with ``expires`` already in the past. The few tests that need a
session to expire *after* it was written move Django's clock forward
instead; a store whose backend expires keys on its own clock (Redis TTLs,
cache timeouts) sets ``expires_on_django_clock = False`` to skip them.

A store that cannot enumerate its sessions (a Django cache) sets
``lists_sessions = False``: the tests of ``all``, ``length``,
``clear_expired``, ``count_expired`` and ``user_sessions`` then assert that
they raise ``NotImplementedError``, and the other tests check state with
``get`` on the ids they wrote.

The store is called from a second thread too, as one instance serves every
thread of a process; that thread shares the test's database connections,
as Django's live server thread does.

This module is not named ``test_*``, so pytest doesn't rewrite its bare
``assert`` statements: the tests use unittest's assertion methods, whose
failure messages show both sides.
"""

from __future__ import annotations

import datetime
import pickle
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from unittest import mock

from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from django_xsession.stores.base import CreateError, Delta, Record, Store, UpdateError

if TYPE_CHECKING:
    from django.test import SimpleTestCase

    _TestCase = SimpleTestCase
else:
    # At run time the concrete class brings the TestCase; the mixin alone is
    # no test case, so pytest never collects it.
    _TestCase = object

_T = TypeVar("_T")
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)
SECOND = datetime.timedelta(seconds=1)


def new_sid() -> str:
    return secrets.token_urlsafe(24)


def instant(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as an aware time; a naive one is on ``TIME_ZONE``'s clock."""
    if timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, timezone.get_default_timezone())


class PickleSerializer:
    """A project's binary ``SESSION_SERIALIZER`` (pickle, msgpack): its bytes
    hold NUL and any other byte."""

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class StoreContract(_TestCase):
    """Tests every :class:`Store` must pass; mix into a ``SimpleTestCase``."""

    #: False for a store whose backend drops expired keys on its own clock:
    #: moving Django's clock forward does not expire its sessions.
    expires_on_django_clock: ClassVar[bool] = True
    #: False for a store that cannot enumerate its sessions: its ``all``,
    #: ``length``, ``clear_expired``, ``count_expired`` and ``user_sessions``
    #: (and their async twins) must raise ``NotImplementedError``.
    lists_sessions: ClassVar[bool] = True
    #: False for a store whose backend reads a naive time by the ``USE_TZ``
    #: in force (Django's database layer on SQLite and MySQL: UTC or
    #: ``TIME_ZONE``): across a ``USE_TZ`` change only that its sessions
    #: load and save is checked, not the moment they expire.
    exact_across_use_tz: ClassVar[bool] = True

    store: Store
    now: datetime.datetime

    def make_store(self) -> Store:
        raise NotImplementedError("subclasses of StoreContract must build a store")

    def setUp(self) -> None:
        super().setUp()
        self.store = self.make_store()
        self.store.clear()
        self.addCleanup(self.store.clear)
        # Whole seconds: a store may keep no finer expiry than that.
        self.now = timezone.now().replace(microsecond=0)

    # Helpers.

    async def call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run a synchronous step of an async test where the store allows it."""
        return await sync_to_async(function)(*args, **kwargs)

    def record(
        self,
        data: dict[str, Any] | None = None,
        *,
        expires: datetime.datetime | None = None,
        cookie: dict[str, Any] | None = None,
    ) -> Record:
        return Record(
            data={} if data is None else data,
            expires=self.now + HOUR if expires is None else expires,
            cookie={} if cookie is None else cookie,
            created=self.now,
        )

    def expired_record(self, data: dict[str, Any] | None = None) -> Record:
        return self.record(data, expires=self.now - SECOND)

    def create(self, data: dict[str, Any] | None = None, **kwargs: Any) -> str:
        sid = new_sid()
        self.store.set(sid, self.record(data, **kwargs), create=True)
        return sid

    def load(self, sid: str) -> Record:
        record = self.store.get(sid)
        if record is None:
            self.fail("the session is gone")
        return record

    def data_of(self, sid: str) -> dict[str, Any]:
        return self.load(sid).data

    def save_delta(self, sid: str, loaded: Record, data: dict[str, Any]) -> None:
        """Save ``data`` like a request that loaded ``loaded`` and edited it."""
        delta = Delta(
            changed={
                key: value
                for key, value in data.items()
                if key not in loaded.data or loaded.data[key] != value
            },
            removed=frozenset(loaded.data.keys() - data.keys()),
        )
        self.store.set(sid, self.record(data), delta=delta)

    def can_list(self, *methods: Callable[[], object]) -> bool:
        """Whether the store lists its sessions; if not, assert ``methods`` refuse."""
        if self.lists_sessions:
            return True
        for method in methods:
            refused = f"{method.__name__}() must raise NotImplementedError"
            with self.assertRaises(NotImplementedError, msg=refused):
                method()
        return False

    async def acan_list(self, *methods: Callable[[], Awaitable[object]]) -> bool:
        """:meth:`can_list` for the async twins."""
        if self.lists_sessions:
            return True
        for method in methods:
            refused = f"{method.__name__}() must raise NotImplementedError"
            with self.assertRaises(NotImplementedError, msg=refused):
                await method()
        return False

    def assert_length(
        self, expected: int, *, live: Iterable[str] = (), gone: Iterable[str] = ()
    ) -> None:
        """The store holds ``expected`` live sessions.

        A store that cannot count them shows instead that each of ``live``
        (``expected`` ids) reads back and none of ``gone`` does.
        """
        if self.lists_sessions:
            self.assertEqual(self.store.length(), expected)
            return
        live, gone = list(live), list(gone)
        self.assertEqual(len(live), expected, "the test names every live id")
        for sid in live:
            self.assertIsNotNone(self.store.get(sid))
        for sid in gone:
            self.assertIsNone(self.store.get(sid))

    @contextmanager
    def clock_at(self, when: datetime.datetime) -> Iterator[None]:
        """Make ``timezone.now()`` return ``when``, for the store too."""
        if not self.expires_on_django_clock:
            self.skipTest("this store expires sessions on its backend's clock")
        with mock.patch("django.utils.timezone.now", return_value=when):
            yield

    # get and set(create=True).

    def test_get_of_unknown_id_returns_none(self) -> None:
        self.create({"a": 1})

        self.assertIsNone(self.store.get(new_sid()))

    def test_a_binary_serializers_data_reads_back(self) -> None:
        # PostgreSQL's text columns refuse NUL, say.
        with self.settings(SESSION_SERIALIZER=f"{__name__}.PickleSerializer"):
            self.store = self.make_store()
            data = {"day": datetime.date(2026, 11, 28), "raw": b"\x00\xff", "n": 0}
            sid = self.create(data)

            self.assertEqual(self.data_of(sid), data)
            self.save_delta(sid, self.load(sid), {**data, "n": 1})
            self.assertEqual(self.data_of(sid), {**data, "n": 1})

    def test_a_binary_serializers_keys_read_back_as_it_gives_them(self) -> None:
        # Pickle keeps 1 apart from "1" and takes (1, 2): so must every store.
        with self.settings(SESSION_SERIALIZER=f"{__name__}.PickleSerializer"):
            self.store = self.make_store()
            data: dict[Any, str] = {1: "int", "1": "text", (1, 2): "tuple", None: "x"}
            sid = self.create(data)
            self.assertEqual(self.data_of(sid), data)

            edited: dict[Any, str] = {1: "int again", "1": "text", (3,): "new"}
            self.save_delta(sid, self.load(sid), edited)
            self.assertEqual(self.data_of(sid), edited)

            replaced: dict[Any, str] = {"1": "alone"}
            self.store.set(sid, self.record(replaced))
            self.assertEqual(self.data_of(sid), replaced)

    def test_user_sessions_are_the_users_live_ones_by_exact_id(self) -> None:
        # MySQL's default collation compares "alice", "Alice" and "alice "
        # equal: a revoke must not end another user's sessions.
        def user_sessions() -> dict[str, Record]:
            return self.store.user_sessions("alice")

        if not self.can_list(user_sessions):
            return
        alices = [self.create({"_auth_user_id": "alice", "n": n}) for n in range(2)]
        for other in ("Alice", "alice ", "ALICE", "bob"):
            self.create({"_auth_user_id": other})
        self.create({"n": 0})
        expired = new_sid()
        self.store.set(
            expired, self.expired_record({"_auth_user_id": "alice"}), create=True
        )

        listed = user_sessions()

        self.assertEqual(set(listed), {Store.digest(sid) for sid in alices})
        self.assertEqual(sorted(record.data["n"] for record in listed.values()), [0, 1])

    def test_a_binary_serializers_sessions_are_listed_and_ended_by_user(
        self,
    ) -> None:
        def user_sessions() -> dict[str, Record]:
            return self.store.user_sessions("7")

        with self.settings(SESSION_SERIALIZER=f"{__name__}.PickleSerializer"):
            self.store = self.make_store()
            if not self.can_list(user_sessions):
                return
            # The id as contrib.auth stores it (text) and as an int: both
            # are the user sessions_of looks up as "7".
            kept = self.create({"_auth_user_id": 7, "n": 0})
            logged_in = self.create({"n": 0})
            rotated = self.create({"_auth_user_id": "bob"})

            # A save that leaves the user alone keeps the session listed.
            self.save_delta(kept, self.load(kept), {"_auth_user_id": 7, "n": 1})
            self.assertIs(self.store.touch(kept, self.now + 2 * HOUR), True)
            self.save_delta(
                logged_in, self.load(logged_in), {"_auth_user_id": "7", "n": 0}
            )
            moved = new_sid()
            rotation = self.record({"_auth_user_id": "bob"})
            self.assertIs(self.store.replace(rotated, moved, rotation), True)

            listed = user_sessions()
            self.assertEqual(set(listed), {Store.digest(kept), Store.digest(logged_in)})
            self.assertEqual(
                listed[Store.digest(kept)].data, {"_auth_user_id": 7, "n": 1}
            )
            self.assertEqual(
                set(self.store.user_sessions("bob")), {Store.digest(moved)}
            )

            # A logout leaves the list; a revoke ends the rest.
            self.save_delta(logged_in, self.load(logged_in), {"n": 0})
            self.assertEqual(set(user_sessions()), {Store.digest(kept)})
            self.assertEqual(self.store.destroy_keys(user_sessions()), 1)
            self.assertEqual(user_sessions(), {})
            self.assertIsNone(self.store.get(kept))

    def test_created_record_reads_back_equal(self) -> None:
        sid = new_sid()
        record = Record(
            data={"user": 42, "cart": [1, 2]},
            expires=self.now + HOUR,
            cookie={"samesite": "Strict", "secure": True, "domain": None},
            created=self.now - SECOND,
        )
        self.store.set(sid, record, create=True)

        got = self.load(sid)

        self.assertEqual(got.data, record.data)
        self.assertEqual(got.expires, record.expires)
        self.assertEqual(dict(got.cookie), dict(record.cookie))
        self.assertEqual(got.created, record.created)

    def test_create_on_a_taken_id_raises_create_error_and_keeps_the_first(
        self,
    ) -> None:
        sid = self.create({"owner": "first"})

        with self.assertRaises(CreateError):
            self.store.set(sid, self.record({"owner": "second"}), create=True)

        self.assertEqual(self.data_of(sid), {"owner": "first"})

    def test_unicode_and_nested_json_data_round_trip(self) -> None:
        data: dict[str, Any] = {
            "name": "Zoë ✓ 日本語 🍪",
            "ключ": {"nested": [1, 2.5, None, True, {"deep": ["x", []]}]},
            "empty": {},
            'quote"and\\slash': "line\nbreak",
        }
        sid = self.create(data)

        self.assertEqual(self.data_of(sid), data)

    def test_the_record_from_get_is_a_copy(self) -> None:
        sid = self.create({"list": [1], "dict": {"k": "v"}, "n": 1})

        got = self.load(sid)
        got.data["n"] = 2
        got.data["list"].append(2)
        got.data["dict"]["k"] = "changed"
        got.data["new"] = True

        self.assertEqual(self.data_of(sid), {"list": [1], "dict": {"k": "v"}, "n": 1})

    def test_the_record_written_is_copied(self) -> None:
        data: dict[str, Any] = {"list": [1], "n": 1}
        sid = new_sid()
        self.store.set(sid, self.record(data), create=True)

        data["n"] = 2
        data["list"].append(2)

        self.assertEqual(self.data_of(sid), {"list": [1], "n": 1})

    # set() as an update.

    def test_update_of_a_missing_id_raises_update_error_and_creates_nothing(
        self,
    ) -> None:
        sid = new_sid()

        with self.assertRaises(UpdateError):
            self.store.set(sid, self.record({"a": 1}))
        with self.assertRaises(UpdateError):
            self.store.set(
                sid, self.record({"a": 1}), delta=Delta({"a": 1}, frozenset())
            )

        self.assertIsNone(self.store.get(sid))
        self.assert_length(0, gone=[sid])

    def test_update_of_a_destroyed_session_raises_update_error(self) -> None:
        sid = self.create({"a": 1})
        loaded = self.load(sid)
        self.store.destroy(sid)

        with self.assertRaises(UpdateError):
            self.save_delta(sid, loaded, {"a": 2})

        self.assertIsNone(self.store.get(sid))

    def test_update_without_delta_replaces_data_expiry_and_cookie(self) -> None:
        sid = self.create({"a": 1, "b": 2}, cookie={"path": "/"})
        later = self.now + 2 * HOUR

        self.store.set(
            sid, self.record({"c": 3}, expires=later, cookie={"secure": True})
        )

        got = self.load(sid)
        self.assertEqual(got.data, {"c": 3})
        self.assertEqual(got.expires, later)
        self.assertEqual(dict(got.cookie), {"secure": True})

    def test_an_update_keeps_the_created_time_the_store_holds(self) -> None:
        sid = self.create({"a": 0})
        loaded = self.load(sid)
        later = self.now + MINUTE

        self.store.set(
            sid,
            replace(self.record({"a": 1}), created=later, version=loaded.version),
            delta=Delta({"a": 1}, frozenset()),
        )
        self.assertEqual(self.load(sid).created, self.now)
        self.store.set(sid, replace(self.record({"a": 2}), created=later))
        self.assertEqual(self.load(sid).created, self.now)

    def test_a_save_records_last_seen_and_a_given_meta(self) -> None:
        sid = self.create({"a": 0})
        later = self.now + MINUTE
        meta = {"ip": "203.0.113.7", "user_agent": "Firefox"}

        with mock.patch("django.utils.timezone.now", return_value=later):
            self.store.set(
                sid, replace(self.record({"a": 1}), last_seen=later, meta=meta)
            )
            got = self.load(sid)

        self.assertEqual(got.last_seen, later)
        self.assertEqual(dict(got.meta), meta)

    def test_an_update_without_meta_keeps_the_stored_meta(self) -> None:
        # A save outside a request (a task's SessionStore(key)) knows no
        # client: sessions_of must still show the last one.
        meta = {"ip": "203.0.113.7", "user_agent": "Firefox"}
        sid = new_sid()
        self.store.set(sid, replace(self.record({"a": 0}), meta=meta), create=True)
        loaded = self.load(sid)

        self.store.set(
            sid,
            replace(self.record({"a": 1}), version=loaded.version),
            delta=Delta({"a": 1}, frozenset()),
        )
        self.assertEqual(dict(self.load(sid).meta), meta)
        self.store.set(sid, self.record({"a": 2}), delta=Delta({"a": 2}, frozenset()))
        self.assertEqual(dict(self.load(sid).meta), meta)
        self.store.set(sid, self.record({"a": 3}))
        self.assertEqual(dict(self.load(sid).meta), meta)
        if self.lists_sessions:
            self.assertEqual(dict(self.store.all()[Store.digest(sid)].meta), meta)

    def test_delta_updates_with_the_versions_loaded_both_survive(self) -> None:
        # As requests save: each passes back the version its load returned,
        # which a store may trust only if every write made a new one.
        sid = self.create({"a": 0, "b": 0})
        first = self.load(sid)
        second = self.load(sid)

        self.store.set(
            sid,
            replace(self.record({"a": 1, "b": 0}), version=first.version),
            delta=Delta({"a": 1}, frozenset()),
        )
        self.store.set(
            sid,
            replace(self.record({"a": 0, "b": 2}), version=second.version),
            delta=Delta({"b": 2}, frozenset()),
        )

        self.assertEqual(self.data_of(sid), {"a": 1, "b": 2})

    def test_delta_updates_of_different_keys_both_survive(self) -> None:
        sid = self.create({"a": 0, "b": 0, "c": 0})
        first = self.load(sid)
        second = self.load(sid)

        self.save_delta(sid, first, {**first.data, "a": 1})
        self.save_delta(sid, second, {**second.data, "b": 2})

        self.assertEqual(self.data_of(sid), {"a": 1, "b": 2, "c": 0})

    def test_delta_updates_of_the_same_key_end_with_the_last_save(self) -> None:
        sid = self.create({"a": 0, "other": "kept"})
        first = self.load(sid)
        second = self.load(sid)

        self.save_delta(sid, first, {**first.data, "a": "first"})
        self.save_delta(sid, second, {**second.data, "a": "second"})

        self.assertEqual(self.data_of(sid), {"a": "second", "other": "kept"})

    def test_delta_update_removes_removed_keys_and_keeps_the_others(self) -> None:
        sid = self.create({"a": 0, "b": 0, "gone": "x"})
        remover = self.load(sid)
        changer = self.load(sid)

        self.save_delta(sid, remover, {"a": 0, "b": 0})
        # This request still holds "gone" but didn't touch it.
        self.save_delta(sid, changer, {**changer.data, "b": 1})

        self.assertEqual(self.data_of(sid), {"a": 0, "b": 1})

    def test_a_key_removed_and_set_again_under_another_type_keeps_the_new_value(
        self,
    ) -> None:
        # Stored keys come back as text: a view that read {"7": 1}, cleared
        # the session and set session[7] removes "7" and sets 7, one key.
        sid = self.create({"7": 1, "a": 1})
        changed: dict[Any, int] = {7: 3}

        self.store.set(
            sid, self.record(changed), delta=Delta(changed, frozenset({"7", "a"}))
        )

        self.assertEqual(self.data_of(sid), {"7": 3})

    def test_delta_update_adds_new_keys_next_to_concurrent_ones(self) -> None:
        sid = self.create({})
        first = self.load(sid)
        second = self.load(sid)

        self.save_delta(sid, first, {"cart": [1]})
        self.save_delta(sid, second, {"user": 7})

        self.assertEqual(self.data_of(sid), {"cart": [1], "user": 7})

    def test_delta_update_takes_expiry_and_cookie_from_the_record(self) -> None:
        sid = self.create({"a": 0}, cookie={"path": "/"})
        later = self.now + 3 * HOUR

        self.store.set(
            sid,
            self.record({"a": 1}, expires=later, cookie={"samesite": "Lax"}),
            delta=Delta({"a": 1}, frozenset()),
        )

        got = self.load(sid)
        self.assertEqual(got.data, {"a": 1})
        self.assertEqual(got.expires, later)
        self.assertEqual(dict(got.cookie), {"samesite": "Lax"})

    # Expiry.

    def test_expired_records_are_not_returned_by_get_all_or_length(self) -> None:
        live = self.create({"live": True})
        expired = new_sid()
        self.store.set(expired, self.expired_record({"live": False}), create=True)

        self.assertIsNone(self.store.get(expired))
        if not self.can_list(self.store.all, self.store.length):
            self.assertEqual(self.data_of(live), {"live": True})
            return
        self.assertEqual(set(self.store.all()), {Store.digest(live)})
        self.assertEqual(self.store.length(), 1)

    def test_expired_records_cannot_be_updated(self) -> None:
        sid = new_sid()
        self.store.set(sid, self.expired_record({"a": 1}), create=True)

        with self.assertRaises(UpdateError):
            self.store.set(sid, self.record({"a": 2}))
        with self.assertRaises(UpdateError):
            self.store.set(
                sid, self.record({"a": 2}), delta=Delta({"a": 2}, frozenset())
            )

        self.assertIsNone(self.store.get(sid))

    def test_expired_records_cannot_be_touched(self) -> None:
        sid = new_sid()
        self.store.set(sid, self.expired_record({"a": 1}), create=True)

        self.assertFalse(self.store.touch(sid, self.now + HOUR))

        self.assertIsNone(self.store.get(sid))
        self.assert_length(0, gone=[sid])

    def test_an_expired_id_can_be_created_again(self) -> None:
        sid = new_sid()
        self.store.set(sid, self.expired_record({"old": True}), create=True)

        self.store.set(sid, self.record({"new": True}), create=True)

        self.assertEqual(self.data_of(sid), {"new": True})

    def test_get_stops_returning_a_record_once_its_expiry_passes(self) -> None:
        soon = self.create({"a": 1}, expires=self.now + 60 * SECOND)
        later = self.create({"b": 2})

        with self.clock_at(self.now + 120 * SECOND):
            self.assertIsNone(self.store.get(soon))
            self.assertEqual(self.data_of(later), {"b": 2})

    def test_all_stops_returning_a_record_once_its_expiry_passes(self) -> None:
        self.create({"a": 1}, expires=self.now + 60 * SECOND)
        later = self.create({"b": 2})

        with self.clock_at(self.now + 120 * SECOND):
            if self.can_list(self.store.all):
                self.assertEqual(set(self.store.all()), {Store.digest(later)})

    def test_length_stops_counting_a_record_once_its_expiry_passes(self) -> None:
        self.create({"a": 1}, expires=self.now + 60 * SECOND)
        self.create({"b": 2})

        with self.clock_at(self.now + 120 * SECOND):
            if self.can_list(self.store.length):
                self.assertEqual(self.store.length(), 1)

    def test_a_record_past_its_expiry_cannot_be_updated_or_touched(self) -> None:
        soon = self.create({"a": 1}, expires=self.now + 60 * SECOND)

        with self.clock_at(self.now + 120 * SECOND):
            with self.assertRaises(UpdateError):
                self.store.set(soon, self.record({"a": 2}))
            self.assertFalse(self.store.touch(soon, self.now + HOUR))
            self.assertIsNone(self.store.get(soon))

    # A deploy that turns USE_TZ on or off (Django 5.0 turned it on by
    # default) meets the sessions stored under the other setting, and so
    # does a test suite's override_settings, even in a store of one process.

    def assert_live_in_current_form(self, record: Record) -> None:
        """``record``'s times are aware or naive as ``timezone.now()`` is, and
        it has not expired."""
        for moment in (record.expires, record.created, record.last_seen):
            if moment is not None:
                self.assertEqual(timezone.is_aware(moment), timezone.is_aware(self.now))
        self.assertGreater(record.expires, timezone.now())

    def assert_survives_use_tz_change(
        self, sid: str, expires: datetime.datetime, *, use_tz: bool
    ) -> None:
        # Read under the first setting too: a store that keeps what it
        # built for one (a compiled query's converters) must not use it
        # under the other, as a test suite's override_settings may turn it.
        self.load(sid)
        with self.settings(USE_TZ=use_tz):
            self.now = timezone.now().replace(microsecond=0)
            loaded = self.load(sid)
            self.assertEqual(loaded.data, {"a": 1})
            self.assert_live_in_current_form(loaded)
            if self.exact_across_use_tz:
                self.assertEqual(instant(loaded.expires), instant(expires))

            # Saved as a session saves what it loaded: its version and
            # creation time passed back.
            self.store.set(
                sid,
                replace(
                    loaded,
                    data={"a": 2},
                    expires=self.now + DAY,
                    raw=None,
                ),
                delta=Delta({"a": 2}, frozenset()),
            )
            self.assertIs(self.store.touch(sid, self.now + DAY), True)
            saved = self.load(sid)
            self.assertEqual(saved.data, {"a": 2})
            self.assert_live_in_current_form(saved)

    def test_a_session_stored_under_use_tz_reads_and_saves_without_it(self) -> None:
        # Away from UTC, so a time read in the wrong zone would be hours off.
        with self.settings(TIME_ZONE="Asia/Tokyo"):
            expires = self.now + DAY
            sid = self.create({"a": 1}, expires=expires)
            self.assert_survives_use_tz_change(sid, expires, use_tz=False)

    def test_a_session_stored_without_use_tz_reads_and_saves_under_it(self) -> None:
        with self.settings(TIME_ZONE="Asia/Tokyo"):
            with self.settings(USE_TZ=False):
                self.now = timezone.now().replace(microsecond=0)
                expires = self.now + DAY
                sid = self.create({"a": 1}, expires=expires)
            self.assert_survives_use_tz_change(sid, expires, use_tz=True)

    # touch.

    def test_touch_moves_expiry_and_keeps_data_and_cookie(self) -> None:
        sid = self.create({"a": 1}, cookie={"path": "/shop"})
        later = self.now + 5 * HOUR

        self.assertIs(self.store.touch(sid, later), True)

        got = self.load(sid)
        self.assertEqual(got.expires, later)
        self.assertEqual(got.data, {"a": 1})
        self.assertEqual(dict(got.cookie), {"path": "/shop"})

    def test_touch_records_its_time_as_last_seen_and_keeps_the_data(self) -> None:
        # Under IDLE_TIMEOUT the middleware touches with the expiry unchanged
        # only to record the request: a touch that left last_seen behind
        # would log active users out.
        sid = self.create({"a": 1})
        later = self.now + 10 * MINUTE

        with mock.patch("django.utils.timezone.now", return_value=later):
            self.assertIs(self.store.touch(sid, later + HOUR), True)
            got = self.load(sid)

        self.assertEqual(got.last_seen, later)
        self.assertEqual(got.expires, later + HOUR)
        self.assertEqual(got.data, {"a": 1})

    def test_touch_keeps_a_session_alive_past_its_old_expiry(self) -> None:
        sid = self.create({"a": 1}, expires=self.now + 60 * SECOND)
        self.assertTrue(self.store.touch(sid, self.now + HOUR))

        with self.clock_at(self.now + 120 * SECOND):
            self.assertEqual(self.data_of(sid), {"a": 1})
            if self.lists_sessions:
                self.assertEqual(self.store.clear_expired(), 0)
            self.assert_length(1, live=[sid])

    def test_touch_of_a_missing_id_returns_false_and_creates_nothing(self) -> None:
        sid = new_sid()

        self.assertIs(self.store.touch(sid, self.now + HOUR), False)

        self.assertIsNone(self.store.get(sid))
        self.assert_length(0, gone=[sid])

    # destroy, all, clear, length.

    def test_destroy_removes_only_that_session(self) -> None:
        sid = self.create({"a": 1})
        other = self.create({"b": 2})

        self.assertIs(self.store.destroy(sid), True)

        self.assertIsNone(self.store.get(sid))
        self.assertEqual(self.data_of(other), {"b": 2})
        self.assert_length(1, live=[other], gone=[sid])

    def test_replace_moves_a_session_to_its_new_id(self) -> None:
        old = self.create({"a": 1})
        sid = new_sid()

        self.assertIs(self.store.replace(old, sid, self.record({"a": 2})), True)

        self.assertIsNone(self.store.get(old))
        self.assertEqual(self.data_of(sid), {"a": 2})
        self.assert_length(1, live=[sid], gone=[old])

    def test_replace_of_an_ended_session_stores_nothing(self) -> None:
        sid = new_sid()

        self.assertIs(self.store.replace(new_sid(), sid, self.record({"a": 2})), False)

        self.assertIsNone(self.store.get(sid))
        self.assert_length(0, gone=[sid])

    def test_replace_onto_a_taken_id_changes_nothing(self) -> None:
        old = self.create({"a": 1})
        taken = self.create({"b": 2})

        with self.assertRaises(CreateError):
            self.store.replace(old, taken, self.record({"a": 2}))

        self.assertEqual(self.data_of(old), {"a": 1})
        self.assertEqual(self.data_of(taken), {"b": 2})

    async def test_areplace_moves_a_session_to_its_new_id(self) -> None:
        old = await self.call(self.create, {"a": 1})
        sid = new_sid()

        self.assertIs(await self.store.areplace(old, sid, self.record({"a": 2})), True)

        self.assertIsNone(await self.store.aget(old))
        self.assertEqual(await self.call(self.data_of, sid), {"a": 2})

    def test_destroy_of_a_missing_id_is_not_an_error(self) -> None:
        other = self.create({"b": 2})

        self.assertIs(self.store.destroy(new_sid()), False)

        self.assertEqual(self.data_of(other), {"b": 2})

    def test_all_returns_live_records_keyed_by_digest(self) -> None:
        first = self.create({"n": 1})
        second = self.create({"n": 2}, cookie={"secure": True})
        self.store.set(new_sid(), self.expired_record({"n": 3}), create=True)
        if not self.can_list(self.store.all):
            return

        everything = self.store.all()

        self.assertEqual(
            {key: record.data for key, record in everything.items()},
            {Store.digest(first): {"n": 1}, Store.digest(second): {"n": 2}},
        )
        self.assertEqual(
            dict(everything[Store.digest(second)].cookie), {"secure": True}
        )
        self.assertEqual(everything[Store.digest(first)].expires, self.now + HOUR)

    def test_all_never_contains_the_raw_ids(self) -> None:
        sids = [self.create({"n": n}) for n in range(3)]
        if not self.can_list(self.store.all):
            return

        everything = self.store.all()

        for sid in sids:
            self.assertNotIn(sid, everything)
            self.assertNotIn(sid, repr(everything))

    def test_all_of_an_empty_store_is_empty(self) -> None:
        if self.can_list(self.store.all):
            self.assertEqual(self.store.all(), {})

    def test_clear_empties_the_store(self) -> None:
        sids = [self.create({"n": n}) for n in range(3)]

        self.store.clear()

        if self.lists_sessions:
            self.assertEqual(self.store.all(), {})
        self.assert_length(0)
        for sid in sids:
            self.assertIsNone(self.store.get(sid))

    def test_length_counts_live_sessions(self) -> None:
        if self.lists_sessions:
            self.assertEqual(self.store.length(), 0)
        sids = [self.create({"n": n}) for n in range(3)]
        self.store.set(new_sid(), self.expired_record(), create=True)
        if not self.can_list(self.store.length):
            return

        self.assertEqual(self.store.length(), 3)
        self.store.destroy(sids[0])
        self.assertEqual(self.store.length(), 2)

    # clear_expired.

    def test_clear_expired_deletes_expired_and_keeps_live(self) -> None:
        live = [self.create({"n": n}) for n in range(2)]
        expired = [new_sid() for _ in range(3)]
        for sid in expired:
            self.store.set(sid, self.expired_record({"old": True}), create=True)
        if not self.can_list(self.store.clear_expired, self.store.count_expired):
            return

        removed = self.store.clear_expired()

        # A store may already have dropped records written expired (the
        # memory store prunes on every write), so it counts at most three.
        self.assertIn(removed, range(4))
        self.assertEqual(set(self.store.all()), {Store.digest(sid) for sid in live})
        for sid in expired:
            self.assertIsNone(self.store.get(sid))
        self.assertEqual(self.store.clear_expired(), 0)
        self.assertEqual([self.data_of(sid) for sid in live], [{"n": 0}, {"n": 1}])

    def test_clear_expired_returns_how_many_sessions_it_deleted(self) -> None:
        for n in range(3):
            self.create({"n": n}, expires=self.now + 60 * SECOND)
        live = self.create({"live": True})

        with self.clock_at(self.now + 120 * SECOND):
            if not self.can_list(self.store.clear_expired, self.store.count_expired):
                return
            self.assertEqual(self.store.clear_expired(), 3)
            self.assertEqual(self.store.clear_expired(), 0)
            self.assertEqual(set(self.store.all()), {Store.digest(live)})

    def test_clear_expired_of_a_store_without_expired_sessions_is_zero(self) -> None:
        live = self.create({"a": 1})
        if not self.can_list(self.store.clear_expired, self.store.count_expired):
            self.assertEqual(self.data_of(live), {"a": 1})
            return

        self.assertEqual(self.store.clear_expired(), 0)
        self.assertEqual(self.store.length(), 1)

    # Threads.

    def in_another_thread(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` in a new thread, on this test's database connections.

        As Django's live server thread does: the rows the test wrote inside
        its transaction are there for the other thread too.
        """
        aliases = list(connections) if self.databases == "__all__" else self.databases
        shared = {alias: connections[alias] for alias in aliases}
        for connection in shared.values():
            connection.inc_thread_sharing()
            self.addCleanup(connection.dec_thread_sharing)

        def run() -> _T:
            for alias, connection in shared.items():
                connections[alias] = connection
            return work()

        with ThreadPoolExecutor(max_workers=1) as executor:
            return executor.submit(run).result()

    def test_a_store_built_in_one_thread_serves_another(self) -> None:
        # One instance serves every thread of a process, and the async twins
        # run the methods in sync_to_async's threads.
        sid = self.create({"a": 1})
        later = self.now + 2 * HOUR

        def elsewhere() -> tuple[Record | None, bool, Record | None, bool]:
            loaded = self.store.get(sid)
            self.store.set(
                sid, self.record({"a": 2}), delta=Delta({"a": 2}, frozenset())
            )
            touched = self.store.touch(sid, later)
            saved = self.store.get(sid)
            return loaded, touched, saved, self.store.destroy(sid)

        loaded, touched, saved, destroyed = self.in_another_thread(elsewhere)

        self.assertEqual(loaded and loaded.data, {"a": 1})
        self.assertIs(touched, True)
        self.assertEqual(saved and (saved.data, saved.expires), ({"a": 2}, later))
        self.assertIs(destroyed, True)
        self.assertIsNone(self.store.get(sid))

    # Ids at rest.

    def test_ids_are_stored_as_digests(self) -> None:
        sid = self.create({"a": 1})

        self.assertNotEqual(Store.digest(sid), sid)
        self.assertNotIn(sid, Store.digest(sid))
        self.assertEqual(Store.digest(sid), Store.digest(sid))
        self.assertNotEqual(Store.digest(sid), Store.digest(new_sid()))
        if self.lists_sessions:
            self.assertEqual(list(self.store.all()), [Store.digest(sid)])

    # Async twins.

    async def test_aget(self) -> None:
        sid = await self.call(self.create, {"a": "ü"})

        got = await self.store.aget(sid)

        if got is None:
            self.fail("aget() lost the session")
        self.assertEqual(got.data, {"a": "ü"})
        self.assertEqual(got.expires, self.now + HOUR)
        self.assertIsNone(await self.store.aget(new_sid()))

    async def test_aset(self) -> None:
        sid = new_sid()
        await self.store.aset(sid, self.record({"a": 0, "b": 0}), create=True)
        with self.assertRaises(CreateError):
            await self.store.aset(sid, self.record({}), create=True)
        with self.assertRaises(UpdateError):
            await self.store.aset(new_sid(), self.record({"a": 1}))

        # A concurrent request changed "b" since this one loaded the data.
        await self.call(self.store.set, sid, self.record({"a": 0, "b": 2}))
        await self.store.aset(
            sid, self.record({"a": 1, "b": 0}), delta=Delta({"a": 1}, frozenset())
        )

        self.assertEqual(await self.call(self.data_of, sid), {"a": 1, "b": 2})
        await self.call(self.assert_length, 1, live=[sid])

    async def test_adestroy(self) -> None:
        sid = await self.call(self.create, {"a": 1})
        other = await self.call(self.create, {"b": 2})

        self.assertIs(await self.store.adestroy(sid), True)
        self.assertIs(await self.store.adestroy(new_sid()), False)

        self.assertIsNone(await self.call(self.store.get, sid))
        self.assertEqual(await self.call(self.data_of, other), {"b": 2})

    async def test_atouch(self) -> None:
        sid = await self.call(self.create, {"a": 1})
        later = self.now + 5 * HOUR

        self.assertIs(await self.store.atouch(sid, later), True)
        self.assertIs(await self.store.atouch(new_sid(), later), False)

        got = await self.call(self.load, sid)
        self.assertEqual(got.expires, later)
        self.assertEqual(got.data, {"a": 1})
        await self.call(self.assert_length, 1, live=[sid])

    async def test_aall(self) -> None:
        sid = await self.call(self.create, {"a": 1})
        await self.call(self.store.set, new_sid(), self.expired_record(), create=True)
        if not await self.acan_list(self.store.aall):
            return

        everything = await self.store.aall()

        self.assertEqual(
            {key: record.data for key, record in everything.items()},
            {Store.digest(sid): {"a": 1}},
        )

    async def test_aclear(self) -> None:
        sid = await self.call(self.create, {"a": 1})

        await self.store.aclear()

        self.assertIsNone(await self.call(self.store.get, sid))
        await self.call(self.assert_length, 0, gone=[sid])

    async def test_alength(self) -> None:
        await self.call(self.create, {"a": 1})
        await self.call(self.create, {"b": 2})
        await self.call(self.store.set, new_sid(), self.expired_record(), create=True)

        if await self.acan_list(self.store.alength):
            self.assertEqual(await self.store.alength(), 2)

    async def test_aclear_expired(self) -> None:
        await self.call(self.create, {"a": 1}, expires=self.now + 60 * SECOND)
        live = await self.call(self.create, {"b": 2})

        with self.clock_at(self.now + 120 * SECOND):
            if not await self.acan_list(
                self.store.aclear_expired, self.store.acount_expired
            ):
                return
            self.assertEqual(await self.store.aclear_expired(), 1)
            self.assertEqual(set(await self.call(self.store.all)), {Store.digest(live)})

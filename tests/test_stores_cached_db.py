"""The cached database store: the shared contract, and what the cache adds."""

from __future__ import annotations

import contextlib
import datetime
import json
import pickle
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xsession.engine import SessionStore
from django_xsession.models import Session
from django_xsession.stores import get_store
from django_xsession.stores.base import Delta, Record, Store, UpdateError
from django_xsession.stores.cached_db import CachedDatabaseStore
from django_xsession.stores.db import DatabaseStore
from tests.store_contract import StoreContract, new_sid
from tests.test_stores_cache import REDIS_PREFIX
from tests.test_stores_db import RequiresDatabases
from tests.test_stores_redis import RequiresRedis

if TYPE_CHECKING:
    _TestCase = TestCase
else:
    _TestCase = object

HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)
LOGGER = "django_xsession.stores.cached_db"
PREFIX = "xsession:cdb:"
# A cache of its own, so that these tests see only their own keys.
LOCMEM = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "xsession-cached-db-tests",
}


class CachedDatabaseStoreTests(StoreContract, TestCase):
    # exact_across_use_tz holds for the copy in the cache, which these tests
    # read; a miss reads the row as the db store does (see the README).

    def make_store(self) -> Store:
        return CachedDatabaseStore()


# Django reads ``databases`` from the class, and its stubs type it as a set:
# hence the noqa for RUF012.
class PostgresCachedDatabaseStoreTests(RequiresDatabases, StoreContract, TestCase):
    databases = {"default", "postgres"}  # noqa: RUF012

    def make_store(self) -> Store:
        return CachedDatabaseStore(using="postgres")


class MariaDBCachedDatabaseStoreTests(RequiresDatabases, StoreContract, TestCase):
    databases = {"default", "mariadb"}  # noqa: RUF012

    def make_store(self) -> Store:
        return CachedDatabaseStore(using="mariadb")


class RedisJSONCachedDatabaseStoreTests(RequiresRedis, StoreContract, TestCase):
    def make_store(self) -> Store:
        return CachedDatabaseStore(cache="redis_json", prefix=REDIS_PREFIX)


class RedisMsgpackCachedDatabaseStoreTests(RequiresRedis, StoreContract, TestCase):
    def make_store(self) -> Store:
        return CachedDatabaseStore(cache="redis_msgpack", prefix=REDIS_PREFIX)


class SerializingCacheTests(_TestCase):
    """Copies in a cache whose serializer keeps only plain values; mix into
    a ``TestCase``."""

    alias: ClassVar[str]

    def test_copies_are_cached_and_served(self) -> None:
        store = CachedDatabaseStore(cache=self.alias, prefix=REDIS_PREFIX)
        sid = new_sid()
        now = timezone.now()
        record = Record(data={"a": 1, "é": ["ü"]}, expires=now + HOUR, created=now)

        with self.assertNoLogs(LOGGER):
            store.set(sid, record, create=True)
            with self.assertNumQueries(0):
                written = store.get(sid)
            store.set(sid, record, delta=Delta({"b": 2}, frozenset()))
            self.assertTrue(store.touch(sid, now + 2 * HOUR))
            with self.assertNumQueries(0):
                touched = store.get(sid)
            store.destroy(sid)

        assert written is not None and touched is not None
        self.assertEqual(written.data, {"a": 1, "é": ["ü"]})
        self.assertEqual(written.expires, now + HOUR)
        self.assertEqual(touched.data, {"a": 1, "é": ["ü"], "b": 2})
        self.assertEqual(touched.expires, now + 2 * HOUR)
        self.assertEqual(touched.created, now)


class RedisJSONCopyTests(RequiresRedis, SerializingCacheTests, TestCase):
    alias = "redis_json"


class RedisMsgpackCopyTests(RequiresRedis, SerializingCacheTests, TestCase):
    alias = "redis_msgpack"


class FailingCache(BaseCache):
    """A cache whose server is down: every operation raises."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _down(self) -> ConnectionError:
        return ConnectionError("cache server unreachable")

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        raise self._down()

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        raise self._down()

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        raise self._down()

    def touch(
        self,
        key: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        raise self._down()

    def delete(self, key: Any, version: int | None = None) -> bool:
        raise self._down()

    def clear(self) -> None:
        raise self._down()


def loaded(token: str | None) -> SessionStore:
    """A session loaded from the store, as a request with ``token`` has it."""
    session = SessionStore(token)
    session.get("anything")
    return session


def saved_session(data: dict[str, Any]) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


@override_settings(CACHES={"default": LOCMEM}, XSESSION={"STORE": "cached_db"})
class CacheTestCase(TestCase):
    store: CachedDatabaseStore
    now: datetime.datetime

    def setUp(self) -> None:
        super().setUp()
        caches["default"].clear()
        self.store = CachedDatabaseStore()
        self.now = timezone.now().replace(microsecond=0)

    def record(
        self,
        data: dict[str, Any],
        *,
        expires: datetime.datetime | None = None,
        version: int | None = None,
    ) -> Record:
        return Record(
            data=data,
            expires=self.now + HOUR if expires is None else expires,
            created=self.now,
            version=version,
        )

    def create(self, data: dict[str, Any], **kwargs: Any) -> str:
        sid = new_sid()
        self.store.set(sid, self.record(data, **kwargs), create=True)
        return sid

    def entries(self) -> dict[str, bytes]:
        """The locmem cache's own dict: its keys as stored, values pickled.

        Read directly because the cache API cannot list keys, and the point
        is to see every key and value the store left, not the ones we ask for.
        """
        return caches["default"]._cache  # type: ignore[attr-defined,no-any-return]

    def copy_of(self, sid: str) -> dict[str, Any] | None:
        """The cached copy of ``sid``, decoded here rather than by the store."""
        value = caches["default"].get(PREFIX + Store.digest(sid))
        if value is None:
            return None
        _format, raw, expires, cookie, created, version, _seen, _meta = value
        return {
            "data": json.loads(raw),
            "expires": datetime.datetime.fromisoformat(expires),
            "cookie": cookie,
            "created": datetime.datetime.fromisoformat(created),
            "version": version,
        }

    def copy(self, sid: str) -> dict[str, Any]:
        copy = self.copy_of(sid)
        if copy is None:
            self.fail("the session has no cached copy")
        return copy

    def row_of(self, sid: str) -> dict[str, Any]:
        row = Session.objects.get(key=Store.digest(sid))
        return {
            "data": json.loads(row.data),
            "expires": row.expires,
            "cookie": row.cookie,
            "created": row.created,
            "version": row.version,
        }

    def assert_cache_matches_the_row(self, sid: str) -> None:
        self.assertEqual(self.copy(sid), self.row_of(sid))


class ReadTests(CacheTestCase):
    def test_a_second_get_makes_no_query(self) -> None:
        sid = self.create({"a": 1})
        caches["default"].clear()
        with self.assertNumQueries(1):
            first = self.store.get(sid)

        with self.assertNumQueries(0):
            second = self.store.get(sid)

        assert first is not None and second is not None
        self.assertEqual(second.data, {"a": 1})
        self.assertEqual(second.expires, first.expires)
        self.assertEqual(second.version, first.version)

    def test_a_write_caches_the_row_for_the_next_read(self) -> None:
        sid = self.create({"a": 1})

        with self.assertNumQueries(0):
            got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})
        self.assert_cache_matches_the_row(sid)

    def test_a_copy_is_served_for_copy_timeout_seconds_at_most(self) -> None:
        # Whatever a race left in the cache (a copy of a row revoked
        # meanwhile, say) lasts no longer than this.
        self.store = CachedDatabaseStore(copy_timeout=60)
        sid = self.create({"a": 1})
        locmem_clock = "django.core.cache.backends.locmem.time.time"
        start = time.time()

        with (
            mock.patch(locmem_clock, return_value=start + 59),
            self.assertNumQueries(0),
        ):
            self.store.get(sid)
        with (
            mock.patch(locmem_clock, return_value=start + 61),
            self.assertNumQueries(1),
        ):
            got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})

    def test_a_read_caches_until_the_session_expires(self) -> None:
        sid = self.create({"a": 1}, expires=self.now + 90 * SECOND)
        caches["default"].clear()
        cache = caches["default"]

        with mock.patch.object(cache, "add", wraps=cache.add) as add:
            self.store.get(sid)

        (call,) = add.call_args_list
        timeout = call.args[2]
        self.assertLessEqual(timeout, 91)
        self.assertGreater(timeout, 80)

    def test_an_expired_copy_is_not_returned_while_the_cache_holds_it(self) -> None:
        sid = self.create({"a": 1}, expires=self.now + 60 * SECOND)
        key = caches["default"].make_key(PREFIX + Store.digest(sid))

        with mock.patch(
            "django.utils.timezone.now", return_value=self.now + 120 * SECOND
        ):
            self.assertIn(key, self.entries())
            self.assertIsNone(self.store.get(sid))
            self.assertNotIn(key, self.entries())

    def test_an_expired_copy_gives_way_to_a_row_touched_behind_its_back(self) -> None:
        sid = self.create({"a": 1}, expires=self.now + 60 * SECOND)
        DatabaseStore().touch(sid, self.now + HOUR)

        with mock.patch(
            "django.utils.timezone.now", return_value=self.now + 120 * SECOND
        ):
            got = self.store.get(sid)
            with self.assertNumQueries(0):
                again = self.store.get(sid)

        assert got is not None and again is not None
        self.assertEqual(got.expires, self.now + HOUR)
        self.assertEqual(again.expires, self.now + HOUR)

    def test_a_record_written_expired_is_not_cached(self) -> None:
        sid = self.create({"a": 1}, expires=self.now - SECOND)

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNone(self.store.get(sid))

    def test_an_unreadable_copy_is_replaced_from_the_database(self) -> None:
        sid = self.create({"a": 1})
        caches["default"].set(PREFIX + Store.digest(sid), ("something", "else"))

        got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})
        self.assert_cache_matches_the_row(sid)

    def test_a_copy_of_an_earlier_layout_is_replaced(self) -> None:
        sid = self.create({"a": 1})
        now = timezone.now()
        copy = caches["default"].get(PREFIX + Store.digest(sid))
        for old_copy in (
            # Format 2 pickled its times as datetimes.
            (2, b'{"a":"stale"}', now + HOUR, {}, now, 0, now, {}),
            # Format 3 was a tuple holding the data as bytes.
            (3, b'{"a":"stale"}', *copy[2:]),
            # This layout's values under format 3.
            [3, *copy[1:]],
        ):
            caches["default"].set(PREFIX + Store.digest(sid), old_copy)

            got = self.store.get(sid)

            assert got is not None
            self.assertEqual(got.data, {"a": 1})
            self.assert_cache_matches_the_row(sid)

    def test_a_copy_holding_a_value_of_another_type_is_replaced(self) -> None:
        sid = self.create({"a": 1})
        copy = caches["default"].get(PREFIX + Store.digest(sid))
        for position, value in (
            (1, b'{"a":"stale"}'),
            (2, None),
            (3, []),
            (4, 7),
            (5, "7"),
            (6, 7),
            (7, None),
        ):
            broken = [*copy[:position], value, *copy[position + 1 :]]
            caches["default"].set(PREFIX + Store.digest(sid), broken)

            got = self.store.get(sid)

            assert got is not None
            self.assertEqual(got.data, {"a": 1})
            self.assert_cache_matches_the_row(sid)

    def test_a_copy_with_an_unreadable_time_is_replaced(self) -> None:
        sid = self.create({"a": 1})
        copy = caches["default"].get(PREFIX + Store.digest(sid))
        broken = [*copy[:2], "next tuesday", *copy[3:]]
        caches["default"].set(PREFIX + Store.digest(sid), broken)

        with self.assertLogs("django_xsession.stores.cached_db", "WARNING"):
            got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})
        self.assert_cache_matches_the_row(sid)

    def test_a_read_never_overwrites_a_newer_copy(self) -> None:
        sid = self.create({"a": 1})
        caches["default"].clear()
        read_database = DatabaseStore.get

        def save_meanwhile(store: DatabaseStore, sid: str) -> Record | None:
            # The row as this read found it, then a save caches a newer row
            # before the read gets to cache what it found.
            found = read_database(store, sid)
            assert found is not None
            CachedDatabaseStore().set(
                sid, self.record({"a": 2}), delta=Delta({"a": 2}, frozenset())
            )
            return found

        with mock.patch.object(DatabaseStore, "get", save_meanwhile):
            got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})
        self.assertEqual(self.copy(sid)["data"], {"a": 2})
        self.assert_cache_matches_the_row(sid)


class WriteTests(CacheTestCase):
    def test_stale_copies_never_override_the_database_on_a_merge(self) -> None:
        token = saved_session({"a": 0, "b": 0, "c": 0}).session_key
        with self.assertNumQueries(0):
            first, second = loaded(token), loaded(token)

        first["a"] = 1
        first.save()
        # "second" still holds the copy it read: a=0, at the old version.
        second["b"] = 2
        second.save()

        self.assertEqual(dict(loaded(token).items()), {"a": 1, "b": 2, "c": 0})
        self.assertEqual(self.row_of(second.id)["data"], {"a": 1, "b": 2, "c": 0})
        self.assertEqual(self.copy(second.id)["data"], {"a": 1, "b": 2, "c": 0})
        self.assert_cache_matches_the_row(second.id)

    def test_a_session_loaded_from_the_cache_saves_with_one_update(self) -> None:
        token = saved_session({"a": 0}).session_key
        with self.assertNumQueries(0):
            session = loaded(token)
        session["a"] = 1

        # The cached version matches the row's: no lock, no re-read; the
        # transaction (a savepoint in a test) holds the row while the copy
        # is put.
        with CaptureQueriesContext(connection) as queries:
            session.save()

        statements = [query["sql"].split()[0] for query in queries]
        self.assertEqual(statements, ["SAVEPOINT", "UPDATE", "RELEASE"])

        self.assert_cache_matches_the_row(session.id)
        self.assertEqual(self.copy(session.id)["data"], {"a": 1})

    def test_a_locked_save_without_a_delta_caches_the_row(self) -> None:
        sid = self.create({"a": 0})
        loaded_version = self.row_of(sid)["version"]
        self.store.set(sid, self.record({"a": 1}), delta=Delta({"a": 1}, frozenset()))

        # A stale version and no delta: the locked path replaces the data.
        self.store.set(sid, self.record({"b": 2}, version=loaded_version))

        self.assertEqual(self.row_of(sid)["data"], {"b": 2})
        self.assert_cache_matches_the_row(sid)

    def test_a_locked_save_of_an_empty_delta_caches_the_new_version(self) -> None:
        sid = self.create({"a": 0})
        loaded_version = self.row_of(sid)["version"]
        self.store.set(sid, self.record({"a": 1}), delta=Delta({"a": 1}, frozenset()))

        self.store.set(
            sid,
            self.record({"a": 0}, version=loaded_version),
            delta=Delta({}, frozenset()),
        )

        self.assertEqual(self.row_of(sid)["data"], {"a": 1})
        self.assert_cache_matches_the_row(sid)

    def test_reusing_an_expired_row_caches_its_version(self) -> None:
        sid = self.create({"old": True}, expires=self.now - SECOND)

        self.store.set(sid, self.record({"new": True}), create=True)

        self.assertGreater(self.row_of(sid)["version"], 0)
        self.assert_cache_matches_the_row(sid)

    def test_an_update_to_a_past_expiry_drops_the_copy(self) -> None:
        sid = self.create({"a": 1})

        self.store.set(sid, self.record({"a": 2}, expires=self.now - SECOND))

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNone(self.store.get(sid))

    def test_an_update_of_a_deleted_row_drops_its_copy(self) -> None:
        sid = self.create({"a": 1})
        Session.objects.filter(key=Store.digest(sid)).delete()

        with self.assertRaises(UpdateError):
            self.store.set(sid, self.record({"a": 2}))

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNone(self.store.get(sid))


class KeepInStepTests(CacheTestCase):
    def test_destroy_deletes_the_copy(self) -> None:
        sid = self.create({"a": 1})
        other = self.create({"b": 2})

        self.store.destroy(sid)

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNotNone(self.copy_of(other))

    def test_touch_moves_the_expiry_the_copy_is_served_with(self) -> None:
        sid = self.create({"a": 1})
        copy = self.copy(sid)
        later = self.now + 5 * HOUR
        before = timezone.now()

        self.assertTrue(self.store.touch(sid, later))

        with self.assertNumQueries(0):
            got = self.store.get(sid)
        assert got is not None and got.last_seen is not None
        self.assertEqual(got.expires, later)
        self.assertEqual(self.row_of(sid)["expires"], later)
        self.assertGreaterEqual(got.last_seen, before)
        self.assertEqual(got.data, {"a": 1})
        self.assertEqual(self.copy(sid), copy)

    def test_a_touch_never_puts_back_data_a_save_replaced(self) -> None:
        sid = self.create({"a": 1})
        loaded = self.store.get(sid)
        assert loaded is not None
        cache = caches["default"]
        read_cache = cache.get

        def save_after_the_touch_read(key: str, *args: Any, **kwargs: Any) -> Any:
            # Another request saves between the touch's read of the copy
            # and its write to the cache.
            value = read_cache(key, *args, **kwargs)
            self.store.set(
                sid,
                replace(loaded, data={"a": 2}, raw=None),
                delta=Delta({"a": 2}, frozenset()),
            )
            return value

        with mock.patch.object(cache, "get", side_effect=save_after_the_touch_read):
            self.assertTrue(self.store.touch(sid, self.now + 5 * HOUR))

        got = self.store.get(sid)
        assert got is not None
        self.assertEqual(got.data, {"a": 2})
        self.assertEqual(got.expires, self.row_of(sid)["expires"])
        self.assert_cache_matches_the_row(sid)

    def save_a_2(self, sid: str, expires: datetime.datetime) -> None:
        """Another request's save of ``{"a": 2}`` with ``expires``."""
        loaded = self.store.get(sid)
        assert loaded is not None
        self.store.set(
            sid,
            replace(loaded, data={"a": 2}, raw=None, expires=expires),
            delta=Delta({"a": 2}, frozenset()),
        )

    def test_a_touch_applies_to_the_copy_it_touched_only(self) -> None:
        sid = self.create({"a": 1})
        self.store.touch(sid, self.now + 5 * HOUR)

        self.save_a_2(sid, self.now + 2 * HOUR)

        with self.assertNumQueries(0):
            got = self.store.get(sid)
        assert got is not None
        self.assertEqual(got.data, {"a": 2})
        self.assertEqual(got.expires, self.now + 2 * HOUR)
        self.assertEqual(self.row_of(sid)["expires"], self.now + 2 * HOUR)

    def test_a_touch_to_a_past_expiry_drops_the_copy(self) -> None:
        sid = self.create({"a": 1})

        self.assertTrue(self.store.touch(sid, self.now - SECOND))

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNone(self.store.get(sid))

    def test_a_touch_without_a_copy_caches_nothing(self) -> None:
        sid = self.create({"a": 1})
        caches["default"].clear()

        self.assertTrue(self.store.touch(sid, self.now + 5 * HOUR))

        self.assertEqual(self.entries(), {})
        got = self.store.get(sid)
        assert got is not None
        self.assertEqual(got.expires, self.now + 5 * HOUR)

    def test_a_touch_older_than_the_cached_row_does_not_win(self) -> None:
        sid = self.create({"a": 1})
        self.assertTrue(self.store.touch(sid, self.now + 2 * HOUR))
        # The copy leaves the cache (copy_timeout, or evicted) before the
        # touch key written after it; a touch meanwhile finds no copy to tag.
        caches["default"].delete(PREFIX + Store.digest(sid))
        self.assertTrue(self.store.touch(sid, self.now + 5 * HOUR))
        row_seen = Session.objects.get(key=Store.digest(sid)).last_seen

        self.store.get(sid)  # a miss: caches the row as it is now
        got = self.store.get(sid)

        assert got is not None
        self.assertEqual(got.expires, self.now + 5 * HOUR)
        self.assertEqual(got.last_seen, row_seen)

    @override_settings(
        XSESSION={"STORE": "cached_db", "IDLE_TIMEOUT": 250, "TOUCH_AFTER": 60}
    )
    def test_an_active_user_is_not_timed_out_by_an_old_touch(self) -> None:
        # copy_timeout is 300 s: the copy leaves the cache by its own timeout
        # between a request's load and its refresh.
        start = timezone.now()
        started = time.time()

        def at(seconds: float) -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            moment = start + datetime.timedelta(seconds=seconds)
            stack.enter_context(
                mock.patch("django.utils.timezone.now", return_value=moment)
            )
            stack.enter_context(mock.patch("time.time", return_value=started + seconds))
            return stack

        with at(0):
            session = saved_session({"user": "alice"})
            token = session.session_key
        with at(200):
            request = loaded(token)
            self.assertTrue(request.refresh())  # a touch key: seen at 200
        with at(299):
            request = loaded(token)  # the copy's last second
        with at(301):
            self.assertTrue(request.refresh())  # the row: seen at 301
        with at(310):
            self.assertEqual(loaded(token).get("user"), "alice")  # cached again
        with at(455):
            # 154 s after the row's last-seen time: inside IDLE_TIMEOUT.
            self.assertEqual(loaded(token).get("user"), "alice")

        self.assertTrue(Session.objects.filter(key=Store.digest(session.id)).exists())

    def test_a_touch_after_a_save_is_served_as_the_row_has_it(self) -> None:
        # An IDLE_TIMEOUT refresh carries the expiry its request loaded,
        # over a later one a save wrote meanwhile: the row takes the touch's,
        # and the copy must say the same.
        sid = self.create({"a": 1})
        self.save_a_2(sid, self.now + 5 * HOUR)

        self.assertTrue(self.store.touch(sid, self.now + HOUR))

        with self.assertNumQueries(0):
            got = self.store.get(sid)
        assert got is not None
        self.assertEqual(got.expires, self.row_of(sid)["expires"])
        self.assertEqual(got.data, {"a": 2})

    def test_touch_of_a_deleted_row_drops_its_copy(self) -> None:
        sid = self.create({"a": 1})
        Session.objects.filter(key=Store.digest(sid)).delete()

        self.assertFalse(self.store.touch(sid, self.now + HOUR))

        self.assertIsNone(self.copy_of(sid))
        self.assertIsNone(self.store.get(sid))

    def test_clear_deletes_the_copies_and_nothing_else(self) -> None:
        sids = [self.create({"n": n}) for n in range(3)]
        caches["default"].set("unrelated", "kept")

        with mock.patch("django_xsession.stores.cached_db._CLEAR_BATCH", 2):
            self.store.clear()

        for sid in sids:
            self.assertIsNone(self.copy_of(sid))
            self.assertIsNone(self.store.get(sid))
        self.assertEqual(caches["default"].get("unrelated"), "kept")
        self.assertFalse(Session.objects.exists())

    def test_forget_deletes_the_copies_of_rows_deleted_directly(self) -> None:
        revoked, kept = self.create({"a": 1}), self.create({"b": 2})
        self.store.touch(revoked, self.now + 5 * HOUR)
        keys = [Store.digest(revoked)]
        Session.objects.filter(key__in=keys).delete()

        self.store.forget(keys)

        self.assertIsNone(self.store.get(revoked))
        self.assertIsNotNone(self.copy_of(kept))
        self.assertEqual(
            list(self.entries()),
            [caches["default"].make_key(PREFIX + Store.digest(kept))],
        )


class AtRestTests(CacheTestCase):
    def test_the_cache_holds_the_hashed_id_only(self) -> None:
        session = saved_session({"cart": [1, 2]})
        session["user"] = "someone"
        session.save()
        token = session.session_key
        assert token is not None
        loaded(token)
        self.assertTrue(loaded(token).touch())

        entries = self.entries()

        key = PREFIX + Store.digest(session.id)
        self.assertEqual(
            sorted(entries),
            [caches["default"].make_key(name) for name in (key, key + ":touched")],
        )
        for key, value in entries.items():
            for secret in (session.id, token):
                self.assertNotIn(secret, key)
                self.assertNotIn(secret.encode(), value)
                self.assertNotIn(secret, repr(pickle.loads(value)))


class OptionsTests(CacheTestCase):
    @override_settings(
        CACHES={"default": LOCMEM, "sessions": {**LOCMEM, "LOCATION": "other"}},
        XSESSION={
            "STORE": {
                "BACKEND": "cached_db",
                "OPTIONS": {"CACHE": "sessions", "PREFIX": "mine:"},
            }
        },
    )
    def test_cache_and_prefix_options(self) -> None:
        store = get_store()
        session = saved_session({"a": 1})

        assert isinstance(store, CachedDatabaseStore)
        self.assertIsNotNone(caches["sessions"].get("mine:" + Store.digest(session.id)))
        self.assertEqual(self.entries(), {})

    def test_an_unknown_cache_is_a_configuration_error(self) -> None:
        with self.assertRaisesMessage(ImproperlyConfigured, "'nope'"):
            CachedDatabaseStore(cache="nope")


class SwallowingCache(LocMemCache):
    """django-redis under IGNORE_EXCEPTIONS while Redis is down: a delete
    neither raises nor happens, and answers None."""

    def delete(self, key: Any, version: int | None = None) -> bool:
        return None  # type: ignore[return-value]


@override_settings(
    CACHES={"default": {"BACKEND": f"{__name__}.SwallowingCache"}},
    XSESSION={"STORE": "cached_db"},
)
class SwallowedDeleteTests(TestCase):
    def test_a_delete_the_cache_swallowed_is_logged(self) -> None:
        store = CachedDatabaseStore()
        sid = new_sid()
        now = timezone.now()
        store.set(sid, Record(data={"a": 1}, expires=now + HOUR), create=True)
        store.get(sid)

        with self.assertLogs(LOGGER, "ERROR") as logs:
            store.destroy(sid)

        (line,) = logs.output
        assert "did not delete" in line
        assert "outdated copy" in line
        assert sid not in line


@override_settings(
    CACHES={"default": {"BACKEND": f"{__name__}.FailingCache"}},
    XSESSION={"STORE": "cached_db"},
)
class CacheFailureTests(TestCase):
    def test_the_store_works_from_the_database_and_logs(self) -> None:
        store = CachedDatabaseStore()
        sid = new_sid()
        now = timezone.now()
        record = Record(data={"a": 1}, expires=now + HOUR, created=now)

        with self.assertLogs(LOGGER, "WARNING") as logs:
            store.set(sid, record, create=True)
            store.set(sid, record, delta=Delta({"b": 2}, frozenset()))
            got = store.get(sid)
            self.assertTrue(store.touch(sid, now + 2 * HOUR))
            self.assertEqual(store.length(), 1)
            store.destroy(sid)
            self.assertIsNone(store.get(sid))
            store.set(new_sid(), record, create=True)
            store.clear()

        assert got is not None
        self.assertEqual(got.data, {"a": 1, "b": 2})
        self.assertFalse(Session.objects.exists())
        self.assertTrue(all("ConnectionError" in line for line in logs.output))
        self.assertTrue(any("failed reading" in line for line in logs.output))
        self.assertTrue(any("failed writing" in line for line in logs.output))
        self.assertTrue(any("failed deleting" in line for line in logs.output))
        self.assertFalse(any(sid in line for line in logs.output))

    def test_a_failed_read_does_not_wait_for_the_cache_again(self) -> None:
        store = CachedDatabaseStore()
        sid = new_sid()
        now = timezone.now()
        with self.assertLogs(LOGGER, "WARNING"):
            store.set(sid, Record(data={"a": 1}, expires=now + HOUR), create=True)

        with self.assertLogs(LOGGER, "WARNING") as logs:
            got = store.get(sid)

        assert got is not None
        self.assertEqual(got.data, {"a": 1})
        self.assertEqual(len(logs.output), 1)

    def test_sessions_work_through_the_session_api(self) -> None:
        with self.assertLogs(LOGGER, "WARNING"):
            token = saved_session({"a": 1}).session_key
            session = loaded(token)
            session["b"] = 2
            session.save()
            again = loaded(token)

        self.assertEqual(dict(again.items()), {"a": 1, "b": 2})

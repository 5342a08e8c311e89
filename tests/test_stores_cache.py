"""The cache store: the shared contract on locmem and on django-redis, and the rest.

A Django cache cannot list its keys, so the contract runs with
``lists_sessions = False``. On Redis the store works under a prefix of this
process's own, as other test runs on the machine share database 13. The
replica tests start a primary and a replica ``redis-server`` of their own.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import textwrap
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import OperationalError, connection, connections
from django.test import (
    Client,
    SimpleTestCase,
    TestCase,
    TransactionTestCase,
    override_settings,
)
from django.utils import timezone

from django_xsession.engine import SessionStore
from django_xsession.stores import get_store
from django_xsession.stores.base import (
    Delta,
    Record,
    Store,
    StoreUnavailable,
    UpdateError,
)
from django_xsession.stores.cache import CacheStore
from django_xsession.stores.redis import RedisStore
from tests.store_contract import StoreContract, new_sid
from tests.test_outage import HOST, NAME, RedisServers, free_port
from tests.test_stores_redis import (
    RequiresRedis,
    commands_sent,
    names,
    run_python,
    sha256,
)

if TYPE_CHECKING:
    _TestCase = SimpleTestCase
else:
    _TestCase = object

HOUR = datetime.timedelta(hours=1)
REDIS_PREFIX = f"xsession-tests-{os.getpid()}:c:"


class CacheStoreTests(StoreContract, SimpleTestCase):
    lists_sessions = False

    def make_store(self) -> Store:
        return CacheStore()


# The cache store on Django's DatabaseCache, in the test database.
DATABASE_CACHES = {
    **settings.CACHES,
    "database": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "xsession_test_cache",
    },
}
ON_DATABASE_CACHE = {"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "database"}}}


@override_settings(CACHES=DATABASE_CACHES)
class DatabaseCacheStoreTests(StoreContract, TestCase):
    lists_sessions = False

    def setUp(self) -> None:
        call_command("createcachetable", "xsession_test_cache", verbosity=0)
        super().setUp()

    def make_store(self) -> Store:
        return CacheStore(cache="database")


def mid_second() -> datetime.datetime:
    """Now, at least a tenth of a second from a whole second either side."""
    while not 100_000 <= (now := timezone.now()).microsecond < 900_000:
        time.sleep(0.05)
    return now


@override_settings(CACHES=DATABASE_CACHES)
class DatabaseCacheExpiryTests(TestCase):
    """DatabaseCache stores an expiry cut to the whole second."""

    def setUp(self) -> None:
        call_command("createcachetable", "xsession_test_cache", verbosity=0)
        self.store = CacheStore(cache="database")
        self.sid = new_sid()

    def kept_until(self, suffix: str = "") -> datetime.datetime:
        """When the cache lets the session's entry (or a key beside it) go."""
        key = caches["database"].make_key(self.store._key(self.sid) + suffix)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT expires FROM xsession_test_cache WHERE cache_key = %s", [key]
            )
            (expires,) = cursor.fetchone()
        assert isinstance(expires, datetime.datetime)
        return expires.replace(tzinfo=datetime.timezone.utc)

    def test_an_entry_outlives_the_sessions_expiry(self) -> None:
        expires = mid_second() + datetime.timedelta(seconds=3)

        self.store.set(self.sid, Record({"a": 1}, expires), create=True)

        assert self.kept_until() >= expires

    def test_a_touched_entry_outlives_the_new_expiry(self) -> None:
        self.store.set(self.sid, Record({"a": 1}, timezone.now() + HOUR), create=True)
        expires = mid_second() + 2 * HOUR

        assert self.store.touch(self.sid, expires)

        assert self.kept_until() >= expires
        assert self.kept_until(":touched") >= expires


@override_settings(
    CACHES={
        **DATABASE_CACHES,
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "xsession_test_cache",
            "OPTIONS": {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2},
        },
    }
)
class DatabaseCacheCullingTests(TestCase):
    def test_culling_keeps_the_generation_and_every_session_left(self) -> None:
        # DatabaseCache culls the lowest keys first: the generation's sorts
        # after every session's (a hex digest under the same prefix).
        call_command("createcachetable", "xsession_test_cache", verbosity=0)
        store = CacheStore(cache="database")
        sids = [new_sid() for _ in range(40)]
        for sid in sids:
            store.set(sid, Record({"a": 1}, timezone.now() + HOUR), create=True)

        cache = caches["database"]
        held = [sid for sid in sids if cache.has_key(store._key(sid))]
        assert 0 < len(held) < len(sids)
        assert [sid for sid in sids if store.get(sid) is not None] == held


class TaggingDatabaseCache(DatabaseCache):
    """Keeps each value tagged, and reads back only tagged values: a cache
    that transforms what it keeps (encrypts it, say) in its own methods."""

    def add(self, key: str, value: Any, *args: Any, **kwargs: Any) -> bool:
        return super().add(key, ["tagged", value], *args, **kwargs)

    def set(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        super().set(key, ["tagged", value], *args, **kwargs)

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        found = super().get_many(keys, version)
        return {
            key: value[1]
            for key, value in found.items()
            if isinstance(value, list) and value[:1] == ["tagged"]
        }


@override_settings(
    CACHES={
        **DATABASE_CACHES,
        "database": {
            "BACKEND": f"{__name__}.TaggingDatabaseCache",
            "LOCATION": "xsession_test_cache",
        },
    },
    XSESSION=ON_DATABASE_CACHE,
)
class DatabaseCacheSubclassTests(TestCase):
    def setUp(self) -> None:
        call_command("createcachetable", "xsession_test_cache", verbosity=0)

    def test_a_save_goes_through_the_subclass_set(self) -> None:
        self.client.get("/write/", {"a": "1"})
        self.client.get("/write/", {"b": "2"})

        assert self.client.get("/read/").json() == {"a": "1", "b": "2"}


@override_settings(CACHES=DATABASE_CACHES, XSESSION=ON_DATABASE_CACHE)
class DatabaseCacheTableTests(TestCase):
    def test_a_cache_table_not_created_is_an_error_not_an_outage(self) -> None:
        # SQLite says "no such table" with an OperationalError, as the db
        # store's table not migrated: a mistake to fix, not a 503.
        with self.assertRaisesMessage(OperationalError, "no such table"):
            self.client.get("/write/", {"a": "1"})


class CacheToTheFile:
    """A database router: Django's DatabaseCache to "sqlite_file"."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return "sqlite_file" if model._meta.app_label == "django_cache" else None

    db_for_write = db_for_read


@override_settings(
    CACHES=DATABASE_CACHES,
    DATABASE_ROUTERS=[f"{__name__}.CacheToTheFile"],
    XSESSION=ON_DATABASE_CACHE,
)
class DatabaseCacheRefusalTests(TransactionTestCase):
    """SQLite refuses a write ("database is locked") while another connection
    writes; Django's DatabaseCache answers it as a taken or missing key, or
    not at all."""

    databases = {"default", "sqlite_file"}  # noqa: RUF012

    def setUp(self) -> None:
        call_command(
            "createcachetable",
            "xsession_test_cache",
            database="sqlite_file",
            verbosity=0,
        )
        self.client = Client(raise_request_exception=False)

    @contextmanager
    def another_writer(self, *, logged: bool = True) -> Iterator[sqlite3.Connection]:
        """Another connection, yielded, holds the file's write lock until it
        commits; ours waits 50 ms.

        ``logged``: what runs inside is a request, whose refusal the
        middleware logs.
        """
        ours = connections["sqlite_file"]
        ours.ensure_connection()
        ours.connection.execute("PRAGMA busy_timeout = 50")
        # Reconnecting gives back the timeout the settings give.
        self.addCleanup(ours.close)
        writer = sqlite3.connect(ours.settings_dict["NAME"], isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            if not logged:
                yield writer
                return
            with self.assertLogs("django_xsession", "ERROR") as logs:
                yield writer
            assert "refused" in logs.output[0]
        finally:
            writer.close()

    def test_a_save_the_database_refuses_answers_503_not_200(self) -> None:
        assert self.client.get("/write/", {"a": "1"}).status_code == 200

        with self.another_writer():
            response = self.client.get("/write/", {"b": "2"})

        assert response.status_code == 503
        assert self.client.get("/read/").json() == {"a": "1"}

    def test_a_new_session_the_database_refuses_answers_503(self) -> None:
        with self.another_writer():
            response = self.client.get("/write/", {"a": "1"})

        assert response.status_code == 503
        assert "sessionid" not in response.cookies

    def test_a_clear_the_database_refuses_raises_instead_of_ending_nothing(
        self,
    ) -> None:
        assert self.client.get("/write/", {"a": "1"}).status_code == 200

        with (
            self.another_writer(logged=False),
            self.assertRaisesMessage(StoreUnavailable, "refused"),
        ):
            get_store().clear()

        get_store().clear()
        assert self.client.get("/read/").json() == {}

    def test_a_generation_the_database_refuses_answers_503_not_a_lost_session(
        self,
    ) -> None:
        # A cache that holds no generation (new, or culled) makes one first.
        caches["database"].clear()
        add = DatabaseCache.add

        def add_then_unlock(cache: DatabaseCache, *args: Any, **kwargs: Any) -> bool:
            # The lock goes after the first add(), the generation's: the
            # session's own add() goes through.
            added: bool = add(cache, *args, **kwargs)
            if writer.in_transaction:
                writer.execute("COMMIT")
            return added

        with (
            self.another_writer() as writer,
            mock.patch.object(DatabaseCache, "add", add_then_unlock),
        ):
            response = self.client.get("/write/", {"a": "1"})

        assert response.status_code == 503
        assert "sessionid" not in response.cookies
        assert self.client.get("/write/", {"a": "1"}).status_code == 200
        assert self.client.get("/read/").json() == {"a": "1"}

    @override_settings(XSESSION={**ON_DATABASE_CACHE, "ROLLING": True})
    def test_a_touch_the_database_refuses_answers_503_and_keeps_the_session(
        self,
    ) -> None:
        assert self.client.get("/write/", {"a": "1"}).status_code == 200

        with self.another_writer():
            response = self.client.get("/read/")

        assert response.status_code == 503
        assert self.client.get("/read/").json() == {"a": "1"}


@override_settings(XSESSION={"STORE": "cache"})
class CacheEngineTests(SimpleTestCase):
    def test_clear_expired_does_nothing_as_with_djangos_cache_engine(self) -> None:
        sid = new_sid()
        store = CacheStore()
        store.set(sid, Record({"a": 1}, timezone.now() + HOUR), create=True)

        SessionStore.clear_expired()
        async_to_sync(SessionStore.aclear_expired)()

        assert store.get(sid) is not None


class CacheStoreDestroyTests(SimpleTestCase):
    def test_a_backend_that_does_not_say_is_taken_to_have_held_it(self) -> None:
        # Caches written before Django 3.1 return None from delete(): a key
        # rotation must not take every session for one ended meanwhile.
        store = CacheStore()
        sid = new_sid()
        store.set(sid, Record({"a": 1}, timezone.now() + HOUR), create=True)

        with mock.patch.object(caches["default"], "delete", return_value=None):
            assert store.destroy(sid) is True


class RedisCacheStoreTests(RequiresRedis, StoreContract, SimpleTestCase):
    lists_sessions = False

    def make_store(self) -> Store:
        return CacheStore(cache="redis", prefix=REDIS_PREFIX)


class RedisJSONCacheStoreTests(RequiresRedis, StoreContract, SimpleTestCase):
    lists_sessions = False

    def make_store(self) -> Store:
        return CacheStore(cache="redis_json", prefix=REDIS_PREFIX)


class RedisMsgpackCacheStoreTests(RequiresRedis, StoreContract, SimpleTestCase):
    lists_sessions = False

    def make_store(self) -> Store:
        return CacheStore(cache="redis_msgpack", prefix=REDIS_PREFIX)


class SerializingCacheTests(_TestCase):
    """Sessions through the test client on a cache whose serializer keeps
    only plain values; mix into a ``SimpleTestCase``."""

    alias: ClassVar[str]

    def test_sessions_are_written_and_read_through_requests(self) -> None:
        store = {
            "BACKEND": "cache",
            "OPTIONS": {"cache": self.alias, "prefix": REDIS_PREFIX},
        }
        with self.settings(XSESSION={"STORE": store, "ROLLING": True}):
            write = self.client.get("/write/", {"a": "1", "é": "ü"})
            assert write.status_code == 200
            assert self.client.get("/increment/", {"key": "n"}).json() == {"n": 1}
            assert self.client.get("/increment/", {"key": "n"}).json() == {"n": 2}
            read = self.client.get("/read/")

        assert read.json() == {"a": "1", "é": "ü", "n": 2}


class RedisJSONSessionTests(RequiresRedis, SerializingCacheTests, SimpleTestCase):
    alias = "redis_json"


class RedisMsgpackSessionTests(RequiresRedis, SerializingCacheTests, SimpleTestCase):
    alias = "redis_msgpack"


class UnknownEntryTests(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store = CacheStore()
        self.sid = new_sid()
        self.key = f"xsession:c:{sha256(self.sid)}"
        self.expires = timezone.now() + HOUR
        self.store.set(self.sid, Record({"a": 1}, self.expires), create=True)

    def assert_a_miss(self, value: Any) -> None:
        caches["default"].set(self.key, value, 600)

        assert self.store.get(self.sid) is None, value
        assert self.store.touch(self.sid, self.expires) is False, value
        with self.assertRaises(UpdateError):
            self.store.set(self.sid, Record({"b": 2}, self.expires))
        # The id is free again: a new session replaces what was there.
        self.store.set(self.sid, Record({"new": 1}, self.expires), create=True)
        record = self.store.get(self.sid)
        assert record is not None
        assert record.data == {"new": 1}, value

    def test_an_entry_of_another_layout_is_a_miss(self) -> None:
        entry = caches["default"].get(self.key)
        now = timezone.now()
        for value in (
            # The layout before this one: a dict of bytes and datetimes.
            {
                "data": b'{"a":1}',
                "expires": self.expires,
                "cookie": {},
                "created": now,
                "last_seen": now,
                "meta": {},
                "generation": 0,
            },
            # This layout as a tuple, or under another layout number.
            tuple(entry),
            [2, *entry[1:]],
            entry[:-1],
            "a string",
            7,
        ):
            self.assert_a_miss(value)

    def test_an_entry_with_a_value_it_cannot_hold_is_a_miss(self) -> None:
        entry = caches["default"].get(self.key)
        for position, value in (
            (2, b'{"a":1}'),
            (2, '{"a":"\u20ac"}'),
            (3, "next tuesday"),
            (3, None),
            (4, []),
            (5, 3),
            (6, "yesterday"),
            (7, None),
        ):
            self.assert_a_miss([*entry[:position], value, *entry[position + 1 :]])


class TouchTests(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store = CacheStore()
        self.store.clear()
        self.sid = new_sid()
        self.now = timezone.now().replace(microsecond=0)
        self.store.set(self.sid, Record({"a": 1}, self.now + HOUR), create=True)

    def test_a_touch_never_puts_back_data_a_save_replaced(self) -> None:
        cache = caches["default"]
        read = cache.get_many
        loaded = self.store.get(self.sid)
        assert loaded is not None
        saved: list[bool] = []

        def save_after_the_touch_read(*args: Any, **kwargs: Any) -> Any:
            # Another request saves between the touch's read of the entry
            # and its writes.
            found = read(*args, **kwargs)
            if not saved:
                saved.append(True)
                self.store.set(
                    self.sid,
                    Record({"a": 1, "b": 2}, self.now + HOUR),
                    delta=Delta({"b": 2}, frozenset()),
                )
            return found

        with mock.patch.object(
            cache, "get_many", side_effect=save_after_the_touch_read
        ):
            assert self.store.touch(self.sid, self.now + 5 * HOUR)

        record = self.store.get(self.sid)
        assert record is not None
        assert record.data == {"a": 1, "b": 2}

    def test_a_touch_keeps_the_entry_as_long_as_the_session(self) -> None:
        cache = caches["default"]
        key = cache.make_key(f"xsession:c:{sha256(self.sid)}")

        assert self.store.touch(self.sid, self.now + 5 * HOUR)

        kept_until = cache._expire_info[key]  # type: ignore[attr-defined]
        assert kept_until >= (self.now + 5 * HOUR).timestamp() - 1
        record = self.store.get(self.sid)
        assert record is not None and record.last_seen is not None
        assert record.expires == self.now + 5 * HOUR
        assert record.last_seen >= self.now

    def test_a_save_after_a_touch_keeps_its_own_expiry(self) -> None:
        assert self.store.touch(self.sid, self.now + 5 * HOUR)

        self.store.set(
            self.sid,
            Record({"a": 2}, self.now + 2 * HOUR),
            delta=Delta({"a": 2}, frozenset()),
        )

        record = self.store.get(self.sid)
        assert record is not None
        assert record.data == {"a": 2}
        assert record.expires == self.now + 2 * HOUR

    def test_a_refresh_with_the_expiry_it_loaded_keeps_a_later_one(self) -> None:
        # IDLE_TIMEOUT's refresh touches with the expiry its request loaded;
        # another request saved a later one meanwhile.
        self.store.set(
            self.sid,
            Record({"a": 1, "b": 2}, self.now + 5 * HOUR),
            delta=Delta({"b": 2}, frozenset()),
        )

        assert self.store.touch(self.sid, self.now + HOUR)

        record = self.store.get(self.sid)
        assert record is not None
        assert record.expires == self.now + 5 * HOUR
        key = caches["default"].make_key(f"xsession:c:{sha256(self.sid)}")
        kept_until = caches["default"]._expire_info[key]  # type: ignore[attr-defined]
        assert kept_until >= (self.now + 5 * HOUR).timestamp() - 1

    def test_a_touch_never_takes_back_an_earlier_touchs_expiry(self) -> None:
        assert self.store.touch(self.sid, self.now + 5 * HOUR)

        assert self.store.touch(self.sid, self.now + HOUR)

        record = self.store.get(self.sid)
        assert record is not None
        assert record.expires == self.now + 5 * HOUR

    def test_a_save_that_keeps_the_expiry_keeps_its_last_seen_time(self) -> None:
        # A fixed expiry (IDLE_TIMEOUT's refresh touches with it too): the
        # earlier touch still names the saved entry, and must not take its
        # last-seen time back.
        assert self.store.touch(self.sid, self.now + HOUR)
        later = timezone.now() + HOUR

        self.store.set(
            self.sid,
            Record({"a": 2}, self.now + HOUR, last_seen=later),
            delta=Delta({"a": 2}, frozenset()),
        )

        record = self.store.get(self.sid)
        assert record is not None
        assert record.last_seen == later
        assert record.expires == self.now + HOUR


class UntouchableCache(LocMemCache):
    """A third-party backend that never implemented ``touch()``."""

    def touch(self, key: Any, timeout: Any = None, version: Any = None) -> bool:
        raise NotImplementedError


@override_settings(
    CACHES={"default": {"BACKEND": f"{__name__}.UntouchableCache"}},
)
class UntouchableCacheTests(SimpleTestCase):
    def test_a_touch_rewrites_the_entry_on_a_cache_without_touch(self) -> None:
        store = CacheStore()
        sid = new_sid()
        now = timezone.now().replace(microsecond=0)
        store.set(sid, Record({"a": 1}, now + HOUR), create=True)

        assert store.touch(sid, now + 5 * HOUR)

        record = store.get(sid)
        assert record is not None
        assert record.expires == now + 5 * HOUR
        assert record.data == {"a": 1}


class OvertakenCache(LocMemCache):
    """A cache where another process makes the store's generation between
    its read and its ``add()``."""

    def add(
        self, key: Any, value: Any, timeout: Any = None, version: Any = None
    ) -> bool:
        if key.endswith("generation"):
            self.set(key, 7, None)
        return super().add(key, value, timeout, version)


@override_settings(CACHES={"default": {"BACKEND": f"{__name__}.OvertakenCache"}})
class OvertakenCacheTests(SimpleTestCase):
    def test_the_store_takes_the_generation_another_process_made(self) -> None:
        store = CacheStore()
        sid = new_sid()

        store.set(sid, Record({"a": 1}, timezone.now() + HOUR), create=True)

        record = store.get(sid)
        assert record is not None
        assert record.data == {"a": 1}


class CacheKeys(_TestCase):
    """What the store leaves in its cache; mix into a ``SimpleTestCase``."""

    alias: ClassVar[str]
    prefix: ClassVar[str]

    def stored(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key at rest in the cache, with its stored value, as bytes."""
        raise NotImplementedError

    def setUp(self) -> None:
        super().setUp()
        self.cache = caches[self.alias]
        self.store = CacheStore(cache=self.alias, prefix=self.prefix)
        self.store.clear()
        self.addCleanup(self.store.clear)

    def test_clear_leaves_other_cache_keys_alone(self) -> None:
        others = {
            "other": "value",
            f"{self.prefix}not-a-session": [1, 2],
            "xsession_not_ours": {"a": 1},
        }
        for key, value in others.items():
            self.cache.set(key, value, 600)
            self.addCleanup(self.cache.delete, key)
        now = timezone.now()
        sid = new_sid()
        self.store.set(sid, Record({"a": 1}, expires=now + HOUR), create=True)

        self.store.clear()

        assert self.store.get(sid) is None
        assert self.cache.get_many(list(others)) == others

    def test_a_clear_holds_when_the_cache_loses_the_generation(self) -> None:
        # A session from before any clear(), then the generation key evicted
        # or culled (the cache's memory full, say).
        self.cache.delete(self.store._generation_key)
        expires = timezone.now() + HOUR
        before = new_sid()
        self.store.set(before, Record({"a": 1}, expires), create=True)
        self.store.clear()

        self.cache.delete(self.store._generation_key)

        assert self.store.get(before) is None
        after = new_sid()
        self.store.set(after, Record({"b": 2}, expires), create=True)
        self.store.set(after, Record({"b": 3}, expires))
        record = self.store.get(after)
        assert record is not None
        assert record.data == {"b": 3}
        assert self.store.get(before) is None

    def test_a_new_cache_keeps_the_generation_its_first_session_made(self) -> None:
        self.cache.delete(self.store._generation_key)
        sid = new_sid()

        self.store.set(sid, Record({"a": 1}, timezone.now() + HOUR), create=True)

        assert self.cache.get(self.store._generation_key) is not None
        # Another process, reading the same cache.
        record = CacheStore(cache=self.alias, prefix=self.prefix).get(sid)
        assert record is not None
        assert record.data == {"a": 1}

    def test_keys_carry_only_the_hash(self) -> None:
        with self.settings(
            XSESSION={
                "STORE": {
                    "BACKEND": "cache",
                    "OPTIONS": {"cache": self.alias, "prefix": self.prefix},
                }
            }
        ):
            session = SessionStore()
            session["note"] = "hello"
            session.save()
            again = SessionStore(session.session_key)
            assert again["note"] == "hello"
            assert again.touch()
        token, sid = session.session_key, session.id
        assert token is not None
        signature = token.rpartition(".")[2]

        stored = dict(self.stored())

        entry_key = f"{self.prefix}{sha256(sid)}"
        assert self.cache.make_key(entry_key).encode() in stored
        assert self.cache.make_key(f"{entry_key}:touched").encode() in stored
        for key, value in stored.items():
            for secret in (sid, token, signature):
                assert secret.encode() not in key, key
                assert secret.encode() not in value, key


class LocMemCacheKeysTests(CacheKeys, SimpleTestCase):
    alias = "default"
    prefix = "xsession:c:"

    def stored(self) -> Iterator[tuple[bytes, bytes]]:
        entries: dict[str, bytes] = self.cache._cache  # type: ignore[attr-defined]
        for key, value in entries.items():
            yield key.encode(), value


class RedisCacheKeysTests(RequiresRedis, CacheKeys, SimpleTestCase):
    alias = "redis"
    prefix = REDIS_PREFIX

    def stored(self) -> Iterator[tuple[bytes, bytes]]:
        redis = RedisStore(cache="redis").client
        for key in redis.scan_iter(count=1000):
            value = redis.get(key) if redis.type(key) in (b"string", "string") else None
            yield bytes(key), value if isinstance(value, bytes) else b""


class RedisCacheRoundTripTests(RequiresRedis, SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store = CacheStore(cache="redis", prefix=REDIS_PREFIX)
        self.store.clear()
        self.addCleanup(self.store.clear)
        self.expires = timezone.now() + HOUR

    def test_a_new_session_costs_two_round_trips(self) -> None:
        with commands_sent(RedisStore(cache="redis").client) as sent:
            self.store.set(new_sid(), Record({"a": 1}, self.expires), create=True)

        self.assertEqual(names(sent), ["MGET", "SET"])

    def test_a_touch_reads_then_writes_no_entry(self) -> None:
        sid = new_sid()
        self.store.set(sid, Record({"a": 1}, self.expires), create=True)

        with commands_sent(RedisStore(cache="redis").client) as sent:
            assert self.store.touch(sid, self.expires + HOUR)

        # The entry's own key is only given a longer timeout.
        self.assertEqual(names(sent), ["MGET", "PEXPIRE", "SET"])
        entry_key = caches["redis"].make_key(f"{REDIS_PREFIX}{sha256(sid)}")
        self.assertEqual(sent[2][1], f"{entry_key}:touched")

    def test_a_new_session_replaces_an_entry_of_an_old_generation(self) -> None:
        sid = new_sid()
        self.store.set(sid, Record({"old": 1}, self.expires), create=True)
        self.store.clear()

        self.store.set(sid, Record({"new": 2}, self.expires), create=True)

        record = self.store.get(sid)
        assert record is not None
        self.assertEqual(record.data, {"new": 2})

    def test_a_new_session_replaces_an_entry_past_its_expiry(self) -> None:
        sid = new_sid()
        self.store.set(sid, Record({"old": 1}, self.expires), create=True)
        key = f"{REDIS_PREFIX}{sha256(sid)}"
        entry = caches["redis"].get(key)
        # The cache's timeout is in whole seconds: an entry can outlive
        # its session's expiry for up to one.
        entry[3] = timezone.now().isoformat()
        caches["redis"].set(key, entry, 60)

        self.store.set(sid, Record({"new": 2}, self.expires), create=True)

        record = self.store.get(sid)
        assert record is not None
        self.assertEqual(record.data, {"new": 2})


class ReplicatedCacheTestCase(RedisServers, TestCase):
    """A store on django-redis with a replica that stopped following its
    primary (a lag that never ends) and serves what it had."""

    store_backend: ClassVar[str]

    def setUp(self) -> None:
        super().setUp()
        # No wait for more replicas before the first sync (5 seconds).
        self.primary = self.start_server("--repl-diskless-sync-delay", "0")
        self.replica = self.start_server("--replicaof", HOST, str(self.primary.port))
        self.wait_for_link("up")
        # An alias of its own: stores are built once per configuration.
        alias = f"replicated-{self.primary.port}"
        caches = {
            **settings.CACHES,
            alias: {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": [
                    f"redis://{HOST}:{server.port}/0"
                    for server in (self.primary, self.replica)
                ],
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
            },
        }
        store = {"BACKEND": self.store_backend, "OPTIONS": {"cache": alias}}
        overridden = override_settings(CACHES=caches, XSESSION={"STORE": store})
        overridden.enable()
        self.addCleanup(overridden.disable)
        for name in ("alice", "bob"):
            User.objects.create_user(name, password="secret")

    def wait_for_link(self, status: str) -> None:
        deadline = time.monotonic() + 10
        with self.replica.client() as client:
            while client.info("replication")["master_link_status"] != status:
                assert time.monotonic() < deadline, self.replica.log
                time.sleep(0.02)

    def lose_the_replica(self) -> None:
        """Once it has every write so far, make it follow a primary not there."""
        with self.primary.client() as primary:
            assert primary.wait(1, 5000) == 1
        with self.replica.client() as replica:
            replica.replicaof(HOST, free_port())
        self.wait_for_link("down")

    def visitor(self, token: str) -> Client:
        client = Client()
        client.cookies[NAME] = token
        return client

    def assert_sessions_read_the_primary(self) -> None:
        self.client.get("/login/", {"username": "alice", "password": "secret"})
        first = self.client.cookies[NAME].value
        # The replica holds alice's session before it stops following.
        self.lose_the_replica()

        counts = [
            self.client.get("/increment/", {"key": "n"}).json()["n"] for _ in range(3)
        ]
        assert counts == [1, 2, 3]
        assert self.client.get("/whoami/").content == b"alice"
        self.client.get("/login/", {"username": "bob", "password": "secret"})
        assert self.client.get("/whoami/").content == b"bob"
        self.client.get("/logout/")

        assert self.client.get("/whoami/").content == b""
        # The replica still has alice's first session: it is ended all the same.
        assert self.visitor(first).get("/whoami/").content == b""
        with self.primary.client() as primary, self.replica.client() as replica:
            assert set(replica.keys()) - set(primary.keys())


class ReplicaTests(ReplicatedCacheTestCase):
    store_backend = "cache"

    def test_sessions_read_the_primary_not_a_lagging_replica(self) -> None:
        self.assert_sessions_read_the_primary()

    def test_clear_moves_on_from_the_primarys_generation(self) -> None:
        store = get_store()
        assert isinstance(store, CacheStore)
        expires = timezone.now() + HOUR
        self.lose_the_replica()
        sids = [new_sid() for _ in range(2)]

        for sid in sids:
            store.set(sid, Record({"a": 1}, expires), create=True)
            store.clear()

        assert [store.get(sid) for sid in sids] == [None, None]


class CachedDatabaseReplicaTests(ReplicatedCacheTestCase):
    store_backend = "cached_db"

    def test_sessions_read_the_primary_not_a_lagging_replica(self) -> None:
        self.assert_sessions_read_the_primary()


class ShardedCacheTests(RequiresRedis, SimpleTestCase):
    def test_sessions_on_django_redis_shard_client(self) -> None:
        # It has no replicas, and no primary to name.
        caches = {
            **settings.CACHES,
            "sharded": {
                **settings.CACHES["redis"],
                "LOCATION": [settings.CACHES["redis"]["LOCATION"]],
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
            },
        }
        with override_settings(CACHES=caches), warnings.catch_warnings():
            # Its own add() and get_many() pass a client to its set() and
            # get(), which warn about that, whoever calls them.
            warnings.filterwarnings(
                "ignore", r"\w+ on sharded client should not specify client"
            )
            store = CacheStore(cache="sharded", prefix=REDIS_PREFIX)
            sid = new_sid()
            expires = timezone.now() + HOUR
            store.set(sid, Record({"a": 1}, expires), create=True)
            store.set(sid, Record({"a": 2}, expires))
            record = store.get(sid)
            store.clear()

            assert record is not None
            assert record.data == {"a": 2}
            assert store.get(sid) is None


def unreachable(backend: str) -> dict[str, Any]:
    """``CACHES`` with an alias "nowhere" on a port nothing listens on."""
    return {
        **settings.CACHES,
        "nowhere": {
            "BACKEND": backend,
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
            if "django_redis" in backend
            else {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }


class CacheOutageTests(SimpleTestCase):
    def assert_unavailable(self) -> None:
        store = CacheStore(cache="nowhere")
        sid = new_sid()
        record = Record({"a": 1}, expires=timezone.now() + HOUR)
        for operation in (
            lambda: store.get(sid),
            lambda: store.set(sid, record, create=True),
            lambda: store.set(sid, record),
            lambda: store.touch(sid, record.expires),
            lambda: store.destroy(sid),
            store.clear,
        ):
            with self.assertRaises(StoreUnavailable) as raised:
                operation()
            assert "'nowhere'" in str(raised.exception)

    def test_an_unreachable_django_redis_cache_is_store_unavailable(self) -> None:
        with override_settings(CACHES=unreachable("django_redis.cache.RedisCache")):
            self.assert_unavailable()

    def test_an_unreachable_django_redis_backend_is_store_unavailable(self) -> None:
        backend = "django.core.cache.backends.redis.RedisCache"
        with override_settings(CACHES=unreachable(backend)):
            self.assert_unavailable()

    def test_other_errors_are_not_an_outage(self) -> None:
        store = CacheStore()
        sid = new_sid()
        store.set(sid, Record({}, expires=timezone.now() + HOUR), create=True)

        with self.assertRaises(TypeError):
            store.set(sid, Record({"x": object()}, expires=timezone.now() + HOUR))


class FreshInterpreterTests(SimpleTestCase):
    """The cache store in an interpreter of its own, on Django's Redis
    backend, on a port nothing listens on."""

    def run_script(self, before: str, after: str) -> list[str]:
        """What the lines run ``before`` and ``after`` configuring the
        settings print."""
        configure = """
            from django.conf import settings

            settings.configure(
                SECRET_KEY="x" * 50,
                USE_TZ=True,
                INSTALLED_APPS=["django_xsession"],
                CACHES={
                    "default": {
                        "BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0",
                    }
                },
                XSESSION={"STORE": "cache"},
            )
            """
        parts = (before, configure, after)
        return run_python("".join(textwrap.dedent(part) for part in parts))

    def test_djangos_redis_backend_down_under_redis_py_before_4_6(self) -> None:
        # Django's own Redis backend needs redis-py, not the redis extra.
        before = """
            import redis.exceptions

            # As redis-py 4.0 to 4.5, which lack both.
            del redis.exceptions.OutOfMemoryError, redis.exceptions.MasterDownError
            """
        after = """
            import django

            django.setup()

            from django_xsession.stores import get_store

            try:
                get_store().get("a" * 22)
            except Exception as error:
                print(type(error).__name__, "from", type(error.__cause__).__name__)
            """

        printed = self.run_script(before, after)

        assert printed == ["StoreUnavailable from ConnectionError"]

    def test_the_module_imports_before_django_is_set_up(self) -> None:
        # As a settings module or a cache backend's module may import it.
        after = """
            import django_xsession.stores.cache

            print(django_xsession.stores.cache.CacheStore.__name__)
            """

        assert self.run_script("", after) == ["CacheStore"]

"""The Redis store: the shared contract against a real Redis, and what only it does.

Everything runs in database 13 of the machine's Redis (the ``redis`` cache
alias of ``tests.settings``) under a prefix of this process's own: other test
runs on the machine, and tests using the default prefix, share that database,
and ``clear()`` would otherwise empty their stores too.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.test import SimpleTestCase, override_settings
from django.utils import timezone

from django_xsession.engine import SessionStore
from django_xsession.stores import get_store
from django_xsession.stores.base import Delta, Record, Store, StoreUnavailable
from django_xsession.stores.redis import RedisStore
from tests.services import REDIS, missing, reachable
from tests.store_contract import StoreContract, new_sid

if TYPE_CHECKING:
    from redis import Redis

    _TestCase = SimpleTestCase
else:
    _TestCase = object

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
PREFIX = f"xsession-tests-{os.getpid()}:"
REDIS_STORE: dict[str, Any] = {
    "STORE": {"BACKEND": "redis", "OPTIONS": {"cache": "redis", "prefix": PREFIX}}
}
NAME = "sessionid"


def run_python(script: str) -> list[str]:
    """What ``script`` prints, run by a fresh interpreter with warnings as
    errors; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


class RequiresRedis(_TestCase):
    """Mix in first: the class skips loudly (or fails, under
    XSESSION_REQUIRE_SERVICES=1) when the machine's Redis is unreachable."""

    @classmethod
    def setUpClass(cls) -> None:
        if not reachable(REDIS):
            missing("Redis", REDIS)
        super().setUpClass()


class RedisStoreTests(RequiresRedis, StoreContract, SimpleTestCase):
    expires_on_django_clock = False

    def make_store(self) -> Store:
        return RedisStore(cache="redis", prefix=PREFIX)


def ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def commands_sent(client: Redis) -> Iterator[list[tuple[Any, ...]]]:
    """Record every command ``client`` sends, each a round trip to Redis."""
    sent: list[tuple[Any, ...]] = []
    send: Callable[..., Any] = client.execute_command

    def record(*args: Any, **options: Any) -> Any:
        sent.append(args)
        return send(*args, **options)

    with mock.patch.object(client, "execute_command", side_effect=record):
        yield sent


def names(sent: list[tuple[Any, ...]]) -> list[str]:
    return [str(args[0]).upper() for args in sent]


class RedisClientTests(RequiresRedis, SimpleTestCase):
    def test_the_store_follows_caches_changed_by_override_settings(self) -> None:
        store = RedisStore(cache="redis", prefix=PREFIX)
        self.addCleanup(store.clear)
        sid = new_sid()
        expires = timezone.now() + HOUR
        store.set(sid, Record({"a": 1}, expires), create=True)
        elsewhere = {
            **settings.CACHES,
            "redis": {
                **settings.CACHES["redis"],
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
            },
        }

        with override_settings(CACHES=elsewhere), self.assertRaises(StoreUnavailable):
            store.get(sid)
        record = store.get(sid)

        assert record is not None and record.data == {"a": 1}


class RedisTestCase(RequiresRedis, SimpleTestCase):
    """A RedisStore on the suite's database, emptied before and after each test."""

    def setUp(self) -> None:
        super().setUp()
        self.store = RedisStore(cache="redis", prefix=PREFIX)
        self.redis: Redis = self.store.client
        self.store.clear()
        self.addCleanup(self.store.clear)
        self.now = timezone.now().replace(microsecond=0)

    def create(
        self, data: dict[str, Any], *, expires: datetime.datetime | None = None
    ) -> str:
        sid = new_sid()
        record = Record(
            data=data,
            expires=self.now + HOUR if expires is None else expires,
            cookie={"path": "/"},
            created=self.now,
        )
        self.store.set(sid, record, create=True)
        return sid

    def key(self, sid: str) -> str:
        return f"{PREFIX}s:{sha256(sid)}"

    def fields(self, sid: str) -> dict[bytes, bytes]:
        return cast("dict[bytes, bytes]", self.redis.hgetall(self.key(sid)))

    def assert_ttl(self, key: str, expires: datetime.datetime) -> None:
        """The TTL of ``key`` ends at ``expires``, give or take a second."""
        expected = (expires - timezone.now()).total_seconds() * 1000
        pttl = self.redis.pttl(key)
        assert pttl > 0, f"{key} has no TTL ({pttl})"
        assert abs(pttl - expected) < 1000, (pttl, expected)

    def every_key_and_value(self) -> Iterator[tuple[bytes, bytes]]:
        """Each key of the database with each thing stored under it."""
        for key in self.redis.scan_iter(count=1000):
            kind = self.redis.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            parts: list[Any]
            if kind == "hash":
                parts = [
                    item for pair in self.redis.hgetall(key).items() for item in pair
                ]
            elif kind == "zset":
                parts = list(self.redis.zrange(key, 0, -1))
            elif kind == "string":
                parts = [self.redis.get(key)]
            elif kind == "set":
                parts = list(self.redis.smembers(key))
            elif kind == "list":
                parts = list(self.redis.lrange(key, 0, -1))
            else:
                parts = []
            yield bytes(key), b"".join(bytes(part or b"") for part in parts)


class RedisLayoutTests(RedisTestCase):
    def test_the_ttl_is_the_sessions_expiry(self) -> None:
        soon = self.create({"a": 1}, expires=self.now + 10 * MINUTE)
        later = self.create({"a": 1}, expires=self.now + 30 * HOUR)

        self.assert_ttl(self.key(soon), self.now + 10 * MINUTE)
        self.assert_ttl(self.key(later), self.now + 30 * HOUR)

    def test_an_update_sets_the_ttl_to_the_new_expiry(self) -> None:
        sid = self.create({"a": 1})
        later = self.now + 7 * HOUR

        self.store.set(
            sid,
            Record({"a": 2}, expires=later, created=self.now),
            delta=Delta({"a": 2}, frozenset()),
        )

        self.assert_ttl(self.key(sid), later)

    def test_touch_moves_the_ttl_and_expiry_without_rewriting_data(self) -> None:
        sid = self.create({"a": "x" * 100, "cart": [1, 2, {"b": None}]})
        before = self.fields(sid)
        later = self.now + 5 * HOUR

        with commands_sent(self.redis) as sent:
            assert self.store.touch(sid, later) is True

        after = self.fields(sid)
        data_fields = {name for name in before if name.startswith(b"d:")}
        assert data_fields == {b"d:a", b"d:cart"}
        assert {name: after[name] for name in data_fields} == {
            name: before[name] for name in data_fields
        }
        assert after.keys() == before.keys()
        assert after[b"m:expires"] == later.isoformat().encode()
        assert before[b"m:expires"] == (self.now + HOUR).isoformat().encode()
        assert after[b"m:cookie"] == before[b"m:cookie"]
        assert after[b"m:created"] == before[b"m:created"]
        self.assert_ttl(self.key(sid), later)
        # One script call, and nothing of the data travels with it: the
        # script cannot write a data field it was never given.
        assert names(sent) == ["EVALSHA"]
        arguments = [
            arg.decode() if isinstance(arg, bytes) else str(arg) for arg in sent[0][2:]
        ]
        assert not [arg for arg in arguments if arg.startswith("d:")]
        assert not [arg for arg in arguments if "x" * 100 in arg or "cart" in arg]

    def test_keys_hold_only_the_hashed_id(self) -> None:
        with self.settings(XSESSION=REDIS_STORE):
            session = SessionStore()
            session["_auth_user_id"] = "7"
            session["note"] = "hello"
            session.save()
        token, sid = session.session_key, session.id
        assert token is not None
        signature = token.rpartition(".")[2]

        keys = dict(self.every_key_and_value())

        session_key = f"{PREFIX}s:{sha256(sid)}".encode()
        assert session_key in keys
        assert f"{PREFIX}u:7".encode() in keys
        for key, values in keys.items():
            for secret in (sid, token, signature):
                assert secret.encode() not in key, key
                assert secret.encode() not in values, key

    def test_the_user_index_holds_the_hash_scored_by_expiry(self) -> None:
        sid = self.create({"_auth_user_id": "7"})

        index = f"{PREFIX}u:7"
        assert self.redis.zrange(index, 0, -1, withscores=True) == [
            (sha256(sid).encode(), float(ms(self.now + HOUR)))
        ]
        self.assert_ttl(index, self.now + HOUR)

    def test_the_user_index_is_named_by_str_of_the_stored_id(self) -> None:
        # sessions_of looks a user up by str(user.pk), whatever type the
        # session stored the id as.
        for user in ("7", 7, 123456789012345, 1234567890123456789, 2.5, True):
            with self.subTest(user=user):
                self.store.clear()
                sid = self.create({"_auth_user_id": user})

                assert [
                    key.decode() for key in self.redis.scan_iter(match=f"{PREFIX}u:*")
                ] == [f"{PREFIX}u:{user}"]
                assert list(self.store.user_sessions(str(user))) == [sha256(sid)]

    def test_a_listing_finds_a_session_moved_to_a_new_id_meanwhile(self) -> None:
        old = self.create({"_auth_user_id": "7"})
        new = new_sid()
        sent: list[Any] = []
        send: Callable[..., Any] = self.store.client.execute_command

        def send_then_move(*args: Any, **options: Any) -> Any:
            # Whatever the listing's first command, a login's rotation
            # completes right after it reaches Redis.
            reply = send(*args, **options)
            if not sent:
                sent.append(args[0])
                moved = Record({"_auth_user_id": "7"}, expires=self.now + HOUR)
                self.store.replace(old, new, moved)
            return reply

        with mock.patch.object(
            self.store.client, "execute_command", side_effect=send_then_move
        ):
            listed = self.store.user_sessions("7")

        assert list(listed) in ([sha256(old)], [sha256(new)])
        assert self.store.user_sessions("7").keys() == {sha256(new)}

    def test_replace_is_one_command_and_moves_the_user_index_entry(self) -> None:
        old = self.create({"_auth_user_id": "7"})
        self.create({"warm": "up", "_auth_user_id": "8"})
        new = new_sid()
        record = Record({"_auth_user_id": "7"}, expires=self.now + HOUR)

        with commands_sent(self.store.client) as sent:
            assert self.store.replace(old, new, record)

        assert names(sent) == ["EVALSHA"]
        assert self.redis.zrange(f"{PREFIX}u:7", 0, -1) == [sha256(new).encode()]
        assert self.redis.exists(self.key(old)) == 0

    def test_a_session_without_a_user_is_not_indexed(self) -> None:
        sid = self.create({"a": 1})
        self.store.touch(sid, self.now + 2 * HOUR)

        assert list(self.redis.scan_iter(match=f"{PREFIX}u:*")) == []

    def test_destroy_removes_the_session_from_the_user_index(self) -> None:
        sid = self.create({"_auth_user_id": "7"})
        other = self.create({"_auth_user_id": "7"})

        self.store.destroy(sid)

        index = f"{PREFIX}u:7"
        assert self.redis.zrange(index, 0, -1) == [sha256(other).encode()]
        self.store.destroy(other)
        assert self.redis.exists(index) == 0

    def test_changing_the_user_moves_the_session_between_indexes(self) -> None:
        sid = self.create({"_auth_user_id": "7", "a": 1})
        later = self.now + 2 * HOUR

        self.store.set(
            sid,
            Record({"_auth_user_id": "8", "a": 1}, expires=later),
            delta=Delta({"_auth_user_id": "8"}, frozenset()),
        )

        digest = sha256(sid).encode()
        assert self.redis.exists(f"{PREFIX}u:7") == 0
        assert self.redis.zscore(f"{PREFIX}u:8", digest) == ms(later)

        # Replacing the data moves it too, and a logout takes it out.
        self.store.set(sid, Record({"_auth_user_id": "9"}, expires=later))
        assert self.redis.exists(f"{PREFIX}u:8") == 0
        assert self.redis.zscore(f"{PREFIX}u:9", digest) == ms(later)
        self.store.set(
            sid,
            Record({}, expires=later),
            delta=Delta({}, frozenset({"_auth_user_id"})),
        )
        assert list(self.redis.scan_iter(match=f"{PREFIX}u:*")) == []

    def test_the_user_index_ttl_follows_the_latest_session_expiry(self) -> None:
        index = f"{PREFIX}u:7"
        first = self.create({"_auth_user_id": "7"}, expires=self.now + HOUR)
        second = self.create({"_auth_user_id": "7"}, expires=self.now + 3 * HOUR)
        self.assert_ttl(index, self.now + 3 * HOUR)

        # A touch can make either session the latest.
        assert self.store.touch(first, self.now + 5 * HOUR)
        self.assert_ttl(index, self.now + 5 * HOUR)
        assert self.redis.zscore(index, sha256(first)) == ms(self.now + 5 * HOUR)

        # Without its latest session, the index lives as long as the next one.
        self.store.destroy(first)
        self.assert_ttl(index, self.now + 3 * HOUR)
        self.store.set(
            second,
            Record({"_auth_user_id": "8"}, expires=self.now + 2 * HOUR),
            delta=Delta({"_auth_user_id": "8"}, frozenset()),
        )
        third = self.create({"_auth_user_id": "7"}, expires=self.now + 4 * HOUR)
        fourth = self.create({"_auth_user_id": "7"}, expires=self.now + 6 * HOUR)
        self.store.set(
            fourth,
            Record({"_auth_user_id": "8"}, expires=self.now + 6 * HOUR),
            delta=Delta({"_auth_user_id": "8"}, frozenset()),
        )
        assert self.redis.zrange(index, 0, -1) == [sha256(third).encode()]
        self.assert_ttl(index, self.now + 4 * HOUR)

    def test_indexing_drops_the_users_expired_entries(self) -> None:
        index = f"{PREFIX}u:7"
        self.redis.zadd(index, {"gone-long-ago": ms(self.now - HOUR)})

        sid = self.create({"_auth_user_id": "7"})

        assert self.redis.zrange(index, 0, -1) == [sha256(sid).encode()]

    def test_thousands_of_keys_are_written_past_luas_unpack_limit(self) -> None:
        # unpack() of more than about 8,000 values fails inside Lua.
        many = {f"k{number}": number for number in range(6000)}
        for user in ({}, {"_auth_user_id": "7"}):
            with self.subTest(user=user):
                sid = self.create({**many, **user})
                created = self.store.get(sid)
                assert created is not None
                assert created.data == {**many, **user}
                changed = {**many, "k0": "changed"}
                del changed["k1"]
                self.store.set(
                    sid,
                    Record(data={**changed, **user}, expires=self.now + HOUR),
                    delta=Delta(changed, frozenset({"k1"})),
                )

                loaded = self.store.get(sid)
                assert loaded is not None
                assert loaded.data == {**changed, **user}
                self.assert_ttl(self.key(sid), self.now + HOUR)

    def test_a_data_key_with_a_lone_surrogate_is_saved_changed_and_removed(
        self,
    ) -> None:
        # What a view storing the keys of a JSON body gets from a "\ud800"
        # escape: a lone surrogate, which strict UTF-8 cannot encode.
        draft = json.loads('"draft:\\ud800"')
        sid = self.create({draft: 1, "a": 1})
        created = self.store.get(sid)
        assert created is not None
        assert created.data == {draft: 1, "a": 1}

        for changed, removed, expected in (
            ({draft: 2}, frozenset[str](), {draft: 2, "a": 1}),
            ({}, frozenset({draft}), {"a": 1}),
        ):
            self.store.set(
                sid,
                Record(data=expected, expires=self.now + HOUR),
                delta=Delta(changed, removed),
            )
            loaded = self.store.get(sid)
            assert loaded is not None
            assert loaded.data == expected

    def test_non_str_data_keys_are_named_as_json_names_them(self) -> None:
        # As the other stores' JSON has it: session[7] reads back as "7".
        keys: dict[Any, str] = {7: "seven", True: "yes", "a": "1"}
        sid = self.create(keys)
        loaded = self.store.get(sid)
        assert loaded is not None
        assert loaded.data == {"7": "seven", "true": "yes", "a": "1"}

        removed: frozenset[Any] = frozenset({7, True})
        self.store.set(
            sid,
            Record(data={"a": "1"}, expires=self.now + HOUR),
            delta=Delta({}, removed),
        )
        loaded = self.store.get(sid)
        assert loaded is not None
        assert loaded.data == {"a": "1"}

    def test_text_keys_keep_their_fields_under_a_binary_serializer(self) -> None:
        # Sessions saved before "k:" fields existed read on unchanged; a key
        # pickle keeps as 7 has a field of its own, apart from "7"'s.
        with self.settings(SESSION_SERIALIZER="tests.store_contract.PickleSerializer"):
            self.store = RedisStore(cache="redis", prefix=PREFIX)
            keys: dict[Any, str] = {"7": "text", 7: "int"}
            sid = self.create(keys)

            fields = self.fields(sid)
            assert b"d:7" in fields
            assert len([name for name in fields if name.startswith(b"k:")]) == 1

            self.redis.hset(self.key(sid), "d:a", pickle.dumps("saved earlier"))
            loaded = self.store.get(sid)
            assert loaded is not None
            assert loaded.data == {"7": "text", 7: "int", "a": "saved earlier"}


class RedisScanTests(RedisTestCase):
    FOREIGN = (
        "other:1",
        "xsession_not_ours",
        f"{PREFIX[:-1]}_not_ours",
        f"{PREFIX[:-1]}s:s:0",
        f"x:{PREFIX}s:0",
        f":1:{PREFIX}c:0",
        f"{PREFIX.upper()}s:0",
    )

    def setUp(self) -> None:
        super().setUp()
        for key in self.FOREIGN:
            self.redis.set(key, "foreign")
            self.addCleanup(self.redis.delete, key)

    @contextmanager
    def without_keys(self) -> Iterator[list[tuple[Any, ...]]]:
        """Make KEYS fail, however it is sent."""

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("KEYS blocks Redis: use SCAN")

        with (
            mock.patch.object(self.redis, "keys", side_effect=refuse),
            commands_sent(self.redis) as sent,
        ):
            yield sent
        assert "KEYS" not in names(sent)

    def test_all_length_and_clear_use_scan_and_never_keys(self) -> None:
        sids = [self.create({"n": n, "_auth_user_id": str(n)}) for n in range(3)]

        with self.without_keys() as sent:
            assert set(self.store.all()) == {sha256(sid) for sid in sids}
            assert self.store.length() == 3
            self.store.clear()
            assert self.store.length() == 0

        assert "SCAN" in names(sent)
        assert [self.store.get(sid) for sid in sids] == [None, None, None]

    def test_clear_touches_no_key_outside_the_prefix(self) -> None:
        for n in range(3):
            self.create({"n": n, "_auth_user_id": str(n)})

        self.store.clear()

        left = {bytes(key).decode() for key in self.redis.scan_iter(count=1000)}
        assert not {key for key in left if key.startswith(PREFIX)}
        assert set(self.FOREIGN) <= left
        for key in self.FOREIGN:
            assert self.redis.get(key) == b"foreign"

    def test_all_and_length_count_only_sessions_of_the_prefix(self) -> None:
        sid = self.create({"_auth_user_id": "7"})

        assert list(self.store.all()) == [sha256(sid)]
        assert self.store.length() == 1

    def test_a_store_whose_prefix_extends_this_ones_keeps_its_sessions(
        self,
    ) -> None:
        for extension in ("admin:", "s:", "u:"):
            with self.subTest(prefix=PREFIX + extension):
                other = RedisStore(cache="redis", prefix=PREFIX + extension)
                self.addCleanup(other.clear)
                theirs = new_sid()
                record = Record({"_auth_user_id": "7"}, expires=self.now + HOUR)
                other.set(theirs, record, create=True)
                ours = self.create({"_auth_user_id": "7"})

                assert list(self.store.all()) == [sha256(ours)]
                assert self.store.length() == 1
                self.store.clear()

                assert self.store.get(ours) is None
                assert other.get(theirs) is not None
                assert list(other.user_sessions("7")) == [sha256(theirs)]
                other.clear()

    def test_a_prefix_with_glob_characters_matches_only_itself(self) -> None:
        tag = f"t{os.getpid()}"
        store = RedisStore(cache="redis", prefix=f"{tag}[1]*?:")
        self.addCleanup(store.clear)
        lookalikes = (f"{tag}1a:s:0", f"{tag}[1]ab:s:0", f"{tag}[1]*:s:0")
        for key in lookalikes:
            self.redis.set(key, "foreign")
            self.addCleanup(self.redis.delete, key)
        sid = new_sid()
        store.set(sid, Record({"a": 1}, expires=self.now + HOUR), create=True)

        assert list(store.all()) == [sha256(sid)]
        assert store.length() == 1
        store.clear()

        assert store.get(sid) is None
        assert store.length() == 0
        for key in lookalikes:
            assert self.redis.get(key) == b"foreign"


@override_settings(XSESSION=REDIS_STORE)
class RedisRoundTripTests(RedisTestCase):
    def setUp(self) -> None:
        super().setUp()
        served = get_store()
        assert isinstance(served, RedisStore)
        # The store the middleware uses: the same prefix, so setUp emptied it.
        self.served = served

    def start(self, **data: str) -> None:
        response = self.client.get("/write/", data)
        assert NAME in response.cookies

    def test_a_read_costs_one_command_and_a_write_two(self) -> None:
        self.start(a="1")  # also loads the save script into Redis
        client = self.served.client

        with commands_sent(client) as read:
            assert self.client.get("/read/").json() == {"a": "1"}
        with commands_sent(client) as write:
            assert self.client.get("/write/", {"b": "2"}).json() == {"a": "1", "b": "2"}
        with commands_sent(client) as untouched:
            assert self.client.get("/nothing/").status_code == 200

        assert names(read) == ["HGETALL"]
        assert names(write) == ["HGETALL", "EVALSHA"]
        assert names(untouched) == []

    def test_a_rolling_read_costs_a_load_and_a_touch(self) -> None:
        with self.settings(XSESSION={**REDIS_STORE, "ROLLING": True}):
            self.start(a="1")
            self.client.get("/read/")  # loads the touch script

            with commands_sent(self.served.client) as read:
                response = self.client.get("/read/")

        assert response.json() == {"a": "1"}
        assert NAME in response.cookies
        assert names(read) == ["HGETALL", "EVALSHA"]

    def test_a_logout_costs_a_load_and_one_delete(self) -> None:
        # No second delete after the view: Redis has no transaction of the
        # view's to roll the first one back.
        self.start(a="1")

        with commands_sent(self.served.client) as logout:
            response = self.client.get("/logout/")

        assert response.cookies[NAME].value == ""
        assert names(logout) == ["HGETALL", "EVALSHA"]

    def test_a_new_session_costs_one_command(self) -> None:
        self.start(warm="up")
        self.client.cookies.clear()

        with commands_sent(self.served.client) as create:
            self.start(a="1")

        assert names(create) == ["EVALSHA"]

    def test_a_save_sends_only_the_changed_and_removed_keys(self) -> None:
        self.start(kept="k" * 50, changed="old")

        with commands_sent(self.served.client) as write:
            self.client.get("/write/", {"changed": "new"})

        evalsha = write[1]
        assert b"d:changed" in evalsha
        assert b"d:kept" not in evalsha
        assert not [arg for arg in evalsha if "k" * 50 in str(arg)]


@override_settings(XSESSION=REDIS_STORE)
class RedisNoLostUpdateTests(RedisTestCase):
    def setUp(self) -> None:
        super().setUp()
        get_store().clear()
        session = SessionStore()
        session["start"] = True
        session.save()
        assert session.session_key is not None
        self.token: str = session.session_key

    def test_two_sessions_changing_different_keys_both_keep_them(self) -> None:
        first = SessionStore(self.token)
        second = SessionStore(self.token)
        assert first["start"] is True
        assert second["start"] is True

        first["a"] = 1
        second["b"] = 2
        del second["start"]
        first.save()
        second.save()

        assert dict(SessionStore(self.token).items()) == {"a": 1, "b": 2}

    def test_concurrent_increments_of_their_own_keys_lose_nothing(self) -> None:
        threads, increments = 8, 50
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                barrier.wait()
                for _ in range(increments):
                    session = SessionStore(self.token)
                    session[f"k{n}"] = session.get(f"k{n}", 0) + 1
                    session.save()
            except BaseException as error:  # reported below
                errors.append(error)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)

        assert errors == []
        assert not [worker for worker in workers if worker.is_alive()]
        data = dict(SessionStore(self.token).items())
        assert data == {"start": True, **{f"k{n}": increments for n in range(threads)}}


class RedisConnectionTests(SimpleTestCase):
    def test_the_default_layout(self) -> None:
        store = RedisStore()

        assert store.cache == "default"
        assert store.session_key(sha256("id")) == f"xsession:s:{sha256('id')}"
        assert store.user_prefix == "xsession:u:"

    def test_the_default_prefix_starts_with_the_caches_key_prefix(self) -> None:
        caches = {
            **settings.CACHES,
            "site": {**settings.CACHES["redis"], "KEY_PREFIX": "site-a"},
        }
        with override_settings(CACHES=caches):
            store = RedisStore(cache="site")
            assert store.session_key("0") == "site-a:xsession:s:0"
            assert store.user_prefix == "site-a:xsession:u:"
            # One given in OPTIONS is used as it is.
            assert RedisStore(cache="site", prefix="own:").user_prefix == "own:u:"

    def test_nothing_connects_before_the_first_command(self) -> None:
        caches = {
            **settings.CACHES,
            "nowhere": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
            },
        }
        with override_settings(CACHES=caches):
            store = RedisStore(cache="nowhere")

            with self.assertRaises(StoreUnavailable) as raised:
                store.get(new_sid())
            with self.assertRaises(StoreUnavailable):
                store.set(new_sid(), Record({}, expires=timezone.now() + HOUR))

        assert "'nowhere'" in str(raised.exception)

    def test_import_setup_checks_and_first_request_setup_do_not_connect(self) -> None:
        # A fresh interpreter, where any socket connection fails loudly.
        script = textwrap.dedent(
            """
            import socket

            attempts = []

            def refuse(*args, **kwargs):
                attempts.append(args)
                raise ConnectionRefusedError("no connection allowed")

            socket.socket.connect = refuse
            socket.create_connection = refuse

            import django
            from django.conf import settings

            settings.configure(
                SECRET_KEY="x",
                USE_TZ=True,
                INSTALLED_APPS=["django_xsession"],
                SESSION_ENGINE="django_xsession.engine",
                MIDDLEWARE=["django_xsession.middleware.SessionMiddleware"],
                CACHES={
                    "default": {
                        "BACKEND": "django_redis.cache.RedisCache",
                        "LOCATION": "redis://127.0.0.1:6379/13",
                    }
                },
                XSESSION={"STORE": "redis"},
            )
            django.setup()

            from django.core import checks
            from django.http import HttpResponse

            import django_xsession.stores.redis
            from django_xsession.engine import SessionStore
            from django_xsession.middleware import SessionMiddleware
            from django_xsession.stores import get_store

            # databases=[]: the static checks only; Django 6.1 would otherwise
            # connect to every database alias.
            assert not [m for m in checks.run_checks(databases=[]) if m.is_serious()]
            assert isinstance(get_store(), django_xsession.stores.redis.RedisStore)
            SessionMiddleware(lambda request: HttpResponse())
            SessionStore()
            print(len(attempts), "attempts before the first command")
            try:
                get_store().get("abcdefgh")
            except Exception as error:
                print(type(error).__name__, "after", len(attempts), "attempt(s)")
            """
        )
        assert run_python(script) == [
            "0 attempts before the first command",
            "StoreUnavailable after 1 attempt(s)",
        ]


@override_settings(XSESSION=REDIS_STORE)
class RedisClearSessionsTests(RedisTestCase):
    def test_clearsessions_has_nothing_to_do(self) -> None:
        self.create({"a": 1})
        self.create({"b": 2}, expires=self.now - HOUR)

        out = StringIO()
        call_command("clearsessions", stdout=out)
        dry = StringIO()
        call_command("clearsessions", "--dry-run", stdout=dry)

        nothing = "Nothing to delete: the session store expires sessions itself.\n"
        assert out.getvalue() == dry.getvalue() == nothing
        # Redis dropped the expired one itself; the live one stays.
        assert self.store.length() == 1


class RedisKeyPrefixTests(RequiresRedis, SimpleTestCase):
    def test_sites_apart_by_key_prefix_keep_their_users_sessions_apart(self) -> None:
        def site(name: str) -> dict[str, Any]:
            return {**settings.CACHES["redis"], "KEY_PREFIX": f"{PREFIX}{name}"}

        caches = {**settings.CACHES, "site_a": site("a"), "site_b": site("b")}
        expires = timezone.now() + HOUR
        with override_settings(CACHES=caches):
            site_a, site_b = RedisStore(cache="site_a"), RedisStore(cache="site_b")
            try:
                sids = {}
                for store in (site_a, site_b):
                    sids[store] = new_sid()
                    record = Record({"_auth_user_id": "1"}, expires=expires)
                    store.set(sids[store], record, create=True)

                revoked = site_a.destroy_keys(site_a.user_sessions("1"))
                site_a.clear()

                assert revoked == 1
                assert site_a.get(sids[site_a]) is None
                assert site_b.get(sids[site_b]) is not None
                assert list(site_b.user_sessions("1")) == [sha256(sids[site_b])]
                assert site_b.length() == 1
            finally:
                site_a.clear()
                site_b.clear()

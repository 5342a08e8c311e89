"""Stored data that does not decode, and data over MAX_SIZE."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.core.signing import JSONSerializer
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from django_xsession import signing
from django_xsession.conf import get_options
from django_xsession.engine import SessionStore
from django_xsession.models import Session as SessionRow
from django_xsession.session import SessionTooLarge
from django_xsession.stores import get_store
from django_xsession.stores.base import Store, session_serializer
from django_xsession.stores.cache import CacheStore
from django_xsession.stores.redis import RedisStore
from tests.test_stores_redis import REDIS_STORE, RequiresRedis

DB: dict[str, Any] = {"STORE": "db"}
HOUR = datetime.timedelta(hours=1)


@override_settings(XSESSION={"STORE": "cache"})
class CorruptCacheEntryTests(SimpleTestCase):
    def test_a_time_out_of_range_for_the_clock_is_a_missing_session(self) -> None:
        # Written with USE_TZ on, read after a deploy turned it off: year 1
        # with an offset has no naive time.
        assert self.client.get("/write/", {"a": "1"}).status_code == 200
        store = get_store()
        assert isinstance(store, CacheStore)
        verified = signing.unsign(
            self.client.cookies["sessionid"].value, get_options().secrets
        )
        assert verified is not None
        key = store._key(verified.sid)
        entry = store.cache.get(key)
        entry[3] = "0001-01-01T00:00:00+14:00"
        store.cache.set(key, entry)

        with self.settings(USE_TZ=False):
            response = self.client.get("/read/")

        assert response.status_code == 200
        assert response.json() == {}


# Past where a comparison recursing twice a level gives out, within what
# Django's JSON serializer encodes in a request on every supported Python.
DEPTH = 800


def nested(leaf: Any) -> dict[str, Any]:
    """``leaf`` under DEPTH levels of {"a": ...}."""
    data = {"a": leaf}
    for _ in range(DEPTH - 1):
        data = {"a": data}
    return data


@override_settings(XSESSION={"STORE": "memory"})
class DeeplyNestedDataTests(TestCase):
    def test_a_session_holding_it_is_read_and_written(self) -> None:
        stored = self.client.post(
            "/nested-body/", json.dumps(nested(1)), content_type="application/json"
        )
        assert stored.status_code == 200

        read = self.client.get("/read/")

        assert read.status_code == 200
        assert read.json() == {"body": nested(1)}
        assert self.client.get("/write/", {"other": "x"}).status_code == 200
        # Unseen by session.modified: only a comparison finds the change.
        assert self.client.get("/nested-body/", {"leaf": "2"}).status_code == 200
        assert self.client.get("/read/").json() == {"body": nested("2"), "other": "x"}


@override_settings(XSESSION=DB)
class DeeplyNestedDatabaseDataTests(DeeplyNestedDataTests):
    pass


@override_settings(XSESSION=DB)
class CorruptDataTests(TestCase):
    def stored_with(self, data: str) -> str:
        """A session row holding ``data`` as is; return the client's token."""
        sid = signing.new_id()
        now = timezone.now()
        SessionRow.objects.create(
            key=Store.digest(sid),
            data=data,
            expires=now + datetime.timedelta(hours=1),
            created=now,
            last_seen=now,
        )
        token = signing.sign(sid, get_options().secrets)
        self.client.cookies["sessionid"] = token
        return sid

    def assert_treated_as_empty(self, data: str) -> None:
        sid = self.stored_with(data)
        with self.assertLogs("django.security.SuspiciousSession", "WARNING") as logs:
            response = self.client.get("/read/")
        assert response.status_code == 200
        assert response.json() == {}
        assert "corrupted" in logs.output[0]
        # A request that does not save leaves the row as it was.
        assert SessionRow.objects.get(key=Store.digest(sid)).data == data

    def test_corrupt_json_is_an_empty_session(self) -> None:
        self.assert_treated_as_empty('{"a": 1')
        self.assert_treated_as_empty("\x00\xff garbage")

    def test_data_of_the_wrong_type_is_an_empty_session(self) -> None:
        self.assert_treated_as_empty("[1, 2, 3]")
        self.assert_treated_as_empty('"a string"')

    def test_a_saving_request_writes_over_it(self) -> None:
        sid = self.stored_with("not json")
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/write/", {"fresh": "yes"})
        assert response.status_code == 200
        row = SessionRow.objects.get(key=Store.digest(sid))
        assert row.data == '{"fresh":"yes"}'


@override_settings(XSESSION=REDIS_STORE)
class CorruptRedisMetaTests(RequiresRedis, SimpleTestCase):
    """A session hash whose meta fields something else wrote: never a 5xx."""

    def setUp(self) -> None:
        super().setUp()
        store = get_store()
        assert isinstance(store, RedisStore)
        self.store = store
        store.clear()
        self.addCleanup(store.clear)

    def stored_with(self, fields: dict[bytes, bytes]) -> str:
        """A session of data ``{"a": 1}`` whose hash has ``fields`` over its
        own; the client carries its token. Return the id."""
        sid = signing.new_id()
        now = timezone.now()
        mapping = {
            b"d:a": b"1",
            b"m:expires": (now + HOUR).isoformat().encode(),
            b"m:created": now.isoformat().encode(),
            b"m:seen": now.isoformat().encode(),
            b"m:meta:user_agent": b"curl/8.5",
            **fields,
        }
        key = self.store.session_key(Store.digest(sid))
        self.store.client.hset(key, mapping=mapping)  # type: ignore[arg-type]
        self.store.client.pexpire(key, HOUR)
        self.client.cookies["sessionid"] = signing.sign(sid, get_options().secrets)
        return sid

    def read(self) -> Any:
        with self.assertLogs("django.security.SuspiciousSession", "WARNING") as logs:
            response = self.client.get("/read/")
        assert response.status_code == 200
        assert all("corrupted" in line for line in logs.output), logs.output
        return response.json()

    def test_a_corrupt_expiry_is_a_missing_session(self) -> None:
        for expires, use_tz in (
            (b"tomorrow", True),
            (b"\xff\xfe", True),
            (b"2026-13-45T00:00:00", True),
            # Out of range once made naive for a deploy without USE_TZ.
            (b"0001-01-01T00:00:00+14:00", False),
        ):
            with self.subTest(expires=expires), self.settings(USE_TZ=use_tz):
                sid = self.stored_with({b"m:expires": expires})
                token = self.client.cookies["sessionid"].value

                assert self.read() == {}

                response = self.client.get("/write/", {"k": "v"})
                assert response.status_code == 200
                # A new session, under a new id: the stored hash is left.
                assert response.cookies["sessionid"].value != token
                assert (
                    self.store.client.hget(
                        self.store.session_key(Store.digest(sid)), "m:expires"
                    )
                    == expires
                )

    def test_corrupt_created_and_last_seen_times_are_dropped(self) -> None:
        sid = self.stored_with({b"m:created": b"yesterday", b"m:seen": b"\xff"})

        assert self.read() == {"a": 1}

        record = self.store.get(sid)
        assert record is not None
        assert (record.created, record.last_seen) == (None, None)
        assert self.client.get("/write/", {"k": "v"}).json() == {"a": 1, "k": "v"}

    def test_undecodable_metadata_is_dropped(self) -> None:
        sid = self.stored_with({b"m:meta:ip": b"\xff", b"m:meta:\xfe": b"x"})

        assert self.read() == {"a": 1}

        record = self.store.get(sid)
        assert record is not None
        assert record.meta == {"user_agent": "curl/8.5"}


@override_settings(XSESSION=DB)
class ClearUnreadTests(TestCase):
    async def test_an_async_view_clearing_an_unread_session_replaces_it(self) -> None:
        session = SessionStore()
        await session.aset("_auth_user_id", "1")
        await session.asave()
        self.async_client.cookies["sessionid"] = session.session_key or ""
        response = await self.async_client.get("/async/clear-unread/")
        assert response.status_code == 200
        assert await SessionStore(session.session_key).aload() == {"cleared": True}


@override_settings(XSESSION={"STORE": "memory", "MAX_SIZE": 1024})
class MaxSizeTests(SimpleTestCase):
    def setUp(self) -> None:
        get_store().clear()

    def test_oversized_data_is_refused_before_the_store(self) -> None:
        session = SessionStore()
        session["blob"] = "x" * 2000
        with self.assertRaisesMessage(
            SessionTooLarge, "Session data is 2,011 bytes when serialized, over"
        ) as raised:
            session.save()
        assert "XSESSION['MAX_SIZE'] of 1,024 bytes" in str(raised.exception)
        assert get_store().length() == 0

    def test_an_oversized_update_leaves_the_stored_session(self) -> None:
        session = SessionStore()
        session["small"] = "ok"
        session.save()
        session["blob"] = "x" * 2000
        with self.assertRaises(SessionTooLarge):
            session.save()
        assert SessionStore(session.session_key).load() == {"small": "ok"}

    def test_data_within_the_limit_is_saved(self) -> None:
        session = SessionStore()
        session["blob"] = "x" * 900
        session.save()
        assert get_store().length() == 1

    def test_data_of_exactly_the_limit_is_saved(self) -> None:
        session = SessionStore()
        session["blob"] = "x" * 1013
        assert len(JSONSerializer().dumps({"blob": session["blob"]})) == 1024
        session.save()
        assert SessionStore(session.session_key).load() == {"blob": "x" * 1013}

    def test_the_default_limit_is_one_mebibyte(self) -> None:
        with self.settings(XSESSION={"STORE": "memory"}):
            assert get_options().max_size == 1_048_576


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _decoded(data: bytes, loads: Callable[[bytes], Any]) -> tuple[str, Any]:
    try:
        # repr: tells 1 from 1.0 and True, and 0.0 from -0.0.
        return "value", repr(loads(data))
    except ValueError:
        return "refused", None


class SerializerTests(SimpleTestCase):
    """The default serializer reads stored bytes exactly as Django's does."""

    @settings(max_examples=300, deadline=None, database=None)
    @given(JSON_VALUES)
    def test_what_django_writes_reads_back_the_same(self, value: Any) -> None:
        encoded = JSONSerializer().dumps(value)

        assert session_serializer().dumps(value) == encoded
        assert _decoded(encoded, session_serializer().loads) == _decoded(
            encoded, JSONSerializer().loads
        )

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
    @example(b" 1")
    @example(b"1 ")
    @example(b'{"a": 1}\n')
    @example(b"1 2")
    @example(b"[1,")
    @example(b"")
    @example(b"NaN")
    @example(b"\xff")
    def test_any_bytes_decode_or_fail_as_with_django(self, data: bytes) -> None:
        assert _decoded(data, session_serializer().loads) == _decoded(
            data, JSONSerializer().loads
        )

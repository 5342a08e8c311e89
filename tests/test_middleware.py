from __future__ import annotations

import base64
import datetime
import gc
import hashlib
import hmac
import itertools
import json
import math
import weakref
from collections.abc import Callable
from http.cookies import Morsel
from typing import Any, ClassVar
from unittest import mock

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from django.utils import timezone
from django.utils.http import http_date

from django_xsession import signing
from django_xsession.engine import SessionStore
from django_xsession.middleware import (
    MAX_COOKIE_CANDIDATES,
    SessionMiddleware,
    _expires_dates,
    cookie_values,
    expires_after,
    path_matches,
    trusted_over_http,
)
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store
from tests.stores import CountingCalls, CountingMemoryStore
from tests.test_django_features import cleared

MEMORY: dict[str, Any] = {"STORE": "memory"}
COUNTING: dict[str, Any] = {"STORE": "tests.stores.CountingMemoryStore"}
NAME = "sessionid"


class MiddlewareTestCase(SimpleTestCase):
    def setUp(self) -> None:
        get_store().clear()
        CountingMemoryStore.calls.clear()

    def cookie(self, response: HttpResponseBase) -> Morsel[str] | None:
        return response.cookies.get(NAME)

    def set_cookie(self, value: str) -> None:
        self.client.cookies[NAME] = value

    def start(self, **data: str) -> str:
        """Create a session holding ``data``; return its cookie token."""
        response = self.client.get("/write/", data)
        morsel = self.cookie(response)
        assert morsel is not None
        return morsel.value

    def sid_of(self, token: str) -> str:
        verified = signing.unsign(token, tuple(get_store_secrets()))
        assert verified is not None
        return verified.sid

    def records(self) -> dict[str, Record]:
        return get_store().all()


def get_store_secrets() -> list[str]:
    from django_xsession.conf import get_options

    return list(get_options().secrets)


@override_settings(XSESSION=COUNTING)
class CookieTests(MiddlewareTestCase):
    def test_cookie_carries_only_a_signed_random_id(self) -> None:
        response = self.client.get("/write/", {"secret": "do-not-leak"})
        morsel = self.cookie(response)
        assert morsel is not None
        sid, _, signature = morsel.value.rpartition(".")
        assert len(sid) == 22  # 16 random bytes, URL-safe base64: 128 bits
        assert len(signature) == 16  # HMAC-SHA256's first 12 bytes
        assert "do-not-leak" not in morsel.value
        assert self.sid_of(morsel.value) == sid
        assert list(self.records()) == [Store.digest(sid)]
        assert sid not in self.records()

    def test_ids_are_unique(self) -> None:
        tokens = set()
        for _ in range(50):
            self.client.cookies.clear()
            tokens.add(self.start(a="1"))
        assert len(tokens) == 50

    def test_session_survives_requests(self) -> None:
        self.start(a="1")
        response = self.client.get("/read/")
        assert response.json() == {"a": "1"}

    def assert_fresh_without_lookup(self, value: str) -> None:
        self.set_cookie(value)
        CountingMemoryStore.calls.clear()
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/read/")
        assert response.status_code == 200
        assert response.json() == {}
        assert CountingMemoryStore.calls["get"] == 0

    def test_unsigned_cookie_is_ignored_without_lookup(self) -> None:
        token = self.start(a="1")
        self.assert_fresh_without_lookup(self.sid_of(token))

    def test_tampered_cookie_is_ignored_without_lookup(self) -> None:
        token = self.start(a="1")
        sid, _, signature = token.rpartition(".")
        # Another last character: the same one would leave the token valid.
        other = "B" if sid.endswith("A") else "A"
        self.assert_fresh_without_lookup(f"{sid[:-1]}{other}.{signature}")
        self.assert_fresh_without_lookup(f"{sid}.{signature[:-2]}")

    def test_cookie_of_an_unknown_secret_is_ignored(self) -> None:
        self.start(a="1")
        self.assert_fresh_without_lookup(signing.sign(signing.new_id(), ("other",)))

    def test_garbage_cookie_is_ignored(self) -> None:
        self.assert_fresh_without_lookup("\x00garbage;;==")
        self.assert_fresh_without_lookup("é" * 100)

    def test_garbage_cookie_is_cleared_by_a_failing_view_that_wrote(self) -> None:
        self.set_cookie("garbage-garbage")
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/fail/")
        assert response.status_code == 500
        assert cleared(response)
        assert self.records() == {}

    def test_garbage_cookie_is_cleared(self) -> None:
        self.set_cookie("garbage-garbage")
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/nothing/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == ""
        assert morsel["max-age"] == 0

    def test_a_token_whose_session_is_gone_is_not_cleared(self) -> None:
        # It may be one a concurrent login has just replaced: clearing it
        # would wipe the new cookie in the browser, logging the user out.
        token = self.start(a="1")
        get_store().destroy(self.sid_of(token))

        response = self.client.get("/read/")

        assert response.json() == {}
        assert self.cookie(response) is None

    def test_a_dead_token_gets_no_uninitialized_session_either(self) -> None:
        token = self.start(a="1")
        get_store().destroy(self.sid_of(token))

        with self.settings(XSESSION={**COUNTING, "SAVE_UNINITIALIZED": True}):
            response = self.client.get("/read/")
            assert self.cookie(response) is None
            assert self.records() == {}
            self.client.cookies.clear()
            response = self.client.get("/read/")
            assert self.cookie(response) is not None

    def test_unknown_signed_id_gets_a_new_random_id(self) -> None:
        chosen = signing.sign("attacker-chosen-id", tuple(get_store_secrets()))
        self.set_cookie(chosen)
        response = self.client.get("/write/", {"a": "1"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value != chosen
        assert self.sid_of(morsel.value) != "attacker-chosen-id"
        assert Store.digest("attacker-chosen-id") not in self.records()

    def test_cookie_signed_by_an_older_secret_is_resigned(self) -> None:
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            token = self.start(a="1")
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new", "old"]}):
            response = self.client.get("/read/")
            assert response.json() == {"a": "1"}
            morsel = self.cookie(response)
            assert morsel is not None
            assert morsel.value == signing.sign(self.sid_of(token), ("new",))
            assert CountingMemoryStore.calls["set"] == 1  # only the first save

    def test_the_public_flags_tell_new_stored_and_old_secret_apart(self) -> None:
        flags = self.client.get("/session-flags/").json()
        assert flags == {
            "is_new": True,
            "is_stored": False,
            "signed_by_old_secret": False,
        }
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            self.start(a="1")
            flags = self.client.get("/session-flags/").json()
            assert flags == {
                "is_new": False,
                "is_stored": True,
                "signed_by_old_secret": False,
            }
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new", "old"]}):
            flags = self.client.get("/session-flags/").json()
        assert flags == {
            "is_new": False,
            "is_stored": True,
            "signed_by_old_secret": True,
        }

    def test_a_resigned_cookie_expires_with_the_stored_session(self) -> None:
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            token = self.start(a="1")
            sid = self.sid_of(token)
        in_an_hour = timezone.now() + datetime.timedelta(hours=1)
        assert get_store().touch(sid, in_an_hour)

        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new", "old"]}):
            response = self.client.get("/read/")

        morsel = self.cookie(response)
        assert morsel is not None
        assert 3590 <= morsel["max-age"] <= 3600

    def test_a_rolling_touch_sends_the_full_lifetime(self) -> None:
        token = self.start(a="1")
        in_an_hour = timezone.now() + datetime.timedelta(hours=1)
        assert get_store().touch(self.sid_of(token), in_an_hour)

        with self.settings(XSESSION={**COUNTING, "ROLLING": True}):
            response = self.client.get("/read/")

        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == settings.SESSION_COOKIE_AGE

    def test_old_signature_is_resigned_even_if_the_view_ignores_the_session(
        self,
    ) -> None:
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            token = self.start(a="1")
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new", "old"]}):
            morsel = self.cookie(self.client.get("/nothing/"))
            assert morsel is not None
            assert morsel.value == signing.sign(self.sid_of(token), ("new",))

    def test_a_session_its_view_deleted_is_not_resigned_and_resent(self) -> None:
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            self.start(a="1")
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new", "old"]}):
            response = self.client.get("/read-then-delete/")
        assert response.status_code == 200
        assert self.cookie(response) is None
        assert self.records() == {}

    def test_a_removed_secret_no_longer_verifies(self) -> None:
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["old"]}):
            self.start(a="1")
            assert self.client.get("/read/").json() == {"a": "1"}
        with self.settings(XSESSION={**COUNTING, "SECRETS": ["new"]}):
            CountingMemoryStore.calls.clear()
            with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
                assert self.client.get("/read/").json() == {}
            assert CountingMemoryStore.calls["get"] == 0

    def test_first_cookie_that_verifies_and_exists_wins(self) -> None:
        token = self.start(a="1")
        self.client.cookies.clear()
        unknown = signing.sign(signing.new_id(), tuple(get_store_secrets()))
        header = f"{NAME}=garbage-value; {NAME}={unknown}; {NAME}={token}"
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/read/", headers={"cookie": header})
        assert response.json() == {"a": "1"}

    def test_junk_cookies_ahead_of_the_session_cookie_do_not_log_out(self) -> None:
        # Cookie tossing from a sibling subdomain: more junk than the
        # lookup limit, set ahead of the real cookie.
        token = self.start(a="1")
        self.client.cookies.clear()
        junk = [f"{NAME}=junk{index}" for index in range(MAX_COOKIE_CANDIDATES + 4)]
        header = "; ".join([*junk, f"{NAME}={token}"])

        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/read/", headers={"cookie": header})

        assert response.json() == {"a": "1"}
        assert self.cookie(response) is None
        assert CountingMemoryStore.calls["get"] == 1

    def test_verified_tokens_beyond_the_limit_are_not_looked_up(self) -> None:
        token = self.start(a="1")
        self.client.cookies.clear()
        secrets = tuple(get_store_secrets())
        unknown = [
            f"{NAME}={signing.sign(signing.new_id(), secrets)}"
            for _ in range(MAX_COOKIE_CANDIDATES)
        ]
        header = "; ".join([*unknown, f"{NAME}={token}"])

        response = self.client.get("/read/", headers={"cookie": header})

        assert response.json() == {}
        assert CountingMemoryStore.calls["get"] == MAX_COOKIE_CANDIDATES

    def test_first_valid_cookie_is_preferred_over_later_ones(self) -> None:
        first = self.start(a="first")
        self.client.cookies.clear()
        second = self.start(a="second")
        self.client.cookies.clear()
        header = f"{NAME}={second}; {NAME}={first}"
        response = self.client.get("/read/", headers={"cookie": header})
        assert response.json() == {"a": "second"}

    def test_persistent_cookie_sends_expires_and_max_age(self) -> None:
        response = self.client.get("/write/", {"a": "1"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == settings.SESSION_COOKIE_AGE
        assert morsel["expires"]
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/"

    @override_settings(XSESSION={**COUNTING, "MAX_AGE": None})
    def test_browser_session_cookie_has_no_expiry(self) -> None:
        morsel = self.cookie(self.client.get("/write/", {"a": "1"}))
        assert morsel is not None
        assert morsel["max-age"] == ""
        assert morsel["expires"] == ""

    @override_settings(XSESSION={**COUNTING, "COOKIE": {"HTTPONLY": False}})
    def test_httponly_false_sends_a_cookie_scripts_can_read(self) -> None:
        morsel = self.cookie(self.client.get("/write/", {"a": "1"}))
        assert morsel is not None
        assert morsel.value
        assert morsel["httponly"] == ""


@override_settings(XSESSION=COUNTING)
class DestroyTests(MiddlewareTestCase):
    def test_destroy_deletes_and_clears_cookie(self) -> None:
        self.start(a="1")
        response = self.client.get("/destroy/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == ""
        assert morsel["max-age"] == 0
        assert morsel["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
        assert self.records() == {}
        assert "Cookie" in response["Vary"]

    @override_settings(
        XSESSION={
            **COUNTING,
            "COOKIE": {
                "PATH": "/",
                "DOMAIN": "example.com",
                "SECURE": True,
                "SAMESITE": "None",
                "PARTITIONED": True,
            },
        }
    )
    def test_clearing_cookie_repeats_the_configured_attributes(self) -> None:
        response = self.client.get("/write/", {"a": "1"}, secure=True)
        issued = response.headers.get("Set-Cookie") or str(response.cookies[NAME])
        response = self.client.get("/destroy/", secure=True)
        cleared = response.cookies[NAME].output(header="")
        for attribute in ("Domain=example.com", "Path=/", "Secure", "SameSite=None"):
            assert attribute in cleared
        assert "Partitioned" in cleared
        assert "Partitioned" in issued

    @override_settings(XSESSION={**COUNTING, "SAVE_UNINITIALIZED": True})
    def test_destroy_under_save_uninitialized_stores_no_new_session(self) -> None:
        self.start(a="1")
        response = self.client.get("/destroy/")
        assert cleared(response)
        assert self.records() == {}

    @override_settings(XSESSION={**COUNTING, "UNSET": "destroy"})
    def test_unset_destroy_removes_the_stored_session(self) -> None:
        self.start(a="1")
        response = self.client.get("/unset/")
        assert self.records() == {}
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == ""

    def test_unset_keep_leaves_the_stored_session(self) -> None:
        self.start(a="1")
        response = self.client.get("/unset/")
        assert len(self.records()) == 1
        assert self.cookie(response) is None
        assert self.client.get("/read/").json() == {"a": "1"}

    def test_unset_keep_drops_the_changes_made_before_the_unset(self) -> None:
        # As express-session: the request's changes go with request.session.
        self.start(a="1")
        response = self.client.get("/unset/", {"a": "changed", "b": "2"})
        assert self.cookie(response) is None
        assert self.client.get("/read/").json() == {"a": "1"}


class PathTests(MiddlewareTestCase):
    def test_rfc6265_path_matching(self) -> None:
        assert path_matches("/foo", "/foo")
        assert path_matches("/foo/x", "/foo")
        assert path_matches("/foo/x", "/foo/")
        assert path_matches("/anything", "/")
        assert not path_matches("/foobar", "/foo")
        assert not path_matches("/Foo/x", "/foo")
        assert not path_matches("/fo", "/foo")

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"PATH": "/scoped"}})
    def test_cookie_path_scopes_the_middleware(self) -> None:
        inside = self.client.get("/scoped/inside/", {"a": "1"})
        morsel = self.cookie(inside)
        assert morsel is not None
        assert morsel["path"] == "/scoped"
        self.client.cookies.clear()
        outside = self.client.get("/scopedother/", {"a": "1"})
        assert self.cookie(outside) is None
        assert len(self.records()) == 1

    def test_a_percent_encoded_cookie_path_scopes_the_middleware(self) -> None:
        # Each URL as browsers send it, and match the PATH against it: they
        # encode "é", not "=".
        for cookie_path, url in (
            ("/caf%C3%A9/", "/caf%C3%A9/inside/"),
            ("/a=b/", "/a=b/inside/"),
        ):
            self.client.cookies.clear()
            with self.settings(XSESSION={**MEMORY, "COOKIE": {"PATH": cookie_path}}):
                inside = self.client.get(url, {"a": "1"})
                morsel = self.cookie(inside)
                assert morsel is not None, cookie_path
                assert morsel["path"] == cookie_path
                again = self.client.get(url, {"b": "2"})
            assert again.json() == {"a": "1", "b": "2"}


class CookieParsingTests(SimpleTestCase):
    def test_every_value_in_order(self) -> None:
        header = 'a=1; sessionid=first; b=2;sessionid="second"; sessionid=th%69rd'
        assert cookie_values(header, NAME) == ["first", "second", "third"]

    def test_no_value(self) -> None:
        assert cookie_values("", NAME) == []
        assert cookie_values("sessionid", NAME) == []
        assert cookie_values("xsessionid=1", NAME) == []


@override_settings(XSESSION=COUNTING)
class SaveDecisionTests(MiddlewareTestCase):
    def test_new_unmodified_session_is_neither_stored_nor_sent(self) -> None:
        response = self.client.get("/read/")
        assert self.cookie(response) is None
        assert self.records() == {}
        assert CountingMemoryStore.calls["set"] == 0

    @override_settings(XSESSION={**COUNTING, "SAVE_UNINITIALIZED": True})
    def test_save_uninitialized_stores_and_sends_a_new_session(self) -> None:
        response = self.client.get("/nothing/")
        assert self.cookie(response) is not None
        assert len(self.records()) == 1

    @override_settings(XSESSION={**COUNTING, "SAVE_UNINITIALIZED": True})
    def test_save_uninitialized_stores_nothing_on_a_server_error(self) -> None:
        response = self.client.get("/empty-and-fail/", {"by": "clear"})
        assert response.status_code == 500
        assert self.cookie(response) is None
        assert self.records() == {}

    @override_settings(XSESSION={**COUNTING, "COOKIE": {"SECURE": True}})
    def test_undeliverable_new_session_is_not_stored(self) -> None:
        with self.assertLogs("django_xsession", "WARNING") as logs:
            response = self.client.get(
                "/write/", {"a": "1"}, headers={"host": "example.com"}
            )
        assert "SECURE_PROXY_SSL_HEADER" in logs.output[0]
        assert self.cookie(response) is None
        assert self.records() == {}
        secure = self.client.get("/write/", {"a": "1"}, secure=True)
        morsel = self.cookie(secure)
        assert morsel is not None
        assert morsel["secure"] is True
        assert len(self.records()) == 1

    def test_loaded_unmodified_session_writes_nothing(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        response = self.client.get("/read/")
        assert self.cookie(response) is None
        assert CountingMemoryStore.calls == {"get": 1}
        assert response["Vary"] == "Cookie"

    def test_untouched_session_costs_no_store_call(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        response = self.client.get("/nothing/")
        assert CountingMemoryStore.calls == {}
        assert not response.has_header("Vary")

    @override_settings(XSESSION={**COUNTING, "RESAVE": True})
    def test_resave_writes_an_unmodified_session(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        self.client.get("/nothing/")
        assert CountingMemoryStore.calls["set"] == 1
        assert CountingMemoryStore.calls["touch"] == 0

    @override_settings(XSESSION={**MEMORY, "RESAVE": True})
    def test_resave_never_writes_stale_data_back(self) -> None:
        token = self.start(a="1")
        # Another request saves a key after this one has loaded the session.
        elsewhere = SessionStore(token)

        def read_then_race(request: HttpRequest) -> HttpResponse:
            value = request.session.get("a")
            elsewhere["b"] = "2"
            elsewhere.save()
            return HttpResponse(value)

        request = RequestFactory().get("/", HTTP_COOKIE=f"{NAME}={token}")
        SessionMiddleware(read_then_race)(request)

        assert SessionStore(token).load() == {"a": "1", "b": "2"}

    @override_settings(XSESSION={**COUNTING, "ROLLING": True})
    def test_rolling_touches_and_resends_with_a_fresh_expiry(self) -> None:
        token = self.start(a="1")
        (before,) = self.records().values()
        CountingMemoryStore.calls.clear()
        response = self.client.get("/nothing/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == token
        assert morsel["max-age"] == settings.SESSION_COOKIE_AGE
        # The view never read the session, but the response carries a cookie.
        assert response["Vary"] == "Cookie"
        assert CountingMemoryStore.calls["set"] == 0
        assert CountingMemoryStore.calls["touch"] == 1
        (after,) = self.records().values()
        assert after.expires >= before.expires
        assert after.data == {"a": "1"}

    def test_modified_persistent_session_resends_cookie(self) -> None:
        token = self.start(a="1")
        response = self.client.get("/write/", {"a": "2"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == token
        assert self.client.get("/read/").json() == {"a": "2"}

    @override_settings(XSESSION={**COUNTING, "MAX_AGE": None})
    def test_modified_browser_session_is_saved_without_resending(self) -> None:
        self.start(a="1")
        response = self.client.get("/write/", {"a": "2"})
        assert self.cookie(response) is None
        assert self.client.get("/read/").json() == {"a": "2"}

    def test_remember_me_on_a_loaded_session_resends_cookie(self) -> None:
        self.start(a="1")
        response = self.client.get("/remember/", {"seconds": "86400"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == 86400
        (record,) = self.records().values()
        remaining = record.expires - timezone.now()
        assert 86000 < remaining.total_seconds() <= 86400

    def test_nothing_is_saved_on_a_server_error(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        response = self.client.get("/fail/")
        assert response.status_code == 500
        assert CountingMemoryStore.calls["set"] == 0
        assert self.cookie(response) is None
        assert self.client.get("/read/").json() == {"a": "1"}

    def test_nested_mutation_is_saved(self) -> None:
        self.start(a="1")
        response = self.client.get("/nest/")
        assert response.status_code == 200
        assert self.client.get("/read/").json()["nested"] == {"items": [1, 2]}

    def test_explicit_save_is_not_repeated(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        self.client.get("/save/")
        assert CountingMemoryStore.calls["set"] == 1

    def test_explicit_save_is_not_repeated_under_resave(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        with self.settings(XSESSION={**COUNTING, "RESAVE": True}):
            self.client.get("/save/")
        assert CountingMemoryStore.calls["set"] == 1

    def test_explicit_touch_is_not_repeated_under_rolling(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        with self.settings(XSESSION={**COUNTING, "ROLLING": True, "TOUCH_AFTER": 0}):
            response = self.client.get("/touch/")
        assert response.json() == {"touched": True}
        assert CountingMemoryStore.calls["touch"] == 1
        assert self.cookie(response) is not None

    def test_changes_dropped_by_reload_are_not_written(self) -> None:
        self.start(a="1")
        CountingMemoryStore.calls.clear()
        response = self.client.get("/reload/", {"a": "changed"})
        assert response.json() == {"a": "1"}
        assert CountingMemoryStore.calls["set"] == 0
        [record] = self.records().values()
        assert record.data == {"a": "1"}

    def test_session_deleted_meanwhile_gives_400(self) -> None:
        token = self.start(a="1")
        response = self.client.get("/write-after-delete/", {"token": token})
        assert response.status_code == 400
        assert self.records() == {}

    def test_a_session_object_put_on_the_request_is_the_one_saved(self) -> None:
        token = self.start(a="1")
        self.client.cookies.clear()
        response = self.client.get("/adopt/", {"token": token})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == token
        self.set_cookie(token)
        assert self.client.get("/read/").json() == {"a": "1", "adopted": True}

    def test_a_nested_value_changed_to_an_equal_one_of_another_type_is_saved(
        self,
    ) -> None:
        self.client.get("/retype-preferences/")
        self.client.get("/retype-preferences/", {"retype": "1"})
        (record,) = self.records().values()
        stored = record.data["prefs"]
        assert [type(stored[key]) for key in ("flag", "zoom", "offset")] == [
            bool,
            float,
            float,
        ]
        assert str(stored["offset"]) == "-0.0"

    def test_vary_cookie_when_read_or_set(self) -> None:
        response = self.client.get("/write/", {"a": "1"})
        assert response["Vary"] == "Cookie"
        response = self.client.get("/read/")
        assert response["Vary"] == "Cookie"


@override_settings(XSESSION=COUNTING)
class EndedMeanwhileTests(MiddlewareTestCase):
    """A concurrent request (a logout, a login's new id) deletes the session
    while this one runs; this one changed nothing of its own."""

    def serve(self, token: str, then: Callable[[HttpRequest], object]) -> HttpResponse:
        def view(request: HttpRequest) -> HttpResponse:
            request.session.get("a")
            get_store().destroy(self.sid_of(token))
            then(request)
            return HttpResponse("served")

        request = RequestFactory().get("/read/", HTTP_COOKIE=f"{NAME}={token}")
        response = SessionMiddleware(view)(request)
        assert isinstance(response, HttpResponse)
        return response

    def test_rolling_or_resave_sends_back_no_dead_token_and_no_400(self) -> None:
        for option in ("ROLLING", "RESAVE"):
            with self.subTest(option):
                token = self.start(a="1")
                with self.settings(XSESSION={**COUNTING, option: True}):
                    response = self.serve(token, lambda request: None)

                assert response.status_code == 200
                assert self.cookie(response) is None
                assert self.records() == {}

    async def test_rolling_or_resave_sends_back_no_dead_token_under_asgi(
        self,
    ) -> None:
        for option in ("ROLLING", "RESAVE"):
            with self.subTest(option):
                token = await sync_to_async(self.start)(a="1")

                async def view(request: HttpRequest, gone: str = token) -> HttpResponse:
                    await request.session.aget("a")
                    await get_store().adestroy(self.sid_of(gone))
                    return HttpResponse("served")

                request = RequestFactory().get("/read/", HTTP_COOKIE=f"{NAME}={token}")
                with self.settings(XSESSION={**COUNTING, option: True}):
                    response = await SessionMiddleware(view)(request)  # type: ignore[misc]

                assert response.status_code == 200
                assert self.cookie(response) is None

    def test_a_change_of_its_own_is_still_interrupted(self) -> None:
        token = self.start(a="1")

        def change(request: HttpRequest) -> None:
            request.session["b"] = "2"

        with (
            self.settings(XSESSION={**COUNTING, "RESAVE": True}),
            self.assertRaises(SessionInterrupted),
        ):
            self.serve(token, change)

        assert self.records() == {}


class Point:
    """A value pickle stores that, lacking ``__eq__``, equals no copy of itself."""

    def __init__(self, x: int) -> None:
        self.x = x


def stored(**data: Any) -> str:
    """Save a new session holding ``data``; return its cookie token."""
    session = SessionStore()
    session.update(data)
    session.save()
    token = session.session_key
    assert token is not None
    return token


def read_during_a_change(token: str, key: str, value: Any) -> HttpResponse:
    """Serve a request with ``token`` that only reads its session, while a
    concurrent one with the same cookie sets ``key`` to ``value``."""

    def view(request: HttpRequest) -> HttpResponse:
        request.session.get(key)
        elsewhere = SessionStore(token)
        elsewhere[key] = value
        elsewhere.save()
        return HttpResponse("read")

    request = RequestFactory().get("/", HTTP_COOKIE=f"{NAME}={token}")
    response = SessionMiddleware(view)(request)
    assert isinstance(response, HttpResponse)
    return response


@override_settings(XSESSION=COUNTING)
class ChangeCheckTests(MiddlewareTestCase):
    """Values that differ from their own decoded copy, yet are written alike."""

    def serve(
        self, token: str, view: Callable[[HttpRequest], object], status: int = 200
    ) -> HttpResponse:
        def respond(request: HttpRequest) -> HttpResponse:
            view(request)
            return HttpResponse("served", status=status)

        CountingMemoryStore.calls.clear()
        request = RequestFactory().get("/", HTTP_COOKIE=f"{NAME}={token}")
        response = SessionMiddleware(respond)(request)
        assert isinstance(response, HttpResponse)
        return response

    def test_a_read_keeps_a_concurrent_change_to_a_value_unequal_to_its_copy(
        self,
    ) -> None:
        by_json = "django.contrib.sessions.serializers.JSONSerializer"
        cases: list[tuple[str, Any]] = [
            (by_json, [math.nan]),
            (by_json, {"x": math.nan}),
            ("tests.store_contract.PickleSerializer", Point(1)),
        ]
        for serializer, value in cases:
            with (
                self.subTest(serializer=serializer, value=value),
                self.settings(SESSION_SERIALIZER=serializer),
            ):
                token = stored(bad=value, other={"a": 1})
                CountingMemoryStore.calls.clear()

                response = read_during_a_change(token, "bad", [1])

                assert SessionStore(token).load() == {"bad": [1], "other": {"a": 1}}
                assert CountingMemoryStore.calls["set"] == 1  # the concurrent one
                assert self.cookie(response) is None

    def test_a_value_saved_by_the_view_as_another_type_is_not_saved_again(
        self,
    ) -> None:
        token = stored(a="1")

        def save_a_tuple(request: HttpRequest) -> None:
            request.session["pair"] = (1, 2)
            request.session.save()

        self.serve(token, save_a_tuple)

        assert CountingMemoryStore.calls == {"get": 1, "set": 1}
        assert SessionStore(token).load() == {"a": "1", "pair": [1, 2]}

    def test_a_server_error_after_storing_what_cannot_be_serialized_saves_nothing(
        self,
    ) -> None:
        token = stored(other={"a": 1})

        def put_an_object_in_place(request: HttpRequest) -> None:
            request.session["other"]["a"] = object()

        response = self.serve(token, put_an_object_in_place, status=500)

        assert response.status_code == 500
        assert self.cookie(response) is None
        assert SessionStore(token).load() == {"other": {"a": 1}}

    def test_setting_modified_or_a_key_to_its_value_still_saves(self) -> None:
        def set_modified(request: HttpRequest) -> None:
            request.session.modified = True

        def assign_its_value(request: HttpRequest) -> None:
            request.session["bad"] = request.session["bad"]

        for view in (set_modified, assign_its_value):
            with self.subTest(view.__name__):
                token = stored(bad=[math.nan])

                response = self.serve(token, view)

                assert CountingMemoryStore.calls["set"] == 1
                assert self.cookie(response) is not None


@override_settings(XSESSION=MEMORY)
class ViewCallTests(MiddlewareTestCase):
    """The session's own calls, made by a view before or instead of reading it."""

    def stored_age(self) -> float:
        (record,) = self.records().values()
        return (record.expires - timezone.now()).total_seconds()

    def test_an_explicit_save_still_resends_the_cookie_with_its_new_age(self) -> None:
        self.start(a="1")
        response = self.client.get("/save-remembering/", {"seconds": "2592000"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == 2592000
        assert 2591000 < self.stored_age() <= 2592000

    @override_settings(XSESSION={**MEMORY, "MAX_AGE": None})
    def test_an_explicit_save_makes_a_browser_session_persistent(self) -> None:
        self.start(a="1")
        response = self.client.get("/save-remembering/", {"seconds": "86400"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == 86400

    def test_forgetting_a_persistent_session_sends_a_browser_session_cookie(
        self,
    ) -> None:
        self.start(a="1")
        response = self.client.get("/forget/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["max-age"] == ""
        assert morsel["expires"] == ""

    def test_a_cookie_attribute_set_before_reading_is_stored_and_sent(self) -> None:
        self.start(a="1")
        response = self.client.get("/cookie-attributes/", {"samesite": "Strict"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel["samesite"] == "Strict"
        (record,) = self.records().values()
        assert dict(record.cookie) == {"samesite": "Strict"}
        assert record.data == {"a": "1"}

    def test_a_cookie_attribute_read_before_the_data_is_the_stored_one(self) -> None:
        self.start(a="1")
        self.client.get("/cookie-attributes/", {"samesite": "Strict"})
        response = self.client.get("/cookie-attributes/", {"samesite": ""})
        assert response.json() == {"samesite": "Strict"}
        # Nothing changed: nothing to send.
        assert self.cookie(response) is None

    def test_touch_before_reading_touches_the_stored_session(self) -> None:
        self.start(a="1")
        response = self.client.get("/touch/")
        assert response.json() == {"touched": True}
        assert self.cookie(response) is not None

    async def test_atouch_before_reading_touches_the_stored_session(self) -> None:
        response = await self.async_client.get("/async-write/", {"a": "1"})
        self.async_client.cookies[NAME] = response.cookies[NAME].value
        response = await self.async_client.get("/async/touch/")
        assert response.json() == {"touched": True}
        assert response.cookies.get(NAME) is not None

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"DOMAIN": None}})
    def test_destroy_before_reading_clears_the_cookie_it_issued(self) -> None:
        self.start(a="1")
        self.client.get("/cookie-attributes/", {"domain": "example.com"})
        response = self.client.get("/destroy/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == ""
        assert morsel["domain"] == "example.com"
        assert self.records() == {}

    def test_a_session_deleted_by_its_own_view_is_not_saved_back(self) -> None:
        self.start(a="1")
        response = self.client.get("/write-then-delete/")
        # As Django answers: the session it would save has gone.
        assert response.status_code == 400
        assert self.records() == {}

    def test_the_id_of_an_unknown_signed_cookie_is_never_the_clients(self) -> None:
        planted = "attacker-chosen-id-0123456789"
        self.set_cookie(signing.sign(planted, tuple(get_store_secrets())))
        response = self.client.get("/session-id/")
        assert response.json()["id"] != planted

    def test_reading_the_id_still_clears_a_garbage_cookie(self) -> None:
        self.set_cookie("garbage-garbage")
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/session-id/")
        assert cleared(response)
        assert self.records() == {}

    async def test_aid_still_clears_a_garbage_cookie(self) -> None:
        self.async_client.cookies[NAME] = "garbage-garbage"
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = await self.async_client.get("/async/id/")
        assert cleared(response)

    def test_reading_the_id_after_destroy_still_clears_the_cookie(self) -> None:
        self.start(a="1")
        response = self.client.get("/destroy-then-id/")
        assert cleared(response)
        assert self.records() == {}

    def test_a_failing_view_clears_the_cookie_of_the_session_it_ended(
        self,
    ) -> None:
        self.start(a="1")
        response = self.client.get("/destroy-write-and-fail/")
        assert response.status_code == 500
        assert cleared(response)
        assert self.records() == {}

    @override_settings(XSESSION={**MEMORY, "IDLE_TIMEOUT": 60})
    def test_reading_the_id_past_the_idle_timeout_still_clears_the_cookie(
        self,
    ) -> None:
        self.start(a="1")
        later = timezone.now() + datetime.timedelta(seconds=61)
        with mock.patch("django.utils.timezone.now", return_value=later):
            response = self.client.get("/session-id/")
        assert cleared(response)
        assert self.records() == {}

    def test_reading_the_id_of_a_token_whose_session_is_gone_sends_nothing(
        self,
    ) -> None:
        # As for a read: a concurrent login may have just replaced it, and
        # no cookie, clearing or SAVE_UNINITIALIZED's new one, may answer.
        for save_uninitialized in (False, True):
            options = {**MEMORY, "SAVE_UNINITIALIZED": save_uninitialized}
            with self.subTest(save_uninitialized), self.settings(XSESSION=options):
                token = self.start(a="1")
                get_store().destroy(self.sid_of(token))
                response = self.client.get("/session-id/")
                assert self.cookie(response) is None
                assert self.records() == {}

    def test_a_token_with_junk_after_its_signature_is_not_accepted(self) -> None:
        token = self.start(a="1")
        for junk in ("==", "$$$", "%3D%3D"):
            self.set_cookie(token + junk)
            with self.subTest(junk=junk), self.assertLogs(level="WARNING"):
                assert self.client.get("/read/").json() == {}

    def test_a_token_is_only_the_one_encoding_of_its_signature(self) -> None:
        # The 16 characters carry the truncated HMAC bit for bit: a padded,
        # longer or shorter signature, or the whole HMAC, is no token of it.
        token = self.start(a="1")
        sid, _, signature = token.rpartition(".")
        full = base64.urlsafe_b64encode(
            hmac.new(
                hmac.new(
                    get_store_secrets()[0].encode(), signing.SALT, hashlib.sha256
                ).digest(),
                sid.encode(),
                hashlib.sha256,
            ).digest()
        )
        assert full.decode().startswith(signature)
        for variant in (
            f"{token}=",
            f"{token}A",
            token[:-1],
            f"{sid}.{full.decode().rstrip('=')}",
        ):
            self.set_cookie(variant)
            with self.subTest(variant=variant), self.assertLogs(level="WARNING"):
                assert self.client.get("/read/").json() == {}
        self.set_cookie(token)
        assert self.client.get("/read/").json() == {"a": "1"}

    def test_delete_before_reading_leaves_nothing_to_read(self) -> None:
        token = self.start(a="1")
        session = SessionStore(token)
        session.delete()
        assert session.get("a") is None
        assert self.records() == {}

    async def test_adelete_test_cookie_is_saved(self) -> None:
        response = await self.async_client.get("/set-test-cookie/")
        self.async_client.cookies[NAME] = response.cookies[NAME].value
        await self.async_client.get("/async/delete-test-cookie/")
        response = await self.async_client.get("/read/")
        assert response.json() == {}

    @override_settings(
        XSESSION={**MEMORY, "EXPIRES": datetime.datetime(2100, 1, 1, 12, 0)}
    )
    def test_a_naive_expires_setting_works_under_use_tz(self) -> None:
        response = self.client.get("/write/", {"a": "1"})
        assert response.status_code == 200
        morsel = self.cookie(response)
        assert morsel is not None
        # Read in TIME_ZONE (UTC here); Max-Age counts whole seconds to it.
        assert morsel["expires"] in (
            "Fri, 01 Jan 2100 11:59:59 GMT",
            "Fri, 01 Jan 2100 12:00:00 GMT",
        )

    @override_settings(XSESSION={**MEMORY, "IDLE_TIMEOUT": 3600})
    def test_no_vary_when_only_the_middleware_read_the_session(self) -> None:
        self.start(a="1")
        response = self.client.get("/nothing/")
        assert "Vary" not in response
        assert self.cookie(response) is None


class ViewWriteTests(MiddlewareTestCase):
    """A view's own save(), create() and ending of the session, and what the
    middleware adds to them: on the memory store here, on the database
    store in the subclass."""

    store_setting: ClassVar[str] = "tests.stores.CountingMemoryStore"

    def setUp(self) -> None:
        self.configure()
        super().setUp()

    def configure(self, **options: Any) -> None:
        """Use these options, and the class's store, for the rest of the test."""
        overridden = self.settings(XSESSION={"STORE": self.store_setting, **options})
        overridden.enable()
        self.addCleanup(overridden.disable)

    async def astart(self) -> str:
        """``start(a="1")`` through the async client."""
        response = await self.async_client.get("/async-write/", {"a": "1"})
        token = response.cookies[NAME].value
        self.async_client.cookies[NAME] = token
        return token

    def assert_resent_after_one_save(
        self, response: HttpResponseBase, token: str, max_age: int | None
    ) -> None:
        # The view's save moved the expiry: no touch follows it, yet ROLLING
        # re-sends the cookie, a browser-session one included.
        assert CountingCalls.calls == {"get": 1, "set": 1}
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value == token
        assert morsel["max-age"] == ("" if max_age is None else max_age)

    def test_a_views_save_is_not_touched_again_under_rolling(self) -> None:
        for max_age in (settings.SESSION_COOKIE_AGE, None):
            with self.subTest(max_age=max_age):
                self.configure(ROLLING=True, MAX_AGE=max_age)
                self.client.cookies.clear()
                token = self.start(a="1")
                CountingCalls.calls.clear()
                response = self.client.get("/save/")
                self.assert_resent_after_one_save(response, token, max_age)
                record = get_store().get(self.sid_of(token))
                assert record is not None
                assert record.data == {"a": "1", "saved": True}

    async def test_a_views_asave_is_not_touched_again_under_rolling(self) -> None:
        for max_age in (settings.SESSION_COOKIE_AGE, None):
            with self.subTest(max_age=max_age):
                self.configure(ROLLING=True, MAX_AGE=max_age)
                self.async_client.cookies.clear()
                token = await self.astart()
                CountingCalls.calls.clear()
                response = await self.async_client.get("/async/save/")
                self.assert_resent_after_one_save(response, token, max_age)
                record = await get_store().aget(self.sid_of(token))
                assert record is not None
                assert record.data == {"a": "1", "saved": True}

    def assert_stored_once_and_sent(self, response: HttpResponseBase) -> str:
        """The new session's token, which the view's save or create was the
        request's one write of."""
        assert CountingCalls.calls == {"set": 1}
        # Django's create() sets modified, and a new session's save creates it.
        assert isinstance(response, HttpResponse)
        assert json.loads(response.content) == {"modified": True}
        morsel = self.cookie(response)
        assert morsel is not None
        return morsel.value

    def test_a_views_save_or_create_of_a_new_session_is_its_only_write(self) -> None:
        for path, options in (
            ("/save-only/", {}),
            ("/save-only/", {"SAVE_UNINITIALIZED": True}),
            ("/create/", {}),
        ):
            with self.subTest(path, **options):
                self.configure(**options)
                self.client.cookies.clear()
                CountingCalls.calls.clear()
                token = self.assert_stored_once_and_sent(self.client.get(path))
                record = get_store().get(self.sid_of(token))
                assert record is not None
                assert record.data == {}

    async def test_a_views_asave_or_acreate_of_a_new_session_is_its_only_write(
        self,
    ) -> None:
        for path, data in (("/async/save/", {"saved": True}), ("/async/create/", {})):
            with self.subTest(path):
                self.async_client.cookies.clear()
                CountingCalls.calls.clear()
                response = await self.async_client.get(path)
                token = self.assert_stored_once_and_sent(response)
                record = await get_store().aget(self.sid_of(token))
                assert record is not None
                assert record.data == data

    def test_a_session_ended_then_unset_still_loses_its_cookie(self) -> None:
        # Whatever UNSET says, the session is gone: its cookie must go too.
        for unset, end, to in itertools.product(
            ("destroy", "keep"), ("flush", "destroy", "logout"), ("del", "none")
        ):
            with self.subTest(unset=unset, end=end, to=to):
                self.configure(UNSET=unset)
                self.client.cookies.clear()
                token = self.start(a="1")
                query = {"end": end, "to": to}
                response = self.client.get("/end-then-unset/", query)
                assert cleared(response)
                assert get_store().get(self.sid_of(token)) is None

    async def test_a_session_adestroyed_then_unset_still_loses_its_cookie(
        self,
    ) -> None:
        for unset, to in itertools.product(("destroy", "keep"), ("del", "none")):
            with self.subTest(unset=unset, to=to):
                self.configure(UNSET=unset)
                self.async_client.cookies.clear()
                token = await self.astart()
                response = await self.async_client.get(
                    "/async/destroy-then-unset/", {"to": to}
                )
                assert cleared(response)
                assert await get_store().aget(self.sid_of(token)) is None


class DatabaseViewWriteTests(ViewWriteTests, TestCase):
    store_setting = "tests.stores.CountingDatabaseStore"


@override_settings(XSESSION=COUNTING)
class RegenerateTests(MiddlewareTestCase):
    def test_regenerate_keeping_data(self) -> None:
        token = self.start(a="1")
        CountingMemoryStore.calls.clear()
        response = self.client.get("/regenerate/", {"keep": "1"})
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value != token
        assert response.json() == {"a": "1"}
        assert list(self.records()) == [Store.digest(self.sid_of(morsel.value))]
        assert CountingMemoryStore.calls["set"] == 1

    def test_regenerate_dropping_data_still_sends_a_cookie(self) -> None:
        token = self.start(a="1")
        response = self.client.get("/regenerate/")
        morsel = self.cookie(response)
        assert morsel is not None
        assert morsel.value != token
        assert self.client.get("/read/").json() == {}
        assert len(self.records()) == 1


class SecureTests(MiddlewareTestCase):
    def secure_cookie(self, **headers: str) -> Morsel[str] | None:
        """The cookie a new session gets on plain HTTP to a public host."""
        headers = {"host": "example.com", **headers}
        response = self.client.get("/write/", {"a": "1"}, headers=headers)
        return self.cookie(response)

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"SECURE": True}}, DEBUG=True)
    def test_a_secure_cookie_goes_to_local_hosts_over_http_under_debug(
        self,
    ) -> None:
        local = ("testserver", "localhost:8000", "app.localhost", "127.0.0.2:8000")
        for host in (*local, "[::1]:8000", "LocalHost"):
            with self.subTest(host=host):
                self.client.cookies.clear()
                cookie = self.secure_cookie(host=host)
                assert cookie is not None
                assert cookie["secure"] is True
        public = ("example.com", "localhost.example.com", "127.0.0.1.nip.io")
        for host in (*public, "[2001:db8::1]:8000", "10.0.0.1"):
            with self.subTest(host=host), self.assertLogs("django_xsession"):
                self.client.cookies.clear()
                assert self.secure_cookie(host=host) is None

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"SECURE": True}})
    def test_a_live_server_test_on_localhost_gets_its_secure_cookie(self) -> None:
        # Django's test runner turns DEBUG off; a browser drives localhost.
        cookie = self.secure_cookie(host="localhost:8000")
        assert cookie is not None
        assert cookie["secure"] is True

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"SECURE": True}})
    def test_in_production_only_the_test_clients_host_is_trusted(self) -> None:
        # Outside Django's test environment, which gives mail an outbox.
        outbox = mail.outbox
        del mail.outbox
        self.addCleanup(setattr, mail, "outbox", outbox)
        cookie = self.secure_cookie(host="testserver")
        assert cookie is not None
        # A proxy that passes no Host on makes every request look local.
        for host in ("localhost:8000", "127.0.0.1"):
            with self.subTest(host=host), self.assertLogs("django_xsession"):
                self.client.cookies.clear()
                assert self.secure_cookie(host=host) is None

    @override_settings(ALLOWED_HOSTS=["example.com"], DEBUG=True)
    def test_a_local_host_django_refuses_is_not_trusted(self) -> None:
        request = RequestFactory().get("/", headers={"host": "localhost"})
        assert not trusted_over_http(request)
        with override_settings(ALLOWED_HOSTS=["localhost"]):
            assert trusted_over_http(request)

    @override_settings(XSESSION={**MEMORY, "PROXY": True, "COOKIE": {"SECURE": True}})
    def test_proxy_true_trusts_x_forwarded_proto(self) -> None:
        assert self.secure_cookie(x_forwarded_proto="https, http") is not None
        self.client.cookies.clear()
        assert self.secure_cookie(x_forwarded_proto="http") is None

    @override_settings(XSESSION={**MEMORY, "PROXY": False, "COOKIE": {"SECURE": True}})
    def test_proxy_false_ignores_x_forwarded_proto(self) -> None:
        assert self.secure_cookie(x_forwarded_proto="https") is None

    @override_settings(
        XSESSION={**MEMORY, "COOKIE": {"SECURE": True}},
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    )
    def test_proxy_none_follows_django(self) -> None:
        assert self.secure_cookie(x_forwarded_proto="https") is not None

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"SECURE": "auto"}})
    def test_auto_secure_over_plain_http_to_a_public_host_stores_and_sends(
        self,
    ) -> None:
        cookie = self.secure_cookie()
        assert cookie is not None
        assert cookie.value
        assert cookie["secure"] == ""
        assert len(self.records()) == 1

    @override_settings(
        XSESSION={**MEMORY, "COOKIE": {"SECURE": "auto", "SAMESITE": "auto"}}
    )
    def test_auto_attributes_follow_the_request(self) -> None:
        plain = self.cookie(self.client.get("/write/", {"a": "1"}))
        assert plain is not None
        assert plain["secure"] == ""
        assert plain["samesite"] == "Lax"
        self.client.cookies.clear()
        secure = self.cookie(self.client.get("/write/", {"a": "1"}, secure=True))
        assert secure is not None
        assert secure["secure"] is True
        assert secure["samesite"] == "None"

    @override_settings(
        XSESSION={**MEMORY, "COOKIE": {"SECURE": "auto", "SAMESITE": "auto"}}
    )
    def test_auto_attributes_are_not_frozen_when_the_session_is_created(
        self,
    ) -> None:
        plain = self.cookie(self.client.get("/write/", {"a": "1"}))
        assert plain is not None
        assert plain["secure"] == ""

        secure = self.cookie(self.client.get("/write/", {"b": "2"}, secure=True))

        assert secure is not None
        assert secure.value == plain.value  # the same session
        assert secure["secure"] is True
        assert secure["samesite"] == "None"

    @override_settings(XSESSION={**MEMORY, "COOKIE": {"SAMESITE": "auto"}})
    def test_auto_samesite_is_none_only_on_a_secure_cookie(self) -> None:
        # SECURE stays False: browsers reject SameSite=None without Secure.
        cookie = self.cookie(self.client.get("/write/", {"a": "1"}, secure=True))
        assert cookie is not None
        assert cookie["secure"] == ""
        assert cookie["samesite"] == "Lax"

    @override_settings(
        XSESSION={**MEMORY, "SAVE_UNINITIALIZED": True, "COOKIE": {"SECURE": True}}
    )
    def test_the_warning_shows_the_path_escaped(self) -> None:
        # Any path, even one no URL matches, where every session is saved.
        with self.assertLogs("django_xsession", "WARNING") as logs:
            self.client.get(
                "/nowhere%0Aforged%20line/", headers={"host": "example.com"}
            )
        (message,) = logs.records
        assert "\n" not in message.getMessage()

    @override_settings(
        XSESSION={
            **MEMORY,
            "COOKIE": {
                "SECURE": True,
                "PARTITIONED": True,
                "PRIORITY": "high",
                "DOMAIN": "example.com",
            },
        }
    )
    def test_partitioned_and_priority_are_emitted(self) -> None:
        response = self.client.get("/write/", {"a": "1"}, secure=True)
        header = response.cookies[NAME].output(header="Set-Cookie:")
        assert "; Partitioned" in header
        assert "; Priority=High" in header
        assert "Domain=example.com" in header


def fixed_id(request: object) -> str:
    return "fixed-id-for-tests-" + signing.new_id()[:8]


_repeated: list[str] = []


def an_id_taken_once(request: object) -> str:
    """The same id twice, then fresh ones."""
    if len(_repeated) < 2:
        _repeated.append("taken-id-" + "x" * 24)
        return _repeated[-1]
    return signing.new_id()


_made_id: list[object] = []


def the_id_made(request: object) -> object:
    """Whatever the test put in ``_made_id``."""
    return _made_id[-1]


class GenIdTests(MiddlewareTestCase):
    @override_settings(
        XSESSION={**MEMORY, "GENID": "tests.test_middleware.the_id_made"}
    )
    def test_an_id_no_cookie_could_carry_is_refused(self) -> None:
        # A trailing newline, say from an id read off a file, was taken: its
        # cookie never verified, and every request made a new session.
        for bad in ("7-chars", "a" * 257, "with space", "from-a-file\n", 12345678):
            _made_id.append(bad)
            with (
                self.subTest(bad=bad),
                self.assertRaisesMessage(
                    ImproperlyConfigured, "must return 8 to 256 URL-safe characters"
                ),
            ):
                self.client.get("/write/", {"a": "1"})
        _made_id.append("eight-ok")
        assert self.client.get("/write/", {"a": "1"}).status_code == 200
        assert self.sid_of(self.client.cookies[NAME].value) == "eight-ok"

    @override_settings(XSESSION={**MEMORY, "GENID": "tests.test_middleware.fixed_id"})
    def test_genid_makes_new_ids(self) -> None:
        token = self.start(a="1")
        assert self.sid_of(token).startswith("fixed-id-for-tests-")

    @override_settings(
        XSESSION={**MEMORY, "GENID": "tests.test_middleware.an_id_taken_once"}
    )
    def test_a_taken_id_fails_the_create_and_is_retried(self) -> None:
        _repeated.clear()
        first = self.start(a="1")
        self.client.cookies.clear()

        second = self.start(b="2")

        assert self.sid_of(first) == "taken-id-" + "x" * 24
        assert self.sid_of(second) != self.sid_of(first)
        assert SessionStore(first).load() == {"a": "1"}
        assert SessionStore(second).load() == {"b": "2"}


class AsyncTests(MiddlewareTestCase):
    async def test_async_view_under_asgi(self) -> None:
        response = await self.async_client.get("/async-write/", {"a": "1"})
        assert response.status_code == 200
        morsel = response.cookies.get(NAME)
        assert morsel is not None
        self.async_client.cookies[NAME] = morsel.value
        response = await self.async_client.get("/async-write/", {"b": "2"})
        assert response.json() == {"a": "1", "b": "2"}


@override_settings(XSESSION=MEMORY)
class ReferenceTests(MiddlewareTestCase):
    def test_a_served_request_is_freed_without_the_garbage_collector(self) -> None:
        # request.session.request points back at the request: were that a
        # strong reference, every request would wait for the cycle collector.
        token = self.start(a="1")

        def view(request: HttpRequest) -> HttpResponse:
            assert request.session.request is request  # type: ignore[attr-defined]
            return HttpResponse(request.session.get("a"))

        request = RequestFactory().get("/read/", HTTP_COOKIE=f"{NAME}={token}")
        gc.disable()
        try:
            response = SessionMiddleware(view)(request)
            assert isinstance(response, HttpResponse)
            assert response.content == b"1"
            served = weakref.ref(request)
            del request
            assert served() is None
        finally:
            gc.enable()


@override_settings(XSESSION=MEMORY)
class ResponseHeaderTests(MiddlewareTestCase):
    def test_vary_keeps_what_the_view_set(self) -> None:
        token = self.start(a="1")

        def view(request: HttpRequest) -> HttpResponse:
            response = HttpResponse(request.session.get("a"))
            response["Vary"] = "Accept-Language"
            return response

        request = RequestFactory().get("/read/", HTTP_COOKIE=f"{NAME}={token}")
        response = SessionMiddleware(view)(request)

        assert isinstance(response, HttpResponse)
        assert response["Vary"] == "Accept-Language, Cookie"

    def test_a_session_emptied_of_data_is_saved_and_keeps_its_cookie(self) -> None:
        # Django's test_empty_session_saved, which reads contrib.sessions'
        # own table, against our store.
        token = self.start(a="1")

        def view(request: HttpRequest) -> HttpResponse:
            del request.session["a"]
            return HttpResponse("emptied")

        request = RequestFactory().get("/read/", HTTP_COOKIE=f"{NAME}={token}")
        response = SessionMiddleware(view)(request)

        assert isinstance(response, HttpResponse)
        [record] = self.records().values()
        assert record.data == {}
        morsel = self.cookie(response)
        assert morsel is not None and morsel.value == token
        assert response["Vary"] == "Cookie"

    def test_the_cookie_expires_when_djangos_set_cookie_says(self) -> None:
        for now in (1_800_000_000.0, 1_800_000_000.999):
            with self.subTest(now=now), mock.patch("time.time", return_value=now):
                self.client.cookies.clear()
                ours = self.cookie(self.client.get("/write/", {"a": "1"}))
                django = HttpResponse()
                django.set_cookie(NAME, "x", max_age=settings.SESSION_COOKIE_AGE)

            assert ours is not None
            assert ours["expires"] == django.cookies[NAME]["expires"]
            assert ours["max-age"] == settings.SESSION_COOKIE_AGE


class MemoryBoundTests(SimpleTestCase):
    """What the process remembers between requests stays bounded."""

    def test_the_expires_dates_remembered_stay_at_most_64(self) -> None:
        with mock.patch("time.time", return_value=1_800_000_000.0):
            for max_age in range(200):
                assert expires_after(max_age) == http_date(1_800_000_000 + max_age)
                assert len(_expires_dates) <= 64

    def test_the_verified_tokens_remembered_stay_at_most_ten_thousand(self) -> None:
        secrets = tuple(get_store_secrets())
        for _ in range(signing._VERIFIED_MAX + 50):
            sid = signing.new_id()
            verified = signing.unsign(signing.sign(sid, secrets), secrets)
            assert verified is not None and verified.sid == sid
        assert 0 < len(signing._verified) <= signing._VERIFIED_MAX


class AdminCheckTests(SimpleTestCase):
    def test_admin_accepts_our_middleware(self) -> None:
        from django.core.checks import run_checks

        # databases=[]: the static checks only; Django 6.1 would otherwise
        # connect to every database alias.
        ids = {message.id for message in run_checks(databases=[])}
        assert "admin.E410" not in ids
        with self.modify_settings(
            MIDDLEWARE={"remove": "django_xsession.middleware.SessionMiddleware"}
        ):
            assert "admin.E410" in {message.id for message in run_checks(databases=[])}

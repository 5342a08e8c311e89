"""TRANSPORT: the signed token in a request/response header, a cookie, or both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.http import HttpResponseBase
from django.test import TestCase, override_settings

from django_xsession import signing
from django_xsession.conf import get_options
from django_xsession.stores import get_store
from django_xsession.stores.base import Store
from tests.stores import CountingMemoryStore

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

NAME = "sessionid"
HEADER = "X-Session-Token"
STORE = "tests.stores.CountingMemoryStore"
ALICE = {"username": "alice", "password": "secret"}
SUSPICIOUS = "django.security.SuspiciousSession"


def vary(response: HttpResponseBase) -> set[str]:
    """The header names in ``response``'s ``Vary``, lower-cased."""
    return {name.strip().lower() for name in response.get("Vary", "").split(",")} - {""}


def sid_of(token: str) -> str:
    verified = signing.unsign(token, get_options().secrets)
    assert verified is not None
    return verified.sid


class TransportTestCase(TestCase):
    alice: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)

    def setUp(self) -> None:
        get_store().clear()
        self.addCleanup(get_store().clear)
        CountingMemoryStore.calls.clear()

    def get(
        self, path: str, token: str | None = None, header: str = HEADER, **query: str
    ) -> Response:
        """GET ``path`` carrying ``token`` in ``header``, and nothing else."""
        self.client.cookies.clear()
        headers = {} if token is None else {header: token}
        return self.client.get(path, query, headers=headers)

    def stored(self, token: str) -> bool:
        return get_store().get(sid_of(token)) is not None


@override_settings(XSESSION={"STORE": STORE, "TRANSPORT": "header"})
class HeaderTransportTests(TransportTestCase):
    def start(self, **data: str) -> str:
        response = self.get("/write/", **data)
        token = response[HEADER]
        assert token
        return str(token)

    def test_a_new_session_is_sent_in_the_header_and_no_cookie(self) -> None:
        response = self.get("/write/", cart="apples")

        token = response[HEADER]
        assert token
        assert response.cookies == {}
        assert "Set-Cookie" not in response
        assert list(get_store().all()) == [Store.digest(sid_of(token))]

    def test_sending_the_header_back_keeps_the_session(self) -> None:
        token = self.start(cart="apples")

        response = self.get("/read/", token)

        assert response.json() == {"cart": "apples"}
        assert response.cookies == {}
        # Unchanged, not rolling: nothing to send again, as with the cookie.
        assert HEADER not in response
        assert self.get("/increment/", token).json() == {"count": 1}
        assert self.get("/read/", token).json() == {"cart": "apples", "count": 1}

    def test_a_shared_cache_never_hands_one_clients_token_to_another(self) -> None:
        site_cache = [
            "django.middleware.cache.UpdateCacheMiddleware",
            *settings.MIDDLEWARE,
            "django.middleware.cache.FetchFromCacheMiddleware",
        ]
        caches["default"].clear()
        self.addCleanup(caches["default"].clear)
        with self.settings(MIDDLEWARE=site_cache, CACHE_MIDDLEWARE_SECONDS=60):
            alice = self.get("/write/", cart="alice")
            # Bob sends no token, as Alice did not: the same cache key.
            bob = self.get("/write/", cart="alice")

        assert alice[HEADER]
        assert "private" in alice["Cache-Control"]
        assert bob[HEADER] != alice[HEADER]
        assert self.get("/read/", alice[HEADER]).json() == {"cart": "alice"}

    @override_settings(
        XSESSION={"STORE": STORE, "TRANSPORT": "header", "COOKIE": {"SECURE": True}}
    )
    def test_a_secure_session_is_neither_stored_nor_sent_over_plain_http(
        self,
    ) -> None:
        with self.assertLogs("django_xsession", "WARNING"):
            response = self.client.get(
                "/write/", {"cart": "apples"}, headers={"host": "example.com"}
            )
        assert HEADER not in response
        assert get_store().all() == {}
        response = self.client.get("/write/", {"cart": "apples"}, secure=True)
        assert response[HEADER]

    def test_without_the_header_there_is_no_session(self) -> None:
        token = self.start(cart="apples")

        assert self.get("/read/").json() == {}
        # A cookie carrying the token is no transport here.
        self.client.cookies[NAME] = token
        assert self.client.get("/read/").json() == {}

    def assert_fresh_without_lookup(self, value: str) -> None:
        CountingMemoryStore.calls.clear()
        with self.assertLogs(SUSPICIOUS, "WARNING"):
            response = self.get("/write/", value, fresh="1")

        assert response.json() == {"fresh": "1"}
        assert CountingMemoryStore.calls["get"] == 0
        token = response[HEADER]
        assert token not in ("", value)
        assert self.get("/read/", token).json() == {"fresh": "1"}

    def test_an_unsigned_header_gets_a_fresh_session_without_lookup(self) -> None:
        token = self.start(cart="apples")

        self.assert_fresh_without_lookup(sid_of(token))

    def test_a_tampered_header_gets_a_fresh_session_without_lookup(self) -> None:
        token = self.start(cart="apples")
        sid, _, signature = token.rpartition(".")

        self.assert_fresh_without_lookup(f"{sid}.{signature[:-2]}AA")
        self.assert_fresh_without_lookup(signing.sign(sid, ("another secret",)))
        self.assert_fresh_without_lookup("garbage")

    def test_destroy_answers_with_an_empty_header(self) -> None:
        token = self.start(cart="apples")

        response = self.get("/destroy/", token)

        assert HEADER in response
        assert response[HEADER] == ""
        assert response.cookies == {}
        assert not self.stored(token)
        assert self.get("/read/", token).json() == {}

    def test_reading_the_id_still_empties_a_garbage_header(self) -> None:
        with self.assertLogs(SUSPICIOUS, "WARNING"):
            response = self.get("/session-id/", "garbage")

        assert response[HEADER] == ""

    def test_a_token_whose_session_is_gone_gets_no_header(self) -> None:
        # It may be one a concurrent login just replaced in the client.
        token = self.start(cart="apples")
        get_store().destroy(sid_of(token))

        response = self.get("/read/", token)

        assert response.json() == {}
        assert HEADER not in response

    def test_logout_answers_with_an_empty_header(self) -> None:
        token = str(self.get("/login/", **ALICE)[HEADER])
        assert self.get("/whoami/", token).content == b"alice"

        response = self.get("/logout/", token)

        assert response[HEADER] == ""
        assert self.get("/whoami/", token).content == b""

    def test_login_answers_with_the_new_token(self) -> None:
        anonymous = self.start(cart="apples")

        response = self.get("/login/", anonymous, **ALICE)

        token = response[HEADER]
        assert token not in ("", anonymous)
        assert not self.stored(anonymous)
        assert self.get("/whoami/", token).content == b"alice"
        assert self.get("/read/", token).json()["cart"] == "apples"

    def test_vary_names_the_header_not_the_cookie(self) -> None:
        token = self.start(cart="apples")

        for response in (
            self.get("/write/", cart="pears"),
            self.get("/read/", token),
            self.get("/destroy/", token),
        ):
            assert HEADER.lower() in vary(response)
            assert "cookie" not in vary(response)

    def test_rolling_sends_the_header_on_every_response(self) -> None:
        with self.settings(
            XSESSION={"STORE": STORE, "TRANSPORT": "header", "ROLLING": True}
        ):
            token = self.start(cart="apples")

            response = self.get("/read/", token)

        assert response[HEADER] == token
        assert response.cookies == {}

    async def test_the_header_works_under_asgi(self) -> None:
        response = await self.async_client.get("/async-write/", {"cart": "apples"})
        token = response[HEADER]
        assert token

        response = await self.async_client.get("/async/count/", headers={HEADER: token})

        assert response.json() == {"count": 1}
        assert response.cookies == {}
        assert self.async_client.cookies == {}


CUSTOM = "X-Auth-Session"


@override_settings(XSESSION={"STORE": STORE, "TRANSPORT": "header", "HEADER": CUSTOM})
class CustomHeaderTests(TransportTestCase):
    def test_the_configured_header_carries_the_token_both_ways(self) -> None:
        response = self.get("/write/", cart="apples")

        token = response[CUSTOM]
        assert token
        assert HEADER not in response
        assert CUSTOM.lower() in vary(response)
        assert self.get("/read/", token, header=CUSTOM).json() == {"cart": "apples"}
        assert self.get("/read/", token, header=HEADER).json() == {}
        assert self.get("/destroy/", token, header=CUSTOM)[CUSTOM] == ""


@override_settings(XSESSION={"STORE": STORE, "TRANSPORT": "both"})
class BothTransportsTests(TransportTestCase):
    def start(self, **data: str) -> str:
        response = self.get("/write/", **data)
        return response.cookies[NAME].value

    def test_a_new_session_is_sent_in_both(self) -> None:
        response = self.get("/write/", cart="apples")

        token = response.cookies[NAME].value
        assert token
        assert response[HEADER] == token
        assert {"cookie", HEADER.lower()} <= vary(response)

    def test_either_carries_the_session(self) -> None:
        token = self.start(cart="apples")

        assert self.get("/read/", token).json() == {"cart": "apples"}
        self.client.cookies[NAME] = token
        assert self.client.get("/read/").json() == {"cart": "apples"}

    def test_the_header_wins_when_both_are_sent(self) -> None:
        by_cookie = self.start(owner="cookie")
        by_header = self.start(owner="header")

        self.client.cookies[NAME] = by_cookie
        response = self.client.get("/read/", headers={HEADER: by_header})

        assert response.json() == {"owner": "header"}

    def test_a_bad_header_falls_back_to_the_cookie(self) -> None:
        token = self.start(owner="cookie")

        self.client.cookies[NAME] = token
        with self.assertLogs(SUSPICIOUS, "WARNING"):
            response = self.client.get("/read/", headers={HEADER: "garbage"})

        assert response.json() == {"owner": "cookie"}

    def test_destroy_clears_the_cookie_and_empties_the_header(self) -> None:
        token = self.start(cart="apples")

        self.client.cookies[NAME] = token
        response = self.client.get("/destroy/", headers={HEADER: token})

        assert response[HEADER] == ""
        morsel = response.cookies[NAME]
        assert morsel.value == ""
        assert morsel["max-age"] == 0

    def test_a_request_with_the_cookie_alone_gets_no_token_in_a_header(
        self,
    ) -> None:
        # Page scripts can read a response header, never an HttpOnly cookie:
        # one cross-site script would otherwise carry the token away.
        token = self.start(cart="apples")
        self.client.cookies[NAME] = token

        with self.settings(
            XSESSION={"STORE": STORE, "TRANSPORT": "both", "ROLLING": True}
        ):
            rolled = self.client.get("/read/")
        login = self.client.get("/login/", ALICE)
        logout = self.client.get("/logout/")

        for response in (rolled, login, logout):
            assert HEADER not in response
            assert NAME in response.cookies
        assert login.cookies[NAME].value not in ("", token)
        assert logout.cookies[NAME].value == ""
        assert {"cookie", HEADER.lower()} <= vary(login)

    def test_a_header_of_a_scripts_own_never_draws_the_cookies_token(self) -> None:
        # A script sends any header it likes, the browser adds the cookie.
        token = self.start(cart="apples")
        dead = self.start(cart="pears")
        get_store().destroy(sid_of(dead))
        other = self.start(cart="plums")
        self.client.cookies[NAME] = token

        for header in ("garbage", dead, other):
            with self.subTest(header=header):
                login = self.client.get("/login/", ALICE, headers={HEADER: header})
                # Rotated, or re-sent: alice was logged in already.
                new = login.cookies[NAME].value
                assert new
                if header == other:
                    # The session its header loaded: the answer is its own.
                    assert login[HEADER] == new
                else:
                    assert HEADER not in login
                self.client.cookies[NAME] = new

    def test_a_request_with_the_header_gets_its_answer_in_the_header(self) -> None:
        token = self.start(cart="apples")

        login = self.get("/login/", token, **ALICE)

        assert login[HEADER] not in ("", token)
        assert login[HEADER] == login.cookies[NAME].value


@override_settings(XSESSION={"STORE": STORE})
class CookieTransportTests(TransportTestCase):
    def test_the_header_is_ignored_and_never_sent(self) -> None:
        response = self.get("/write/", cart="apples")
        token = response.cookies[NAME].value
        assert HEADER not in response
        assert HEADER.lower() not in vary(response)

        CountingMemoryStore.calls.clear()
        response = self.get("/read/", token)

        assert response.json() == {}
        assert CountingMemoryStore.calls["get"] == 0
        assert HEADER not in response
        self.client.cookies[NAME] = token
        assert self.client.get("/read/").json() == {"cart": "apples"}

    def test_explicitly_cookie_is_the_default(self) -> None:
        with self.settings(XSESSION={"STORE": STORE, "TRANSPORT": "cookie"}):
            response = self.get("/write/", cart="apples")

        assert response.cookies[NAME].value
        assert HEADER not in response

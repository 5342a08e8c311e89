"""Moving from django.contrib.sessions with XSESSION["LEGACY_CONTRIB"]."""

from __future__ import annotations

from typing import Any
from unittest import mock

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as ContribDBSession
from django.contrib.sessions.models import Session as ContribSession
from django.test import TestCase, override_settings

from django_xsession.stores import get_store
from django_xsession.stores.base import StoreUnavailable

CONTRIB_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
XSESSION_MIDDLEWARE = [
    "django_xsession.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
MEMORY: dict[str, Any] = {"STORE": "memory"}
DB_ENGINE = "django.contrib.sessions.backends.db"
SIGNED_COOKIES_ENGINE = "django.contrib.sessions.backends.signed_cookies"
# 2,013 bytes when serialized: over a MAX_SIZE of 1,024.
OVERSIZED_DATA = {"wizard": "x" * 2000}


class LegacyContribTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        User.objects.create_user("alice", password="secret")

    def setUp(self) -> None:
        get_store().clear()

    def log_in_under_contrib(self, engine: str = DB_ENGINE) -> str:
        with self.settings(SESSION_ENGINE=engine, MIDDLEWARE=CONTRIB_MIDDLEWARE):
            assert self.client.login(username="alice", password="secret")
            self.client.get("/write/", {"cart": "3 apples"})
            assert self.client.get("/whoami/").content == b"alice"
        key = self.client.cookies["sessionid"].value
        if engine == DB_ENGINE:
            assert ContribSession.objects.filter(session_key=key).exists()
        # A client keeps the middleware it first loaded: the browser after the
        # deploy is a new client carrying the same cookie.
        self.client = self.client_class()
        self.client.cookies["sessionid"] = key
        return key

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_next_request_is_still_logged_in_with_the_same_data(self) -> None:
        old_key = self.log_in_under_contrib()
        response = self.client.get("/whoami/")
        assert response.content == b"alice"
        new_token = response.cookies["sessionid"].value
        assert new_token != old_key
        assert "." in new_token
        assert not ContribSession.objects.filter(session_key=old_key).exists()
        assert self.client.get("/read/").json()["cart"] == "3 apples"
        assert get_store().length() == 1

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={
            **MEMORY,
            "LEGACY_CONTRIB": True,
            "LEGACY_ENGINE": SIGNED_COOKIES_ENGINE,
        },
    )
    def test_a_signed_cookies_session_moves_too(self) -> None:
        old_cookie = self.log_in_under_contrib(SIGNED_COOKIES_ENGINE)
        response = self.client.get("/whoami/")
        assert response.content == b"alice"
        assert response.cookies["sessionid"].value != old_cookie
        assert self.client.get("/read/").json()["cart"] == "3 apples"
        assert get_store().length() == 1

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_a_failing_first_request_keeps_the_legacy_session(self) -> None:
        old_key = self.log_in_under_contrib()

        response = self.client.get("/fail/")

        assert response.status_code == 500
        assert "sessionid" not in response.cookies
        assert ContribSession.objects.filter(session_key=old_key).exists()
        assert self.client.get("/whoami/").content == b"alice"

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_a_first_request_that_empties_the_session_then_fails_changes_nothing(
        self,
    ) -> None:
        for by in ("regenerate", "clear"):
            with self.subTest(by=by):
                self.client = self.client_class()
                old_key = self.log_in_under_contrib()

                response = self.client.get("/empty-and-fail/", {"by": by})

                assert response.status_code == 500
                assert "sessionid" not in response.cookies
                assert ContribSession.objects.filter(session_key=old_key).exists()
                assert self.client.get("/whoami/").content == b"alice"

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={**MEMORY, "LEGACY_CONTRIB": True, "COOKIE": {"SECURE": True}},
    )
    def test_a_session_that_cannot_go_out_keeps_the_legacy_cookie(self) -> None:
        # Plain HTTP and a Secure cookie: the moved session cannot be sent.
        old_key = self.log_in_under_contrib()

        with self.assertLogs("django_xsession", "WARNING"):
            response = self.client.get("/whoami/", headers={"host": "example.com"})

        assert response.content == b"alice"
        assert "sessionid" not in response.cookies
        assert ContribSession.objects.filter(session_key=old_key).exists()

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={**MEMORY, "LEGACY_CONTRIB": True, "ON_STORE_ERROR": "degrade"},
    )
    def test_a_move_the_store_refuses_keeps_the_legacy_session(self) -> None:
        old_key = self.log_in_under_contrib()

        def refused(*args: Any, **kwargs: Any) -> None:
            raise StoreUnavailable("down for a moment")

        with (
            mock.patch.object(get_store(), "set", refused),
            self.assertLogs("django_xsession", "WARNING"),
        ):
            response = self.client.get("/whoami/")

        assert response.content == b"alice"
        assert "sessionid" not in response.cookies
        assert ContribSession.objects.filter(session_key=old_key).exists()
        # The store is back: the next request moves the session.
        assert self.client.get("/whoami/").content == b"alice"
        assert get_store().length() == 1

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_a_first_request_that_ends_the_session_then_fails_clears_the_cookie(
        self,
    ) -> None:
        old_key = self.log_in_under_contrib()

        response = self.client.get("/destroy-write-and-fail/")

        assert response.status_code == 500
        assert response.cookies["sessionid"].value == ""
        assert not ContribSession.objects.filter(session_key=old_key).exists()
        assert self.replay(old_key) == b""

    def replay(self, old_key: str) -> bytes:
        """Who another client holding a copy of the legacy cookie is."""
        replayer = self.client_class()
        replayer.cookies["sessionid"] = old_key
        # A key of an ended session, not a forgery: nothing to log.
        with self.assertNoLogs("django.security.SuspiciousSession"):
            return replayer.get("/whoami/").content

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_logging_out_on_the_first_request_ends_the_legacy_session(self) -> None:
        old_key = self.log_in_under_contrib()
        response = self.client.get("/logout/")
        assert response.cookies["sessionid"].value == ""
        assert not ContribSession.objects.filter(session_key=old_key).exists()
        assert self.replay(old_key) == b""

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={**MEMORY, "LEGACY_CONTRIB": True, "UNSET": "destroy"},
    )
    def test_unset_destroy_on_the_first_request_ends_the_legacy_session(self) -> None:
        old_key = self.log_in_under_contrib()
        response = self.client.get("/unset/")
        assert response.cookies["sessionid"].value == ""
        assert not ContribSession.objects.filter(session_key=old_key).exists()
        assert self.replay(old_key) == b""

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    async def test_async_destroy_on_the_first_request_ends_the_legacy_session(
        self,
    ) -> None:
        old_key = await self.async_log_in_under_contrib()
        self.async_client.cookies["sessionid"] = old_key
        response = await self.async_client.get("/async/destroy/")
        assert response.cookies["sessionid"].value == ""
        assert not await ContribSession.objects.filter(session_key=old_key).aexists()

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_a_stale_legacy_cookie_beside_one_of_ours_is_left_alone(self) -> None:
        # Left at another path or domain, say: the session is ours.
        old_key = self.log_in_under_contrib()
        ours = self.client_class().get("/write/", {"cart": "ours"})
        header = f"sessionid={ours.cookies['sessionid'].value}; sessionid={old_key}"
        self.client.cookies.clear()

        response = self.client.get("/read/", headers={"cookie": header})

        assert response.json() == {"cart": "ours"}
        assert "sessionid" not in response.cookies
        assert ContribSession.objects.filter(session_key=old_key).exists()

    @override_settings(MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION=MEMORY)
    def test_off_by_default(self) -> None:
        old_key = self.log_in_under_contrib()
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            assert self.client.get("/whoami/").content == b""
        assert ContribSession.objects.filter(session_key=old_key).exists()

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_an_unknown_legacy_key_gets_a_fresh_session(self) -> None:
        self.client.cookies["sessionid"] = "abcdefghijklmnopqrstuvwxyz012345"
        with self.assertNoLogs("django.security.SuspiciousSession"):
            response = self.client.get("/read/")
        assert response.json() == {}
        assert "sessionid" not in response.cookies
        assert get_store().length() == 0

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_a_request_in_flight_with_the_moved_key_keeps_the_new_cookie(
        self,
    ) -> None:
        old_key = self.log_in_under_contrib()
        assert self.client.get("/whoami/").content == b"alice"
        new_token = self.client.cookies["sessionid"].value

        # Sent with the old cookie before the first response arrived.
        late = self.client_class()
        late.cookies["sessionid"] = old_key
        response = late.get("/whoami/")

        assert response.content == b""
        assert "sessionid" not in response.cookies
        assert self.client.get("/whoami/").content == b"alice"
        assert self.client.cookies["sessionid"].value == new_token

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    def test_junk_beside_legacy_migration_is_still_logged_and_cleared(self) -> None:
        self.client.cookies["sessionid"] = "Not A Key!"
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/read/")
        assert response.cookies["sessionid"].value == ""

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE, XSESSION={**MEMORY, "LEGACY_CONTRIB": True}
    )
    async def test_async_requests_move_the_session_too(self) -> None:
        old_key = await self.async_log_in_under_contrib()
        self.async_client.cookies["sessionid"] = old_key
        response = await self.async_client.get("/async-write/", {"b": "2"})
        data = response.json()
        alice = await User.objects.aget(username="alice")
        assert (data["cart"], data["b"]) == ("3 apples", "2")
        assert data["_auth_user_id"] == str(alice.pk)
        assert not await ContribSession.objects.filter(session_key=old_key).aexists()

    async def async_log_in_under_contrib(self) -> str:
        return await sync_to_async(self.log_in_under_contrib)()

    def oversized_legacy_session(self) -> str:
        old = ContribDBSession()
        old.update(OVERSIZED_DATA)
        old.save()
        assert old.session_key is not None
        return old.session_key

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={**MEMORY, "LEGACY_CONTRIB": True, "MAX_SIZE": 1024},
    )
    def test_a_legacy_session_over_max_size_stays_and_the_request_gets_a_new_one(
        self,
    ) -> None:
        old_key = self.oversized_legacy_session()
        self.client.cookies["sessionid"] = old_key

        with self.assertLogs("django_xsession", "WARNING") as logs:
            response = self.client.get("/read/")

        assert response.status_code == 200
        assert response.json() == {}
        assert "sessionid" not in response.cookies
        assert "2,013 bytes" in logs.output[0]
        assert "XSESSION['MAX_SIZE'] of 1,024 bytes" in logs.output[0]
        # Its size is remembered: the old session is not read again.
        with self.assertNumQueries(0), self.assertNoLogs("django_xsession"):
            assert self.client.get("/read/").json() == {}
        response = self.client.get("/write/", {"cart": "new"})
        assert response.cookies["sessionid"].value != old_key
        assert get_store().length() == 1
        assert ContribDBSession(old_key).load() == OVERSIZED_DATA
        # Nothing was lost: with room for it, the old session moves.
        with self.settings(XSESSION={**MEMORY, "LEGACY_CONTRIB": True}):
            moving = self.client_class()
            moving.cookies["sessionid"] = old_key
            assert moving.get("/read/").json() == OVERSIZED_DATA
        assert not ContribSession.objects.filter(session_key=old_key).exists()

    @override_settings(
        MIDDLEWARE=XSESSION_MIDDLEWARE,
        XSESSION={**MEMORY, "LEGACY_CONTRIB": True, "MAX_SIZE": 1024},
    )
    async def test_async_a_legacy_session_over_max_size_stays(self) -> None:
        old_key = await sync_to_async(self.oversized_legacy_session)()
        self.async_client.cookies["sessionid"] = old_key

        with self.assertLogs("django_xsession", "WARNING"):
            response = await self.async_client.get("/async-write/")

        assert response.status_code == 200
        assert response.json() == {}
        assert "sessionid" not in response.cookies
        # load(), not aload(): Django 4.2 has no async session API.
        assert await sync_to_async(ContribDBSession(old_key).load)() == OVERSIZED_DATA

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from unittest import mock

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import AsyncClient, Client, TestCase, override_settings

from django_xsession.stores import get_store
from django_xsession.stores.base import Store
from tests.test_middleware import NAME


class AuthTests(TestCase):
    user: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = User.objects.create_user("alice", password="secret")

    def setUp(self) -> None:
        get_store().clear()

    def token(self) -> str:
        return self.client.cookies[NAME].value

    def test_login_rotates_the_id_and_keeps_the_data(self) -> None:
        self.client.get("/write/", {"cart": "3 apples"})
        before = self.token()
        response = self.client.get(
            "/login/", {"username": "alice", "password": "secret"}
        )
        assert response.cookies[NAME].value != before
        assert self.client.get("/whoami/").content == b"alice"
        assert self.client.get("/read/").json()["cart"] == "3 apples"
        (record,) = get_store().all().values()
        assert record.data["_auth_user_id"] == str(self.user.pk)
        old_sid = before.rpartition(".")[0]
        assert Store.digest(old_sid) not in get_store().all()

    @override_settings(SESSION_COOKIE_SECURE=True)
    def test_a_test_suite_with_secure_cookies_logs_in_over_http(self) -> None:
        # Production settings imported by the tests: the client speaks HTTP.
        self.client.get("/login/", {"username": "alice", "password": "secret"})
        self.client.get("/write/", {"cart": "3 apples"})

        assert self.client.cookies[NAME]["secure"] is True
        assert self.client.get("/whoami/").content == b"alice"
        assert self.client.get("/read/").json()["cart"] == "3 apples"

    def test_logout_destroys_the_session_and_clears_the_cookie(self) -> None:
        self.client.get("/login/", {"username": "alice", "password": "secret"})
        response = self.client.get("/logout/")
        assert response.cookies[NAME].value == ""
        assert response.cookies[NAME]["max-age"] == 0
        assert get_store().length() == 0
        assert self.client.get("/whoami/").content == b""

    def test_client_login_and_logout(self) -> None:
        assert self.client.login(username="alice", password="secret")
        assert self.client.get("/whoami/").content == b"alice"
        self.client.logout()
        assert self.client.get("/whoami/").content == b""
        assert get_store().length() == 0

    def test_client_force_login(self) -> None:
        self.client.force_login(self.user)
        assert self.client.get("/whoami/").content == b"alice"

    def test_client_session_read_modify_save(self) -> None:
        session = self.client.session
        session["colour"] = "blue"
        session.save()
        assert self.client.get("/read/").json() == {"colour": "blue"}
        self.client.get("/write/", {"size": "L"})
        assert self.client.session["size"] == "L"


@override_settings(XSESSION={"STORE": "db"})
class AtomicRequestsTests(TestCase):
    """``ATOMIC_REQUESTS`` on the sessions' database: a view that raises
    takes its writes back, the session's deletes among them."""

    def setUp(self) -> None:
        User.objects.create_user("alice", password="secret")
        self.client = Client(raise_request_exception=False)
        self.client.get("/login/", {"username": "alice", "password": "secret"})
        # Another holder of the token: a stolen copy, a second tab.
        self.copy = Client()
        self.copy.cookies = SimpleCookie(self.client.cookies)

    def atomic_requests(self) -> Any:
        return mock.patch.dict(connection.settings_dict, {"ATOMIC_REQUESTS": True})

    def test_a_logout_whose_view_raises_still_ends_the_session(self) -> None:
        with self.atomic_requests():
            response = self.client.get("/logout-and-raise/")

        assert response.status_code == 500
        assert response.cookies[NAME].value == ""
        assert self.copy.get("/whoami/").content == b""

    def test_a_rotation_whose_view_raises_leaves_no_session(self) -> None:
        with self.atomic_requests():
            response = self.client.get("/rotate-and-raise/")

        assert response.status_code == 500
        assert self.copy.get("/whoami/").content == b""
        assert get_store().all() == {}

    async def test_an_async_views_logout_rolled_back_still_ends_the_session(
        self,
    ) -> None:
        # Async views cannot have ATOMIC_REQUESTS: the view rolls back itself.
        client = AsyncClient()
        client.cookies = SimpleCookie(self.client.cookies)

        response = await client.get("/async/logout-rolled-back/")

        assert response.status_code == 500
        assert response.cookies[NAME].value == ""
        copy = AsyncClient()
        copy.cookies = SimpleCookie(self.copy.cookies)
        assert (await copy.get("/whoami/")).content == b""


@override_settings(
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "xsession_test_cache",
        },
    },
    XSESSION={"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "database"}}},
)
class DatabaseCacheAtomicRequestsTests(AtomicRequestsTests):
    """The cache store on Django's DatabaseCache, whose deletes run on the
    view's connection and roll back with ATOMIC_REQUESTS as the db store's."""

    def setUp(self) -> None:
        call_command("createcachetable", "xsession_test_cache", verbosity=0)
        super().setUp()

    def test_a_rotation_whose_view_raises_leaves_no_session(self) -> None:
        # A cache cannot list its sessions: the other token is the witness.
        with self.atomic_requests():
            response = self.client.get("/rotate-and-raise/")

        assert response.status_code == 500
        assert self.copy.get("/whoami/").content == b""

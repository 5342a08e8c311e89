"""What Django builds on sessions keeps working, unchanged, on every store.

``django.contrib.auth`` (sync and async), ``django.contrib.messages``'
session storage, ``CSRF_USE_SESSIONS``, the test clients' session helpers,
and views under both WSGI and ASGI. The behaviour is written once, in
:class:`DjangoFeatures`; each store gets a two-line subclass at the end.
"""

from __future__ import annotations

import re
import secrets
from importlib import import_module
from typing import TYPE_CHECKING, ClassVar
from unittest import skipUnless

import django
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import AsyncClient, Client, TestCase, override_settings

from django_xsession import signing
from django_xsession.conf import get_options
from django_xsession.engine import SessionStore
from django_xsession.stores import get_store
from tests.services import REDIS, missing, reachable

if TYPE_CHECKING:
    _TestCase = TestCase
else:
    _TestCase = object

NAME = "sessionid"
ALICE = {"username": "alice", "password": "secret"}
BOB = {"username": "bob", "password": "hunter2"}
SESSION_MESSAGES = override_settings(
    MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage"
)
CSRF_IN_SESSION = override_settings(CSRF_USE_SESSIONS=True)
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Django 5.0 added alogin, alogout, aupdate_session_auth_hash, request.auser
# and AsyncClient.alogin, aforce_login, alogout and asession.
async_auth = skipUnless(
    django.VERSION >= (5, 0),
    "Django's async auth API (alogin, alogout, aupdate_session_auth_hash, "
    "AsyncClient.alogin/aforce_login/alogout/asession) needs Django 5.0",
)


def orm_genid(request: HttpRequest | None) -> str:
    """A GENID that asks the database, as a per-tenant prefix would."""
    return f"users{User.objects.count()}-{secrets.token_urlsafe(24)}"


def stored(token: str) -> bool:
    """Whether the session behind the cookie ``token`` is in the store."""
    return SessionStore(token).exists(token)


async def astored(token: str) -> bool:
    return await SessionStore(token).aexists(token)


def cleared(response: HttpResponseBase) -> bool:
    """Whether ``response`` tells the browser to drop the session cookie."""
    morsel = response.cookies.get(NAME)
    return morsel is not None and morsel.value == "" and morsel["max-age"] == 0


def csrf_token(response: HttpResponseBase) -> str:
    """The masked token in the form page ``response``."""
    assert isinstance(response, HttpResponse)
    match = CSRF_FIELD.search(response.content.decode())
    assert match is not None
    return match[1]


class DjangoFeatures(_TestCase):
    """Mix in first, with ``TestCase``; override ``XSESSION`` on the subclass."""

    #: A server the store needs: the class skips loudly without it.
    service: ClassVar[tuple[str, tuple[str, int]] | None] = None
    #: A module the store lives in that may not exist yet.
    module: ClassVar[str | None] = None

    alice: User
    bob: User

    @classmethod
    def setUpClass(cls) -> None:
        if cls.service is not None and not reachable(cls.service[1]):
            missing(*cls.service)
        if cls.module is not None:
            try:
                import_module(cls.module)
            except ImportError as error:
                pytest.skip(f"STORE NOT AVAILABLE: {cls.module} ({error})")
        super().setUpClass()

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)
        cls.bob = User.objects.create_user(**BOB)

    def setUp(self) -> None:
        get_store().clear()

    def token(self, client: Client | AsyncClient | None = None) -> str:
        return (client or self.client).cookies[NAME].value

    def whoami(self, client: Client | None = None) -> str:
        return (client or self.client).get("/whoami/").content.decode()

    async def awhoami(self, client: AsyncClient | None = None) -> str:
        response = await (client or self.async_client).get("/async/whoami/")
        return response.content.decode()

    # django.contrib.auth

    def test_login_rotates_the_id_and_keeps_the_anonymous_data(self) -> None:
        self.client.get("/write/", {"cart": "3 apples"})
        before = self.token()
        response = self.client.get("/login/", ALICE)
        after = response.cookies[NAME].value
        assert after not in ("", before)
        assert not stored(before)
        assert stored(after)
        assert self.whoami() == "alice"
        data = self.client.get("/read/").json()
        assert data["cart"] == "3 apples"
        assert data["_auth_user_id"] == str(self.alice.pk)

    def test_login_as_another_user_drops_the_first_users_data(self) -> None:
        self.client.get("/login/", ALICE)
        self.client.get("/write/", {"secret": "alice's"})
        before = self.token()
        self.client.get("/login/", BOB)
        assert not stored(before)
        assert self.whoami() == "bob"
        assert "secret" not in self.client.get("/read/").json()

    def test_logout_destroys_the_session_and_clears_the_cookie(self) -> None:
        self.client.get("/login/", ALICE)
        self.client.get("/write/", {"cart": "3 apples"})
        token = self.token()
        response = self.client.get("/logout/")
        assert cleared(response)
        assert not stored(token)
        self.client.cookies[NAME] = token  # a copy of the cookie kept elsewhere
        assert self.whoami() == ""
        assert self.client.get("/read/").json() == {}

    def test_the_cleared_cookie_sent_back_is_not_suspicious(self) -> None:
        # Django's test client ignores Max-Age=0 and sends "sessionid=" on, as
        # with Django's own engine; that is no forged cookie worth a warning.
        self.client.get("/login/", ALICE)
        assert cleared(self.client.get("/logout/"))
        assert self.client.cookies[NAME].value == ""
        with self.assertNoLogs("django.security.SuspiciousSession", "WARNING"):
            response = self.client.get("/whoami/")
        assert response.content == b""
        assert cleared(response)

    def test_a_key_rotation_does_not_bring_back_a_session_ended_meanwhile(
        self,
    ) -> None:
        self.client.force_login(self.alice)
        assert self.whoami() == "alice"

        response = self.client.get("/rotate-after-logout/")

        assert response.status_code == 400
        assert self.whoami() == ""

    async def test_an_async_key_rotation_does_not_bring_back_a_session_ended_meanwhile(
        self,
    ) -> None:
        await sync_to_async(self.client.force_login)(self.alice)
        session = SessionStore(self.token())
        assert await session.aget("_auth_user_id") == str(self.alice.pk)
        await SessionStore(self.token()).adelete()

        await session.acycle_key()

        with pytest.raises(UpdateError):
            await session.asave()
        assert not await astored(session.session_key or "")

    def test_a_rotation_in_a_failed_request_still_ends_the_old_id(self) -> None:
        self.client.force_login(self.alice)
        before = self.token()

        response = self.client.get("/rotate-and-fail/")

        assert response.status_code == 500
        assert NAME not in response.cookies
        assert not stored(before)
        assert self.whoami() == ""

    async def test_an_async_rotation_in_a_failed_request_still_ends_the_old_id(
        self,
    ) -> None:
        await sync_to_async(self.client.force_login)(self.alice)
        client = AsyncClient()
        client.cookies[NAME] = before = self.token()

        response = await client.get("/async/rotate-and-fail/")

        assert response.status_code == 500
        assert not await astored(before)

    def test_password_change_keeps_this_session_and_ends_the_others(self) -> None:
        other = Client()
        self.client.get("/login/", ALICE)
        other.get("/login/", ALICE)
        assert self.whoami(other) == "alice"
        before, others = self.token(), self.token(other)
        response = self.client.post("/password/", {"password": "n3w-secret"})
        assert response.status_code == 200
        assert response.cookies[NAME].value not in ("", before)
        assert not stored(before)
        assert self.whoami() == "alice"
        response = other.get("/whoami/")
        assert response.content == b""
        assert cleared(response)
        assert not stored(others)
        assert other.login(username="alice", password="n3w-secret")

    def test_a_sign_up_that_logs_in_then_sets_the_password_stays_logged_in(
        self,
    ) -> None:
        response = self.client.post(
            "/sign-up/", {"username": "carol", "password": "s3cret-too"}
        )

        assert response.status_code == 200
        assert self.whoami() == "carol"

    # django.contrib.messages, in the session

    @SESSION_MESSAGES
    def test_message_is_shown_by_the_next_request_then_gone(self) -> None:
        response = self.client.get("/messages/add/", {"text": "Saved."})
        assert "messages" not in response.cookies
        assert "_messages" in self.client.session
        assert self.client.get("/messages/").json() == {"messages": ["Saved."]}
        assert self.client.get("/messages/").json() == {"messages": []}

    @SESSION_MESSAGES
    def test_message_added_while_logging_in_survives_the_rotation(self) -> None:
        response = self.client.get("/login-with-message/", ALICE, follow=True)
        assert response.redirect_chain == [("/messages/", 302)]
        assert response.json() == {"messages": ["Welcome, alice"]}
        assert self.whoami() == "alice"
        assert self.client.get("/messages/").json() == {"messages": []}

    @SESSION_MESSAGES
    def test_message_added_after_logout_reaches_the_next_page(self) -> None:
        self.client.get("/login/", ALICE)
        before = self.token()
        response = self.client.get("/logout-with-message/")
        after = response.cookies[NAME].value
        assert after not in ("", before)
        assert not stored(before)
        assert self.whoami() == ""
        assert self.client.get("/messages/").json() == {"messages": ["Goodbye"]}

    # CSRF_USE_SESSIONS

    @CSRF_IN_SESSION
    def test_csrf_secret_lives_in_the_session(self) -> None:
        client = Client(enforce_csrf_checks=True)
        response = client.get("/csrf/form/")
        assert "csrftoken" not in response.cookies
        assert NAME in response.cookies
        assert client.session["_csrftoken"]
        token = csrf_token(response)
        response = client.post("/csrf/submit/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 200
        response = client.post(
            "/csrf/submit/", {"field": "x"}, headers={"x-csrftoken": token}
        )
        assert response.content == b"accepted x"

    @CSRF_IN_SESSION
    def test_csrf_post_without_the_sessions_token_is_forbidden(self) -> None:
        client = Client(enforce_csrf_checks=True)
        token = csrf_token(client.get("/csrf/form/"))
        assert client.post("/csrf/submit/").status_code == 403
        stranger = Client(enforce_csrf_checks=True)
        theirs = csrf_token(stranger.get("/csrf/form/"))
        response = client.post("/csrf/submit/", {"csrfmiddlewaretoken": theirs})
        assert response.status_code == 403
        # Nor does our token help a session that never issued one.
        fresh = Client(enforce_csrf_checks=True)
        response = fresh.post("/csrf/submit/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 403

    @CSRF_IN_SESSION
    def test_login_rotates_the_csrf_secret(self) -> None:
        client = Client(enforce_csrf_checks=True)
        before = csrf_token(client.get("/csrf/form/"))
        client.get("/login/", ALICE)
        response = client.post("/csrf/submit/", {"csrfmiddlewaretoken": before})
        assert response.status_code == 403
        after = csrf_token(client.get("/csrf/form/"))
        response = client.post("/csrf/submit/", {"csrfmiddlewaretoken": after})
        assert response.status_code == 200
        assert self.whoami(client) == "alice"

    # The test client

    def test_client_login_keeps_the_data_and_logout_destroys(self) -> None:
        self.client.get("/write/", {"cart": "3 apples"})
        before = self.token()
        assert self.client.login(**ALICE)
        assert not stored(before)
        assert self.whoami() == "alice"
        assert self.client.get("/read/").json()["cart"] == "3 apples"
        token = self.token()
        self.client.logout()
        assert not stored(token)
        assert NAME not in self.client.cookies
        assert self.whoami() == ""
        assert not self.client.login(username="alice", password="wrong")

    def test_client_force_login(self) -> None:
        self.client.force_login(self.alice)
        assert self.whoami() == "alice"
        alice = self.token()
        self.client.force_login(self.bob)
        assert not stored(alice)
        assert self.whoami() == "bob"

    def test_client_session_read_modify_save(self) -> None:
        self.client.get("/write/", {"size": "L", "colour": "red"})
        session = self.client.session
        assert session["size"] == "L"
        session["colour"] = "blue"
        del session["size"]
        session.save()
        assert self.client.get("/read/").json() == {"colour": "blue"}
        self.client.get("/write/", {"fit": "slim"})
        assert self.client.session["fit"] == "slim"

    def test_client_session_without_a_cookie_starts_one(self) -> None:
        session = self.client.session
        session["colour"] = "blue"
        session.save()
        assert self.token() == session.session_key
        assert self.client.get("/read/").json() == {"colour": "blue"}

    # Async auth, from async views under ASGI

    @async_auth
    async def test_alogin_rotates_the_id_and_keeps_the_anonymous_data(self) -> None:
        await self.async_client.get("/async-write/", {"cart": "3 apples"})
        before = self.token(self.async_client)
        response = await self.async_client.get("/async/login/", ALICE)
        after = response.cookies[NAME].value
        assert after not in ("", before)
        assert not await astored(before)
        assert await astored(after)
        assert await self.awhoami() == "alice"
        data = (await self.async_client.get("/read/")).json()
        assert data["cart"] == "3 apples"
        assert data["_auth_user_id"] == str(self.alice.pk)

    @async_auth
    async def test_alogout_destroys_the_session_and_clears_the_cookie(self) -> None:
        await self.async_client.get("/async/login/", ALICE)
        token = self.token(self.async_client)
        response = await self.async_client.get("/async/logout/")
        assert cleared(response)
        assert not await astored(token)
        self.async_client.cookies[NAME] = token
        assert await self.awhoami() == ""

    @async_auth
    async def test_apassword_change_keeps_this_session_and_ends_the_others(
        self,
    ) -> None:
        other = AsyncClient()
        await self.async_client.get("/async/login/", ALICE)
        await other.get("/async/login/", ALICE)
        assert await self.awhoami(other) == "alice"
        before, others = self.token(self.async_client), self.token(other)
        response = await self.async_client.post(
            "/async/password/", {"password": "n3w-secret"}
        )
        assert response.status_code == 200
        assert response.cookies[NAME].value not in ("", before)
        assert not await astored(before)
        assert await self.awhoami() == "alice"
        response = await other.get("/async/whoami/")
        assert response.content == b""
        assert cleared(response)
        assert not await astored(others)

    # The async test client

    @async_auth
    async def test_async_client_alogin_keeps_the_data_and_alogout_destroys(
        self,
    ) -> None:
        await self.async_client.get("/async-write/", {"cart": "3 apples"})
        before = self.token(self.async_client)
        assert await self.async_client.alogin(**ALICE)
        assert not await astored(before)
        assert await self.awhoami() == "alice"
        data = (await self.async_client.get("/read/")).json()
        assert data["cart"] == "3 apples"
        token = self.token(self.async_client)
        await self.async_client.alogout()
        assert not await astored(token)
        assert NAME not in self.async_client.cookies
        assert await self.awhoami() == ""

    @async_auth
    async def test_async_client_aforce_login(self) -> None:
        await self.async_client.aforce_login(self.alice)
        assert await self.awhoami() == "alice"
        alice = self.token(self.async_client)
        await self.async_client.aforce_login(self.bob)
        assert not await astored(alice)
        assert await self.awhoami() == "bob"

    @async_auth
    async def test_async_client_asession_read_modify_save(self) -> None:
        session = await self.async_client.asession()
        await session.aset("colour", "blue")
        await session.asave()
        assert (await self.async_client.get("/read/")).json() == {"colour": "blue"}
        await self.async_client.get("/async-write/", {"size": "L"})
        session = await self.async_client.asession()
        assert await session.aget("size") == "L"
        await session.apop("colour")
        await session.asave()
        assert (await self.async_client.get("/read/")).json() == {"size": "L"}

    # Views under ASGI and WSGI

    async def test_async_view_under_asgi_reads_and_writes(self) -> None:
        for expected in (1, 2, 3):
            response = await self.async_client.get("/async/count/")
            assert response.json() == {"count": expected}
        assert await astored(self.token(self.async_client))

    def test_sync_view_under_wsgi_reads_and_writes(self) -> None:
        for expected in (1, 2, 3):
            assert self.client.get("/increment/").json() == {"count": expected}
        assert stored(self.token())

    async def test_wsgi_and_asgi_share_the_session(self) -> None:
        wsgi = Client()
        await self.async_client.get("/async/count/")
        wsgi.cookies[NAME] = self.token(self.async_client)
        under_wsgi = await sync_to_async(wsgi.get)("/increment/")
        assert under_wsgi.json() == {"count": 2}
        under_asgi = await self.async_client.get("/async/count/")
        assert under_asgi.json() == {"count": 3}

    def orm_genid(self) -> override_settings:
        genid = "tests.test_django_features.orm_genid"
        return override_settings(XSESSION={**settings.XSESSION, "GENID": genid})

    def assert_orm_id(self, response: HttpResponseBase) -> None:
        verified = signing.unsign(response.cookies[NAME].value, get_options().secrets)
        assert verified is not None
        assert verified.sid.startswith("users")

    async def test_a_genid_using_the_orm_works_under_asgi(self) -> None:
        with self.orm_genid():
            sync_view = await AsyncClient().get("/write/", {"a": "1"})
            async_view = await AsyncClient().get("/async-write/", {"a": "1"})
        self.assert_orm_id(sync_view)
        self.assert_orm_id(async_view)

    @async_auth
    async def test_alogin_with_a_genid_using_the_orm(self) -> None:
        with self.orm_genid():
            response = await AsyncClient().get("/async/login/", ALICE)
        self.assert_orm_id(response)

    async def test_aid_of_a_stored_session_is_the_cookies_id(self) -> None:
        await self.async_client.get("/async-write/", {"a": "1"})
        verified = signing.unsign(self.token(self.async_client), get_options().secrets)
        assert verified is not None

        response = await self.async_client.get("/async/id/")

        assert response.json() == {"id": verified.sid}
        assert (await AsyncClient().get("/async/id/")).json()["id"] != verified.sid

    @SESSION_MESSAGES
    async def test_messages_under_asgi(self) -> None:
        await self.async_client.get("/messages/add/", {"text": "Saved."})
        response = await self.async_client.get("/messages/")
        assert response.json() == {"messages": ["Saved."]}
        response = await self.async_client.get("/messages/")
        assert response.json() == {"messages": []}

    @CSRF_IN_SESSION
    async def test_csrf_in_the_session_under_asgi(self) -> None:
        client = AsyncClient(enforce_csrf_checks=True)
        response = await client.get("/csrf/form/")
        assert "csrftoken" not in response.cookies
        token = csrf_token(response)
        assert (await client.post("/csrf/submit/")).status_code == 403
        response = await client.post("/csrf/submit/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 200


# One class per store.

CACHE = {"BACKEND": "cache", "OPTIONS": {"cache": "default"}}
REDIS_STORE = {"BACKEND": "redis", "OPTIONS": {"cache": "redis"}}


@override_settings(XSESSION={"STORE": "memory"})
class MemoryDjangoFeatureTests(DjangoFeatures, TestCase):
    pass


@override_settings(XSESSION={"STORE": "db"})
class DatabaseDjangoFeatureTests(DjangoFeatures, TestCase):
    pass


@override_settings(XSESSION={"STORE": "cached_db"})
class CachedDatabaseDjangoFeatureTests(DjangoFeatures, TestCase):
    module = "django_xsession.stores.cached_db"


@override_settings(XSESSION={"STORE": CACHE})
class CacheDjangoFeatureTests(DjangoFeatures, TestCase):
    pass


@override_settings(XSESSION={"STORE": REDIS_STORE})
class RedisDjangoFeatureTests(DjangoFeatures, TestCase):
    service = ("Redis", REDIS)

"""The session signals: each sent once per event, with hashes of ids and the request.

The behaviour is written once, in :class:`Signals`, and run on the memory
and the database store. Time is Django's clock, frozen: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock, skipUnless

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.test import AsyncClient, Client, TestCase, override_settings
from django.utils import timezone

from django_xsession import revoke, sessions_of, signing
from django_xsession.conf import get_options
from django_xsession.signals import (
    session_created,
    session_destroyed,
    session_regenerated,
    session_revoked,
)
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store, StoreUnavailable

if TYPE_CHECKING:
    _TestCase = TestCase
else:
    _TestCase = object

NAME = "sessionid"
SECOND = datetime.timedelta(seconds=1)
ALICE = {"username": "alice", "password": "secret"}
SIGNALS: dict[str, Signal] = {
    "created": session_created,
    "regenerated": session_regenerated,
    "destroyed": session_destroyed,
    "revoked": session_revoked,
}

Event = tuple[str, dict[str, Any]]


class Recorder:
    """Every session signal sent while recording, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.requests: list[HttpRequest | None] = []

    def receiver(self, name: str) -> Any:
        def receive(sender: Any, **kwargs: Any) -> None:
            kwargs.pop("signal")
            self.requests.append(kwargs.pop("request"))
            self.events.append((name, kwargs))

        return receive

    def sent(self, name: str, field: str = "key_hash") -> list[Any]:
        """``field`` of each ``name`` event, in order."""
        return [event[field] for signal, event in self.events if signal == name]

    def paths(self) -> list[str | None]:
        """The path of each event's request; ``None`` where it had none."""
        return [None if request is None else request.path for request in self.requests]


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()
    receivers = [(signal, recorder.receiver(name)) for name, signal in SIGNALS.items()]
    for signal, receive in receivers:
        signal.connect(receive)
    try:
        yield recorder
    finally:
        for signal, receive in receivers:
            signal.disconnect(receive)


def sid_of(token: str) -> str:
    verified = signing.unsign(token, get_options().secrets)
    assert verified is not None
    return verified.sid


def hash_of(client: Client) -> str:
    """The stored hash of the session behind ``client``'s cookie."""
    return Store.digest(sid_of(client.cookies[NAME].value))


class Signals(_TestCase):
    """Mix in first, with ``TestCase``; set ``XSESSION`` on the subclass."""

    alice: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)

    def setUp(self) -> None:
        super().setUp()
        get_store().clear()
        self.addCleanup(get_store().clear)
        self.now = timezone.now().replace(microsecond=0)

    def xsession(self, **options: Any) -> override_settings:
        """The class's ``XSESSION`` with ``options`` added."""
        return override_settings(XSESSION={**settings.XSESSION, **options})

    @contextmanager
    def clock_at(self, offset: datetime.timedelta) -> Iterator[None]:
        with mock.patch("django.utils.timezone.now", return_value=self.now + offset):
            yield

    def start(self, client: Client | None = None) -> str:
        """Store an anonymous session for ``client``; return its hash."""
        client = client or self.client
        with self.clock_at(0 * SECOND):
            client.get("/write/", {"cart": "apples"})
        return hash_of(client)

    # Created

    def test_a_new_session_is_created_once_when_first_stored(self) -> None:
        with recording() as recorder:
            self.client.get("/write/", {"cart": "apples"})

        assert recorder.events == [("created", {"key_hash": hash_of(self.client)})]
        assert recorder.paths() == ["/write/"]

    def test_login_without_a_session_creates_one(self) -> None:
        with recording() as recorder:
            self.client.get("/login/", ALICE)

        assert recorder.events == [("created", {"key_hash": hash_of(self.client)})]

    def test_nothing_is_sent_for_a_session_never_stored(self) -> None:
        with recording() as recorder:
            self.client.get("/read/")
            self.client.get("/nothing/")
            self.client.get("/fail/")

        assert recorder.events == []

    def test_reading_and_saving_a_stored_session_sends_nothing(self) -> None:
        self.start()

        with recording() as recorder:
            self.client.get("/read/")
            self.client.get("/write/", {"cart": "pears"})
            self.client.get("/increment/")
            self.client.get("/nothing/")

        assert recorder.events == []

    # Regenerated

    def assert_regenerated(self, path: str, **query: str) -> None:
        old = self.start()

        with recording() as recorder:
            response = self.client.get(path, query)

        assert response.status_code == 200
        new = hash_of(self.client)
        assert new != old
        assert recorder.events == [
            ("regenerated", {"old_key_hash": old, "new_key_hash": new})
        ]
        assert recorder.paths() == [path]

    def test_login_regenerates(self) -> None:
        self.assert_regenerated("/login/", **ALICE)

    def test_cycle_key_regenerates(self) -> None:
        self.assert_regenerated("/cycle-key/")

    def test_regenerate_regenerates(self) -> None:
        self.assert_regenerated("/regenerate/")

    def test_regenerate_keeping_the_data_regenerates(self) -> None:
        self.assert_regenerated("/regenerate/", keep="1")

    async def assert_aregenerated(self, path: str, **query: str) -> None:
        old = await sync_to_async(self.start)()
        self.async_client.cookies[NAME] = self.client.cookies[NAME].value

        with recording() as recorder:
            response = await self.async_client.get(path, query)

        assert response.status_code == 200
        new = Store.digest(sid_of(self.async_client.cookies[NAME].value))
        assert new != old
        assert recorder.events == [
            ("regenerated", {"old_key_hash": old, "new_key_hash": new})
        ]
        assert recorder.paths() == [path]

    @skipUnless(django.VERSION >= (5, 0), "auth.alogin needs Django 5.0")
    async def test_async_login_regenerates(self) -> None:
        await self.assert_aregenerated("/async/login/", **ALICE)

    async def test_aregenerate_regenerates(self) -> None:
        await self.assert_aregenerated("/async/regenerate/")

    async def test_aregenerate_keeping_the_data_regenerates(self) -> None:
        await self.assert_aregenerated("/async/regenerate/", keep="1")

    # Destroyed

    def assert_destroyed(self, path: str) -> None:
        self.client.get("/login/", ALICE)
        old = hash_of(self.client)

        with recording() as recorder:
            self.client.get(path)

        assert self.client.cookies[NAME].value == ""
        assert recorder.events == [("destroyed", {"key_hash": old})]
        assert recorder.paths() == [path]

    def test_logout_destroys(self) -> None:
        self.assert_destroyed("/logout/")

    def test_destroy_destroys(self) -> None:
        self.assert_destroyed("/destroy/")

    def test_unset_destroys_under_unset_destroy(self) -> None:
        with self.xsession(UNSET="destroy"):
            self.assert_destroyed("/unset/")

    def test_unset_keeps_and_sends_nothing_by_default(self) -> None:
        self.start()

        with recording() as recorder:
            self.client.get("/unset/")

        assert recorder.events == []

    # A stored session's rotation ended in the same request: the old id,
    # deleted by the rotation, is reported destroyed.

    def assert_rotation_ended(self, path: str, **query: str) -> HttpResponseBase:
        old = self.start()

        with recording() as recorder:
            response = self.client.get(path, query)

        assert recorder.events == [("destroyed", {"key_hash": old})]
        assert recorder.paths() == [path]
        # Neither the old id nor a new one is stored.
        assert get_store().length() == 0
        return response

    def test_regenerate_then_destroy_destroys_the_old_id(self) -> None:
        response = self.assert_rotation_ended("/rotate-then-end/", rotate="keep")

        assert response.cookies[NAME].value == ""

    def test_login_then_logout_destroys_the_old_id(self) -> None:
        response = self.assert_rotation_ended("/rotate-then-end/", rotate="login")

        assert response.cookies[NAME].value == ""

    def test_cycle_key_on_a_500_destroys_the_old_id(self) -> None:
        response = self.assert_rotation_ended("/cycle-key-and-fail/")

        assert response.status_code == 500
        assert NAME not in response.cookies

    async def assert_arotation_ended(self, path: str) -> HttpResponseBase:
        old = await sync_to_async(self.start)()
        self.async_client.cookies[NAME] = self.client.cookies[NAME].value

        with recording() as recorder:
            response = await self.async_client.get(path)

        assert recorder.events == [("destroyed", {"key_hash": old})]
        assert recorder.paths() == [path]
        assert await get_store().alength() == 0
        return response

    async def test_aregenerate_then_adestroy_destroys_the_old_id(self) -> None:
        response = await self.assert_arotation_ended("/async/rotate-then-end/")

        assert response.cookies[NAME].value == ""

    async def test_acycle_key_on_a_500_destroys_the_old_id(self) -> None:
        response = await self.assert_arotation_ended("/async/cycle-key-and-fail/")

        assert response.status_code == 500
        assert NAME not in response.cookies

    def test_an_idle_timeout_destroys(self) -> None:
        with self.xsession(IDLE_TIMEOUT=60):
            old = self.start()

            with self.clock_at(61 * SECOND), recording() as recorder:
                assert self.client.get("/read/").json() == {}

        assert recorder.events == [("destroyed", {"key_hash": old})]
        assert recorder.paths() == ["/read/"]

    def test_an_idle_timeout_destroys_then_a_write_creates_anew(self) -> None:
        with self.xsession(IDLE_TIMEOUT=60):
            old = self.start()

            with self.clock_at(61 * SECOND), recording() as recorder:
                self.client.get("/write/", {"fresh": "1"})

        new = hash_of(self.client)
        assert new != old
        assert recorder.events == [
            ("destroyed", {"key_hash": old}),
            ("created", {"key_hash": new}),
        ]

    def test_a_session_found_past_its_absolute_deadline_is_destroyed(self) -> None:
        # Stored before ABSOLUTE_TIMEOUT was on: its own expiry is weeks away.
        old = self.start()

        with self.xsession(ABSOLUTE_TIMEOUT=3600):
            with self.clock_at(3599 * SECOND), recording() as recorder:
                self.client.get("/read/")
            assert recorder.events == []

            with self.clock_at(3600 * SECOND), recording() as recorder:
                assert self.client.get("/read/").json() == {}

        assert recorder.events == [("destroyed", {"key_hash": old})]

    async def test_an_idle_timeout_destroys_under_asgi(self) -> None:
        with self.xsession(IDLE_TIMEOUT=60):
            with self.clock_at(0 * SECOND):
                await sync_to_async(self.client.get)("/login/", ALICE)
            old = hash_of(self.client)
            self.async_client.cookies[NAME] = self.client.cookies[NAME].value

            with self.clock_at(61 * SECOND), recording() as recorder:
                response = await self.async_client.get("/async/session-user/")

        assert response.content == b""
        assert recorder.events == [("destroyed", {"key_hash": old})]
        assert recorder.paths() == ["/async/session-user/"]

    # A receiver that raises: the response is a 500, and no session is
    # left stored that no browser holds the token of.

    @contextmanager
    def raising(self, signal: Signal) -> Iterator[Client]:
        """A client that gets a 500, not the exception, from a receiver of
        ``signal`` that raises while connected."""

        def fail(sender: Any, **kwargs: Any) -> None:
            raise RuntimeError("the receiver failed")

        client = Client(raise_request_exception=False)
        client.cookies = self.client.cookies
        signal.connect(fail)
        try:
            with self.assertLogs("django.request", "ERROR"):
                yield client
        finally:
            signal.disconnect(fail)

    def test_a_raising_receiver_of_a_new_session_leaves_nothing_stored(self) -> None:
        with self.raising(session_created) as client:
            response = client.get("/write/", {"cart": "apples"})

        assert response.status_code == 500
        assert NAME not in response.cookies
        assert get_store().length() == 0

    def test_a_raising_receiver_of_a_login_leaves_no_login_listed(self) -> None:
        self.start()

        with self.raising(session_regenerated) as client:
            response = client.get("/login/", ALICE)

        assert response.status_code == 500
        assert NAME not in response.cookies
        assert sessions_of(self.alice) == []
        assert get_store().length() == 0

    def test_a_raising_receiver_of_a_first_login_leaves_no_login_listed(
        self,
    ) -> None:
        with self.raising(session_created) as client:
            response = client.get("/login/", ALICE)

        assert response.status_code == 500
        assert NAME not in response.cookies
        assert sessions_of(self.alice) == []

    def test_a_raising_receiver_of_a_logout_still_clears_the_cookie(self) -> None:
        self.client.get("/login/", ALICE)

        with self.raising(session_destroyed) as client:
            response = client.get("/logout/")

        assert response.status_code == 500
        assert response.cookies[NAME].value == ""
        assert get_store().length() == 0

    async def test_a_raising_receiver_under_asgi_leaves_nothing_stored(
        self,
    ) -> None:
        client = AsyncClient(raise_request_exception=False)

        with self.raising(session_created):
            response = await client.get("/async-write/", {"cart": "apples"})

        assert response.status_code == 500
        assert NAME not in response.cookies
        assert await get_store().alength() == 0

    async def test_a_raising_receiver_of_an_async_destroy_still_clears_the_cookie(
        self,
    ) -> None:
        await sync_to_async(self.start)()
        client = AsyncClient(raise_request_exception=False)
        client.cookies[NAME] = self.client.cookies[NAME].value

        with self.raising(session_destroyed):
            response = await client.get("/async/destroy/")

        assert response.status_code == 500
        assert response.cookies[NAME].value == ""
        assert await get_store().alength() == 0

    # Revoked

    def test_revoke_from_a_request_sends_revoked_for_each_other_session(
        self,
    ) -> None:
        clients = [Client() for _ in range(3)]
        for client in clients:
            client.get("/login/", ALICE)
        others = {hash_of(client) for client in clients[1:]}

        with recording() as recorder:
            clients[0].get("/sessions/revoke-others/")

        assert sorted(name for name, _ in recorder.events) == ["revoked", "revoked"]
        assert {kwargs["key_hash"] for _, kwargs in recorder.events} == others
        assert {kwargs["user_id"] for _, kwargs in recorder.events} == {
            str(self.alice.pk)
        }
        assert recorder.paths() == ["/sessions/revoke-others/"] * 2

    def test_revoke_outside_a_request_sends_revoked_without_one(self) -> None:
        clients = [Client() for _ in range(2)]
        for client in clients:
            client.get("/login/", ALICE)

        with recording() as recorder:
            revoke(self.alice)

        assert sorted(recorder.events, key=lambda event: event[1]["key_hash"]) == [
            ("revoked", {"key_hash": key_hash, "user_id": str(self.alice.pk)})
            for key_hash in sorted(hash_of(client) for client in clients)
        ]
        assert recorder.paths() == [None, None]
        with recording() as recorder:
            clients[0].get("/whoami/")
        assert recorder.events == []

    def test_a_logout_after_revoking_its_own_session_sends_no_destroyed(
        self,
    ) -> None:
        clients = [Client() for _ in range(2)]
        for client in clients:
            client.get("/login/", ALICE)
        both = {hash_of(client) for client in clients}

        with recording() as recorder:
            response = clients[0].get("/sessions/revoke-all-then-logout/")

        assert response.json() == {"ended": 2}
        assert sorted(name for name, _ in recorder.events) == ["revoked", "revoked"]
        assert {kwargs["key_hash"] for _, kwargs in recorder.events} == both

    async def test_an_async_logout_after_revoking_its_own_session_sends_no_destroyed(
        self,
    ) -> None:
        await sync_to_async(self.client.get)("/login/", ALICE)
        own = hash_of(self.client)
        self.async_client.cookies[NAME] = self.client.cookies[NAME].value

        with recording() as recorder:
            response = await self.async_client.get(
                "/async/sessions/revoke-all-then-logout/"
            )

        assert response.json() == {"ended": 1}
        assert [name for name, _ in recorder.events] == ["revoked"]
        assert recorder.sent("revoked") == [own]

    # Receivers under ASGI, where the middleware's saves run on the event loop.

    def test_a_receiver_of_a_timeout_finds_the_session_loaded(self) -> None:
        marks: list[Any] = []

        def mark(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
            assert request is not None
            marks.append(request.session.get("cart"))
            request.session["timed_out"] = "yes"

        with self.xsession(IDLE_TIMEOUT=60):
            self.start()
            with self.clock_at(61 * SECOND), self.receiving_destroyed(mark):
                self.client.get("/read/")
            assert self.client.get("/read/").json() == {"timed_out": "yes"}

        # The new, empty session, read once: no second load.
        assert marks == [None]

    @skipUnless(django.VERSION >= (5, 0), "async receivers need Django 5.0")
    async def test_an_async_receiver_of_a_timeout_may_read_the_session(
        self,
    ) -> None:
        async def mark(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
            assert request is not None
            await request.session.aset("timed_out", "yes")

        with self.xsession(IDLE_TIMEOUT=60):
            await sync_to_async(self.start)()
            self.async_client.cookies[NAME] = self.client.cookies[NAME].value
            with self.clock_at(61 * SECOND), self.receiving_destroyed(mark):
                # A receiver waiting for the load it is called from would
                # hang the request.
                await asyncio.wait_for(
                    self.async_client.get("/async/session-user/"), timeout=10
                )
            response = await self.async_client.get("/read/")

        assert response.json() == {"timed_out": "yes"}

    def test_a_timeout_is_signalled_when_the_store_fails_after_it(self) -> None:
        with self.xsession(IDLE_TIMEOUT=60, ON_STORE_ERROR="raise"):
            ended = self.start()
            other = Client()
            down = self.start(other)
            cookie = f"{NAME}={self.client.cookies[NAME].value}; "
            cookie += f"{NAME}={other.cookies[NAME].value}"
            store = get_store()
            read = store.get

            def fail_on_the_second(sid: str) -> Record | None:
                if Store.digest(sid) == down:
                    raise StoreUnavailable("down")
                return read(sid)

            with (
                self.clock_at(61 * SECOND),
                recording() as recorder,
                mock.patch.object(store, "get", fail_on_the_second),
                self.assertLogs("django_xsession", "ERROR"),
            ):
                response = self.client.get("/read/", HTTP_COOKIE=cookie)

        assert response.status_code == 503
        assert recorder.events == [("destroyed", {"key_hash": ended})]

    @contextmanager
    def receiving_destroyed(self, receive: Any) -> Iterator[None]:
        session_destroyed.connect(receive)
        try:
            yield
        finally:
            session_destroyed.disconnect(receive)

    @contextmanager
    def receiving(self, receive: Any) -> Iterator[None]:
        for signal in SIGNALS.values():
            signal.connect(receive)
        try:
            yield
        finally:
            for signal in SIGNALS.values():
                signal.disconnect(receive)

    async def asgi_events(self) -> None:
        """Create, regenerate, time out and revoke sessions through ASGI views."""
        with self.xsession(IDLE_TIMEOUT=60):
            with self.clock_at(0 * SECOND):
                await self.async_client.get("/async-write/", {"cart": "apples"})
                await self.async_client.get("/async/regenerate/")
                await sync_to_async(self.client.get)("/login/", ALICE)
                await sync_to_async(Client().get)("/login/", ALICE)
            self.async_client.cookies[NAME] = self.client.cookies[NAME].value
            with self.clock_at(30 * SECOND):
                await self.async_client.get("/async/sessions/revoke-others/")
            with self.clock_at(91 * SECOND):
                await self.async_client.get("/async/session-user/")

    async def test_a_receiver_may_use_the_orm_under_asgi(self) -> None:
        users: list[int] = []

        def count_users(sender: Any, **kwargs: Any) -> None:
            users.append(User.objects.count())

        with self.receiving(count_users):
            await self.asgi_events()

        # At least created, regenerated, revoked and destroyed, each answered.
        assert len(users) >= 4
        assert set(users) == {await User.objects.acount()}

    @skipUnless(django.VERSION >= (5, 0), "async receivers need Django 5.0")
    async def test_an_async_receiver_is_awaited_under_asgi(self) -> None:
        names: list[str] = []

        async def receive(sender: Any, signal: Signal, **kwargs: Any) -> None:
            names.append(next(n for n, s in SIGNALS.items() if s is signal))

        with self.receiving(receive):
            await self.asgi_events()

        assert {"created", "regenerated", "revoked", "destroyed"} <= set(names)


@override_settings(XSESSION={"STORE": "memory"})
class MemorySignalTests(Signals, TestCase):
    pass


@override_settings(XSESSION={"STORE": "db"})
class DatabaseSignalTests(Signals, TestCase):
    pass

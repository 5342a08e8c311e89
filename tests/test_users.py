"""Per-user sessions: ``sessions_of`` lists them, ``revoke`` ends them.

The behaviour is written once, in :class:`UserSessions`, and run against
every store that can list a user's sessions (a two-line class each at the
end). Time is Django's clock, frozen at chosen instants: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import FrozenInstanceError, astuple
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.test import (
    AsyncClient,
    Client,
    RequestFactory,
    TestCase,
    override_settings,
)
from django.utils import timezone

from django_xsession import (
    SessionInfo,
    arevoke,
    asessions_of,
    revoke,
    sessions_of,
    signing,
)
from django_xsession.conf import get_options
from django_xsession.engine import SessionStore
from django_xsession.middleware import SessionMiddleware
from django_xsession.models import Session as SessionRow
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store, StoreUnavailable, UpdateError
from tests.services import REDIS, missing, reachable
from tests.test_signals import recording

if TYPE_CHECKING:
    _TestCase = TestCase
else:
    _TestCase = object

NAME = "sessionid"
MINUTE = datetime.timedelta(minutes=1)
# SESSION_COOKIE_AGE, Django's default: every session here lives that long.
AGE = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
ALICE = {"username": "alice", "password": "secret"}
BOB = {"username": "bob", "password": "hunter2"}
# Where each device connects from: (REMOTE_ADDR, User-Agent).
DEVICES = {
    "laptop": ("192.0.2.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
    "phone": ("198.51.100.20", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile"),
    "tablet": ("203.0.113.30", "Mozilla/5.0 (iPad; CPU OS 17_5) Safari/604.1"),
}
# The order sessions_of lists the three devices in, once each logged in a
# minute after the previous one: the most recently used first.
NEWEST_FIRST = ["tablet", "phone", "laptop"]


def sid_of(client: Client | AsyncClient) -> str:
    """The session id behind ``client``'s cookie."""
    verified = signing.unsign(client.cookies[NAME].value, get_options().secrets)
    assert verified is not None
    return verified.sid


def whoami(client: Client) -> str:
    return client.get("/whoami/").content.decode()


class UserSessions(_TestCase):
    """Mix in first, with ``TestCase``; set ``XSESSION`` on the subclass."""

    #: A server the store needs: the class skips loudly without it.
    service: ClassVar[tuple[str, tuple[str, int]] | None] = None

    alice: User
    bob: User

    @classmethod
    def setUpClass(cls) -> None:
        if cls.service is not None and not reachable(cls.service[1]):
            missing(*cls.service)
        super().setUpClass()

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)
        cls.bob = User.objects.create_user(**BOB)

    def setUp(self) -> None:
        super().setUp()
        self.store = get_store()
        self.store.clear()
        self.addCleanup(self.store.clear)
        self.now = timezone.now().replace(microsecond=0)

    @contextmanager
    def clock_at(self, offset: datetime.timedelta) -> Iterator[None]:
        """Django's clock (the store's too) stopped at ``self.now + offset``."""
        with mock.patch("django.utils.timezone.now", return_value=self.now + offset):
            yield

    def device(
        self,
        name: str,
        *,
        at: datetime.timedelta = datetime.timedelta(0),
        credentials: dict[str, str] = ALICE,
        **headers: Any,
    ) -> Client:
        """A client on device ``name`` that logged in at ``self.now + at``."""
        ip, agent = DEVICES[name]
        client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent, **headers)
        with self.clock_at(at):
            response = client.get("/login/", credentials)
        assert response.status_code == 200
        return client

    def devices(self) -> dict[str, Client]:
        """Alice on the laptop, a minute later the phone, then the tablet."""
        return {
            "laptop": self.device("laptop", at=0 * MINUTE),
            "phone": self.device("phone", at=1 * MINUTE),
            "tablet": self.device("tablet", at=2 * MINUTE),
        }

    def handles(self, user: User) -> list[str]:
        return [info.handle for info in sessions_of(user)]

    # sessions_of

    def test_lists_each_session_with_when_and_where_it_was_used(self) -> None:
        self.devices()
        self.device("laptop", credentials=BOB)
        Client().get("/write/", {"visitor": "1"})

        infos = sessions_of(self.alice)

        assert [
            (info.ip, info.user_agent, info.created, info.last_seen, info.expires)
            for info in infos
        ] == [
            (*DEVICES["tablet"], self.now + 2 * MINUTE, self.now + 2 * MINUTE,
             self.now + 2 * MINUTE + AGE),
            (*DEVICES["phone"], self.now + MINUTE, self.now + MINUTE,
             self.now + MINUTE + AGE),
            (*DEVICES["laptop"], self.now, self.now, self.now + AGE),
        ]  # fmt: skip
        assert all(isinstance(info, SessionInfo) for info in infos)
        assert len(sessions_of(self.bob)) == 1

    def test_the_most_recently_used_comes_first(self) -> None:
        devices = self.devices()
        with self.clock_at(3 * MINUTE):
            devices["laptop"].get("/write/", {"note": "hello"})

        infos = sessions_of(self.alice)

        assert [info.user_agent for info in infos] == [
            DEVICES[name][1] for name in ("laptop", "tablet", "phone")
        ]
        assert (infos[0].created, infos[0].last_seen) == (
            self.now,
            self.now + 3 * MINUTE,
        )
        assert infos[0].expires == self.now + 3 * MINUTE + AGE

    def test_a_session_info_is_frozen(self) -> None:
        self.devices()
        info = sessions_of(self.alice)[0]

        with pytest.raises(FrozenInstanceError):
            info.ip = "192.0.2.99"  # type: ignore[misc]

    def test_handles_are_stable_and_reveal_no_id_token_or_key_hash(self) -> None:
        devices = self.devices()

        infos = sessions_of(self.alice)

        handles = [info.handle for info in infos]
        assert len(set(handles)) == 3
        assert self.handles(self.alice) == handles
        for client in devices.values():
            sid = sid_of(client)
            for secret in (client.cookies[NAME].value, sid, Store.digest(sid)):
                for info in infos:
                    shown = repr(info) + "".join(map(str, astuple(info)))
                    assert secret not in shown
                    assert info.handle not in secret

    def test_is_current_marks_the_session_of_the_request(self) -> None:
        devices = self.devices()

        for name, client in devices.items():
            response = client.get("/sessions/current/")
            assert response.json() == {
                "current": [other == name for other in NEWEST_FIRST]
            }

    def test_an_anonymous_user_has_no_sessions(self) -> None:
        self.devices()
        client = Client()
        client.get("/write/", {"visitor": "1"})

        assert sessions_of(AnonymousUser()) == []
        assert client.get("/sessions/current/").json() == {"current": []}

    def test_a_logged_out_session_is_no_longer_listed(self) -> None:
        devices = self.devices()

        devices["phone"].get("/logout/")

        assert [info.ip for info in sessions_of(self.alice)] == [
            DEVICES["tablet"][0],
            DEVICES["laptop"][0],
        ]

    def test_a_session_logged_in_as_another_user_leaves_the_first_users_list(
        self,
    ) -> None:
        devices = self.devices()

        with self.clock_at(3 * MINUTE):
            devices["phone"].get("/login/", BOB)

        assert [info.ip for info in sessions_of(self.alice)] == [
            DEVICES["tablet"][0],
            DEVICES["laptop"][0],
        ]
        assert [info.ip for info in sessions_of(self.bob)] == [DEVICES["phone"][0]]

    def test_expired_sessions_are_not_listed(self) -> None:
        self.devices()

        with self.clock_at(AGE + 30 * datetime.timedelta(seconds=1)):
            assert [info.ip for info in sessions_of(self.alice)] == [
                DEVICES["tablet"][0],
                DEVICES["phone"][0],
            ]
        with self.clock_at(AGE + 2 * MINUTE):
            assert sessions_of(self.alice) == []

    def test_sessions_a_timeout_ended_are_neither_listed_nor_counted(self) -> None:
        with self.settings(XSESSION={**settings.XSESSION, "IDLE_TIMEOUT": 600}):
            self.device("laptop", at=0 * MINUTE)
            self.device("phone", at=15 * MINUTE)

            # The laptop has been idle 20 minutes: its session has ended.
            with self.clock_at(20 * MINUTE):
                assert [info.ip for info in sessions_of(self.alice)] == [
                    DEVICES["phone"][0]
                ]
                assert revoke(self.alice) == 1
                assert self.store.user_sessions(str(self.alice.pk)) == {}

    # Metadata

    def test_metadata_is_that_of_the_latest_write(self) -> None:
        devices = self.devices()

        with self.clock_at(3 * MINUTE):
            devices["laptop"].get(
                "/write/",
                {"note": "moved"},
                REMOTE_ADDR="192.0.2.99",
                HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/129.0",
            )

        latest = sessions_of(self.alice)[0]
        assert (latest.ip, latest.user_agent) == (
            "192.0.2.99",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/129.0",
        )

    def test_a_long_user_agent_is_cut_to_255_characters(self) -> None:
        agent = "Mozilla/5.0 " + "x" * 1000
        Client(HTTP_USER_AGENT=agent).get("/login/", ALICE)

        assert [info.user_agent for info in sessions_of(self.alice)] == [agent[:255]]

    def test_without_record_metadata_no_ip_nor_user_agent_is_kept(self) -> None:
        with self.settings(XSESSION={**settings.XSESSION, "RECORD_METADATA": False}):
            self.devices()

            infos = sessions_of(self.alice)

        assert [(info.ip, info.user_agent) for info in infos] == [(None, None)] * 3
        assert [info.created for info in infos] == [
            self.now + 2 * MINUTE,
            self.now + MINUTE,
            self.now,
        ]

    def test_behind_a_proxy_the_first_forwarded_address_is_the_clients(self) -> None:
        with self.settings(XSESSION={**settings.XSESSION, "PROXY": True}):
            self.device(
                "laptop", HTTP_X_FORWARDED_FOR="203.0.113.77, 10.0.0.1, 10.0.0.2"
            )

            assert [info.ip for info in sessions_of(self.alice)] == ["203.0.113.77"]

    def test_without_proxy_forwarded_for_is_not_trusted(self) -> None:
        self.device("laptop", HTTP_X_FORWARDED_FOR="203.0.113.77")

        assert [info.ip for info in sessions_of(self.alice)] == [DEVICES["laptop"][0]]

    # revoke

    def test_revoke_keeping_this_session_logs_out_every_other_device(self) -> None:
        devices = self.devices()
        bobs = self.device("laptop", credentials=BOB)
        sids = {name: sid_of(client) for name, client in devices.items()}

        response = devices["phone"].get("/sessions/revoke-others/")

        assert response.json() == {"ended": 2}
        for name in ("laptop", "tablet"):
            assert self.store.get(sids[name]) is None
            response = devices[name].get("/whoami/")
            assert response.content == b""
            # Not cleared: a dead token may be one a concurrent login just
            # replaced in the browser.
            assert NAME not in response.cookies
        assert self.store.get(sids["phone"]) is not None
        assert whoami(devices["phone"]) == "alice"
        assert devices["phone"].get("/sessions/current/").json() == {"current": [True]}
        assert whoami(bobs) == "bob"

    def test_revoke_chosen_handles_ends_exactly_those(self) -> None:
        devices = self.devices()
        tablet, phone, laptop = self.handles(self.alice)

        assert revoke(self.alice, handles=[tablet]) == 1

        assert whoami(devices["tablet"]) == ""
        assert whoami(devices["phone"]) == "alice"
        assert whoami(devices["laptop"]) == "alice"
        assert self.handles(self.alice) == [phone, laptop]

    def test_revoke_ignores_handles_of_other_users_and_unknown_ones(self) -> None:
        devices = self.devices()
        bobs = self.device("laptop", credentials=BOB)
        [bob_handle] = self.handles(self.bob)

        assert revoke(self.alice, handles=[bob_handle, "0" * 32]) == 0
        assert revoke(self.alice, handles=[]) == 0

        assert whoami(bobs) == "bob"
        assert [whoami(client) for client in devices.values()] == ["alice"] * 3

    def test_revoke_with_keep_and_handles_spares_the_kept_one(self) -> None:
        devices = self.devices()
        tablet, phone, laptop = self.handles(self.alice)
        token = devices["phone"].cookies[NAME].value

        ended = revoke(self.alice, keep=SessionStore(token), handles=[phone, laptop])

        assert ended == 1
        assert self.handles(self.alice) == [tablet, phone]
        assert whoami(devices["laptop"]) == ""

    def test_revoke_without_keep_ends_every_session_of_the_user(self) -> None:
        devices = self.devices()
        bobs = self.device("laptop", credentials=BOB)
        sids = [sid_of(client) for client in devices.values()]

        assert revoke(self.alice) == 3

        assert sessions_of(self.alice) == []
        assert [self.store.get(sid) for sid in sids] == [None] * 3
        assert [whoami(client) for client in devices.values()] == [""] * 3
        assert whoami(bobs) == "bob"
        assert revoke(self.alice) == 0

    def test_integer_ids_of_15_digits_and_more_are_listed_and_revoked(self) -> None:
        # Login code of one's own may store an int primary key (a snowflake
        # id, say) where contrib.auth stores a str.
        users = [
            SimpleNamespace(pk=pk)
            for pk in (1234567890123456789, 1234567890123456788, 123456789012345)
        ]
        sids = []
        for user in users:
            session = SessionStore()
            session["_auth_user_id"] = user.pk
            session.save()
            sids.append(session.id)

        assert [len(sessions_of(user)) for user in users] == [1, 1, 1]
        assert revoke(users[0]) == 1
        assert [self.store.get(sid) is None for sid in sids] == [True, False, False]
        assert [len(sessions_of(user)) for user in users] == [0, 1, 1]
        assert revoke(users[2]) == 1
        assert [len(sessions_of(user)) for user in users] == [0, 1, 0]

    # revoke racing a request that rotates a login's id (a password change)

    def rotating(self, client: Client) -> SessionStore:
        """``client``'s session as a request in flight has it: loaded and its
        id rotated, the request not finished."""
        session = SessionStore(client.cookies[NAME].value)
        assert session.get("_auth_user_id") == str(self.alice.pk)
        session.cycle_key()
        return session

    def skip_unless_replaced_in_two_steps(self) -> None:
        if type(self.store).replace is not Store.replace:
            self.skipTest(
                "this store replaces in one step: tests/test_stores_db.py::"
                "ReplaceTests, tests/test_stores_redis.py"
            )

    def test_a_login_is_stored_under_its_new_id_before_the_old_id_goes(
        self,
    ) -> None:
        self.skip_unless_replaced_in_two_steps()
        devices = self.devices()
        old = sid_of(devices["laptop"])
        destroy = self.store.destroy
        both_at_deletion: list[int] = []

        def counting_destroy(sid: str) -> bool:
            if sid == old:
                both_at_deletion.append(len(sessions_of(self.alice)))
            return destroy(sid)

        with (
            mock.patch.object(self.store, "destroy", counting_destroy),
            recording() as recorder,
        ):
            in_flight = self.rotating(devices["laptop"])

        assert both_at_deletion == [4]
        assert self.store.get(old) is None
        assert self.store.get(in_flight.id) is not None
        assert recorder.sent("regenerated", "old_key_hash") == [Store.digest(old)]

    def test_revoke_ends_a_login_whose_rotation_is_in_flight(self) -> None:
        devices = self.devices()
        in_flight = self.rotating(devices["laptop"])

        keep = SessionStore(devices["phone"].cookies[NAME].value)
        assert revoke(self.alice, keep=keep) == 2

        with pytest.raises(UpdateError):
            in_flight.save()
        assert self.store.get(in_flight.id) is None
        assert [info.ip for info in sessions_of(self.alice)] == [DEVICES["phone"][0]]
        assert whoami(devices["laptop"]) == ""

    def test_a_rotation_of_a_login_revoked_meanwhile_is_undone(self) -> None:
        devices = self.devices()
        in_flight = SessionStore(devices["laptop"].cookies[NAME].value)
        assert in_flight.get("_auth_user_id") == str(self.alice.pk)
        revoke(self.alice)

        with recording() as recorder:
            in_flight.cycle_key()

        assert sessions_of(self.alice) == []
        assert recorder.sent("regenerated") == []
        for _ in range(2):
            # Not on the first save, nor on one after the first was caught.
            with pytest.raises(UpdateError):
                in_flight.save()
        assert sessions_of(self.alice) == []

    def test_a_password_change_racing_log_out_everywhere_is_interrupted(
        self,
    ) -> None:
        laptop = self.device("laptop")

        response = laptop.get("/sessions/rotate-while-revoked/")

        assert response.status_code == 400
        assert sessions_of(self.alice) == []
        assert whoami(laptop) == ""

    def test_a_new_login_after_a_revoked_rotation_and_a_logout_is_kept(
        self,
    ) -> None:
        laptop = self.device("laptop")

        response = laptop.get(
            "/sessions/switch-user-after-revoke/", {"username": "bob"}
        )

        assert response.status_code == 200
        assert whoami(laptop) == "bob"
        assert sessions_of(self.alice) == []
        assert len(sessions_of(self.bob)) == 1

    def test_a_view_that_saves_and_catches_the_interruption_gets_a_400(
        self,
    ) -> None:
        laptop = self.device("laptop")

        response = laptop.get("/sessions/rotate-while-revoked/", {"catch": "1"})

        assert response.status_code == 400
        assert sessions_of(self.alice) == []
        assert whoami(laptop) == ""

    def test_a_password_change_that_revokes_the_others_keeps_this_device(
        self,
    ) -> None:
        devices = self.devices()
        before = sid_of(devices["phone"])

        response = devices["phone"].post("/sessions/password/", {"password": "n3w"})

        assert response.status_code == 200
        assert response.json() == {"current": [False, True, False], "ended": 2}
        assert self.store.get(before) is None
        assert whoami(devices["phone"]) == "alice"
        assert [info.ip for info in sessions_of(self.alice)] == [DEVICES["phone"][0]]
        assert whoami(devices["laptop"]) == ""

    def test_the_same_browsers_request_during_a_password_change_is_harmless(
        self,
    ) -> None:
        laptop = self.device("laptop")

        response = laptop.post("/sessions/password-with-poll/", {"password": "n3w"})

        # The poll carried the replaced id: gone already, so it neither
        # failed the hash check (a flush) nor cleared the cookie.
        assert response.json() == {"poll": "", "poll_cleared": False}
        assert whoami(laptop) == "alice"
        assert len(sessions_of(self.alice)) == 1

    def test_revoke_ends_a_rotation_done_between_listing_and_deleting(self) -> None:
        devices = self.devices()
        listing = self.store.user_sessions
        rotated: list[SessionStore] = []

        def list_then_rotate(user_id: str) -> dict[str, Record]:
            found = listing(user_id)
            if not rotated:
                rotated.append(self.rotating(devices["laptop"]))
            return found

        with mock.patch.object(self.store, "user_sessions", list_then_rotate):
            assert revoke(self.alice) == 3

        assert self.store.get(rotated[0].id) is None
        assert sessions_of(self.alice) == []

    def test_revoke_ends_rotations_that_keep_completing_meanwhile(self) -> None:
        laptop = self.device("laptop")
        destroy_keys = self.store.destroy_keys
        revoked: list[str] = []

        def rotate_then_destroy(keys: list[str]) -> int:
            # The laptop rotates between every listing and deletion, five
            # times, the revoked key each time already replaced.
            if len(revoked) < 5:
                assert laptop.get("/cycle-key/").status_code == 200
            revoked.extend(keys)
            return destroy_keys(keys)

        with (
            mock.patch.object(self.store, "destroy_keys", rotate_then_destroy),
            recording() as recorder,
        ):
            assert revoke(self.alice) == 1

        assert whoami(laptop) == ""
        assert sessions_of(self.alice) == []
        # Each id the laptop had when listed: one statement per listing
        # cannot tell which of them a rotation deleted first.
        assert recorder.sent("revoked") == revoked
        assert len(revoked) == 6

    def test_a_rotation_answered_with_a_500_leaves_no_session(self) -> None:
        laptop = self.device("laptop")
        before = sid_of(laptop)

        response = laptop.get("/rotate-and-fail/")

        assert response.status_code == 500
        assert self.store.get(before) is None
        assert sessions_of(self.alice) == []

    async def test_an_async_rotation_answered_with_a_500_leaves_no_session(
        self,
    ) -> None:
        laptop = await sync_to_async(self.device)("laptop")
        client = AsyncClient()
        client.cookies[NAME] = laptop.cookies[NAME].value

        response = await client.get("/async/rotate-and-fail/")

        assert response.status_code == 500
        assert await asessions_of(self.alice) == []

    def changing_password_while_saves_fail(self, client: Client) -> Any:
        """The password change of ``client`` with every save but the
        rotation's own creation of the new id failing."""
        store_set = self.store.set

        def failing_updates(sid: str, record: Record, **kwargs: Any) -> None:
            if not kwargs.get("create"):
                raise StoreUnavailable("down for a moment")
            store_set(sid, record, **kwargs)

        with (
            mock.patch.object(self.store, "set", failing_updates),
            self.assertLogs("django_xsession", "WARNING"),
        ):
            return client.post("/password/", {"password": "n3w"})

    def test_a_store_failure_after_a_rotation_leaves_no_orphan(self) -> None:
        laptop = self.device("laptop")

        response = self.changing_password_while_saves_fail(laptop)

        assert response.status_code == 503
        assert sessions_of(self.alice) == []

    def test_a_store_failure_after_a_rotation_degraded_leaves_no_orphan(
        self,
    ) -> None:
        laptop = self.device("laptop")
        degrade = {**settings.XSESSION, "ON_STORE_ERROR": "degrade"}

        with self.settings(XSESSION=degrade):
            response = self.changing_password_while_saves_fail(laptop)

        assert response.status_code == 200
        assert NAME not in response.cookies
        assert sessions_of(self.alice) == []

    async def test_a_rotation_in_a_request_the_client_left_leaves_no_session(
        self,
    ) -> None:
        laptop = await sync_to_async(self.device)("laptop")

        async def rotate_then_lose_the_client(request: HttpRequest) -> HttpResponse:
            await request.session.acycle_key()
            # What Django's ASGI handler does on the client's disconnect.
            raise asyncio.CancelledError

        middleware = SessionMiddleware(rotate_then_lose_the_client)
        cookie = f"{NAME}={laptop.cookies[NAME].value}"
        request = RequestFactory().get("/", headers={"cookie": cookie})
        with self.assertRaises(asyncio.CancelledError):
            await middleware(request)  # type: ignore[misc]

        assert await asessions_of(self.alice) == []

    async def test_a_store_failure_after_an_async_rotation_leaves_no_orphan(
        self,
    ) -> None:
        laptop = await sync_to_async(self.device)("laptop")
        client = AsyncClient()
        client.cookies[NAME] = laptop.cookies[NAME].value
        store_aset = self.store.aset

        async def failing_updates(sid: str, record: Record, **kwargs: Any) -> None:
            if not kwargs.get("create"):
                raise StoreUnavailable("down for a moment")
            await store_aset(sid, record, **kwargs)

        with (
            mock.patch.object(self.store, "aset", failing_updates),
            self.assertLogs("django_xsession", "WARNING"),
        ):
            response = await client.get("/async/rotate-and-write/")

        assert response.status_code == 503
        assert await asessions_of(self.alice) == []

    def test_a_rotated_login_that_cannot_be_dropped_keeps_the_response(
        self,
    ) -> None:
        laptop = self.device("laptop")
        destroy = self.store.destroy
        old = sid_of(laptop)

        def failing_but_on_the_old_id(sid: str) -> bool:
            if sid != old:
                raise StoreUnavailable("down for a moment")
            return destroy(sid)

        degrade = {**settings.XSESSION, "ON_STORE_ERROR": "degrade"}
        with (
            self.settings(XSESSION=degrade),
            mock.patch.object(self.store, "destroy", failing_but_on_the_old_id),
            self.assertLogs("django_xsession", "WARNING") as logs,
        ):
            response = laptop.get("/rotate-and-fail/")

        assert response.status_code == 500
        assert "stays stored until it expires" in logs.output[0]

    def test_a_revoked_rotation_answered_with_a_500_is_signalled_once(
        self,
    ) -> None:
        laptop = self.device("laptop")

        with recording() as recorder:
            response = laptop.get("/sessions/rotate-while-revoked/", {"fail": "1"})

        assert response.status_code == 500
        assert len(recorder.sent("revoked")) == 1
        assert recorder.sent("destroyed") == []

    def test_an_oversized_login_rotates_as_an_anonymous_session_does(
        self,
    ) -> None:
        laptop = self.device("laptop")
        old = sid_of(laptop)
        laptop.raise_request_exception = False
        tiny = {**settings.XSESSION, "MAX_SIZE": 16}

        with self.settings(XSESSION=tiny):
            response = laptop.get("/cycle-key/")

        assert response.status_code == 500
        assert self.store.get(old) is None
        assert sessions_of(self.alice) == []
        assert whoami(laptop) == ""

    def test_a_view_replacing_a_rotated_session_leaves_no_orphan(self) -> None:
        laptop = self.device("laptop")
        before = sid_of(laptop)

        response = laptop.get("/rotate-then-replace/")

        assert response.status_code == 200
        assert self.store.get(before) is None
        assert sessions_of(self.alice) == []
        assert whoami(laptop) == ""

    def test_deleting_the_old_key_after_a_rotation_changes_nothing(self) -> None:
        laptop = self.device("laptop")

        response = laptop.get("/rotate-then-delete-old/")

        assert response.status_code == 200
        assert whoami(laptop) == "alice"
        assert len(sessions_of(self.alice)) == 1

    def test_a_store_failure_deleting_the_old_id_leaves_one_login(self) -> None:
        self.skip_unless_replaced_in_two_steps()
        laptop = self.device("laptop")
        old = sid_of(laptop)
        destroy = self.store.destroy

        def failing_on_the_old_id(sid: str) -> bool:
            if sid == old:
                raise StoreUnavailable("down for a moment")
            return destroy(sid)

        with (
            mock.patch.object(self.store, "destroy", failing_on_the_old_id),
            self.assertLogs("django_xsession", "ERROR"),
        ):
            response = laptop.get("/cycle-key/")

        assert response.status_code == 503
        assert NAME not in response.cookies
        assert [info.ip for info in sessions_of(self.alice)] == [DEVICES["laptop"][0]]
        assert whoami(laptop) == "alice"

    async def test_arevoke_ends_a_login_whose_async_rotation_is_in_flight(
        self,
    ) -> None:
        devices = await sync_to_async(self.devices)()
        in_flight = SessionStore(devices["laptop"].cookies[NAME].value)
        assert await in_flight.aget("_auth_user_id") == str(self.alice.pk)
        await in_flight.acycle_key()

        assert await arevoke(self.alice) == 3

        with pytest.raises(UpdateError):
            await in_flight.asave()
        assert await asessions_of(self.alice) == []

    async def test_an_async_rotation_of_a_login_revoked_meanwhile_is_undone(
        self,
    ) -> None:
        devices = await sync_to_async(self.devices)()
        in_flight = SessionStore(devices["laptop"].cookies[NAME].value)
        assert await in_flight.aget("_auth_user_id") == str(self.alice.pk)
        await arevoke(self.alice)

        await in_flight.acycle_key()

        assert await asessions_of(self.alice) == []
        with pytest.raises(UpdateError):
            await in_flight.asave()

    # The async twins

    async def test_asessions_of_lists_as_sessions_of_does(self) -> None:
        await sync_to_async(self.devices)()

        infos = await asessions_of(self.alice)

        assert infos == await sync_to_async(sessions_of)(self.alice)
        assert [(info.ip, info.user_agent) for info in infos] == [
            DEVICES[name] for name in NEWEST_FIRST
        ]

    async def test_async_views_mark_the_current_session_and_revoke_the_others(
        self,
    ) -> None:
        devices = await sync_to_async(self.devices)()
        client = AsyncClient()
        client.cookies[NAME] = devices["phone"].cookies[NAME].value

        response = await client.get("/async/sessions/current/")
        assert response.json() == {"current": [False, True, False]}
        response = await client.get("/async/sessions/revoke-others/")
        assert response.json() == {"ended": 2}

        infos = await asessions_of(self.alice)
        assert [info.ip for info in infos] == [DEVICES["phone"][0]]
        assert (await client.get("/async/sessions/current/")).json() == {
            "current": [True]
        }

    async def test_arevoke_ends_chosen_or_all_sessions(self) -> None:
        devices = await sync_to_async(self.devices)()
        tablet, phone, laptop = [info.handle for info in await asessions_of(self.alice)]

        assert await arevoke(self.alice, handles=[laptop]) == 1
        assert [info.handle for info in await asessions_of(self.alice)] == [
            tablet,
            phone,
        ]
        assert await arevoke(self.alice) == 2
        assert await asessions_of(self.alice) == []
        assert await sync_to_async(whoami)(devices["phone"]) == ""


# One class per store that can list a user's sessions.

REDIS_STORE = {
    "BACKEND": "redis",
    # This process's own prefix: other runs share the suite's database.
    "OPTIONS": {"cache": "redis", "prefix": f"xsession-tests-users-{os.getpid()}:"},
}


@override_settings(XSESSION={"STORE": "memory"})
class MemoryUserSessionTests(UserSessions, TestCase):
    def test_a_never_used_session_is_listed_last_with_naive_times(self) -> None:
        with self.settings(USE_TZ=False):
            self.now = timezone.now().replace(microsecond=0)
            # Only a record written straight to this store can lack last_seen.
            unused = Record(
                data={"_auth_user_id": str(self.alice.pk)},
                expires=self.now + AGE,
                created=self.now,
            )
            self.store.set("never-used-session", unused, create=True)
            self.device("laptop")

            infos = sessions_of(self.alice)

        assert [info.user_agent for info in infos] == [DEVICES["laptop"][1], None]
        assert infos[1].last_seen is None


@override_settings(XSESSION={"STORE": "db"})
class DatabaseUserSessionTests(UserSessions, TestCase):
    pass


@override_settings(XSESSION={"STORE": "cached_db"})
class CachedDatabaseUserSessionTests(UserSessions, TestCase):
    pass


@override_settings(
    XSESSION={"STORE": "db"},
    DATABASE_ROUTERS=["tests.test_stores_db.LaggingReplica"],
)
class ReplicatedDatabaseUserSessionTests(UserSessions, TestCase):
    """Users in "default", their sessions in another database, read through
    a replica that lags: listing and revoking must not read the replica."""

    databases = {"default", "sqlite_file"}  # noqa: RUF012

    def test_revoke_signals_each_session_once_and_ends_one_the_replica_lacks(
        self,
    ) -> None:
        devices = self.devices()
        # The replica has the three logins; a fourth, just now, is not on it.
        for row in SessionRow.objects.using("sqlite_file"):
            row.save(using="default")
        devices["desktop"] = self.device("laptop", at=3 * MINUTE)

        with recording() as recorder:
            assert revoke(self.alice) == 4

        assert sorted(recorder.sent("revoked")) == sorted(
            Store.digest(sid_of(client)) for client in devices.values()
        )
        assert [whoami(client) for client in devices.values()] == [""] * 4


@override_settings(XSESSION={"STORE": REDIS_STORE})
class RedisUserSessionTests(UserSessions, TestCase):
    service = ("Redis", REDIS)


@override_settings(
    XSESSION={"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "default"}}}
)
class CacheStoreTests(TestCase):
    """A Django cache cannot list keys: the per-user API says so plainly."""

    alice: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user(**ALICE)

    def setUp(self) -> None:
        self.client.get("/login/", ALICE)
        assert whoami(self.client) == "alice"

    def test_sessions_of_raises_not_implemented(self) -> None:
        with pytest.raises(NotImplementedError, match="cannot list a user's sessions"):
            sessions_of(self.alice)

    def test_revoke_raises_not_implemented_and_ends_nothing(self) -> None:
        with pytest.raises(NotImplementedError, match="cannot list a user's sessions"):
            revoke(self.alice)

        assert whoami(self.client) == "alice"

    async def test_the_async_twins_raise_not_implemented(self) -> None:
        with pytest.raises(NotImplementedError, match="cannot list a user's sessions"):
            await asessions_of(self.alice)
        with pytest.raises(NotImplementedError, match="cannot list a user's sessions"):
            await arevoke(self.alice)

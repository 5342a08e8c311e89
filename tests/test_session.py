from __future__ import annotations

import asyncio
import datetime
import pickle
from typing import Any
from unittest import mock

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.http import HttpRequest
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils import timezone

from django_xsession import signing
from django_xsession.conf import MAX_SECONDS
from django_xsession.engine import SessionStore
from django_xsession.session import Session
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store, StoreUnavailable
from django_xsession.stores.memory import MemoryStore


class TakenOnUpdateStore(MemoryStore):
    """A store of a project's own that breaks the contract: it answers every
    update with ``CreateError`` (a unique constraint on another column, say)."""

    def set(self, sid: str, record: Record, **kwargs: Any) -> None:
        if not kwargs.get("create"):
            raise CreateError
        super().set(sid, record, **kwargs)


class SessionTestCase(SimpleTestCase):
    def setUp(self) -> None:
        get_store().clear()

    def saved(self, **data: object) -> Session:
        session = SessionStore()
        session.update(data)
        session.save()
        return session


class DjangoSemanticsTests(SessionTestCase):
    def test_a_lifetime_no_date_can_end_is_refused_when_set(self) -> None:
        session = SessionStore()
        century = datetime.timedelta(seconds=MAX_SECONDS)
        for too_long in (
            MAX_SECONDS + 1,
            10.0**12,
            -(10**12),
            float("nan"),
            century + datetime.timedelta(days=1),
            -datetime.timedelta(days=800_000),
            timezone.now() + century + datetime.timedelta(days=1),
        ):
            with (
                self.subTest(too_long=too_long),
                self.assertRaisesMessage(
                    ValueError, "at most 3153600000 seconds (100 years)"
                ),
            ):
                session.set_expiry(too_long)
        with self.assertRaisesMessage(ValueError, "100 years"):
            session.cookie.max_age = 10**12

        session.set_expiry(century)
        session["a"] = 1
        session.save()
        assert SessionStore(session.session_key).get_expiry_age() >= MAX_SECONDS - 5

    def test_session_key_is_the_signed_token(self) -> None:
        session = self.saved(a=1)
        assert session.session_key is not None
        verified = signing.unsign(session.session_key, session.options.secrets)
        assert verified is not None
        assert verified.sid == session.id
        assert Store.digest(session.id) in get_store().all()
        # What the README tells code that keeps session_key in a column: it
        # fits the 40 characters of Django's (and django-allauth's) columns.
        assert len(session.session_key) == 39

    def test_a_key_it_did_not_issue_is_a_new_session_under_an_id_of_ours(
        self,
    ) -> None:
        made_up = "abcdefgh12345678"
        session = SessionStore(made_up)
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            session["a"] = 1
        session.save()

        assert session.session_key not in (None, made_up)
        assert SessionStore(session.session_key).load() == {"a": 1}

    def test_a_new_store_object_loads_by_token(self) -> None:
        session = self.saved(a=1)
        assert SessionStore(session.session_key)["a"] == 1

    def test_save_of_a_session_deleted_elsewhere_raises_update_error(self) -> None:
        session = self.saved(a=1)
        SessionStore(session.session_key).delete()
        session["a"] = 2
        with self.assertRaises(UpdateError):
            session.save()
        assert get_store().all() == {}

    def test_must_create_on_a_taken_id_raises_create_error(self) -> None:
        session = self.saved(a=1)
        other = SessionStore(session.session_key)
        other._session_cache = {}
        other._sid = session.id
        with self.assertRaises(CreateError):
            other.save(must_create=True)

    @override_settings(XSESSION={"STORE": "tests.test_session.TakenOnUpdateStore"})
    def test_a_create_error_from_an_update_is_raised_not_saved_under_a_new_id(
        self,
    ) -> None:
        session = self.saved(a=1)
        token = session.session_key
        session["a"] = 2
        with self.assertRaises(CreateError):
            session.save()
        assert session.session_key == token
        assert [record.data for record in get_store().all().values()] == [{"a": 1}]

    def test_encode_and_decode_agree_with_djangos_engines(self) -> None:
        # Maintenance scripts decode old rows through SESSION_ENGINE.
        from django.contrib.sessions.backends.cache import SessionStore as Theirs

        data = {"cart": "2 apples", "n": 1}
        assert SessionStore().decode(Theirs().encode(data)) == data
        assert Theirs().decode(SessionStore().encode(data)) == data

    def test_a_session_of_a_request_pickles_without_its_request(self) -> None:
        token = self.saved(cart="2 apples").session_key
        request = HttpRequest()
        session = Session(token, request=request)
        assert session["cart"] == "2 apples"

        copy = pickle.loads(pickle.dumps(session))

        assert copy["cart"] == "2 apples"
        assert copy.session_key == token
        assert copy.request is None
        assert session.request is request

    async def test_overlapping_awaits_on_an_unread_session_lose_no_change(
        self,
    ) -> None:
        token = (await sync_to_async(self.saved)(cart="2 apples")).session_key
        session = SessionStore(token)
        store = get_store()
        read = store.aget

        async def slow_read(sid: str) -> object:
            # A store across the network: the load yields to the event loop.
            await asyncio.sleep(0.01)
            return await read(sid)

        with mock.patch.object(store, "aget", slow_read):
            await asyncio.gather(session.aset("colour", "blue"), session.aget("cart"))
            await session.asave()

        assert await session.aget("colour") == "blue"
        assert await SessionStore(token).aget("colour") == "blue"
        # Still pickles, its lock left behind with its event loop.
        assert pickle.loads(pickle.dumps(session))["colour"] == "blue"

    def test_test_cookie_trio(self) -> None:
        session = SessionStore()
        session.set_test_cookie()
        assert session.test_cookie_worked()
        session.delete_test_cookie()
        assert not session.test_cookie_worked()

    def test_unsigned_key_loads_nothing(self) -> None:
        session = self.saved(a=1)
        with self.assertLogs("django.security.SuspiciousSession", "WARNING"):
            assert SessionStore(session.id).load() == {}


@override_settings(XSESSION={**settings.XSESSION, "STORE": "db"})
class ClearExpiredTests(TestCase):
    # The database store keeps an expired session until it is cleared;
    # the memory store drops one on its next write.
    def expired_beside_a_live_one(self) -> tuple[str, str]:
        """The keys of a session that expires in a minute and of one that lasts."""
        stale = SessionStore()
        stale["a"] = 1
        stale.set_expiry(60)
        stale.save()
        live = SessionStore()
        live["b"] = 2
        live.save()
        assert stale.session_key is not None
        assert live.session_key is not None
        return stale.session_key, live.session_key

    def test_exists_is_false_for_an_expired_session_not_yet_cleared(self) -> None:
        stale, live = self.expired_beside_a_live_one()

        with mock.patch("django.utils.timezone.now", return_value=two_minutes_on()):
            assert get_store().count_expired() == 1
            assert not SessionStore().exists(stale)
            assert SessionStore().exists(live)

    def test_clear_expired_removes_expired_sessions(self) -> None:
        _, live = self.expired_beside_a_live_one()

        with mock.patch("django.utils.timezone.now", return_value=two_minutes_on()):
            assert get_store().count_expired() == 1
            SessionStore.clear_expired()
            assert get_store().count_expired() == 0
            assert SessionStore(live).load() == {"b": 2}

    async def test_aclear_expired_removes_expired_sessions(self) -> None:
        _, live = await sync_to_async(self.expired_beside_a_live_one)()

        with mock.patch("django.utils.timezone.now", return_value=two_minutes_on()):
            assert await get_store().acount_expired() == 1
            await SessionStore.aclear_expired()
            assert await get_store().acount_expired() == 0
            assert await SessionStore(live).aload() == {"b": 2}


def two_minutes_on() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=120)


class CookieAttributeTests(SessionTestCase):
    def test_max_age_is_the_remaining_lifetime(self) -> None:
        session = self.saved(a=1)
        assert session.cookie.max_age == 1209600
        assert session.cookie.original_max_age == 1209600
        expires = session.cookie.expires
        assert expires is not None
        assert abs((expires - timezone.now()).total_seconds() - 1209600) < 5

    def test_max_age_of_a_loaded_session_counts_down_to_its_stored_expiry(
        self,
    ) -> None:
        session = self.saved(a=1)
        in_an_hour = timezone.now() + datetime.timedelta(hours=1)
        assert get_store().touch(session.id, in_an_hour)

        loaded = SessionStore(session.session_key)

        max_age = loaded.cookie.max_age
        assert max_age is not None and 3590 <= max_age <= 3600
        expires = loaded.cookie.expires
        assert expires is not None
        assert abs((expires - in_an_hour).total_seconds()) < 1
        assert loaded.cookie.original_max_age == 1209600
        loaded.set_expiry(600)
        assert loaded.cookie.max_age == 600

    @override_settings(XSESSION={"STORE": "memory", "ABSOLUTE_TIMEOUT": 60})
    def test_the_expiry_age_past_the_absolute_deadline_is_zero(self) -> None:
        session = self.saved(a=1)
        assert 55 <= session.get_expiry_age() <= 60
        later = timezone.now() + datetime.timedelta(seconds=120)
        assert session.get_expiry_age(modification=later) == 0

    def test_setting_max_age(self) -> None:
        session = SessionStore()
        session.cookie.max_age = 3600
        assert session.cookie.original_max_age == 3600
        assert session.get_expiry_age() == 3600
        session.cookie.max_age = datetime.timedelta(hours=2)
        assert session.get_expiry_age() == 7200
        session.cookie.max_age = None
        assert session.get_expire_at_browser_close()
        assert session.cookie.expires is None
        assert session.cookie.max_age is None
        assert session.cookie.original_max_age is None
        with self.assertRaises(ValueError):
            session.cookie.max_age = 0

    def test_a_float_expiry_reads_back_in_whole_seconds(self) -> None:
        session = SessionStore()
        # social-auth's SESSION_EXPIRATION passes a float.
        session.set_expiry(3599.25)
        assert session.cookie.max_age == 3600
        assert type(session.cookie.max_age) is int
        assert session.cookie.original_max_age == 3600
        assert type(session.cookie.original_max_age) is int

    def test_setting_expires(self) -> None:
        session = SessionStore()
        moment = timezone.now() + datetime.timedelta(days=3)
        session.cookie.expires = moment
        assert session.get_expiry_date() == moment

    def test_attributes_default_to_the_options_and_persist_per_session(self) -> None:
        session = SessionStore()
        assert session.cookie.path == "/"
        assert session.cookie.samesite == "Lax"
        session.cookie.samesite = "Strict"
        session["a"] = 1
        session.save()
        loaded = SessionStore(session.session_key)
        assert loaded.get("a") == 1
        assert loaded.cookie.samesite == "Strict"
        assert loaded.cookie.httponly is True
        with self.assertRaises(AttributeError):
            loaded.cookie.colour  # noqa: B018

    def test_bad_attribute_values_are_refused_at_once(self) -> None:
        session = SessionStore()
        for name, value in [
            ("samesite", "Sideways"),
            ("priority", "urgent"),
            ("path", "relative"),
            ("path", "/x; Domain=evil.example"),
            ("path", "/a b"),
            ("domain", "example.com; SameSite=None"),
            ("domain", "exa mple.com"),
            ("domain", "例え.jp"),
            ("domain", 3),
            ("secure", "yes"),
            ("httponly", 1),
        ]:
            with self.assertRaisesMessage(ValueError, f"cookie.{name} must"):
                setattr(session.cookie, name, value)
        session.cookie.samesite = "strict"
        assert session.cookie.samesite == "Strict"
        # What browsers accept is theirs to judge: only what would add an
        # attribute of its own is refused.
        for domain in (".example.com", "my_host.internal", "example.com.", "bücher.de"):
            session.cookie.domain = domain
            assert session.cookie.domain == domain
        session.cookie.domain = ""
        assert session.cookie.domain is None
        session.cookie.path = "/caf%C3%A9/a,b"
        assert session.cookie.path == "/caf%C3%A9/a,b"
        # Browsers compare it with the URL's path, which is percent-encoded.
        with self.assertRaisesMessage(
            ValueError, "cookie.path must be percent-encoded, as browsers"
        ):
            session.cookie.path = "/café/a,b"

    def test_samesite_none_needs_a_secure_cookie(self) -> None:
        session = SessionStore()
        with self.assertRaisesMessage(ValueError, "need cookie.secure True"):
            session.cookie.samesite = "None"
        assert session.cookie.samesite == "Lax"
        session.cookie.secure = True
        session.cookie.samesite = "None"
        assert session.cookie.samesite == "None"
        with self.assertRaisesMessage(ValueError, "need cookie.secure True"):
            session.cookie.secure = False
        assert session.cookie.secure is True

    def test_partitioned_needs_a_secure_cookie(self) -> None:
        session = SessionStore()
        with self.assertRaisesMessage(ValueError, "need cookie.secure True"):
            session.cookie.partitioned = True
        assert session.cookie.partitioned is False
        session.cookie.secure = True
        session.cookie.partitioned = True
        with self.assertRaisesMessage(ValueError, "need cookie.secure True"):
            session.cookie.secure = "auto"

    @override_settings(
        XSESSION={"COOKIE": {"SECURE": True, "SAMESITE": "None"}},
    )
    def test_a_secure_samesite_none_setting_cannot_lose_secure(self) -> None:
        session = SessionStore()
        with self.assertRaisesMessage(ValueError, "need cookie.secure True"):
            session.cookie.secure = False

    @override_settings(
        SESSION_COOKIE_NAME="__Host-sessionid",
        XSESSION={"STORE": "memory", "COOKIE": {"SECURE": True}},
    )
    def test_a_host_prefixed_cookie_keeps_what_browsers_require(self) -> None:
        session = SessionStore()
        for name, value, needs in (
            ("secure", False, "True or 'auto'"),
            ("path", "/app", "'/'"),
            ("domain", "example.com", "None"),
        ):
            with self.assertRaisesMessage(
                ValueError,
                f"cookie.{name} must be {needs} for a cookie named "
                "'__Host-sessionid', or browsers drop it",
            ):
                setattr(session.cookie, name, value)
        session.cookie.secure = "auto"
        session.cookie.domain = ""
        session["a"] = 1
        session.save()
        loaded = SessionStore(session.session_key)
        assert (loaded.cookie.secure, loaded.cookie.path, loaded.cookie.domain) == (
            "auto",
            "/",
            None,
        )

    @override_settings(
        SESSION_COOKIE_NAME="__secure-sessionid",
        XSESSION={"STORE": "memory", "COOKIE": {"SECURE": True}},
    )
    def test_a_secure_prefixed_cookie_cannot_lose_secure(self) -> None:
        session = SessionStore()
        with self.assertRaisesMessage(ValueError, "cookie.secure must be True or"):
            session.cookie.secure = False
        session.cookie.path = "/app"
        session.cookie.domain = "example.com"
        assert session.cookie.secure is True

    @override_settings(
        XSESSION={
            "EXPIRES": datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
        }
    )
    def test_fixed_expires_option(self) -> None:
        session = SessionStore()
        assert session.get_expiry_date() == datetime.datetime(
            2099, 1, 1, tzinfo=datetime.timezone.utc
        )
        assert not session.get_expire_at_browser_close()


class ExpressApiTests(SessionTestCase):
    def test_id_is_created_on_first_use(self) -> None:
        session = SessionStore()
        assert session.session_key is None
        sid = session.id
        assert len(sid) == 22
        assert session.session_key == signing.sign(sid, session.options.secrets)

    def test_regenerate_drops_data_by_default(self) -> None:
        session = self.saved(a=1)
        old_id = session.id
        session.regenerate()
        assert session.id != old_id
        assert dict(session.items()) == {}
        assert not session.exists(signing.sign(old_id, session.options.secrets))

    def test_regenerate_keep_data(self) -> None:
        session = self.saved(a=1)
        old = session.session_key
        session.regenerate(keep_data=True)
        session.save()
        assert session.session_key != old
        assert SessionStore(session.session_key)["a"] == 1
        assert get_store().length() == 1

    def test_destroy(self) -> None:
        session = self.saved(a=1)
        session.destroy()
        assert session.session_key is None
        assert dict(session.items()) == {}
        assert get_store().length() == 0

    def test_reload_drops_unsaved_changes(self) -> None:
        session = self.saved(a=1)
        other = SessionStore(session.session_key)
        other["b"] = 2
        other.save()
        session["a"] = 99
        session.reload()
        assert dict(session.items()) == {"a": 1, "b": 2}

    def test_reload_of_a_deleted_session(self) -> None:
        session = self.saved(a=1)
        SessionStore(session.session_key).delete()
        with self.assertRaises(SessionInterrupted):
            session.reload()

    @override_settings(XSESSION={"STORE": "memory", "IDLE_TIMEOUT": 600})
    def test_reload_of_a_session_past_its_idle_timeout(self) -> None:
        session = self.saved(a=1)
        later = timezone.now() + datetime.timedelta(seconds=601)
        with (
            mock.patch("django.utils.timezone.now", return_value=later),
            self.assertRaises(SessionInterrupted),
        ):
            session.reload()

    @override_settings(XSESSION={"STORE": "memory", "IDLE_TIMEOUT": 600})
    def test_a_save_past_the_idle_timeout_by_an_earlier_load_counts_as_use(
        self,
    ) -> None:
        # A long upload, or a Channels consumer holding its scope's session.
        token = self.saved(a=1).session_key
        held = SessionStore(token)
        assert held["a"] == 1
        later = timezone.now() + datetime.timedelta(seconds=601)
        with mock.patch("django.utils.timezone.now", return_value=later):
            held["b"] = 2
            held.save()
        still = later + datetime.timedelta(seconds=300)
        with mock.patch("django.utils.timezone.now", return_value=still):
            assert SessionStore(token).load() == {"a": 1, "b": 2}

    def test_touch_refreshes_the_stored_expiry_only(self) -> None:
        session = self.saved(a=1)
        session.set_expiry(60)
        session.save()
        (before,) = get_store().all().values()
        session.set_expiry(7200)
        assert session.touch()
        (after,) = get_store().all().values()
        assert after.expires > before.expires
        assert after.data == before.data

    def test_touch_of_an_unsaved_session(self) -> None:
        assert not SessionStore().touch()


class AsyncTwinTests(SessionTestCase):
    async def test_async_mapping_and_storage(self) -> None:
        session = SessionStore()
        await session.aset("a", 1)
        await session.aupdate({"b": 2})
        assert await session.asetdefault("c", 3) == 3
        assert await session.ahas_key("a")
        assert sorted(await session.akeys()) == ["a", "b", "c"]
        assert sorted(await session.avalues()) == [1, 2, 3]
        assert await session.apop("c") == 3
        await session.aset_expiry(600)
        assert await session.aget_expiry_age() == 600
        assert not await session.aget_expire_at_browser_close()
        await session.asave()
        loaded = SessionStore(session.session_key)
        assert await loaded.aget("a") == 1
        assert sorted(await loaded.aitems()) == [
            ("_session_expiry", 600),
            ("a", 1),
            ("b", 2),
        ]
        assert await loaded.aexists(session.session_key)

    async def test_async_key_rotation_and_end(self) -> None:
        session = SessionStore()
        await session.aset("a", 1)
        await session.acreate()
        old = session.session_key
        await session.acycle_key()
        await session.asave()
        assert session.session_key != old
        assert not await session.aexists(old)
        await session.aregenerate(keep_data=True)
        await session.asave()
        assert await session.aget("a") == 1
        assert await session.atouch()
        await session.areload()
        await session.aset_test_cookie()
        assert await session.atest_cookie_worked()
        await session.adelete_test_cookie()
        await session.adestroy()
        assert session.session_key is None
        assert await get_store().alength() == 0

    async def test_aflush_ends_the_session_and_adelete_after_it_is_harmless(
        self,
    ) -> None:
        session = SessionStore()
        await session.aset("a", 1)
        await session.asave()
        await session.aflush()
        assert await get_store().alength() == 0
        await session.adelete()


LOGIN = {"_auth_user_id": "1", "cart": "2 apples"}


class KeyRotationTests(SessionTestCase):
    def test_two_rotations_in_one_request_save(self) -> None:
        # get_user() rotating under SECRET_KEY_FALLBACKS, then the view's
        # update_session_auth_hash(); or regenerate(keep_data=True), login().
        session = SessionStore(self.saved(**LOGIN).session_key)
        session.cycle_key()
        session.cycle_key()
        session.save()

        assert SessionStore(session.session_key).load() == LOGIN

    async def test_two_async_rotations_in_one_request_save(self) -> None:
        token = (await sync_to_async(self.saved)(**LOGIN)).session_key
        session = SessionStore(token)
        await session.acycle_key()
        await session.acycle_key()
        await session.asave()

        assert await SessionStore(session.session_key).aload() == LOGIN

    def test_a_login_ended_meanwhile_does_not_live_on_under_a_new_id(self) -> None:
        session = SessionStore(self.saved(**LOGIN).session_key)
        assert session.get("cart") == "2 apples"
        SessionStore(session.session_key).delete()  # a logout elsewhere

        session.cycle_key()
        with self.assertRaises(UpdateError):
            session.save()

        assert get_store().length() == 0

    def test_a_flush_after_a_rotation_ends_the_old_id_too(self) -> None:
        session = SessionStore(self.saved(**LOGIN).session_key)
        session.cycle_key()

        session.flush()

        assert get_store().length() == 0

    async def test_an_async_flush_after_a_rotation_ends_the_old_id_too(self) -> None:
        token = (await sync_to_async(self.saved)(**LOGIN)).session_key
        session = SessionStore(token)
        await session.acycle_key()

        await session.aflush()

        assert await get_store().alength() == 0

    def test_anonymous_data_ended_meanwhile_moves_to_the_new_id(self) -> None:
        # Nothing to revoke, and a login that follows must not fail.
        session = SessionStore(self.saved(cart="2 apples").session_key)
        assert session.get("cart") == "2 apples"
        SessionStore(session.session_key).delete()

        session.cycle_key()
        session.save()

        assert SessionStore(session.session_key).load() == {"cart": "2 apples"}

    def test_outside_a_request_the_new_id_is_stored_at_once(self) -> None:
        # A script or a task has no response to save it, as Django's
        # cycle_key needs none.
        session = SessionStore(self.saved(cart="2 apples").session_key)
        old = session.session_key

        session.cycle_key()

        assert SessionStore(session.session_key).load() == {"cart": "2 apples"}
        assert not session.exists(old)

    def test_outside_a_request_a_login_moves_at_once(self) -> None:
        session = SessionStore(self.saved(**LOGIN).session_key)
        old = session.session_key

        session.cycle_key()

        assert SessionStore(session.session_key).load() == LOGIN
        assert not session.exists(old)

    def test_outside_a_request_an_unsaved_session_is_stored_by_cycle_key(
        self,
    ) -> None:
        session = SessionStore()
        session["cart"] = "2 apples"

        session.cycle_key()

        assert SessionStore(session.session_key).load() == {"cart": "2 apples"}

    def test_outside_a_request_a_failed_save_keeps_the_old_id(self) -> None:
        session = SessionStore(self.saved(cart="2 apples").session_key)
        old = session.session_key
        assert session.get("cart") == "2 apples"
        degrade = {**settings.XSESSION, "ON_STORE_ERROR": "degrade"}
        down = StoreUnavailable("writes refused")

        with (
            self.settings(XSESSION=degrade),
            mock.patch.object(type(get_store()), "set", side_effect=down),
            self.assertLogs("django_xsession", "WARNING"),
        ):
            session.cycle_key()

        assert session.store_unavailable
        assert SessionStore(old).load() == {"cart": "2 apples"}

    async def test_outside_a_request_acycle_key_stores_at_once(self) -> None:
        token = (await sync_to_async(self.saved)(cart="2 apples")).session_key
        session = SessionStore(token)

        await session.acycle_key()

        assert await SessionStore(session.session_key).aload() == {"cart": "2 apples"}
        assert not await session.aexists(token)

    def test_a_new_id_is_due_a_touch_whatever_the_old_one_had(self) -> None:
        session = SessionStore(self.saved(a=1).session_key)
        with self.settings(XSESSION={**settings.XSESSION, "TOUCH_AFTER": 0}):
            assert session.touch()
            assert not session.touch_due()
            session.cycle_key()
            assert session.touch_due()

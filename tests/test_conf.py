"""The ``XSESSION`` setting read into one frozen ``Options`` object."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.test import SimpleTestCase, override_settings

from django_xsession.conf import (
    WATCHED_SETTINGS,
    CookieOptions,
    Options,
    StoreConfig,
    get_options,
    read_options,
)
from django_xsession.stores import store_for
from django_xsession.stores.base import Store

MEMORY_STORE = "django_xsession.stores.memory.MemoryStore"
DB_STORE = "django_xsession.stores.db.DatabaseStore"
TEST_SECRET_KEY = "django-xsession-tests-not-secret"
EXPIRES = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def make_id(request: HttpRequest | None) -> str:
    """A GENID callable for the tests."""
    return "a" * 32


class OtherStore(Store):
    """A Store subclass that is not the memory store."""


class UrlStore(Store):
    """A store of the project's own that takes options."""

    def __init__(self, *, url: str, timeout: int) -> None:
        self.url = url
        self.timeout = timeout


class CamelCaseStore(Store):
    """A store whose keyword argument has capitals."""

    def __init__(self, *, dbPath: str = "sessions.sqlite3") -> None:
        self.path = dbPath


def read(xsession: Any) -> Options:
    """The options read from ``XSESSION=xsession``, asserting no problem."""
    with override_settings(XSESSION=xsession):
        options, problems = read_options()
    assert problems == [], problems
    return options


@override_settings(XSESSION={})
class DefaultsTests(SimpleTestCase):
    def test_store_is_the_database_store(self) -> None:
        assert get_options().store == StoreConfig(DB_STORE, {})

    def test_store_errors_raise(self) -> None:
        assert get_options().on_store_error == "raise"
        with self.settings(XSESSION={"ON_STORE_ERROR": "degrade"}):
            assert get_options().on_store_error == "degrade"

    def test_name_is_session_cookie_name(self) -> None:
        assert get_options().name == "sessionid"
        with self.settings(SESSION_COOKIE_NAME="sid"):
            assert get_options().name == "sid"

    def test_secrets_are_secret_key_and_fallbacks(self) -> None:
        assert settings.SECRET_KEY == TEST_SECRET_KEY
        assert get_options().secrets == (TEST_SECRET_KEY,)
        with self.settings(SECRET_KEY_FALLBACKS=["old", "older"]):
            assert get_options().secrets == (TEST_SECRET_KEY, "old", "older")
        with self.settings(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"]):
            assert get_options().secrets == ("new", "old")

    def test_max_age_is_session_cookie_age(self) -> None:
        assert get_options().max_age == 1_209_600
        assert get_options().expires is None
        with self.settings(SESSION_COOKIE_AGE=60):
            assert get_options().max_age == 60

    @override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True)
    def test_max_age_is_none_when_session_expires_at_browser_close(self) -> None:
        assert get_options().max_age is None
        assert get_options().expires is None

    def test_flags(self) -> None:
        options = get_options()

        assert options.rolling is False
        assert options.resave is False
        assert options.save_uninitialized is False
        assert options.unset == "keep"
        assert options.proxy is None
        assert options.genid is None

    def test_cookie(self) -> None:
        assert get_options().cookie == CookieOptions(
            path="/",
            domain=None,
            secure=False,
            httponly=True,
            samesite="Lax",
            partitioned=False,
            priority=None,
        )

    @override_settings(
        SESSION_COOKIE_PATH="/app/",
        SESSION_COOKIE_DOMAIN=".example.com",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    def test_cookie_from_django_settings(self) -> None:
        assert get_options().cookie == CookieOptions(
            path="/app/",
            domain=".example.com",
            secure=True,
            httponly=False,
            samesite="Strict",
            partitioned=False,
            priority=None,
        )

    @override_settings(SESSION_COOKIE_SAMESITE=None)
    def test_cookie_samesite_none_from_django_settings(self) -> None:
        assert get_options().cookie.samesite is None

    def test_whole_options_object(self) -> None:
        assert get_options() == Options(
            store=StoreConfig(DB_STORE, {}),
            name="sessionid",
            secrets=(TEST_SECRET_KEY,),
            max_age=1_209_600,
            expires=None,
        )

    def test_reading_defaults_finds_no_problem(self) -> None:
        assert read_options()[1] == []

    def test_missing_xsession_setting_gives_the_defaults(self) -> None:
        with self.settings():
            del settings.XSESSION
            assert not hasattr(settings, "XSESSION")
            options, problems = read_options()

        assert problems == []
        assert options == read({})


class ValueTests(SimpleTestCase):
    def test_string_secret_becomes_a_one_tuple(self) -> None:
        assert read({"SECRETS": "only"}).secrets == ("only",)

    def test_secret_list_becomes_a_tuple_in_order(self) -> None:
        assert read({"SECRETS": ["new", "old"]}).secrets == ("new", "old")

    def test_max_age_in_seconds(self) -> None:
        options = read({"MAX_AGE": 60})

        assert options.max_age == 60
        assert options.expires is None

    def test_max_age_timedelta_becomes_seconds(self) -> None:
        max_age = read({"MAX_AGE": datetime.timedelta(hours=2)}).max_age

        assert max_age == 7200
        assert type(max_age) is int
        assert read({"MAX_AGE": datetime.timedelta(seconds=90.7)}).max_age == 90

    def test_timeouts_take_a_timedelta_in_whole_seconds(self) -> None:
        minutes = datetime.timedelta(minutes=10)
        options = read(
            {
                "IDLE_TIMEOUT": minutes,
                "ABSOLUTE_TIMEOUT": 6 * minutes,
                "TOUCH_AFTER": datetime.timedelta(seconds=60.7),
            }
        )

        assert (options.idle_timeout, options.absolute_timeout) == (600, 3600)
        assert options.touch_after == 60
        assert type(options.touch_after) is int

    def test_max_age_none_means_browser_session(self) -> None:
        options = read({"MAX_AGE": None})

        assert options.max_age is None
        assert options.expires is None

    def test_expires(self) -> None:
        with self.settings(XSESSION={"EXPIRES": EXPIRES}):
            options, problems = read_options()

        assert options.expires == EXPIRES
        assert options.max_age is None
        assert [problem.id for problem in problems] == ["xsession.W001"]

    def test_expires_after_max_age_wins(self) -> None:
        with self.settings(XSESSION={"MAX_AGE": 60, "EXPIRES": EXPIRES}):
            options = get_options()

        assert options.expires == EXPIRES
        assert options.max_age is None

    def test_max_age_after_expires_wins(self) -> None:
        with self.settings(XSESSION={"EXPIRES": EXPIRES, "MAX_AGE": 60}):
            options = get_options()

        assert options.max_age == 60
        assert options.expires is None

    def test_flags(self) -> None:
        options = read(
            {
                "ROLLING": True,
                "RESAVE": True,
                "SAVE_UNINITIALIZED": True,
                "UNSET": "destroy",
                "PROXY": False,
            }
        )

        assert options.rolling is True
        assert options.resave is True
        assert options.save_uninitialized is True
        assert options.unset == "destroy"
        assert options.proxy is False
        assert read({"PROXY": True}).proxy is True

    def test_name(self) -> None:
        assert read({"NAME": "sessionid"}).name == "sessionid"
        assert (
            read({"NAME": "__Host-sid", "COOKIE": {"SECURE": True}}).name
            == "__Host-sid"
        )

    def test_genid_dotted_path_is_imported(self) -> None:
        assert read({"GENID": "tests.test_conf.make_id"}).genid is make_id

    def test_genid_callable_is_kept(self) -> None:
        assert read({"GENID": make_id}).genid is make_id

    def test_invalid_values_fall_back_to_defaults(self) -> None:
        with self.settings(
            XSESSION={
                "STORE": "nope",
                "NAME": "bad name;",
                "SECRETS": 3,
                "MAX_AGE": -1,
                "ROLLING": "yes",
                "UNSET": "maybe",
                "PROXY": "yes",
                "GENID": "os.sep",
                "COOKIE": {"PATH": "nope", "SAMESITE": "sideways", "PRIORITY": "x"},
            }
        ):
            options, problems = read_options()

        assert options.store == StoreConfig(DB_STORE, {})
        assert options.name == "sessionid"
        assert options.secrets == ("",)
        assert options.max_age == 1_209_600
        assert options.rolling is False
        assert options.unset == "keep"
        assert options.proxy is None
        assert options.genid is None
        assert options.cookie.path == "/"
        assert options.cookie.samesite == "Lax"
        assert options.cookie.priority is None
        assert all(problem.is_error for problem in problems)
        assert len(problems) == 11


class CookieTests(SimpleTestCase):
    def cookie(self, **cookie: Any) -> CookieOptions:
        return read({"COOKIE": cookie}).cookie

    def test_samesite_is_case_insensitive_and_normalised(self) -> None:
        assert self.cookie(SAMESITE="lax").samesite == "Lax"
        assert self.cookie(SAMESITE="STRICT").samesite == "Strict"
        assert self.cookie(SAMESITE="Strict").samesite == "Strict"
        assert self.cookie(SAMESITE="none", SECURE=True).samesite == "None"

    def test_samesite_auto_is_kept(self) -> None:
        assert self.cookie(SAMESITE="auto").samesite == "auto"
        assert self.cookie(SAMESITE="Auto").samesite == "auto"

    def test_samesite_false_or_none_means_no_attribute(self) -> None:
        assert self.cookie(SAMESITE=False).samesite is None
        assert self.cookie(SAMESITE=None).samesite is None

    def test_priority_is_case_insensitive_and_normalised(self) -> None:
        assert self.cookie(PRIORITY="high").priority == "High"
        assert self.cookie(PRIORITY="LOW").priority == "Low"
        assert self.cookie(PRIORITY="Medium").priority == "Medium"
        assert self.cookie(PRIORITY=None).priority is None

    @override_settings(
        SESSION_COOKIE_PATH="/django/",
        SESSION_COOKIE_DOMAIN="django.example",
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    def test_cookie_keys_override_django_settings(self) -> None:
        assert self.cookie(
            PATH="/app/",
            DOMAIN=".example.com",
            SECURE=True,
            HTTPONLY=False,
            SAMESITE="strict",
            PARTITIONED=True,
            PRIORITY="high",
        ) == CookieOptions(
            path="/app/",
            domain=".example.com",
            secure=True,
            httponly=False,
            samesite="Strict",
            partitioned=True,
            priority="High",
        )

    def test_secure_auto_is_kept(self) -> None:
        assert self.cookie(SECURE="auto").secure == "auto"


class StoreTests(SimpleTestCase):
    def test_alias(self) -> None:
        assert read({"STORE": "memory"}).store == StoreConfig(MEMORY_STORE, {})

    def test_backend_and_options_with_lower_cased_keys(self) -> None:
        store = read({"STORE": {"BACKEND": "memory", "OPTIONS": {"MAX_ENTRIES": 5}}})

        assert store.store == StoreConfig(MEMORY_STORE, {"max_entries": 5})

    def test_backend_without_options(self) -> None:
        assert read({"STORE": {"BACKEND": "memory"}}).store == StoreConfig(
            MEMORY_STORE, {}
        )

    def test_dotted_path(self) -> None:
        assert read({"STORE": "tests.test_conf.OtherStore"}).store == StoreConfig(
            "tests.test_conf.OtherStore", {}
        )
        assert read({"STORE": MEMORY_STORE}).store == StoreConfig(MEMORY_STORE, {})

    def test_dotted_path_with_options(self) -> None:
        store = read(
            {
                "STORE": {
                    "BACKEND": "tests.test_conf.UrlStore",
                    "OPTIONS": {"Url": "x", "timeout": 3},
                }
            }
        ).store

        assert store == StoreConfig(
            "tests.test_conf.UrlStore", {"url": "x", "timeout": 3}
        )

    def test_options_reach_keyword_arguments_with_capitals(self) -> None:
        backend = "tests.test_conf.CamelCaseStore"
        for given in ("dbPath", "DBPATH", "dbpath"):
            options = read(
                {"STORE": {"BACKEND": backend, "OPTIONS": {given: "x.sqlite3"}}}
            )

            assert options.store == StoreConfig(backend, {"dbPath": "x.sqlite3"})
            store = store_for(options.store)
            assert isinstance(store, CamelCaseStore) and store.path == "x.sqlite3"


class CacheTests(SimpleTestCase):
    def test_options_are_cached(self) -> None:
        assert get_options() is get_options()

    def test_override_settings_is_seen_at_once_and_restored(self) -> None:
        before = get_options()
        assert before.rolling is False

        with self.settings(XSESSION={"ROLLING": True, "NAME": "sid"}):
            during = get_options()
            assert during.rolling is True
            assert during.name == "sid"

        after = get_options()
        assert after.rolling is False
        assert after.name == "sessionid"
        assert after == before

    def test_decorator_override_is_seen(self) -> None:
        @override_settings(XSESSION={"UNSET": "destroy"})
        def unset() -> str:
            return get_options().unset

        assert unset() == "destroy"
        assert get_options().unset == "keep"

    def test_every_watched_setting_rebuilds_the_options(self) -> None:
        changes: dict[str, Any] = {
            "XSESSION": {"RESAVE": True},
            "SECRET_KEY": "another-secret",
            "SECRET_KEY_FALLBACKS": ["old"],
            "SESSION_COOKIE_NAME": "sid",
            "SESSION_COOKIE_AGE": 60,
            "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
            "SESSION_COOKIE_PATH": "/app/",
            "SESSION_COOKIE_DOMAIN": ".example.com",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_HTTPONLY": False,
            "SESSION_COOKIE_SAMESITE": "Strict",
        }
        assert set(changes) == WATCHED_SETTINGS
        before = get_options()

        for setting, value in changes.items():
            with self.settings(**{setting: value}):
                during = get_options()
                assert during != before, setting
                assert during == read_options()[0], setting
            assert get_options() == before, setting

    def test_unwatched_setting_keeps_the_cached_options(self) -> None:
        before = get_options()

        with self.settings(DEBUG=True):
            assert get_options() is before


class FrozenTests(SimpleTestCase):
    def test_options_are_frozen(self) -> None:
        options = get_options()

        with self.assertRaises(dataclasses.FrozenInstanceError):
            options.rolling = True  # type: ignore[misc]
        assert get_options().rolling is False

    def test_cookie_options_are_frozen(self) -> None:
        with self.assertRaises(dataclasses.FrozenInstanceError):
            get_options().cookie.secure = True  # type: ignore[misc]

    def test_store_config_is_frozen(self) -> None:
        with self.assertRaises(dataclasses.FrozenInstanceError):
            get_options().store.backend = "x"  # type: ignore[misc]

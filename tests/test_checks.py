"""System checks: every check id fires for its mistake and only for it."""

from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import redis.exceptions
from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.http import HttpRequest
from django.test import RequestFactory, SimpleTestCase, override_settings
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from django_xsession import checks as xsession_checks
from django_xsession import conf, stores
from django_xsession.checks import (
    DJANGO_MIDDLEWARE,
    OUR_ENGINE,
    OUR_MIDDLEWARE,
    check_deployment,
    check_settings,
)
from django_xsession.conf import get_options
from django_xsession.stores import redis as redis_store_module
from django_xsession.stores.base import Store

# Every id the tests below prove; the source must use exactly these.
TESTED_IDS = frozenset(
    {f"xsession.E{number:03d}" for number in range(1, 17)}
    | {f"xsession.W{number:03d}" for number in range(1, 20)}
)

SECURE_COOKIE = {"SECURE": True}
IN_A_YEAR = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)


def make_id(request: HttpRequest | None) -> str:
    """A GENID callable for the tests."""
    return "a" * 32


def no_argument() -> str:
    """A GENID callable that cannot take the request."""
    return "a" * 32


def two_arguments(request: HttpRequest | None, length: int) -> str:
    """A GENID callable that needs more than the request."""
    return "a" * length


def request_and_options(request: HttpRequest | None, *, length: int = 32) -> str:
    """A GENID callable taking the request and optional keywords."""
    return "a" * length


async def async_make_id(request: HttpRequest | None) -> str:
    """An async GENID, which sync code could not call."""
    return "a" * 32


class OtherStore(Store):
    """A Store subclass that is not the memory store."""


class OwnOptionsStore(Store):
    """A store of the project's own whose options share our stores' names."""

    def __init__(self, *, cache: object = None, using: object = None) -> None:
        self.cache = cache
        self.using = using


class CookieHidingFilter(SafeExceptionReporterFilter):
    """A project's own error report filter that hides the cookie "sid"."""

    hidden_settings = re.compile("^sid$|TOKEN|KEY|SECRET|PASS", flags=re.I)


DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
# Nothing listens on port 9: a check that connected would fail or hang.
UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"


class CheckTestCase(SimpleTestCase):
    def messages(self, check_id: str) -> list[CheckMessage]:
        """The messages the check emits now with ``check_id``."""
        found = [message for message in check_settings() if message.id == check_id]
        for message in found:
            if ".E" in check_id:
                assert message.level == checks.ERROR
            else:
                assert message.level == checks.WARNING
        return found

    def assert_fires(self, check_id: str, text: str, xsession: Any) -> CheckMessage:
        """With ``XSESSION=xsession``, ``check_id`` fires once, saying ``text``."""
        with self.settings(XSESSION=xsession):
            found = self.messages(check_id)
        assert len(found) == 1, (xsession, found)
        assert text in found[0].msg, (xsession, found[0].msg)
        return found[0]

    def assert_silent(self, check_id: str, xsession: Any) -> None:
        """With ``XSESSION=xsession``, ``check_id`` does not fire."""
        with self.settings(XSESSION=xsession):
            found = self.messages(check_id)
        assert found == [], (xsession, found)


class DefaultSettingsTests(CheckTestCase):
    def test_test_settings_only_warn_about_the_memory_store(self) -> None:
        messages = check_settings()

        assert [message.id for message in messages] == ["xsession.W002"]
        assert messages[0].is_silenced()

    def test_test_settings_give_no_unsilenced_message_at_all(self) -> None:
        # databases=[]: the static checks only; Django 6.1 would otherwise
        # connect to every database alias.
        assert [m for m in run_checks(databases=[]) if not m.is_silenced()] == []

    @override_settings(DEBUG=True)
    def test_test_settings_with_debug_give_no_message(self) -> None:
        assert check_settings() == []


class SecretsCheckTests(CheckTestCase):
    def test_e001_empty_secret_list(self) -> None:
        message = self.assert_fires(
            "xsession.E001", "at least one non-empty secret", {"SECRETS": []}
        )
        assert (
            message.hint == "The first secret signs the cookie; every one verifies it."
        )

    def test_e001_empty_string_secret(self) -> None:
        self.assert_fires(
            "xsession.E001", "at least one non-empty secret", {"SECRETS": [""]}
        )
        self.assert_fires(
            "xsession.E001", "at least one non-empty secret", {"SECRETS": ["ok", ""]}
        )
        self.assert_fires("xsession.E001", "XSESSION['SECRETS']", {"SECRETS": ""})

    def test_e001_not_for_good_secrets(self) -> None:
        self.assert_silent("xsession.E001", {"SECRETS": ["new", "old"]})
        self.assert_silent("xsession.E001", {"SECRETS": "one"})
        self.assert_silent("xsession.E001", {})

    def test_e002_secrets_of_wrong_type(self) -> None:
        text = "XSESSION['SECRETS'] must be a string or a list of strings."
        self.assert_fires("xsession.E002", text, {"SECRETS": 3})
        self.assert_fires("xsession.E002", text, {"SECRETS": ["ok", 3]})
        self.assert_fires("xsession.E002", text, {"SECRETS": b"bytes"})

    def test_e002_is_not_also_reported_as_e001(self) -> None:
        self.assert_silent("xsession.E001", {"SECRETS": 3})

    def test_e002_not_for_good_secrets(self) -> None:
        self.assert_silent("xsession.E002", {"SECRETS": ("new", "old")})
        self.assert_silent("xsession.E002", {"SECRETS": "one"})
        self.assert_silent("xsession.E002", {})

    def test_e001_and_e002_name_the_setting_the_secrets_came_from(self) -> None:
        # Without XSESSION['SECRETS'], which the project never set, the
        # secrets are SECRET_KEY and SECRET_KEY_FALLBACKS: those to mend.
        for django_settings, check_id, text in (
            (
                {"SECRET_KEY_FALLBACKS": ["old", ""]},
                "xsession.E001",
                "SECRET_KEY_FALLBACKS must hold no empty secret.",
            ),
            (
                {"SECRET_KEY": b"k" * 50},
                "xsession.E002",
                "SECRET_KEY must be a string.",
            ),
            (
                {"SECRET_KEY_FALLBACKS": ["old", 3]},
                "xsession.E002",
                "SECRET_KEY_FALLBACKS must be a list of strings.",
            ),
            # Not one-letter secrets, which anyone could sign with.
            (
                {"SECRET_KEY_FALLBACKS": "old-secret-key"},
                "xsession.E002",
                "SECRET_KEY_FALLBACKS must be a list of strings.",
            ),
        ):
            with self.settings(**django_settings):
                message = self.assert_fires(check_id, text, {})
                assert message.msg == text
                # XSESSION['SECRETS'] replaces them.
                self.assert_silent(check_id, {"SECRETS": ["only"]})

    @override_settings(SECRET_KEY="")
    def test_explicit_secrets_need_no_secret_key(self) -> None:
        with self.settings(XSESSION={"SECRETS": ["only"]}):
            assert [m for m in check_settings() if m.level >= checks.ERROR] == []


class StoreCheckTests(CheckTestCase):
    def test_e003_unknown_alias(self) -> None:
        message = self.assert_fires(
            "xsession.E003", "Unknown session store 'nope'.", {"STORE": "nope"}
        )
        assert message.hint is not None
        assert "memory" in message.hint
        assert "django_xsession.stores.base.Store" in message.hint

    def test_e003_unimportable_dotted_path(self) -> None:
        message = self.assert_fires(
            "xsession.E003",
            "Session store 'no.such.module.Store' cannot be imported: "
            "No module named 'no'.",
            {"STORE": "no.such.module.Store"},
        )
        assert message.hint is not None
        assert "django_xsession.stores.base.Store" in message.hint
        self.assert_fires(
            "xsession.E003",
            "Session store 'django_xsession.stores.memory.Nope' cannot be imported: "
            'Module "django_xsession.stores.memory" does not define a "Nope" '
            "attribute/class.",
            {"STORE": {"BACKEND": "django_xsession.stores.memory.Nope"}},
        )

    def test_e003_empty_or_relative_module_path(self) -> None:
        # import_module() raises ValueError or TypeError for these, not
        # ImportError.
        for store in (".x", ".", "..x"):
            self.assert_fires(
                "xsession.E003",
                f"Session store {store!r} cannot be imported: ",
                {"STORE": store},
            )

    def test_e003_store_whose_own_imports_fail_says_why(self) -> None:
        self.assert_fires(
            "xsession.E003",
            "Session store 'tests.unimportable_store.ClientStore' cannot be "
            "imported: No module named 'xsession_tests_missing_dependency'.",
            {"STORE": "tests.unimportable_store.ClientStore"},
        )

    def redis_store_import_error(self, modules: dict[str, Any]) -> CheckMessage:
        """E003 for the redis store, its module imported again with
        ``sys.modules`` holding ``modules``."""
        with (
            self.settings(XSESSION={"STORE": "redis"}),
            mock.patch.dict(sys.modules, modules),
        ):
            sys.modules.pop("django_xsession.stores.redis", None)
            [message] = self.messages("xsession.E003")
        return message

    def test_e003_redis_store_without_django_redis_says_how_to_install_it(
        self,
    ) -> None:
        # As on a machine without django-redis and redis-py.
        missing = dict.fromkeys(("redis", "redis.exceptions", "django_redis"))
        message = self.redis_store_import_error(missing)

        assert message.msg == (
            "Session store 'redis' cannot be imported: import of "
            "redis.exceptions halted; None in sys.modules."
        )
        assert message.hint == (
            "The redis store needs django-redis and redis-py: pip install "
            "'django-xsession[redis]'."
        )

    def test_e003_silent_for_the_redis_store_on_redis_py_before_4_6(self) -> None:
        # redis-py 4.5 lacks OutOfMemoryError, 4.0 MasterDownError too: the
        # redis store imports under them all the same. Its module imported
        # again, then put back as it was.
        store = {"BACKEND": "redis", "OPTIONS": {"cache": "redis"}}
        imported = redis_store_module
        with (
            self.settings(XSESSION={"STORE": store}),
            mock.patch.dict(vars(redis.exceptions)),
            mock.patch.dict(sys.modules),
            mock.patch.object(stores, "redis", imported),
        ):
            del redis.exceptions.OutOfMemoryError, redis.exceptions.MasterDownError
            sys.modules.pop("django_xsession.stores.redis")

            assert self.messages("xsession.E003") == []
            assert sys.modules["django_xsession.stores.redis"] is not imported

    def test_e003_redis_store_failing_on_another_import_gives_no_install_hint(
        self,
    ) -> None:
        # redis-py and django-redis are installed: the extra would mend nothing.
        message = self.redis_store_import_error({"datetime": None})

        assert message.msg == (
            "Session store 'redis' cannot be imported: import of datetime "
            "halted; None in sys.modules."
        )
        assert message.hint is None

    def test_e003_class_that_is_not_a_store(self) -> None:
        self.assert_fires(
            "xsession.E003",
            "Session store 'django.http.HttpResponse' is not a subclass of "
            "django_xsession.stores.base.Store.",
            {"STORE": "django.http.HttpResponse"},
        )
        self.assert_fires(
            "xsession.E003",
            "is not a subclass",
            {"STORE": "django_xsession.stores.base"},
        )

    def test_e003_not_for_the_shipped_aliases(self) -> None:
        for alias in ("memory", "db"):
            self.assert_silent("xsession.E003", {"STORE": alias})

    def test_e003_malformed_store_setting(self) -> None:
        self.assert_fires(
            "xsession.E003", "XSESSION['STORE'] must be a store alias", {"STORE": 3}
        )
        self.assert_fires(
            "xsession.E003",
            "XSESSION['STORE'] must be a store alias",
            {"STORE": {"OPTIONS": {}}},
        )
        self.assert_fires(
            "xsession.E003",
            "XSESSION['STORE']['OPTIONS'] must be a dict.",
            {"STORE": {"BACKEND": "memory", "OPTIONS": 3}},
        )

    def test_e003_unknown_store_key(self) -> None:
        # A typo of OPTIONS ran the store on its defaults (the default cache).
        message = self.assert_fires(
            "xsession.E003",
            "Unknown keys in XSESSION['STORE']: OPTION.",
            {"STORE": {"BACKEND": "cached_db", "OPTION": {"cache": "default"}}},
        )
        assert message.hint == "Known keys: BACKEND, OPTIONS."
        self.assert_fires(
            "xsession.E003",
            "Unknown keys in XSESSION['STORE']: 1, backend.",
            {"STORE": {"BACKEND": "db", "backend": "db", 1: None}},
        )

    def test_e003_not_for_good_stores(self) -> None:
        self.assert_silent("xsession.E003", {})
        self.assert_silent("xsession.E003", {"STORE": "memory"})
        self.assert_silent(
            "xsession.E003", {"STORE": "django_xsession.stores.memory.MemoryStore"}
        )
        self.assert_silent("xsession.E003", {"STORE": "tests.test_checks.OtherStore"})
        self.assert_silent(
            "xsession.E003",
            {"STORE": {"BACKEND": "memory", "OPTIONS": {"MAX_ENTRIES": 5}}},
        )


class StoreOptionsCheckTests(CheckTestCase):
    def test_e003_option_the_store_does_not_take(self) -> None:
        message = self.assert_fires(
            "xsession.E003",
            "XSESSION['STORE']['OPTIONS'] do not fit the 'db' store: got an "
            "unexpected keyword argument 'database'.",
            {"STORE": {"BACKEND": "db", "OPTIONS": {"database": "x"}}},
        )
        assert message.hint == "It takes: using."
        message = self.assert_fires(
            "xsession.E003",
            "do not fit the 'tests.test_checks.OtherStore' store",
            {"STORE": {"BACKEND": "tests.test_checks.OtherStore", "OPTIONS": {"a": 1}}},
        )
        assert message.hint == "It takes: no options."

    def test_e003_matches_options_to_keyword_arguments_in_any_case(self) -> None:
        backend = "tests.test_conf.CamelCaseStore"
        self.assert_silent(
            "xsession.E003",
            {"STORE": {"BACKEND": backend, "OPTIONS": {"DBPATH": "x.sqlite3"}}},
        )
        message = self.assert_fires(
            "xsession.E003",
            "got an unexpected keyword argument 'db_path'.",
            {"STORE": {"BACKEND": backend, "OPTIONS": {"DB_PATH": "x.sqlite3"}}},
        )
        assert message.hint == "It takes: dbPath."

    def test_e003_using_names_no_database(self) -> None:
        for backend in ("db", "cached_db"):
            self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['using'] must be None or a DATABASES "
                "alias, not 'sessions'.",
                {"STORE": {"BACKEND": backend, "OPTIONS": {"using": "sessions"}}},
            )
        self.assert_fires(
            "xsession.E003",
            "['using'] must be None or a DATABASES alias, not 3.",
            {"STORE": {"BACKEND": "db", "OPTIONS": {"USING": 3}}},
        )

    def test_e003_cache_names_no_cache(self) -> None:
        for backend in ("cached_db", "cache", "redis"):
            self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['cache'] must be a CACHES alias, "
                "not 'sessions'.",
                {"STORE": {"BACKEND": backend, "OPTIONS": {"cache": "sessions"}}},
            )

    def test_e003_max_entries_of_the_memory_store(self) -> None:
        for bad in ("5000", 0, True, 2.5):
            self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['max_entries'] must be a whole "
                f"number, 1 or more, not {bad!r}.",
                {"STORE": {"BACKEND": "memory", "OPTIONS": {"MAX_ENTRIES": bad}}},
            )

    def test_e003_copy_timeout_of_the_cached_db_store(self) -> None:
        self.assert_fires(
            "xsession.E003",
            "XSESSION['STORE']['OPTIONS']['copy_timeout'] must be a whole "
            "number, 1 or more, not 0.",
            {"STORE": {"BACKEND": "cached_db", "OPTIONS": {"copy_timeout": 0}}},
        )

    def test_e003_prefix_not_a_string(self) -> None:
        self.assert_fires(
            "xsession.E003",
            "XSESSION['STORE']['OPTIONS']['prefix'] must be a string, not 5.",
            {"STORE": {"BACKEND": "cached_db", "OPTIONS": {"prefix": 5}}},
        )

    def test_e003_prefix_none_where_the_store_has_a_string_default(self) -> None:
        for store in ("cached_db", "cache"):
            with self.subTest(store=store):
                self.assert_fires(
                    "xsession.E003",
                    "XSESSION['STORE']['OPTIONS']['prefix'] must be a string, "
                    "not None.",
                    {"STORE": {"BACKEND": store, "OPTIONS": {"prefix": None}}},
                )
        # The redis store's own default: the cache's KEY_PREFIX decides.
        self.assert_silent(
            "xsession.E003",
            {"STORE": {"BACKEND": "redis", "OPTIONS": {"cache": "redis"}}},
        )

    def test_e003_redis_store_on_djangos_own_redis_cache(self) -> None:
        caches = {
            **settings.CACHES,
            "django-redis-cache": {
                "BACKEND": DJANGO_REDIS_CACHE,
                "LOCATION": UNREACHABLE_REDIS,
            },
        }
        store = {"BACKEND": "redis", "OPTIONS": {"cache": "django-redis-cache"}}
        with self.settings(CACHES=caches):
            message = self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['cache'] ('django-redis-cache') must "
                f"be a django-redis cache, not {DJANGO_REDIS_CACHE!r}.",
                {"STORE": store},
            )
        assert message.hint is not None
        assert "'django_redis.cache.RedisCache'" in message.hint

    def test_e003_redis_store_on_the_default_cache(self) -> None:
        # The test settings' default cache is LocMemCache.
        self.assert_fires(
            "xsession.E003",
            "('default') must be a django-redis cache",
            {"STORE": "redis"},
        )

    def test_e003_redis_store_on_a_cache_that_decodes_replies(self) -> None:
        caches = {
            **settings.CACHES,
            "decoding": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": UNREACHABLE_REDIS,
                "OPTIONS": {"CONNECTION_POOL_KWARGS": {"decode_responses": True}},
            },
        }
        store = {"BACKEND": "redis", "OPTIONS": {"cache": "decoding"}}
        for query, decodes in (("true", True), ("1", True), ("no", False)):
            url = f"{UNREACHABLE_REDIS}?decode_responses={query}"
            by_url = {
                **settings.CACHES,
                "decoding": {
                    "BACKEND": "django_redis.cache.RedisCache",
                    "LOCATION": [url],
                },
            }
            with self.subTest(url=url), self.settings(CACHES=by_url):
                if decodes:
                    self.assert_fires(
                        "xsession.E003", "decodes Redis's replies", {"STORE": store}
                    )
                else:
                    self.assert_silent("xsession.E003", {"STORE": store})
        with self.settings(CACHES=caches):
            self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['cache'] ('decoding') decodes Redis's "
                "replies to text (decode_responses in its LOCATION or "
                "CONNECTION_POOL_KWARGS)",
                {"STORE": store},
            )
            # The cache store goes through Django's cache API, which decodes.
            self.assert_silent(
                "xsession.E003",
                {"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "decoding"}}},
            )

    def test_e003_redis_store_on_a_default_cache_that_is_not_there(self) -> None:
        with self.settings(CACHES={"redis": settings.CACHES["redis"]}):
            self.assert_fires(
                "xsession.E003",
                "XSESSION['STORE']['OPTIONS']['cache'] must be a CACHES alias, "
                "not 'default'.",
                {"STORE": "redis"},
            )

    def test_e003_a_location_url_decides_decode_responses_over_the_pool(
        self,
    ) -> None:
        caches = {
            **settings.CACHES,
            "decoding": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"{UNREACHABLE_REDIS}?decode_responses=false",
                "OPTIONS": {"CONNECTION_POOL_KWARGS": {"decode_responses": True}},
            },
        }
        store = {"BACKEND": "redis", "OPTIONS": {"cache": "decoding"}}
        with self.settings(CACHES=caches):
            self.assert_silent("xsession.E003", {"STORE": store})

    def test_e003_redis_store_never_connects(self) -> None:
        caches = {
            **settings.CACHES,
            "unreachable": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": UNREACHABLE_REDIS,
            },
        }
        store = {"BACKEND": "redis", "OPTIONS": {"cache": "unreachable"}}
        with self.settings(CACHES=caches):
            self.assert_silent("xsession.E003", {"STORE": store})

    def test_e003_not_for_good_options(self) -> None:
        for store in (
            {"BACKEND": "db", "OPTIONS": {"using": "default"}},
            {"BACKEND": "db", "OPTIONS": {"using": None}},
            {
                "BACKEND": "cached_db",
                "OPTIONS": {"CACHE": "default", "USING": "default"},
            },
            {"BACKEND": "cache", "OPTIONS": {"cache": "redis", "prefix": "p:"}},
            {"BACKEND": "redis", "OPTIONS": {"cache": "redis", "prefix": "p:"}},
            {"BACKEND": "memory", "OPTIONS": {"max_entries": 1}},
            "cached_db",
            "cache",
        ):
            self.assert_silent("xsession.E003", {"STORE": store})

    def test_e003_not_for_the_names_of_another_store(self) -> None:
        self.assert_silent(
            "xsession.E003",
            {
                "STORE": {
                    "BACKEND": "tests.test_checks.OwnOptionsStore",
                    "OPTIONS": {"cache": 3, "using": "not-an-alias"},
                }
            },
        )


class XSessionSettingCheckTests(CheckTestCase):
    def test_e004_xsession_not_a_dict(self) -> None:
        self.assert_fires(
            "xsession.E004", "The XSESSION setting must be a dict.", ["STORE"]
        )
        self.assert_fires("xsession.E004", "must be a dict", "memory")

    def test_e004_unknown_key(self) -> None:
        message = self.assert_fires(
            "xsession.E004", "Unknown keys in XSESSION: ROLLNG.", {"ROLLNG": True}
        )
        assert message.hint is not None
        assert "ROLLING" in message.hint

    def test_e004_lists_every_unknown_key_once(self) -> None:
        self.assert_fires(
            "xsession.E004",
            "Unknown keys in XSESSION: MAXAGE, ROLLNG.",
            {"ROLLNG": True, "MAXAGE": 5, "ROLLING": True},
        )

    def test_e004_not_for_known_keys(self) -> None:
        self.assert_silent(
            "xsession.E004",
            {
                "STORE": "memory",
                "NAME": "sessionid",
                "SECRETS": ["s"],
                "MAX_AGE": 60,
                "ROLLING": True,
                "RESAVE": True,
                "SAVE_UNINITIALIZED": True,
                "UNSET": "destroy",
                "PROXY": True,
                "GENID": "tests.test_checks.make_id",
                "COOKIE": {},
            },
        )
        self.assert_silent("xsession.E004", {})


class TypeCheckTests(CheckTestCase):
    def test_e005_booleans(self) -> None:
        for key in ("ROLLING", "RESAVE", "SAVE_UNINITIALIZED"):
            self.assert_fires(
                "xsession.E005",
                f"XSESSION[{key!r}] must be True or False.",
                {key: "yes"},
            )
        self.assert_fires("xsession.E005", "'ROLLING'", {"ROLLING": 1})

    def test_e005_max_age(self) -> None:
        text = (
            "XSESSION['MAX_AGE'] must be None, a number of seconds "
            "(1 to 3153600000, 100 years)"
        )
        for bad in (-1, 0, "1", 1.5, True, datetime.timedelta(seconds=-5)):
            self.assert_fires("xsession.E005", text, {"MAX_AGE": bad})

    def test_e005_timeouts_of_zero_seconds(self) -> None:
        for key in ("IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT"):
            self.assert_fires(
                "xsession.E005",
                f"XSESSION[{key!r}] must be a number of seconds (1 to "
                "3153600000, 100 years), a timedelta or None.",
                {key: 0},
            )
        self.assert_silent("xsession.E005", {"TOUCH_AFTER": 0, "IDLE_TIMEOUT": 1})

    def test_e005_durations_over_100_years(self) -> None:
        # Such a duration overflowed the datetime of a session's expiry: every
        # request that saved or timed a session answered 500.
        for key in ("MAX_AGE", "IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT", "TOUCH_AFTER"):
            for bad in (
                conf.MAX_SECONDS + 1,
                sys.maxsize,
                datetime.timedelta(days=36501),
                datetime.timedelta.max,
            ):
                self.assert_fires("xsession.E005", f"XSESSION[{key!r}]", {key: bad})
            self.assert_silent("xsession.E005", {key: conf.MAX_SECONDS})
            self.assert_silent("xsession.E005", {key: datetime.timedelta(days=36500)})

    def test_e005_session_cookie_age_out_of_range(self) -> None:
        # Over 100 years overflowed the expiry's datetime; 0 or less ended
        # every session at once (Set-Cookie: Max-Age=0).
        text = "SESSION_COOKIE_AGE must be a number of seconds (1 to 3153600000"
        for age in (sys.maxsize, conf.MAX_SECONDS + 1, 0, -1):
            for django_settings in (
                {"SESSION_COOKIE_AGE": age},
                # The stored lifetime of browser sessions.
                {"SESSION_COOKIE_AGE": age, "SESSION_EXPIRE_AT_BROWSER_CLOSE": True},
            ):
                with self.settings(**django_settings):
                    self.assert_fires(
                        "xsession.E005", f"{text}, 100 years), not {age}.", {}
                    )
                    self.assert_fires("xsession.E005", text, {"MAX_AGE": None})
                    # Not read when MAX_AGE or EXPIRES gives the lifetime.
                    self.assert_silent("xsession.E005", {"MAX_AGE": 60})
                    self.assert_silent("xsession.E005", {"EXPIRES": IN_A_YEAR})
        for age in (1, conf.MAX_SECONDS):
            with self.settings(SESSION_COOKIE_AGE=age):
                self.assert_silent("xsession.E005", {})

    def test_a_session_cookie_age_of_0_stops_requests(self) -> None:
        with (
            self.settings(XSESSION={"STORE": "memory"}, SESSION_COOKIE_AGE=0),
            self.assertRaisesMessage(ImproperlyConfigured, "SESSION_COOKIE_AGE"),
        ):
            self.client.get("/write/?a=1")

    def test_e005_expires_over_100_years_ahead(self) -> None:
        for far in (
            datetime.datetime.max,
            datetime.datetime.max.replace(tzinfo=datetime.timezone.utc),
            datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(days=36501),
        ):
            self.assert_fires(
                "xsession.E005",
                "XSESSION['EXPIRES'] must be at most 100 years ahead",
                {"EXPIRES": far},
            )
        self.assert_silent("xsession.E005", {"EXPIRES": IN_A_YEAR})
        self.assert_silent(
            "xsession.E005",
            {"EXPIRES": datetime.datetime.now() + datetime.timedelta(days=36499)},
        )

    def test_the_longest_durations_allowed_serve_requests(self) -> None:
        longest = {
            "STORE": "memory",
            "MAX_AGE": conf.MAX_SECONDS,
            "IDLE_TIMEOUT": conf.MAX_SECONDS,
            "ABSOLUTE_TIMEOUT": conf.MAX_SECONDS,
            "TOUCH_AFTER": conf.MAX_SECONDS - 1,
            "ROLLING": True,
        }
        with self.settings(XSESSION=longest):
            assert [m.id for m in check_settings() if m.level >= checks.ERROR] == []
            written = self.client.get("/write/?a=1")
            read = self.client.get("/read/")

        assert written.status_code == 200
        # ABSOLUTE_TIMEOUT counts from the creation, a moment before.
        max_age = int(written.cookies[settings.SESSION_COOKIE_NAME]["max-age"])
        assert conf.MAX_SECONDS - 60 < max_age <= conf.MAX_SECONDS
        assert read.json() == {"a": "1"}

    def test_e005_expires(self) -> None:
        self.assert_fires(
            "xsession.E005",
            "XSESSION['EXPIRES'] must be a datetime.",
            {"EXPIRES": "tomorrow"},
        )
        self.assert_fires(
            "xsession.E005",
            "XSESSION['EXPIRES'] must be a datetime.",
            {"EXPIRES": datetime.date(2030, 1, 1)},
        )

    def test_e005_proxy(self) -> None:
        self.assert_fires(
            "xsession.E005",
            "XSESSION['PROXY'] must be None, True or False.",
            {"PROXY": "yes"},
        )

    def test_e005_name(self) -> None:
        self.assert_fires(
            "xsession.E005",
            "XSESSION['NAME'] must be a valid cookie name, not 'bad name;'.",
            {"NAME": "bad name;"},
        )
        self.assert_fires("xsession.E005", "valid cookie name", {"NAME": ""})
        self.assert_fires("xsession.E005", "valid cookie name", {"NAME": 3})
        # A trailing newline must not slip past the anchored pattern.
        self.assert_fires("xsession.E005", "valid cookie name", {"NAME": "sessionid\n"})

    def test_e005_names_the_setting_the_bad_name_came_from(self) -> None:
        with self.settings(SESSION_COOKIE_NAME="bad name"):
            self.assert_fires(
                "xsession.E005",
                "SESSION_COOKIE_NAME must be a valid cookie name, not 'bad name'.",
                {},
            )

    def test_e005_a_name_python_refuses_for_a_cookie(self) -> None:
        # http.cookies refuses these, in any case, as cookie names: every
        # response that set the session cookie answered 500.
        for name in (
            "path",
            "Expires",
            "domain",
            "max-age",
            "secure",
            "version",
            "comment",
            "SameSite",
            "HttpOnly",
            "partitioned",  # from Python 3.14
        ):
            self.assert_fires(
                "xsession.E005",
                f"XSESSION['NAME'] ({name!r}) is the name of a cookie attribute",
                {"NAME": name},
            )
            self.assert_fires(
                "xsession.E005",
                "is the name of a cookie attribute",
                {"NAME": name, "TRANSPORT": "both"},
            )
            # No cookie is set under the header transport.
            self.assert_silent("xsession.E005", {"NAME": name, "TRANSPORT": "header"})
        with self.settings(SESSION_COOKIE_NAME="Path"):
            self.assert_fires(
                "xsession.E005",
                "SESSION_COOKIE_NAME ('Path') is the name of a cookie attribute",
                {},
            )
        self.assert_silent("xsession.E005", {"NAME": "paths"})

    def test_a_name_python_refuses_for_a_cookie_stops_requests(self) -> None:
        with (
            self.settings(XSESSION={"STORE": "memory", "NAME": "path"}),
            self.assertRaisesMessage(ImproperlyConfigured, "xsession.E005"),
        ):
            self.client.get("/write/?a=1")

    def test_a_name_python_refuses_for_a_cookie_serves_the_header_transport(
        self,
    ) -> None:
        xsession = {"STORE": "memory", "NAME": "path", "TRANSPORT": "header"}
        with self.settings(XSESSION=xsession):
            written = self.client.get("/write/?a=1")
            token = written[conf.DEFAULT_HEADER]
            read = self.client.get("/read/", headers={conf.DEFAULT_HEADER: token})

        assert written.status_code == 200
        assert written.cookies == {}
        assert read.json() == {"a": "1"}

    def test_e005_not_for_good_values(self) -> None:
        self.assert_silent(
            "xsession.E005",
            {
                "NAME": "sessionid",
                "MAX_AGE": 60,
                "ROLLING": True,
                "RESAVE": False,
                "SAVE_UNINITIALIZED": True,
                "PROXY": True,
            },
        )
        self.assert_silent("xsession.E005", {"MAX_AGE": None, "PROXY": None})
        self.assert_silent("xsession.E005", {"MAX_AGE": datetime.timedelta(hours=1)})
        self.assert_silent(
            "xsession.E005",
            {"EXPIRES": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)},
        )
        self.assert_silent("xsession.E005", {"NAME": "__Host-sid"})


class UnsetCheckTests(CheckTestCase):
    def test_e006_unknown_unset(self) -> None:
        self.assert_fires(
            "xsession.E006",
            "XSESSION['UNSET'] must be 'keep' or 'destroy'.",
            {"UNSET": "maybe"},
        )
        self.assert_fires("xsession.E006", "'keep' or 'destroy'", {"UNSET": None})

    def test_e006_not_for_keep_or_destroy(self) -> None:
        self.assert_silent("xsession.E006", {"UNSET": "keep"})
        self.assert_silent("xsession.E006", {"UNSET": "destroy"})
        self.assert_silent("xsession.E006", {})


class StoreErrorPolicyCheckTests(CheckTestCase):
    def test_e012_unknown_policy(self) -> None:
        self.assert_fires(
            "xsession.E012",
            "XSESSION['ON_STORE_ERROR'] must be 'raise' or 'degrade'.",
            {"ON_STORE_ERROR": "ignore"},
        )

    def test_e012_not_for_raise_or_degrade(self) -> None:
        self.assert_silent("xsession.E012", {"ON_STORE_ERROR": "raise"})
        self.assert_silent("xsession.E012", {"ON_STORE_ERROR": "degrade"})
        self.assert_silent("xsession.E012", {})


class LegacyEngineCheckTests(CheckTestCase):
    def test_e013_not_a_session_engine(self) -> None:
        for engine in ("no.such.engine", "django.http", 3, "", ".x"):
            self.assert_fires(
                "xsession.E013",
                "is not a session engine module with a SessionStore.",
                {"LEGACY_ENGINE": engine},
            )

    def test_e013_not_for_django_engines(self) -> None:
        self.assert_silent("xsession.E013", {})
        for engine in ("db", "cache", "cached_db", "signed_cookies", "file"):
            self.assert_silent(
                "xsession.E013",
                {"LEGACY_ENGINE": f"django.contrib.sessions.backends.{engine}"},
            )


class TransportCheckTests(CheckTestCase):
    def test_e014_unknown_transport(self) -> None:
        self.assert_fires(
            "xsession.E014",
            "XSESSION['TRANSPORT'] must be 'cookie', 'header' or 'both'.",
            {"TRANSPORT": "pigeon"},
        )

    def test_e014_bad_header_name(self) -> None:
        for header in ("X Session", "", 5):
            self.assert_fires(
                "xsession.E014",
                "XSESSION['HEADER'] must be an HTTP header name",
                {"TRANSPORT": "header", "HEADER": header},
            )

    def test_e014_header_with_an_underscore(self) -> None:
        message = self.assert_fires(
            "xsession.E014",
            "XSESSION['HEADER'] ('X_Session_Id') contains an underscore.",
            {"TRANSPORT": "header", "HEADER": "X_Session_Id"},
        )
        assert message.hint is not None
        assert "drop request headers with underscores" in message.hint

    def test_e014_not_for_good_values(self) -> None:
        self.assert_silent("xsession.E014", {})
        for transport in ("cookie", "header", "both"):
            self.assert_silent(
                "xsession.E014", {"TRANSPORT": transport, "HEADER": "X-Api-Session"}
            )


class TouchAfterCheckTests(CheckTestCase):
    def test_w006_touch_after_not_below_idle_timeout(self) -> None:
        for touch_after in (600, 900):
            self.assert_fires(
                "xsession.W006",
                "is not below IDLE_TIMEOUT (600): active users will be timed out.",
                {"IDLE_TIMEOUT": 600, "TOUCH_AFTER": touch_after},
            )

    def test_w006_not_when_below(self) -> None:
        self.assert_silent("xsession.W006", {"IDLE_TIMEOUT": 600, "TOUCH_AFTER": 60})
        self.assert_silent("xsession.W006", {"TOUCH_AFTER": 60})
        self.assert_silent("xsession.W006", {"IDLE_TIMEOUT": 600})


class RollingTouchCheckTests(CheckTestCase):
    text = "ROLLING never moves a session's stored expiry before it passes"

    def test_w015_touch_after_not_below_max_age_under_rolling(self) -> None:
        for touch_after in (60, 90):
            message = self.assert_fires(
                "xsession.W015",
                self.text,
                {"ROLLING": True, "MAX_AGE": 60, "TOUCH_AFTER": touch_after},
            )
            assert f"({touch_after}) is not below MAX_AGE (60)" in message.msg
        with self.settings(SESSION_COOKIE_AGE=600):
            self.assert_fires(
                "xsession.W015", "MAX_AGE (600)", {"ROLLING": True, "TOUCH_AFTER": 600}
            )
            # A browser session is stored for SESSION_COOKIE_AGE all the same.
            self.assert_fires(
                "xsession.W015",
                "not below SESSION_COOKIE_AGE, a browser session's stored "
                "lifetime (600)",
                {"ROLLING": True, "MAX_AGE": None, "TOUCH_AFTER": 600},
            )
            self.assert_silent(
                "xsession.W015",
                {"ROLLING": True, "EXPIRES": IN_A_YEAR, "TOUCH_AFTER": 600},
            )

    def test_w015_not_when_below_without_rolling_or_max_age(self) -> None:
        self.assert_silent(
            "xsession.W015", {"ROLLING": True, "MAX_AGE": 60, "TOUCH_AFTER": 59}
        )
        self.assert_silent("xsession.W015", {"MAX_AGE": 60, "TOUCH_AFTER": 60})
        self.assert_silent(
            "xsession.W015", {"ROLLING": False, "MAX_AGE": 60, "TOUCH_AFTER": 60}
        )
        self.assert_silent(
            "xsession.W015", {"ROLLING": True, "MAX_AGE": None, "TOUCH_AFTER": 60}
        )


class CopyLagCheckTests(CheckTestCase):
    text = "is not above what a cached_db copy's times can lag the row"

    def test_w014_idle_timeout_within_copy_timeout_and_touch_after(self) -> None:
        for xsession, reach in (
            ({"STORE": "cached_db", "IDLE_TIMEOUT": 300}, 300),
            (
                {
                    "STORE": {"BACKEND": "cached_db", "OPTIONS": {"copy_timeout": 60}},
                    "IDLE_TIMEOUT": 90,
                    "TOUCH_AFTER": 30,
                },
                90,
            ),
            (
                {
                    "STORE": {
                        "BACKEND": "cached_db",
                        "OPTIONS": {"copy_timeout": 119.5},
                    },
                    "IDLE_TIMEOUT": 120,
                },
                120,
            ),
        ):
            message = self.assert_fires("xsession.W014", self.text, xsession)
            assert f"({reach} s:" in message.msg

    def test_w014_not_when_above_or_without_a_copy(self) -> None:
        self.assert_silent("xsession.W014", {"STORE": "cached_db", "IDLE_TIMEOUT": 301})
        self.assert_silent(
            "xsession.W014",
            {
                "STORE": {"BACKEND": "cached_db", "OPTIONS": {"COPY_TIMEOUT": 60}},
                "IDLE_TIMEOUT": 120,
                "TOUCH_AFTER": 30,
            },
        )
        self.assert_silent("xsession.W014", {"STORE": "cached_db"})
        self.assert_silent("xsession.W014", {"STORE": "db", "IDLE_TIMEOUT": 60})


class GenIdCheckTests(CheckTestCase):
    text = "XSESSION['GENID'] must be the dotted path of a callable"

    def test_e007_not_importable(self) -> None:
        self.assert_fires("xsession.E007", self.text, {"GENID": "no.such.module.genid"})
        self.assert_fires("xsession.E007", self.text, {"GENID": "nodots"})
        self.assert_fires(
            "xsession.E007", self.text, {"GENID": "tests.test_checks.missing"}
        )
        for genid in (".gen", "."):
            self.assert_fires("xsession.E007", self.text, {"GENID": genid})

    def test_e007_not_callable(self) -> None:
        self.assert_fires("xsession.E007", self.text, {"GENID": "os.sep"})
        self.assert_fires("xsession.E007", self.text, {"GENID": 3})

    def test_e007_callable_that_cannot_take_the_request(self) -> None:
        for genid in (
            "tests.test_checks.no_argument",
            no_argument,
            two_arguments,
            "uuid.uuid4",
        ):
            self.assert_fires("xsession.E007", self.text, {"GENID": genid})

    def test_e007_async_callable(self) -> None:
        self.assert_fires("xsession.E007", self.text, {"GENID": async_make_id})

    def test_e007_not_for_a_callable(self) -> None:
        self.assert_silent("xsession.E007", {"GENID": "tests.test_checks.make_id"})
        self.assert_silent("xsession.E007", {"GENID": make_id})
        self.assert_silent("xsession.E007", {"GENID": request_and_options})
        self.assert_silent("xsession.E007", {"GENID": "secrets.token_urlsafe"})
        self.assert_silent("xsession.E007", {"GENID": None})
        self.assert_silent("xsession.E007", {})


class CookieCheckTests(CheckTestCase):
    def test_e008_cookie_not_a_dict(self) -> None:
        self.assert_fires(
            "xsession.E008", "XSESSION['COOKIE'] must be a dict.", {"COOKIE": "nope"}
        )

    def test_e008_unknown_cookie_key(self) -> None:
        message = self.assert_fires(
            "xsession.E008",
            "Unknown keys in XSESSION['COOKIE']: SAMESIT.",
            {"COOKIE": {"SAMESIT": "Lax"}},
        )
        assert message.hint is not None
        assert "SAMESITE" in message.hint

    def test_e008_unknown_cookie_key_that_is_not_a_string(self) -> None:
        self.assert_fires(
            "xsession.E008",
            "Unknown keys in XSESSION['COOKIE']: 1.",
            {"COOKIE": {1: True}},
        )
        self.assert_fires(
            "xsession.E008",
            "Unknown keys in XSESSION['COOKIE']: ('a',).",
            {"COOKIE": {("a",): 1}},
        )

    def test_e008_samesite(self) -> None:
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['SAMESITE'] must be 'Lax', 'Strict', 'None', "
            "'auto' or False.",
            {"COOKIE": {"SAMESITE": "sideways"}},
        )
        self.assert_fires(
            "xsession.E008", "['SAMESITE']", {"COOKIE": {"SAMESITE": True}}
        )

    def test_e008_priority(self) -> None:
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['PRIORITY'] must be 'Low', 'Medium' or 'High'.",
            {"COOKIE": {"PRIORITY": "urgent"}},
        )

    def test_e008_secure(self) -> None:
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['SECURE'] must be True, False or 'auto'.",
            {"COOKIE": {"SECURE": "maybe"}},
        )

    def test_e008_path(self) -> None:
        for path in ("nope", "/app; Domain=evil.example", "/a b", "/\x00"):
            self.assert_fires(
                "xsession.E008",
                "XSESSION['COOKIE']['PATH'] must start with '/' and hold no ';'",
                {"COOKIE": {"PATH": path}},
            )

    def test_e008_a_path_that_is_not_percent_encoded(self) -> None:
        # Sent in Latin-1 if at all, never equal to the percent-encoded URL
        # path browsers compare it with: the cookie never came back.
        for path, encoded in (
            ("/café/", "/caf%C3%A9/"),
            ("/€/a%20b", "/%E2%82%AC/a%20b"),
        ):
            self.assert_fires(
                "xsession.E008",
                "XSESSION['COOKIE']['PATH'] must be percent-encoded, as browsers "
                f"compare it with the URL's path: {encoded!r}, not {path!r}.",
                {"COOKIE": {"PATH": path}},
            )
            self.assert_silent("xsession.E008", {"COOKIE": {"PATH": encoded}})
        with self.settings(SESSION_COOKIE_PATH="/café/"):
            self.assert_fires(
                "xsession.E008", "SESSION_COOKIE_PATH must be percent-encoded", {}
            )
        self.assert_silent("xsession.E008", {"COOKIE": {"PATH": "/a=b/[1]|x"}})

    def test_e008_domain_httponly_partitioned(self) -> None:
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['DOMAIN'] must be None or a domain with no ';'",
            {"COOKIE": {"DOMAIN": 3}},
        )
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['DOMAIN'] must be None or a domain with no ';'",
            {"COOKIE": {"DOMAIN": "example.com; SameSite=None"}},
        )
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['HTTPONLY'] must be a bool.",
            {"COOKIE": {"HTTPONLY": "yes"}},
        )
        self.assert_fires(
            "xsession.E008",
            "XSESSION['COOKIE']['PARTITIONED'] must be a bool.",
            {"COOKIE": {"PARTITIONED": "yes", "SECURE": True}},
        )

    def test_e008_not_for_a_good_cookie(self) -> None:
        self.assert_silent(
            "xsession.E008",
            {
                "COOKIE": {
                    "PATH": "/app/",
                    "DOMAIN": ".example.com",
                    "SECURE": True,
                    "HTTPONLY": True,
                    "SAMESITE": "strict",
                    "PARTITIONED": True,
                    "PRIORITY": "high",
                }
            },
        )
        self.assert_silent(
            "xsession.E008",
            {"COOKIE": {"SECURE": "auto", "SAMESITE": False, "PRIORITY": None}},
        )
        self.assert_silent("xsession.E008", {"COOKIE": {}})
        self.assert_silent("xsession.E008", {})
        # Django's own settings as projects have them: an empty domain (no
        # Domain attribute), a host name with an underscore.
        for domain in ("", "my_host.internal"):
            with self.settings(SESSION_COOKIE_DOMAIN=domain):
                self.assert_silent("xsession.E008", {})

    def test_e009_samesite_none_without_secure(self) -> None:
        text = (
            "XSESSION['COOKIE']['SAMESITE'] is 'None' but "
            "XSESSION['COOKIE']['SECURE'] is not True."
        )
        message = self.assert_fires(
            "xsession.E009", text, {"COOKIE": {"SAMESITE": "none", "SECURE": False}}
        )
        assert message.hint == "Browsers reject SameSite=None cookies without Secure."
        self.assert_fires(
            "xsession.E009", text, {"COOKIE": {"SAMESITE": "None", "SECURE": "auto"}}
        )
        self.assert_fires(
            "xsession.E009",
            "XSESSION['COOKIE']['SAMESITE'] is 'None' but SESSION_COOKIE_SECURE "
            "is not True.",
            {"COOKIE": {"SAMESITE": "None"}},
        )

    @override_settings(SESSION_COOKIE_SAMESITE="None")
    def test_e009_from_django_settings_names_them(self) -> None:
        # As social-auth's docs have it for providers that post back (Apple):
        # the project never wrote XSESSION["COOKIE"], so the message names
        # what it did write.
        self.assert_fires(
            "xsession.E009",
            "SESSION_COOKIE_SAMESITE is 'None' but SESSION_COOKIE_SECURE is not True.",
            {},
        )
        with self.settings(SESSION_COOKIE_SECURE=True):
            self.assert_silent("xsession.E009", {})

    def test_e008_names_the_django_setting_a_bad_value_came_from(self) -> None:
        with self.settings(SESSION_COOKIE_SAMESITE="Sometimes"):
            self.assert_fires(
                "xsession.E008", "SESSION_COOKIE_SAMESITE must be 'Lax'", {}
            )
        with self.settings(SESSION_COOKIE_PATH="/a b"):
            self.assert_fires("xsession.E008", "SESSION_COOKIE_PATH must start", {})

    def test_e009_not_with_secure(self) -> None:
        self.assert_silent(
            "xsession.E009", {"COOKIE": {"SAMESITE": "None", **SECURE_COOKIE}}
        )
        self.assert_silent("xsession.E009", {"COOKIE": {"SAMESITE": "Lax"}})

    def test_e010_partitioned_without_secure(self) -> None:
        message = self.assert_fires(
            "xsession.E010",
            "XSESSION['COOKIE']['PARTITIONED'] is set but SESSION_COOKIE_SECURE "
            "is not True.",
            {"COOKIE": {"PARTITIONED": True}},
        )
        assert message.hint == "Browsers reject Partitioned cookies without Secure."
        self.assert_fires(
            "xsession.E010",
            "XSESSION['COOKIE']['PARTITIONED'] is set but "
            "XSESSION['COOKIE']['SECURE'] is not True.",
            {"COOKIE": {"PARTITIONED": True, "SECURE": "auto"}},
        )

    def test_e010_not_with_secure_or_unpartitioned(self) -> None:
        self.assert_silent(
            "xsession.E010", {"COOKIE": {"PARTITIONED": True, **SECURE_COOKIE}}
        )
        self.assert_silent("xsession.E010", {"COOKIE": {"PARTITIONED": False}})


class CookiePrefixCheckTests(CheckTestCase):
    # Browsers drop every such cookie: nobody could log in.
    def test_no_cookie_combination_is_checked_when_no_cookie_is_sent(self) -> None:
        for check_id, name, cookie in (
            ("xsession.E009", "sessionid", {"SAMESITE": "None"}),
            ("xsession.E010", "sessionid", {"PARTITIONED": True}),
            ("xsession.E016", "__Host-sessionid", {}),
        ):
            xsession = {"NAME": name, "COOKIE": cookie}
            self.assert_silent(check_id, {**xsession, "TRANSPORT": "header"})
            self.assert_fires(check_id, "", {**xsession, "TRANSPORT": "both"})

    def test_e016_host_prefix_without_secure_root_path_and_no_domain(self) -> None:
        for cookie, text in (
            ({"SECURE": False}, "XSESSION['COOKIE']['SECURE'] must be True or 'auto'"),
            (
                {"SECURE": True, "PATH": "/app"},
                "XSESSION['COOKIE']['PATH'] must be '/', not '/app'",
            ),
            (
                {"SECURE": True, "DOMAIN": "example.com"},
                "XSESSION['COOKIE']['DOMAIN'] must be None, not 'example.com'",
            ),
        ):
            self.assert_fires(
                "xsession.E016",
                "The cookie name '__Host-sid' (XSESSION['NAME']) has a prefix "
                f"browsers enforce: {text}",
                {"NAME": "__Host-sid", "COOKIE": cookie},
            )

    def test_e016_names_every_requirement_once(self) -> None:
        self.assert_fires(
            "xsession.E016",
            "XSESSION['COOKIE']['SECURE'] must be True or 'auto', not False; "
            "XSESSION['COOKIE']['PATH'] must be '/', not '/app'; "
            "XSESSION['COOKIE']['DOMAIN'] must be None, not 'example.com'.",
            {
                "NAME": "__Host-sid",
                "COOKIE": {"SECURE": False, "PATH": "/app", "DOMAIN": "example.com"},
            },
        )

    def test_e016_secure_prefix_without_secure(self) -> None:
        self.assert_fires(
            "xsession.E016",
            "SESSION_COOKIE_SECURE must be True or 'auto', not False.",
            {"NAME": "__Secure-sid"},
        )

    def test_e016_prefixes_in_any_case(self) -> None:
        for name in ("__host-sid", "__HOST-sid", "__secure-sid", "__SeCuRe-sid"):
            self.assert_fires("xsession.E016", "has a prefix", {"NAME": name})

    @override_settings(SESSION_COOKIE_NAME="__Host-sessionid")
    def test_e016_from_django_settings_names_them(self) -> None:
        self.assert_fires(
            "xsession.E016",
            "The cookie name '__Host-sessionid' (SESSION_COOKIE_NAME) has a prefix "
            "browsers enforce: SESSION_COOKIE_SECURE must be True or 'auto', "
            "not False.",
            {},
        )
        with self.settings(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_PATH="/app"):
            self.assert_fires(
                "xsession.E016", "SESSION_COOKIE_PATH must be '/', not '/app'.", {}
            )

    def test_e016_not_when_browsers_keep_the_cookie(self) -> None:
        for name in ("__Host-sid", "__Secure-sid", "__host-sid"):
            self.assert_silent("xsession.E016", {"NAME": name, "COOKIE": SECURE_COOKIE})
            # Secure on HTTPS, the only place such a cookie can be kept.
            self.assert_silent(
                "xsession.E016", {"NAME": name, "COOKIE": {"SECURE": "auto"}}
            )
        self.assert_silent(
            "xsession.E016",
            {
                "NAME": "__Secure-sid",
                "COOKIE": {"SECURE": True, "PATH": "/app", "DOMAIN": "example.com"},
            },
        )
        for name in ("sessionid", "_Host-sid", "__Host_sid", "x__Host-sid"):
            self.assert_silent("xsession.E016", {"NAME": name})


class MiddlewareCheckTests(CheckTestCase):
    def test_e011_django_session_middleware_as_well(self) -> None:
        with self.settings(MIDDLEWARE=[DJANGO_MIDDLEWARE, *settings.MIDDLEWARE]):
            found = self.messages("xsession.E011")
        assert len(found) == 1
        assert found[0].msg == (
            "django.contrib.sessions.middleware.SessionMiddleware is installed "
            "beside django-xsession's."
        )
        assert found[0].hint is not None
        assert OUR_MIDDLEWARE in found[0].hint

    def test_e011_not_with_our_middleware_alone(self) -> None:
        assert self.messages("xsession.E011") == []

    def test_djangos_middleware_alone_is_a_warning_so_migrate_runs(self) -> None:
        # The first step of moving from django.contrib.sessions.
        middleware = [
            DJANGO_MIDDLEWARE if m == OUR_MIDDLEWARE else m for m in settings.MIDDLEWARE
        ]
        with self.settings(MIDDLEWARE=middleware):
            assert self.messages("xsession.E011") == []
            [found] = self.messages("xsession.W005")
        assert found.msg == (
            "django_xsession.middleware.SessionMiddleware is not in MIDDLEWARE, "
            "so requests get django.contrib.sessions' sessions."
        )
        assert found.hint is not None
        assert DJANGO_MIDDLEWARE in found.hint

    def test_w005_our_middleware_missing(self) -> None:
        middleware = [m for m in settings.MIDDLEWARE if m != OUR_MIDDLEWARE]
        with self.settings(MIDDLEWARE=middleware):
            found = self.messages("xsession.W005")
        assert len(found) == 1
        assert found[0].msg == (
            "django_xsession.middleware.SessionMiddleware is not in MIDDLEWARE, "
            "so requests get no session."
        )

    def test_w005_not_with_our_middleware(self) -> None:
        assert OUR_MIDDLEWARE in settings.MIDDLEWARE
        assert self.messages("xsession.W005") == []


class WarningCheckTests(CheckTestCase):
    def test_w001_expires_datetime(self) -> None:
        expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        message = self.assert_fires(
            "xsession.W001",
            "XSESSION['EXPIRES'] fixes the instant every session ends.",
            {"EXPIRES": expires},
        )
        assert message.hint is not None
        assert "MAX_AGE" in message.hint
        self.assert_silent("xsession.E005", {"EXPIRES": expires})

    def test_w001_not_for_max_age(self) -> None:
        self.assert_silent("xsession.W001", {"MAX_AGE": 60})
        self.assert_silent("xsession.W001", {"EXPIRES": "tomorrow"})
        self.assert_silent("xsession.W001", {})

    @override_settings(DEBUG=False)
    def test_w002_memory_store_without_debug(self) -> None:
        text = "The memory store keeps sessions in one process"
        self.assert_fires("xsession.W002", text, {"STORE": "memory"})
        self.assert_fires(
            "xsession.W002",
            text,
            {"STORE": {"BACKEND": "django_xsession.stores.memory.MemoryStore"}},
        )

    @override_settings(DEBUG=True)
    def test_w002_not_with_debug(self) -> None:
        self.assert_silent("xsession.W002", {"STORE": "memory"})

    @override_settings(DEBUG=False)
    def test_w002_not_for_another_store(self) -> None:
        self.assert_silent("xsession.W002", {"STORE": "tests.test_checks.OtherStore"})
        self.assert_silent("xsession.W002", {})

    def test_w003_other_session_engine(self) -> None:
        engine = "django.contrib.sessions.backends.db"
        with self.settings(SESSION_ENGINE=engine):
            found = self.messages("xsession.W003")
        assert len(found) == 1
        assert found[0].msg == (
            "SESSION_ENGINE is 'django.contrib.sessions.backends.db', "
            "not 'django_xsession.engine'."
        )

    def test_w003_not_for_our_engine(self) -> None:
        assert settings.SESSION_ENGINE == OUR_ENGINE
        assert self.messages("xsession.W003") == []

    def test_w004_name_differs_from_session_cookie_name(self) -> None:
        self.assert_fires(
            "xsession.W004",
            "XSESSION['NAME'] ('sid') differs from SESSION_COOKIE_NAME ('sessionid').",
            {"NAME": "sid"},
        )

    def test_w004_not_when_names_agree(self) -> None:
        self.assert_silent("xsession.W004", {"NAME": "sessionid"})
        self.assert_silent("xsession.W004", {})
        with self.settings(SESSION_COOKIE_NAME="sid"):
            self.assert_silent("xsession.W004", {"NAME": "sid"})
            self.assert_silent("xsession.W004", {})

    def test_w004_not_for_an_invalid_name(self) -> None:
        # The invalid name is E005's to report; the fallback name agrees.
        self.assert_silent("xsession.W004", {"NAME": "bad name;"})


class IgnoredCacheErrorsCheckTests(CheckTestCase):
    def caches(self, **options: Any) -> dict[str, Any]:
        """``CACHES`` with a django-redis alias "sessions" on no server."""
        return {
            **settings.CACHES,
            "sessions": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": UNREACHABLE_REDIS,
                "OPTIONS": options,
            },
        }

    def store(self, backend: str = "cache") -> dict[str, Any]:
        return {"STORE": {"BACKEND": backend, "OPTIONS": {"cache": "sessions"}}}

    def test_w012_cache_store_on_a_cache_ignoring_exceptions(self) -> None:
        with self.settings(CACHES=self.caches(IGNORE_EXCEPTIONS=True)):
            message = self.assert_fires(
                "xsession.W012",
                "The cache store's cache 'sessions' ignores Redis connection "
                "errors (django-redis's IGNORE_EXCEPTIONS): during an outage "
                "every session reads as empty, so logged-in users appear "
                "logged out",
                self.store(),
            )
        assert message.hint is not None
        assert "CACHES['sessions']['OPTIONS']['IGNORE_EXCEPTIONS'] = False" in (
            message.hint
        )

    def test_w012_from_the_django_redis_setting(self) -> None:
        with self.settings(CACHES=self.caches(), DJANGO_REDIS_IGNORE_EXCEPTIONS=True):
            self.assert_fires("xsession.W012", "'sessions'", self.store())
            # The cache's own option wins over the setting, as in django-redis.
            with self.settings(CACHES=self.caches(IGNORE_EXCEPTIONS=False)):
                self.assert_silent("xsession.W012", self.store())

    def test_w012_on_the_default_cache(self) -> None:
        caches = {**self.caches(IGNORE_EXCEPTIONS=True)}
        caches["default"] = caches.pop("sessions")
        with self.settings(CACHES=caches):
            self.assert_fires("xsession.W012", "'default'", {"STORE": "cache"})

    def test_w012_not_for_other_stores_or_caches(self) -> None:
        with self.settings(CACHES=self.caches(IGNORE_EXCEPTIONS=True)):
            # A swallowed error is a miss the database answers; the redis
            # store talks to Redis past the cache's methods.
            self.assert_silent("xsession.W012", self.store("cached_db"))
            self.assert_silent("xsession.W012", self.store("redis"))
            self.assert_silent("xsession.W012", {"STORE": "cache"})
        with self.settings(CACHES=self.caches()):
            self.assert_silent("xsession.W012", self.store())
        with self.settings(DJANGO_REDIS_IGNORE_EXCEPTIONS=True):
            # The default cache of the test settings is LocMemCache.
            self.assert_silent("xsession.W012", {"STORE": "cache"})
            # An unknown alias is E003's.
            self.assert_silent(
                "xsession.W012",
                {"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "nope"}}},
            )


class DummyCacheCheckTests(CheckTestCase):
    caches = {  # noqa: RUF012
        **settings.CACHES,
        "sessions": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }

    def store(self, backend: str = "cache") -> dict[str, Any]:
        return {"STORE": {"BACKEND": backend, "OPTIONS": {"cache": "sessions"}}}

    def test_w017_cache_store_on_a_dummy_cache(self) -> None:
        with self.settings(CACHES=self.caches):
            message = self.assert_fires(
                "xsession.W017",
                "The cache store's cache 'sessions' is Django's DummyCache, "
                "which keeps nothing: every request gets a new session",
                self.store(),
            )
        assert message.hint is not None
        assert "XSESSION['STORE']['OPTIONS']['cache']" in message.hint

    def test_w017_on_the_default_cache(self) -> None:
        dummy = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
        with self.settings(CACHES={**settings.CACHES, "default": dummy}):
            self.assert_fires("xsession.W017", "'default'", {"STORE": "cache"})

    def test_w017_not_for_other_stores_or_caches(self) -> None:
        with self.settings(CACHES=self.caches):
            # cached_db reads the database on every miss.
            self.assert_silent("xsession.W017", self.store("cached_db"))
            self.assert_silent("xsession.W017", {"STORE": "cache"})
            self.assert_silent(
                "xsession.W017",
                {"STORE": {"BACKEND": "cache", "OPTIONS": {"cache": "nope"}}},
            )
        unimportable = {"BACKEND": "no.such.Cache"}
        with self.settings(CACHES={**settings.CACHES, "sessions": unimportable}):
            self.assert_silent("xsession.W017", self.store())


# Never built by a check, so never made on disk.
FILE_CACHE = {
    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
    "LOCATION": "/nonexistent/xsession-sessions",
}


class FileBasedCacheCheckTests(CheckTestCase):
    caches = {**settings.CACHES, "sessions": FILE_CACHE}  # noqa: RUF012

    def store(self, backend: str = "cache") -> dict[str, Any]:
        return {"STORE": {"BACKEND": backend, "OPTIONS": {"cache": "sessions"}}}

    def test_w018_cache_store_on_a_file_based_cache(self) -> None:
        with self.settings(CACHES=self.caches):
            message = self.assert_fires(
                "xsession.W018",
                "The cache store's cache 'sessions' is Django's FileBasedCache, "
                "which culls entries at random once it holds MAX_ENTRIES",
                self.store(),
            )
        assert message.hint is not None
        assert "least recently used" in message.hint

    def test_w018_on_the_default_cache(self) -> None:
        with self.settings(CACHES={**settings.CACHES, "default": FILE_CACHE}):
            self.assert_fires("xsession.W018", "'default'", {"STORE": "cache"})

    def test_w018_not_for_other_stores_or_caches(self) -> None:
        with self.settings(CACHES=self.caches):
            # cached_db reads the database on every miss, and has no generation.
            self.assert_silent("xsession.W018", self.store("cached_db"))
            # LocMemCache culls the least recently used entries first.
            self.assert_silent("xsession.W018", {"STORE": "cache"})


# Never built by a check, so no client library or server is needed.
MEMCACHED = {
    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
    "LOCATION": "127.0.0.1:11211",
}


class MemcachedCheckTests(CheckTestCase):
    caches = {**settings.CACHES, "sessions": MEMCACHED}  # noqa: RUF012

    def store(self, backend: str = "cache", **options: Any) -> dict[str, Any]:
        store = {"BACKEND": backend, "OPTIONS": {"cache": "sessions"}}
        return {"STORE": store, **options}

    def test_w019_cache_store_on_memcached_at_the_default_max_size(self) -> None:
        with self.settings(CACHES=self.caches):
            message = self.assert_fires(
                "xsession.W019",
                "The cache store's cache 'sessions' is memcached, whose item "
                "size (1 MiB unless memcached's -I says otherwise) leaves no room "
                "for a session of XSESSION['MAX_SIZE'] (1,048,576 bytes)",
                self.store(),
            )
        assert message.hint is not None
        assert "XSESSION['MAX_SIZE'] to 1,000,000 or less" in message.hint

    def test_w019_not_with_room_to_spare_or_for_other_stores(self) -> None:
        with self.settings(CACHES=self.caches):
            self.assert_silent("xsession.W019", self.store(MAX_SIZE=1_000_000))
            # cached_db keeps the session in the database when the copy fails.
            self.assert_silent("xsession.W019", self.store("cached_db"))
            self.assert_silent("xsession.W019", {"STORE": "cache"})


class SessionTableElsewhere:
    """Lets migrate create django_xsession's table in "sqlite_file" only."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "sqlite_file" if app_label == "django_xsession" else None


class SessionsToTheirTable(SessionTableElsewhere):
    """And sends the sessions there."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return "sqlite_file" if model._meta.app_label == "django_xsession" else None

    db_for_write = db_for_read


class MisroutedTableCheckTests(CheckTestCase):
    @override_settings(DATABASE_ROUTERS=[f"{__name__}.SessionTableElsewhere"])
    def test_e015_sessions_on_a_database_migrate_keeps_their_table_out_of(
        self,
    ) -> None:
        # The routers send the model nowhere: sessions go to "default".
        message = self.assert_fires(
            "xsession.E015",
            "The session store keeps sessions in database 'default', where the "
            "database routers' allow_migrate keeps django_xsession's table out",
            {"STORE": "db"},
        )
        assert message.hint is not None
        assert "XSESSION['STORE']['OPTIONS']['using']" in message.hint
        self.assert_fires(
            "xsession.E015",
            "database 'default'",
            {"STORE": {"BACKEND": "cached_db", "OPTIONS": {"using": "default"}}},
        )
        self.assert_silent(
            "xsession.E015",
            {"STORE": {"BACKEND": "db", "OPTIONS": {"using": "sqlite_file"}}},
        )

    def test_e015_not_where_the_table_is_migrated_or_no_table_is_used(self) -> None:
        self.assert_silent("xsession.E015", {"STORE": "db"})
        with self.settings(DATABASE_ROUTERS=[f"{__name__}.SessionsToTheirTable"]):
            self.assert_silent("xsession.E015", {"STORE": "db"})
            self.assert_silent("xsession.E015", {"STORE": "cached_db"})
        with self.settings(DATABASE_ROUTERS=[f"{__name__}.SessionTableElsewhere"]):
            self.assert_silent("xsession.E015", {"STORE": "cache"})
            self.assert_silent("xsession.E015", {"STORE": "memory"})
            # An unknown alias is E003's.
            self.assert_silent(
                "xsession.E015",
                {"STORE": {"BACKEND": "db", "OPTIONS": {"using": "nope"}}},
            )


class IgnoredDjangoSettingCheckTests(CheckTestCase):
    @override_settings(SESSION_SAVE_EVERY_REQUEST=True)
    def test_w007_session_save_every_request(self) -> None:
        found = self.messages("xsession.W007")

        assert len(found) == 1
        assert found[0].msg == (
            "SESSION_SAVE_EVERY_REQUEST is True, but django-xsession does not read it."
        )
        assert found[0].hint is not None
        assert "XSESSION['ROLLING'] = True" in found[0].hint

    def test_w007_not_when_false(self) -> None:
        assert settings.SESSION_SAVE_EVERY_REQUEST is False
        assert self.messages("xsession.W007") == []


class ClearSessionsCheckTests(CheckTestCase):
    def installed_apps_with_contrib_sessions(self, *, first: bool) -> list[str]:
        apps = [
            app
            for app in settings.INSTALLED_APPS
            if app not in ("django_xsession", "django.contrib.sessions")
        ]
        both = ["django_xsession", "django.contrib.sessions"]
        return [*(reversed(both) if first else both), *apps]

    def test_w008_contrib_sessions_listed_first(self) -> None:
        installed = self.installed_apps_with_contrib_sessions(first=True)
        with self.settings(INSTALLED_APPS=installed):
            found = self.messages("xsession.W008")

        assert len(found) == 1
        assert found[0].msg == (
            "manage.py clearsessions runs django.contrib.sessions's command, "
            "not django-xsession's."
        )
        assert found[0].hint == (
            "List 'django_xsession' before 'django.contrib.sessions' in "
            "INSTALLED_APPS: Django runs the first installed app's command."
        )

    def test_w008_not_when_listed_after_us_or_absent(self) -> None:
        installed = self.installed_apps_with_contrib_sessions(first=False)
        with self.settings(INSTALLED_APPS=installed):
            assert self.messages("xsession.W008") == []
        without = [app for app in installed if app != "django.contrib.sessions"]
        with self.settings(INSTALLED_APPS=without):
            assert self.messages("xsession.W008") == []


class RegistrationTests(CheckTestCase):
    def test_w009_and_w010_a_deployment_with_a_readable_cookie(self) -> None:
        def deploy_ids(cookie: dict[str, Any]) -> list[str]:
            with self.settings(XSESSION={"STORE": "memory", "COOKIE": cookie}):
                return [message.id or "" for message in check_deployment()]

        assert deploy_ids({"SECURE": False, "HTTPONLY": False}) == [
            "xsession.W009",
            "xsession.W010",
        ]
        assert deploy_ids({"SECURE": True}) == []
        assert deploy_ids({"SECURE": "auto"}) == []

    def test_w010_only_where_a_cookie_is_sent(self) -> None:
        readable = {"SECURE": False, "HTTPONLY": False}
        assert self.deploy_ids(TRANSPORT="both", COOKIE=readable) == [
            "xsession.W009",
            "xsession.W010",
        ]
        # The header transport sends no cookie for a script to read, but
        # hands its tokens out over plain HTTP unless SECURE says otherwise.
        assert self.deploy_ids(TRANSPORT="header", COOKIE=readable) == ["xsession.W009"]
        with self.settings(
            XSESSION={"STORE": "memory", "TRANSPORT": "header", "COOKIE": readable}
        ):
            (warning,) = check_deployment()
        assert warning.msg.startswith("The session token is not Secure")
        assert self.deploy_ids(TRANSPORT="header", COOKIE={"SECURE": True}) == []

    def test_w011_a_deployment_with_a_weak_secret(self) -> None:
        strong = "k" + "".join(chr(ord("a") + n % 26) for n in range(60))

        def deploy_ids(secrets: Any) -> list[str]:
            xsession = {"STORE": "memory", "COOKIE": {"SECURE": True}}
            if secrets is not None:
                xsession["SECRETS"] = secrets
            with self.settings(XSESSION=xsession):
                return [message.id or "" for message in check_deployment()]

        for weak in ("x", "a" * 60, f"django-insecure-{strong}"):
            assert deploy_ids([strong, weak]) == ["xsession.W011"], weak
            assert deploy_ids(weak) == ["xsession.W011"], weak
        assert deploy_ids([strong]) == []
        # From SECRET_KEY, which Django's own security.W009 judges.
        assert deploy_ids(None) == []
        # Empty: E001's to report.
        assert deploy_ids([""]) == []

    def test_w013_a_header_transport_whose_header_error_reports_show(self) -> None:
        def deploy_ids(**options: str) -> list[str]:
            xsession = {"STORE": "memory", "COOKIE": {"SECURE": True}, **options}
            with self.settings(XSESSION=xsession):
                return [message.id or "" for message in check_deployment()]

        for transport in ("header", "both"):
            assert deploy_ids(TRANSPORT=transport, HEADER="X-Session-Id") == [
                "xsession.W013"
            ]
            assert deploy_ids(TRANSPORT=transport) == []
            assert deploy_ids(TRANSPORT=transport, HEADER="X-Api-Key") == []
        assert deploy_ids(HEADER="X-Session-Id") == []

    def deploy_ids(self, **xsession: Any) -> list[str]:
        with self.settings(
            XSESSION={"STORE": "memory", "COOKIE": SECURE_COOKIE, **xsession}
        ):
            return [message.id or "" for message in check_deployment()]

    def test_w016_a_cookie_name_error_reports_show(self) -> None:
        for transport in ("cookie", "both"):
            assert self.deploy_ids(TRANSPORT=transport, NAME="sid") == ["xsession.W016"]
        assert self.deploy_ids(TRANSPORT="header", NAME="sid") == []
        assert self.deploy_ids() == []
        # The name of a sensitive setting: the reports hide it too.
        assert self.deploy_ids(NAME="sid_token") == []
        assert self.deploy_ids(NAME="XSessionKey") == []

    def test_w016_says_which_cookie_and_what_to_set(self) -> None:
        with self.settings(XSESSION={"NAME": "sid"}):
            [message] = [m for m in check_deployment() if m.id == "xsession.W016"]

        assert message.level == checks.WARNING
        assert message.msg == (
            "Django's error reports show the 'sid' cookie, the session token, in "
            "clear: they hide only the cookie named SESSION_COOKIE_NAME "
            "('sessionid') and names like Django's sensitive settings."
        )
        assert message.hint is not None
        assert "Set SESSION_COOKIE_NAME instead of XSESSION['NAME']" in message.hint

    @override_settings(SESSION_COOKIE_NAME="sid")
    def test_w016_not_for_a_name_taken_from_session_cookie_name(self) -> None:
        assert self.deploy_ids() == []
        assert self.deploy_ids(NAME="sid") == []
        assert self.deploy_ids(NAME="sessionid") == ["xsession.W016"]

    def test_w016_not_when_the_projects_filter_hides_the_cookie(self) -> None:
        filter_path = "tests.test_checks.CookieHidingFilter"
        with self.settings(DEFAULT_EXCEPTION_REPORTER_FILTER=filter_path):
            assert self.deploy_ids(NAME="sid") == []
            assert self.deploy_ids(NAME="sid2") == ["xsession.W016"]

    def test_w016_fires_exactly_when_djangos_error_report_shows_the_token(
        self,
    ) -> None:
        token = "s.cookie-token-of-the-test.signature"
        shown: dict[str, bool] = {}
        # "authsid": Django 4.2 shows it, later versions hide it.
        for name in ("sid", "sessionid", "sid_token", "api_sid", "authsid"):
            factory = RequestFactory()
            factory.cookies[name] = token
            request = factory.get("/")
            try:
                raise RuntimeError("the view failed")
            except RuntimeError as error:
                report = ExceptionReporter(
                    request, RuntimeError, error, error.__traceback__
                ).get_traceback_text()
            shown[name] = token in report
            with self.subTest(name=name, shown=shown[name]):
                assert self.deploy_ids(NAME=name) == (
                    ["xsession.W016"] if shown[name] else []
                )
        # The leak W016 is about is there.
        assert shown["sid"]
        assert not shown["sessionid"]

    def test_the_default_header_is_hidden_in_error_reports(self) -> None:
        request = RequestFactory().get("/", headers={"X-Session-Token": "token"})
        meta = SafeExceptionReporterFilter().get_safe_request_meta(request)

        assert meta["HTTP_X_SESSION_TOKEN"] != "token"

    def test_deployment_checks_run_only_with_deploy(self) -> None:
        registry = checks.registry.registry
        deploy: list[object] = list(registry.get_checks(include_deployment_checks=True))
        always: list[object] = list(registry.get_checks())

        assert check_deployment in deploy
        assert check_deployment not in always

    def test_ids_in_source_are_exactly_the_tested_ids(self) -> None:
        source = "".join(
            Path(module.__file__ or "").read_text()
            for module in (conf, xsession_checks)
        )

        assert set(re.findall(r"xsession\.[EW]\d{3}", source)) == TESTED_IDS

    def test_check_is_registered(self) -> None:
        registered: list[object] = list(checks.registry.registry.get_checks())

        assert check_settings in registered

    def test_run_checks_reports_our_errors(self) -> None:
        with self.settings(XSESSION={"UNSET": "maybe"}):
            ids = [message.id for message in run_checks(databases=[])]

        assert "xsession.E006" in ids

    def test_get_options_raises_naming_the_id(self) -> None:
        with (
            self.settings(XSESSION={"UNSET": "maybe", "SECRETS": []}),
            self.assertRaises(ImproperlyConfigured) as raised,
        ):
            get_options()

        message = str(raised.exception)
        assert (
            "xsession.E006: XSESSION['UNSET'] must be 'keep' or 'destroy'." in message
        )
        assert "xsession.E001: " in message

    def test_only_e011_and_e015_leave_requests_running(self) -> None:
        # As the README says: every other error is read_options()'s, which
        # a request raises; these two judge settings requests do not read.
        conf_errors = set(
            re.findall(r"xsession\.E\d{3}", Path(conf.__file__ or "").read_text())
        )
        tested_errors = {check_id for check_id in TESTED_IDS if ".E" in check_id}
        assert tested_errors - conf_errors == {"xsession.E011", "xsession.E015"}
        with self.settings(
            MIDDLEWARE=[DJANGO_MIDDLEWARE, *settings.MIDDLEWARE],
            DATABASE_ROUTERS=[f"{__name__}.SessionTableElsewhere"],
            XSESSION={"STORE": "db"},
        ):
            ids = {message.id for message in check_settings()}
            options = get_options()
        assert {"xsession.E011", "xsession.E015"} <= ids
        assert options.store.backend == conf.STORE_ALIASES["db"]

    def test_a_request_under_a_path_that_cannot_be_imported_names_the_id(
        self,
    ) -> None:
        for xsession, check_id in (
            ({"STORE": ".x"}, "xsession.E003"),
            ({"STORE": "..x"}, "xsession.E003"),
            ({"GENID": "."}, "xsession.E007"),
            ({"LEGACY_ENGINE": ""}, "xsession.E013"),
            ({"LEGACY_ENGINE": ".x"}, "xsession.E013"),
            ({"COOKIE": {1: True}}, "xsession.E008"),
        ):
            with (
                self.subTest(xsession=xsession),
                self.settings(XSESSION=xsession),
                self.assertRaisesMessage(ImproperlyConfigured, f"{check_id}: "),
            ):
                self.client.get("/read/")

    def test_get_options_does_not_raise_for_warnings(self) -> None:
        expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        with self.settings(XSESSION={"EXPIRES": expires, "NAME": "sid"}):
            assert get_options().expires == expires

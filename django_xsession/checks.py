"""System checks: every configuration mistake has its own id and a test."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.management import get_commands
from django.db import router
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.views.debug import SafeExceptionReporterFilter

from django_xsession.conf import (
    STORE_ALIASES,
    Options,
    StoreConfig,
    is_django_redis,
    read_options,
)
from django_xsession.models import Session
from django_xsession.stores.cache import CacheStore
from django_xsession.stores.cached_db import COPY_TIMEOUT, CachedDatabaseStore
from django_xsession.stores.db import DatabaseStore

OUR_ENGINE = "django_xsession.engine"
OUR_MIDDLEWARE = "django_xsession.middleware.SessionMiddleware"
DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
OUR_APP = "django_xsession"

# Django caches the cache store cannot keep sessions in: what goes wrong on
# each, how to mend it, and the check's id.
_CACHE_WARNINGS: tuple[tuple[type[BaseCache], str, str, str], ...] = (
    (
        DummyCache,
        "DummyCache, which keeps nothing: every request gets a new session, "
        "logins never stick, and a view's own save() fails.",
        "Give the store a cache that keeps what it is given "
        "(XSESSION['STORE']['OPTIONS']['cache']), or use another store.",
        "xsession.W017",
    ),
    (
        FileBasedCache,
        "FileBasedCache, which culls entries at random once it holds "
        "MAX_ENTRIES (300 by default): sessions end at random, and a culled "
        "generation key ends every session in it.",
        "Give the store (XSESSION['STORE']['OPTIONS']['cache']) a cache that "
        "evicts the least recently used keys first, such as memcached or Redis "
        "under an LRU or LFU policy, or use the 'db' or 'redis' store.",
        "xsession.W018",
    ),
)


# The most session data a memcached item of the default 1 MiB holds with
# room to spare for the entry's own fields, the key and the client's pickle.
MEMCACHED_ROOM = 1_000_000


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    options, problems = read_options()
    messages: list[checks.CheckMessage] = [
        (checks.Error if problem.is_error else checks.Warning)(
            problem.msg, hint=problem.hint, id=problem.id
        )
        for problem in problems
    ]
    middleware = list(settings.MIDDLEWARE)
    theirs = DJANGO_MIDDLEWARE in middleware
    if OUR_MIDDLEWARE not in middleware:
        # Django's alone is the first step of a migration: a warning, so
        # that migrate still runs.
        messages.append(
            checks.Warning(
                f"{OUR_MIDDLEWARE} is not in MIDDLEWARE, so requests get "
                + ("django.contrib.sessions' sessions." if theirs else "no session."),
                hint=f"Replace {DJANGO_MIDDLEWARE} with it." if theirs else None,
                id="xsession.W005",
            )
        )
    elif theirs:
        messages.append(
            checks.Error(
                f"{DJANGO_MIDDLEWARE} is installed beside django-xsession's.",
                hint=f"Replace it with {OUR_MIDDLEWARE}: both set request.session.",
                id="xsession.E011",
            )
        )
    if options.store.backend == STORE_ALIASES["memory"] and not settings.DEBUG:
        messages.append(
            checks.Warning(
                "The memory store keeps sessions in one process and loses them "
                "on restart.",
                hint="Use the 'db', 'cached_db' or 'redis' store in production.",
                id="xsession.W002",
            )
        )
    ignoring = _cache_ignoring_errors(options.store)
    if ignoring is not None:
        messages.append(
            checks.Warning(
                f"The cache store's cache {ignoring!r} ignores Redis connection "
                "errors (django-redis's IGNORE_EXCEPTIONS): during an outage "
                "every session reads as empty, so logged-in users appear "
                "logged out, instead of ON_STORE_ERROR applying.",
                hint=f"Set CACHES[{ignoring!r}]['OPTIONS']['IGNORE_EXCEPTIONS'] "
                "= False, or give the store a cache alias of its own without "
                "it, or use the 'redis' store, which it does not affect.",
                id="xsession.W012",
            )
        )
    for backend_class, problem, hint, check_id in _CACHE_WARNINGS:
        alias = _cache_store_on(options.store, backend_class)
        if alias is not None:
            messages.append(
                checks.Warning(
                    f"The cache store's cache {alias!r} is Django's {problem}",
                    hint=hint,
                    id=check_id,
                )
            )
    memcached = _cache_store_on(options.store, BaseMemcachedCache)
    if memcached is not None and options.max_size > MEMCACHED_ROOM:
        messages.append(
            checks.Warning(
                f"The cache store's cache {memcached!r} is memcached, whose item "
                "size (1 MiB unless memcached's -I says otherwise) leaves no room "
                f"for a session of XSESSION['MAX_SIZE'] ({options.max_size:,} "
                "bytes) and the entry's own fields: memcached refuses such a "
                "save and drops the entry it held, so the session ends.",
                hint=f"Set XSESSION['MAX_SIZE'] to {MEMCACHED_ROOM:,} or less, "
                "or, where memcached runs with a larger -I, silence this check.",
                id="xsession.W019",
            )
        )
    misrouted = _table_kept_out(options.store)
    if misrouted is not None:
        messages.append(
            checks.Error(
                f"The session store keeps sessions in database {misrouted!r}, "
                "where the database routers' allow_migrate keeps "
                "django_xsession's table out: migrate never creates it there, "
                "and every request that uses a session fails.",
                hint="Send the sessions where allow_migrate lets the table be "
                "(XSESSION['STORE']['OPTIONS']['using'], or the routers' "
                "db_for_write for django_xsession), or let it be in "
                f"{misrouted!r}.",
                id="xsession.E015",
            )
        )
    reach = _copies_reach(options)
    if reach is not None:
        messages.append(
            checks.Warning(
                f"XSESSION['IDLE_TIMEOUT'] ({options.idle_timeout}) is not above "
                f"what a cached_db copy's times can lag the row ({reach} s: "
                "copy_timeout plus TOUCH_AFTER): when the cache evicts a copy's "
                "touch key, an active user can be taken for idle and logged out.",
                hint="Lower XSESSION['STORE']['OPTIONS']['copy_timeout'] (or "
                "TOUCH_AFTER), raise IDLE_TIMEOUT, or use the 'db' store.",
                id="xsession.W014",
            )
        )
    if settings.SESSION_ENGINE != OUR_ENGINE:
        messages.append(
            checks.Warning(
                f"SESSION_ENGINE is {settings.SESSION_ENGINE!r}, not {OUR_ENGINE!r}.",
                hint="Django's test client and login tools build sessions from "
                "SESSION_ENGINE.",
                id="xsession.W003",
            )
        )
    if options.name != settings.SESSION_COOKIE_NAME:
        messages.append(
            checks.Warning(
                f"XSESSION['NAME'] ({options.name!r}) differs from "
                f"SESSION_COOKIE_NAME ({settings.SESSION_COOKIE_NAME!r}).",
                hint="Django's test client and Channels' AuthMiddlewareStack read "
                "SESSION_COOKIE_NAME; set that instead of NAME. LEGACY_CONTRIB "
                "finds django.contrib.sessions cookies under NAME only.",
                id="xsession.W004",
            )
        )
    if settings.SESSION_SAVE_EVERY_REQUEST:
        messages.append(
            checks.Warning(
                "SESSION_SAVE_EVERY_REQUEST is True, but django-xsession does not "
                "read it.",
                hint="Set XSESSION['ROLLING'] = True to re-send the cookie and move "
                "the expiry on every request (RESAVE also rewrites unchanged data).",
                id="xsession.W007",
            )
        )
    # Django runs the command of the first installed app that has one.
    clearsessions_app = get_commands().get("clearsessions")
    if clearsessions_app != OUR_APP:
        messages.append(
            checks.Warning(
                f"manage.py clearsessions runs {clearsessions_app}'s command, "
                "not django-xsession's.",
                hint=f"List {OUR_APP!r} before {clearsessions_app!r} in "
                "INSTALLED_APPS: Django runs the first installed app's command.",
                id="xsession.W008",
            )
        )
    return messages


def check_deployment(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: Django's W012 and W013 look at SESSION_COOKIE_*,
    and only with django.contrib.sessions installed; these look at ours."""
    options, _problems = read_options()
    messages: list[checks.CheckMessage] = []
    sends_cookie = options.transport != "header"
    if options.transport != "cookie" and not _hidden_in_error_reports(options.header):
        messages.append(
            checks.Warning(
                f"Django's error reports show the {options.header} request "
                "header, the session token of the header transport, in clear.",
                hint="Name the header with 'Token' or 'Key' in it (the default "
                "is 'X-Session-Token'): Django's SafeExceptionReporterFilter "
                "hides such headers.",
                id="xsession.W013",
            )
        )
    if sends_cookie and _shown_in_error_reports(options.name):
        messages.append(
            checks.Warning(
                f"Django's error reports show the {options.name!r} cookie, the "
                "session token, in clear: they hide only the cookie named "
                f"SESSION_COOKIE_NAME ({settings.SESSION_COOKIE_NAME!r}) and "
                "names like Django's sensitive settings.",
                hint="Set SESSION_COOKIE_NAME instead of XSESSION['NAME'] (NAME "
                "defaults to it), or name the cookie with 'Token' or 'Key' in it.",
                id="xsession.W016",
            )
        )
    # The header transport follows the cookie's SECURE too: off, it hands
    # tokens out over plain HTTP.
    if options.cookie.secure is False:
        carrier = "cookie" if sends_cookie else "token"
        messages.append(
            checks.Warning(
                f"The session {carrier} is not Secure: it travels over plain "
                "HTTP, where it can be read off the wire.",
                hint="Set XSESSION['COOKIE']['SECURE'] = True (or 'auto').",
                id="xsession.W009",
            )
        )
    if sends_cookie and not options.cookie.httponly:
        messages.append(
            checks.Warning(
                "The session cookie is not HttpOnly: a script injected into a "
                "page can read and send it away.",
                hint="Leave XSESSION['COOKIE']['HTTPONLY'] True.",
                id="xsession.W010",
            )
        )
    configured = getattr(settings, "XSESSION", None)
    # Secrets taken from SECRET_KEY and its fallbacks: Django's security.W009
    # and W025 judge those already.
    if isinstance(configured, Mapping) and "SECRETS" in configured:
        weak = [
            position
            for position, secret in enumerate(options.secrets)
            # An empty one is E001's.
            if secret and _weak_secret(secret)
        ]
        if weak:
            messages.append(
                checks.Warning(
                    "XSESSION['SECRETS'] holds a secret too short or too simple "
                    f"to resist guessing (at position {', '.join(map(str, weak))}): "
                    "anyone who finds one can sign session cookies.",
                    hint="Use at least 50 random characters, as for SECRET_KEY "
                    "(django.core.management.utils.get_random_secret_key()).",
                    id="xsession.W011",
                )
            )
    return messages


def _cache_store_cache(store: StoreConfig) -> tuple[str, Mapping[str, Any]] | None:
    """The alias and ``CACHES`` entry of the cache store's cache."""
    if not issubclass(import_string(store.backend), CacheStore):
        return None
    alias = store.options.get("cache", "default")
    config = settings.CACHES.get(alias) if isinstance(alias, str) else None
    return (alias, config) if isinstance(config, Mapping) else None  # else E003's


def _cache_ignoring_errors(store: StoreConfig) -> str | None:
    # Read from the settings, as django-redis reads them, never connecting.
    # Only the cache store: a swallowed error is a miss to cached_db, and the
    # database answers; the redis store uses the connection, not the cache.
    found = _cache_store_cache(store)
    if found is None or not is_django_redis(found[1].get("BACKEND")):
        return None
    alias, config = found
    ignores = getattr(settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False)
    cache_options = config.get("OPTIONS")
    if isinstance(cache_options, Mapping):
        ignores = cache_options.get("IGNORE_EXCEPTIONS", ignores)
    return alias if ignores else None


def _cache_store_on(store: StoreConfig, backend_class: type[BaseCache]) -> str | None:
    """The cache store's cache alias, if its backend is ``backend_class``'s."""
    # Only the cache store: cached_db reads the database on every miss.
    found = _cache_store_cache(store)
    if found is None:
        return None
    alias, config = found
    backend = config.get("BACKEND")
    try:
        found_class = import_string(backend) if isinstance(backend, str) else None
    except ImportError:
        return None  # the first use of the cache says so
    is_one = isinstance(found_class, type) and issubclass(found_class, backend_class)
    return alias if is_one else None


def _copies_reach(options: Options) -> int | None:
    """How far a cached_db copy's times may lag, if IDLE_TIMEOUT is not above it."""
    if options.idle_timeout is None or not issubclass(
        import_string(options.store.backend), CachedDatabaseStore
    ):
        return None
    copy_timeout = options.store.options.get("copy_timeout", COPY_TIMEOUT)
    if isinstance(copy_timeout, bool) or not isinstance(copy_timeout, int | float):
        return None
    reach = math.ceil(copy_timeout) + options.touch_after
    return reach if options.idle_timeout <= reach else None


def _table_kept_out(store: StoreConfig) -> str | None:
    """The database a database store uses, if migrate keeps its table out."""
    if not issubclass(import_string(store.backend), DatabaseStore):
        return None
    using = store.options.get("using")
    alias = using if isinstance(using, str) else router.db_for_write(Session)
    if alias not in settings.DATABASES:
        return None  # E003's
    return None if router.allow_migrate_model(alias, Session) else alias


def _hidden_in_error_reports(header: str) -> bool:
    meta_name = "HTTP_" + header.upper().replace("-", "_")
    return bool(SafeExceptionReporterFilter.hidden_settings.search(meta_name))


def _shown_in_error_reports(cookie_name: str) -> bool:
    # Asked of the filter the reports use, so that the rule is the installed
    # Django's (4.2 does not hide AUTH) and a project's own filter counts.
    # Built here, not taken from Django's get_default_exception_reporter_filter(),
    # which keeps the first one it builds through override_settings.
    report_filter = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)()
    request = HttpRequest()
    request.COOKIES = {cookie_name: "token"}
    safe_cookies = report_filter.get_safe_cookies(request)
    return bool(safe_cookies.get(cookie_name) == "token")


def _weak_secret(secret: str) -> bool:
    # Django's own measure of SECRET_KEY (security.W009).
    return (
        len(secret) < 50
        or len(set(secret)) < 5
        or secret.startswith("django-insecure-")
    )


def register() -> None:
    checks.register(check_settings)
    checks.register(check_deployment, deploy=True)

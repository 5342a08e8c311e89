"""The session setups the bench compares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.databases import SessionsTo

DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
XSESSION_MIDDLEWARE = "django_xsession.middleware.SessionMiddleware"
# The LocMemCache alias of bench.settings in front of the databases.
DB_CACHE_ALIAS = "db_sessions"


@dataclass(frozen=True)
class Engine:
    """One column of the table: a middleware and the settings it runs under."""

    name: str
    middleware: str
    settings: Mapping[str, Any]
    #: The store ``--profile`` names it by; ``None`` for Django's engines.
    store: str | None = field(default=None, compare=False)


OURS = Engine(
    name="ours",
    middleware=XSESSION_MIDDLEWARE,
    settings={
        "SESSION_ENGINE": "django_xsession.engine",
        "XSESSION": {"STORE": "memory"},
    },
    store="memory",
)

ENGINES: tuple[Engine, ...] = (
    OURS,
    Engine(
        name="signed_cookies",
        middleware=DJANGO_MIDDLEWARE,
        settings={"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"},
    ),
    Engine(
        name="cache(locmem)",
        middleware=DJANGO_MIDDLEWARE,
        settings={
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
            # A LocMemCache alias from bench.settings.
            "SESSION_CACHE_ALIAS": "sessions",
        },
    ),
)


def db_engines(alias: str) -> tuple[Engine, ...]:
    """Ours and Django's db and cached_db engines, all on database ``alias``.

    Ours is pointed at it with the store's ``using`` option, Django's with a
    router; every engine gets both so none runs on a database by accident.
    """
    common = {
        "DATABASE_ROUTERS": [SessionsTo(alias)],
        "SESSION_CACHE_ALIAS": DB_CACHE_ALIAS,
    }
    return (
        Engine(
            name="ours db",
            middleware=XSESSION_MIDDLEWARE,
            settings={
                **common,
                "SESSION_ENGINE": "django_xsession.engine",
                "XSESSION": {"STORE": {"BACKEND": "db", "OPTIONS": {"using": alias}}},
            },
            store="db",
        ),
        Engine(
            name="django db",
            middleware=DJANGO_MIDDLEWARE,
            settings={
                **common,
                "SESSION_ENGINE": "django.contrib.sessions.backends.db",
            },
        ),
        Engine(
            name="ours cached_db",
            middleware=XSESSION_MIDDLEWARE,
            settings={
                **common,
                "SESSION_ENGINE": "django_xsession.engine",
                "XSESSION": {
                    "STORE": {
                        "BACKEND": "cached_db",
                        "OPTIONS": {"using": alias, "cache": DB_CACHE_ALIAS},
                    }
                },
            },
            store="cached_db",
        ),
        Engine(
            name="django cached_db",
            middleware=DJANGO_MIDDLEWARE,
            settings={
                **common,
                "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
            },
        ),
    )


# The ratio columns of a database table: (ours, theirs).
DB_PAIRS: tuple[tuple[str, str], ...] = (
    ("ours db", "django db"),
    ("ours cached_db", "django cached_db"),
)

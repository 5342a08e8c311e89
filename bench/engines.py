"""The session setups the bench compares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
XSESSION_MIDDLEWARE = "django_xsession.middleware.SessionMiddleware"


@dataclass(frozen=True)
class Engine:
    """One column of the table: a middleware and the settings it runs under."""

    name: str
    middleware: str
    settings: Mapping[str, Any]


OURS = Engine(
    name="ours",
    middleware=XSESSION_MIDDLEWARE,
    settings={
        "SESSION_ENGINE": "django_xsession.engine",
        "XSESSION": {"STORE": "memory"},
    },
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

"""Settings of the demo under ``python -m bench.loadtest``: its store and database.

Everything comes from ``testproject.settings``; environment variables, set
by :mod:`bench.loadtest` for each server it starts, choose the rest:

``XSESSION_LOADTEST_STORE``
    ``db`` (default) or ``redis``.
``XSESSION_LOADTEST_DATABASE``
    ``sqlite`` (default: the file ``TESTPROJECT_DATABASE`` names, as in the
    demo) or ``postgres`` (127.0.0.1:5432, user ``postgres``).
``XSESSION_LOADTEST_POSTGRES_NAME``
    the PostgreSQL database, ``xsession_loadtest`` by default.
``XSESSION_LOADTEST_REDIS_PREFIX``
    the keys of the Redis store, in database 14 of 127.0.0.1:6379.
``XSESSION_LOADTEST_CONN_MAX_AGE``
    ``CONN_MAX_AGE`` of the database, 0 by default.

The defaults only serve a bare ``import`` (mypy, an editor).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from testproject.settings import *  # noqa: F403
from testproject.settings import DATABASES as DEMO_DATABASES
from testproject.settings import XSESSION as DEMO_XSESSION

STORES = ("db", "redis")
DATABASE_KINDS = ("sqlite", "postgres")
POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
# Database 13 is the test suite's; this one is flushed of our prefix only.
REDIS_DB = 14
REDIS_ALIAS = "loadtest"


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, allowed[0])
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {allowed}, not {value!r}.")
    return value


STORE = _choice("XSESSION_LOADTEST_STORE", STORES)
DATABASE = _choice("XSESSION_LOADTEST_DATABASE", DATABASE_KINDS)

# Measured as deployed: no query log kept per request, no debug pages.
DEBUG = False
ROOT_URLCONF = "bench.loadtest_urls"

_database: dict[str, Any] = dict(DEMO_DATABASES["default"])
# gunicorn's threads each keep a connection, as a deployment's do. Under
# ASGI, Django's documentation says to keep none: each request may run its
# queries in another thread, whose connection would outlive it (PostgreSQL
# answers "too many clients" within seconds).
_database.update(
    CONN_MAX_AGE=int(os.environ.get("XSESSION_LOADTEST_CONN_MAX_AGE", "0")),
    CONN_HEALTH_CHECKS=True,
)
if DATABASE == "sqlite":
    # Rollback-journal commits cost ~18 ms of fsyncs on the bench machine,
    # so 32 queued writers can wait past the default 5 s and get a 503
    # ("database is locked"); the suite's threaded tests wait 30 s too.
    _database["OPTIONS"] = {"timeout": 30}
else:
    _database.update(
        ENGINE="django.db.backends.postgresql",
        HOST=POSTGRES[0],
        PORT=POSTGRES[1],
        USER="postgres",
        NAME=os.environ.get("XSESSION_LOADTEST_POSTGRES_NAME", "xsession_loadtest"),
        OPTIONS={"connect_timeout": 5},
    )
DATABASES = {"default": _database}

CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Connects on first use only: the db runs never touch it.
    REDIS_ALIAS: {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 5},
    },
}

_xsession: dict[str, Any] = dict(DEMO_XSESSION)
if STORE == "redis":
    _xsession["STORE"] = {
        "BACKEND": "redis",
        "OPTIONS": {
            "cache": REDIS_ALIAS,
            "prefix": os.environ.get(
                "XSESSION_LOADTEST_REDIS_PREFIX", "xsession-loadtest:"
            ),
        },
    }

XSESSION = _xsession

# DEBUG off sends a 500's traceback nowhere by default; the server's log is
# where a failed run is explained.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}

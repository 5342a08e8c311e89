"""Django settings for ``python -m bench``: only what the measured engines need.

``python -m bench`` sets ``XSESSION_BENCH_DIR`` to a temporary directory it
removes afterwards (the SQLite file lives there) and ``XSESSION_BENCH_SCHEMA``
to the PostgreSQL schema it creates and drops; ``--no-postgres`` sets
``XSESSION_BENCH_POSTGRES=0``; ``XSESSION_BENCH_REDIS_PREFIX`` is the key
prefix of everything the bench writes to Redis, removed afterwards. The
clearsessions workers point the SQLite alias at their own file with
``XSESSION_BENCH_SQLITE``. The defaults below only serve a bare ``import``
(mypy, an editor).
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import Any

SECRET_KEY = "django-xsession-bench-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver"]

# contrib.sessions for its Session model: Django's db and cached_db engines.
INSTALLED_APPS = ["django_xsession", "django.contrib.sessions"]
# The bench wraps its view in one session middleware itself, per engine.
MIDDLEWARE: list[str] = []

POSTGRES = ("127.0.0.1", 5432)
SQLITE_ALIAS = "default"
POSTGRES_ALIAS = "postgres"
REDIS = ("127.0.0.1", 6379)
REDIS_ALIAS = "redis_sessions"
# A database the test suite (db 13) does not use; keys carry a per-run
# prefix as well, so the bench deletes only its own and never flushes.
REDIS_DB = 15
REDIS_PREFIX = os.environ.get("XSESSION_BENCH_REDIS_PREFIX") or "xsession-bench"


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


BENCH_DIR = Path(os.environ.get("XSESSION_BENCH_DIR") or tempfile.gettempdir())
# A file, not ":memory:": commits then cost what they cost a real site.
DATABASES: dict[str, dict[str, Any]] = {
    SQLITE_ALIAS: {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("XSESSION_BENCH_SQLITE")
        or str(BENCH_DIR / "bench.sqlite3"),
    },
}
if os.environ.get("XSESSION_BENCH_POSTGRES", "1") == "1" and _reachable(POSTGRES):
    # A schema of our own inside database "test": the bench creates and drops
    # exactly its tables and never meets anybody else's.
    SCHEMA = os.environ.get("XSESSION_BENCH_SCHEMA") or "xsession_bench"
    DATABASES[POSTGRES_ALIAS] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": POSTGRES[0],
        "PORT": POSTGRES[1],
        "USER": "postgres",
        "NAME": "test",
        "OPTIONS": {"options": f"-c search_path={SCHEMA}"},
    }

# Engines set their own: Django's db engines get a router to their database.
DATABASE_ROUTERS: list[Any] = []

CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bench-sessions",
        # The bound of xsession's memory store, so both evict alike under "new".
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
    # In front of the databases, shared by our cached_db store and Django's,
    # apart from "sessions" so the memory table is measured as before.
    "db_sessions": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bench-db-sessions",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}

if _reachable(REDIS):
    # Shared by our redis and cache stores and Django's cache engine; the
    # KEY_PREFIX covers Django's keys and our cache store's, and our redis
    # store is given the same prefix (bench.redis_engines).
    CACHES[REDIS_ALIAS] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}",
        "KEY_PREFIX": REDIS_PREFIX,
    }

# Each engine overrides these; see bench.engines.
SESSION_ENGINE = "django_xsession.engine"
SESSION_CACHE_ALIAS = "sessions"
XSESSION = {"STORE": "memory"}

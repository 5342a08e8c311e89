"""Ours (redis and cache stores) and Django's cache engine, all on one Redis alias.

Everything the bench writes carries ``bench.bench_settings.REDIS_PREFIX``: Django's
keys and our cache store's through the alias's ``KEY_PREFIX``, our redis
store's through its ``prefix`` option. :func:`cleanup` deletes exactly those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from bench import runner
from bench import settings as bench_settings
from bench.engines import DJANGO_MIDDLEWARE, XSESSION_MIDDLEWARE, Engine

if TYPE_CHECKING:
    from redis import Redis

# Scenario targets of the Redis table, time ratio ours / Django's cache engine.
TARGETS = {"read": 0.6, "write": 0.6, "new": 0.7}
# The ratio columns: (ours, theirs).
PAIRS: tuple[tuple[str, str], ...] = (
    ("ours redis", "django cache"),
    ("ours cache", "django cache"),
)


def available() -> bool:
    """Whether bench.settings found Redis answering and configured the alias."""
    return bench_settings.REDIS_ALIAS in settings.CACHES


def _connection() -> Redis:
    from django_redis import get_redis_connection  # type: ignore[import-untyped]

    connection: Redis = get_redis_connection(bench_settings.REDIS_ALIAS)
    return connection


def engines() -> tuple[Engine, ...]:
    alias: str = bench_settings.REDIS_ALIAS
    prefix: str = bench_settings.REDIS_PREFIX
    return (
        Engine(
            name="ours redis",
            middleware=XSESSION_MIDDLEWARE,
            settings={
                "SESSION_ENGINE": "django_xsession.engine",
                "XSESSION": {
                    "STORE": {
                        "BACKEND": "redis",
                        # Raw keys, outside the cache's KEY_PREFIX: give them
                        # the same one so cleanup() finds them too.
                        "OPTIONS": {"cache": alias, "prefix": f"{prefix}:r:"},
                    }
                },
            },
            store="redis",
        ),
        Engine(
            name="ours cache",
            middleware=XSESSION_MIDDLEWARE,
            settings={
                "SESSION_ENGINE": "django_xsession.engine",
                "XSESSION": {
                    "STORE": {
                        "BACKEND": "cache",
                        "OPTIONS": {"cache": alias, "prefix": "c:"},
                    }
                },
            },
            store="cache",
        ),
        Engine(
            name="django cache",
            middleware=DJANGO_MIDDLEWARE,
            settings={
                "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
                "SESSION_CACHE_ALIAS": alias,
            },
        ),
    )


def floor(*, n: int, repeats: int) -> float:
    """Best µs per request of the harness with no session middleware at all,
    the view doing one Redis GET through the alias's connection.

    The connection is looked up once, as our redis store caches its client:
    the floor is one round trip, not the lookup as well.
    """
    connection = _connection()
    key = f"{bench_settings.REDIS_PREFIX}:floor"
    # About what a seeded session holds, so the reply is of a like size.
    connection.set(key, b"x" * 200)

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(connection.get(key))

    return runner.floor(view, n=n, repeats=repeats)


def cleanup() -> int:
    """Delete every key the bench wrote (SCAN + UNLINK); return how many."""
    connection = _connection()
    removed = 0
    batch: list[bytes] = []
    for key in connection.scan_iter(
        match=f"{bench_settings.REDIS_PREFIX}:*", count=1000
    ):
        batch.append(key)
        if len(batch) >= 1000:
            removed += int(connection.unlink(*batch))
            batch.clear()
    if batch:
        removed += int(connection.unlink(*batch))
    return removed

"""Django settings for ``python -m bench``: only what the measured engines need."""

from __future__ import annotations

from typing import Any

SECRET_KEY = "django-xsession-bench-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = ["django_xsession"]
# The bench wraps its view in one session middleware itself, per engine.
MIDDLEWARE: list[str] = []
# No engine measured so far touches a database.
DATABASES: dict[str, Any] = {}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bench-sessions",
        # The bound of xsession's memory store, so both evict alike under "new".
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}

# Each engine overrides these; see bench.engines.
SESSION_ENGINE = "django_xsession.engine"
SESSION_CACHE_ALIAS = "sessions"
XSESSION = {"STORE": "memory"}

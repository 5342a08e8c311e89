from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.services import MARIADB, POSTGRES, REDIS, REDIS_DB, reachable

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-xsession-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES: dict[str, dict[str, object]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    },
    # In-memory SQLite shares one cache between threads and fails them with
    # "table is locked"; concurrency tests use a file, as a real site does.
    "sqlite_file": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / ".cache" / "xsession-tests.sqlite3"),
        "TEST": {"NAME": str(BASE_DIR / ".cache" / "xsession-tests.sqlite3")},
        "OPTIONS": {"timeout": 30},
    },
}
(BASE_DIR / ".cache").mkdir(exist_ok=True)

# A PostgreSQL server that is not there (nothing listens on port 9): the
# database store's outage tests point at it; no test database is made for it.
DATABASES["unreachable"] = {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": "127.0.0.1",
    "PORT": 9,
    "USER": "postgres",
    "NAME": "test",
    "OPTIONS": {"connect_timeout": 2},
}

if reachable(POSTGRES):
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": POSTGRES[0],
        "PORT": POSTGRES[1],
        "USER": "postgres",
        "NAME": "test",
        "TEST": {"NAME": "test_xsession"},
    }

if reachable(MARIADB):
    import pymysql

    # Django asks for mysqlclient's version; PyMySQL speaks the same API.
    pymysql.version_info = (2, 2, 1, "final", 0)
    pymysql.install_as_MySQLdb()
    DATABASES["mariadb"] = {
        "ENGINE": "django.db.backends.mysql",
        "HOST": MARIADB[0],
        "PORT": MARIADB[1],
        "USER": "root",
        "PASSWORD": "",
        "NAME": "test",
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"NAME": "test_xsession", "CHARSET": "utf8mb4"},
    }

CACHES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # A database of the machine's Redis that is the suite's own.
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
    },
}
# The same database through django-redis's JSON and msgpack serializers, each
# under a key prefix of its own: stores must keep values they round-trip.
for _alias, _serializer in (
    ("redis_json", "django_redis.serializers.json.JSONSerializer"),
    ("redis_msgpack", "django_redis.serializers.msgpack.MSGPackSerializer"),
):
    CACHES[_alias] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHES["redis"]["LOCATION"],
        "KEY_PREFIX": _alias,
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 2,
            "SERIALIZER": _serializer,
        },
    }

INSTALLED_APPS = [
    "django_xsession",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    # Django's own engines, for the compatibility suite and side-by-side tests.
    "django.contrib.sessions",
    "testproject",
]

# Django's own session tests, unpacked from the sdist by `make test`.
DJANGO_TESTS_DIR = os.environ.get("DJANGO_TESTS_DIR")
if DJANGO_TESTS_DIR and Path(DJANGO_TESTS_DIR, "sessions_tests").is_dir():
    sys.path.insert(0, str(Path(DJANGO_TESTS_DIR).resolve()))
    INSTALLED_APPS.append("sessions_tests")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_xsession.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

SESSION_ENGINE = "django_xsession.engine"
XSESSION = {"STORE": "memory"}

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SILENCED_SYSTEM_CHECKS = ["xsession.W002"]

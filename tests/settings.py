from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-xsession-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    }
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

"""Django's own session test suite, run against django-xsession's engine.

``make test`` unpacks ``sessions_tests`` from the installed Django's sdist and
points ``DJANGO_TESTS_DIR`` at it (see ``.ci/django_tests.py``).
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test import SimpleTestCase, override_settings

if "sessions_tests" not in settings.INSTALLED_APPS:
    if os.environ.get("XSESSION_REQUIRE_SERVICES") == "1":
        raise RuntimeError(
            "Django's sessions_tests are missing: run the suite through `make test`."
        )
    pytest.skip(
        "DJANGO'S OWN SESSION TESTS NOT FOUND: set DJANGO_TESTS_DIR (make test does).",
        allow_module_level=True,
    )

from sessions_tests import tests as django_tests

from django_xsession.engine import SessionStore
from django_xsession.stores import get_store


class DjangoSessionTestsMixin(django_tests.SessionTestsMixin, SimpleTestCase):  # type: ignore[misc]
    backend = SessionStore

    def setUp(self) -> None:
        get_store().clear()
        super().setUp()


@override_settings(SESSION_ENGINE="django_xsession.engine")
class DjangoSessionMiddlewareTests(django_tests.SessionMiddlewareTests):  # type: ignore[misc]
    # It reads django.contrib.sessions' own model; test_middleware.py holds
    # the same check against our store.
    test_empty_session_saved = None

"""ON_STORE_ERROR with a database that is not there: the database store's,
and the cache store's on Django's DatabaseCache."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.test import Client, SimpleTestCase, override_settings

from django_xsession import signing
from django_xsession.conf import get_options

UNREACHABLE: dict[str, Any] = {"BACKEND": "db", "OPTIONS": {"using": "unreachable"}}


class DatabaseOutageTests(SimpleTestCase):
    databases = {"unreachable"}  # noqa: RUF012
    store: ClassVar[dict[str, Any]] = UNREACHABLE
    # What the logged error names.
    named = "unreachable"

    def xsession(self, **options: Any) -> override_settings:
        return override_settings(XSESSION={"STORE": self.store, **options})

    def carrying_a_session(self) -> Client:
        client = Client(raise_request_exception=False)
        client.cookies["sessionid"] = signing.sign(
            signing.new_id(), get_options().secrets
        )
        return client

    def test_raise_answers_503(self) -> None:
        with self.xsession(), self.assertLogs("django_xsession", "ERROR") as logs:
            response = self.carrying_a_session().get("/read/")
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert self.named in logs.output[0]

    def test_degrade_serves_an_empty_unsaved_session(self) -> None:
        with self.xsession(ON_STORE_ERROR="degrade"):
            client = self.carrying_a_session()
            with self.assertLogs("django_xsession", "WARNING"):
                response = client.get("/store-status/")
        assert response.status_code == 200
        assert response.json()["unavailable"] is True
        assert "sessionid" not in response.cookies

    def test_a_503_page_of_the_views_own_is_kept(self) -> None:
        with self.xsession():
            response = self.carrying_a_session().get("/outage-caught/")
        assert response.status_code == 503
        assert response.content == b"Down for maintenance"

    def test_after_an_outage_the_view_caught_the_session_reads_as_empty(
        self,
    ) -> None:
        with self.xsession():
            client = self.carrying_a_session()
            response = client.get("/outage-caught/", {"carry_on": "1"})
        assert response.status_code == 200
        assert response.json() == {"after_outage": {}}

    def test_a_new_session_that_cannot_be_saved_answers_503(self) -> None:
        with self.xsession(), self.assertLogs("django_xsession", "ERROR"):
            response = Client(raise_request_exception=False).get("/write/", {"a": "1"})
        assert response.status_code == 503
        assert "sessionid" not in response.cookies

    @override_settings(CSRF_USE_SESSIONS=True)
    def test_raise_answers_503_when_the_session_is_read_before_the_view(
        self,
    ) -> None:
        # CsrfViewMiddleware reads the session first, and again for the
        # 500 page it decorates.
        with self.xsession(), self.assertLogs("django_xsession", "ERROR") as logs:
            response = self.carrying_a_session().get("/read/")
        assert response.status_code == 503
        assert len(logs.records) == 1


class CacheToTheUnreachable:
    """A database router: Django's DatabaseCache to the database not there."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return "unreachable" if model._meta.app_label == "django_cache" else None

    db_for_write = db_for_read


@override_settings(
    CACHES={
        **settings.CACHES,
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "xsession_test_cache",
        },
    },
    DATABASE_ROUTERS=[f"{__name__}.CacheToTheUnreachable"],
)
class DatabaseCacheOutageTests(DatabaseOutageTests):
    store: ClassVar[dict[str, Any]] = {
        "BACKEND": "cache",
        "OPTIONS": {"cache": "database"},
    }
    named = "Cache 'database' is unavailable"

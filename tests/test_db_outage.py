"""ON_STORE_ERROR with the database store and a database that is not there."""

from __future__ import annotations

from typing import Any

from django.test import Client, SimpleTestCase, override_settings

from django_xsession import signing
from django_xsession.conf import get_options

UNREACHABLE: dict[str, Any] = {"BACKEND": "db", "OPTIONS": {"using": "unreachable"}}


class DatabaseOutageTests(SimpleTestCase):
    databases = {"unreachable"}  # noqa: RUF012

    def carrying_a_session(self) -> Client:
        client = Client(raise_request_exception=False)
        client.cookies["sessionid"] = signing.sign(
            signing.new_id(), get_options().secrets
        )
        return client

    @override_settings(XSESSION={"STORE": UNREACHABLE})
    def test_raise_answers_503(self) -> None:
        with self.assertLogs("django_xsession", "ERROR") as logs:
            response = self.carrying_a_session().get("/read/")
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "unreachable" in logs.output[0]

    @override_settings(XSESSION={"STORE": UNREACHABLE, "ON_STORE_ERROR": "degrade"})
    def test_degrade_serves_an_empty_unsaved_session(self) -> None:
        client = self.carrying_a_session()
        with self.assertLogs("django_xsession", "WARNING"):
            response = client.get("/store-status/")
        assert response.status_code == 200
        assert response.json()["unavailable"] is True
        assert "sessionid" not in response.cookies

    @override_settings(XSESSION={"STORE": UNREACHABLE})
    def test_a_new_session_that_cannot_be_saved_answers_503(self) -> None:
        with self.assertLogs("django_xsession", "ERROR"):
            response = Client(raise_request_exception=False).get("/write/", {"a": "1"})
        assert response.status_code == 503
        assert "sessionid" not in response.cookies

    @override_settings(XSESSION={"STORE": UNREACHABLE}, CSRF_USE_SESSIONS=True)
    def test_raise_answers_503_when_the_session_is_read_before_the_view(
        self,
    ) -> None:
        # CsrfViewMiddleware reads the session first, and again for the
        # 500 page it decorates.
        with self.assertLogs("django_xsession", "ERROR") as logs:
            response = self.carrying_a_session().get("/read/")
        assert response.status_code == 503
        assert len(logs.records) == 1

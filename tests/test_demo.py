"""The demo project (``make demo``) as a user sees it through the browser."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, TestCase, override_settings

REMEMBER_ME_SECONDS = 30 * 24 * 3600


@override_settings(ROOT_URLCONF="testproject.urls")
class DemoTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        # The data migration already made "demo" unless run with --nomigrations.
        user, _ = User.objects.get_or_create(username="demo")
        user.set_password("demo")
        user.save()

    def visits_line(self, count: int) -> str:
        return f'<p id="visits">Visits this session: {count}</p>'

    def test_first_visit_sets_session_cookie_and_counts_one(self) -> None:
        response = self.client.get("/")

        assert response.status_code == 200
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie.value
        html = response.content.decode()
        assert self.visits_line(1) in html
        assert 'name="password"' in html
        assert 'name="remember"' in html

    def test_second_visit_counts_two(self) -> None:
        self.client.get("/")
        response = self.client.get("/")

        assert response.status_code == 200
        assert self.visits_line(2) in response.content.decode()

    def test_page_lists_stored_keys_and_values(self) -> None:
        html = self.client.get("/").content.decode()

        assert "<code>visits</code>" in html
        assert "Ends when the browser closes:" in html
        assert "Expires:" in html

    def test_login_shows_username(self) -> None:
        self.client.get("/")
        response = self.client.post("/login/", {"username": "demo", "password": "demo"})

        assert response.status_code == 302
        assert response["Location"] == "/"
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie.value
        assert not cookie["max-age"]
        html = self.client.get("/").content.decode()
        assert "Logged in as <strong>demo</strong>" in html
        assert 'name="password"' not in html
        assert self.visits_line(2) in html

    def test_remember_me_login_sets_thirty_day_cookie(self) -> None:
        response = self.client.post(
            "/login/", {"username": "demo", "password": "demo", "remember": "1"}
        )

        assert response.status_code == 302
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie.value
        assert str(cookie["max-age"]) == str(REMEMBER_ME_SECONDS)
        html = self.client.get("/").content.decode()
        assert "Logged in as <strong>demo</strong>" in html

    def test_wrong_password_shows_error_and_login_form(self) -> None:
        response = self.client.post(
            "/login/", {"username": "demo", "password": "wrong"}, follow=True
        )

        assert response.status_code == 200
        html = response.content.decode()
        assert "Invalid username or password." in html
        assert 'name="password"' in html
        assert "Logged in as" not in html

    def test_logout_shows_login_form_again(self) -> None:
        self.client.post("/login/", {"username": "demo", "password": "demo"})
        response = self.client.post("/logout/")

        assert response.status_code == 302
        assert response["Location"] == "/"
        html = self.client.get("/").content.decode()
        assert "Logged in as" not in html
        assert 'name="password"' in html

    def test_regenerate_changes_id_and_keeps_data(self) -> None:
        self.client.get("/")
        self.client.get("/")
        old_value = self.client.cookies[settings.SESSION_COOKIE_NAME].value

        response = self.client.post("/regenerate/")

        assert response.status_code == 302
        new_value = response.cookies[settings.SESSION_COOKIE_NAME].value
        assert new_value
        assert new_value != old_value
        assert self.visits_line(3) in self.client.get("/").content.decode()

    def test_forget_clears_cookie_and_starts_over(self) -> None:
        self.client.get("/")
        self.client.get("/")

        response = self.client.post("/forget/")

        assert response.status_code == 302
        assert response["Location"] == "/"
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie.value == ""
        assert str(cookie["max-age"]) == "0"
        assert self.visits_line(1) in self.client.get("/").content.decode()

    def test_actions_require_post(self) -> None:
        for path in ("/login/", "/logout/", "/regenerate/", "/forget/"):
            assert self.client.get(path).status_code == 405
        assert self.client.post("/").status_code == 405

    def test_actions_are_csrf_protected(self) -> None:
        client = Client(enforce_csrf_checks=True)
        client.get("/")
        for path in ("/login/", "/logout/", "/regenerate/", "/forget/"):
            assert client.post(path).status_code == 403

    def test_forms_carry_csrf_token(self) -> None:
        html = self.client.get("/").content.decode()

        assert html.count('name="csrfmiddlewaretoken"') == 3


class DemoUserMigrationTests(TestCase):
    def test_creates_superuser_and_reverses(self) -> None:
        migration = importlib.import_module("testproject.migrations.0001_demo_user")
        editor = connection.schema_editor()

        migration.delete_demo_user(apps, editor)
        assert not User.objects.filter(username="demo").exists()

        migration.create_demo_user(apps, editor)
        user = User.objects.get(username="demo")
        assert user.is_staff
        assert user.is_superuser
        assert user.is_active
        assert user.check_password("demo")

        migration.delete_demo_user(apps, editor)
        assert not User.objects.filter(username="demo").exists()

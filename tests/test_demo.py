"""The demo project (``make demo``) as a user sees it through the browser."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, TestCase, override_settings

from django_xsession import sessions_of, signing
from django_xsession.conf import get_options
from django_xsession.stores import get_store
from django_xsession.stores.base import Store

REMEMBER_ME_SECONDS = 30 * 24 * 3600


def demo_user() -> None:
    """The demo's user, demo/demo."""
    # The data migration already made "demo" unless run with --nomigrations.
    user, _ = User.objects.get_or_create(username="demo")
    user.set_password("demo")
    user.save()


@override_settings(ROOT_URLCONF="testproject.urls")
class DemoTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        demo_user()

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


# Devices: (IP address, user agent).
LAPTOP = ("192.0.2.10", "Laptop/1.0 (X11; Linux)")
PHONE = ("198.51.100.20", "Phone/2.0 (iPhone)")
TABLET = ("203.0.113.30", "Tablet/3.0 (iPad)")
SESSION_ROW = re.compile(r'<tr class="session( current)?">(.*?)</tr>', re.DOTALL)
HANDLE = re.compile(r'name="handle" value="([0-9a-f]+)"')


@dataclass
class Row:
    """One row of the "Your sessions" table."""

    current: bool
    html: str

    @property
    def handle(self) -> str | None:
        match = HANDLE.search(self.html)
        return None if match is None else match[1]


@override_settings(ROOT_URLCONF="testproject.urls")
class YourSessionsPageTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        demo_user()
        User.objects.create_user("other", password="other")

    def setUp(self) -> None:
        get_store().clear()
        self.addCleanup(get_store().clear)

    def device(self, device: tuple[str, str], username: str = "demo") -> Client:
        ip, agent = device
        client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
        response = client.post("/login/", {"username": username, "password": username})
        assert response.status_code == 302
        return client

    def rows(self, client: Client) -> list[Row]:
        response = client.get("/sessions/")
        assert response.status_code == 200
        return [
            Row(current=bool(current), html=html)
            for current, html in SESSION_ROW.findall(response.content.decode())
        ]

    def whoami(self, client: Client) -> str | None:
        match = re.search(
            r"Logged in as <strong>(.*?)</strong>", client.get("/").content.decode()
        )
        return None if match is None else match[1]

    def test_anonymous_visitors_are_sent_to_the_login_form(self) -> None:
        response = self.client.get("/sessions/")

        assert response.status_code == 302
        assert response["Location"] == "/?next=/sessions/"
        html = self.client.get(response["Location"]).content.decode()
        assert '<input type="hidden" name="next" value="/sessions/">' in html

    def test_logging_in_from_there_comes_back_to_the_page(self) -> None:
        response = self.client.post(
            "/login/", {"username": "demo", "password": "demo", "next": "/sessions/"}
        )

        assert response.status_code == 302
        assert response["Location"] == "/sessions/"

    def test_a_wrong_password_keeps_where_to_go_next(self) -> None:
        response = self.client.post(
            "/login/", {"username": "demo", "password": "wrong", "next": "/sessions/"}
        )

        assert response["Location"] == "/?next=%2Fsessions%2F"

    def test_next_never_leaves_the_site(self) -> None:
        for target in ("https://evil.example/", "//evil.example/", "javascript:x"):
            response = self.client.post(
                "/login/", {"username": "demo", "password": "demo", "next": target}
            )
            assert response["Location"] == "/"
            html = self.client.get("/", {"next": target}).content.decode()
            assert 'name="next"' not in html

    def test_the_home_page_links_to_it_when_logged_in(self) -> None:
        assert 'href="/sessions/"' not in self.client.get("/").content.decode()

        self.client.post("/login/", {"username": "demo", "password": "demo"})

        html = self.client.get("/").content.decode()
        assert '<a id="your-sessions" href="/sessions/">Your sessions</a>' in html

    def test_lists_each_session_with_this_device_marked(self) -> None:
        laptop = self.device(LAPTOP)
        phone = self.device(PHONE)
        self.device(TABLET, username="other")

        rows = self.rows(laptop)

        assert [row.current for row in rows] == [False, True]
        phone_row, laptop_row = rows
        for row, (ip, agent) in ((phone_row, PHONE), (laptop_row, LAPTOP)):
            assert f'<td class="ip">{ip}</td>' in row.html
            assert f'<td class="user-agent">{agent}</td>' in row.html
            for column in ("created", "last-seen", "expires"):
                assert re.search(rf'class="{column}"><time datetime="', row.html)
        assert "This device" in laptop_row.html
        assert "This device" not in phone_row.html
        assert laptop_row.handle is None
        assert phone_row.handle is not None
        assert [row.current for row in self.rows(phone)] == [True, False]

    def test_the_page_shows_no_session_id_token_or_key_hash(self) -> None:
        laptop = self.device(LAPTOP)
        phone = self.device(PHONE)

        html = laptop.get("/sessions/").content.decode()

        for client in (laptop, phone):
            token = client.cookies[settings.SESSION_COOKIE_NAME].value
            verified = signing.unsign(token, get_options().secrets)
            assert verified is not None
            for secret in (token, verified.sid, Store.digest(verified.sid)):
                assert secret not in html

    def test_log_out_other_devices(self) -> None:
        laptop = self.device(LAPTOP)
        phone = self.device(PHONE)
        tablet = self.device(TABLET)
        others = self.device(LAPTOP, username="other")

        response = laptop.post("/sessions/revoke-others/", follow=True)

        assert response.redirect_chain == [("/sessions/", 302)]
        self.assertContains(response, "Logged out 2 other session(s).")
        assert [row.current for row in self.rows(laptop)] == [True]
        assert self.whoami(laptop) == "demo"
        assert self.whoami(phone) is None
        assert self.whoami(tablet) is None
        assert self.whoami(others) == "other"

    def test_log_out_one_device(self) -> None:
        laptop = self.device(LAPTOP)
        phone = self.device(PHONE)
        tablet = self.device(TABLET)
        tablet_row, phone_row, _ = self.rows(laptop)
        assert phone_row.handle is not None

        response = laptop.post(
            "/sessions/revoke/", {"handle": phone_row.handle}, follow=True
        )

        self.assertContains(response, "Logged out 1 other session(s).")
        assert [row.handle for row in self.rows(laptop)] == [tablet_row.handle, None]
        assert self.whoami(phone) is None
        assert self.whoami(tablet) == "demo"
        assert self.whoami(laptop) == "demo"

    def test_the_per_row_button_never_logs_out_this_device(self) -> None:
        laptop = self.device(LAPTOP)
        [row] = self.rows(laptop)
        current = sessions_of(User.objects.get(username="demo"))[0].handle

        response = laptop.post("/sessions/revoke/", {"handle": current}, follow=True)

        assert row.current
        self.assertContains(response, "Logged out 0 other session(s).")
        assert self.whoami(laptop) == "demo"

    def test_another_users_handle_logs_out_nothing(self) -> None:
        laptop = self.device(LAPTOP)
        others = self.device(PHONE, username="other")
        [row] = self.rows(others)
        current = sessions_of(User.objects.get(username="other"))[0].handle
        assert row.current

        response = laptop.post("/sessions/revoke/", {"handle": current}, follow=True)

        self.assertContains(response, "Logged out 0 other session(s).")
        assert self.whoami(others) == "other"

    def test_actions_require_post_and_a_login(self) -> None:
        for path in ("/sessions/revoke-others/", "/sessions/revoke/"):
            response = self.client.post(path)
            assert response.status_code == 302
            assert response["Location"].startswith("/?next=")
        self.client.post("/login/", {"username": "demo", "password": "demo"})
        for path in ("/sessions/revoke-others/", "/sessions/revoke/"):
            assert self.client.get(path).status_code == 405
        assert self.client.post("/sessions/").status_code == 405

    def test_actions_are_csrf_protected(self) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(User.objects.get(username="demo"))
        other = self.device(PHONE)
        html = client.get("/sessions/").content.decode()
        assert html.count('name="csrfmiddlewaretoken"') == 2

        for path in ("/sessions/revoke-others/", "/sessions/revoke/"):
            assert client.post(path).status_code == 403
        assert self.whoami(other) == "demo"


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

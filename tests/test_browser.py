"""The demo in a real browser: Debian's Chromium, driven by Playwright.

The demo runs under gunicorn on a scratch database (see :mod:`tests.servers`).
Playwright never downloads a browser here: it launches ``/usr/bin/chromium``,
which ``.ci/browser`` installs from Debian. Without it these tests skip with a
loud reason, and fail under ``XSESSION_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import time
import unittest
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from django_xsession.signing import unsign
from testproject.settings import SECRET_KEY as DEMO_SECRET_KEY
from tests.servers import Server, missing_program, require_module, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Cookie, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Traffic goes to 127.0.0.1 only, whatever the environment says.
    "--no-proxy-server",
]
LAUNCH_MS = 30_000
# Every wait for a page, a navigation or an element.
WAIT_MS = 30_000
SESSION_COOKIE = "sessionid"
TWO_WEEKS = 14 * 24 * 3600  # Django's SESSION_COOKIE_AGE, the demo's lifetime.
THIRTY_DAYS = 30 * 24 * 3600  # The demo's "remember me".


class BrowserTests(unittest.TestCase):
    server: ClassVar[Server]
    browser: ClassVar[Browser]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        if not CHROMIUM.exists():
            missing_program(
                "chromium",
                f"{CHROMIUM} does not exist; install Debian's chromium with "
                ".ci/browser (never `playwright install`)",
            )
        require_module("playwright")
        from playwright.sync_api import sync_playwright

        stack = ExitStack()
        cls.addClassCleanup(stack.close)
        cls.server = stack.enter_context(serve("gunicorn"))
        playwright = stack.enter_context(sync_playwright())
        cls.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_MS
        )
        stack.callback(cls.browser.close)

    def setUp(self) -> None:
        super().setUp()
        # A fresh profile per test: no cookie of another test.
        context = self.browser.new_context()
        self.addCleanup(context.close)
        context.set_default_timeout(WAIT_MS)
        self.page: Page = context.new_page()

    def url(self, path: str) -> str:
        return self.server.url(path)

    def go(self, path: str) -> Response:
        response = self.page.goto(self.url(path))
        assert response is not None, path
        return response

    def session_cookies(self) -> list[Cookie]:
        return [
            cookie
            for cookie in self.page.context.cookies()
            if cookie.get("name") == SESSION_COOKIE
        ]

    def session_cookie(self) -> Cookie:
        found = self.session_cookies()
        assert len(found) == 1, found
        return found[0]

    def assert_signed_http_only(self, cookie: Cookie) -> str:
        """The id in ``cookie``, signed with the demo's SECRET_KEY, hidden from JS."""
        token = cookie.get("value", "")
        sid, dot, signature = token.partition(".")
        assert sid
        assert dot
        assert signature
        verified = unsign(token, (DEMO_SECRET_KEY,))
        assert verified is not None, token
        assert verified.sid == sid
        assert cookie.get("httpOnly") is True
        assert cookie.get("sameSite") == "Lax"
        assert cookie.get("path") == "/"
        assert cookie.get("domain") == "127.0.0.1"
        assert cookie.get("secure") is False
        # HttpOnly as the page's scripts see it: the CSRF cookie, not the session.
        visible = self.page.evaluate("document.cookie")
        assert isinstance(visible, str)
        assert "csrftoken=" in visible
        assert f"{SESSION_COOKIE}=" not in visible
        assert sid not in visible
        return sid

    def assert_expires_in(self, cookie: Cookie, seconds: int) -> None:
        expires = cookie.get("expires", -1)
        assert abs(expires - (time.time() + seconds)) < 120, expires

    def test_admin_login_page_logout(self) -> None:
        page = self.page

        self.go("/admin/")

        assert page.url == self.url("/admin/login/?next=/admin/")
        assert self.session_cookies() == []
        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo")
        page.click("input[type=submit]")
        page.wait_for_url(self.url("/admin/"))
        assert "Site administration" in page.title()
        user_tools = page.text_content("#user-tools") or ""
        assert "demo" in user_tools
        # The admin's login keeps the configured lifetime (the demo's own
        # form is the one that sets it).
        cookie = self.session_cookie()
        logged_in = self.assert_signed_http_only(cookie)
        self.assert_expires_in(cookie, TWO_WEEKS)

        response = self.go("/admin/auth/user/")

        assert response.status == 200
        assert page.url == self.url("/admin/auth/user/")
        assert "demo" in (page.text_content("#result_list") or "")

        # Django 5+: "Log out" is a POST form in the header.
        page.click("#logout-form button[type=submit]")
        page.wait_for_url(self.url("/admin/logout/"))

        assert "Logged out" in page.title()
        assert "Thanks for spending some quality time" in page.content()
        assert all(
            cookie.get("value", "").partition(".")[0] != logged_in
            for cookie in self.session_cookies()
        )
        page.click("text=Log in again")
        page.wait_for_url(self.url("/admin/login/?next=/admin/"))
        assert page.is_visible("#id_password")

        self.go("/admin/auth/user/")

        assert page.url == self.url("/admin/login/?next=/admin/auth/user/")
        assert page.is_visible("#id_password")

    def test_home_counts_visits_and_logs_in_and_out(self) -> None:
        page = self.page

        self.go("/")
        assert page.text_content("#visits") == "Visits this session: 1"
        first = self.session_cookie()
        anonymous = self.assert_signed_http_only(first)
        self.assert_expires_in(first, TWO_WEEKS)
        page.reload()
        assert page.text_content("#visits") == "Visits this session: 2"
        assert self.session_cookie().get("value") == first.get("value")

        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo")
        page.check("input[name=remember]")
        page.click("#login button[type=submit]")
        page.wait_for_selector("#user")

        assert page.url == self.url("/")
        assert page.text_content("#user") == "Logged in as demo"
        assert page.text_content("#visits") == "Visits this session: 3"
        cookie = self.session_cookie()
        assert self.assert_signed_http_only(cookie) != anonymous
        self.assert_expires_in(cookie, THIRTY_DAYS)

        page.click("form[action='/logout/'] button[type=submit]")
        page.wait_for_selector("#login")

        assert page.url == self.url("/")
        assert not page.is_visible("#user")
        assert page.text_content("#visits") == "Visits this session: 1"
        self.assert_signed_http_only(self.session_cookie())

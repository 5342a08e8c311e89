"""The demo project end to end, over HTTP, under gunicorn (WSGI) and uvicorn (ASGI).

Each class starts one real server on its own scratch database (see
:mod:`tests.servers`); each test talks to it as a fresh client with its own
cookie jar, following no redirect by itself so every ``Set-Cookie`` is seen.
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import http.cookiejar
import re
import unittest
import urllib.parse
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django_xsession.signing import unsign
from testproject.settings import SECRET_KEY as DEMO_SECRET_KEY
from tests.servers import Kind, Server, serve

if TYPE_CHECKING:
    _TestCase = unittest.TestCase
else:
    # The concrete classes bring the TestCase; the mixin alone is collected by none.
    _TestCase = object

SESSION_COOKIE = "sessionid"
TWO_WEEKS = 14 * 24 * 3600  # Django's SESSION_COOKIE_AGE, the demo's lifetime.
THIRTY_DAYS = 30 * 24 * 3600  # The demo's "remember me".
REQUEST_SECONDS = 30  # Generous: a login hashes with PBKDF2 on a busy machine.
# A session id is 16 random bytes, the signature HMAC-SHA256 cut to 12, base64url.
SIGNED_ID = re.compile(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LOGIN_FORM = '<form id="login" method="post" action="/login/">'
LOGGED_IN = "Logged in as <strong>demo</strong>"


def visits(count: int) -> str:
    return f'<p id="visits">Visits this session: {count}</p>'


@dataclass(frozen=True)
class SetCookie:
    """One ``Set-Cookie`` header, its attribute names lower-cased."""

    name: str
    value: str
    attributes: dict[str, str]

    @classmethod
    def parse(cls, header: str) -> SetCookie:
        first, *rest = header.split(";")
        name, _, value = first.strip().partition("=")
        attributes = {}
        for part in rest:
            key, _, attribute = part.strip().partition("=")
            attributes[key.lower()] = attribute
        return cls(name, value, attributes)

    def expires(self) -> datetime.datetime:
        return email.utils.parsedate_to_datetime(self.attributes["expires"])


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def cookies(self, name: str) -> list[SetCookie]:
        parsed = map(SetCookie.parse, self.headers.get_all("Set-Cookie") or [])
        return [cookie for cookie in parsed if cookie.name == name]

    def session_cookie(self) -> SetCookie:
        """The one session ``Set-Cookie`` the response must carry."""
        found = self.cookies(SESSION_COOKIE)
        assert len(found) == 1, self.headers.get_all("Set-Cookie")
        return found[0]

    def csrf_token(self) -> str:
        match = CSRF_INPUT.search(self.body)
        assert match is not None, self.body
        return match.group(1)


class _EveryStatus(urllib.request.HTTPErrorProcessor):
    """Hand back 3xx and 4xx responses as they are: no redirect, no exception."""

    def http_response(
        self, request: urllib.request.Request, response: http.client.HTTPResponse
    ) -> http.client.HTTPResponse:
        return response


class Client:
    """A browser without a browser: a cookie jar and one request at a time."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            # Traffic goes to 127.0.0.1 only, whatever *_proxy says.
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.jar),
            _EveryStatus(),
        )

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = None if fields is None else urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(
            self.server.url(path), data=data, headers=headers or {}, method=method
        )
        response: http.client.HTTPResponse
        with self.opener.open(request, timeout=REQUEST_SECONDS) as response:
            body = response.read().decode()
            return Reply(response.status, response.headers, body)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict[str, str]) -> Reply:
        # Django's CSRF check compares Origin with the host on plain HTTP.
        return self.request(
            "POST",
            path,
            fields,
            headers={"Origin": self.server.origin, "Referer": self.server.url("/")},
        )

    def cookie(self, name: str) -> str | None:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value
        return None

    def log_in(self, remember: bool = False) -> Reply:
        token = self.get("/").csrf_token()
        fields = {"username": "demo", "password": "demo", "csrfmiddlewaretoken": token}
        if remember:
            fields["remember"] = "1"
        return self.post("/login/", fields)


class DemoOverHttp(_TestCase):
    """The demo's session behaviour seen from outside; mix into a ``TestCase``."""

    kind: ClassVar[Kind]
    server: ClassVar[Server]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        stack = ExitStack()
        cls.addClassCleanup(stack.close)
        cls.server = stack.enter_context(serve(cls.kind))

    def client(self) -> Client:
        return Client(self.server)

    def assert_verified(self, token: str) -> str:
        """The session id in ``token``, which the demo's SECRET_KEY must have signed."""
        assert SIGNED_ID.fullmatch(token), token
        verified = unsign(token, (DEMO_SECRET_KEY,))
        assert verified is not None, token
        assert token.startswith(f"{verified.sid}.")
        return verified.sid

    def test_visit_counter_survives_requests(self) -> None:
        client = self.client()
        tokens = []
        for count in (1, 2, 3):
            reply = client.get("/")
            assert reply.status == 200
            assert visits(count) in reply.body
            # ROLLING: every response sends the cookie again, with the same id.
            tokens.append(reply.session_cookie().value)
        assert tokens[0] == tokens[1] == tokens[2]
        assert client.cookie(SESSION_COOKIE) == tokens[0]
        assert "Cookie" in (reply.headers["Vary"] or "")

    def test_session_cookie_attributes(self) -> None:
        before = datetime.datetime.now(datetime.timezone.utc)
        cookie = self.client().get("/").session_cookie()
        after = datetime.datetime.now(datetime.timezone.utc)

        self.assert_verified(cookie.value)
        assert "httponly" in cookie.attributes
        assert cookie.attributes["samesite"] == "Lax"
        assert cookie.attributes["path"] == "/"
        assert cookie.attributes["max-age"] == str(TWO_WEEKS)
        # Expires says the same as Max-Age, to the second, for older clients.
        lifetime = datetime.timedelta(seconds=TWO_WEEKS)
        second = datetime.timedelta(seconds=1)
        assert before + lifetime - second <= cookie.expires() <= after + lifetime
        # Plain HTTP on a host-only cookie.
        assert "secure" not in cookie.attributes
        assert "domain" not in cookie.attributes

    def test_forged_signature_starts_a_new_session(self) -> None:
        client = self.client()
        client.get("/")
        token = client.get("/").session_cookie().value
        sid, _, signature = token.partition(".")
        forged = f"{sid}.{signature[::-1]}"
        assert forged != token

        reply = self.client().get("/", headers={"Cookie": f"{SESSION_COOKIE}={forged}"})

        assert reply.status == 200
        assert visits(1) in reply.body
        assert self.assert_verified(reply.session_cookie().value) != sid
        # The real cookie still reaches its own session.
        assert visits(3) in client.get("/").body

    def test_login_shows_username(self) -> None:
        client = self.client()
        reply = client.get("/")
        anonymous = reply.session_cookie().value
        assert LOGIN_FORM in reply.body
        assert LOGGED_IN not in reply.body

        reply = client.log_in()

        assert reply.status == 302
        assert reply.headers["Location"] == "/"
        cookie = reply.session_cookie()
        # A new id on login (no session fixation), for this browser session only.
        assert self.assert_verified(cookie.value) != self.assert_verified(anonymous)
        assert "max-age" not in cookie.attributes
        assert "expires" not in cookie.attributes
        assert "httponly" in cookie.attributes
        page = client.get("/").body
        assert LOGGED_IN in page
        assert LOGIN_FORM not in page
        # login() kept the session's data.
        assert visits(3) in page

    def test_remember_me_login_sets_thirty_day_cookie(self) -> None:
        client = self.client()

        reply = client.log_in(remember=True)

        assert reply.status == 302
        cookie = reply.session_cookie()
        self.assert_verified(cookie.value)
        assert cookie.attributes["max-age"] == str(THIRTY_DAYS)
        assert "expires" in cookie.attributes
        assert LOGGED_IN in client.get("/").body

    def test_login_without_csrf_token_is_refused(self) -> None:
        client = self.client()
        anonymous = client.get("/").session_cookie().value

        reply = client.post("/login/", {"username": "demo", "password": "demo"})

        assert reply.status == 403
        # No login, so no new id; ROLLING may send the same cookie again.
        assert client.cookie(SESSION_COOKIE) == anonymous
        page = client.get("/").body
        assert LOGGED_IN not in page
        assert LOGIN_FORM in page

    def test_logout_clears_cookie_and_shows_login_form(self) -> None:
        client = self.client()
        assert client.log_in().status == 302
        page = client.get("/")
        assert LOGGED_IN in page.body
        logged_in = page.session_cookie().value

        # login() rotated the CSRF token: take the one on the logged-in page.
        reply = client.post("/logout/", {"csrfmiddlewaretoken": page.csrf_token()})

        assert reply.status == 302
        assert reply.headers["Location"] == "/"
        cookie = reply.session_cookie()
        assert cookie.value in ("", '""')
        assert cookie.attributes["max-age"] == "0"
        assert cookie.expires() == datetime.datetime(
            1970, 1, 1, tzinfo=datetime.timezone.utc
        )
        assert cookie.attributes["path"] == "/"
        assert client.cookie(SESSION_COOKIE) is None
        page = client.get("/")
        assert LOGIN_FORM in page.body
        assert LOGGED_IN not in page.body
        assert visits(1) in page.body
        assert page.session_cookie().value != logged_in
        # The old cookie died on the server too: replaying it logs nobody in.
        replay = self.client().get(
            "/", headers={"Cookie": f"{SESSION_COOKIE}={logged_in}"}
        )
        assert replay.status == 200
        assert LOGGED_IN not in replay.body
        assert visits(1) in replay.body


class GunicornTests(DemoOverHttp, unittest.TestCase):
    """WSGI: ``testproject.wsgi:application`` under gunicorn's threaded worker."""

    kind = "gunicorn"


class UvicornTests(DemoOverHttp, unittest.TestCase):
    """ASGI: ``testproject.asgi:application`` under uvicorn."""

    kind = "uvicorn"

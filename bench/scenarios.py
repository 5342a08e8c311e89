"""The view every engine serves, the requests a scenario sends, and the checks."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory

Handler = Callable[[HttpRequest], HttpResponseBase]

KEY = "counter"
# A new value on every write, so every engine sees a change and saves.
_values = itertools.count(1)


def _seed(request: HttpRequest) -> HttpResponse:
    # What a logged-in user's session typically holds, plus the key we read.
    request.session.update(
        {
            "_auth_user_id": "42",
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": "0" * 64,
            "theme": "dark",
            KEY: 0,
        }
    )
    return HttpResponse("0")


def _read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get(KEY)))


def _write(request: HttpRequest) -> HttpResponse:
    value = next(_values)
    request.session[KEY] = value
    return HttpResponse(str(value))


_VIEWS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/seed/": _seed,
    "/read/": _read,
    "/write/": _write,
    "/new/": _write,
}


def view(request: HttpRequest) -> HttpResponse:
    """The one view behind every middleware; the path picks what it does."""
    return _VIEWS[request.path](request)


@dataclass(frozen=True)
class Scenario:
    """A kind of request: which path it hits and whether it carries a session."""

    name: str
    path: str
    with_session: bool


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("read", "/read/", with_session=True),
    Scenario("write", "/write/", with_session=True),
    Scenario("new", "/new/", with_session=False),
)

Cookie = tuple[str, str]


def make_request(
    factory: RequestFactory, path: str, cookie: Cookie | None
) -> HttpRequest:
    """A GET of ``path`` carrying ``cookie`` the way a real server would see it."""
    if cookie is None:
        return factory.get(path)
    name, value = cookie
    # xsession parses the raw Cookie header; Django's reads request.COOKIES.
    request = factory.get(path, HTTP_COOKIE=f"{name}={value}")
    request.COOKIES[name] = value
    return request


def issued_cookie(response: HttpResponseBase, name: str) -> str | None:
    """The session cookie value ``response`` sets, if it sets one."""
    morsel = response.cookies.get(name)
    if morsel is None or not morsel.value:
        return None
    return morsel.value


class EngineBroken(AssertionError):
    """An engine answered wrongly; its timings would mean nothing."""


def _check(condition: bool, message: str) -> None:
    # Not a bare assert: the check must survive ``python -O``.
    if not condition:
        raise EngineBroken(message)


def seed(handler: Handler, factory: RequestFactory, name: str) -> Cookie:
    """Create a session with a few keys; return the cookie that carries it."""
    response = handler(make_request(factory, "/seed/", None))
    value = issued_cookie(response, name)
    if value is None:
        raise EngineBroken("the seeding request set no session cookie")
    return name, value


def verify(handler: Handler, factory: RequestFactory, name: str) -> None:
    """Raise :class:`EngineBroken` unless the engine keeps what it is given."""

    def body(path: str, cookie: Cookie | None) -> tuple[str, Cookie | None]:
        response = handler(make_request(factory, path, cookie))
        if not isinstance(response, HttpResponse) or response.status_code != 200:
            raise EngineBroken(f"{path} answered {response!r}")
        value = issued_cookie(response, name)
        # Like a browser: keep the cookie unless the response replaces it.
        return response.content.decode(), (name, value) if value else cookie

    cookie: Cookie | None = seed(handler, factory, name)
    read, _ = body("/read/", cookie)
    _check(read == "0", f"read {read!r} from a fresh session, expected '0'")

    written, cookie = body("/write/", cookie)
    read, _ = body("/read/", cookie)
    _check(read == written, f"read {read!r} after writing {written!r}")

    written, new_cookie = body("/new/", None)
    _check(new_cookie is not None, "a new session set no cookie")
    _check(new_cookie != cookie, "a new session reused another session's cookie")
    read, _ = body("/read/", new_cookie)
    _check(read == written, f"read {read!r} from a new session holding {written!r}")

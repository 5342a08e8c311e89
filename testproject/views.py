"""The demo's pages: a visit counter plus the session operations worth trying."""

from __future__ import annotations

from typing import Protocol, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from django_xsession import revoke, sessions_of

REMEMBER_ME_SECONDS = 30 * 24 * 3600


class _Cookie(Protocol):
    max_age: int | None


class _XSession(Protocol):
    """What django-xsession's session adds to Django's ``SessionBase``."""

    cookie: _Cookie

    def regenerate(self, keep_data: bool = ...) -> None: ...

    def destroy(self) -> None: ...


def _xsession(request: HttpRequest) -> _XSession:
    return cast("_XSession", request.session)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    session = request.session
    visits = int(session.get("visits", 0)) + 1
    session["visits"] = visits
    context = {
        "visits": visits,
        "expiry_date": session.get_expiry_date(),
        "expire_at_browser_close": session.get_expire_at_browser_close(),
        "items": sorted(session.items()),
        "next": _next_url(request, request.GET),
    }
    return render(request, "testproject/home.html", context)


def _next_url(request: HttpRequest, params: QueryDict) -> str:
    """Where to go after logging in, if it is a page of this site."""
    url = str(params.get(REDIRECT_FIELD_NAME, ""))
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else ""


@require_POST
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request, request.POST)
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        messages.error(request, "Invalid username or password.")
        if next_url:
            return redirect(f"{reverse('home')}?{urlencode({'next': next_url})}")
        return redirect("home")
    login(request, user)
    # After login(): it cycles the session key, so set the lifetime afterwards.
    remember = bool(request.POST.get("remember"))
    _xsession(request).cookie.max_age = REMEMBER_ME_SECONDS if remember else None
    return redirect(next_url or "home")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("home")


@require_POST
def regenerate(request: HttpRequest) -> HttpResponse:
    _xsession(request).regenerate(keep_data=True)
    return redirect("home")


@require_POST
def forget(request: HttpRequest) -> HttpResponse:
    _xsession(request).destroy()
    return redirect("home")


# "Your sessions": the user's sessions on every device, and logging them out.


@require_GET
@login_required(login_url="home")
def sessions(request: HttpRequest) -> HttpResponse:
    rows = [(info, info.is_current(request)) for info in sessions_of(request.user)]
    return render(request, "testproject/sessions.html", {"rows": rows})


def _logged_out(request: HttpRequest, count: int) -> HttpResponse:
    messages.success(request, f"Logged out {count} other session(s).")
    return redirect("sessions")


@require_POST
@login_required(login_url="home")
def revoke_others(request: HttpRequest) -> HttpResponse:
    return _logged_out(request, revoke(request.user, keep=request.session))


@require_POST
@login_required(login_url="home")
def revoke_one(request: HttpRequest) -> HttpResponse:
    handle = request.POST.get("handle", "")
    # keep: this page never logs out the session it is served with.
    ended = revoke(request.user, keep=request.session, handles=[handle])
    return _logged_out(request, ended)

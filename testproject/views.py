"""The demo's pages: a visit counter plus the session operations worth trying."""

from __future__ import annotations

from typing import Protocol, cast

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

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
    }
    return render(request, "testproject/home.html", context)


@require_POST
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        messages.error(request, "Invalid username or password.")
        return redirect("home")
    login(request, user)
    # After login(): it cycles the session key, so set the lifetime afterwards.
    remember = bool(request.POST.get("remember"))
    _xsession(request).cookie.max_age = REMEMBER_ME_SECONDS if remember else None
    return redirect("home")


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

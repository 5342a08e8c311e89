from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_xsession.engine import SessionStore
from django_xsession.session import Session


def _session(request: HttpRequest) -> Session:
    assert isinstance(request.session, Session)
    return request.session


def read(request: HttpRequest) -> HttpResponse:
    return JsonResponse(dict(request.session.items()))


def write(request: HttpRequest) -> HttpResponse:
    for key, value in request.GET.items():
        request.session[key] = value
    return JsonResponse(dict(request.session.items()))


def nothing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def increment(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key", "count")
    request.session[key] = request.session.get(key, 0) + 1
    return JsonResponse({key: request.session[key]})


def destroy(request: HttpRequest) -> HttpResponse:
    _session(request).destroy()
    return HttpResponse("destroyed")


def regenerate(request: HttpRequest) -> HttpResponse:
    _session(request).regenerate(keep_data=request.GET.get("keep") == "1")
    return JsonResponse(dict(request.session.items()))


def unset(request: HttpRequest) -> HttpResponse:
    del request.session
    return HttpResponse("unset")


def remember(request: HttpRequest) -> HttpResponse:
    _session(request).cookie.max_age = int(request.GET.get("seconds", "2592000"))
    return HttpResponse("remembered")


def fail(request: HttpRequest) -> HttpResponse:
    request.session["failed"] = True
    return HttpResponse("boom", status=500)


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username())


def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.GET["username"], password=request.GET["password"]
    )
    assert user is not None
    login(request, user)
    return HttpResponse("logged in")


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("logged out")


def nest(request: HttpRequest) -> HttpResponse:
    request.session.setdefault("nested", {"items": [1]})
    request.session["nested"]["items"].append(2)
    request.session.modified = False
    return HttpResponse("nested")


def save(request: HttpRequest) -> HttpResponse:
    request.session["saved"] = True
    request.session.save()
    return HttpResponse("saved")


def adopt(request: HttpRequest) -> HttpResponse:
    request.session = SessionStore(request.GET["token"])
    request.session["adopted"] = True
    return HttpResponse("adopted")


def write_after_delete(request: HttpRequest) -> HttpResponse:
    request.session["late"] = True
    SessionStore(request.GET["token"]).delete()
    return HttpResponse("too late")


async def async_write(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    for key, value in request.GET.items():
        await session.aset(key, value)
    return JsonResponse({key: value async for key, value in _aitems(session)})


async def _aitems(session: Session):  # type: ignore[no-untyped-def]
    for item in await session.aitems():
        yield item

"""The demo's URLs plus the few views ``python -m bench.loadtest`` drives.

``increment/?key=K`` adds one to the session's ``K`` and answers the new
value; ``aincrement/`` is its async twin, so under uvicorn the request stays
on the event loop from the middleware to the store. ``start/`` makes a
session, ``state/`` answers the session's data as JSON.

They are GETs: the clients are scripts holding only the session cookie, and
CSRF protection (whose ``csrf_exempt`` wraps no async view before Django
5.0) would only be in the way. This URLconf is never the demo's.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path


def _key(request: HttpRequest) -> str | None:
    return request.GET.get("key") or None


def _bad_key() -> HttpResponse:
    return HttpResponse("?key= is required", status=400, content_type="text/plain")


def start(request: HttpRequest) -> HttpResponse:
    request.session["loadtest"] = True
    return HttpResponse("started", content_type="text/plain")


def increment(request: HttpRequest) -> HttpResponse:
    key = _key(request)
    if key is None:
        return _bad_key()
    value = int(request.session.get(key, 0)) + 1
    request.session[key] = value
    return HttpResponse(str(value), content_type="text/plain")


async def aincrement(request: HttpRequest) -> HttpResponse:
    key = _key(request)
    if key is None:
        return _bad_key()
    value = int(await request.session.aget(key, 0)) + 1
    await request.session.aset(key, value)
    return HttpResponse(str(value), content_type="text/plain")


def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dict(request.session.items()))


urlpatterns = [
    path("start/", start),
    path("increment/", increment),
    path("aincrement/", aincrement),
    path("state/", state),
    path("", include("testproject.urls")),
]

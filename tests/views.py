from __future__ import annotations

import contextlib
import json

from asgiref.sync import sync_to_async
from django.contrib import auth, messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template import engines
from django.test import Client

from django_xsession import arevoke, asessions_of, revoke, sessions_of
from django_xsession.engine import SessionStore
from django_xsession.session import Session
from django_xsession.stores.base import StoreUnavailable, UpdateError


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
    """Write the query's keys, then remove ``request.session``."""
    for key, value in request.GET.items():
        request.session[key] = value
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


def rotate_after_logout(request: HttpRequest) -> HttpResponse:
    """Rotate the id (as a password change does) of a session that a
    concurrent request, a logout or revoke, ended after this one loaded it."""
    user = request.user
    assert isinstance(user, User)
    SessionStore(request.COOKIES["sessionid"]).delete()
    update_session_auth_hash(request, user)
    return HttpResponse("rotated")


def rotate_and_fail(request: HttpRequest) -> HttpResponse:
    """Rotate a login's id (as a password change does), then fail."""
    user = request.user
    assert isinstance(user, User)
    update_session_auth_hash(request, user)
    return HttpResponse("boom", status=500)


def logout_and_raise(request: HttpRequest) -> HttpResponse:
    """Log out, then fail: ``ATOMIC_REQUESTS`` rolls the view's writes back."""
    logout(request)
    raise RuntimeError("failed after the logout")


def rotate_and_raise(request: HttpRequest) -> HttpResponse:
    """Rotate a login's id, then fail, as ``logout_and_raise``."""
    user = request.user
    assert isinstance(user, User)
    update_session_auth_hash(request, user)
    raise RuntimeError("failed after the rotation")


async def async_logout_rolled_back(request: HttpRequest) -> HttpResponse:
    """Log out in a transaction that then rolls back (async views cannot
    have ``ATOMIC_REQUESTS``)."""

    def logout_in_a_failing_transaction() -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            logout(request)
            raise RuntimeError("failed after the logout")

    await sync_to_async(logout_in_a_failing_transaction)()
    return HttpResponse("failed", status=500)


async def async_rotate_and_write(request: HttpRequest) -> HttpResponse:
    """Rotate the id, then change the session: the closing save writes."""
    await _session(request).acycle_key()
    await _session(request).aset("rotated", True)
    return HttpResponse("rotated")


async def async_rotate_and_fail(request: HttpRequest) -> HttpResponse:
    await _session(request).acycle_key()
    return HttpResponse("boom", status=500)


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


# django.contrib.auth, messages and CSRF on top of the session: see
# tests/test_django_features.py. The async auth functions arrived in Django
# 5.0, so they are looked up on the module when called, never imported.


def login_with_message(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.GET["username"], password=request.GET["password"]
    )
    assert user is not None
    login(request, user)
    messages.success(request, f"Welcome, {user.get_username()}")
    return redirect("/messages/")


def logout_with_message(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "Goodbye")
    return HttpResponse("logged out")


def add_message(request: HttpRequest) -> HttpResponse:
    messages.info(request, request.GET["text"])
    return HttpResponse("added")


def show_messages(request: HttpRequest) -> HttpResponse:
    shown = [str(message) for message in messages.get_messages(request)]
    return JsonResponse({"messages": shown})


CSRF_FORM = '<form method="post" action="/csrf/submit/">{% csrf_token %}</form>'


def csrf_form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(CSRF_FORM).render({}, request))


def csrf_submit(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"accepted {request.POST.get('field', '')}")


def _change_password(request: HttpRequest) -> User:
    """Set the logged-in user's password to POST's, as contrib.auth's view does."""
    user = request.user
    assert isinstance(user, User)
    user.set_password(request.POST["password"])
    user.save()
    update_session_auth_hash(request, user)
    return user


def change_password(request: HttpRequest) -> HttpResponse:
    _change_password(request)
    return HttpResponse("changed")


def sign_up(request: HttpRequest) -> HttpResponse:
    """Create a user and log in, then set the password, which rotates the
    id a second time in the same request."""
    user = User.objects.create_user(request.POST["username"])
    login(request, user)
    user.set_password(request.POST["password"])
    user.save()
    update_session_auth_hash(request, user)
    return HttpResponse("signed up")


async def async_whoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(user.get_username())


async def async_login(request: HttpRequest) -> HttpResponse:
    user = await auth.aauthenticate(
        request, username=request.GET["username"], password=request.GET["password"]
    )
    assert user is not None
    await auth.alogin(request, user)
    return HttpResponse("logged in")


async def async_logout(request: HttpRequest) -> HttpResponse:
    await auth.alogout(request)
    return HttpResponse("logged out")


async def async_change_password(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    assert isinstance(user, User)
    # aupdate_session_auth_hash compares with request.user, whose lazy sync
    # lookup would query the database from the event loop: resolve it first.
    request.user = user
    user.set_password(request.POST["password"])
    await user.asave()
    await auth.aupdate_session_auth_hash(request, user)
    return HttpResponse("changed")


async def async_id(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"id": await _session(request).aid()})


async def async_count(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    count = await session.aget("count", 0) + 1
    await session.aset("count", count)
    return JsonResponse({"count": count})


def store_status(request: HttpRequest) -> HttpResponse:
    """The keys the view sees, and whether the store failed to give them."""
    keys = sorted(request.session.keys())
    return JsonResponse(
        {"unavailable": _session(request).store_unavailable, "keys": keys}
    )


def outage_caught(request: HttpRequest) -> HttpResponse:
    """Reload the unread session, catching an outage: answer a 503 page of
    the view's own, or with ``?carry_on=1`` the session as it reads after."""
    try:
        _session(request).reload()
    except StoreUnavailable:
        if request.GET.get("carry_on"):
            return JsonResponse({"after_outage": dict(request.session.items())})
        return HttpResponse("Down for maintenance", status=503)
    return JsonResponse(dict(request.session.items()))


def cycle_key(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    return JsonResponse(dict(request.session.items()))


# Per-user sessions: tests/test_users.py.


def current_sessions(request: HttpRequest) -> HttpResponse:
    """Which of the user's sessions, most recent first, serves this request."""
    infos = sessions_of(request.user)
    return JsonResponse({"current": [info.is_current(request) for info in infos]})


def revoke_others(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ended": revoke(request.user, keep=request.session)})


def revoke_all_then_logout(request: HttpRequest) -> HttpResponse:
    """Log out everywhere: this session is ended by the revoke already."""
    ended = revoke(request.user)
    logout(request)
    return JsonResponse({"ended": ended})


async def _session_user(request: HttpRequest) -> User | AnonymousUser:
    """The user the session is logged in as, read through the async session
    API (``request.auser()`` needs Django 5.0)."""
    user_id = await _session(request).aget(auth.SESSION_KEY)
    if user_id is None:
        return AnonymousUser()
    return await User.objects.aget(pk=user_id)


async def async_session_user(request: HttpRequest) -> HttpResponse:
    user = await _session_user(request)
    return HttpResponse(user.get_username())


async def async_current_sessions(request: HttpRequest) -> HttpResponse:
    infos = await asessions_of(await _session_user(request))
    return JsonResponse({"current": [info.is_current(request) for info in infos]})


def change_password_and_revoke_others(request: HttpRequest) -> HttpResponse:
    """A password change that logs out every other device, as sites do."""
    user = _change_password(request)
    current = [info.is_current(request) for info in sessions_of(user)]
    ended = revoke(user, keep=request.session)
    return JsonResponse({"current": current, "ended": ended})


def rotate_while_revoked(request: HttpRequest) -> HttpResponse:
    """A password change during which another device logs out every session;
    with ``catch``, the view saves and swallows the interruption itself."""
    user = request.user
    assert isinstance(user, User)
    update_session_auth_hash(request, user)
    revoke(user)
    if request.GET.get("catch"):
        with contextlib.suppress(UpdateError):
            request.session.save()
    if request.GET.get("fail"):
        return HttpResponse("boom", status=500)
    return HttpResponse("rotated")


def switch_user_after_a_revoked_rotation(request: HttpRequest) -> HttpResponse:
    """A password change that finds this login revoked by another device
    meanwhile; the view then logs out and logs ``?username=`` in."""
    user = request.user
    assert isinstance(user, User)
    revoke(user)
    update_session_auth_hash(request, user)
    logout(request)
    login(request, User.objects.get(username=request.GET["username"]))
    return HttpResponse("switched")


def change_password_with_poll(request: HttpRequest) -> HttpResponse:
    """A password change while the same browser's poll, sent with the
    cookie the change is replacing, is in flight."""
    _change_password(request)
    poll = Client()
    poll.cookies["sessionid"] = request.COOKIES["sessionid"]
    response = poll.get("/whoami/")
    return JsonResponse(
        {
            "poll": response.content.decode(),
            "poll_cleared": "sessionid" in response.cookies,
        }
    )


def rotate_then_replace(request: HttpRequest) -> HttpResponse:
    """Rotate a login's id, then put a new session on the request."""
    user = request.user
    assert isinstance(user, User)
    update_session_auth_hash(request, user)
    request.session = SessionStore(request=request)
    request.session["fresh"] = True
    return HttpResponse("replaced")


def rotate_then_delete_old(request: HttpRequest) -> HttpResponse:
    """``cycle_key`` as Django's is written: a new key, then ``delete(old)``."""
    old = request.session.session_key
    request.session.cycle_key()
    request.session.delete(old)
    return HttpResponse("rotated")


async def async_revoke_others(request: HttpRequest) -> HttpResponse:
    ended = await arevoke(await _session_user(request), keep=request.session)
    return JsonResponse({"ended": ended})


async def async_revoke_all_then_logout(request: HttpRequest) -> HttpResponse:
    ended = await arevoke(await _session_user(request))
    await request.session.aflush()
    return JsonResponse({"ended": ended})


async def async_regenerate(request: HttpRequest) -> HttpResponse:
    await _session(request).aregenerate(keep_data=request.GET.get("keep") == "1")
    return JsonResponse({"regenerated": True})


async def async_clear_unread(request: HttpRequest) -> HttpResponse:
    request.session.clear()
    await _session(request).aset("cleared", True)
    return HttpResponse("cleared")


# The session's own calls before (or instead of) reading it:
# tests/test_middleware.py and tests/test_timeouts.py.
def save_remembering(request: HttpRequest) -> HttpResponse:
    request.session.set_expiry(int(request.GET["seconds"]))
    request.session.save()
    return HttpResponse("saved")


def forget(request: HttpRequest) -> HttpResponse:
    _session(request).cookie.max_age = None
    return HttpResponse("forgotten")


def cookie_attributes(request: HttpRequest) -> HttpResponse:
    # ?name=value sets an attribute, ?name= only reads it.
    cookie = _session(request).cookie
    for name, value in request.GET.items():
        if value:
            setattr(cookie, name, value)
    return JsonResponse({name: getattr(cookie, name) for name in request.GET})


def reload(request: HttpRequest) -> HttpResponse:
    """Change the session as the query says, then drop the changes."""
    session = _session(request)
    session.update(request.GET.dict())
    session.reload()
    return JsonResponse(dict(session.items()))


def touch(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"touched": _session(request).touch()})


async def async_touch(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"touched": await _session(request).atouch()})


def write_then_delete(request: HttpRequest) -> HttpResponse:
    request.session["after"] = "delete"
    request.session.delete()
    return HttpResponse("deleted")


def read_then_delete(request: HttpRequest) -> HttpResponse:
    request.session.get("a")
    request.session.delete()
    return HttpResponse("deleted")


def clear_then_write(request: HttpRequest) -> HttpResponse:
    request.session.clear()
    request.session["step"] = 1
    return HttpResponse("cleared")


async def async_delete_test_cookie(request: HttpRequest) -> HttpResponse:
    await _session(request).adelete_test_cookie()
    return HttpResponse("deleted")


def set_test_cookie(request: HttpRequest) -> HttpResponse:
    request.session.set_test_cookie()
    return HttpResponse("set")


async def async_destroy(request: HttpRequest) -> HttpResponse:
    # The session API's own async ending, on every Django (auth.alogout
    # needs 5.0).
    await _session(request).adestroy()
    return HttpResponse("destroyed")


def session_id(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"id": _session(request).id})


def session_flags(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    session.get("a")
    return JsonResponse(
        {
            "is_new": session.is_new,
            "is_stored": session.is_stored,
            "signed_by_old_secret": session.signed_by_old_secret,
        }
    )


def empty_and_fail(request: HttpRequest) -> HttpResponse:
    """``?by=regenerate`` or ``?by=clear``, then a 500."""
    session = _session(request)
    if request.GET["by"] == "regenerate":
        session.regenerate()
    else:
        session.clear()
    return HttpResponse("boom", status=500)


def destroy_write_and_fail(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    session.destroy()
    session["after"] = "the end"
    return HttpResponse("boom", status=500)


def destroy_then_id(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    session.destroy()
    return JsonResponse({"id": session.id})


def retype_preferences(request: HttpRequest) -> HttpResponse:
    """Change nested values to equal ones of other types, in place."""
    preferences = request.session.setdefault(
        "prefs", {"flag": 1, "zoom": 1, "offset": 0.0}
    )
    if request.GET.get("retype"):
        preferences.update(flag=True, zoom=1.0, offset=-0.0)
    return HttpResponse("ok")


def nested_body(request: HttpRequest) -> HttpResponse:
    """Store a POST's JSON body under "body", as sent; on a GET with
    ``leaf``, change the innermost value of {"a": {"a": ...}} in place."""
    if request.method == "POST":
        request.session["body"] = json.loads(request.body)
    elif "leaf" in request.GET:
        innermost = request.session["body"]
        while isinstance(innermost["a"], dict):
            innermost = innermost["a"]
        innermost["a"] = request.GET["leaf"]
    return HttpResponse("ok")


# A view's own saves and endings: tests/test_middleware.py. A save or
# create answers with the session's modified flag.
def _modified(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"modified": request.session.modified})


def create(request: HttpRequest) -> HttpResponse:
    request.session.create()
    return _modified(request)


def save_only(request: HttpRequest) -> HttpResponse:
    request.session.save()
    return _modified(request)


async def async_save(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    await session.aset("saved", True)
    await session.asave()
    return _modified(request)


async def async_create(request: HttpRequest) -> HttpResponse:
    await _session(request).acreate()
    return _modified(request)


def _unset_session(request: HttpRequest) -> None:
    """``del request.session``, or with ``?to=none`` set it to ``None``."""
    if request.GET.get("to") == "none":
        request.session = None  # type: ignore[assignment]
    else:
        del request.session


def end_then_unset(request: HttpRequest) -> HttpResponse:
    """End the session as ``?end=`` says (flush, destroy or logout), then
    remove ``request.session``."""
    ending = request.GET["end"]
    if ending == "logout":
        logout(request)
    elif ending == "destroy":
        _session(request).destroy()
    else:
        request.session.flush()
    _unset_session(request)
    return HttpResponse("ended")


async def async_destroy_then_unset(request: HttpRequest) -> HttpResponse:
    await _session(request).adestroy()
    _unset_session(request)
    return HttpResponse("ended")


# A rotation ended in its own request: tests/test_signals.py.


def rotate_then_end(request: HttpRequest) -> HttpResponse:
    """Rotate the id as ``?rotate=`` says (regenerate keeping the data, or a
    login as alice), then end the session (destroy, or a logout)."""
    if request.GET["rotate"] == "login":
        user = authenticate(request, username="alice", password="secret")
        assert user is not None
        login(request, user)
        logout(request)
    else:
        _session(request).regenerate(keep_data=True)
        _session(request).destroy()
    return HttpResponse("ended")


async def async_rotate_then_end(request: HttpRequest) -> HttpResponse:
    await _session(request).aregenerate(keep_data=True)
    await _session(request).adestroy()
    return HttpResponse("ended")


def cycle_key_and_fail(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    return HttpResponse("boom", status=500)


async def async_cycle_key_and_fail(request: HttpRequest) -> HttpResponse:
    await _session(request).acycle_key()
    return HttpResponse("boom", status=500)

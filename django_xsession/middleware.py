"""The session middleware: reads the signed cookie, decides what to store and send.

Every decision is made before the response leaves, so a redirect never
outruns the save. The rules follow express-session's (see the README).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import Morsel
from typing import Any, NamedTuple
from urllib.parse import unquote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import (
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.core import mail
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.http import http_date

from django_xsession import legacy, signing
from django_xsession.conf import Options, get_options
from django_xsession.session import Session, logger, store_logger
from django_xsession.stores.base import StoreUnavailable

# More same-name sessions than a browser would ever send is an attack: at
# most this many verified tokens are looked up (and as many unverified ones
# in the legacy engine).
MAX_COOKIE_CANDIDATES = 8
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4: ``/foo`` matches ``/foo`` and ``/foo/x``, not ``/foobar``."""
    if not request_path.startswith(cookie_path):
        return False
    return (
        len(request_path) == len(cookie_path)
        or cookie_path.endswith("/")
        or request_path[len(cookie_path)] == "/"
    )


@lru_cache(maxsize=8)
def _cookie_pattern(name: str) -> re.Pattern[str]:
    # A pair whose name, spaces and tabs around it aside, is ``name``.
    return re.compile(r"(?:^|;)[ \t]*" + re.escape(name) + r"[ \t]*=([^;]*)")


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie ``name`` in a ``Cookie`` header, first one first."""
    if name not in header:
        return []
    values: list[str] = []
    for value in _cookie_pattern(name).findall(header):
        value = value.strip(" \t")
        if len(value) > 1 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if "%" in value:
            value = unquote(value)
        values.append(value)
    return values


def is_secure(request: HttpRequest, proxy: bool | None) -> bool:
    """Whether the client reached us over HTTPS, trusting proxies as ``PROXY`` says."""
    if proxy is None:
        return request.is_secure()
    # The scheme of the connection itself, before SECURE_PROXY_SSL_HEADER.
    if request._get_scheme() == "https":  # type: ignore[attr-defined]
        return True
    if not proxy:
        return False
    forwarded = request.META.get("HTTP_X_FORWARDED_PROTO", "")
    return bool(forwarded.split(",", 1)[0].strip().lower() == "https")


def trusted_over_http(request: HttpRequest) -> bool:
    """Whether a ``Secure`` token reaches the client over plain HTTP too.

    The cookie jar of Django's test client (host ``testserver``) ignores
    ``Secure``, and browsers keep and send back ``Secure`` cookies of
    ``localhost``, its subdomains and loopback addresses over plain HTTP.
    Local names count with ``DEBUG`` on or under Django's test environment
    (a live server driven by a browser): settings with
    ``SESSION_COOKIE_SECURE = True`` work in test suites and under
    ``runserver``, as with ``django.contrib.sessions``.
    """
    try:
        host = request.get_host().lower()
    except DisallowedHost:
        return False
    # An IPv6 literal's colons are inside its brackets; a port follows them.
    name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":")[0]
    if name == "testserver":
        return True
    # In production, a proxy that passes no Host on makes every request look
    # local. setup_test_environment() gives django.core.mail an outbox.
    if not (settings.DEBUG or hasattr(mail, "outbox")):
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# Expires dates by the second they name: every cookie sent in one second
# with one Max-Age has the same, and formatting it costs more than a lookup.
_expires_dates: dict[int, str] = {}


def expires_after(max_age: int) -> str:
    """The ``Expires`` date Django's ``set_cookie`` writes for ``max_age``."""
    moment = int(time.time()) + max_age
    date = _expires_dates.get(moment)
    if date is None:
        if len(_expires_dates) >= 64:
            _expires_dates.clear()
        date = _expires_dates[moment] = http_date(moment)
    return date


def vary_on(response: HttpResponseBase, names: list[str]) -> None:
    """``patch_vary_headers``, short when the response has no ``Vary`` yet."""
    if "Vary" in response.headers:
        patch_vary_headers(response, names)
    else:
        response.headers["Vary"] = ", ".join(names)


class _ExtendedMorsel(Morsel[str]):
    """A cookie with the attributes ``http.cookies`` does not know yet."""

    extra: tuple[str, ...] = ()

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        return "; ".join([super().OutputString(attrs), *self.extra])


INTERRUPTED = (
    "The request's session was deleted before the request completed. "
    "The user may have logged out in a concurrent request, for example."
)


def unavailable_response(error: StoreUnavailable) -> HttpResponse:
    """503 for a store outage under ``ON_STORE_ERROR="raise"``."""
    store_logger.error("Session store unavailable: %s", error)
    response = HttpResponse(
        "The session store is unavailable; please try again shortly.",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "5"
    return response


class _Decision(NamedTuple):
    write: bool = False
    touch: bool = False
    set_cookie: bool = False
    clear_cookie: bool = False
    # The write carries no change: RESAVE alone asks for it.
    only_resave: bool = False


# A session gone from the store meanwhile (a logout, or a login's new id in
# a concurrent request), where this request had nothing of its own to keep:
# neither bring its token back nor clear the cookie that replaced it.
_GONE = _Decision()


@dataclass
class _RequestState:
    session: Session
    # Whether the request carried a token, in either transport.
    had_token: bool
    # Under TRANSPORT="both": whether the request carried a session cookie,
    # and the id its header's token verified to. A page's scripts can read a
    # response header, never an HttpOnly cookie, and can send any header
    # with the browser's cookie: the header answers a cookie-carrying
    # request only for the session its own header token loaded.
    sent_cookie: bool = False
    header_sid: str | None = None
    # Whether the view read the session: only then does the response vary
    # on it; the middleware's own reads and decisions don't count.
    view_accessed: bool = False
    # A django.contrib.sessions session copied into ours, deleted once saved.
    legacy: SessionBase | None = None
    # A django.contrib.sessions key whose session is gone: moved into ours
    # by a concurrent request, whose new cookie a clearing one would wipe.
    dead_legacy: bool = False


class SessionMiddleware(DjangoSessionMiddleware):
    """Drop-in replacement for ``django.contrib.sessions``' middleware.

    It subclasses Django's so the admin's ``admin.E410`` check passes, and it
    runs natively under both WSGI and ASGI.
    """

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[Any]]
    ) -> None:
        # Django's __init__ imports SESSION_ENGINE; the options name our store.
        MiddlewareMixin.__init__(self, get_response)

    def _start(self, request: HttpRequest) -> list[str]:
        """Attach the session; return the cookie values no secret verified."""
        options = get_options()
        # request.path is decoded; the PATH is percent-encoded, as browsers
        # compare it with the URL's path.
        if not path_matches(request.path, unquote(options.cookie.path)):
            # Outside the cookie's path the browser sends no cookie and we
            # set none; request.session still exists for AuthenticationMiddleware.
            request.session = Session(request=request)
            return []
        header_value, cookies = self._token_values(request, options)
        values = [header_value, *cookies] if header_value else cookies
        header_sid = None
        tokens: list[tuple[str, signing.Verified]] = []
        unverified: list[str] = []
        # The limit counts only what would cost a lookup: junk cookies set
        # ahead of the real one (from a sibling subdomain, say) must not
        # push it out of reach and log the user out.
        for value in dict.fromkeys(values):
            if not value:
                # Our own cleared cookie, sent back by a client that ignores
                # Max-Age=0 (Django's test client): no session, not an attack.
                continue
            verified = signing.unsign(value, options.secrets)
            if verified is not None and value == header_value:
                header_sid = verified.sid
            if verified is None:
                if len(unverified) < MAX_COOKIE_CANDIDATES:
                    unverified.append(value)
            elif len(tokens) < MAX_COOKIE_CANDIDATES:
                tokens.append((value, verified))
        session = Session.from_request(request, tokens)
        request.session = session
        request._xsession = _RequestState(  # type: ignore[attr-defined]
            session,
            had_token=bool(values),
            sent_cookie=bool(cookies),
            header_sid=header_sid,
        )
        if tokens or not (unverified and options.legacy_contrib):
            self._bad_cookies(unverified)
            return []
        return unverified

    def _token_values(
        self, request: HttpRequest, options: Options
    ) -> tuple[str | None, list[str]]:
        # The token in the session header, and those in session cookies.
        header_value = None
        if options.transport != "cookie":
            header_value = request.headers.get(options.header, "").strip() or None
        if options.transport == "header":
            return header_value, []
        return header_value, cookie_values(
            request.META.get("HTTP_COOKIE", ""), options.name
        )

    def _bad_cookies(self, values: list[str]) -> None:
        if values:
            logger.warning("Session cookie with a bad signature ignored.")

    def _adopted(
        self, state: _RequestState, values: list[str], found: SessionBase | None
    ) -> None:
        state.legacy = found
        if found is None:
            shaped = [value for value in values if legacy.looks_legacy(value)]
            state.dead_legacy = bool(shaped)
            self._bad_cookies([value for value in values if value not in shaped])

    def process_request(self, request: HttpRequest) -> None:
        legacy_values = self._start(request)
        if legacy_values:
            state = self._state(request)
            assert state is not None
            found = legacy.adopt(
                state.session, legacy_values, state.session.options.legacy_engine
            )
            self._adopted(state, legacy_values, found)

    async def aprocess_request(self, request: HttpRequest) -> None:
        legacy_values = self._start(request)
        if legacy_values:
            state = self._state(request)
            assert state is not None
            found = await sync_to_async(legacy.adopt)(
                state.session, legacy_values, state.session.options.legacy_engine
            )
            self._adopted(state, legacy_values, found)

    def _state(self, request: HttpRequest) -> _RequestState | None:
        state = request.__dict__.get("_xsession")
        return state if isinstance(state, _RequestState) else None

    def _needs_load(self, state: _RequestState, options: Options) -> bool:
        session = state.session
        if not session._unread():
            return False
        return (
            session.accessed
            or session.signed_by_old_secret
            or session._write_requested
            or options.rolling
            or options.idle_timeout is not None
            or options.resave
        )

    def _decide(
        self, request: HttpRequest, response: HttpResponseBase, state: _RequestState
    ) -> _Decision:
        session = state.session
        options = session.options
        if session._unread():
            return _Decision()  # never used: nothing to write or send
        ok = response.status_code < 500
        if not ok and state.legacy is not None and not session._ended_here:
            # A failed first request of an adopted django.contrib.sessions
            # session changes nothing: its old cookie and row stay for the
            # next request, whatever the view did to the data.
            return _Decision()
        if session.is_empty():
            # A token that verifies but finds no session may be one a
            # concurrent login just replaced (and a legacy key one that a
            # concurrent request moved): a cookie answering it, new or
            # clearing, could reach the browser after the login's and wipe
            # it. Only junk, and a session this request ended, are cleared.
            dead_token = (
                bool(session._candidates) or state.dead_legacy
            ) and not session._ended_here
            if (
                options.save_uninitialized
                and not session._destroyed
                and not dead_token
                and ok
                and self._deliverable(request, session)
            ):
                return _Decision(write=True, set_cookie=True)
            return _Decision(clear_cookie=state.had_token and not dead_token)
        if not session.is_new:
            # Not asked on a 5xx: comparing may encode the data, and data the
            # serializer refuses must not fail a response that saves nothing.
            changed = ok and session.has_changes()
            # A view's own save() was this request's write already: it moved
            # the expiry and recorded the request's time, as a touch would.
            saved_by_view = session.saved_by_view()
            resave = options.resave and not saved_by_view
            write = ok and (changed or resave)
            # ROLLING moves the expiry, IDLE_TIMEOUT needs the last request's
            # time; TOUCH_AFTER spares the store a write on most requests.
            touch = (
                ok
                and not write
                and not saved_by_view
                and (options.rolling or options.idle_timeout is not None)
                and session.touch_due()
            )
            moved = write or saved_by_view
            return _Decision(
                write=write,
                only_resave=write and not changed,
                touch=touch,
                set_cookie=ok
                and (
                    (options.rolling and (moved or touch))
                    or (moved and not session.get_expire_at_browser_close())
                    or session.cookie_changed()
                )
                and self._deliverable(request, session),
            )
        if session.is_stored:
            return _Decision(
                write=ok and session.has_changes(),
                set_cookie=ok and self._deliverable(request, session),
            )
        # A new id, the view's read or its data's. As when empty above, junk
        # and the cookie of a session this request ended go, and a verified
        # token whose session is gone stays (no SAVE_UNINITIALIZED session
        # replaces it); so does an adopted django.contrib.sessions session's
        # cookie until that session moves.
        keep = not session._ended_here and bool(
            session._candidates or state.legacy is not None
        )
        if (
            ok
            and (session.has_changes() or (options.save_uninitialized and not keep))
            and self._deliverable(request, session)
        ):
            return _Decision(write=True, set_cookie=True)
        return _Decision() if keep else _Decision(clear_cookie=state.had_token)

    def _deliverable(self, request: HttpRequest, session: Session) -> bool:
        # Asked last in each decision, where it decides: it may look at the
        # request's scheme. The header transports follow the cookie's Secure
        # too: a token must not travel in clear text either way.
        if self._cookie_deliverable(request, session):
            return True
        # Django would send the cookie anyway; a proxy that ends TLS
        # unannounced is the usual cause, and nothing else would say so.
        store_logger.warning(
            "A Secure session cookie cannot go out on the plain-HTTP request "
            "%r: the session is neither stored nor sent. Behind a proxy that "
            "ends TLS, set SECURE_PROXY_SSL_HEADER or XSESSION['PROXY'] = True.",
            # repr: a path is the client's, and must not forge log lines.
            request.path,
        )
        return False

    def _cookie_deliverable(self, request: HttpRequest, session: Session) -> bool:
        secure = session._cookie_attribute("secure")
        if secure == "auto" or not secure:
            return True
        return is_secure(request, session.options.proxy) or trusted_over_http(request)

    def _cookie_attributes(
        self, request: HttpRequest, session: Session, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        cookie = session.options.cookie

        def attribute(name: str) -> Any:
            return overrides.get(name, getattr(cookie, name))

        secure = attribute("secure")
        samesite = attribute("samesite")
        # Only "auto" depends on the request's scheme.
        secure_cookie = (
            is_secure(request, session.options.proxy)
            if secure == "auto"
            else bool(secure)
        )
        return {
            "path": attribute("path"),
            "domain": attribute("domain"),
            "secure": secure_cookie,
            "httponly": bool(attribute("httponly")),
            # Browsers reject SameSite=None without Secure.
            "samesite": ("None" if secure_cookie else "Lax")
            if samesite == "auto"
            else samesite,
            "partitioned": bool(attribute("partitioned")),
            "priority": attribute("priority"),
        }

    def _write_cookie(
        self,
        response: HttpResponseBase,
        name: str,
        value: str,
        attributes: dict[str, Any],
        max_age: int | None,
        expires: str | None = None,
    ) -> None:
        if expires is None and max_age is not None:
            expires = expires_after(max_age)
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            expires=expires,
            path=attributes["path"],
            domain=attributes["domain"],
            secure=attributes["secure"],
            httponly=attributes["httponly"],
            samesite=attributes["samesite"],
        )
        extra = []
        if attributes["partitioned"]:
            extra.append("Partitioned")
        if attributes["priority"]:
            extra.append(f"Priority={attributes['priority']}")
        if extra:
            morsel = _ExtendedMorsel()
            morsel.update(response.cookies[name])
            morsel.set(
                name, response.cookies[name].value, response.cookies[name].coded_value
            )
            morsel.extra = tuple(extra)
            dict.__setitem__(response.cookies, name, morsel)

    def _send(
        self,
        request: HttpRequest,
        response: HttpResponse,
        state: _RequestState,
        decision: _Decision,
    ) -> HttpResponse:
        session = state.session
        options = session.options
        cookie = options.transport != "header"
        header = options.transport != "cookie"
        answer_in_header = header and (
            options.transport == "header"
            or not state.sent_cookie
            or (
                state.header_sid is not None and state.header_sid == session._loaded_sid
            )
        )
        if decision.set_cookie and session.session_key is not None:
            if cookie and self._cookie_deliverable(request, session):
                # The time the stored session has left: a cookie re-sent
                # without a write (re-signed by the first secret, say) must
                # not outlive it.
                max_age = session.cookie.max_age
                attributes = self._cookie_attributes(
                    request, session, session._cookie_overrides
                )
                self._write_cookie(
                    response, options.name, session.session_key, attributes, max_age
                )
            if answer_in_header:
                response[options.header] = session.session_key
                # A shared cache must not hand this token to other clients:
                # Django's cache middleware spares only responses that set
                # cookies, and a client without a token varies as ours did.
                patch_cache_control(response, private=True)
        elif decision.clear_cookie:
            if cookie:
                attributes = self._cookie_attributes(
                    request, session, session._issued_cookie
                )
                self._write_cookie(response, options.name, "", attributes, 0, EPOCH)
            if answer_in_header:
                # An empty value tells the client to drop the token it holds.
                response[options.header] = ""
        if state.view_accessed or decision.set_cookie or decision.clear_cookie:
            vary_on(
                response,
                [
                    name
                    for name, used in (("Cookie", cookie), (options.header, header))
                    if used
                ],
            )
        return response

    def _follow_replacement(self, request: HttpRequest, state: _RequestState) -> None:
        # A view may put another session object on the request, as Django allows.
        current = getattr(request, "session", None)
        if isinstance(current, Session) and current is not state.session:
            state.session = current

    def _unset(self, request: HttpRequest, state: _RequestState) -> str | None:
        """The id to destroy when the view removed ``request.session``, if any."""
        if getattr(request, "session", None) is not None:
            return None
        if state.session.options.unset != "destroy":
            return ""
        return state.session._current_sid() or ""

    def _unset_decision(self, state: _RequestState, unset: str) -> _Decision:
        """What the response sends when the view removed ``request.session``."""
        # A session the view ended first (a logout) names nothing any more,
        # whatever UNSET says: its cookie goes, as after any ending.
        ended = state.session._ended_here and state.had_token
        return _Decision(
            clear_cookie=bool(unset) or ended or self._ends_legacy(state, unset)
        )

    def _ends_legacy(self, state: _RequestState, unset: str | None) -> bool:
        # UNSET="destroy" ends an adopted session that has no id of its own yet.
        return (
            state.legacy is not None
            and unset is not None
            and state.session.options.unset == "destroy"
        )

    def _ended_legacy(
        self, state: _RequestState, decision: _Decision, unset: str | None
    ) -> SessionBase | None:
        """The adopted legacy session, once ours replaced or ended it."""
        if state.legacy is None:
            return None
        session = state.session
        moved = decision.write and session.is_stored
        ended = session._destroyed or self._ends_legacy(state, unset)
        return state.legacy if moved or ended else None

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        state = self._state(request)
        if state is None:
            return response
        first = state.session
        self._follow_replacement(request, state)
        session = state.session
        state.view_accessed = session.accessed
        if first is not session:
            first._drop_unsent()
        if session.store_error is not None:
            session._drop_unsent()
            return self._store_down(request, response, state, session.store_error)
        try:
            unset = self._unset(request, state)
            if unset is not None:
                if unset:
                    session.delete()
                decision = self._unset_decision(state, unset)
            else:
                if self._needs_load(state, session.options):
                    session._get_session()
                decision = self._decide(request, response, state)
                session._closing = True
                if decision.write:
                    try:
                        session.save()
                    except UpdateError:
                        if not decision.only_resave:
                            raise
                        decision = _GONE
                elif decision.touch and not session.refresh():
                    decision = _GONE
            if not decision.set_cookie:
                session._drop_unsent()
            ended_legacy = self._ended_legacy(state, decision, unset)
            if ended_legacy is not None:
                ended_legacy.delete()
            session._end_again()
        except UpdateError:
            raise SessionInterrupted(INTERRUPTED) from None
        except StoreUnavailable as error:
            session._drop_unsent()
            return self._store_down(request, response, state, error, during_save=True)
        except Exception:
            # A receiver of the closing save's signal, say: the id it stored
            # must not outlive the 500 that carries no cookie for it.
            session._drop_unsent()
            raise
        if session.store_error is not None:
            session._drop_unsent()
            return self._store_down(request, response, state, session.store_error)
        return self._send(request, response, state, decision)

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        state = self._state(request)
        if state is None:
            return response
        first = state.session
        self._follow_replacement(request, state)
        session = state.session
        state.view_accessed = session.accessed
        if first is not session:
            await first._adrop_unsent()
        if session.store_error is not None:
            await session._adrop_unsent()
            return self._store_down(request, response, state, session.store_error)
        try:
            unset = self._unset(request, state)
            if unset is not None:
                if unset:
                    await session.adelete()
                decision = self._unset_decision(state, unset)
            else:
                if self._needs_load(state, session.options):
                    await session._aget_session()
                decision = self._decide(request, response, state)
                session._closing = True
                if decision.write:
                    try:
                        await session.asave()
                    except UpdateError:
                        if not decision.only_resave:
                            raise
                        decision = _GONE
                elif decision.touch and not await session.arefresh():
                    decision = _GONE
            if not decision.set_cookie:
                await session._adrop_unsent()
            ended_legacy = self._ended_legacy(state, decision, unset)
            if ended_legacy is not None:
                await sync_to_async(ended_legacy.delete)()
            await session._aend_again()
        except UpdateError:
            raise SessionInterrupted(INTERRUPTED) from None
        except StoreUnavailable as error:
            await session._adrop_unsent()
            return self._store_down(request, response, state, error, during_save=True)
        except Exception:
            # A receiver of the closing save's signal, say: the id it stored
            # must not outlive the 500 that carries no cookie for it.
            await session._adrop_unsent()
            raise
        if session.store_error is not None:
            await session._adrop_unsent()
            return self._store_down(request, response, state, session.store_error)
        return self._send(request, response, state, decision)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, StoreUnavailable):
            return unavailable_response(exception)
        return None

    def _store_down(
        self,
        request: HttpRequest,
        response: HttpResponse,
        state: _RequestState,
        error: StoreUnavailable,
        *,
        during_save: bool = False,
    ) -> HttpResponse:
        """The response when the store failed during this request."""
        session = state.session
        if session.store_unavailable:
            # "degrade": the view ran on an empty session; the cookie stays,
            # unless the view ended the session (a logout): this browser at
            # least forgets it, though the store could not delete it.
            decision = _Decision(clear_cookie=session._destroyed and state.had_token)
            return self._send(request, response, state, decision)
        if during_save or (response.status_code >= 500 and response.status_code != 503):
            return unavailable_response(error)
        # Already a 503 from process_exception, or the view caught the error
        # and answered on its own: keep that answer.
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        await self.aprocess_request(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
            return await self.aprocess_response(request, response)
        except asyncio.CancelledError:
            # The client went away (Django cancels the request): no response
            # carries a rotated id, and a login nobody holds the token of
            # would stay listed, and counted by revoke, until it expired.
            await asyncio.shield(self._abandon(request))
            raise

    async def _abandon(self, request: HttpRequest) -> None:
        state = self._state(request)
        if state is None:
            return
        first = state.session
        self._follow_replacement(request, state)
        if first is not state.session:
            await first._adrop_unsent()
        await state.session._adrop_unsent()

"""The session object: Django's ``SessionBase`` API plus express-session's.

``session_key`` is the signed cookie token, so Django's test client and
``contrib.auth`` keep working; stores only ever see the unsigned id.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import re
import weakref
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from django_xsession import signing
from django_xsession.conf import (
    MAX_SECONDS,
    Options,
    cookie_attribute,
    get_options,
    prefix_requirements,
)
from django_xsession.signals import (
    asend,
    session_created,
    session_destroyed,
    session_regenerated,
)
from django_xsession.stores import store_for
from django_xsession.stores.base import (
    AUTH_USER_KEY,
    Delta,
    Record,
    Store,
    StoreUnavailable,
    conform,
    serializer_class,
    session_serializer,
)

logger = logging.getLogger("django.security.SuspiciousSession")
store_logger = logging.getLogger("django_xsession")

_NOT_GIVEN: Any = object()
_VALID_ID = re.compile(r"[A-Za-z0-9_\-.~]{8,256}")
_CREATE_ATTEMPTS = 100
COOKIE_ATTRIBUTES = frozenset(
    {"path", "domain", "secure", "httponly", "samesite", "partitioned", "priority"}
)


# Values a view cannot change in place.
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
# Types whose equal values the serializer writes alike (float's 0.0 and
# -0.0 it does not): most of a session's values, compared at once.
_PLAIN = frozenset({str, int, bool, type(None)})
# A tuple: isinstance() with list | tuple would build the union on every call.
_SEQUENCES = (list, tuple)


def _identical(a: Any, b: Any) -> bool:
    """``a == b``, except that ``True``, ``1`` and ``1.0``, or ``0.0`` and
    ``-0.0``, differ: the serializer writes each its own way."""
    if type(a) is not type(b):
        return False
    if type(a) in _PLAIN:
        return bool(a == b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, _SEQUENCES):
        return len(a) == len(b) and all(map(_identical, a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def _surely_identical(a: Any, b: Any) -> bool:
    try:
        return _identical(a, b)
    except RecursionError:
        # Nested deeper than Python recurses, which the serializer and
        # Django's engines take: what the serializer writes tells instead.
        return False


def timed_out(record: Record, options: Options) -> bool:
    """Whether ``record`` passed ``IDLE_TIMEOUT`` or ``ABSOLUTE_TIMEOUT``.

    Such a session has ended, though its store still holds it until it is
    next loaded (and destroyed) or its stored expiry passes.
    """
    if options.absolute_timeout is None and options.idle_timeout is None:
        return False
    now = timezone.now()
    seen = record.last_seen or record.created
    checks = (
        (options.absolute_timeout, record.created),
        (options.idle_timeout, seen),
    )
    return any(
        limit is not None
        and since is not None
        and now - since >= datetime.timedelta(seconds=limit)
        for limit, since in checks
    )


class SessionTooLarge(ValueError):
    """The session's data is larger than ``XSESSION["MAX_SIZE"]`` allows."""


class SessionCookie:
    """express-session's ``req.session.cookie``: this session's cookie, settable.

    ``max_age`` and ``expires`` go through Django's ``set_expiry``; the other
    attributes override the configured ones for this session only and are
    stored with it.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def _stored_expiry(self) -> datetime.datetime | None:
        # When the browser's cookie runs out: the stored session's expiry,
        # until this request gives the session another lifetime.
        session = self._session
        if (
            session._stored
            and session._stored_expires is not None
            and session.get("_session_expiry") == session._loaded_expiry
        ):
            return session._stored_expires
        return None

    @property
    def max_age(self) -> int | None:
        """Seconds left, or ``None`` for a cookie that ends with the browser."""
        if self._session.get_expire_at_browser_close():
            return None
        stored = self._stored_expiry()
        if stored is None:
            # set_expiry() takes a float (social-auth passes one): whole
            # seconds, as the cookie's Max-Age and later requests have it.
            return math.ceil(self._session.get_expiry_age())
        return max(0, math.ceil((stored - timezone.now()).total_seconds()))

    @max_age.setter
    def max_age(self, value: int | datetime.timedelta | None) -> None:
        if isinstance(value, datetime.timedelta):
            value = int(value.total_seconds())
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ValueError("cookie.max_age must be None or a positive number")
        self._session.set_expiry(0 if value is None else value)

    @property
    def original_max_age(self) -> int | None:
        """The lifetime every save or touch gives the session again."""
        expiry = self._session.get("_session_expiry")
        if expiry == 0:
            return None
        if isinstance(expiry, int | float):
            return math.ceil(expiry)
        if self._session.get_expire_at_browser_close():
            return None
        return math.ceil(self._session.get_expiry_age())

    @property
    def expires(self) -> datetime.datetime | None:
        if self._session.get_expire_at_browser_close():
            return None
        return self._stored_expiry() or self._session.get_expiry_date()

    @expires.setter
    def expires(self, value: datetime.datetime | None) -> None:
        self._session.set_expiry(0 if value is None else value)

    def __getattr__(self, name: str) -> Any:
        if name not in COOKIE_ATTRIBUTES:
            raise AttributeError(name)
        # Loaded first: the stored session may override the attribute.
        self._session._get_session()
        return self._session._cookie_attribute(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in COOKIE_ATTRIBUTES:
            try:
                value = cookie_attribute(name, value)
            except ValueError as error:
                raise ValueError(f"cookie.{name} {error}") from None
            # Loaded first, or loading later would replace the override
            # with the stored ones.
            self._session._get_session()
            after = {
                attribute: self._session._cookie_attribute(attribute)
                for attribute in ("secure", "samesite", "partitioned", "path", "domain")
            }
            after[name] = value
            # As xsession.E009, E010 and E016 refuse in settings: browsers
            # drop such a cookie, and the override would be stored with it.
            if after["secure"] is not True and (
                after["samesite"] == "None" or after["partitioned"]
            ):
                raise ValueError(
                    "cookie.samesite 'None' and cookie.partitioned need "
                    "cookie.secure True"
                )
            cookie_name = self._session.options.name
            lacking = prefix_requirements(
                cookie_name, after["secure"], after["path"], after["domain"]
            )
            if name in lacking:
                raise ValueError(
                    f"cookie.{name} must be {lacking[name]} for a cookie named "
                    f"{cookie_name!r}, or browsers drop it"
                )
            self._session._cookie_overrides[name] = value
        else:
            super().__setattr__(name, value)

    def __repr__(self) -> str:
        attributes = {name: getattr(self, name) for name in sorted(COOKIE_ATTRIBUTES)}
        return f"<SessionCookie max_age={self.max_age!r} {attributes!r}>"


class Session(SessionBase):
    """The object behind ``request.session``.

    It behaves as Django's ``SessionBase`` does (so ``contrib.auth``, the
    messages and CSRF frameworks and the test client work unchanged) and adds
    express-session's ``id``, ``cookie``, ``regenerate``, ``destroy``,
    ``reload`` and ``touch``, each with an ``a``-prefixed async twin.
    """

    _session_cache: dict[str, Any]
    # Defaults of the per-request state, read from the class until a request
    # sets its own: a session object is built on every request.
    _sid: str | None = None
    _stored = False
    _loaded_sid: str | None = None
    # The data as loaded or last saved, encoded: what changes are measured
    # against, decoded into _before_cache when needed (or a shallow copy).
    _snapshot: bytes | None = None
    _before_cache: dict[str, Any] | None = None
    _closing = False
    _created: datetime.datetime | None = None
    _version: int | None = None
    _last_seen: datetime.datetime | None = None
    _stored_expires: datetime.datetime | None = None
    _replace_unread = False
    # The hash of the id this session had before cycle_key/regenerate,
    # until the new id is stored and session_regenerated is sent.
    _regenerated_from: str | None = None
    # That hash once the rotation deleted the old id before storing the new
    # one (an anonymous session's, in a request): should the new id never
    # be stored, session_destroyed is sent for it instead.
    _deleted_old_hash: str | None = None
    _write_requested = False
    _touched_by_view = False
    # A rotation found its login ended meanwhile (a logout, a revoke):
    # every later save fails, whatever id the session moves to.
    _ended_meanwhile = False
    # An id stored during this request for its response to carry to the
    # browser (a login's rotation, the closing save's new session): deleted
    # if the response does not.
    _unsent_sid: str | None = None
    # Loading found the session past a timeout and ended it.
    _timed_out_here = False
    # A save made by the view: the cookie's expiry moved with it.
    _saved_by_view = False
    # This request deleted its own session; a later save must not bring it
    # back under the same id (Django raises UpdateError there too).
    _deleted_own = False
    # The "_session_expiry" the session was loaded with.
    _loaded_expiry: Any = None
    _resend_cookie = False
    _candidates: tuple[str, ...] = ()
    _destroyed = False
    # The ids this session deleted (a logout, a rotation's old id): deleted
    # again after the view, whose transaction may have taken them back.
    _ended: tuple[str, ...] = ()
    #: The store failure this request met, if any.
    store_error: StoreUnavailable | None = None
    #: True when ``ON_STORE_ERROR="degrade"`` left this request with an
    #: empty session that is never written back.
    store_unavailable = False
    accessed = False

    def __init__(
        self, session_key: str | None = None, *, request: HttpRequest | None = None
    ) -> None:
        self._request = None if request is None else weakref.ref(request)
        self._cookie_overrides: dict[str, Any] = {}
        self._cookie_snapshot: dict[str, Any] = {}
        self._verified: dict[str, signing.Verified] = {}
        self._issued_cookie: dict[str, Any] = {}
        # Not through the _session_key setter: the state it resets is still
        # at the class defaults.
        self.__dict__["_token"] = (
            session_key if self._validate_session_key(session_key) else None
        )

    @classmethod
    def from_request(
        cls, request: HttpRequest, tokens: Sequence[tuple[str, signing.Verified]]
    ) -> Session:
        """A session for ``request`` whose cookie carried these verified tokens.

        Loading tries them in order; the first whose session exists wins.
        """
        session = cls(tokens[0][0] if tokens else None, request=request)
        session._candidates = tuple(token for token, _ in tokens)
        session._verified = dict(tokens)
        return session

    def __getstate__(self) -> dict[str, Any]:
        # A pickled copy (a task queue's) leaves the request behind: a weak
        # reference cannot be pickled, and the copy is outside any request.
        state = self.__dict__.copy()
        state["_request"] = None
        # Bound to the event loop of a request, and no more use outside it.
        state.pop("_aload_lock", None)
        return state

    @property
    def _ended_here(self) -> bool:
        # This request destroyed the session or found it past a timeout:
        # the cookie it came with names nothing any more.
        return self._destroyed or self._timed_out_here

    @property
    def key_salt(self) -> str:
        # Every Django engine's class is named SessionStore and signs with
        # that name: what one encode()s, ours decode()s, and back.
        return "django.contrib.sessions.SessionStore"

    @property
    def request(self) -> HttpRequest | None:
        """The request this session belongs to, while it exists."""
        # A weak reference: request.session points back here, and a cycle
        # would leave every request's objects to the garbage collector.
        return None if self._request is None else self._request()

    @cached_property
    def serializer(self) -> Any:
        """The ``SESSION_SERIALIZER`` class, as on Django's ``SessionBase``."""
        return serializer_class(settings.SESSION_SERIALIZER)

    @cached_property
    def _serializer(self) -> Any:
        # Only saves and snapshot comparisons encode: most reads never ask.
        return session_serializer()

    @property
    def options(self) -> Options:
        """The options in force now, so ``override_settings`` applies at once."""
        return get_options()

    @property
    def store(self) -> Store:
        return store_for(self.options.store)

    # Keys: the public key is the signed token; the store sees the id.

    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and len(key or "") >= 8

    def _get_or_create_session_key(self) -> str:
        if self.session_key is None:
            self._new_key()
        assert self.session_key is not None
        return self.session_key

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        # Looked up, not caught: every request's first read would raise.
        data: dict[str, Any] = self.__dict__.get("_session_cache", _NOT_GIVEN)
        if data is not _NOT_GIVEN:
            return data
        if self.session_key is None or no_load:
            self._session_cache = {}
            return self._session_cache
        self._session_cache, ended, error = self._load()
        self._loaded(ended, error)
        return self._session_cache

    _session = property(_get_session)

    def _get_session_key(self) -> str | None:
        token: str | None = self.__dict__.get("_token")
        return token

    def _set_session_key(self, value: str | None) -> None:
        self.__dict__["_token"] = value if self._validate_session_key(value) else None
        self._sid = None
        self._stored = False
        self._replace_unread = False
        self._deleted_own = False
        self._touched_by_view = False

    @property
    def session_key(self) -> str | None:
        token: str | None = self.__dict__.get("_token")
        return token

    @property
    def _session_key(self) -> str | None:
        token: str | None = self.__dict__.get("_token")
        return token

    @_session_key.setter
    def _session_key(self, value: str | None) -> None:
        self._set_session_key(value)

    def _verify(self, token: str | None) -> signing.Verified | None:
        if token is None:
            return None
        if token in self._verified:
            return self._verified[token]
        verified = signing.unsign(token, self.options.secrets)
        if verified is None:
            logger.warning("Session cookie with a bad signature.")
        return verified

    def _current_sid(self) -> str | None:
        if self._sid is None and self.session_key is not None:
            verified = self._verify(self.session_key)
            self._sid = verified.sid if verified is not None else None
        return self._sid

    def _sid_of(self, session_key: str | None) -> str | None:
        if session_key is not None and session_key == self.session_key:
            return self._current_sid()
        verified = self._verify(session_key)
        return None if verified is None else verified.sid

    def _new_key(self) -> None:
        generate = self.options.genid
        self._use_id(signing.new_id() if generate is None else generate(self.request))

    async def _anew_key(self) -> None:
        generate = self.options.genid
        if generate is None:
            self._use_id(signing.new_id())
        else:
            # The project's own sync code, which may use the ORM: in a
            # thread, as Django runs sync code for async callers.
            self._use_id(await sync_to_async(generate)(self.request))

    def _use_id(self, sid: Any) -> None:
        if not isinstance(sid, str) or not _VALID_ID.fullmatch(sid):
            raise ImproperlyConfigured(
                "XSESSION['GENID'] must return 8 to 256 URL-safe characters."
            )
        self._session_key = signing.sign(sid, self.options.secrets)
        self._sid = sid

    def _get_new_session_key(self) -> str:
        self._new_key()
        assert self.session_key is not None
        return self.session_key

    async def _aget_new_session_key(self) -> str:
        await self._anew_key()
        assert self.session_key is not None
        return self.session_key

    # State shared by the sync and async twins.

    def _candidate_tokens(self) -> tuple[str, ...]:
        key = self.session_key
        if key is None:
            return ()
        if self._candidates and self._candidates[0] == key:
            return self._candidates
        return (key, *(token for token in self._candidates if token != key))

    def _adopt(self, token: str, verified: signing.Verified, record: Record) -> None:
        if not verified.by_primary:
            token = signing.sign(verified.sid, self.options.secrets)
        if token != self.session_key:
            self._session_key = token
        self._replace_unread = False
        self._sid = self._loaded_sid = verified.sid
        self._stored = True
        if record.raw is not None:
            self._set_snapshot(record.raw)
        elif _IMMUTABLE.issuperset(map(type, record.data.values())):
            # Nothing in it can change in place: a shallow copy is as good as
            # encoding the data, and cheaper.
            self._snapshot = None
            self._before_cache = dict(record.data)
        else:
            self._set_snapshot(self._dumps(record.data))
        self._cookie_overrides = dict(record.cookie)
        # Replaced, never changed in place: one copy serves both.
        self._cookie_snapshot = self._issued_cookie = dict(record.cookie)
        self._created = record.created
        self._version = record.version
        self._last_seen = record.last_seen
        self._stored_expires = record.expires
        self._loaded_expiry = record.data.get("_session_expiry")
        self._resend_cookie = not verified.by_primary

    def _timed_out(self, record: Record) -> bool:
        return timed_out(record, self.options)

    def _destroyed_signal(self, sid: str) -> None:
        session_destroyed.send(**self._destroyed_event(Store.digest(sid)))

    async def _adestroyed_signal(self, sid: str) -> None:
        await asend(session_destroyed, **self._destroyed_event(Store.digest(sid)))

    def _destroyed_event(self, key_hash: str) -> dict[str, Any]:
        return {"sender": type(self), "key_hash": key_hash, "request": self.request}

    def _end_abandoned_rotation(self) -> None:
        key_hash = self._abandoned_rotation()
        if key_hash is not None:
            session_destroyed.send(**self._destroyed_event(key_hash))

    async def _aend_abandoned_rotation(self) -> None:
        key_hash = self._abandoned_rotation()
        if key_hash is not None:
            await asend(session_destroyed, **self._destroyed_event(key_hash))

    def _abandoned_rotation(self) -> str | None:
        """The hash of the id a rotation deleted, its new id never to be
        stored; the rotation is forgotten."""
        key_hash = self._deleted_old_hash
        self._regenerated_from = self._deleted_old_hash = None
        return key_hash

    def _metadata(self) -> dict[str, str]:
        request = self.request
        if request is None or not self.options.record_metadata:
            return {}
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if self.options.proxy and forwarded:
            ip = forwarded.split(",", 1)[0].strip()[:64]
        else:
            ip = request.META.get("REMOTE_ADDR", "")[:64]
        agent = request.META.get("HTTP_USER_AGENT", "")[:255]
        # PostgreSQL's text refuses NUL, and no real agent or address has one.
        return {"user_agent": agent.replace("\x00", ""), "ip": ip.replace("\x00", "")}

    def _outage(self, error: StoreUnavailable) -> None:
        """Apply ``ON_STORE_ERROR``: re-raise, or carry on with nothing stored."""
        self.store_error = error
        if self.options.on_store_error == "raise":
            # Read as empty from now on: whatever reads it next, Django's 500
            # page through CSRF_USE_SESSIONS say, must not meet the store
            # again and escape every handler with this error.
            self.__dict__.setdefault("_session_cache", {})
            raise error
        if not self.store_unavailable:
            store_logger.warning("Session store unavailable, nothing saved: %s", error)
        self.store_unavailable = True

    def _missing(self) -> dict[str, Any]:
        self._session_key = None
        self._set_snapshot(None)
        return {}

    def _set_snapshot(self, encoded: bytes | None) -> None:
        self._snapshot = encoded
        self._before_cache = None

    def _before(self) -> dict[str, Any]:
        if self._before_cache is None:
            if self._snapshot is None:
                return {}
            self._before_cache = self._serializer.loads(self._snapshot)
        return self._before_cache

    def _dumps(self, data: Mapping[str, Any]) -> bytes:
        return self._serializer.dumps(data)  # type: ignore[no-any-return]

    def _record(self, data: dict[str, Any]) -> Record:
        encoded = self._dumps(data)
        limit = self.options.max_size
        if len(encoded) > limit:
            # Before anything reaches the store.
            raise SessionTooLarge(
                f"Session data is {len(encoded):,} bytes when serialized, over "
                f"XSESSION['MAX_SIZE'] of {limit:,} bytes; nothing was saved."
            )
        now = timezone.now()
        return Record(
            data=data,
            raw=encoded,
            expires=self.get_expiry_date(),
            cookie=dict(self._cookie_overrides),
            created=self._created or now,
            version=self._version,
            last_seen=now,
            meta=self._metadata(),
        )

    def _delta(self, data: dict[str, Any]) -> Delta:
        before = self._before()
        changed = {
            key: value
            for key, value in data.items()
            if key not in before or not self._unchanged(before[key], value)
        }
        return Delta(changed, frozenset(before.keys() - data.keys()))

    def _unchanged(self, before: Any, after: Any) -> bool:
        if _surely_identical(before, after):
            return True
        # Some values differ from their own decoded copy: NaN in a list, an
        # object without __eq__ under pickle, a tuple that comes back a list.
        # Counting them changed would make a request that only read them
        # write them back over a concurrent request's change: what the
        # serializer writes for each decides (equal data written in another
        # key order counts as a change, and is written again).
        return bool(self._serializer.dumps(before) == self._serializer.dumps(after))

    def _prepare_save(
        self, must_create: bool
    ) -> tuple[str, Record, bool, Delta | None]:
        sid = self._sid
        assert sid is not None
        data = self._get_session(no_load=must_create)
        create = must_create or not (
            self._stored
            or self._replace_unread
            or self._deleted_own
            or self._ended_meanwhile
        )
        delta = None if create or self._replace_unread else self._delta(data)
        return sid, self._record(data), create, delta

    def _retry(
        self, refused: UpdateError | CreateError, must_create: bool, create: bool
    ) -> None:
        """Re-raise what the store refused unless a save under a new id follows."""
        if isinstance(refused, UpdateError):
            if not self._replace_unread:
                raise refused
            # The cleared session was not stored after all: a new one.
            self._replace_unread = False
        elif must_create or not create:
            # A CreateError from an update breaks the store contract: under a
            # new id the session would be created anew beside the old one.
            raise refused

    def _saved(
        self, record: Record, created: bool
    ) -> tuple[Signal, dict[str, Any]] | None:
        """Take in a successful save; return the signal it calls for, if any."""
        event: tuple[Signal, dict[str, Any]] | None = None
        if created:
            sid = self._sid
            assert sid is not None
            if self._closing:
                self._unsent_sid = sid
            if self._regenerated_from is not None:
                event = (
                    session_regenerated,
                    {
                        "sender": type(self),
                        "old_key_hash": self._regenerated_from,
                        "new_key_hash": Store.digest(sid),
                        "request": self.request,
                    },
                )
            else:
                event = (
                    session_created,
                    {
                        "sender": type(self),
                        "key_hash": Store.digest(sid),
                        "request": self.request,
                    },
                )
        self._regenerated_from = self._deleted_old_hash = None
        self._replace_unread = False
        self._last_seen = record.last_seen
        self._stored_expires = record.expires
        self._stored = True
        # The middleware's closing save is the request's last: nothing will
        # be compared against a new snapshot, so skip encoding one.
        self._set_snapshot(None if self._closing else self._dumps(record.data))
        self._saved_by_view = self._saved_by_view or not self._closing
        self._cookie_snapshot = dict(self._cookie_overrides)
        self._created = record.created
        self._version = None
        self._write_requested = False
        return event

    def _forget(self) -> None:
        self._ended_meanwhile = False
        self._unsent_sid = None
        self._stored = False
        self._replace_unread = False
        self._set_snapshot(None)
        self._cookie_overrides = {}
        self._cookie_snapshot = {}
        self._created = None
        self._version = None

    # Change tracking, read by the middleware.

    @property
    def modified(self) -> bool:
        return self.__dict__.get("_modified", False)  # type: ignore[no-any-return]

    @modified.setter
    def modified(self, value: bool) -> None:
        self.__dict__["_modified"] = value
        if value:
            self._write_requested = True

    @property
    def signed_by_old_secret(self) -> bool:
        """Whether the request's cookie verified only under a retired secret."""
        verified = self._verified.get(self._candidates[0]) if self._candidates else None
        return verified is not None and not verified.by_primary

    @property
    def is_stored(self) -> bool:
        """Whether this session's current id exists in the store."""
        return self._stored

    @property
    def is_new(self) -> bool:
        """Whether this session was not loaded from the request's cookie."""
        return self._loaded_sid is None or self._sid != self._loaded_sid

    def has_changes(self) -> bool:
        """Whether anything differs from the stored state: data or cookie."""
        if self._write_requested or self._cookie_overrides != self._cookie_snapshot:
            return True
        data = self.__dict__.get("_session_cache")
        if data is None:
            return False
        if _IMMUTABLE.issuperset(map(type, data.values())):
            # Only SessionBase's methods, which set modified, can change
            # these: skip decoding the snapshot to compare.
            return False
        # Not ==: True, 1 and 1.0 (or 0.0 and -0.0) are equal there, but the
        # serializer writes each its own way, so changing one is a change.
        if _surely_identical(self._before(), data):
            return False
        # Key by key, so that only the values that differ are encoded to
        # confirm it.
        delta = self._delta(data)
        return bool(delta.changed or delta.removed)

    def cookie_changed(self) -> bool:
        """Whether the browser's cookie no longer matches the session: its
        attributes, its secret or whether it outlives the browser."""
        if self._deleted_own:
            return False
        if self._cookie_overrides != self._issued_cookie or self._resend_cookie:
            return True
        data = self.__dict__.get("_session_cache")
        return data is not None and data.get("_session_expiry") != self._loaded_expiry

    def saved_by_view(self) -> bool:
        """Whether the view saved the session itself during this request."""
        return self._saved_by_view

    def _cookie_attribute(self, name: str) -> Any:
        if name in self._cookie_overrides:
            return self._cookie_overrides[name]
        return getattr(self.options.cookie, name)

    @property
    def cookie(self) -> SessionCookie:
        return SessionCookie(self)

    @property
    def id(self) -> str:
        """The unsigned session id, created on first use for a new session."""
        # Loaded first: a cookie's id the store does not know is replaced
        # here, so a view never sees (or keys its data by) the client's.
        self._get_session()
        self._get_or_create_session_key()
        sid = self._current_sid()
        assert sid is not None
        return sid

    async def aid(self) -> str:
        """``id``, for async code: loads and creates without blocking."""
        await self._aget_session()
        if self.session_key is None:
            await self._anew_key()
        sid = self._current_sid()
        assert sid is not None
        return sid

    # Expiry: the options replace Django's global session settings.

    def get_session_cookie_age(self) -> int:
        if self.options.max_age is not None:
            return self.options.max_age
        return int(settings.SESSION_COOKIE_AGE)

    def _fixed_expiry(self, kwargs: dict[str, Any], expiry: Any) -> dict[str, Any]:
        if "expiry" not in kwargs and expiry is None and self.options.expires:
            # Aware or naive as the clock is, whatever settings.py wrote.
            kwargs["expiry"] = conform(self.options.expires, timezone.now())
        return kwargs

    def _deadline(self) -> datetime.datetime | None:
        """When ``ABSOLUTE_TIMEOUT`` ends this session, whatever ``ROLLING`` does."""
        limit = self.options.absolute_timeout
        if limit is None:
            return None
        return (self._created or timezone.now()) + datetime.timedelta(seconds=limit)

    def _capped_age(self, age: int, kwargs: dict[str, Any]) -> int:
        deadline = self._deadline()
        if deadline is None:
            return age
        now = kwargs.get("modification") or timezone.now()
        return max(0, min(age, int((deadline - now).total_seconds())))

    def _capped_date(self, date: datetime.datetime) -> datetime.datetime:
        deadline = self._deadline()
        return date if deadline is None else min(date, deadline)

    def _plain_expiry(self, kwargs: dict[str, Any]) -> bool:
        """Whether the session's lifetime is just the cookie age from now."""
        options = self.options
        return (
            not kwargs
            and options.expires is None
            and options.absolute_timeout is None
            and self.get("_session_expiry") is None
        )

    def set_expiry(self, value: Any) -> None:
        # Django's, but a lifetime past what any date can end is refused
        # here, not as an OverflowError when the session is saved.
        if isinstance(value, datetime.datetime):
            now = timezone.now()
            ahead = (
                (value - now).total_seconds()
                if (value.tzinfo is None) == (now.tzinfo is None)
                else 0
            )
        elif isinstance(value, datetime.timedelta):
            ahead = value.total_seconds()
        else:
            ahead = value if isinstance(value, int | float) else 0
        # Negative is Django's "already expired"; NaN compares false to all.
        if not abs(ahead) <= MAX_SECONDS:
            raise ValueError(
                f"A session can last at most {MAX_SECONDS} seconds (100 years), "
                f"ahead or past, not {value!r}."
            )
        super().set_expiry(value)

    def get_expiry_age(self, **kwargs: Any) -> int:
        if self._plain_expiry(kwargs):
            # Every save and cookie asks: spare them SessionBase's general case.
            return self.get_session_cookie_age()
        expiry = None if "expiry" in kwargs else self.get("_session_expiry")
        age = super().get_expiry_age(**self._fixed_expiry(kwargs, expiry))
        return self._capped_age(age, kwargs)

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        expiry = None if "expiry" in kwargs else await self.aget("_session_expiry")
        age = super().get_expiry_age(**self._fixed_expiry(kwargs, expiry))
        return self._capped_age(age, kwargs)

    def get_expiry_date(self, **kwargs: Any) -> datetime.datetime:
        if self._plain_expiry(kwargs):
            age = datetime.timedelta(seconds=self.get_session_cookie_age())
            return timezone.now() + age
        expiry = None if "expiry" in kwargs else self.get("_session_expiry")
        date = super().get_expiry_date(**self._fixed_expiry(kwargs, expiry))
        return self._capped_date(date)

    async def aget_expiry_date(self, **kwargs: Any) -> datetime.datetime:
        expiry = None if "expiry" in kwargs else await self.aget("_session_expiry")
        date = super().get_expiry_date(**self._fixed_expiry(kwargs, expiry))
        return self._capped_date(date)

    def _browser_session(self, expiry: Any) -> bool:
        if expiry is None:
            return self.options.max_age is None and self.options.expires is None
        return bool(expiry == 0)

    def get_expire_at_browser_close(self) -> bool:
        return self._browser_session(self.get("_session_expiry"))

    async def aget_expire_at_browser_close(self) -> bool:
        return self._browser_session(await self.aget("_session_expiry"))

    # Django's storage hooks.

    def load(self) -> dict[str, Any]:
        data, ended, error = self._load()
        self._loaded(ended, error)
        return data

    async def aload(self) -> dict[str, Any]:
        data, ended, error = await self._aload()
        await self._aloaded(ended, error)
        return data

    # load() without its session_destroyed signals and its ON_STORE_ERROR,
    # which _loaded() applies: the ids it ended on a timeout, and the store
    # failure it met. Reading the session for a request applies them once
    # the data is in place, so a receiver that reads the session finds it
    # loaded, and a failure after a timeout still signals that session.

    def _loaded(self, ended: list[str], error: StoreUnavailable | None) -> None:
        for sid in ended:
            self._destroyed_signal(sid)
        if error is not None:
            self._outage(error)

    async def _aloaded(self, ended: list[str], error: StoreUnavailable | None) -> None:
        for sid in ended:
            await self._adestroyed_signal(sid)
        if error is not None:
            self._outage(error)

    def _load(self) -> tuple[dict[str, Any], list[str], StoreUnavailable | None]:
        ended: list[str] = []
        for token in self._candidate_tokens():
            verified = self._verify(token)
            if verified is None:
                continue
            try:
                record = self.store.get(verified.sid)
            except StoreUnavailable as error:
                return {}, ended, error
            if record is not None and self._timed_out(record):
                try:
                    self.store.destroy(verified.sid)
                except StoreUnavailable as error:
                    return {}, ended, error
                ended.append(verified.sid)
                self._timed_out_here = True
                continue
            if record is not None:
                self._adopt(token, verified, record)
                return record.data, ended, None
        return self._missing(), ended, None

    async def _aload(
        self,
    ) -> tuple[dict[str, Any], list[str], StoreUnavailable | None]:
        ended: list[str] = []
        for token in self._candidate_tokens():
            verified = self._verify(token)
            if verified is None:
                continue
            try:
                record = await self.store.aget(verified.sid)
            except StoreUnavailable as error:
                return {}, ended, error
            if record is not None and self._timed_out(record):
                try:
                    await self.store.adestroy(verified.sid)
                except StoreUnavailable as error:
                    return {}, ended, error
                ended.append(verified.sid)
                self._timed_out_here = True
                continue
            if record is not None:
                self._adopt(token, verified, record)
                return record.data, ended, None
        return self._missing(), ended, None

    def exists(self, session_key: str | None) -> bool:
        sid = self._sid_of(session_key)
        try:
            record = self.store.get(sid) if sid is not None else None
        except StoreUnavailable as error:
            self._outage(error)
            return False
        return self._live(record)

    async def aexists(self, session_key: str | None) -> bool:
        sid = self._sid_of(session_key)
        try:
            record = await self.store.aget(sid) if sid is not None else None
        except StoreUnavailable as error:
            self._outage(error)
            return False
        return self._live(record)

    def _live(self, record: Record | None) -> bool:
        # Past a timeout, a session has ended though its store still holds it.
        return record is not None and not self._timed_out(record)

    def create(self) -> None:
        for _ in range(_CREATE_ATTEMPTS):
            self._new_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self._created_by_save()
            return
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    async def acreate(self) -> None:
        for _ in range(_CREATE_ATTEMPTS):
            await self._anew_key()
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            self._created_by_save()
            return
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    def _created_by_save(self) -> None:
        # Django's create() leaves modified set; the save that created the
        # session was its write, so none is due at the end of the request.
        self.__dict__["_modified"] = True

    def _replacing_under_timeouts(self) -> bool:
        """Whether data cleared unread replaces a session that may have timed out.

        The save reads the stored session after all: one past its timeout
        ends rather than taking the new data, and the replacement keeps the
        creation time ``ABSOLUTE_TIMEOUT`` counts from.
        """
        options = self.options
        return self._replace_unread and (
            options.idle_timeout is not None or options.absolute_timeout is not None
        )

    def save(self, must_create: bool = False) -> None:
        """Write the session; see Django's ``SessionBase.save``.

        Without ``must_create``, only this request's changed and removed keys
        are applied onto the stored data, and a session deleted meanwhile
        raises ``UpdateError`` instead of coming back.
        """
        if self.session_key is not None and not must_create:
            self._get_session()
        if self._replacing_under_timeouts():
            replacement, overrides = self._session_cache, self._cookie_overrides
            self.load()
            self._session_cache, self._cookie_overrides = replacement, overrides
        if self.store_unavailable:
            return None
        if self._current_sid() is None:
            return self.create()
        sid, record, create, delta = self._prepare_save(must_create)
        for _ in range(_CREATE_ATTEMPTS):
            try:
                self.store.set(sid, record, create=create, delta=delta)
            except StoreUnavailable as error:
                self._outage(error)
                return None
            except (UpdateError, CreateError) as refused:
                self._retry(refused, must_create, create)
                self._new_key()
                sid, record, create, delta = self._prepare_save(must_create)
                continue
            event = self._saved(record, created=create)
            if event is not None:
                event[0].send(**event[1])
            return
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is not None and not must_create:
            await self._aget_session()
        if self._replacing_under_timeouts():
            replacement, overrides = self._session_cache, self._cookie_overrides
            await self.aload()
            self._session_cache, self._cookie_overrides = replacement, overrides
        if self.store_unavailable:
            return None
        if self._current_sid() is None:
            return await self.acreate()
        sid, record, create, delta = self._prepare_save(must_create)
        for _ in range(_CREATE_ATTEMPTS):
            try:
                await self.store.aset(sid, record, create=create, delta=delta)
            except StoreUnavailable as error:
                self._outage(error)
                return None
            except (UpdateError, CreateError) as refused:
                self._retry(refused, must_create, create)
                await self._anew_key()
                sid, record, create, delta = self._prepare_save(must_create)
                continue
            event = self._saved(record, created=create)
            if event is not None:
                await asend(event[0], **event[1])
            return
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    def _unread(self) -> bool:
        return "_session_cache" not in self.__dict__ and self.session_key is not None

    def _read_unseen(self) -> None:
        # Loaded for our own needs, not marked accessed, as Django leaves it.
        accessed = self.accessed
        self._get_session()
        self.accessed = accessed

    async def _aread_unseen(self) -> None:
        accessed = self.accessed
        await self._aget_session()
        self.accessed = accessed

    def delete(self, session_key: str | None = None) -> None:
        own = session_key is None or session_key == self.session_key
        read_here = own and self._unread()
        if read_here:
            # Loaded first: the cookie to clear has the attributes it was
            # issued with, which the stored session may override.
            self._read_unseen()
        sid = self._current_sid() if own else self._sid_of(session_key)
        ended = None
        if sid is not None and not self.store_unavailable:
            try:
                held = self.store.destroy(sid)
            except StoreUnavailable as error:
                self._outage(error)
            else:
                self._ended += (sid,)
                # Ended elsewhere meanwhile (a revoke): that sent its signal.
                if held:
                    ended = sid
        if own:
            self._forget()
            self._deleted_own = sid is not None
            if read_here:
                # As if never read, as with Django: reading now finds nothing.
                del self._session_cache
            # Sent once the session is ended here: a receiver that raises
            # leaves it ended all the same.
            if ended is not None:
                self._destroyed_signal(ended)
            self._end_abandoned_rotation()

    async def adelete(self, session_key: str | None = None) -> None:
        own = session_key is None or session_key == self.session_key
        read_here = own and self._unread()
        if read_here:
            await self._aread_unseen()
        sid = self._current_sid() if own else self._sid_of(session_key)
        ended = None
        if sid is not None and not self.store_unavailable:
            try:
                held = await self.store.adestroy(sid)
            except StoreUnavailable as error:
                self._outage(error)
            else:
                self._ended += (sid,)
                # Ended elsewhere meanwhile (a revoke): that sent its signal.
                if held:
                    ended = sid
        if own:
            self._forget()
            self._deleted_own = sid is not None
            if read_here:
                # As if never read, as with Django: reading now finds nothing.
                del self._session_cache
            # Sent once the session is ended here: a receiver that raises
            # leaves it ended all the same.
            if ended is not None:
                await self._adestroyed_signal(ended)
            await self._aend_abandoned_rotation()

    @classmethod
    def clear_expired(cls) -> None:
        store = store_for(get_options().store)
        # As Django's cache engine: nothing to do where the backend expires
        # sessions itself.
        if not store.expires_by_itself:
            store.clear_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        store = store_for(get_options().store)
        if not store.expires_by_itself:
            await store.aclear_expired()

    # Django's key rotation. In a request, an anonymous session's new id is
    # created once, when the response saves it, and the old one is deleted
    # now; outside one (no response will save it) the new id is saved at
    # once, before the old one is deleted, as Django's cycle_key does. A login is
    # stored under its new id at once, before the old id is deleted: a
    # revoke() running meanwhile finds one of the two (the user's sessions
    # list both), and a login a logout or revoke ended meanwhile is caught
    # here, while the old id is deleted, rather than brought back.

    def _regenerating(self) -> None:
        sid = self._current_sid()
        if self._stored and sid is not None:
            self._regenerated_from = Store.digest(sid)

    def clear(self) -> None:
        if "_session_cache" not in self.__dict__ and self._current_sid() is not None:
            # Cleared before it was read: the save must replace what is
            # stored under this id (a login, say), not leave it there and
            # save the empty session under a new id.
            self._replace_unread = True
        super().clear()

    def cycle_key(self) -> None:
        data = self._session
        old_sid = self._current_sid()
        login = self._stored and AUTH_USER_KEY in data
        self._regenerating()
        self._new_key()
        self._session_cache = data
        self.modified = True
        if self.store_unavailable:
            return
        try:
            moved = old_sid is not None and login and self._moved_login(old_sid)
            if self._unsaved_by_a_response(moved):
                self.save()
                if self.store_unavailable:
                    return  # degraded: the old id must outlive the failed save
            if old_sid is not None and not moved:
                self.store.destroy(old_sid)
                self._deleted_old_hash = self._regenerated_from
            if old_sid is not None:
                self._ended += (old_sid,)
        except StoreUnavailable as error:
            self._outage(error)

    async def acycle_key(self) -> None:
        data = await self._aget_session()
        old_sid = self._current_sid()
        login = self._stored and AUTH_USER_KEY in data
        self._regenerating()
        await self._anew_key()
        self._session_cache = data
        self.modified = True
        if self.store_unavailable:
            return
        try:
            moved = old_sid is not None and login and await self._amoved_login(old_sid)
            if self._unsaved_by_a_response(moved):
                await self.asave()
                if self.store_unavailable:
                    return  # degraded: the old id must outlive the failed save
            if old_sid is not None and not moved:
                await self.store.adestroy(old_sid)
                self._deleted_old_hash = self._regenerated_from
            if old_sid is not None:
                self._ended += (old_sid,)
        except StoreUnavailable as error:
            self._outage(error)

    def _unsaved_by_a_response(self, moved: bool) -> bool:
        # Outside a request (a script, a task, the test client's session) no
        # response will save the new id: it is written now, before the old
        # one goes, as Django's cycle_key does.
        return self.request is None and not moved

    def _moved_login(self, old_sid: str) -> bool:
        """Move the login to its new id; ``False`` if it is too large to store.

        In a request, a login over ``MAX_SIZE`` loses its old id now, and
        the save at the end of the request raises, as for any session too
        large; outside one, ``cycle_key`` raises at once and the old id
        stays.
        """
        for _ in range(_CREATE_ATTEMPTS):
            try:
                sid, record, _, _ = self._prepare_save(must_create=True)
            except SessionTooLarge:
                return False
            try:
                held = self.store.replace(old_sid, sid, record)
            except CreateError:
                self._new_key()
                continue
            event = self._replaced(sid, record, held)
            if event is not None:
                event[0].send(**event[1])
            return True
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    async def _amoved_login(self, old_sid: str) -> bool:
        for _ in range(_CREATE_ATTEMPTS):
            try:
                sid, record, _, _ = self._prepare_save(must_create=True)
            except SessionTooLarge:
                return False
            try:
                held = await self.store.areplace(old_sid, sid, record)
            except CreateError:
                await self._anew_key()
                continue
            event = self._replaced(sid, record, held)
            if event is not None:
                await asend(event[0], **event[1])
            return True
        raise RuntimeError("Unable to create a new session key: the store refuses ids.")

    def _replaced(
        self, sid: str, record: Record, held: bool
    ) -> tuple[Signal, dict[str, Any]] | None:
        """Take in the store's move; return the signal it calls for, if any."""
        if not held:
            # A logout or revoke ended the login meanwhile: it must not live
            # on under the new id, whatever this request saves.
            self._ended_meanwhile = True
            return None
        self._unsent_sid = sid
        return self._saved(record, created=True)

    def _drop_unsent(self) -> None:
        """Delete the id stored for the response to carry, which it does not;
        or signal the end of the old id a rotation deleted for it.

        Tried after a store failure too: a login nobody holds the token of
        would be listed, and counted by ``revoke``, until it expires.
        """
        self._end_abandoned_rotation()
        sid = self._unsent_id()
        if sid is None:
            return
        try:
            held = self.store.destroy(sid)
        except StoreUnavailable as error:
            self._unsent_left(error)
            return
        if held:
            self._destroyed_signal(sid)

    async def _adrop_unsent(self) -> None:
        await self._aend_abandoned_rotation()
        sid = self._unsent_id()
        if sid is None:
            return
        try:
            held = await self.store.adestroy(sid)
        except StoreUnavailable as error:
            self._unsent_left(error)
            return
        if held:
            await self._adestroyed_signal(sid)

    def _end_again(self) -> None:
        """Delete once more the ids this session deleted, on a store whose
        writes join the caller's transaction.

        A transaction of the view's that rolled back (``ATOMIC_REQUESTS``
        and a 500, say) brought them back: a logout would not have ended
        the session, only cleared this browser's cookie.
        """
        for sid in self._deletes_to_repeat():
            self.store.destroy(sid)

    async def _aend_again(self) -> None:
        for sid in self._deletes_to_repeat():
            await self.store.adestroy(sid)

    def _deletes_to_repeat(self) -> tuple[str, ...]:
        """The ids this session deleted, if a rollback may have undone that."""
        ended, self._ended = self._ended, ()
        return ended if self.store.joins_callers_transaction else ()

    def _unsent_id(self) -> str | None:
        """The id stored for the response, if the session still has it; forgotten."""
        sid, self._unsent_sid = self._unsent_sid, None
        if sid is None or sid != self._sid or not self._stored:
            return None
        return sid

    def _unsent_left(self, error: StoreUnavailable) -> None:
        store_logger.warning(
            "Session store unavailable, a session whose cookie was not sent "
            "stays stored until it expires: %s",
            error,
        )

    def flush(self) -> None:
        if self._unread():
            # Before clear() empties it: see delete().
            self._get_session()
        self.clear()
        try:
            self.delete()
        finally:
            self._ended_by_flush()

    def _ended_by_flush(self) -> None:
        # Also when a session_destroyed receiver raised: the store no longer
        # holds the session, and the response clears its cookie.
        self._session_key = None
        self._write_requested = False
        self._destroyed = True

    async def aflush(self) -> None:
        if self._unread():
            await self._aget_session()
        self.clear()
        try:
            await self.adelete()
        finally:
            self._ended_by_flush()

    # express-session's API.

    def regenerate(self, *, keep_data: bool = False) -> None:
        """Move the session to a new id; drop its data unless ``keep_data``."""
        # Loaded even when its data is dropped: only a session known to be
        # stored is reported as regenerated rather than created.
        self._get_session()
        if not keep_data:
            self._session_cache = {}
        self.cycle_key()

    async def aregenerate(self, *, keep_data: bool = False) -> None:
        await self._aget_session()
        if not keep_data:
            self._session_cache = {}
        await self.acycle_key()

    def destroy(self) -> None:
        """End the session: delete it from the store and clear the cookie."""
        self.flush()

    async def adestroy(self) -> None:
        await self.aflush()

    def _reloaded(self, record: Record | None) -> None:
        # A timeout has ended a session its store still holds: it is gone.
        if record is None or self._timed_out(record):
            raise SessionInterrupted("The session no longer exists in the store.")
        sid = self._sid
        assert sid is not None
        self._adopt(self.session_key or "", signing.Verified(sid, True), record)
        self._session_cache = record.data
        # The changes it drops are no reason to write any more.
        self.__dict__["_modified"] = False
        self._write_requested = False

    def reload(self) -> None:
        """Replace the data with the stored state, dropping unsaved changes."""
        sid = self._current_sid()
        try:
            record = self.store.get(sid) if sid is not None else None
        except StoreUnavailable as error:
            self._outage(error)
            return
        self._reloaded(record)

    async def areload(self) -> None:
        sid = self._current_sid()
        try:
            record = await self.store.aget(sid) if sid is not None else None
        except StoreUnavailable as error:
            self._outage(error)
            return
        self._reloaded(record)

    def _touch_target(self) -> tuple[str, datetime.datetime] | None:
        sid = self._current_sid()
        if sid is None or not self._stored:
            return None
        return sid, self.get_expiry_date()

    def touch_due(self) -> bool:
        """Whether ``TOUCH_AFTER`` seconds passed since the store last saw us."""
        if self._touched_by_view:
            return False
        after = self.options.touch_after
        return (
            not after
            or self._last_seen is None
            or timezone.now() - self._last_seen >= datetime.timedelta(seconds=after)
        )

    def _refresh_target(self) -> tuple[str, datetime.datetime] | None:
        target = self._touch_target()
        if target is None or self.options.rolling or self._stored_expires is None:
            return target
        # IDLE_TIMEOUT alone: record the request's time, keep the expiry the
        # browser's cookie has.
        return target[0], self._stored_expires

    def refresh(self) -> bool:
        """The middleware's touch: ``touch()`` under ``ROLLING``, else only
        the time of this request, for ``IDLE_TIMEOUT``.

        Returns ``False`` if the store no longer holds the session.
        """
        target = self._refresh_target()
        if target is None or self.store_unavailable:
            return True
        try:
            touched = self.store.touch(*target)
        except StoreUnavailable as error:
            self._outage(error)
            return True
        return self._refreshed(touched, target[1])

    async def arefresh(self) -> bool:
        target = self._refresh_target()
        if target is None or self.store_unavailable:
            return True
        try:
            touched = await self.store.atouch(*target)
        except StoreUnavailable as error:
            self._outage(error)
            return True
        return self._refreshed(touched, target[1])

    def _refreshed(self, touched: bool, expires: datetime.datetime) -> bool:
        if touched:
            self._stored_expires = expires
        return touched

    def touch(self) -> bool:
        """Restart the session's lifetime in the store and re-send the cookie.

        Returns ``False`` if the session is not stored (yet, or any more).
        """
        self._get_session()
        target = self._touch_target()
        if target is None or self.store_unavailable:
            return False
        try:
            touched = self.store.touch(*target)
        except StoreUnavailable as error:
            self._outage(error)
            return False
        return self._touched(touched, target[1])

    async def atouch(self) -> bool:
        await self._aget_session()
        target = self._touch_target()
        if target is None or self.store_unavailable:
            return False
        try:
            touched = await self.store.atouch(*target)
        except StoreUnavailable as error:
            self._outage(error)
            return False
        return self._touched(touched, target[1])

    def _touched(self, touched: bool, expires: datetime.datetime) -> bool:
        if self._refreshed(touched, expires):
            self._resend_cookie = True
            self._last_seen = timezone.now()
            self._touched_by_view = True
        return touched

    # Async twins of the mapping API, for every supported Django version.

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        data: dict[str, Any] = self.__dict__.get("_session_cache", _NOT_GIVEN)
        if data is not _NOT_GIVEN:
            return data
        if self.session_key is None or no_load:
            self._session_cache = {}
            return self._session_cache
        # Awaits that overlap (asyncio.gather(request.auser(), session.aset(...)))
        # share one load: a second load that finished last would replace the
        # data the first caller had changed meanwhile, and its change be lost.
        lock = self.__dict__.setdefault("_aload_lock", asyncio.Lock())
        async with lock:
            try:
                return self._session_cache
            except AttributeError:
                self._session_cache, ended, error = await self._aload()
        # Outside the lock: a receiver that reads the session must not wait
        # for it.
        await self._aloaded(ended, error)
        return self._session_cache

    async def aget(self, key: str, default: Any = None) -> Any:
        return (await self._aget_session()).get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        (await self._aget_session())[key] = value
        self.modified = True

    async def apop(self, key: str, default: Any = _NOT_GIVEN) -> Any:
        await self._aget_session()
        return self.pop(key) if default is _NOT_GIVEN else self.pop(key, default)

    async def asetdefault(self, key: str, value: Any) -> Any:
        await self._aget_session()
        return self.setdefault(key, value)

    async def aupdate(self, dict_: Any) -> None:
        await self._aget_session()
        self.update(dict_)

    async def ahas_key(self, key: str) -> bool:
        return key in await self._aget_session()

    async def akeys(self) -> Any:
        return (await self._aget_session()).keys()

    async def avalues(self) -> Any:
        return (await self._aget_session()).values()

    async def aitems(self) -> Any:
        return (await self._aget_session()).items()

    async def aset_test_cookie(self) -> None:
        await self.aset(self.TEST_COOKIE_NAME, self.TEST_COOKIE_VALUE)

    async def atest_cookie_worked(self) -> bool:
        return bool(await self.aget(self.TEST_COOKIE_NAME) == self.TEST_COOKIE_VALUE)

    async def adelete_test_cookie(self) -> None:
        del (await self._aget_session())[self.TEST_COOKIE_NAME]
        # Django's own twin forgets this; its sync one sets it.
        self.modified = True

    async def aset_expiry(self, value: Any) -> None:
        await self._aget_session()
        self.set_expiry(value)

"""The contract every session store fulfils.

A store keeps :class:`Record` objects under session ids. It receives the
unsigned id (never the signed cookie token) and must not keep the id itself
at rest: :meth:`Store.digest` gives the key to store under.

Subclasses implement the synchronous methods in the marked block. The async
twins run them in a thread by default; a store with a native async client
overrides them too. Stores call ``timezone.now()`` through the module
(``from django.utils import timezone``), which the contract suite patches,
and may keep times to the whole second.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, ClassVar, overload

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.signing import JSONSerializer
from django.utils import timezone
from django.utils.module_loading import import_string

__all__ = [
    "CreateError",
    "Delta",
    "Record",
    "Store",
    "StoreUnavailable",
    "UpdateError",
    "conform",
    "parse_time",
    "session_serializer",
    "user_of",
]


class StoreUnavailable(Exception):
    """The store cannot be reached (an outage, a timeout), not a bad request.

    Stores raise it for their backend's connection failures; the middleware
    answers it as ``XSESSION["ON_STORE_ERROR"]`` says.
    """


# Stands for "a fresh dict" as the default of Record's mapping fields.
_FRESH: Any = object()


@dataclass(frozen=True, init=False)
class Record:
    """One stored session.

    ``expires`` is the server-side expiry: a store never returns a record
    past it. ``cookie`` holds the cookie attributes this session overrides.
    ``created`` is kept by the store from the session's creation on: an
    update ignores the record's.
    ``raw`` is ``data`` encoded by ``SESSION_SERIALIZER``, where known: a
    store that keeps those bytes returns them (the session measures changes
    against them), and the session passes the bytes it measured for
    ``MAX_SIZE`` when saving, so a store need not encode ``data`` again.
    """

    data: dict[str, Any]
    expires: datetime.datetime
    cookie: Mapping[str, Any] = field(default_factory=dict)
    created: datetime.datetime | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    #: Opaque to the session: what the store returned it passes back on save,
    #: so a store can write without a lock when nobody wrote in between.
    #: Every ``set`` gives the session a version no write gave it before;
    #: ``touch`` need not. ``None`` where the store keeps none.
    version: int | None = field(default=None, compare=False)
    #: When a request last wrote or touched the session: ``set`` and
    #: ``touch`` both record it, and ``IDLE_TIMEOUT`` counts from it.
    last_seen: datetime.datetime | None = None
    #: What the session was last used from: ``ip`` and ``user_agent``. Empty
    #: on a save outside a request, which keeps the stored ones.
    meta: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        data: dict[str, Any],
        expires: datetime.datetime,
        cookie: Mapping[str, Any] = _FRESH,
        created: datetime.datetime | None = None,
        raw: bytes | None = None,
        version: int | None = None,
        last_seen: datetime.datetime | None = None,
        meta: Mapping[str, str] = _FRESH,
    ) -> None:
        # The generated __init__ of a frozen dataclass sets each field
        # through object.__setattr__, twice the cost of this, and every
        # read builds a record.
        self.__dict__.update(
            data=data,
            expires=expires,
            cookie={} if cookie is _FRESH else cookie,
            created=created,
            raw=raw,
            version=version,
            last_seen=last_seen,
            meta={} if meta is _FRESH else meta,
        )


@dataclass(frozen=True)
class Delta:
    """The keys one request changed and removed, to apply onto stored data."""

    changed: Mapping[str, Any]
    removed: frozenset[str]

    def apply(self, data: Mapping[str, Any]) -> dict[str, Any]:
        merged = {key: value for key, value in data.items() if key not in self.removed}
        merged.update(self.changed)
        return merged


# contrib.auth keeps the logged-in user's primary key under this key.
AUTH_USER_KEY = "_auth_user_id"


def user_of(data: Mapping[str, Any]) -> str | None:
    """The primary key of the user a session's data is logged in as."""
    user = data.get(AUTH_USER_KEY)
    return None if user is None else str(user)[:255]


suspicious = logging.getLogger("django.security.SuspiciousSession")


@overload
def conform(moment: datetime.datetime, now: datetime.datetime) -> datetime.datetime: ...
@overload
def conform(moment: None, now: datetime.datetime) -> None: ...
def conform(
    moment: datetime.datetime | None, now: datetime.datetime
) -> datetime.datetime | None:
    """``moment``, aware or naive as ``now`` (``timezone.now()``) is.

    Sessions outlive a deploy that turns ``USE_TZ`` on or off (Django 5.0
    turned it on by default); a store that keeps times outside Python hands
    them out through here, so they still compare with the clock. Naive
    times are in ``TIME_ZONE``, as ``timezone.now()`` gives them.
    """
    if moment is None or (moment.tzinfo is None) == (now.tzinfo is None):
        return moment
    zone = timezone.get_default_timezone()
    if now.tzinfo is None:
        return timezone.make_naive(moment, zone)
    return timezone.make_aware(moment, zone)


@overload
def parse_time(text: str | bytes, now: datetime.datetime) -> datetime.datetime: ...
@overload
def parse_time(text: None, now: datetime.datetime) -> None: ...
def parse_time(
    text: str | bytes | None, now: datetime.datetime
) -> datetime.datetime | None:
    """A time a store kept as ISO 8601 text, :func:`conform`-ed to ``now``.

    Raises ``ValueError`` for text that is no such time, or none that
    ``now``'s kind of time can hold.
    """
    if text is None:
        return None
    moment = datetime.datetime.fromisoformat(
        text if isinstance(text, str) else text.decode()
    )
    if (moment.tzinfo is None) == (now.tzinfo is None):
        # conform()'s own first test, spared its call: every read parses three.
        return moment
    try:
        return conform(moment, now)
    except OverflowError as error:
        # Year 1 or 9999 moved across a zone: a time written by no store.
        raise ValueError(
            f"{moment} is out of range in {timezone.get_default_timezone()}"
        ) from error


#: What ends the cache key of an entry's last touch, where a cache-backed
#: store keeps it beside the entry instead of rewriting the entry.
TOUCHED = ":touched"


def touched_times(
    expires: datetime.datetime,
    last_seen: datetime.datetime | None,
    stamp: Any,
    tag: list[Any],
    now: datetime.datetime,
) -> tuple[datetime.datetime, datetime.datetime | None]:
    """``expires`` and ``last_seen``, or the touch's in ``stamp`` if it came later.

    ``stamp`` is what the cache holds under the entry's touch key: ``[*tag,
    expiry, time]``, the expiry and time as ISO 8601 text, for the entry
    ``tag`` names (anything else is no touch of it). It may be older than
    what it is applied to (a save that kept the tag it names, a row cached
    again since), whose last-seen time then says so: the later write wins,
    as it does where the store keeps the session.
    """
    if not (
        isinstance(stamp, list)
        and len(stamp) == 4
        and stamp[:2] == tag
        and all(isinstance(time, str) for time in stamp[2:])
    ):
        return expires, last_seen
    moved, seen = (parse_time(text, now) for text in stamp[2:])
    if last_seen is not None and seen <= last_seen:
        return expires, last_seen
    return moved, seen


#: What an optional time read back from ISO text may be, for ``isinstance``.
TEXT_OR_NONE = (str, type(None))


def iso_text(moment: datetime.datetime | None) -> str | None:
    """``moment`` as ISO 8601 text, which :func:`parse_time` reads back."""
    return None if moment is None else moment.isoformat()


# What json.loads parses with once it has skipped leading whitespace (typeshed
# leaves out this attribute, which JSONDecoder.__init__ sets).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class _CompactJSON:
    """Django's ``JSONSerializer``, byte for byte, with its encoder built once.

    ``json.dumps`` with any argument builds a new ``JSONEncoder`` per call,
    and the stores encode every value of a session on each save. Decoding
    calls the scanner ``json.loads`` ends in directly: what we wrote has no
    whitespace around it, and the checks for that cost more than the parse.
    """

    _encoder = json.JSONEncoder(separators=(",", ":"))

    def dumps(self, obj: Any) -> bytes:
        return self._encoder.encode(obj).encode("latin-1")

    def loads(self, data: bytes) -> Any:
        text = data.decode("latin-1")
        try:
            value, end = _scan_json(text, 0)
        except (StopIteration, ValueError):
            end = -1
        if end == len(text):
            return value
        # Whitespace around the value, or no JSON at all: json.loads decides,
        # raising its own error.
        return json.loads(text)


_COMPACT_JSON = _CompactJSON()


@lru_cache(maxsize=4)
def serializer_class(path: str) -> Any:
    """The class ``SESSION_SERIALIZER`` names, imported once."""
    return import_string(path)


def session_serializer() -> Any:
    """A ``SESSION_SERIALIZER`` instance (Django's JSON one is stateless: shared)."""
    configured = serializer_class(settings.SESSION_SERIALIZER)
    if configured is JSONSerializer:
        return _COMPACT_JSON
    return configured()


class Store:
    """Base class of session stores; subclasses take their ``OPTIONS`` as kwargs.

    One instance per configuration serves every thread of the process (and
    the async twins run the methods in ``sync_to_async``'s threads): keep
    nothing bound to the thread that made it, such as an ``sqlite3``
    connection, or keep it per thread. The instance may be built on the
    first request, under ASGI on the event loop's thread: ``__init__`` must
    not block on I/O; connect on first use.
    """

    #: Whether the backend drops expired sessions on its own (a TTL, a cache
    #: timeout): ``manage.py clearsessions`` then has nothing to do.
    expires_by_itself: ClassVar[bool] = False

    @cached_property
    def serializer(self) -> Any:
        """The ``SESSION_SERIALIZER`` instance :meth:`encode`, :meth:`decode`
        and :meth:`decoded` use, made on first use.

        A store that encodes or decodes data itself uses it too. Setting it
        in ``__init__`` instead (as the built-in stores do, to make it once)
        is fine with ``session_serializer()``'s: ``set`` is handed bytes that
        ``SESSION_SERIALIZER`` encoded, and the session compares against them.
        """
        return session_serializer()

    @property
    def joins_callers_transaction(self) -> bool:
        """Whether the backend's writes join a database transaction the
        caller has open, and roll back with it.

        The middleware then deletes the sessions a request ended once more
        after the view. ``True`` unless a store knows better: a repeated
        delete costs a round trip, a missed one leaves a session alive
        after its logout.
        """
        return True

    def decode(self, encoded: bytes) -> dict[str, Any] | None:
        """Stored data as a dict; ``None``, logged, if it does not decode to one.

        A store hands such a session out as empty (``data={}``, ``raw=None``)
        and writes over it only when the request saves.
        """
        try:
            data = self.serializer.loads(encoded)
        except Exception:
            data = None
        if not isinstance(data, dict):
            suspicious.warning("Session data corrupted: it is treated as empty.")
            return None
        return data

    def encode(self, data: Mapping[str, Any], record: Record) -> bytes:
        """``data`` encoded: ``record.raw`` when it is ``record.data``'s own."""
        if record.raw is not None and data is record.data:
            return record.raw
        return self.serializer.dumps(data)  # type: ignore[no-any-return]

    def decoded(self, encoded: bytes) -> tuple[dict[str, Any], bytes | None]:
        """``(data, raw)`` for a :class:`Record`: ``({}, None)`` if corrupt."""
        data = self.decode(encoded)
        return ({}, None) if data is None else (data, encoded)

    @staticmethod
    # A request digests its session's id once per store call and signal, and
    # the next request of that client does again: a lookup costs a sixth.
    @lru_cache(maxsize=10_000)
    def digest(sid: str) -> str:
        """The key a session is stored under: SHA-256 of its id, in hex."""
        return hashlib.sha256(sid.encode()).hexdigest()

    # Methods a store must implement. A store that cannot list its sessions
    # (a Django cache) raises NotImplementedError from all(), length(),
    # count_expired(), clear_expired() and user_sessions() (destroy_keys()
    # may too): sessions_of() and revoke() then raise it as well.

    def get(self, sid: str) -> Record | None:
        """Return the live record of ``sid``, or ``None`` if absent or expired.

        The record's ``raw`` holds the stored bytes, where the store keeps
        the data as ``self.serializer`` encoded it.
        """
        raise NotImplementedError("subclasses of Store must provide a get() method")

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        """Write ``record`` under ``sid``.

        With ``create``, raise :class:`CreateError` if ``sid`` is live (an
        expired session's id may be reused). Otherwise the session must be
        live (raise :class:`UpdateError` if it has gone or expired) and,
        when ``delta`` is given, only the delta is applied onto the data
        stored now, atomically, so concurrent requests that changed other
        keys keep their changes; a ``record.version`` equal to the stored
        one says nobody wrote since, and ``record.data`` may be written as
        it is.

        ``expires`` and ``cookie`` always come from ``record``; ``created``
        only on create. ``last_seen`` becomes the save's time
        (``record.last_seen``, or ``timezone.now()``). An empty
        ``record.meta`` keeps the stored one.
        """
        raise NotImplementedError("subclasses of Store must provide a set() method")

    def destroy(self, sid: str) -> bool:
        """Delete ``sid``; return whether the store held it.

        Deleting an absent session is not an error. Key rotation asks: a
        session that a concurrent request ended must not live on under
        its new id. An expired session the backend still holds is deleted
        too, answering ``True`` or ``False``.
        """
        raise NotImplementedError("subclasses of Store must provide a destroy() method")

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        """Move the expiry of a live session to ``expires`` and set its
        ``last_seen`` to ``timezone.now()``, without rewriting its data.

        The middleware touches with an unchanged expiry under
        ``IDLE_TIMEOUT`` only to record the request: ``last_seen`` must
        move. Return ``False`` (and create nothing) if the session is absent
        or expired.
        """
        raise NotImplementedError("subclasses of Store must provide a touch() method")

    def all(self) -> dict[str, Record]:
        """Every live record, keyed by :meth:`digest` of its id."""
        raise NotImplementedError("subclasses of Store must provide an all() method")

    def clear(self) -> None:
        """Delete every session of this store (and nothing else)."""
        raise NotImplementedError("subclasses of Store must provide a clear() method")

    def length(self) -> int:
        """How many live sessions the store holds."""
        raise NotImplementedError("subclasses of Store must provide a length() method")

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        """Delete expired sessions and return how many were deleted.

        A store that deletes in batches deletes at most ``batch_size`` at a
        time and calls ``progress`` with the size of each batch. One that
        :attr:`expires_by_itself` may answer 0.
        """
        raise NotImplementedError(
            "subclasses of Store must provide a clear_expired() method"
        )

    def count_expired(self) -> int:
        """How many expired sessions :meth:`clear_expired` would delete."""
        raise NotImplementedError(
            "subclasses of Store must provide a count_expired() method"
        )

    def user_sessions(self, user_id: str) -> dict[str, Record]:
        """The live sessions of the user whose primary key is ``user_id``.

        Keyed by :meth:`digest`. A session belongs to the user its data names
        under ``"_auth_user_id"``, as ``django.contrib.auth.login`` writes it:
        :func:`user_of` its data equals ``user_id`` exactly.
        """
        raise NotImplementedError(
            "subclasses of Store must provide a user_sessions() method"
        )

    def destroy_keys(self, keys: Iterable[str]) -> int:
        """Delete the sessions stored under these digests; return how many."""
        raise NotImplementedError(
            "subclasses of Store must provide a destroy_keys() method"
        )

    # A default that a store able to do it in one step overrides.

    def replace(self, old_sid: str, sid: str, record: Record) -> bool:
        """Move a session from ``old_sid`` to the new ``sid``, as ``record``.

        Return ``False``, and store nothing, if ``old_sid`` was not held (a
        logout or revoke ended it meanwhile). Raise :class:`CreateError`,
        changing nothing, if ``sid`` is taken. A reader must find one of the
        two ids at every moment, so that listing a user's sessions never
        misses this one: the default stores the new id before deleting the
        old one.
        """
        self.set(sid, record, create=True)
        try:
            held = self.destroy(old_sid)
        except StoreUnavailable:
            # The old id may live on: the new one must not live beside it.
            with contextlib.suppress(StoreUnavailable):
                self.destroy(sid)
            raise
        if not held:
            self.destroy(sid)
        return held

    # Async twins.

    async def aget(self, sid: str) -> Record | None:
        return await sync_to_async(self.get)(sid)

    async def aset(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        await sync_to_async(self.set)(sid, record, create=create, delta=delta)

    async def adestroy(self, sid: str) -> bool:
        return await sync_to_async(self.destroy)(sid)

    async def atouch(self, sid: str, expires: datetime.datetime) -> bool:
        return await sync_to_async(self.touch)(sid, expires)

    async def aall(self) -> dict[str, Record]:
        return await sync_to_async(self.all)()

    async def aclear(self) -> None:
        await sync_to_async(self.clear)()

    async def alength(self) -> int:
        return await sync_to_async(self.length)()

    async def aclear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        return await sync_to_async(self.clear_expired)(
            batch_size=batch_size, progress=progress
        )

    async def acount_expired(self) -> int:
        return await sync_to_async(self.count_expired)()

    async def auser_sessions(self, user_id: str) -> dict[str, Record]:
        return await sync_to_async(self.user_sessions)(user_id)

    async def adestroy_keys(self, keys: Iterable[str]) -> int:
        return await sync_to_async(self.destroy_keys)(list(keys))

    async def areplace(self, old_sid: str, sid: str, record: Record) -> bool:
        return await sync_to_async(self.replace)(old_sid, sid, record)

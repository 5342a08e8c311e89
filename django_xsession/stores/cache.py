"""Sessions in any Django cache: memcached, the file cache, locmem, ..."""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, NamedTuple

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.utils import timezone

from django_xsession.stores._errors import is_database_outage
from django_xsession.stores.base import (
    TEXT_OR_NONE,
    TOUCHED,
    CreateError,
    Delta,
    Record,
    Store,
    StoreUnavailable,
    UpdateError,
    iso_text,
    parse_time,
    session_serializer,
    touched_times,
)

# An entry's layout, its first item: an entry of any other layout (an older
# release's, another program's under the same prefix) is a miss. A list of
# plain values, which every cache serializer (django-redis's JSON and msgpack
# ones too) gives back as it got them: the encoded data as Latin-1 text, a
# character per byte; times as ISO 8601 text, which parse_time() hands out
# in the USE_TZ form of the deploy reading them.
_FORMAT = 1


class _Entry(NamedTuple):
    raw: bytes
    expires: datetime.datetime
    cookie: Mapping[str, Any]
    created: datetime.datetime | None
    last_seen: datetime.datetime | None
    meta: Mapping[str, str]
    # The entry as a save wrote it, which a touch names: its creation and
    # expiry times as stored. A save gives each entry an expiry of its own.
    written: tuple[str | None, str] | None = None

    def value(self, generation: int) -> list[Any]:
        return [
            _FORMAT,
            generation,
            self.raw.decode("latin-1"),
            self.expires.isoformat(),
            dict(self.cookie),
            iso_text(self.created),
            iso_text(self.last_seen),
            dict(self.meta),
        ]

    @classmethod
    def of(
        cls, value: Any, touched: Any, generation: int, now: datetime.datetime
    ) -> _Entry | None:
        """The entry in a cached value, as ``touched`` last touched it."""
        if not (isinstance(value, list) and len(value) == 8 and value[0] == _FORMAT):
            return None
        _format, written_in, text, expires, cookie, created, last_seen, meta = value
        written = (created, expires)
        if not (
            written_in == generation
            and isinstance(text, str)
            and isinstance(expires, str)
            and isinstance(cookie, dict)
            and isinstance(created, TEXT_OR_NONE)
            and isinstance(last_seen, TEXT_OR_NONE)
            and isinstance(meta, dict)
        ):
            return None
        try:
            # The touch of this entry, or of one a save that kept its expiry
            # (a fixed one) wrote over.
            until, seen = touched_times(
                parse_time(expires, now),
                parse_time(last_seen, now),
                touched,
                list(written),
                now,
            )
            return cls(
                text.encode("latin-1"),
                until,
                cookie,
                parse_time(created, now),
                seen,
                meta,
                written,
            )
        except ValueError:
            # A character beyond Latin-1, or a time that is no ISO 8601 or
            # out of range.
            return None


def _fresh_generation(current: Any = None) -> int:
    # Only equality counts: an entry is live under the generation it was
    # written in. The time in nanoseconds equals no generation made before,
    # which clear() also makes sure of where a coarse clock has not moved on.
    now = time.time_ns()
    return max(now, current + 1) if isinstance(current, int) else now


# Django's own cache classes, which take no client to read with: known
# after their first read, so cached_db's reads skip the lookups. (Another
# class may give some of its instances a client and not others.)
_no_client: set[type[BaseCache]] = set()
_NO_ARGUMENTS: Mapping[str, Any] = MappingProxyType({})


def from_primary(cache: BaseCache) -> Mapping[str, Any]:
    """Keyword arguments that make ``cache`` read from its primary server."""
    # django-redis reads from a replica (a LOCATION after the first one,
    # Sentinel's replicas) unless handed the primary's client: a lagging
    # replica would serve a session as it was, and a save would merge onto
    # that and write it over the current one. Other caches take no client.
    if type(cache) in _no_client:
        return _NO_ARGUMENTS
    get_client = getattr(getattr(cache, "client", None), "get_client", None)
    if get_client is None:
        if type(cache).__module__.startswith("django.core.cache."):
            _no_client.add(type(cache))
        return _NO_ARGUMENTS
    try:
        return {"client": get_client(write=True)}
    except NotImplementedError:
        # django-redis's ShardClient: no replicas, and no client to choose.
        return _NO_ARGUMENTS


def _outage_test() -> Callable[[Exception], bool]:
    """What tells that a cache's server is down, too slow or refusing writes.

    Sockets fail with ``OSError``; redis-py (Django's Redis backend and
    django-redis, which re-raises it) with errors the Redis store tells apart;
    Django's DatabaseCache with the database errors the db store tells apart.
    """

    def unreachable(error: Exception) -> bool:
        return isinstance(error, OSError) or is_database_outage(error)

    try:
        from django_xsession.stores.redis import is_outage
    except ImportError:  # pragma: no cover - redis-py is optional
        return unreachable
    return lambda error: unreachable(error) or is_outage(error)


_is_outage = _outage_test()


class CacheStore(Store):
    """Sessions in the Django cache ``cache``, under ``prefix``.

    A Django cache has no transaction: creating is atomic (``cache.add``),
    but a save reads, merges and writes in three steps, so two requests
    saving the same session at the same instant can still lose one's keys.
    A cache cannot list its keys either: ``all``, ``length`` and
    ``clear_expired`` are not supported (the cache's timeout expires
    sessions), and ``clear`` moves the store to a new generation, leaving the
    old entries to time out. Use the ``redis`` or ``db`` store where that
    matters.
    """

    expires_by_itself = True

    def __init__(self, *, cache: str = "default", prefix: str = "xsession:c:") -> None:
        self.cache_alias = cache
        self.prefix = prefix
        self.serializer: Any = session_serializer()

    @property
    def cache(self) -> BaseCache:
        return caches[self.cache_alias]

    @property
    def joins_callers_transaction(self) -> bool:
        # Django's DatabaseCache writes through the ORM, on the view's
        # connection; every other cache is a server of its own.
        return isinstance(self.cache, DatabaseCache)

    @property
    def _generation_key(self) -> str:
        return f"{self.prefix}generation"

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn the cache's outages into :class:`StoreUnavailable`."""
        try:
            yield
        except Exception as error:
            if not _is_outage(error):
                raise
            raise StoreUnavailable(
                f"Cache {self.cache_alias!r} is unavailable: {error}"
            ) from error

    def _refused(self, operation: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"Cache {self.cache_alias!r} is unavailable: its database refused "
            f"the {operation} (Django's DatabaseCache does not say why)"
        )

    def _write(self, key: str, value: Any, timeout: int | None) -> None:
        """``cache.set()``, raising :class:`StoreUnavailable` if it was refused."""
        cache = self.cache
        # A subclass's own set() is called, refusals unseen: calling
        # _base_set() would bypass what it adds (a key it derives, a value it
        # transforms for its get() to undo).
        if not isinstance(cache, DatabaseCache) or type(cache).set is not (
            DatabaseCache.set
        ):
            cache.set(key, value, timeout)
            return
        # DatabaseCache swallows the DatabaseError of a refused write (SQLite's
        # "database is locked" under concurrent writers, a lock timeout) and
        # set() drops the False _base_set() answers for it: the session would
        # look saved. The call set() makes, with its answer kept (Django 4.2
        # to 6.1 alike).
        base_set: Callable[[str, str, Any, int | None], bool] = cache._base_set  # type: ignore[attr-defined]
        if not base_set("set", cache.make_and_validate_key(key), value, timeout):
            raise self._refused("write")

    def _key(self, sid: str) -> str:
        return f"{self.prefix}{self.digest(sid)}"

    def _timeout(self, expires: datetime.datetime) -> int:
        # A second spare: DatabaseCache cuts the expiry it stores to the
        # whole second, which would end the entry up to a second before the
        # session and the cookie's Max-Age. Reads check the entry's own.
        return max(1, math.ceil((expires - timezone.now()).total_seconds())) + 1

    def _live(self, key: str) -> tuple[_Entry | None, int]:
        """The live entry under ``key`` and the current generation, in one trip."""
        entry, generation, _ = self._fetch(key)
        return entry, generation

    def _fetch(self, key: str) -> tuple[_Entry | None, int, bool]:
        """:meth:`_live`, and whether the cache holds anything under ``key``."""
        cache = self.cache
        touch_key = key + TOUCHED
        found = cache.get_many(
            [key, self._generation_key, touch_key], **from_primary(cache)
        )
        generation: int | None = found.get(self._generation_key)
        if generation is None:
            generation = self._made_generation()
        value = found.get(key)
        if value is None:
            return None, generation, False
        now = timezone.now()
        entry = _Entry.of(value, found.get(touch_key), generation, now)
        if entry is None or entry.expires <= now:
            return None, generation, True
        return entry, generation, True

    def _made_generation(self) -> int:
        # The cache holds no generation: never set (a new cache), or evicted
        # or culled. Taken as any older one, it would bring back every entry
        # a clear() ended; a new one ends them all instead.
        cache = self.cache
        fresh = _fresh_generation()
        if cache.add(self._generation_key, fresh, None):
            return fresh
        # Another process made one first.
        made: int | None = cache.get(self._generation_key, **from_primary(cache))
        if made is None and isinstance(cache, DatabaseCache):
            # DatabaseCache answers False for a write its database refused as
            # for a taken key: a generation nobody stored would lose every
            # session saved under it at the next read.
            raise self._refused("new generation")
        return fresh if made is None else made

    def get(self, sid: str) -> Record | None:
        with self._reaching():
            entry, _ = self._live(self._key(sid))
        if entry is None:
            return None
        data, raw = self.decoded(entry.raw)
        return Record(
            data=data,
            expires=entry.expires,
            cookie=entry.cookie,
            created=entry.created,
            raw=raw,
            last_seen=entry.last_seen,
            meta=entry.meta,
        )

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        with self._reaching():
            self._set(sid, record, create=create, delta=delta)

    def _set(
        self, sid: str, record: Record, *, create: bool, delta: Delta | None
    ) -> None:
        key = self._key(sid)
        timeout = self._timeout(record.expires)
        current, generation, occupied = self._fetch(key)
        if create:
            if current is not None:
                raise CreateError
            if occupied:
                # add() refuses any key that exists, even one past our
                # expiry or of an old generation. A new id finds none: no
                # round trip for the delete.
                self.cache.delete(key)
            entry = _Entry(
                self.encode(record.data, record),
                record.expires,
                record.cookie,
                record.created,
                record.last_seen,
                record.meta,
            )
            added = self.cache.add(key, entry.value(generation), timeout)
            if added is None:
                # Django's cache API answers a bool. django-redis ignoring a
                # connection error (IGNORE_EXCEPTIONS) answers None: read as
                # a taken id, every new session would fail as a bare 500.
                raise StoreUnavailable(
                    f"Cache {self.cache_alias!r} did not answer add(); "
                    "is it ignoring connection errors?"
                )
            if not added:
                # DatabaseCache answers False for a write its database refused
                # as for a taken key: a refusal leaves the key empty, as the
                # save found it or made it.
                cache = self.cache
                if isinstance(cache, DatabaseCache) and not cache.has_key(key):
                    raise self._refused("new session")
                raise CreateError
            return
        if current is None:
            raise UpdateError
        data = record.data
        if delta is not None:
            data = delta.apply(self.decode(current.raw) or {})
        entry = _Entry(
            self.encode(data, record),
            record.expires,
            record.cookie,
            current.created,
            record.last_seen,
            # No meta: a save outside a request, which knows no client.
            record.meta or current.meta,
        )
        self._write(key, entry.value(generation), timeout)

    def destroy(self, sid: str) -> bool:
        with self._reaching():
            deleted = self.cache.delete(self._key(sid))
        # A backend that does not say (written before Django 3.1, or
        # django-redis ignoring an exception) is taken to have held it.
        return True if deleted is None else bool(deleted)

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        key = self._key(sid)
        with self._reaching():
            cache = self.cache
            entry, generation = self._live(key)
            if entry is None:
                return False
            assert entry.written is not None  # as every entry read has
            # Rewriting the entry with the new expiry would put back the data
            # it holds over a save made since it was read: the touch goes
            # beside it, for that entry only, and the entry is kept as long.
            # Never shorter than the entry has: a refresh carries the expiry
            # its request loaded, which a save since may have moved on.
            expires = max(expires, entry.expires)
            timeout = self._timeout(expires)
            try:
                extended = cache.touch(key, timeout)
            except NotImplementedError:
                # A backend without touch() (Django's own all have one): the
                # entry rewritten, as before, racing saves and all.
                now = timezone.now()
                touched = entry._replace(expires=expires, last_seen=now)
                self._write(key, touched.value(generation), timeout)
                return True
            if not extended:
                # DatabaseCache answers False for a write its database refused
                # as for a key it does not hold: one it still holds was
                # refused, and the session is not gone.
                if isinstance(cache, DatabaseCache) and cache.has_key(key):
                    raise self._refused("touch")
                return False
            stamp = [*entry.written, expires.isoformat(), timezone.now().isoformat()]
            self._write(key + TOUCHED, stamp, timeout)
        return True

    def all(self) -> dict[str, Record]:
        raise NotImplementedError("a Django cache cannot list its sessions")

    def length(self) -> int:
        raise NotImplementedError("a Django cache cannot count its sessions")

    def user_sessions(self, user_id: str) -> dict[str, Record]:
        raise NotImplementedError("a Django cache cannot list a user's sessions")

    def destroy_keys(self, keys: Iterable[str]) -> int:
        raise NotImplementedError("a Django cache cannot list a user's sessions")

    def clear(self) -> None:
        with self._reaching():
            cache = self.cache
            current = cache.get(self._generation_key, **from_primary(cache))
            self._write(self._generation_key, _fresh_generation(current), None)

    def count_expired(self) -> int:
        raise NotImplementedError("the cache's own timeout expires sessions")

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        raise NotImplementedError("the cache's own timeout expires sessions")

"""The database store with a Django cache in front of its reads."""

from __future__ import annotations

import datetime
import enum
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from django_xsession.stores.base import (
    TEXT_OR_NONE,
    TOUCHED,
    Delta,
    Record,
    UpdateError,
    iso_text,
    parse_time,
    touched_times,
)
from django_xsession.stores.cache import from_primary
from django_xsession.stores.db import _FIELDS, DatabaseStore

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
# The layout of a cached copy, its first item: a copy of any other layout
# (an older release's, another store's under the same prefix) is a miss.
# A list of plain values, which every cache serializer (django-redis's JSON
# and msgpack ones too) gives back as it got them: the encoded data as
# Latin-1 text, a character per byte; times as ISO 8601 text, which also
# costs less to read than unpickling a datetime.
_FORMAT = 4
# Rows clear() deletes, with their cached copies, at a time: well under
# every database's limit of parameters in one statement.
_CLEAR_BATCH = 500
#: Seconds a copy is served at most, unless ``copy_timeout`` says otherwise.
COPY_TIMEOUT = 300


def _is_copy(value: Any) -> bool:
    """Whether a cached value has the layout of a copy."""
    return isinstance(value, list) and len(value) == 8 and value[0] == _FORMAT


class _Failed(enum.Enum):
    FAILED = enum.auto()


# What a cache operation returns when the cache backend raised.
_FAILED = _Failed.FAILED


class CachedDatabaseStore(DatabaseStore):
    """:class:`DatabaseStore` with a copy of each session in a Django cache.

    ``cache`` names the cache (an alias of ``CACHES``), ``prefix`` starts its
    keys, which hold the hashed id only; ``using`` is as for
    :class:`DatabaseStore`. Reads try the cache, then the database, and put
    what the database returned into the cache until the session expires.
    Writes go to the database, which applies the request's delta onto the
    current row, and put the row as it now is into the cache inside the
    transaction that wrote it: a later write of the row waits for its
    lock, so the copies of racing saves land in the order of their rows,
    and a copy whose transaction fails is dropped. The cache never holds
    data the database did not (save that the caller's transaction the
    write was made in may still roll back, and that a read may be served
    a copy just before its row commits). Every cached copy keeps
    the row's version, so a save of data read from a stale copy fails the
    version check and is merged onto the row under its lock. A touch
    never rewrites a copy: it leaves the new expiry and last-seen time
    beside it, tagged with the copy's version, and reads apply them to a
    copy of that version when the touch came after the copy's last write,
    so a touch cannot put back data a save replaced.

    The cache is an accelerator, never a dependency: when it raises, the
    failure is logged to ``django_xsession.stores.cached_db`` and the
    database answers. Copies carry their expiry and leave the cache when
    it passes, so an expired copy is never served and ``clear_expired``
    needs to delete none. Code that deletes rows itself (not through
    :meth:`destroy` or :meth:`clear`) calls :meth:`forget` with their keys.

    Django's cache API has no compare-and-set: a read racing a
    :meth:`destroy` may put back a copy of the deleted row, and a save
    whose cache write fails leaves the copy from before it. The database
    is always right and a save never loses a key through such a copy, and
    ``copy_timeout`` (seconds, default 300) bounds how long any copy is
    served before the database is asked again: a revoked session cannot
    outlive it.
    """

    def __init__(
        self,
        *,
        cache: str = "default",
        using: str | None = None,
        prefix: str = "xsession:cdb:",
        copy_timeout: int = COPY_TIMEOUT,
    ) -> None:
        super().__init__(using=using)
        if cache not in settings.CACHES:
            # Not a cache failure to log on every request: a typo.
            raise ImproperlyConfigured(
                f"The cached_db session store's cache {cache!r} is not in CACHES."
            )
        self.cache = cache
        self.prefix = prefix
        self.copy_timeout = copy_timeout

    def cache_key(self, digest: str) -> str:
        """The cache key of the session stored under ``digest``."""
        return self.prefix + digest

    def touch_key(self, digest: str) -> str:
        """The cache key of the last touch of the copy under ``digest``."""
        return self.prefix + digest + TOUCHED

    # Cache access: every failure is logged and reported as _FAILED.

    def _cache(
        self,
        operation: Callable[[BaseCache], _T],
        doing: str,
        key: str,
        *,
        stale: bool = False,
    ) -> _T | Literal[_Failed.FAILED]:
        try:
            return operation(caches[self.cache])
        except Exception:
            # A failed write or delete may leave an outdated copy that is
            # served once the cache is back: worse than a slow read.
            logger.log(
                logging.ERROR if stale else logging.WARNING,
                "Session cache %r failed %s %s%s",
                self.cache,
                doing,
                key,
                "; it may serve an outdated copy until that expires"
                if stale
                else "; the database answers instead",
                exc_info=True,
            )
            return _FAILED

    def _drop(self, key: str) -> bool:
        deleted = self._cache(
            lambda cache: cache.delete(key), "deleting", key, stale=True
        )
        if deleted is None:
            # Django's cache API answers a bool; django-redis ignoring a
            # connection error (IGNORE_EXCEPTIONS) answers None.
            logger.error(
                "Session cache %r did not delete %s; it may serve an outdated "
                "copy until that expires",
                self.cache,
                key,
            )
            return False
        return deleted is not _FAILED

    def _put(self, key: str, record: Record, raw: bytes, *, only_new: bool) -> None:
        """Cache ``record`` until it expires; drop the copy if it has expired."""
        seconds = (record.expires - timezone.now()).total_seconds()
        if seconds <= 0:
            self._drop(key)
            return
        value = [
            _FORMAT,
            raw.decode("latin-1"),
            record.expires.isoformat(),
            dict(record.cookie),
            iso_text(record.created),
            record.version,
            iso_text(record.last_seen),
            dict(record.meta),
        ]
        # Timeouts in whole seconds, for memcached; the copy's own expiry,
        # checked on every read, is exact.
        timeout = min(math.ceil(seconds), self.copy_timeout)
        if only_new:
            self._cache(lambda cache: cache.add(key, value, timeout), "adding", key)
        else:
            self._cache(
                lambda cache: cache.set(key, value, timeout),
                "writing",
                key,
                stale=True,
            )

    def _copy(
        self, key: str, value: Any, touched: Any, now: datetime.datetime
    ) -> Record | None:
        """The record in a cached value, as ``touched`` last touched it, or
        ``None`` if it is not one."""
        if not _is_copy(value):
            return None
        _format, text, expires, cookie, created, version, last_seen, meta = value
        if not (
            isinstance(text, str)
            and isinstance(expires, str)
            and isinstance(cookie, dict)
            and isinstance(created, TEXT_OR_NONE)
            and isinstance(last_seen, TEXT_OR_NONE)
            and isinstance(meta, dict)
            and (version is None or isinstance(version, int))
        ):
            return None
        try:
            raw = text.encode("latin-1")
            data = self.serializer.loads(raw)
            # A touch of this very copy, or of one cached from the same row
            # before: a save since then made a new version.
            until, seen = touched_times(
                parse_time(expires, now),
                parse_time(last_seen, now),
                touched,
                [version, created],
                now,
            )
            # The cache decodes a fresh value on every get: no copying.
            record = Record(
                data=data,
                expires=until,
                cookie=cookie,
                created=parse_time(created, now),
                raw=raw,
                version=version,
                last_seen=seen,
                meta=meta,
            )
        except Exception:
            # SESSION_SERIALIZER changed, say: the database still has the row.
            logger.warning(
                "Session cache copy %s cannot be decoded", key, exc_info=True
            )
            return None
        if not isinstance(data, dict):
            logger.warning("Session cache copy %s does not hold a session's data", key)
            return None
        return record

    def _reread(self, sid: str) -> Record:
        # Inside the transaction that wrote the row, from the database
        # written to: a replica may not have the write yet.
        row = (
            self._rows(self._db_for_write())
            .filter(key=self.digest(sid))
            .values_list(*_FIELDS)
            .get()
        )
        return self._record(row)

    # The Store API.

    def get(self, sid: str) -> Record | None:
        digest = self.digest(sid)
        key = self.cache_key(digest)
        keys = (key, self.touch_key(digest))
        values = self._cache(
            lambda cache: cache.get_many(keys, **from_primary(cache)), "reading", key
        )
        if values is _FAILED:
            # Down: spare the request a second wait for it.
            return super().get(sid)
        value = values.get(key)
        if value is not None:
            now = timezone.now()
            copy = self._copy(key, value, values.get(keys[1]), now)
            if copy is not None and copy.expires > now:
                return copy
            # Expired or unreadable: out of the way of the add() below.
            if not self._drop(key):
                return super().get(sid)
        record = super().get(sid)
        if record is not None and record.raw is not None:
            # add(), not set(): a save that cached a newer row since this
            # read the database must not be overwritten with the older one.
            self._put(key, record, record.raw, only_new=True)
        return record

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        key = self.cache_key(self.digest(sid))
        put = False

        def cache_row(written: Record | None) -> None:
            # Under the row's lock: the next write of the row, which waits
            # for it, puts its own copy after this one.
            nonlocal put
            put = True
            if written is None:
                written = self._reread(sid)
            # Encoded here, not taken from the caller's raw: the copy must
            # be exactly the data the row holds.
            self._put(key, written, self.serializer.dumps(written.data), only_new=False)

        try:
            self._write(sid, record, create=create, delta=delta, while_locked=cache_row)
        except Exception as error:
            # The row has gone, or the transaction that wrote it and put its
            # copy failed: the copy must go too.
            if put or isinstance(error, UpdateError):
                self._drop(key)
            raise

    def destroy(self, sid: str) -> bool:
        # The row first: deleting the copy first would let a read in
        # between cache the row again. A touch key is left to time out: it
        # applies to a copy of this row's version only, and costs a round
        # trip to delete on every logout.
        held = super().destroy(sid)
        self._drop(self.cache_key(self.digest(sid)))
        return held

    def replace(self, old_sid: str, sid: str, record: Record) -> bool:
        held = super().replace(old_sid, sid, record)
        # The new id's copy is made by its first read.
        self._drop(self.cache_key(self.digest(old_sid)))
        return held

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        digest = self.digest(sid)
        key = self.cache_key(digest)
        if not super().touch(sid, expires):
            self._drop(key)
            return False
        # Rolling sessions touch on every request, so dropping the copy would
        # send every read to the database; rewriting it with the new expiry
        # would put back the data it holds over a save made since it was
        # read. The touch goes beside it, for its version only.
        value = self._cache(
            lambda cache: cache.get(key, **from_primary(cache)), "reading", key
        )
        if value is _FAILED or value is None:
            return True
        now = timezone.now()
        seconds = (expires - now).total_seconds()
        if not _is_copy(value) or seconds <= 0:
            # Not worth keeping: the next read caches the row afresh.
            self._drop(key)
            return True
        touched = [value[5], value[4], expires.isoformat(), now.isoformat()]
        touch_key = self.touch_key(digest)
        # Whole seconds, for memcached, as for the copy.
        timeout = min(math.ceil(seconds), self.copy_timeout)
        self._cache(
            lambda cache: cache.set(touch_key, touched, timeout),
            "writing",
            touch_key,
            stale=True,
        )
        return True

    def clear(self) -> None:
        # Batch by batch, the rows whose copies are then deleted: a session
        # created meanwhile is neither deleted nor left with an orphan copy.
        # clear() is rare (tests, maintenance); a generation number in every
        # key would make it O(1) but cost a cache round trip on every request.
        rows = self._rows(self._db_for_write())
        while True:
            keys = list(rows.order_by().values_list("key", flat=True)[:_CLEAR_BATCH])
            if not keys:
                return
            rows.filter(key__in=keys).delete()
            self.forget(keys)

    def destroy_keys(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        deleted = super().destroy_keys(keys)
        self.forget(keys)
        return deleted

    def forget(self, keys: Iterable[str]) -> None:
        """Delete the cached copies of the sessions stored under ``keys``.

        ``keys`` are the digests the rows are stored under, as
        :meth:`~django_xsession.stores.base.Store.all` returns them.
        """
        cache_keys = [
            cache_key
            for key in keys
            for cache_key in (self.cache_key(key), self.touch_key(key))
        ]
        if cache_keys:
            self._cache(
                lambda cache: cache.delete_many(cache_keys),
                "deleting",
                f"{len(cache_keys) // 2} copies",
                stale=True,
            )

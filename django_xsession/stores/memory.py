"""A bounded, thread-safe in-process store, for development and tests."""

from __future__ import annotations

import datetime
import heapq
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, overload

from django.utils import timezone

from django_xsession.stores.base import (
    CreateError,
    Delta,
    Record,
    Store,
    UpdateError,
    conform,
    session_serializer,
    user_of,
)


@overload
def _instant(moment: datetime.datetime) -> datetime.datetime: ...
@overload
def _instant(moment: None) -> None: ...
def _instant(moment: datetime.datetime | None) -> datetime.datetime | None:
    # One process's tests turn USE_TZ on and off around the sessions this
    # store shares between them: kept as aware UTC, the times compare with
    # each other and with the clock under either setting. A naive time is
    # in TIME_ZONE, as timezone.now() gives it.
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.astimezone(datetime.timezone.utc)


class _Entry:
    __slots__ = (
        "cookie",
        "created",
        "data",
        "expires",
        "last_seen",
        "meta",
        "user",
        "version",
    )

    def __init__(
        self, record: Record, data: bytes, user: str | None, version: int
    ) -> None:
        self.data = data
        self.version = version
        self.expires = _instant(record.expires)
        self.cookie = dict(record.cookie)
        self.created = _instant(record.created)
        self.last_seen = _instant(record.last_seen)
        self.meta = dict(record.meta)
        self.user = user


class MemoryStore(Store):
    """Sessions in a dict of this process, lost on restart.

    Entries are serialized, so callers always get a copy. Expired entries are
    pruned on every write, whether or not anybody reads them again, and the
    store never holds more than ``max_entries``: the least recently used
    entry goes first.
    """

    # A dict: no transaction of the caller's to roll a delete back.
    joins_callers_transaction = False

    def __init__(self, *, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.serializer: Any = session_serializer()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._expiry_heap: list[tuple[datetime.datetime, str]] = []
        self._lock = threading.Lock()
        # Every write a new one, never reused, so a version names one write.
        self._versions = itertools.count()

    def _record(self, entry: _Entry, now: datetime.datetime) -> Record:
        # Handed out aware or naive as now (timezone.now()) is, as the
        # caller compares them with its clock.
        return Record(
            data=self.serializer.loads(entry.data),
            expires=conform(entry.expires, now),
            cookie=dict(entry.cookie),
            created=conform(entry.created, now),
            raw=entry.data,
            version=entry.version,
            last_seen=conform(entry.last_seen, now),
            meta=dict(entry.meta),
        )

    def _live(self, key: str, now: datetime.datetime) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _put(self, key: str, entry: _Entry, now: datetime.datetime) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        heapq.heappush(self._expiry_heap, (entry.expires, key))
        self._prune(now)

    def _prune(self, now: datetime.datetime) -> int:
        removed = 0
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            # A touched entry left its old expiry in the heap: skip that one.
            if entry is not None and entry.expires == expires:
                del self._entries[key]
                removed += 1
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        if len(heap) > 2 * len(self._entries) + 1024:
            self._expiry_heap = [(e.expires, k) for k, e in self._entries.items()]
            heapq.heapify(self._expiry_heap)
        return removed

    def get(self, sid: str) -> Record | None:
        key = self.digest(sid)
        with self._lock:
            now = timezone.now()
            entry = self._live(key, _instant(now))
            return None if entry is None else self._record(entry, now)

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        key = self.digest(sid)
        with self._lock:
            now_utc = _instant(timezone.now())
            current = self._live(key, now_utc)
            if create and current is not None:
                raise CreateError
            if not create and current is None:
                raise UpdateError
            data = record.data
            # Unless somebody saved since this session was loaded, its data
            # already is the delta applied to what is stored.
            if (
                current is not None
                and delta is not None
                and current.version != record.version
            ):
                data = delta.apply(self.serializer.loads(current.data))
            entry = _Entry(
                record, self.encode(data, record), user_of(data), next(self._versions)
            )
            if current is not None:
                entry.created = current.created
                if not entry.meta:
                    entry.meta = current.meta
            self._put(key, entry, now_utc)

    def destroy(self, sid: str) -> bool:
        with self._lock:
            return self._entries.pop(self.digest(sid), None) is not None

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        key = self.digest(sid)
        with self._lock:
            now_utc = _instant(timezone.now())
            entry = self._live(key, now_utc)
            if entry is None:
                return False
            entry.expires = _instant(expires)
            entry.last_seen = now_utc
            heapq.heappush(self._expiry_heap, (entry.expires, key))
            self._prune(now_utc)
            return True

    def all(self) -> dict[str, Record]:
        with self._lock:
            now = timezone.now()
            self._prune(_instant(now))
            return {
                key: self._record(entry, now) for key, entry in self._entries.items()
            }

    def user_sessions(self, user_id: str) -> dict[str, Record]:
        with self._lock:
            now = timezone.now()
            self._prune(_instant(now))
            return {
                key: self._record(entry, now)
                for key, entry in self._entries.items()
                if entry.user == user_id
            }

    def destroy_keys(self, keys: Iterable[str]) -> int:
        with self._lock:
            return sum(self._entries.pop(key, None) is not None for key in keys)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._expiry_heap.clear()

    def length(self) -> int:
        with self._lock:
            self._prune(_instant(timezone.now()))
            return len(self._entries)

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        with self._lock:
            removed = self._prune(_instant(timezone.now()))
        if progress is not None and removed:
            progress(removed)
        return removed

    def count_expired(self) -> int:
        now_utc = _instant(timezone.now())
        with self._lock:
            return sum(
                1 for entry in self._entries.values() if entry.expires <= now_utc
            )

    # Nothing here blocks on I/O, so the async twins skip the thread hop.

    async def aget(self, sid: str) -> Record | None:
        return self.get(sid)

    async def aset(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        self.set(sid, record, create=create, delta=delta)

    async def adestroy(self, sid: str) -> bool:
        return self.destroy(sid)

    async def areplace(self, old_sid: str, sid: str, record: Record) -> bool:
        return self.replace(old_sid, sid, record)

    async def atouch(self, sid: str, expires: datetime.datetime) -> bool:
        return self.touch(sid, expires)

    async def aall(self) -> dict[str, Record]:
        return self.all()

    async def auser_sessions(self, user_id: str) -> dict[str, Record]:
        return self.user_sessions(user_id)

    async def adestroy_keys(self, keys: Iterable[str]) -> int:
        return self.destroy_keys(keys)

    async def aclear(self) -> None:
        self.clear()

    async def alength(self) -> int:
        return self.length()

    async def aclear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        return self.clear_expired(batch_size=batch_size, progress=progress)

    async def acount_expired(self) -> int:
        return self.count_expired()

"""Stores for tests: ours, counting what the middleware asks of them."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import ClassVar

from django_xsession.stores.base import Delta, Record, Store
from django_xsession.stores.db import DatabaseStore
from django_xsession.stores.memory import MemoryStore
from django_xsession.stores.redis import RedisStore


class CountingCalls(Store):
    """Mix in before a store: counts its reads and writes in ``calls``."""

    calls: ClassVar[Counter[str]] = Counter()

    def get(self, sid: str) -> Record | None:
        self.calls["get"] += 1
        return super().get(sid)

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        self.calls["set"] += 1
        super().set(sid, record, create=create, delta=delta)

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        self.calls["touch"] += 1
        return super().touch(sid, expires)

    def destroy(self, sid: str) -> bool:
        self.calls["destroy"] += 1
        return super().destroy(sid)


class CountingMemoryStore(CountingCalls, MemoryStore):
    pass


class CountingRedisStore(CountingCalls, RedisStore):
    pass


class CountingDatabaseStore(CountingCalls, DatabaseStore):
    pass

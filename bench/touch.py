"""TOUCH_AFTER: store writes saved on reads under ROLLING, and what a read costs."""

from __future__ import annotations

import datetime
from typing import Any

from bench.engines import XSESSION_MIDDLEWARE, Engine
from bench.runner import serving
from bench.scenarios import make_request, seed
from django_xsession.stores.base import Delta, Record
from django_xsession.stores.memory import MemoryStore

STORE = "bench.touch.CountingMemoryStore"
VALUES = (0, 1, 60)


class CountingMemoryStore(MemoryStore):
    """The memory store, counting the writes a real store would pay for."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.writes = 0

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        self.writes += 1
        super().set(sid, record, create=create, delta=delta)

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        self.writes += 1
        return super().touch(sid, expires)


def engine(touch_after: int) -> Engine:
    return Engine(
        name=f"TOUCH_AFTER={touch_after}",
        middleware=XSESSION_MIDDLEWARE,
        settings={
            "SESSION_ENGINE": "django_xsession.engine",
            "XSESSION": {
                "STORE": STORE,
                "ROLLING": True,
                "TOUCH_AFTER": touch_after,
            },
        },
        store="memory",
    )


def writes(touch_after: int, *, n: int = 1000) -> int:
    """Store writes (set + touch) over ``n`` reads of one freshly seeded session."""
    from django_xsession.stores import get_store

    with serving(engine(touch_after)) as (handler, factory, name):
        store = get_store()
        if not isinstance(store, CountingMemoryStore):
            raise TypeError(f"{STORE} was not the store in force: {store!r}")
        cookie = seed(handler, factory, name)
        # The seeding request's own write is not a read's.
        store.writes = 0
        for _ in range(n):
            handler(make_request(factory, "/read/", cookie))
        return store.writes

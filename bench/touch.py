"""TOUCH_AFTER: store writes saved on reads under ROLLING, and what a read costs."""

from __future__ import annotations

from bench.engines import XSESSION_MIDDLEWARE, Engine
from bench.runner import serving
from bench.scenarios import make_request, seed
from tests.stores import CountingMemoryStore

# The suite's memory store, counting each call the middleware makes.
STORE = "tests.stores.CountingMemoryStore"
VALUES = (0, 1, 60)


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
        CountingMemoryStore.calls.clear()
        for _ in range(n):
            handler(make_request(factory, "/read/", cookie))
        return CountingMemoryStore.calls["set"] + CountingMemoryStore.calls["touch"]

"""Timing: each engine in its own settings, each scenario best of a few repeats."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.utils.module_loading import import_string

from bench.engines import Engine
from bench.scenarios import Handler, Scenario, make_request, seed, verify, view


@dataclass(frozen=True)
class Timing:
    """Microseconds per request of each repeat of one (engine, scenario)."""

    engine: str
    scenario: str
    repeats: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.repeats)


@contextmanager
def serving(engine: Engine) -> Iterator[tuple[Handler, RequestFactory, str]]:
    """The engine's settings in force, a fresh middleware and the cookie name."""
    with override_settings(**engine.settings):
        # Django's middleware imports SESSION_ENGINE in __init__: build it here.
        handler: Handler = import_string(engine.middleware)(view)
        yield handler, RequestFactory(), settings.SESSION_COOKIE_NAME


def _request_maker(
    handler: Handler, factory: RequestFactory, name: str, scenario: Scenario
) -> Callable[[], HttpRequest]:
    cookie = seed(handler, factory, name) if scenario.with_session else None
    path = scenario.path
    return lambda: make_request(factory, path, cookie)


def _time(handler: Handler, make: Callable[[], HttpRequest], n: int) -> float:
    # Building the request is inside the loop: every engine pays it alike.
    start = time.perf_counter_ns()
    for _ in range(n):
        handler(make())
    return (time.perf_counter_ns() - start) / n / 1000


def measure(
    engines: Sequence[Engine],
    scenarios: Sequence[Scenario],
    *,
    n: int,
    repeats: int,
    warmup: int,
) -> list[Timing]:
    """Verify each engine, then time ``repeats`` runs of ``n`` requests per scenario."""
    timings = []
    for engine in engines:
        with serving(engine) as (handler, factory, name):
            verify(handler, factory, name)
            for scenario in scenarios:
                make = _request_maker(handler, factory, name, scenario)
                for _ in range(warmup):
                    handler(make())
                results = []
                for _ in range(repeats):
                    # Start each repeat with no garbage left by the previous one;
                    # the collector stays on, as in a real server.
                    gc.collect()
                    results.append(_time(handler, make, n))
                timings.append(Timing(engine.name, scenario.name, tuple(results)))
    return timings


def profile(engine: Engine, scenario: Scenario, *, n: int, top: int = 15) -> str:
    """cProfile of ``n`` requests of one scenario: the ``top`` by cumulative time."""
    with serving(engine) as (handler, factory, name):
        verify(handler, factory, name)
        make = _request_maker(handler, factory, name, scenario)
        for _ in range(n // 10):
            handler(make())
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            handler(make())
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()

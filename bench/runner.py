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


@dataclass(frozen=True)
class _Ready:
    engine: Engine
    handler: Handler
    requests: dict[str, Callable[[], HttpRequest]]


def _prepare(engine: Engine, scenarios: Sequence[Scenario], warmup: int) -> _Ready:
    with serving(engine) as (handler, factory, name):
        verify(handler, factory, name)
        requests = {
            scenario.name: _request_maker(handler, factory, name, scenario)
            for scenario in scenarios
        }
        for make in requests.values():
            for _ in range(warmup):
                handler(make())
    return _Ready(engine, handler, requests)


def measure(
    engines: Sequence[Engine],
    scenarios: Sequence[Scenario],
    *,
    n: int,
    repeats: int,
    warmup: int,
) -> list[Timing]:
    """Verify and warm up each engine, then time ``repeats`` runs of ``n`` requests.

    Repeats go round-robin over the engines, so a burst of load from another
    process slows one repeat of each engine rather than every repeat of one.
    """
    ready = [_prepare(engine, scenarios, warmup) for engine in engines]
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for scenario in scenarios:
            for item in ready:
                make = item.requests[scenario.name]
                with override_settings(**item.engine.settings):
                    # Start with no garbage left by the previous run; the
                    # collector stays on, as in a real server.
                    gc.collect()
                    timing = _time(item.handler, make, n)
                key = (item.engine.name, scenario.name)
                results.setdefault(key, []).append(timing)
    return [
        Timing(engine.name, scenario.name, tuple(results[engine.name, scenario.name]))
        for scenario in scenarios
        for engine in engines
    ]


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

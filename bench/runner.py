"""Timing: each engine in its own settings, each scenario best of a few repeats."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string

from bench.engines import Engine
from bench.scenarios import Handler, Scenario, make_request, seed, verify, view


@dataclass(frozen=True)
class Timing:
    """Microseconds per request of each repeat of one (engine, scenario).

    ``repeats`` is wall time, what a client waits; ``cpu`` the process's
    CPU time over the same requests. CPU time leaves out the waits for the
    disk and the database server, where two engines issuing the same
    commits pay alike but other processes on the machine add most noise.
    """

    engine: str
    scenario: str
    repeats: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def best(self) -> float:
        return min(self.repeats)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


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


def _time(
    handler: Handler, make: Callable[[], HttpRequest], n: int
) -> tuple[float, float]:
    """Wall and CPU µs per request."""
    # Building the request is inside the loop: every engine pays it alike.
    cpu = time.process_time_ns()
    start = time.perf_counter_ns()
    for _ in range(n):
        handler(make())
    wall = time.perf_counter_ns() - start
    cpu = time.process_time_ns() - cpu
    return wall / n / 1000, cpu / n / 1000


def floor(view: Handler, *, n: int, repeats: int) -> float:
    """Best µs per request of ``view`` in the harness with no session middleware.

    Each request is built as the read scenario's are, cookie and all, so
    the difference to a session engine's read is what the engine costs.
    """
    factory = RequestFactory()
    cookie = (settings.SESSION_COOKIE_NAME, "x" * 40)

    def make() -> HttpRequest:
        return make_request(factory, "/read/", cookie)

    for _ in range(max(n // 10, 100)):
        view(make())
    timings = []
    for _ in range(repeats):
        # As measure() does: no garbage left by what ran before.
        gc.collect()
        timings.append(_time(view, make, n)[0])
    return min(timings)


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
    n_by_scenario: Mapping[str, int] | None = None,
) -> list[Timing]:
    """Verify and warm up each engine, then time ``repeats`` runs of ``n`` requests.

    ``n_by_scenario`` gives some scenarios their own ``n``: a read costs a
    fraction of a commit, so it can run more requests in the same time.
    Repeats go round-robin over the engines, so a burst of load from another
    process slows one repeat of each engine rather than every repeat of one.
    """
    counts = n_by_scenario or {}
    ready = [_prepare(engine, scenarios, warmup) for engine in engines]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(repeats):
        for scenario in scenarios:
            for item in ready:
                make = item.requests[scenario.name]
                with override_settings(**item.engine.settings):
                    # Start with no garbage left by the previous run; the
                    # collector stays on, as in a real server.
                    gc.collect()
                    timing = _time(item.handler, make, counts.get(scenario.name, n))
                key = (item.engine.name, scenario.name)
                results.setdefault(key, []).append(timing)
    return [
        Timing(
            engine.name,
            scenario.name,
            tuple(wall for wall, _ in results[engine.name, scenario.name]),
            tuple(cpu for _, cpu in results[engine.name, scenario.name]),
        )
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


def queries(
    engine: Engine, scenario: Scenario, alias: str, *, requests: int = 100
) -> tuple[float, list[str]]:
    """SQL statements per request on ``alias``, and those of the last request.

    Counted apart from any timing: capturing queries slows every one down.
    """
    with serving(engine) as (handler, factory, name):
        verify(handler, factory, name)
        make = _request_maker(handler, factory, name, scenario)
        for _ in range(10):
            handler(make())
        with CaptureQueriesContext(connections[alias]) as captured:
            for _ in range(requests):
                handler(make())
    statements = [query["sql"] for query in captured.captured_queries]
    per_request = len(statements) / requests
    # The scenario repeats one kind of request: its last stands for all.
    last = statements[-round(per_request) :] if round(per_request) else []
    return per_request, last

"""``python -m bench``: time the session engines and print Markdown tables.

Sections: ``requests`` (per-request cost: the in-memory engines, then ours
and Django's db and cached_db engines on each database, ours and Django's
on Redis when it answers, and the store writes TOUCH_AFTER saves) and
``clearsessions`` (deleting 1,000,000 expired sessions). Without a section
both run; ``--quick`` skips clearsessions.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence

import django
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from bench import positive_int
from bench.engines import (
    DB_CACHE_ALIAS,
    DB_PAIRS,
    ENGINES,
    OURS,
    db_engines,
)
from bench.report import TARGETS
from bench.runner import Timing, floor, measure, profile, queries
from bench.scenarios import SCENARIOS

SECTIONS = ("all", "requests", "clearsessions")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("section", nargs="?", choices=SECTIONS, default="all")
    parser.add_argument(
        "-n", type=positive_int, default=3000, help="requests per repeat (memory table)"
    )
    parser.add_argument(
        "--db-n",
        type=positive_int,
        default=150,
        help="requests per repeat of the database engines writing (each "
        "one a commit, fsync and all)",
    )
    parser.add_argument(
        "--db-read-n",
        type=positive_int,
        default=600,
        help="requests per repeat of the database engines reading",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="take the best of"
    )
    parser.add_argument(
        "--quick", action="store_true", help="skip the clearsessions section"
    )
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="leave PostgreSQL out even when 127.0.0.1:5432 answers",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        action="append",
        help="batch size of our clear_expired(); repeat to try several "
        "(default: 10000)",
    )
    parser.add_argument(
        "--expired",
        type=positive_int,
        default=1_000_000,
        help="expired sessions in each clearsessions table",
    )
    parser.add_argument(
        "--live",
        type=positive_int,
        default=100_000,
        help="live sessions in each clearsessions table",
    )
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="instead of timing, cProfile ours in this scenario (top 15, "
        "cumulative); with a database store, also SQL queries per request",
    )
    parser.add_argument(
        "--store",
        choices=["memory", "db", "cached_db"],
        default="memory",
        help="which of our stores --profile runs",
    )
    parser.add_argument(
        "--database",
        default="sqlite",
        choices=["sqlite", "postgres"],
        help="the database of --profile --store db/cached_db",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--profile``, profile one scenario of ours)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.profile is not None and args.profile not in {s.name for s in SCENARIOS}:
        parser.error(f"--profile takes one of {', '.join(s.name for s in SCENARIOS)}")

    with tempfile.TemporaryDirectory(prefix="xsession-bench-") as directory:
        # Always these settings: a DJANGO_SETTINGS_MODULE left in the shell
        # (tests.settings, say) would add middleware and apps we do not measure.
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
        os.environ["XSESSION_BENCH_DIR"] = directory
        # Our own schema per run: two runs at once never share tables.
        os.environ["XSESSION_BENCH_SCHEMA"] = f"xsession_bench_{os.getpid()}"
        os.environ["XSESSION_BENCH_POSTGRES"] = "0" if args.no_postgres else "1"
        # Likewise in Redis: a key prefix per run, its keys deleted after.
        os.environ["XSESSION_BENCH_REDIS_PREFIX"] = f"xsession-bench-{os.getpid()}"
        django.setup()
        if args.profile is not None:
            return _profile(parser, args)
        _say(
            f"Python {platform.python_version()}, Django {django.get_version()}, "
            f"{os.cpu_count()} CPUs, {_load()}"
        )
        started = time.perf_counter()
        if args.section in ("all", "requests"):
            _requests(args)
            _say()
            _say(f"(requests: {time.perf_counter() - started:.0f} s)")
        if args.section == "clearsessions" or (
            args.section == "all" and not args.quick
        ):
            began = time.perf_counter()
            _clearsessions(args)
            _say()
            _say(f"(clearsessions: {time.perf_counter() - began:.0f} s)")
        _say()
        _say(f"Total {time.perf_counter() - started:.0f} s; {_load()}.")
    return 0


def _say(text: str = "") -> None:
    # Flushed: a run takes minutes, and `make bench | tee` should show progress.
    print(text, flush=True)


def _load() -> str:
    # Other processes on the machine move every number: say how busy it was.
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def _requests(args: argparse.Namespace) -> None:
    from bench.databases import available, tables
    from bench.report import render_table, render_targets

    _say()
    _say("## In-memory engines")
    _say()
    timings = measure(
        ENGINES,
        SCENARIOS,
        n=args.n,
        repeats=args.repeats,
        warmup=max(args.n // 10, 100),
    )
    _say(
        f"µs per request, best of {args.repeats} repeats of {args.n} requests; "
        "each request is built with RequestFactory inside the timed loop "
        "(the same for every engine); repeats alternate between engines."
    )
    _say()
    _say(render_table(timings, baseline=OURS.name))
    harness = floor(_answer, n=args.n, repeats=args.repeats)
    ours, theirs = (
        _best(timings, engine, "read") for engine in (OURS.name, "cache(locmem)")
    )
    _say()
    _say(
        f"The harness alone (no session middleware, the view answers at once): "
        f"{harness:.1f} µs per request. Above it a read costs ours "
        f"{ours - harness:.1f} µs, Django's cache(locmem) engine "
        f"{theirs - harness:.1f} µs."
    )

    databases = available()
    with tables(databases):
        for database in databases:
            engines = db_engines(database.alias)
            timings = measure(
                engines,
                SCENARIOS,
                n=args.db_n,
                repeats=args.repeats,
                warmup=max(args.db_n // 10, 100),
                n_by_scenario={"read": args.db_read_n},
            )
            _say()
            _say(f"## {database.label} (alias {database.alias!r})")
            _say()
            _say(
                f"µs per request, best of {args.repeats} repeats of "
                f"{args.db_read_n} (read) or {args.db_n} (write, new) requests; "
                "ours is pointed at the alias by the store's `using` option, "
                "Django's by a router in DATABASE_ROUTERS; both cached_db "
                f"engines share one LocMemCache alias; {_load()}."
            )
            _say()
            _say(render_table(timings, pairs=DB_PAIRS))
            _say()
            targets, _ = render_targets(timings, DB_PAIRS)
            _say(targets)
            _say()
            cached = _cache_floor(n=args.n, repeats=args.repeats)
            ours, theirs = (
                _best(timings, engine, "read")
                for engine in ("ours cached_db", "django cached_db")
            )
            target = TARGETS["read"] * theirs
            _say(
                "The floor of a cached_db read, the harness plus one get of a "
                f"session's data from their LocMemCache: {cached:.1f} µs. "
                f"Django's cached_db read is {_from_floor(theirs, cached)}, "
                f"ours {_from_floor(ours, cached)}; the read target "
                f"({TARGETS['read']} x Django's, {target:.1f} µs) is "
                f"{_from_floor(target, cached)}."
            )
            _say()
            _say(
                "CPU µs per request over the same runs (no waiting for the "
                "disk or the server: steadier when the machine is busy; the "
                "targets above are on wall time):"
            )
            _say()
            _say(render_table(timings, pairs=DB_PAIRS, cpu=True))

    _redis(args)
    _touch_after(args)


def _answer(request: HttpRequest) -> HttpResponse:
    return HttpResponse("0")


def _from_floor(value: float, reference: float) -> str:
    side = "above" if value >= reference else "below"
    return f"{abs(value - reference):.1f} µs {side} it"


def _best(timings: Sequence[Timing], engine: str, scenario: str) -> float:
    return next(t.best for t in timings if (t.engine, t.scenario) == (engine, scenario))


def _cache_floor(*, n: int, repeats: int) -> float:
    """The harness with no session middleware, the view reading one session's
    data from the cache both cached_db engines share."""
    cache = caches[DB_CACHE_ALIAS]
    key = "bench-floor"
    cache.set(
        key,
        {
            "_auth_user_id": "42",
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": "0" * 64,
            "theme": "dark",
            "counter": 0,
        },
    )

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(cache.get(key)["counter"]))

    try:
        return floor(view, n=n, repeats=repeats)
    finally:
        cache.delete(key)


def _redis(args: argparse.Namespace) -> None:
    from bench import redis_engines
    from bench.report import render_table, render_targets

    _say()
    _say("## Redis")
    _say()
    if not redis_engines.available():
        _say("(Redis at 127.0.0.1:6379 did not answer: no Redis table.)")
        return
    try:
        timings = measure(
            redis_engines.engines(),
            SCENARIOS,
            n=args.db_n,
            repeats=args.repeats,
            warmup=max(args.db_n // 10, 100),
            n_by_scenario={"read": args.db_read_n},
        )
        redis_floor = redis_engines.floor(n=args.db_read_n, repeats=args.repeats)
    finally:
        removed = redis_engines.cleanup()
    _say(
        f"µs per request, best of {args.repeats} repeats of {args.db_read_n} "
        f"(read) or {args.db_n} (write, new) requests; all three on one "
        "django-redis alias (db 15, a key prefix of this run's, its "
        f"{removed} keys deleted after); {_load()}."
    )
    _say()
    _say(render_table(timings, pairs=redis_engines.PAIRS))
    _say()
    targets, _ = render_targets(timings, redis_engines.PAIRS, redis_engines.TARGETS)
    _say(targets)
    _say()
    ours = _best(timings, "ours redis", "read")
    theirs = _best(timings, "django cache", "read")
    target = redis_engines.TARGETS["read"] * theirs
    _say(
        f"The floor: {redis_floor:.1f} µs per request with no session middleware "
        "and one Redis GET in the view (same harness, same connection, best "
        f"of {args.repeats}, not interleaved with the table). Our redis read "
        f"is {ours:.1f} µs, {_from_floor(ours, redis_floor)}; Django's cache "
        f"engine's read is {_from_floor(theirs, redis_floor)}; the read "
        f"target ({redis_engines.TARGETS['read']} x Django's, {target:.1f} µs) "
        f"is {_from_floor(target, redis_floor)}."
    )


def _touch_after(args: argparse.Namespace) -> None:
    from bench import touch

    read = tuple(s for s in SCENARIOS if s.name == "read")
    engines = [touch.engine(value) for value in touch.VALUES]
    n = 1000
    timings = measure(
        engines, read, n=n, repeats=args.repeats, warmup=max(n // 10, 100)
    )
    best = {t.engine: t.best for t in timings}
    _say()
    _say("## TOUCH_AFTER: writes saved")
    _say()
    _say(
        f"Our memory store counting set() and touch(), ROLLING=True, {n} reads "
        "of one freshly seeded session (a run of well under a second); "
        f"µs per request best of {args.repeats} repeats, round-robin."
    )
    _say()
    _say("| TOUCH_AFTER | store writes per 1,000 reads | µs per request |")
    _say("| --: | --: | --: |")
    for value, engine in zip(touch.VALUES, engines, strict=True):
        count = touch.writes(value, n=n) * 1000 / n
        _say(f"| {value} | {count:g} | {best[engine.name]:.1f} |")


def _clearsessions(args: argparse.Namespace) -> None:
    from bench.clearsessions import DEFAULT_BATCH_SIZES, run

    _say()
    _say("## clearsessions")
    _say()
    _say(
        run(
            tuple(args.batch_size or DEFAULT_BATCH_SIZES),
            expired=args.expired,
            live=args.live,
        )
    )


def _profile(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from bench.databases import available, tables

    scenario = next(s for s in SCENARIOS if s.name == args.profile)
    if args.store == "memory":
        print(profile(OURS, scenario, n=args.n))
        return 0
    from bench import settings as bench_settings

    alias = (
        bench_settings.SQLITE_ALIAS
        if args.database == "sqlite"
        else bench_settings.POSTGRES_ALIAS
    )
    chosen = [database for database in available() if database.alias == alias]
    if not chosen:
        parser.error(f"{args.database} is not reachable")
    database = chosen[0]
    engine = next(e for e in db_engines(database.alias) if e.store == args.store)
    theirs = next(
        e for e in db_engines(database.alias) if e.name == _THEIRS[engine.name]
    )
    with tables((database,)):
        for measured in (engine, theirs):
            count, last = queries(measured, scenario, database.alias)
            _say(f"{measured.name}: {count:g} SQL queries per {scenario.name} request")
            for sql in last:
                _say(f"    {sql}")
        _say()
        n = args.db_read_n if scenario.name == "read" else args.db_n
        _say(profile(engine, scenario, n=n))
    return 0


# Whose engine --profile counts queries of beside ours.
_THEIRS = dict(DB_PAIRS)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.loadtest``: no lost updates under load, over real HTTP.

For each configuration (the db store on SQLite and on PostgreSQL, the redis
store) and each server (gunicorn's threaded workers, uvicorn's event loop),
the demo project is started on a free port of 127.0.0.1 with
``bench.loadtest_settings``. A few sessions are made, then many clients run
at once, several on each session: each adds one to its own key of its
session, ``--increments`` times, over a keep-alive connection. Every request
loads the session, changes one key and saves it, so concurrent requests of
one session race; the store must keep every client's key. Afterwards each
session is read back: an increment that was answered 200 but is missing
from its key is a lost update.

A Markdown table gives, per configuration: requests answered, seconds,
requests/s, p50 and p99 latency, errors (a non-200 answer or a broken
connection, never retried), stale answers (a value other than one more than
the client's previous answer: a request that missed the client's own last
increment) and lost updates. The exit status is 1 if any of the last
three is not 0, 2 if a configuration could not be run at all.

The defaults (32 clients, 50 increments, 4 sessions) take about 2.5 minutes
on a 2-core machine: the db store commits once per request, and SQLite's
rollback-journal commit alone costs ~18 ms of fsyncs there.

PostgreSQL gets a database of its own, ``xsession_loadtest``, made and
dropped around each run; Redis gets database 14 and a key prefix of its own,
whose keys are deleted after. An unreachable service is skipped with a
message. ``--only`` picks configurations: ``db-sqlite``, ``db-postgres``,
``redis``, or one server of one, such as ``redis/uvicorn``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench import positive_int, servers
from bench.servers import HOST, Kind, Server, ServerFailed, migrate

if TYPE_CHECKING:
    import psycopg
    import redis

SETTINGS = "bench.loadtest_settings"
SESSION_COOKIE = "sessionid"
POSTGRES = ("127.0.0.1", 5432)
POSTGRES_NAME = "xsession_loadtest"
# Where PostgreSQL is asked to create and drop the run's database.
POSTGRES_MAINTENANCE_DB = "test"
REDIS = ("127.0.0.1", 6379)
REDIS_DB = 14

START_SECONDS = 60
REQUEST_SECONDS = 30
# The clients of one run stop after this long, whatever the server does.
MAX_SECONDS = 600
WARMUP_REQUESTS = 40
ERROR_SAMPLES = 5

SERVERS: tuple[Kind, ...] = ("gunicorn", "uvicorn")
# Per worker: 2 processes on a 2-core machine, threads to overlap the waits.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8
UVICORN_WORKERS = 2
# Persistent database connections under gunicorn only: see loadtest_settings.
CONN_MAX_AGE: dict[Kind, int] = {"gunicorn": 60, "uvicorn": 0}


class Unavailable(Exception):
    """A service a configuration needs does not answer: skip it."""


class RunFailed(Exception):
    """The demo could not be set up or started; the message says why."""


@dataclass(frozen=True)
class Setup:
    """One configuration of the demo: a store and the database behind it."""

    name: str
    store: Literal["db", "redis"]
    database: Literal["sqlite", "postgres"]
    label: str


SQLITE = Setup("db-sqlite", "db", "sqlite", "db on SQLite (file)")
POSTGRESQL = Setup("db-postgres", "db", "postgres", "db on PostgreSQL")
# The demo's other tables stay on SQLite, which the increments never touch.
REDIS_STORE = Setup("redis", "redis", "sqlite", "redis (django-redis, db 14)")
SETUPS = (SQLITE, POSTGRESQL, REDIS_STORE)


@dataclass
class Result:
    """What one configuration under one server did."""

    setup: Setup
    kind: Kind
    clients: int
    sessions: int
    increments: int
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    errors: int = 0
    stale: int = 0
    lost: int = 0
    error_samples: list[str] = field(default_factory=list)
    log_tail: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """The latency, in ms, that ``fraction`` of requests did not exceed."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        # Nearest rank: p99 of 100 requests is the 99th, not an interpolation.
        rank = max(1, math.ceil(fraction * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.stale == 0 and self.lost == 0

    def describe(self) -> str:
        """A failed run explained: counts, sample errors, the server's log."""
        lines = [
            f"{self.setup.name}/{self.kind}: {self.requests} requests, "
            f"{self.errors} errors, {self.stale} stale, {self.lost} lost",
            *(f"  {sample}" for sample in self.error_samples),
        ]
        if self.log_tail:
            lines += ["server log (tail):", self.log_tail]
        return "\n".join(lines)


# The server.


def environment(setup: Setup, kind: Kind, database: Path) -> dict[str, str]:
    """The environment of ``setup`` served by ``kind``; SQLite in ``database``."""
    env = servers.environment(SETTINGS, database)
    env["XSESSION_LOADTEST_STORE"] = setup.store
    env["XSESSION_LOADTEST_DATABASE"] = setup.database
    env["XSESSION_LOADTEST_CONN_MAX_AGE"] = str(CONN_MAX_AGE[kind])
    return env


@contextmanager
def serve(kind: Kind, env: dict[str, str], folder: Path) -> Iterator[Server]:
    """Run the demo under ``kind`` until the block ends, then end its processes."""
    with servers.running(
        kind,
        env,
        folder,
        start_seconds=START_SECONDS,
        workers=GUNICORN_WORKERS if kind == "gunicorn" else UVICORN_WORKERS,
        threads=GUNICORN_THREADS,
        # Writing thousands of lines would be measured too.
        access_log=False,
    ) as server:
        yield server


# The services behind each configuration.


def _postgres_admin() -> psycopg.Connection[Any]:
    """An autocommit connection for CREATE and DROP DATABASE."""
    # Imported here: the other configurations run without psycopg installed.
    import psycopg

    try:
        return psycopg.connect(
            host=POSTGRES[0],
            port=POSTGRES[1],
            user="postgres",
            dbname=POSTGRES_MAINTENANCE_DB,
            connect_timeout=3,
            autocommit=True,
        )
    except psycopg.OperationalError as error:
        raise Unavailable(
            f"PostgreSQL on {POSTGRES[0]}:{POSTGRES[1]} is not reachable: "
            f"{' '.join(str(error).split())}"
        ) from error


def _drop_postgres(name: str) -> None:
    with _postgres_admin() as admin:
        # FORCE: a server killed mid-run may have left connections behind.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(name: str) -> Iterator[None]:
    """A new, empty database ``name``, dropped when the block ends."""
    with _postgres_admin() as admin:
        # A run killed before its cleanup left it behind.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        _drop_postgres(name)


def _redis_client() -> redis.Redis:
    # Imported here: the database configurations run without redis installed.
    import redis

    client = redis.Redis(
        host=REDIS[0],
        port=REDIS[1],
        db=REDIS_DB,
        socket_connect_timeout=2,
        socket_timeout=5,
    )
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise Unavailable(
            f"Redis on {REDIS[0]}:{REDIS[1]} is not reachable: {error}"
        ) from error
    return client


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under ``prefix`` (and nothing else) from database 14."""
    deleted = 0
    batch: list[bytes] = []
    # SCAN's MATCH is a glob: the prefix is letters, digits, "-" and ":" only.
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            deleted += int(client.unlink(*batch))
            batch = []
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix no other run uses; its keys are deleted when the block ends."""
    client = _redis_client()
    prefix = f"xsession-loadtest:{os.getpid()}-{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        try:
            delete_prefix(client, prefix)
        finally:
            client.close()


def sqlite_template(folder: Path) -> Path:
    """The demo's SQLite database, migrated, for :func:`run` to copy.

    Migrating takes seconds (the demo user's password is hashed); a copy of
    the file, none, and each run still starts on a database of its own.
    """
    database = folder / "template.sqlite3"
    migrate(folder, environment(SQLITE, "gunicorn", database))
    return database


@contextmanager
def prepared(
    setup: Setup, kind: Kind, folder: Path, template: Path | None
) -> Iterator[dict[str, str]]:
    """The environment of ``setup`` served by ``kind``, on fresh, empty storage.

    A SQLite database is a copy of ``template`` if there is one.
    """
    database = folder / "db.sqlite3"
    env = environment(setup, kind, database)
    if setup.store == "redis":
        with redis_prefix() as prefix:
            env["XSESSION_LOADTEST_REDIS_PREFIX"] = prefix
            # Nothing of the increments touches the database: it stays empty
            # (a request that did touch it fails, and is counted).
            yield env
    elif setup.database == "postgres":
        env["XSESSION_LOADTEST_POSTGRES_NAME"] = POSTGRES_NAME
        with postgres_database(POSTGRES_NAME):
            migrate(folder, env)
            yield env
    elif template is not None:
        shutil.copyfile(template, database)
        yield env
    else:
        migrate(folder, env)
        yield env


# The clients.


@dataclass
class ClientOutcome:
    """One client's requests: latencies of the answered ones, and what went wrong."""

    key: str
    token: str
    #: 200 answers: increments the server said it made.
    done: int = 0
    #: The value the last 200 answer gave.
    last: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    stale: int = 0
    samples: list[str] = field(default_factory=list)

    def failed(self, message: str) -> None:
        self.errors += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(f"{self.key}: {message}")


def _session_cookie(response: http.client.HTTPResponse) -> str | None:
    """The value of the session ``Set-Cookie``, if the response has one."""
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == SESSION_COOKIE:
            return rest.split(";", 1)[0]
    return None


def _fetch(
    connection: http.client.HTTPConnection, path: str, token: str | None = None
) -> tuple[int, bytes, str | None]:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return response.status, body, _session_cookie(response)


def _fetch_once(
    port: int, path: str, token: str | None = None
) -> tuple[int, bytes, str | None]:
    """One request outside the measured run, on a connection of its own."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_SECONDS)
    try:
        return _fetch(connection, path, token)
    except (OSError, http.client.HTTPException) as error:
        raise RunFailed(f"GET {path} failed: {error!r}") from error
    finally:
        connection.close()


def start_session(port: int) -> str:
    """A new session's signed token."""
    status, body, token = _fetch_once(port, "/start/")
    if status != 200 or not token:
        raise RunFailed(f"/start/ answered {status} with cookie {token!r}: {body!r}")
    return token


def read_session(port: int, token: str) -> dict[str, Any]:
    status, body, cookie = _fetch_once(port, "/state/", token)
    if status != 200:
        raise RunFailed(f"/state/ answered {status}: {body[:300]!r}")
    if cookie is not None and cookie != token:
        raise RunFailed(f"/state/ gave the session a new id: {cookie!r}")
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("loadtest") is not True:
        raise RunFailed(f"the session was lost: /state/ answered {body[:300]!r}")
    return data


def warm_up(port: int) -> None:
    """Let the workers import the URLconf and views before the clock starts."""
    for _ in range(WARMUP_REQUESTS):
        # No cookie: each request loads nothing and stores nothing. A new
        # connection each time, so the server can hand them to every worker.
        _fetch_once(port, "/state/")


def run_client(
    port: int,
    path: str,
    outcome: ClientOutcome,
    increments: int,
    barrier: threading.Barrier,
    deadline: float,
) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_SECONDS)
    try:
        try:
            connection.connect()
        except OSError as error:
            outcome.failed(f"connect: {error!r}")
        # Every client starts at once, however long the others took to connect.
        barrier.wait()
        target = f"{path}?key={outcome.key}"
        for _ in range(increments):
            if time.monotonic() > deadline:
                outcome.failed("out of time: the run's max_seconds passed")
                return
            began = time.perf_counter()
            try:
                status, body, cookie = _fetch(connection, target, outcome.token)
            except (OSError, http.client.HTTPException) as error:
                # A request that broke is not retried: it may have been applied.
                outcome.failed(repr(error))
                connection.close()
                continue
            outcome.latencies.append(time.perf_counter() - began)
            if status != 200:
                outcome.failed(f"{status}: {body[:200]!r}")
                continue
            if cookie is not None and cookie != outcome.token:
                outcome.failed(f"the session got a new id: {cookie!r}")
                continue
            outcome.done += 1
            # Only this client changes its key, one request at a time: each
            # answer must be one more than its last, else the request did not
            # see the client's previous increment.
            if body != str(outcome.last + 1).encode():
                outcome.stale += 1
                if len(outcome.samples) < ERROR_SAMPLES:
                    outcome.samples.append(
                        f"{outcome.key}: answered {body!r} after {outcome.last!r}"
                    )
            with suppress(ValueError):
                outcome.last = int(body)
    except threading.BrokenBarrierError:
        outcome.failed("the start barrier broke")
    except Exception as error:
        # A client that crashed is counted, not lost with its thread.
        outcome.failed(f"client crashed: {error!r}")
    finally:
        connection.close()


def hammer(server: Server, result: Result, max_seconds: float) -> None:
    """Run the clients against ``server`` and fill ``result`` in."""
    port = server.port
    warm_up(port)
    tokens = [start_session(port) for _ in range(result.sessions)]
    outcomes = [
        ClientOutcome(f"client{n}", tokens[n % len(tokens)])
        for n in range(result.clients)
    ]
    # Under uvicorn the async view keeps the whole request on the event loop.
    path = "/aincrement/" if server.kind == "uvicorn" else "/increment/"
    barrier = threading.Barrier(result.clients + 1, timeout=REQUEST_SECONDS)
    deadline = time.monotonic() + max_seconds
    threads = [
        threading.Thread(
            target=run_client,
            args=(port, path, outcome, result.increments, barrier, deadline),
            name=f"loadtest-{outcome.key}",
            daemon=True,
        )
        for outcome in outcomes
    ]
    for thread in threads:
        thread.start()
    # A broken barrier is a client's failure, counted in its outcome.
    with suppress(threading.BrokenBarrierError):
        barrier.wait()
    began = time.perf_counter()
    # The clients check the deadline between requests; one request can take
    # REQUEST_SECONDS more.
    joined_by = deadline + REQUEST_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, joined_by - time.monotonic()))
    result.seconds = time.perf_counter() - began
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        raise RunFailed(f"clients still running past the deadline: {stuck}")

    finals = {token: read_session(port, token) for token in tokens}
    for outcome in outcomes:
        result.requests += len(outcome.latencies)
        result.latencies += outcome.latencies
        result.errors += outcome.errors
        result.stale += outcome.stale
        result.error_samples += outcome.samples[
            : ERROR_SAMPLES - len(result.error_samples)
        ]
        final = finals[outcome.token].get(outcome.key, 0)
        if not isinstance(final, int):
            raise RunFailed(f"{outcome.key} holds {final!r}, not a count")
        # Against the 200 answers, not --increments: a request that failed
        # may have saved nothing, rightly.
        result.lost += max(0, outcome.done - final)


def run(
    setup: Setup,
    kind: Kind,
    *,
    clients: int,
    increments: int,
    sessions: int,
    max_seconds: float = MAX_SECONDS,
    template: Path | None = None,
) -> Result:
    """Start the demo in ``setup`` under ``kind``, load it, stop it: the result.

    The clients stop after ``max_seconds``; each request left counts as an
    error. ``template`` is a :func:`sqlite_template` to copy. Raises
    :class:`Unavailable` if a service is down, and :class:`RunFailed` or
    :class:`~bench.servers.ServerFailed` if the demo could not be made to run.
    """
    result = Result(setup, kind, clients, min(sessions, clients), increments)
    with (
        tempfile.TemporaryDirectory(prefix=f"xsession-loadtest-{kind}-") as name,
        prepared(setup, kind, Path(name), template) as env,
        serve(kind, env, Path(name)) as server,
    ):
        hammer(server, result, max_seconds)
        if not result.ok:
            result.log_tail = server.log_tail()
    return result


# The report.


def table(results: Sequence[Result]) -> str:
    header = (
        "| configuration | server | requests | seconds | requests/s "
        "| p50 ms | p99 ms | errors | stale | lost updates |"
    )
    lines = [header, "|---|---|" + "---:|" * 8]
    for result in results:
        lines.append(
            f"| {result.setup.label} | {server_label(result.kind)} "
            f"| {result.requests:,} | {result.seconds:.1f} "
            f"| {result.per_second:,.0f} | {result.percentile(0.50):.1f} "
            f"| {result.percentile(0.99):.1f} | {result.errors} "
            f"| {result.stale} | {result.lost} |"
        )
    return "\n".join(lines)


def server_label(kind: Kind) -> str:
    if kind == "gunicorn":
        return f"gunicorn ({GUNICORN_WORKERS}x{GUNICORN_THREADS} threads)"
    return f"uvicorn ({UVICORN_WORKERS} workers, async view)"


def _selection(text: str) -> tuple[Setup, Kind | None]:
    name, _, server = text.partition("/")
    setups = {setup.name: setup for setup in SETUPS}
    kinds: dict[str, Kind | None] = {"": None, **{kind: kind for kind in SERVERS}}
    if name not in setups or server not in kinds:
        choices = ", ".join(setups)
        raise argparse.ArgumentTypeError(
            f"{text!r}: use one of {choices}, optionally with /gunicorn or /uvicorn"
        )
    return setups[name], kinds[server]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--clients", type=positive_int, default=32, help="concurrent clients"
    )
    parser.add_argument(
        "--increments", type=positive_int, default=50, help="requests per client"
    )
    parser.add_argument(
        "--sessions",
        type=positive_int,
        default=4,
        help="sessions the clients share, round robin",
    )
    parser.add_argument(
        "--max-seconds",
        type=positive_int,
        default=MAX_SECONDS,
        help="stop a configuration's clients after this long",
    )
    parser.add_argument(
        "--only",
        type=_selection,
        action="append",
        metavar="CONFIG[/SERVER]",
        help="run only this configuration (db-sqlite, db-postgres, redis), "
        "optionally under one server; repeat for several",
    )
    return parser


def plan(
    only: Sequence[tuple[Setup, Kind | None]] | None,
) -> list[tuple[Setup, Kind]]:
    """The (configuration, server) pairs to run, in the table's order."""
    if not only:
        return [(setup, kind) for setup in SETUPS for kind in SERVERS]
    wanted = {
        (setup, kind)
        for setup, pick in only
        for kind in SERVERS
        if pick in (None, kind)
    }
    return [
        (setup, kind) for setup in SETUPS for kind in SERVERS if (setup, kind) in wanted
    ]


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_all(args: argparse.Namespace) -> Report:
    report = Report()
    unavailable: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="xsession-loadtest-") as name:
        template: Path | None = None
        for setup, kind in plan(args.only):
            title = f"{setup.name}/{kind}"
            if setup.name in unavailable:
                continue
            print(f"running {title} ...", file=sys.stderr, flush=True)
            try:
                if template is None and setup == SQLITE:
                    template = sqlite_template(Path(name))
                result = run(
                    setup,
                    kind,
                    clients=args.clients,
                    increments=args.increments,
                    sessions=args.sessions,
                    max_seconds=args.max_seconds,
                    template=template,
                )
            except Unavailable as error:
                unavailable.add(setup.name)
                report.skipped.append(f"{setup.name}: SKIPPED, {error}")
                print(report.skipped[-1], file=sys.stderr)
                continue
            except (RunFailed, ServerFailed) as error:
                report.failed.append(f"{title}: FAILED TO RUN: {error}")
                print(report.failed[-1], file=sys.stderr)
                continue
            report.results.append(result)
            print(
                f"  {result.requests} requests in {result.seconds:.1f}s, "
                f"{result.errors} errors, {result.stale} stale, "
                f"{result.lost} lost",
                file=sys.stderr,
            )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(
        f"{args.clients} clients x {args.increments} increments on "
        f"{min(args.sessions, args.clients)} shared sessions, per configuration",
        file=sys.stderr,
    )
    report = run_all(args)
    print(table(report.results))
    for line in report.skipped:
        print(f"\n{line}")
    bad = [result for result in report.results if not result.ok]
    for result in bad:
        print(f"\nFAILED {result.describe()}")
    for line in report.failed:
        print(f"\n{line}")
    if report.failed:
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

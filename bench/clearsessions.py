"""``python -m bench clearsessions``: deleting expired sessions from a big table.

A SQLite file gets 1,000,000 expired and 100,000 live sessions in our table,
another file the same in Django's; each deletion then runs in a fresh
subprocess (``python -m bench.clearsessions clear ...``) so its wall time
and peak memory are its own.

Peak memory is the rise of the resident set's high-water mark above the
resident set just before the call, in that subprocess: it counts SQLite's
own allocations, which ``tracemalloc`` would miss, and costs no time. The
mark is Linux's ``VmHWM``, reset before the call through
``/proc/self/clear_refs``, not ``ru_maxrss``: Linux carries ``ru_maxrss``
over fork and exec, so every worker started its life "peaking" at the
bench's own (bigger) size and no call ever rose above it. Where ``/proc``
is missing the worker falls back on ``ru_maxrss`` and says so.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXPIRED = 1_000_000
LIVE = 100_000
DEFAULT_BATCH_SIZES = (10_000,)
# What a logged-in user's session holds (as bench.scenarios seeds it).
PAYLOAD = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": "0" * 64,
    "theme": "dark",
    "counter": 0,
}


@dataclass(frozen=True)
class Side:
    """Whose table: the rows to insert and how to count them afterwards."""

    name: str
    model: str
    table: str
    key: str
    expires: str
    columns: tuple[str, ...]


OURS = Side(
    "ours",
    model="django_xsession.Session",
    table="django_xsession_session",
    key="key",
    expires="expires",
    columns=(
        "key",
        "data",
        "expires",
        "created",
        "last_seen",
        "user_id",
        "cookie",
        "version",
    ),
)
DJANGO = Side(
    "django",
    model="sessions.Session",
    table="django_session",
    key="session_key",
    expires="expire_date",
    columns=("session_key", "session_data", "expire_date"),
)
SIDES = {side.name: side for side in (OURS, DJANGO)}


@dataclass(frozen=True)
class Result:
    """One deletion: what it removed, how long it took, how much memory it added."""

    label: str
    deleted: int
    seconds: float
    peak_mb: float
    written_mb: float


# The parent: prepare both files, run each deletion, check and tabulate.


def run(
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    *,
    expired: int = EXPIRED,
    live: int = LIVE,
) -> str:
    """Prepare the tables, time every deletion, return the Markdown report."""
    with tempfile.TemporaryDirectory(prefix="xsession-clear-") as directory:
        pristine = {name: Path(directory, f"{name}.sqlite3") for name in SIDES}
        started = time.perf_counter()
        # Both files at once: one process each, and this machine has two cores.
        preparing = [
            _spawn("prepare", path, side=name, expired=expired, live=live)
            for name, path in pristine.items()
        ]
        cutoffs = {
            name: str(_finish(process)["cutoff"])
            for name, process in zip(pristine, preparing, strict=True)
        }
        prepared = time.perf_counter() - started

        results = [
            _clear(DJANGO, pristine, cutoffs, expired, live, batch_size=None),
            *(
                _clear(OURS, pristine, cutoffs, expired, live, batch_size=size)
                for size in batch_sizes
            ),
        ]
    return _render(results, expired=expired, live=live, prepared=prepared)


def _clear(
    side: Side,
    pristine: dict[str, Path],
    cutoffs: dict[str, str],
    expired: int,
    live: int,
    *,
    batch_size: int | None,
) -> Result:
    # A fresh copy each run: every deletion starts from the same table.
    path = pristine[side.name].with_suffix(".run.sqlite3")
    shutil.copyfile(pristine[side.name], path)
    try:
        before = _count(path, side, cutoffs[side.name])
        if before != (expired, live):
            raise AssertionError(f"{side.name}: expected {expired}+{live}, {before}")
        answer = _finish(_spawn("clear", path, side=side.name, batch_size=batch_size))
        left_expired, left_live = _count(path, side, cutoffs[side.name])
    finally:
        path.unlink(missing_ok=True)
    # Django's clear_expired() returns nothing: count what went.
    deleted = expired + live - left_expired - left_live
    if left_live != live or left_expired:
        raise AssertionError(
            f"{side.name}: {left_live} of {live} live sessions and "
            f"{left_expired} expired ones left"
        )
    returned = answer["returned"]
    if returned is not None and returned != deleted:
        raise AssertionError(f"{side.name}: reported {returned}, deleted {deleted}")
    label = "django" if batch_size is None else f"ours (batch {batch_size:,})"
    if answer["method"] != "VmHWM":
        label += " [ru_maxrss]"
    peak = (int(answer["peak_kb"]) - int(answer["baseline_kb"])) / 1024
    written = int(answer["written"]) / 2**20
    return Result(label, deleted, float(answer["seconds"]), peak, written)


def _count(path: Path, side: Side, cutoff: str) -> tuple[int, int]:
    """(expired, live) rows: every expired one ends before ``cutoff``."""
    # closing(): a sqlite3 connection's own context manager only commits.
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            f"SELECT COUNT(*), COALESCE(SUM({side.expires} < ?), 0) FROM {side.table}",
            [cutoff],
        ).fetchone()
    total, old = int(row[0]), int(row[1])
    return old, total - old


def _spawn(
    action: str, path: Path, *, side: str, **arguments: int | None
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.clearsessions", action, str(path), side]
    for name, value in arguments.items():
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "XSESSION_BENCH_SQLITE": str(path),
        # The worker needs its SQLite file only.
        "XSESSION_BENCH_POSTGRES": "0",
    }
    return subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{process.args!r} failed with {process.returncode}")
    answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return answer


def _render(
    results: Sequence[Result], *, expired: int, live: int, prepared: float
) -> str:
    django = results[0]
    lines = [
        f"clearsessions on SQLite (file): {expired:,} expired + {live:,} live "
        f"sessions per table (built in {prepared:.0f} s); each deletion in a "
        "fresh subprocess; peak memory is the rise of the subprocess's "
        "resident set (VmHWM) during the call; MB written is what it handed "
        "to write(), rollback journal included; afterwards every live "
        "session was there and no expired one.",
        "",
        "| run | rows deleted | seconds | peak memory MB | MB written "
        "| time / django | memory / django |",
        "| :-- | --: | --: | --: | --: | --: | --: |",
    ]
    for result in results:
        lines.append(
            f"| {result.label} | {result.deleted:,} | {result.seconds:.2f} "
            f"| {result.peak_mb:.1f} | {result.written_mb:,.0f} "
            f"| {_ratio(result.seconds, django.seconds)} "
            f"| {_ratio(result.peak_mb, django.peak_mb)} |"
        )
    return "\n".join(lines)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs > 0 else "n/a"


# The worker: one action in a process of its own.


def _setup() -> None:
    import django

    django.setup()


def _rows(
    side: Side, expired: int, live: int, now: datetime.datetime
) -> Iterator[tuple[Any, ...]]:
    """Rows in the order a site creates them: old (now expired) ones first."""
    from django.contrib.sessions.backends.base import SessionBase
    from django.core.signing import JSONSerializer

    data = JSONSerializer().dumps(PAYLOAD).decode("latin-1")
    encoded = SessionBase().encode(PAYLOAD)
    # Naive UTC text, as Django's SQLite backend writes a datetime.
    base = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    month = datetime.timedelta(days=30).total_seconds()
    fortnight = datetime.timedelta(days=14).total_seconds()
    for i in range(expired + live):
        if i < expired:
            expires = base - datetime.timedelta(seconds=month * (1 - i / expired) + 1)
        else:
            offset = 86_400 + fortnight * (i - expired) / live
            expires = base + datetime.timedelta(seconds=offset)
        digest = hashlib.sha256(f"{side.name}-{i}".encode()).hexdigest()
        if side is OURS:
            created = str(expires - datetime.timedelta(days=14))
            user = str(i % 50_000) if i % 3 else None
            yield (digest, data, str(expires), created, created, user, "{}", 0)
        else:
            yield (digest[:32], encoded, str(expires))


def prepare(path: Path, side: Side, *, expired: int, live: int) -> dict[str, Any]:
    """Make both apps' tables in ``path`` and fill ``side``'s; return the cutoff."""
    from django.apps import apps
    from django.db import connection

    from bench.databases import create_tables

    create_tables(connection.alias)
    model = apps.get_model(side.model)
    if model._meta.db_table != side.table:
        raise AssertionError(f"{side.model} is in {model._meta.db_table}")
    # Columns added to the model since (with a default) get that default.
    extra = [
        field
        for field in model._meta.concrete_fields
        if field.column not in side.columns
    ]
    defaults = tuple(
        field.get_db_prep_save(field.get_default(), connection) for field in extra
    )
    columns = [*side.columns, *(field.column for field in extra)]
    now = datetime.datetime.now(datetime.timezone.utc)
    cutoff = connection.ops.adapt_datetimefield_value(now)
    connection.close()
    sql = (
        f"INSERT INTO {side.table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    raw = sqlite3.connect(path)
    try:
        # The pristine file is copied before every run, so building it needs
        # no durability; a big page cache spares re-reading the random-keyed
        # index on every insert (minutes otherwise).
        raw.execute("PRAGMA journal_mode = OFF")
        raw.execute("PRAGMA synchronous = OFF")
        raw.execute("PRAGMA cache_size = -1000000")
        with raw:
            raw.executemany(
                sql, (row + defaults for row in _rows(side, expired, live, now))
            )
    finally:
        raw.close()
    return {"cutoff": cutoff}


def clear(side: Side, *, batch_size: int | None) -> dict[str, Any]:
    """Delete the expired sessions of ``side``; time it and watch ``ru_maxrss``."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from django_xsession.stores.db import DatabaseStore

    # Both imported whichever side runs, so both baselines include both.
    ours = DatabaseStore(using=connection.alias)
    connection.ensure_connection()
    gc.collect()
    baseline, method = _reset_peak()
    written = _written()
    start = time.perf_counter()
    returned: int | None = None
    if side is OURS:
        returned = ours.clear_expired(batch_size=batch_size or DEFAULT_BATCH_SIZES[0])
    else:
        SessionStore.clear_expired()
    seconds = time.perf_counter() - start
    peak = _peak(method)
    written = _written() - written
    connection.close()
    return {
        "seconds": seconds,
        "written": written,
        "baseline_kb": baseline,
        "peak_kb": peak,
        "method": method,
        "returned": returned,
    }


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise LookupError(field)


def _written() -> int:
    """Bytes this process has handed to write() so far, journal included."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "wchar":
                return int(value)
    except OSError:
        pass
    return 0


def _reset_peak() -> tuple[int, str]:
    """(KiB resident now, how the peak is read); the peak starts from here."""
    try:
        # "5" resets VmHWM to the current resident set (Linux 4.0 and later).
        _CLEAR_REFS.write_text("5")
        return _status_kb("VmRSS"), "VmHWM"
    except (OSError, LookupError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"


def _peak(method: str) -> int:
    if method == "VmHWM":
        return _status_kb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clearsessions")
    parser.add_argument("action", choices=["prepare", "clear"])
    parser.add_argument("path", type=Path)
    parser.add_argument("side", choices=sorted(SIDES))
    parser.add_argument("--expired", type=int, default=EXPIRED)
    parser.add_argument("--live", type=int, default=LIVE)
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args(argv)
    _setup()
    side = SIDES[args.side]
    if args.action == "prepare":
        answer = prepare(args.path, side, expired=args.expired, live=args.live)
    else:
        answer = clear(side, batch_size=args.batch_size)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(worker())

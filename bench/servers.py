"""The demo project (``testproject``) under gunicorn or uvicorn, started and stopped.

Shared by the end-to-end tests (``tests.servers``) and the load test
(:mod:`bench.loadtest`). :func:`migrate` prepares a database; :func:`running`
starts the server on a free port of 127.0.0.1 with ``sys.executable``, in a
process group of its own, waits until it answers, and ends the whole group
however the block is left.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

MIGRATE_SECONDS = 120
STOP_SECONDS = 10
# Another process can take the free port before the server binds it.
START_ATTEMPTS = 3

Kind = Literal["gunicorn", "uvicorn"]


@dataclass(frozen=True)
class Server:
    """A running demo server."""

    kind: Kind
    port: int
    folder: Path
    log: Path

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])


class ServerFailed(AssertionError):
    """The server or its migration did not come up; the message carries its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def environment(settings_module: str, database: Path) -> dict[str, str]:
    """The server's environment: ``settings_module`` with SQLite in ``database``."""
    env = dict(os.environ)
    # pytest-django exported the suite's own settings module.
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    env["TESTPROJECT_DATABASE"] = str(database)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH", "")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("GUNICORN_CMD_ARGS", None)
    return env


def command(
    kind: Kind, port: int, *, workers: int, threads: int, access_log: bool
) -> list[str]:
    """The command line of ``kind``; ``threads`` applies to gunicorn only."""
    if kind == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            # Else gunicorn >= 25.1 makes ~/.gunicorn/gunicorn.ctl, one per user.
            "--no-control-socket",
            *(["--access-logfile", "-"] if access_log else []),
            "--error-logfile",
            "-",
            "testproject.wsgi:application",
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        # Django's ASGI handler does not speak the lifespan protocol.
        "--lifespan",
        "off",
        "--timeout-graceful-shutdown",
        "5",
        *([] if access_log else ["--no-access-log"]),
        "--no-use-colors",
        "testproject.asgi:application",
    ]


def migrate(folder: Path, env: dict[str, str]) -> None:
    try:
        result = subprocess.run(
            [sys.executable, str(REPO / "manage.py"), "migrate", "--noinput"],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MIGRATE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ServerFailed(
            f"manage.py migrate took over {MIGRATE_SECONDS}s:\n{error.output!r}"
        ) from error
    if result.returncode != 0:
        raise ServerFailed(
            f"manage.py migrate exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group: politely, then by force."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)
    # A worker that outlived its master is still in the group.
    signal_group(process, signal.SIGKILL)


def signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # start_new_session made the server the leader of a group with its pid.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def answers(port: int) -> bool:
    """Whether an HTTP server answers on ``port``, with any status."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        # A 404 is an answer, and it writes no session.
        connection.request("GET", "/__xsession_ready__")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def wait_until_answering(
    server: Server, process: subprocess.Popen[bytes], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while not answers(server.port):
        code = process.poll()
        if code is not None:
            raise ServerFailed(
                f"{server.kind} exited {code} before answering on "
                f"{server.origin}:\n{server.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise ServerFailed(
                f"{server.kind} did not answer on {server.origin} within "
                f"{seconds}s:\n{server.log_tail()}"
            )
        time.sleep(0.1)


def port_was_taken(server: Server) -> bool:
    log = server.log_tail().lower()
    return "address already in use" in log or "connection in use" in log


@contextmanager
def running(
    kind: Kind,
    env: dict[str, str],
    folder: Path,
    *,
    start_seconds: float,
    workers: int = 1,
    threads: int = 4,
    access_log: bool = True,
) -> Iterator[Server]:
    """Run the demo under ``kind`` in ``folder`` until the block ends.

    Raises :class:`ServerFailed` if it does not answer within
    ``start_seconds`` (after :data:`START_ATTEMPTS` tries when its port was
    taken first).
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        server = Server(kind, free_port(), folder, folder / f"{kind}-{attempt}.log")
        with server.log.open("wb") as log:
            process = subprocess.Popen(
                command(
                    kind,
                    server.port,
                    workers=workers,
                    threads=threads,
                    access_log=access_log,
                ),
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            try:
                wait_until_answering(server, process, start_seconds)
            except ServerFailed:
                if attempt < START_ATTEMPTS and port_was_taken(server):
                    continue
                raise
            yield server
            return
        finally:
            stop(process)
    raise AssertionError("unreachable")  # pragma: no cover

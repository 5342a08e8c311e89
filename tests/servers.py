"""The demo project (``testproject``) served by real servers, for end-to-end tests.

:func:`serve` migrates a scratch SQLite database in a temporary folder, starts
gunicorn (WSGI) or uvicorn (ASGI) on a free port of 127.0.0.1 with
``sys.executable`` and waits until it answers. The server runs in a process
group of its own, which is ended however the block is left.

A program the tests need that is not installed skips them with a loud reason;
with ``XSESSION_REQUIRE_SERVICES=1`` (CI) it fails them instead.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import pytest

from tests.services import REQUIRED

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SETTINGS = "testproject.settings"

MIGRATE_SECONDS = 120
START_SECONDS = 30
STOP_SECONDS = 10
# Another process can take the free port before the server binds it.
START_ATTEMPTS = 3

Kind = Literal["gunicorn", "uvicorn"]


def missing_program(name: str, detail: str) -> NoReturn:
    """Skip (or, when services are required, fail) a test needing ``name``."""
    reason = f"{name.upper()} NOT INSTALLED: {detail}"
    if REQUIRED:
        pytest.fail(f"{reason}, and XSESSION_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


def require_module(module: str) -> None:
    """Skip (or fail) unless ``sys.executable -m module`` can run."""
    if importlib.util.find_spec(module) is None:
        missing_program(
            module,
            f"{sys.executable} cannot import {module!r}; "
            "install the test extra: pip install -e '.[test]'",
        )


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
    """The server did not come up; the message carries its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def environment(database: Path) -> dict[str, str]:
    """The server's environment: the demo settings on ``database``."""
    env = dict(os.environ)
    # pytest-django exported the suite's own settings module.
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    env["TESTPROJECT_DATABASE"] = str(database)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH", "")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("GUNICORN_CMD_ARGS", None)
    return env


def command(kind: Kind, port: int) -> list[str]:
    if kind == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            # Else gunicorn >= 25.1 makes ~/.gunicorn/gunicorn.ctl, one per user.
            "--no-control-socket",
            "--access-logfile",
            "-",
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
        # Django's ASGI handler does not speak the lifespan protocol.
        "--lifespan",
        "off",
        "--timeout-graceful-shutdown",
        "5",
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


def wait_until_answering(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
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
                f"{START_SECONDS}s:\n{server.log_tail()}"
            )
        time.sleep(0.1)


def port_was_taken(server: Server) -> bool:
    log = server.log_tail().lower()
    return "address already in use" in log or "connection in use" in log


@contextmanager
def serve(kind: Kind) -> Iterator[Server]:
    """Run the demo under ``kind`` on its own fresh database until the block ends."""
    require_module(kind)
    with tempfile.TemporaryDirectory(prefix=f"xsession-{kind}-") as name:
        folder = Path(name)
        env = environment(folder / "db.sqlite3")
        migrate(folder, env)
        for attempt in range(1, START_ATTEMPTS + 1):
            server = Server(kind, free_port(), folder, folder / f"{kind}-{attempt}.log")
            with server.log.open("wb") as log:
                process = subprocess.Popen(
                    command(kind, server.port),
                    cwd=folder,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                try:
                    wait_until_answering(server, process)
                except ServerFailed:
                    if attempt < START_ATTEMPTS and port_was_taken(server):
                        continue
                    raise
                yield server
                return
            finally:
                stop(process)
        raise AssertionError("unreachable")  # pragma: no cover

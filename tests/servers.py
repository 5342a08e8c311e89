"""The demo project (``testproject``) served by real servers, for end-to-end tests.

:func:`serve` migrates a scratch SQLite database in a temporary folder and
runs the demo under gunicorn (WSGI) or uvicorn (ASGI) with
:func:`bench.servers.running`, which the load test shares.

A program the tests need that is not installed skips them with a loud reason;
with ``XSESSION_REQUIRE_SERVICES=1`` (CI) it fails them instead.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from bench.servers import Kind, Server, environment, migrate, running
from tests.services import REQUIRED

__all__ = ["Kind", "Server", "missing_program", "require_module", "serve"]

SETTINGS = "testproject.settings"
START_SECONDS = 30


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


@contextmanager
def serve(kind: Kind) -> Iterator[Server]:
    """Run the demo under ``kind`` on its own fresh database until the block ends."""
    require_module(kind)
    with tempfile.TemporaryDirectory(prefix=f"xsession-{kind}-") as name:
        folder = Path(name)
        env = environment(SETTINGS, folder / "db.sqlite3")
        migrate(folder, env)
        with running(kind, env, folder, start_seconds=START_SECONDS) as server:
            yield server

"""Many clients on a few shared sessions, over real HTTP: no update is lost.

The harness of ``python -m bench.loadtest`` at a small size: the demo under
gunicorn or uvicorn with ``bench.loadtest_settings``, clients that each
increment their own key of a shared session at once, then every session
read back. A store or middleware that saved a whole stale session over a
concurrent request's change loses increments here.
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path
from typing import ClassVar

from bench import loadtest
from bench.servers import Kind
from tests.servers import require_module
from tests.services import REDIS, missing, reachable

CLIENTS = 8
INCREMENTS = 20
# Four clients on each session, racing.
SESSIONS = 2
# A hung server fails the test instead of holding the suite.
MAX_SECONDS = 60


class NoLostUpdatesUnderLoad(unittest.TestCase):
    # Migrated once, on first need, for the SQLite tests to copy.
    template: ClassVar[Path | None] = None

    @classmethod
    def sqlite_template(cls) -> Path:
        if cls.template is None:
            folder = tempfile.TemporaryDirectory(prefix="xsession-loadtest-")
            cls.addClassCleanup(folder.cleanup)
            cls.addClassCleanup(setattr, cls, "template", None)
            cls.template = loadtest.sqlite_template(Path(folder.name))
        return cls.template

    def check(self, setup: loadtest.Setup, kind: Kind) -> None:
        require_module(kind)
        template = self.sqlite_template() if setup == loadtest.SQLITE else None
        result = loadtest.run(
            setup,
            kind,
            clients=CLIENTS,
            increments=INCREMENTS,
            sessions=SESSIONS,
            max_seconds=MAX_SECONDS,
            template=template,
        )

        report = result.describe()
        assert result.errors == 0, report
        assert result.requests == CLIENTS * INCREMENTS, report
        assert result.stale == 0, report
        assert result.lost == 0, report

    def test_db_store_on_sqlite_under_gunicorn(self) -> None:
        self.check(loadtest.SQLITE, "gunicorn")

    def test_db_store_on_sqlite_under_uvicorn(self) -> None:
        self.check(loadtest.SQLITE, "uvicorn")

    def test_redis_store_under_gunicorn(self) -> None:
        if not reachable(REDIS):
            missing("Redis", REDIS)
        self.check(loadtest.REDIS_STORE, "gunicorn")

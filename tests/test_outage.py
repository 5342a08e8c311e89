"""``ON_STORE_ERROR`` against a Redis that goes away and comes back.

Each test starts a ``redis-server`` of its own on a free port, with an
append-only file in a temporary folder (every write fsynced before Redis
answers it), writes sessions through the test client, stops the server and
sends requests during the outage, then restarts the server on the same port
and folder and reads the sessions back. Both stores that talk to Redis run
the same tests: the Redis store and the cache store on django-redis. The
cache store on a django-redis cache that ignores connection errors, where a
read cannot tell an outage from a miss, has tests of its own. So does a
Redis that stays up but refuses writes: full, made a replica, or unable to
persist.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, NoReturn
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.http import HttpResponseBase
from django.test import (
    AsyncClient,
    Client,
    SimpleTestCase,
    TestCase,
    override_settings,
)
from redis.backoff import NoBackoff
from redis.retry import Retry

from django_xsession import revoke, sessions_of
from django_xsession.stores import get_store
from django_xsession.stores.base import StoreUnavailable
from tests.services import REQUIRED

if TYPE_CHECKING:
    from collections.abc import Callable

    _TestCase = SimpleTestCase
else:
    _TestCase = object

REDIS_SERVER = shutil.which("redis-server")
HOST = "127.0.0.1"
NAME = "sessionid"
START_SECONDS = 10
STOP_SECONDS = 10
# Short: a frozen server costs each request this much.
SOCKET_SECONDS = 0.5


def no_redis_server() -> NoReturn:
    """Skip (or, when services are required, fail) without ``redis-server``."""
    reason = "REDIS-SERVER NOT INSTALLED: the outage tests start their own Redis"
    if REQUIRED:
        pytest.fail(f"{reason}, and XSESSION_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` of the test's own, keeping its data in ``directory``;
    ``arguments`` add to its command line."""

    def __init__(self, executable: str, directory: Path, *arguments: str) -> None:
        self.executable = executable
        self.directory = directory
        self.arguments = arguments
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> redis.Redis:
        # No retries: redis-py's default backs off for seconds.
        return redis.Redis(
            HOST,
            self.port,
            socket_connect_timeout=0.2,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )

    def start(self) -> None:
        """Start the server and wait until it answers (its data loaded)."""
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
                *self.arguments,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited:\n{self.log}")
            try:
                with self.client() as client:
                    if client.ping():
                        return
            # LOADING (BusyLoadingError) is a ConnectionError too.
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not answer:\n{self.log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Shut the server down cleanly, its data on disk."""
        assert self.process is not None
        with self.client() as client:
            client.shutdown(save=True)
        self.process.wait(timeout=STOP_SECONDS)

    def freeze(self) -> None:
        """Stop the process without closing its port: commands time out."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """However the test ended, leave no server behind."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


class RedisServers(_TestCase):
    """Mix in first: the class skips loudly without ``redis-server``, and a
    test starts servers of its own with :meth:`start_server`."""

    @classmethod
    def setUpClass(cls) -> None:
        if REDIS_SERVER is None:
            no_redis_server()
        super().setUpClass()

    def start_server(self, *arguments: str) -> RedisServer:
        """A running ``redis-server`` in a folder of its own, killed after."""
        assert REDIS_SERVER is not None
        folder = tempfile.TemporaryDirectory(prefix="xsession-redis-")
        self.addCleanup(folder.cleanup)
        server = RedisServer(REDIS_SERVER, Path(folder.name), *arguments)
        self.addCleanup(server.kill)
        server.start()
        return server


class OwnRedis(RedisServers):
    """Mix into a ``SimpleTestCase``: each test gets a Redis of its own, a
    cache alias on it and the store ``backend`` on that alias."""

    backend: ClassVar[str]
    #: More of the alias's django-redis OPTIONS.
    cache_options: ClassVar[dict[str, Any]] = {}
    #: More of the server's command line.
    server_arguments: ClassVar[tuple[str, ...]] = ()

    def setUp(self) -> None:
        super().setUp()
        self.server = self.start_server(*self.server_arguments)
        # An alias of its own: stores are built once per configuration.
        alias = f"outage-{self.server.port}"
        caches = {
            **settings.CACHES,
            alias: {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://{HOST}:{self.server.port}/0",
                "OPTIONS": {
                    "SOCKET_CONNECT_TIMEOUT": SOCKET_SECONDS,
                    "SOCKET_TIMEOUT": SOCKET_SECONDS,
                    **self.cache_options,
                },
            },
        }
        self.store = {"BACKEND": self.backend, "OPTIONS": {"cache": alias}}
        overridden = override_settings(CACHES=caches, XSESSION={"STORE": self.store})
        overridden.enable()
        self.addCleanup(overridden.disable)

    def on_store_error(self, mode: str) -> override_settings:
        return override_settings(XSESSION={"STORE": self.store, "ON_STORE_ERROR": mode})

    def write_sessions(self) -> dict[str, dict[str, Any]]:
        """Two visitors' sessions, written before the outage; token -> data."""
        written = {}
        for data in ({"a": "1", "b": "two"}, {"user": "bob", "é": "ü"}):
            client = Client()
            client.get("/write/", data)
            client.get("/increment/", {"key": "n"})
            assert client.get("/increment/", {"key": "n"}).json() == {"n": 2}
            written[client.cookies[NAME].value] = {**data, "n": 2}
        return written

    def visitor(self, token: str | None, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        if token is not None:
            client.cookies[NAME] = token
        return client

    def assert_intact(self, written: dict[str, dict[str, Any]]) -> None:
        """Every session reads back as it was before the outage."""
        for token, data in written.items():
            client = self.visitor(token)
            response = client.get("/store-status/")
            assert response.status_code == 200
            assert response.json() == {"unavailable": False, "keys": sorted(data)}
            assert client.get("/read/").json() == data
            assert client.cookies[NAME].value == token

    def assert_503(self, response: HttpResponseBase) -> None:
        content = response.getvalue()
        assert response.status_code == 503, content
        assert response["Retry-After"] == "5"
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert content.startswith(b"The session store is unavailable")
        assert NAME not in response.cookies


class OutageTests(OwnRedis):
    """Mix into a ``SimpleTestCase``; ``backend`` names a store on Redis."""

    def test_raise_answers_503_and_the_sessions_survive(self) -> None:
        written = self.write_sessions()
        self.server.stop()

        with self.on_store_error("raise"), self.assertLogs("django_xsession") as logs:
            for token in written:
                for client in (
                    self.visitor(token, raise_request_exception=False),
                    # The default test client re-raises any exception a
                    # request lets escape: none may.
                    self.visitor(token),
                ):
                    self.assert_503(client.get("/read/"))
                    self.assert_503(client.get("/write/", {"during": "outage"}))
                    self.assert_503(client.get("/increment/", {"key": "n"}))
                    assert client.get("/nothing/").status_code == 200
                    assert client.cookies[NAME].value == token
            # A new visitor's session cannot be created either.
            self.assert_503(self.visitor(None).get("/write/", {"new": "1"}))

        assert {record.levelname for record in logs.records} == {"ERROR"}
        self.server.start()
        self.assert_intact(written)

    def test_degrade_serves_an_empty_unsaved_session(self) -> None:
        written = self.write_sessions()
        self.server.stop()

        with self.on_store_error("degrade"), self.assertLogs("django_xsession") as logs:
            for token in written:
                client = self.visitor(token)
                status = client.get("/store-status/")
                assert status.status_code == 200
                assert status.json() == {"unavailable": True, "keys": []}
                assert NAME not in status.cookies
                write = client.get("/write/", {"during": "outage", "n": "9"})
                assert write.status_code == 200
                assert write.json() == {"during": "outage", "n": "9"}
                assert NAME not in write.cookies
                assert client.get("/increment/", {"key": "n"}).json() == {"n": 1}
                assert client.cookies[NAME].value == token
            fresh = self.visitor(None)
            response = fresh.get("/write/", {"new": "1"})
            assert response.status_code == 200
            assert NAME not in response.cookies
            assert NAME not in fresh.cookies

        assert {record.levelname for record in logs.records} == {"WARNING"}
        self.server.start()
        with self.on_store_error("degrade"):
            self.assert_intact(written)
            # The store is back: writes are saved again.
            token = next(iter(written))
            self.visitor(token).get("/write/", {"after": "outage"})
            assert self.visitor(token).get("/read/").json() == {
                **written[token],
                "after": "outage",
            }

    def test_a_logout_during_a_degraded_outage_clears_the_cookie(self) -> None:
        written = self.write_sessions()
        self.server.stop()
        token = next(iter(written))
        with self.on_store_error("degrade"), self.assertLogs("django_xsession"):
            response = self.visitor(token).get("/destroy/")
        assert response.status_code == 200
        assert response.cookies[NAME].value == ""
        assert response.cookies[NAME]["max-age"] == 0

    def test_a_server_that_stops_answering_times_out_into_the_same_answers(
        self,
    ) -> None:
        written = self.write_sessions()
        token = next(iter(written))
        self.server.freeze()
        self.addCleanup(self.server.thaw)

        started = time.monotonic()
        with self.assertLogs("django_xsession"):
            with self.on_store_error("degrade"):
                status = self.visitor(token).get("/store-status/")
            with self.on_store_error("raise"):
                failed = self.visitor(token).get("/read/")
        elapsed = time.monotonic() - started

        assert status.json() == {"unavailable": True, "keys": []}
        self.assert_503(failed)
        assert elapsed < 10 * SOCKET_SECONDS, elapsed
        self.server.thaw()
        self.assert_intact(written)

    async def test_async_requests_get_the_same_answers(self) -> None:
        written = self.write_sessions()
        token = next(iter(written))
        self.server.stop()
        client = AsyncClient()
        client.cookies[NAME] = token

        with self.assertLogs("django_xsession"):
            with self.on_store_error("raise"):
                self.assert_503(await client.get("/read/"))
                self.assert_503(await client.get("/async-write/", {"k": "v"}))
            with self.on_store_error("degrade"):
                status = await client.get("/store-status/")
                write = await client.get("/async-write/", {"k": "v"})

        assert status.status_code == 200
        assert status.json() == {"unavailable": True, "keys": []}
        assert write.json() == {"k": "v"}
        assert NAME not in write.cookies
        self.server.start()
        self.assert_intact(written)

    def run_through_a_restart(self, policy: str) -> None:
        """Visitors keep sending requests while Redis stops and starts again."""
        threads_count = 4
        # Each wait below gives up after this long; the asserts then fail.
        phase_seconds = 2.0
        join_seconds = 5.0
        written = self.write_sessions()
        tokens = list(written)
        # 0: Redis up; 1: stopping or stopped; 2: started again.
        epoch = [0]
        stop = threading.Event()
        hits: list[list[Hit]] = [[] for _ in range(threads_count)]
        cookies: dict[int, str] = {}
        errors: list[BaseException] = []

        def load(n: int) -> None:
            client = self.visitor(
                tokens[n % len(tokens)], raise_request_exception=False
            )
            key = f"t{n}"
            try:
                while not stop.is_set():
                    for path, data in (
                        ("/increment/", {"key": key}),
                        ("/store-status/", {}),
                    ):
                        started = epoch[0]
                        response = client.get(path, data)
                        ended = epoch[0]
                        body = response.json() if response.status_code == 200 else {}
                        hits[n].append(
                            Hit(
                                started,
                                ended,
                                path,
                                response.status_code,
                                body.get("unavailable"),
                                body.get(key),
                            )
                        )
                cookies[n] = client.cookies[NAME].value
            except BaseException as error:
                errors.append(error)
            finally:
                connections.close_all()

        def wait_until(done: Callable[[Hit], bool]) -> None:
            deadline = time.monotonic() + phase_seconds
            while time.monotonic() < deadline and not errors:
                if all(any(done(hit) for hit in list(own)) for own in hits):
                    return
                time.sleep(0.01)

        threads = [
            threading.Thread(target=load, args=(n,), daemon=True)
            for n in range(threads_count)
        ]

        def finish() -> list[threading.Thread]:
            stop.set()
            for thread in threads:
                thread.join(timeout=join_seconds)
            return [thread for thread in threads if thread.is_alive()]

        with self.on_store_error(policy), self.assertLogs("django_xsession"):
            # Also on failure, before the server and the settings go.
            self.addCleanup(finish)
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda hit: hit.ok)
                epoch[0] = 1
                self.server.stop()
                wait_until(lambda hit: hit.started == 1 and not hit.ok)
                self.server.start()
                epoch[0] = 2
                wait_until(
                    lambda hit: hit.started == 2 and hit.ok and hit.value is not None
                )
            finally:
                alive = finish()
        assert alive == [], alive
        assert errors == [], errors

        every = [hit for own in hits for hit in own]
        allowed = {200, 503} if policy == "raise" else {200}
        assert {hit.status for hit in every} <= allowed, every
        if policy == "raise":
            assert any(hit.status == 503 for hit in every), every
        else:
            assert any(hit.unavailable for hit in every), every
        for n, own in enumerate(hits):
            # Answered before the outage or asked after it: all succeed.
            assert [hit for hit in own if hit.ended == 0], n
            assert all(hit.ok for hit in own if hit.ended == 0), own
            recovered = [hit for hit in own if hit.started == 2]
            assert any(hit.value is not None for hit in recovered), own
            assert all(hit.ok for hit in recovered), own
            assert cookies[n] == tokens[n % len(tokens)]

        # The sessions hold what they held, plus the visitors' own counts.
        # (Not checked equal to each visitor's last count: two threads of the
        # test client on one session lose an increment now and then, outage
        # or not.)
        with self.on_store_error(policy):
            for index, (token, data) in enumerate(written.items()):
                counted = {
                    f"t{n}": max(hit.value or 0 for hit in hits[n])
                    for n in range(index, threads_count, len(tokens))
                }
                client = self.visitor(token)
                status = client.get("/store-status/")
                assert status.status_code == 200
                assert status.json()["unavailable"] is False
                stored = client.get("/read/").json()
                assert {key: stored.get(key) for key in data} == data
                assert set(stored) - set(data) <= set(counted), stored
                for key, value in counted.items():
                    assert 1 <= stored.get(key, 0) <= value, (key, stored, counted)
                assert client.cookies[NAME].value == token

    def test_raise_while_redis_restarts_mid_load(self) -> None:
        self.run_through_a_restart("raise")

    def test_degrade_while_redis_restarts_mid_load(self) -> None:
        self.run_through_a_restart("degrade")


class RedisStoreOutageTests(OutageTests, SimpleTestCase):
    backend = "redis"


class CacheStoreOutageTests(OutageTests, SimpleTestCase):
    backend = "cache"


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait until ``check()`` holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + START_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {START_SECONDS} s")
        time.sleep(0.02)


# The RDB file's name, where a test puts a folder so that a save fails.
UNSAVABLE = "unsavable.rdb"


class RefusedWritesTests(OwnRedis):
    """Mix into a ``SimpleTestCase``: a Redis that answers but refuses
    writes (full, demoted to a replica, unable to persist) is an outage."""

    server_arguments = ("--dbfilename", UNSAVABLE)

    def assert_writes_refused(self, written: dict[str, dict[str, Any]]) -> None:
        """Sessions read as they are; no write goes through, and none 500s."""
        with self.on_store_error("raise"), self.assertLogs("django_xsession") as logs:
            for token, data in written.items():
                client = self.visitor(token)
                assert client.get("/read/").json() == data
                self.assert_503(client.get("/write/", {"during": "refusal"}))
                self.assert_503(client.get("/increment/", {"key": "n"}))
                assert client.cookies[NAME].value == token
            self.assert_503(self.visitor(None).get("/write/", {"new": "1"}))
        assert {record.levelname for record in logs.records} == {"ERROR"}

        with self.on_store_error("degrade"), self.assertLogs("django_xsession") as logs:
            for token, data in written.items():
                client = self.visitor(token)
                write = client.get("/write/", {"during": "refusal"})
                assert write.status_code == 200
                assert write.json() == {**data, "during": "refusal"}
                assert NAME not in write.cookies
            fresh = self.visitor(None).get("/write/", {"new": "1"})
            assert fresh.status_code == 200
            assert NAME not in fresh.cookies
        assert {record.levelname for record in logs.records} == {"WARNING"}

    def test_a_full_redis_under_noeviction(self) -> None:
        self.assert_a_full_redis_is_an_outage()

    def test_a_full_redis_under_noeviction_under_redis_py_before_4_6(self) -> None:
        # Older redis-py, which Django's own Redis backend runs on too, raise
        # its OOM as a plain ResponseError.
        from redis._parsers import BaseParser

        before_4_6 = dict(BaseParser.EXCEPTION_CLASSES)
        del before_4_6["OOM"]
        with mock.patch.object(BaseParser, "EXCEPTION_CLASSES", before_4_6):
            self.assert_a_full_redis_is_an_outage()

    def assert_a_full_redis_is_an_outage(self) -> None:
        written = self.write_sessions()
        with self.server.client() as admin:
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
            self.assert_writes_refused(written)
            admin.config_set("maxmemory", 0)

        self.assert_intact(written)

    def test_a_primary_a_failover_made_a_replica(self) -> None:
        promoted = self.start_server("--replicaof", HOST, str(self.server.port))
        written = self.write_sessions()
        with self.server.client() as demoted, promoted.client() as primary:
            eventually(
                lambda: demoted.wait(1, 100) == 1, "the replica's copy of the sessions"
            )
            primary.replicaof("NO", "ONE")
            demoted.replicaof(HOST, promoted.port)
            eventually(
                lambda: (
                    demoted.info("replication")["master_link_status"] == "up"
                    and demoted.info("persistence")["loading"] == 0
                ),
                "the demoted primary's sync with the new one",
            )
            self.assert_writes_refused(written)
            demoted.replicaof("NO", "ONE")

        self.assert_intact(written)

    def test_a_redis_whose_snapshot_failed(self) -> None:
        written = self.write_sessions()
        (self.server.directory / UNSAVABLE).mkdir()
        with self.server.client() as admin:
            # stop-writes-on-bgsave-error (on by default) needs a save point.
            admin.config_set("save", "3600 1")
            admin.bgsave()
            eventually(
                lambda: admin.info("persistence")["rdb_bgsave_in_progress"] == 0,
                "the snapshot",
            )
            assert admin.info("persistence")["rdb_last_bgsave_status"] == "err"
            self.assert_writes_refused(written)
            admin.config_set("stop-writes-on-bgsave-error", "no")

        self.assert_intact(written)

    def test_a_primary_short_of_the_replicas_it_needs(self) -> None:
        written = self.write_sessions()
        with self.server.client() as admin:
            admin.config_set("min-replicas-to-write", 1)
            self.assert_writes_refused(written)
            admin.config_set("min-replicas-to-write", 0)

        self.assert_intact(written)

    def test_a_replica_cut_off_from_its_primary(self) -> None:
        self.assert_a_cut_off_replica_is_an_outage()

    def test_a_replica_cut_off_from_its_primary_under_redis_py_before_6(
        self,
    ) -> None:
        # redis-py before 6.0, which the redis extra allows, raises its
        # MASTERDOWN as a plain ResponseError outside Redis Cluster.
        from redis._parsers import BaseParser

        before_6 = dict(BaseParser.EXCEPTION_CLASSES)
        del before_6["MASTERDOWN"]
        with mock.patch.object(BaseParser, "EXCEPTION_CLASSES", before_6):
            self.assert_a_cut_off_replica_is_an_outage()

    def assert_a_cut_off_replica_is_an_outage(self) -> None:
        written = self.write_sessions()
        with self.server.client() as admin:
            # Told to serve nothing stale, it refuses reads too (MASTERDOWN).
            admin.config_set("replica-serve-stale-data", "no")
            admin.replicaof(HOST, free_port())
            with self.on_store_error("raise"), self.assertLogs("django_xsession"):
                for token in written:
                    self.assert_503(self.visitor(token).get("/read/"))
            with self.on_store_error("degrade"), self.assertLogs("django_xsession"):
                for token in written:
                    response = self.visitor(token).get("/read/")
                    assert response.status_code == 200
                    assert response.json() == {}
            admin.replicaof("NO", "ONE")

        self.assert_intact(written)


class RedisStoreRefusedWritesTests(RefusedWritesTests, SimpleTestCase):
    backend = "redis"


class CacheStoreRefusedWritesTests(RefusedWritesTests, SimpleTestCase):
    backend = "cache"


class RedisStoreRefusedListingTests(OwnRedis, TestCase):
    """The redis store's deletions in bulk (``revoke``) and ``all()`` run
    pipelines, whose errors redis-py rewrites to name the command: a refusal
    there is an outage too."""

    backend = "redis"
    user: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = User.objects.create_user("ada", password="lovelace-1815")

    def devices(self) -> list[Client]:
        """Two clients logged in as the user."""
        logged_in = [Client(), Client()]
        for device in logged_in:
            device.force_login(self.user)
        return logged_in

    def test_revoking_on_a_primary_short_of_the_replicas_it_needs(self) -> None:
        this, other = self.devices()
        with self.server.client() as admin:
            admin.config_set("min-replicas-to-write", 1)
            for mode in ("raise", "degrade"):
                with self.on_store_error(mode):
                    self.assert_503(this.get("/sessions/revoke-others/"))
            with self.assertRaises(StoreUnavailable):
                revoke(self.user)
            admin.config_set("min-replicas-to-write", 0)

        # Nobody was logged out.
        for device in (this, other):
            assert device.get("/whoami/").content == b"ada"
        assert len(sessions_of(self.user)) == 2

    def test_listing_on_a_replica_cut_off_midway_under_redis_py_before_6(
        self,
    ) -> None:
        from redis._parsers import BaseParser

        before_6 = dict(BaseParser.EXCEPTION_CLASSES)
        del before_6["MASTERDOWN"]
        self.devices()
        store = get_store()
        list_keys = store._session_keys  # type: ignore[attr-defined]
        with self.server.client() as admin:

            def listed_then_cut_off() -> list[bytes]:
                # The keys are listed; the replica loses its primary before
                # their sessions are read, which then fails in the pipeline.
                keys: list[bytes] = list_keys()
                admin.config_set("replica-serve-stale-data", "no")
                admin.replicaof(HOST, free_port())
                return keys

            with (
                mock.patch.object(BaseParser, "EXCEPTION_CLASSES", before_6),
                mock.patch.object(store, "_session_keys", listed_then_cut_off),
                self.assertRaises(StoreUnavailable),
            ):
                store.all()
            admin.replicaof("NO", "ONE")

        assert len(store.all()) == 2


class IgnoredErrorsOutageTests(OwnRedis):
    """The cache store on a django-redis cache that ignores connection errors
    (W012): a read cannot tell the outage from a miss, a write can."""

    backend = "cache"

    def test_writes_answer_as_on_store_error_says(self) -> None:
        written = self.write_sessions()
        self.server.stop()

        with self.on_store_error("raise"), self.assertLogs("django_xsession"):
            for token in written:
                client = self.visitor(token)
                # The swallowed read is a miss: the session looks empty.
                assert client.get("/read/").json() == {}
                self.assert_503(client.get("/write/", {"during": "outage"}))
                self.assert_503(client.get("/increment/", {"key": "n"}))
                assert client.cookies[NAME].value == token
            self.assert_503(self.visitor(None).get("/write/", {"new": "1"}))
        with self.on_store_error("degrade"), self.assertLogs("django_xsession"):
            for visitor in [*written, None]:
                client = self.visitor(visitor)
                write = client.get("/write/", {"during": "outage"})
                assert write.status_code == 200
                assert write.json() == {"during": "outage"}
                assert NAME not in write.cookies

        self.server.start()
        self.assert_intact(written)


class IgnoreExceptionsOptionOutageTests(IgnoredErrorsOutageTests, SimpleTestCase):
    cache_options: ClassVar[dict[str, Any]] = {"IGNORE_EXCEPTIONS": True}


@override_settings(DJANGO_REDIS_IGNORE_EXCEPTIONS=True)
class IgnoreExceptionsSettingOutageTests(IgnoredErrorsOutageTests, SimpleTestCase):
    pass


class ServerTests(SimpleTestCase):
    def test_the_server_is_always_killed(self) -> None:
        if REDIS_SERVER is None:
            no_redis_server()
        with tempfile.TemporaryDirectory() as folder:
            server = RedisServer(REDIS_SERVER, Path(folder))
            server.start()
            assert server.process is not None
            server.freeze()
            server.kill()
            assert server.process.poll() is not None
            with self.assertRaises(redis.exceptions.ConnectionError):
                server.client().ping()
        assert not os.path.exists(folder)


class Hit(NamedTuple):
    """One request of the mid-load test, and the outage epochs it spanned."""

    started: int
    ended: int
    path: str
    status: int
    unavailable: bool | None
    value: int | None

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.unavailable

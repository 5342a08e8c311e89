"""No lost updates: concurrent saves of one session keep each other's changes.

Each database runs the same tests through the session API, with the db store
on that database alone, then with the cached_db store in front of it. The
threaded test needs committed data and one connection per thread, hence
``TransactionTestCase`` and, for SQLite, the file database ("sqlite_file")
rather than the in-memory one.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections, transaction
from django.db.models import F
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from django_xsession.engine import SessionStore
from django_xsession.models import Session
from django_xsession.stores.base import Store, StoreUnavailable
from django_xsession.stores.db import DatabaseStore
from tests.test_middleware import read_during_a_change
from tests.test_stores_db import TABLE, RequiresDatabases, data_of, loaded

if TYPE_CHECKING:
    from django.test import SimpleTestCase

    _TestCase = SimpleTestCase
else:
    _TestCase = object

THREADS = 8
INCREMENTS = 50


def started_on(test: SimpleTestCase, alias: str, backend: str = "db") -> str:
    """Sessions from ``backend`` on database ``alias`` for ``test``; the token
    of one saved holding ``{"start": True}``."""
    caches["default"].clear()
    store = {"BACKEND": backend, "OPTIONS": {"using": alias}}
    settings = override_settings(XSESSION={"STORE": store})
    settings.enable()
    test.addCleanup(settings.disable)
    session = SessionStore()
    session["start"] = True
    session.save()
    token = session.session_key
    assert token is not None
    return token


class NoLostUpdates(_TestCase):
    """Mix into a ``TransactionTestCase`` whose ``databases`` hold ``alias``.

    ``databases`` holds "default" too: Django sets up every other test
    database after it, and refuses to without it.
    """

    alias: ClassVar[str]
    backend: ClassVar[str] = "db"

    def setUp(self) -> None:
        super().setUp()
        self.token = started_on(self, self.alias, self.backend)

    def test_different_keys_changed_by_two_loaded_sessions_are_both_kept(
        self,
    ) -> None:
        first, second = loaded(self.token), loaded(self.token)
        first["a"] = 1
        second["b"] = 2

        first.save()
        second.save()

        assert data_of(self.token) == {"start": True, "a": 1, "b": 2}

    def test_a_key_removed_by_one_and_another_changed_by_the_other(self) -> None:
        first, second = loaded(self.token), loaded(self.token)
        del first["start"]
        second["b"] = 2

        second.save()
        first.save()

        assert data_of(self.token) == {"b": 2}

    def test_the_same_key_changed_by_both_takes_the_last_saved_value(self) -> None:
        first, second = loaded(self.token), loaded(self.token)
        first["x"] = "first"
        second["x"] = "second"

        second.save()
        first.save()

        assert data_of(self.token) == {"start": True, "x": "first"}

    def test_a_read_keeps_a_concurrent_change_to_a_value_unequal_to_its_copy(
        self,
    ) -> None:
        seeded = loaded(self.token)
        seeded["bad"] = [math.nan]
        seeded.save()

        response = read_during_a_change(self.token, "bad", [1])

        assert data_of(self.token) == {"start": True, "bad": [1]}
        assert settings.SESSION_COOKIE_NAME not in response.cookies

    def test_threads_incrementing_their_own_keys_lose_no_increment(self) -> None:
        errors: list[BaseException] = []

        def increment(n: int) -> None:
            key = f"count_{n}"
            try:
                for _ in range(INCREMENTS):
                    session = loaded(self.token)
                    session[key] = session.get(key, 0) + 1
                    session.save()
            except BaseException as error:
                errors.append(error)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=increment, args=(n,)) for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert data_of(self.token) == {
            "start": True,
            **{f"count_{n}": INCREMENTS for n in range(THREADS)},
        }


class SQLiteNoLostUpdatesTests(NoLostUpdates, TransactionTestCase):
    alias = "sqlite_file"
    databases = {"default", "sqlite_file"}  # noqa: RUF012


class PostgresNoLostUpdatesTests(RequiresDatabases, NoLostUpdates, TransactionTestCase):
    alias = "postgres"
    databases = {"default", "postgres"}  # noqa: RUF012


class MariaDBNoLostUpdatesTests(RequiresDatabases, NoLostUpdates, TransactionTestCase):
    alias = "mariadb"
    databases = {"default", "mariadb"}  # noqa: RUF012


# cached_db: the loads come from the cached copy, which must follow the row.
class SQLiteCachedNoLostUpdatesTests(SQLiteNoLostUpdatesTests):
    backend = "cached_db"


class PostgresCachedNoLostUpdatesTests(PostgresNoLostUpdatesTests):
    backend = "cached_db"


class MariaDBCachedNoLostUpdatesTests(MariaDBNoLostUpdatesTests):
    backend = "cached_db"


# How long a test waits for the other connection's statement to queue.
WAIT_SECONDS = 10
# A statement of another connection waiting for a lock, on each database.
WAITING = {
    "postgresql": "SELECT 1 FROM pg_locks WHERE NOT granted",
    "mysql": "SELECT 1 FROM information_schema.innodb_trx "
    "WHERE trx_state = 'LOCK WAIT'",
}


def wait_for_a_waiter(alias: str, unless: Callable[[], bool] = lambda: False) -> None:
    """Return once a statement waits for a lock, ``unless()`` holds, or
    ``WAIT_SECONDS`` pass."""
    connection = connections[alias]
    deadline = time.monotonic() + WAIT_SECONDS
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and not unless():
            cursor.execute(WAITING[connection.vendor])
            if cursor.fetchone():
                return
            # InnoDB refreshes innodb_trx only once nobody has read it for
            # 0.1 s: polling faster would read the same snapshot for ever.
            time.sleep(0.15)


@contextlib.contextmanager
def in_another_transaction(
    alias: str, body: Callable[[threading.Event], None]
) -> Iterator[None]:
    """``body`` in a transaction of another thread, the block run meanwhile.

    The block starts once ``body`` sets the event it is given (or ends);
    the transaction commits when ``body`` returns.
    """
    locked = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with transaction.atomic(using=alias):
                body(locked)
        except BaseException as error:
            errors.append(error)
        finally:
            locked.set()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    locked.wait()
    try:
        yield
    finally:
        thread.join()
    assert errors == []


@contextlib.contextmanager
def saving_meanwhile(alias: str, token: str, key: str) -> Iterator[None]:
    """Another request's save of ``key`` into ``token``'s session, in flight.

    Its transaction holds the row's lock until a statement of the block
    waits for that lock (or ``WAIT_SECONDS`` pass), then commits.
    """

    def save(locked: threading.Event) -> None:
        other = loaded(token)
        other[key] = True
        other.save()
        locked.set()
        wait_for_a_waiter(alias)

    with in_another_transaction(alias, save):
        yield


@contextlib.contextmanager
def deadlocking(alias: str, token: str) -> Iterator[None]:
    """Another transaction that deadlocks with the block's write of ``token``.

    It holds a shared lock on the session's row, waits for the block to ask
    for the row's write lock, then asks for it too. Having written another
    row first, it weighs more: the database rolls the block's statement
    back, and this transaction then writes and commits.
    """
    rows = Session.objects.using(alias)
    digest = Store.digest(loaded(token).id)
    bystander = SessionStore()
    bystander["bystander"] = True
    bystander.save()
    quote = connections[alias].ops.quote_name
    share = f"SELECT 1 FROM {quote(TABLE)} WHERE {quote('key')} = %s LOCK IN SHARE MODE"

    def write(locked: threading.Event) -> None:
        rows.filter(key=Store.digest(bystander.id)).update(version=F("version") + 1)
        with connections[alias].cursor() as cursor:
            cursor.execute(share, [digest])
        locked.set()
        wait_for_a_waiter(alias)
        rows.filter(key=digest).update(version=F("version") + 1)

    with in_another_transaction(alias, write):
        yield


class PostgresStricterIsolationTests(RequiresDatabases, TransactionTestCase):
    """PostgreSQL set to REPEATABLE READ (or SERIALIZABLE) in ``OPTIONS``.

    There a transaction that waited for a row a concurrent one then wrote is
    rolled back ("could not serialize access"), where the store's own
    transactions, which lock the row before reading it, need READ COMMITTED.
    """

    databases = {"default", "postgres"}  # noqa: RUF012

    def setUp(self) -> None:
        super().setUp()
        from django.db.backends.postgresql.psycopg_any import IsolationLevel

        options = connections["postgres"].settings_dict["OPTIONS"]
        options["isolation_level"] = IsolationLevel.REPEATABLE_READ
        connections["postgres"].close()
        self.addCleanup(connections["postgres"].close)
        self.addCleanup(options.pop, "isolation_level")
        self.token = started_on(self, "postgres")

    def test_a_save_merging_onto_a_row_being_written_keeps_both_changes(
        self,
    ) -> None:
        first = loaded(self.token)
        first["a"] = 1
        moved = loaded(self.token)
        moved["b"] = 2
        moved.save()  # first's version is stale: its save merges under the lock

        with saving_meanwhile("postgres", self.token, "c"):
            first.save()

        assert data_of(self.token) == {"start": True, "a": 1, "b": 2, "c": True}

    def test_a_logout_while_the_session_is_being_saved_ends_it(self) -> None:
        with saving_meanwhile("postgres", self.token, "c"):
            loaded(self.token).flush()

        assert SessionStore().exists(self.token) is False

    def test_a_save_merging_with_autocommit_off_runs_in_the_callers_transaction(
        self,
    ) -> None:
        connection = connections["postgres"]
        first = loaded(self.token)
        first["a"] = 1
        moved = loaded(self.token)
        moved["b"] = 2
        moved.save()
        connection.set_autocommit(False)
        self.addCleanup(connection.set_autocommit, True)
        self.addCleanup(connection.rollback)

        loaded(self.token)  # a query: the transaction's level is set
        first.save()
        connection.commit()

        assert data_of(self.token) == {"start": True, "a": 1, "b": 2}

    def test_the_stores_own_transactions_run_at_read_committed(self) -> None:
        # Retries would mostly hide a wrong level: ask the server.
        store = DatabaseStore(using="postgres")

        with (
            store._transaction("postgres"),
            connections["postgres"].cursor() as cursor,
        ):
            cursor.execute("SHOW transaction_isolation")
            (level,) = cursor.fetchone()

        assert level == "read committed"

    def test_the_connections_own_level_outlives_a_store_transaction(self) -> None:
        loaded(self.token).flush()  # a delete, in a transaction of the store's

        with (
            transaction.atomic(using="postgres"),
            connections["postgres"].cursor() as cursor,
        ):
            cursor.execute("SHOW transaction_isolation")
            (level,) = cursor.fetchone()

        assert level == "repeatable read"

    def test_a_touch_while_the_session_is_being_saved_is_retried(self) -> None:
        # REPEATABLE READ set on the server (default_transaction_isolation),
        # which single statements outside a transaction run at too.
        with connections["postgres"].cursor() as cursor:
            cursor.execute("SET default_transaction_isolation = 'repeatable read'")
        session = loaded(self.token)

        with saving_meanwhile("postgres", self.token, "c"):
            touched = session.touch()

        assert touched is True
        assert data_of(self.token) == {"start": True, "c": True}


class MariaDBDeadlockTests(RequiresDatabases, TransactionTestCase):
    databases = {"default", "mariadb"}  # noqa: RUF012

    def setUp(self) -> None:
        super().setUp()
        self.token = started_on(self, "mariadb")

    def test_a_save_the_database_rolls_back_in_a_deadlock_is_run_again(
        self,
    ) -> None:
        first = loaded(self.token)
        first["a"] = 1

        with deadlocking("mariadb", self.token):
            first.save()

        assert data_of(self.token) == {"start": True, "a": 1}

    def test_a_deadlock_in_the_callers_transaction_is_left_to_the_caller(
        self,
    ) -> None:
        first = loaded(self.token)
        first["a"] = 1

        with (
            deadlocking("mariadb", self.token),
            self.assertRaises(StoreUnavailable),
            transaction.atomic(using="mariadb"),
        ):
            first.save()

        assert data_of(self.token) == {"start": True}


class ClearExpiredRaceTests(RequiresDatabases, TransactionTestCase):
    """clearsessions meets a write that moved an expired row's expiry (a save
    that landed at the instant of expiry) while its batch waited for the row."""

    databases = {"default", "postgres", "mariadb"}  # noqa: RUF012

    def assert_kept_alive_row_survives(self, alias: str) -> None:
        token = started_on(self, alias)
        rows = Session.objects.using(alias)
        row = rows.filter(key=Store.digest(loaded(token).id))
        row.update(expires=timezone.now() - datetime.timedelta(seconds=1))

        def keep_alive(locked: threading.Event) -> None:
            row.update(expires=timezone.now() + datetime.timedelta(hours=1))
            locked.set()
            wait_for_a_waiter(alias)

        with in_another_transaction(alias, keep_alive):
            deleted = DatabaseStore(using=alias).clear_expired()

        assert deleted == 0
        assert row.exists()

    def test_a_row_kept_alive_meanwhile_is_not_deleted_on_postgresql(self) -> None:
        self.assert_kept_alive_row_survives("postgres")

    def test_a_row_kept_alive_meanwhile_is_not_deleted_on_mariadb(self) -> None:
        self.assert_kept_alive_row_survives("mariadb")

    def assert_the_rows_after_a_kept_alive_one_are_deleted(self, alias: str) -> None:
        rows = Session.objects.using(alias)
        kept = rows.filter(key=Store.digest("expired-00"))

        def keep_alive(locked: threading.Event) -> None:
            kept.update(expires=timezone.now() + datetime.timedelta(hours=1))
            locked.set()
            wait_for_a_waiter(alias)

        for batch_size in (10, 1):
            with self.subTest(batch_size=batch_size):
                rows.all().delete()
                now = timezone.now()
                # The kept-alive row expired first and was written first: the
                # first batch picks it whether it reads the expiry index or
                # the table.
                rows.bulk_create(
                    Session(
                        key=Store.digest(f"expired-{i:02}"),
                        data="{}",
                        expires=now - datetime.timedelta(minutes=20 - i),
                        created=now,
                        last_seen=now,
                    )
                    for i in range(20)
                )

                with in_another_transaction(alias, keep_alive):
                    deleted = DatabaseStore(using=alias).clear_expired(
                        batch_size=batch_size
                    )

                assert deleted == 19
                assert list(rows.values_list("key", flat=True)) == [kept.get().key]

    def test_a_batch_short_of_a_kept_alive_row_goes_on_on_postgresql(self) -> None:
        self.assert_the_rows_after_a_kept_alive_one_are_deleted("postgres")

    def test_a_batch_short_of_a_kept_alive_row_goes_on_on_mariadb(self) -> None:
        self.assert_the_rows_after_a_kept_alive_one_are_deleted("mariadb")


class CacheLettingAWriteIn(LocMemCache):
    """A cache whose next write runs ``before_next_write`` first: another
    save arriving between a save's write of the row and its copy's."""

    before_next_write: ClassVar[Callable[[], None] | None] = None

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        before = CacheLettingAWriteIn.before_next_write
        CacheLettingAWriteIn.before_next_write = None
        if before is not None:
            before()
        super().set(key, value, timeout, version)


class CopiesInTheOrderOfTheirRows(_TestCase):
    """cached_db: of two racing saves, the copy of the row written last is
    the one left in the cache. Mix into a ``TransactionTestCase`` whose
    ``databases`` hold ``alias``."""

    alias: ClassVar[str]

    def setUp(self) -> None:
        super().setUp()
        cache = {"BACKEND": f"{__name__}.CacheLettingAWriteIn", "LOCATION": "order"}
        settings = override_settings(CACHES={"default": cache})
        settings.enable()
        self.addCleanup(settings.disable)
        self.addCleanup(setattr, CacheLettingAWriteIn, "before_next_write", None)
        self.token = started_on(self, self.alias, "cached_db")

    def test_a_save_whose_copy_comes_late_costs_no_later_increment(self) -> None:
        first, second = loaded(self.token), loaded(self.token)
        first["a"] = 1
        second["b"] = 1
        errors: list[BaseException] = []

        def save_second() -> None:
            try:
                second.save()  # a stale version: merged onto the row
            except BaseException as error:
                errors.append(error)
            finally:
                connections.close_all()

        other = threading.Thread(target=save_second)

        def second_saves_meanwhile() -> None:
            other.start()
            # Until second has saved, or waits for a lock first still holds.
            wait_for_a_waiter(self.alias, unless=lambda: not other.is_alive())

        CacheLettingAWriteIn.before_next_write = second_saves_meanwhile
        first.save()
        other.join()
        # The next request increments the counter second saved.
        third = loaded(self.token)
        seen = third.get("b")
        third["b"] = (seen or 0) + 1
        third.save()

        assert errors == []
        assert seen == 1
        assert data_of(self.token) == {"start": True, "a": 1, "b": 2}
        row = DatabaseStore(using=self.alias).get(third.id)
        assert row is not None
        assert row.data == {"start": True, "a": 1, "b": 2}


class PostgresCopiesInTheOrderOfTheirRowsTests(
    RequiresDatabases, CopiesInTheOrderOfTheirRows, TransactionTestCase
):
    alias = "postgres"
    databases = {"default", "postgres"}  # noqa: RUF012


class MariaDBCopiesInTheOrderOfTheirRowsTests(
    RequiresDatabases, CopiesInTheOrderOfTheirRows, TransactionTestCase
):
    alias = "mariadb"
    databases = {"default", "mariadb"}  # noqa: RUF012

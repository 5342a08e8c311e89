"""The memory store: the shared contract, plus its bounds and thread safety."""

from __future__ import annotations

import datetime
import secrets
import sys
import threading
from typing import Any
from unittest import mock

from django.test import Client, SimpleTestCase, override_settings
from django.utils import timezone

from django_xsession.stores import get_store
from django_xsession.stores.base import Delta, Record, Store
from django_xsession.stores.memory import MemoryStore
from tests.store_contract import StoreContract

HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


class MemoryStoreTests(StoreContract, SimpleTestCase):
    def make_store(self) -> Store:
        return MemoryStore()


def new_sid() -> str:
    return secrets.token_urlsafe(24)


def live(
    data: dict[str, Any] | None = None, *, lasts: datetime.timedelta = HOUR
) -> Record:
    now = timezone.now()
    return Record(data={} if data is None else data, expires=now + lasts, created=now)


def create(store: Store, data: dict[str, Any] | None = None, **kwargs: Any) -> str:
    sid = new_sid()
    store.set(sid, live(data, **kwargs), create=True)
    return sid


def keys(*sids: str) -> set[str]:
    return {Store.digest(sid) for sid in sids}


class ThreadSafetyTests(SimpleTestCase):
    def test_concurrent_delta_updates_of_one_session_lose_nothing(self) -> None:
        store = MemoryStore()
        sid = create(store)
        threads, rounds = 8, 200
        start = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work(n: int) -> None:
            key = f"thread-{n}"
            try:
                start.wait()
                for _ in range(rounds):
                    loaded = store.get(sid)
                    assert loaded is not None
                    count = loaded.data.get(key, 0) + 1
                    store.set(
                        sid,
                        live({**loaded.data, key: count}),
                        delta=Delta({key: count}, frozenset()),
                    )
            except BaseException as exc:
                errors.append(exc)

        # Switch threads as often as possible, so that a read-modify-write
        # without the store's lock would interleave and lose updates.
        self.addCleanup(sys.setswitchinterval, sys.getswitchinterval())
        sys.setswitchinterval(1e-6)
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)

        assert errors == []
        assert not any(worker.is_alive() for worker in workers)
        final = store.get(sid)
        assert final is not None
        assert final.data == {f"thread-{n}": rounds for n in range(threads)}


class PruningTests(SimpleTestCase):
    def test_expired_sessions_are_pruned_by_writes_to_other_sessions(self) -> None:
        store = MemoryStore()
        now = timezone.now()
        for _ in range(100):
            create(store, {"abandoned": True}, lasts=MINUTE)

        with mock.patch("django.utils.timezone.now", return_value=now + 2 * MINUTE):
            newcomer = create(store, {"new": True})

            # Pruning exists to free the memory of sessions nobody reads
            # again, and every public read prunes too; only the private dict
            # shows what the process still holds right after the write.
            assert len(store._entries) == 1
            # Nothing expired was left for clear_expired() to delete.
            assert store.clear_expired() == 0
            assert set(store.all()) == keys(newcomer)

    def test_a_touched_session_survives_its_old_expiry(self) -> None:
        store = MemoryStore()
        now = timezone.now()
        sid = create(store, {"a": 1}, lasts=MINUTE)
        assert store.touch(sid, now + HOUR)

        with mock.patch("django.utils.timezone.now", return_value=now + 2 * MINUTE):
            create(store)

            assert len(store._entries) == 2
            record = store.get(sid)
            assert record is not None
            assert record.data == {"a": 1}


class MaxEntriesTests(SimpleTestCase):
    def test_the_least_recently_used_session_is_evicted(self) -> None:
        store = MemoryStore(max_entries=3)
        first, second, third = (create(store, {"n": n}) for n in range(3))

        fourth = create(store, {"n": 4})

        assert set(store.all()) == keys(second, third, fourth)
        assert store.get(first) is None

    def test_get_makes_a_session_recently_used(self) -> None:
        store = MemoryStore(max_entries=3)
        first, second, third = (create(store, {"n": n}) for n in range(3))

        assert store.get(first) is not None
        fourth = create(store, {"n": 4})

        assert set(store.all()) == keys(first, third, fourth)
        assert store.get(second) is None

    def test_an_update_makes_a_session_recently_used(self) -> None:
        store = MemoryStore(max_entries=3)
        first, second, third = (create(store, {"n": n}) for n in range(3))

        store.set(first, live({"n": 10}))
        fourth = create(store, {"n": 4})

        assert set(store.all()) == keys(first, third, fourth)
        assert store.get(second) is None

    def test_churn_keeps_only_the_newest_max_entries(self) -> None:
        store = MemoryStore(max_entries=10_000)
        expires = timezone.now() + HOUR
        sids = [f"churn-{n:06d}" for n in range(200_000)]

        for n, sid in enumerate(sids):
            store.set(sid, Record(data={"n": n}, expires=expires), create=True)

        assert store.length() == 10_000
        assert set(store.all()) == keys(*sids[-10_000:])
        newest = store.get(sids[-1])
        assert newest is not None
        assert newest.data == {"n": 199_999}
        assert all(store.get(sid) is None for sid in sids[:1000])

    def test_max_entries_below_one_is_refused(self) -> None:
        with self.assertRaisesMessage(ValueError, "max_entries"):
            MemoryStore(max_entries=0)
        with self.assertRaisesMessage(ValueError, "max_entries"):
            MemoryStore(max_entries=-1)

    def test_max_entries_of_one_keeps_the_last_session(self) -> None:
        store = MemoryStore(max_entries=1)
        create(store, {"n": 1})

        last = create(store, {"n": 2})

        assert set(store.all()) == keys(last)


class GetStoreTests(SimpleTestCase):
    def test_get_store_returns_one_shared_instance(self) -> None:
        store = get_store()
        sid = create(store, {"shared": True})

        assert get_store() is store
        record = get_store().get(sid)
        assert record is not None
        assert record.data == {"shared": True}
        store.destroy(sid)

    def test_other_options_build_another_instance(self) -> None:
        default = get_store()

        with override_settings(
            XSESSION={"STORE": {"BACKEND": "memory", "OPTIONS": {"MAX_ENTRIES": 5}}}
        ):
            small = get_store()
            assert small is not default
            assert isinstance(small, MemoryStore)
            assert small.max_entries == 5
            assert get_store() is small

        assert get_store() is default


class UseTzChangeTests(SimpleTestCase):
    """A test suite's ``override_settings(USE_TZ=...)`` meets the sessions the
    shared store holds from the tests before it, and leaves its own to those
    after it."""

    def setUp(self) -> None:
        store = get_store()
        store.clear()
        self.addCleanup(store.clear)

    def test_requests_after_sessions_written_without_use_tz_save(self) -> None:
        earlier = Client(raise_request_exception=False)
        with override_settings(USE_TZ=False):
            assert earlier.get("/write/", {"a": "1"}).status_code == 200

        continued = earlier.get("/write/", {"b": "2"})
        assert continued.status_code == 200
        assert continued.json() == {"a": "1", "b": "2"}
        for _ in range(3):
            newcomer = Client(raise_request_exception=False)
            assert newcomer.get("/write/", {"c": "3"}).status_code == 200

    def test_a_session_written_under_use_tz_saves_without_it(self) -> None:
        client = Client(raise_request_exception=False)
        assert client.get("/write/", {"a": "1"}).status_code == 200

        with override_settings(USE_TZ=False):
            continued = client.get("/write/", {"b": "2"})
            assert continued.status_code == 200
            assert continued.json() == {"a": "1", "b": "2"}
            newcomer = Client(raise_request_exception=False)
            assert newcomer.get("/write/", {"c": "3"}).status_code == 200

"""A save that fails half-way leaves the stored session as it was."""

from __future__ import annotations

from typing import Any
from unittest import mock

from django.test import TransactionTestCase, override_settings

from django_xsession.engine import SessionStore
from django_xsession.models import Session as SessionRow
from django_xsession.stores.db import DatabaseStore

DB: dict[str, Any] = {"STORE": "db"}


class Crash(Exception):
    pass


@override_settings(XSESSION=DB)
class HalfWaySaveTests(TransactionTestCase):
    def stored(self) -> SessionStore:
        session = SessionStore()
        session.update({"a": 1, "b": 2})
        session.save()
        return session

    def row(self, session: SessionStore) -> tuple[str, Any, int]:
        row = SessionRow.objects.get()
        return row.data, row.expires, row.version

    def test_a_crash_inside_the_locked_merge_rolls_back(self) -> None:
        session = self.stored()
        # Another request saved meanwhile, so this save takes the locked path:
        # its first UPDATE (expiry, version) runs, then the data write fails.
        loaded = SessionStore(session.session_key)
        loaded["a"] = 10
        other = SessionStore(session.session_key)
        other["c"] = 3
        other.save()
        before = self.row(session)
        encode = DatabaseStore._encode
        calls = 0

        def crash_on_the_merge(store: DatabaseStore, *args: Any) -> str:
            nonlocal calls
            calls += 1
            if calls > 1:
                raise Crash
            return encode(store, *args)

        with (
            mock.patch.object(DatabaseStore, "_encode", crash_on_the_merge),
            self.assertRaises(Crash),
        ):
            loaded.save()
        assert calls == 2  # the fast path tried, then the locked merge crashed
        assert self.row(session) == before
        assert SessionStore(session.session_key).load() == {"a": 1, "b": 2, "c": 3}

    def test_a_crash_before_the_store_changes_nothing(self) -> None:
        session = self.stored()
        before = self.row(session)
        session["a"] = object()  # not JSON: encoding fails before any write
        with self.assertRaises(TypeError):
            session.save()
        assert self.row(session) == before

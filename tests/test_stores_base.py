"""What the Store base class gives every store, its own included."""

from __future__ import annotations

import datetime
import pickle

from django.test import SimpleTestCase
from django.utils import timezone

from django_xsession.stores.base import Record, Store


class BareStore(Store):
    """A store that sets nothing up: the defaults of Store alone."""


class SerializerTests(SimpleTestCase):
    def test_a_store_encodes_with_session_serializer_without_setting_one(
        self,
    ) -> None:
        data = {"day": datetime.date(2026, 11, 28)}
        record = Record(data={}, expires=timezone.now())

        with self.settings(SESSION_SERIALIZER="tests.store_contract.PickleSerializer"):
            store = BareStore()
            encoded = store.encode(data, record)

            self.assertEqual(pickle.loads(encoded), data)
            self.assertEqual(store.decoded(encoded), (data, encoded))

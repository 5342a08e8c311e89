"""The Redis store: the shared contract against a real Redis."""

from __future__ import annotations

from django.test import SimpleTestCase

from django_xsession.stores.base import Store
from django_xsession.stores.redis import RedisStore
from tests.store_contract import StoreContract


class RedisStoreTests(StoreContract, SimpleTestCase):
    expires_on_django_clock = False

    def make_store(self) -> Store:
        return RedisStore(cache="redis")

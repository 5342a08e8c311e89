"""The database store: the shared contract on SQLite, and what only it does."""

from __future__ import annotations

from django.test import TestCase

from django_xsession.stores.base import Store
from django_xsession.stores.db import DatabaseStore
from tests.store_contract import StoreContract


class DatabaseStoreTests(StoreContract, TestCase):
    def make_store(self) -> Store:
        return DatabaseStore()

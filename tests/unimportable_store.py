"""A store module whose own imports fail, as one missing a dependency does."""

from __future__ import annotations

from xsession_tests_missing_dependency import Client  # type: ignore[import-not-found]

from django_xsession.stores.memory import MemoryStore


class ClientStore(MemoryStore):
    """Would talk to ``Client``; never imported."""

    client = Client

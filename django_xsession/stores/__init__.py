"""Session stores, one per module; :func:`get_store` returns the configured one."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from django_xsession.conf import StoreConfig, get_options
from django_xsession.stores.base import Store

_stores: dict[str, Store] = {}
# Options are rebuilt only when settings change: remember each one's store.
_by_config: dict[int, tuple[StoreConfig, Store]] = {}
_lock = threading.Lock()


def get_store() -> Store:
    """The store named by ``XSESSION["STORE"]``, built once per configuration."""
    return store_for(get_options().store)


def store_for(config: StoreConfig) -> Store:
    """The shared instance for ``config``, so every request sees the same data."""
    known = _by_config.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    key = (
        f"{config.backend}:{settings.SESSION_SERIALIZER}:"
        f"{sorted(config.options.items())!r}"
    )
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = import_string(config.backend)(**config.options)
                _stores[key] = store
    if len(_by_config) > 64:
        _by_config.clear()
    _by_config[id(config)] = (config, store)
    return store


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs: Any) -> None:
    # Each store encodes with the serializer in force when it was built.
    if setting == "SESSION_SERIALIZER":
        _by_config.clear()

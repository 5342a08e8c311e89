"""Moving sessions from ``django.contrib.sessions`` without logging anyone out."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from django.contrib.sessions.backends import signed_cookies
from django.contrib.sessions.backends.base import SessionBase

from django_xsession.session import Session

# contrib.sessions' keys: get_random_string(32, ascii_lowercase + digits).
_LEGACY_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def looks_legacy(value: str) -> bool:
    return 8 <= len(value) <= 40 and set(value) <= _LEGACY_KEY_CHARS


def adopt(session: Session, values: Iterable[str], engine: str) -> SessionBase | None:
    """Copy the first live legacy session among ``values`` into ``session``.

    Returns the legacy session, to be deleted once ours is saved, or ``None``.
    """
    store_class = import_module(engine).SessionStore
    # A signed_cookies key is the signed cookie itself, checked without any
    # lookup; other engines' keys have a shape worth checking before each
    # becomes a query.
    key_shaped = not issubclass(store_class, signed_cookies.SessionStore)
    for value in values:
        if key_shaped and not looks_legacy(value):
            continue
        legacy = store_class(value)
        data = legacy.load()
        if data:
            session.update(data)
            return legacy  # type: ignore[no-any-return]
    return None

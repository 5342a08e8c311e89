"""Moving sessions from ``django.contrib.sessions`` without logging anyone out."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from django.contrib.sessions.backends import signed_cookies
from django.contrib.sessions.backends.base import SessionBase

from django_xsession.session import Session, store_logger

# contrib.sessions' keys: get_random_string(32, ascii_lowercase + digits).
_LEGACY_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

# A session too large to move stays where it is, and its browser sends the
# same key on every request: remember its size rather than read and measure
# it each time. Only sessions that exist get here, so junk cannot fill this.
_oversized: dict[str, int] = {}
_OVERSIZED_MAX = 1_000


def looks_legacy(value: str) -> bool:
    return 8 <= len(value) <= 40 and set(value) <= _LEGACY_KEY_CHARS


def adopt(session: Session, values: Iterable[str], engine: str) -> SessionBase | None:
    """Copy the first live legacy session among ``values`` into ``session``.

    Returns the legacy session, to be deleted once ours is saved, or ``None``.
    One larger than ``MAX_SIZE`` is left where it is, and not copied.
    """
    limit = session.options.max_size
    store_class = import_module(engine).SessionStore
    # A signed_cookies key is the signed cookie itself, checked without any
    # lookup; other engines' keys have a shape worth checking before each
    # becomes a query.
    key_shaped = not issubclass(store_class, signed_cookies.SessionStore)
    for value in values:
        if key_shaped and not looks_legacy(value):
            continue
        if _oversized.get(value, 0) > limit:
            continue
        legacy = store_class(value)
        data = legacy.load()
        if not data:
            continue
        size = len(session._dumps(data))
        if size > limit:
            _refuse(value, size, limit)
            continue
        session.update(data)
        return legacy  # type: ignore[no-any-return]
    return None


def _refuse(value: str, size: int, limit: int) -> None:
    # Moving it would fail at the save, on every request: the old session
    # stays intact instead (a rollback finds it), and this request is served
    # with a fresh one.
    store_logger.warning(
        "A django.contrib.sessions session of %s bytes when serialized, over "
        "XSESSION['MAX_SIZE'] of %s bytes, was not moved: it stays in "
        "LEGACY_ENGINE and the request gets a new session.",
        f"{size:,}",
        f"{limit:,}",
    )
    if len(_oversized) >= _OVERSIZED_MAX:
        _oversized.clear()
    _oversized[value] = size

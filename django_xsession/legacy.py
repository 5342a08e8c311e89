"""Moving sessions from ``django.contrib.sessions`` without logging anyone out."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from importlib import import_module

from django.contrib.sessions.backends import signed_cookies
from django.contrib.sessions.backends.base import SessionBase, UpdateError

from django_xsession.session import Session

# contrib.sessions' keys: get_random_string(32, ascii_lowercase + digits).
_LEGACY_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# A moved legacy session keeps only this: the cookie of the session it moved
# into, so that requests the browser sent before it had our cookie join it.
MOVED_TO = "_xsession_moved_to"
# Long enough for the requests already under way when the first one moved it.
MOVED_SECONDS = 60


def looks_legacy(value: str) -> bool:
    return 8 <= len(value) <= 40 and set(value) <= _LEGACY_KEY_CHARS


def _signs_itself(store_class: type[SessionBase]) -> bool:
    # A signed_cookies key is the signed cookie itself: nothing is stored.
    return issubclass(store_class, signed_cookies.SessionStore)


def adopt(
    session: Session, values: Iterable[str], engine: str
) -> SessionBase | str | None:
    """Copy the first live legacy session among ``values`` into ``session``.

    Returns the legacy session, to be retired once ours is saved or ended;
    the cookie of the session a recent request already moved it into; or
    ``None``.
    """
    store_class = import_module(engine).SessionStore
    # Checking a signed cookie costs no lookup; other engines' keys have a
    # shape worth checking before each becomes a query.
    key_shaped = not _signs_itself(store_class)
    for value in values:
        if key_shaped and not looks_legacy(value):
            continue
        legacy = store_class(value)
        data = legacy.load()
        moved_to = data.get(MOVED_TO)
        if isinstance(moved_to, str):
            return moved_to
        if data:
            session.update(data)
            return legacy  # type: ignore[no-any-return]
    return None


def retire(legacy: SessionBase, successor: str) -> None:
    """Point ``legacy`` at our cookie ``successor`` for a minute, or delete it.

    An empty ``successor`` (the adopted session ended) deletes it now.
    """
    if not successor or _signs_itself(type(legacy)):
        legacy.delete()
        return
    legacy.clear()
    legacy[MOVED_TO] = successor
    legacy.set_expiry(MOVED_SECONDS)
    # UpdateError: a concurrent request ended it meanwhile; nothing to join.
    with suppress(UpdateError):
        legacy.save()

"""Signals about a session's life. Each is sent once per event.

Every signal carries ``request`` (or ``None`` outside a request) and hashes
of session ids, never the ids themselves:

- ``session_created(key_hash)``: a new session was first stored.
- ``session_regenerated(old_key_hash, new_key_hash)``: a session moved to a
  new id (``cycle_key``, ``regenerate``, ``contrib.auth.login``); the new id
  is stored.
- ``session_destroyed(key_hash)``: a session was ended by its own request
  (``flush``, ``destroy``, ``logout``, ``UNSET="destroy"``; also a rotation
  that request ended before storing the new id, under the old id's hash),
  or was found past ``IDLE_TIMEOUT`` or ``ABSOLUTE_TIMEOUT`` when loaded. A session its
  store expires by itself (its stored expiry, which ``ABSOLUTE_TIMEOUT``
  caps) sends nothing.
- ``session_revoked(key_hash, user_id)``: :func:`django_xsession.revoke`
  ended a session from elsewhere.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.dispatch import Signal

session_created = Signal()
session_regenerated = Signal()
session_destroyed = Signal()
session_revoked = Signal()


async def asend(signal: Signal, **kwargs: Any) -> None:
    """``signal.send`` from async code, where a receiver may use the ORM or be
    a coroutine function (Django's ``asend``; a thread before Django 5.0)."""
    if hasattr(signal, "asend"):
        await signal.asend(**kwargs)
    else:
        await sync_to_async(signal.send)(**kwargs)

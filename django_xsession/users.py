"""Per-user sessions: list them, and end them ("log out other devices")."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from django_xsession.conf import get_options
from django_xsession.session import timed_out
from django_xsession.signals import asend, session_revoked
from django_xsession.stores import get_store
from django_xsession.stores.base import Record, Store


def handle_of(key_hash: str) -> str:
    """The public handle of the session stored under ``key_hash``."""
    return hashlib.sha256(f"django_xsession.handle:{key_hash}".encode()).hexdigest()[
        :32
    ]


def _key_hash(session: SessionBase | None) -> str | None:
    from django_xsession.session import Session

    if not isinstance(session, Session):
        return None
    sid = session._current_sid()
    return None if sid is None else Store.digest(sid)


@dataclass(frozen=True)
class SessionInfo:
    """One live session of a user, safe to show to that user.

    ``handle`` identifies the session for :func:`revoke`; it is derived from
    the stored hash of the id, so it reveals nothing that opens the session.
    ``ip`` and ``user_agent`` are what the session was last saved from, when
    ``XSESSION["RECORD_METADATA"]`` is on. ``last_seen`` is its last save,
    or its last refresh under ``ROLLING`` or ``IDLE_TIMEOUT``.
    """

    handle: str
    created: datetime.datetime | None
    last_seen: datetime.datetime | None
    expires: datetime.datetime
    ip: str | None
    user_agent: str | None

    def is_current(self, request: HttpRequest) -> bool:
        """Whether this is the session ``request`` is served with."""
        key_hash = _key_hash(getattr(request, "session", None))
        return key_hash is not None and handle_of(key_hash) == self.handle


def _user_id(user: Any) -> str:
    return str(user.pk)


def _infos(records: dict[str, Record]) -> list[SessionInfo]:
    infos = [
        SessionInfo(
            handle=handle_of(key_hash),
            created=record.created,
            last_seen=record.last_seen,
            expires=record.expires,
            ip=record.meta.get("ip") or None,
            user_agent=record.meta.get("user_agent") or None,
        )
        for key_hash, record in records.items()
    ]
    # Never-used sessions go last, compared with no made-up epoch: times are
    # naive under USE_TZ=False and aware otherwise.
    used = sorted(
        (info for info in infos if info.last_seen is not None),
        key=attrgetter("last_seen"),
        reverse=True,
    )
    return used + [info for info in infos if info.last_seen is None]


def sessions_of(user: Any) -> list[SessionInfo]:
    """The user's live sessions, the most recently seen first."""
    return _infos(_live(get_store().user_sessions(_user_id(user))))


async def asessions_of(user: Any) -> list[SessionInfo]:
    return _infos(_live(await get_store().auser_sessions(_user_id(user))))


def _targets(
    records: dict[str, Record], keep: SessionBase | None, handles: Iterable[str] | None
) -> list[str]:
    kept = _key_hash(keep)
    chosen = None if handles is None else set(handles)
    return [
        key_hash
        for key_hash in records
        if key_hash != kept and (chosen is None or handle_of(key_hash) in chosen)
    ]


def _live(records: dict[str, Record]) -> dict[str, Record]:
    """``records`` but those ``IDLE_TIMEOUT`` or ``ABSOLUTE_TIMEOUT`` ended."""
    options = get_options()
    return {
        key: record for key, record in records.items() if not timed_out(record, options)
    }


def _revocations(
    user: Any, targets: list[str], keep: SessionBase | None
) -> list[dict[str, Any]]:
    """What ``session_revoked`` is sent, once per session ended."""
    # The request revoking "every other device" is the one keep serves.
    request = getattr(keep, "request", None)
    user_id = _user_id(user)
    return [
        {
            "sender": SessionInfo,
            "key_hash": key_hash,
            "user_id": user_id,
            "request": request,
        }
        for key_hash in targets
    ]


def _split(
    records: dict[str, Record], keep: SessionBase | None, handles: Iterable[str] | None
) -> tuple[list[str], list[str]]:
    """The chosen sessions: those still live, and those a timeout ended."""
    targets = _targets(records, keep, handles)
    live = _live({key: records[key] for key in targets})
    return list(live), [key for key in targets if key not in live]


# A rotation stores a login's new id before deleting the old one, so one
# that completes between a listing and its deletions is found by the next
# listing (and that device is signalled under both ids: one statement per
# listing cannot tell which of its keys another request deleted first).
# Listing again until one finds nothing catches every such rotation; the
# bound keeps a device rotating without end from looping.
_MAX_LISTINGS = 8


def revoke(
    user: Any,
    *,
    keep: SessionBase | None = None,
    handles: Iterable[str] | None = None,
) -> int:
    """End the user's sessions and return how many ended.

    All of them; or all but ``keep`` (pass ``request.session`` to log out
    every other device); or only those whose ``handle`` is in ``handles``.
    Their next request is anonymous.
    """
    store = get_store()
    ended = 0
    signalled: list[str] = []
    for _ in range(_MAX_LISTINGS):
        live, ended_before = _split(store.user_sessions(_user_id(user)), keep, handles)
        if ended_before:
            # A timeout ended these: not counted, nor signalled, but not left
            # behind.
            store.destroy_keys(ended_before)
        if not live:
            break
        ended += store.destroy_keys(live)
        signalled += live
        if handles is not None:
            # A new id has a new handle: no chosen session comes back.
            break
    for revocation in _revocations(user, signalled, keep):
        session_revoked.send(**revocation)
    return ended


async def arevoke(
    user: Any,
    *,
    keep: SessionBase | None = None,
    handles: Iterable[str] | None = None,
) -> int:
    store = get_store()
    ended = 0
    signalled: list[str] = []
    for _ in range(_MAX_LISTINGS):
        records = await store.auser_sessions(_user_id(user))
        live, ended_before = _split(records, keep, handles)
        if ended_before:
            await store.adestroy_keys(ended_before)
        if not live:
            break
        ended += await store.adestroy_keys(live)
        signalled += live
        if handles is not None:
            break
    for revocation in _revocations(user, signalled, keep):
        await asend(session_revoked, **revocation)
    return ended

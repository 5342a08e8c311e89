"""Sessions in Redis, through the connection django-redis already manages."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import redis.exceptions
from django.conf import settings
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from django_xsession.stores.base import (
    AUTH_USER_KEY,
    CreateError,
    Delta,
    Record,
    Store,
    StoreUnavailable,
    UpdateError,
    parse_time,
    session_serializer,
    suspicious,
    user_of,
)

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

_T = TypeVar("_T")
# What a Redis that cannot serve the store raises: unreachable, slow or
# loading its dataset (BusyLoadingError is a ConnectionError); up and
# refusing writes, full under noeviction or a replica since a failover; or
# a replica cut off from its primary that serves no stale data.
# redis-py 4.1 added MasterDownError and 4.6 OutOfMemoryError: the cache
# store meets whatever redis-py Django's own Redis backend runs on, and an
# older one raises those refusals as a plain ResponseError.
_OUTAGES: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    *(
        getattr(redis.exceptions, name)
        for name in ("OutOfMemoryError", "MasterDownError")
        if hasattr(redis.exceptions, name)
    ),
)
# Refusals redis-py raises as a plain ResponseError: a Redis that cannot
# persist (a snapshot failed), a primary short of the replicas
# min-replicas-to-write asks for, or (before redis-py 6.0 made it a
# MasterDownError outside Redis Cluster) a replica cut off from its primary;
# before redis-py 4.6, a Redis full under noeviction.
_REFUSALS = ("MISCONF ", "NOREPLICAS ", "MASTERDOWN ", "OOM ")
# What redis-py puts before the reply of a pipeline's failing command.
_PIPELINE_ANNOTATION = re.compile(
    r"Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL
)

# A session is one hash: "d:<key>" holds each data key's encoded value, so a
# save can set and delete single keys; "m:<name>" holds the record's meta.
DATA = "d:"
# A data key the serializer keeps as other than text (7 or (1, 2) under
# pickle): "k:" and the serializer's bytes of {key: None}.
KEYED = "k:"
EXPIRES = "m:expires"
COOKIE = "m:cookie"
CREATED = "m:created"
LAST_SEEN = "m:seen"
# Record.meta's keys, stored as "m:meta:<name>".
META = "m:meta:"
# The session's user as sessions_of looks it up, plain text: the scripts
# that keep the per-user index read it, and cannot decode every serializer.
USER = "m:user"
# The same names as they come back from Redis.
_DATA, _KEYED, _EXPIRES, _COOKIE, _CREATED, _LAST_SEEN, _META, _USER = (
    name.encode()
    for name in (DATA, KEYED, EXPIRES, COOKIE, CREATED, LAST_SEEN, META, USER)
)
# A data key can hold a lone surrogate (JSON's "\ud800" decodes to one),
# which strict UTF-8 refuses: field names pass it through both ways.
_KEY_ERRORS = "surrogatepass"
_CORRUPT_KEY = "Session data corrupted: a key is treated as absent."


# Lua shared by the scripts: the per-user index, a sorted set of session
# hashes scored by expiry.
_USER_INDEX = """
local function expire_with_latest(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, last[2]) end
end
local function index(user_prefix, user, digest, expires_ms, now_ms)
  local key = user_prefix .. user
  redis.call('ZADD', key, expires_ms, digest)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now_ms)
  expire_with_latest(key)
end
local function unindex(user_prefix, user, digest)
  local key = user_prefix .. user
  redis.call('ZREM', key, digest)
  expire_with_latest(key)
end
"""

# KEYS[1] session (and, for mode "move", KEYS[2] the session it replaces);
# ARGV: mode, expires_ms, now_ms, user prefix, digest, n, n field/value
# pairs, m, m fields to delete.
_SAVE = (
    _USER_INDEX
    + """
local key, mode = KEYS[1], ARGV[1]
local exists = redis.call('EXISTS', key)
if mode == 'create' or mode == 'move' then
  if exists == 1 then return 'taken' end
elseif exists == 0 then
  return 'missing'
end
if mode == 'move' then
  local moved = KEYS[2]
  local moved_user = redis.call('HGET', moved, ARGV[6])
  if redis.call('DEL', moved) == 0 then return 'gone' end
  -- A session's key ends with its digest, 64 hex digits.
  if moved_user then unindex(ARGV[4], moved_user, string.sub(moved, -64)) end
  mode = 'create'
end
local old_user = nil
if mode ~= 'create' then old_user = redis.call('HGET', key, ARGV[6]) end
if mode == 'replace' then
  -- The new data replaces all of the old; the creation time stays, and so
  -- does the meta unless the save brings its own.
  local stale = {}
  for _, name in ipairs(redis.call('HKEYS', key)) do
    local kind = string.sub(name, 1, 2)
    if kind == 'd:' or kind == 'k:' then stale[#stale + 1] = name end
  end
  for start = 1, #stale, 1000 do
    redis.call('HDEL', key, unpack(stale, start, math.min(start + 999, #stale)))
  end
end
-- unpack() gives a few thousand values at most: ARGV[first..last] goes in
-- chunks, of an even size so that HSET's fields stay with their values.
local function in_chunks(command, first, last)
  for start = first, last, 1000 do
    redis.call(command, key, unpack(ARGV, start, math.min(start + 999, last)))
  end
end
local removed_at = 8 + 2 * tonumber(ARGV[7])
-- Removals first, as Delta.apply does them: a key removed and set again
-- as one the serializer names alike ("7" loaded, 7 set, under JSON) is one
-- field, and keeps the value.
in_chunks('HDEL', removed_at + 1, removed_at + tonumber(ARGV[removed_at]))
in_chunks('HSET', 8, removed_at - 1)
redis.call('PEXPIREAT', key, ARGV[2])
local new_user = redis.call('HGET', key, ARGV[6])
if old_user and old_user ~= new_user then
  unindex(ARGV[4], old_user, ARGV[5])
end
if new_user then index(ARGV[4], new_user, ARGV[5], ARGV[2], ARGV[3]) end
return 'ok'
"""
)

# KEYS[1] session; ARGV: expires_ms, then field/value pairs. A new session
# nobody is logged in to has no user index to keep: this is _SAVE's create
# without the work that needs (a third of the server time a save takes).
_CREATE_ANONYMOUS = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return 'taken' end
for start = 2, #ARGV, 1000 do
  redis.call('HSET', key, unpack(ARGV, start, math.min(start + 999, #ARGV)))
end
redis.call('PEXPIREAT', key, ARGV[1])
return 'ok'
"""

# KEYS[1] session; ARGV: expires_ms, expires ISO, now_ms, user prefix, digest.
_TOUCH = (
    _USER_INDEX
    + """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'm:expires', ARGV[2], 'm:seen', ARGV[6])
redis.call('PEXPIREAT', key, ARGV[1])
local user = redis.call('HGET', key, 'm:user')
if user then index(ARGV[4], user, ARGV[5], ARGV[1], ARGV[3]) end
return 1
"""
)

# KEYS[1] a user's index; ARGV: now_ms, the sessions' key prefix. One
# script, so a session moved to a new id meanwhile is read under one of them.
_USER_SESSIONS = """
local found = {}
for _, digest in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')) do
  found[#found + 1] = digest
  found[#found + 1] = redis.call('HGETALL', ARGV[2] .. digest)
end
return found
"""

# KEYS[1] session; ARGV: user prefix, digest.
_DESTROY = (
    _USER_INDEX
    + """
local user = redis.call('HGET', KEYS[1], 'm:user')
local deleted = redis.call('DEL', KEYS[1])
if user then unindex(ARGV[1], user, ARGV[2]) end
return deleted
"""
)


# KEYS: sessions; ARGV: user prefix, the user's field. Each session goes
# with its user's index: clear() cannot scan for indexes, whose names do not
# tell this store's from those of a store whose prefix extends it by "u:".
_CLEAR = (
    _USER_INDEX
    + """
for _, key in ipairs(KEYS) do
  local user = redis.call('HGET', key, ARGV[2])
  if user then redis.call('UNLINK', ARGV[1] .. user) end
  redis.call('UNLINK', key)
end
return #KEYS
"""
)


def is_outage(error: BaseException) -> bool:
    """Whether redis-py's ``error`` says Redis cannot serve commands now,
    rather than that a command was wrong."""
    if isinstance(error, _OUTAGES):
        return True
    if not isinstance(error, ResponseError):
        return False
    reply = str(error)
    annotation = _PIPELINE_ANNOTATION.match(reply)
    if annotation is not None:
        reply = reply[annotation.end() :]
    return reply.startswith(_REFUSALS)


def _literal(text: str) -> str:
    """``text`` escaped to match only itself in a SCAN ``MATCH`` pattern."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


def _ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _optional_time(
    text: bytes | None, now: datetime.datetime
) -> datetime.datetime | None:
    """A creation or last-seen time; ``None``, logged, if it is corrupt."""
    try:
        return parse_time(text, now)
    except ValueError:
        suspicious.warning("Session metadata corrupted: a time is treated as absent.")
        return None


class RedisStore(Store):
    """Sessions in Redis hashes, with Redis's own TTL as their expiry.

    ``cache`` names the django-redis cache whose connection (and so whose
    Sentinel or replica setup) is used; nothing connects before the first
    request. Keys live under ``prefix`` and hold only the hashed id; the
    default prefix is ``"xsession:"``, after the cache's ``KEY_PREFIX`` and
    a colon where it has one. Each request costs one round trip to load and
    one, a Lua script, to save; a save sets and deletes only the keys the
    request changed.
    """

    expires_by_itself = True
    joins_callers_transaction = False

    def __init__(self, *, cache: str = "default", prefix: str | None = None) -> None:
        self.cache = cache
        self._prefix = prefix
        self._default_prefix = ""
        self._default_prefix_for: Any = None
        self.serializer: Any = session_serializer()
        # What nearly every session stores as its cookie overrides.
        self._no_overrides: bytes = self.serializer.dumps({})
        self._client: Redis | None = None
        self._client_for: Any = None
        self._scripts: dict[str, Script] = {}

    @property
    def prefix(self) -> str:
        """What every key of the store starts with."""
        if self._prefix is not None:
            return self._prefix
        # Sites that share a Redis database apart by their caches' KEY_PREFIX
        # must not share sessions, per-user indexes or clear().
        configured = settings.CACHES
        if self._default_prefix_for is not configured:
            key_prefix = configured.get(self.cache, {}).get("KEY_PREFIX", "")
            self._default_prefix = (
                f"{key_prefix}:xsession:" if key_prefix else "xsession:"
            )
            self._default_prefix_for = configured
        return self._default_prefix

    @property
    def client(self) -> Redis:
        # Looked up again once CACHES is another object (override_settings):
        # Django has rebuilt its caches, and the alias may point elsewhere.
        configured = settings.CACHES
        if self._client is None or self._client_for is not configured:
            from django_redis import get_redis_connection  # type: ignore[import-untyped]

            self._scripts = {}
            self._client = get_redis_connection(self.cache)
            self._client_for = configured
        return self._client

    def _script(self, source: str) -> Script:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return script

    def _run(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except RedisError as error:
            if not is_outage(error):
                raise
            raise StoreUnavailable(
                f"Redis ({self.cache!r}) is unavailable: {error}"
            ) from error

    def session_key(self, digest: str) -> str:
        return f"{self.prefix}s:{digest}"

    @property
    def user_prefix(self) -> str:
        return f"{self.prefix}u:"

    def _record(self, fields: dict[bytes, bytes]) -> Record | None:
        expires_raw = fields.get(_EXPIRES)
        if expires_raw is None:
            return None
        now = timezone.now()
        try:
            expires = parse_time(expires_raw, now)
        except ValueError:
            suspicious.warning(
                "Session expiry corrupted: the session is treated as absent."
            )
            return None
        if expires <= now:
            return None
        loads = self.serializer.loads
        data = {}
        meta = {}
        for name, value in fields.items():
            if name.startswith(_DATA):
                # Each key is its own field: a corrupt one is dropped alone.
                try:
                    data[name[len(_DATA) :].decode("utf-8", _KEY_ERRORS)] = loads(value)
                except Exception:
                    suspicious.warning(_CORRUPT_KEY)
            elif name.startswith(_META):
                try:
                    meta[name[len(_META) :].decode()] = value.decode()
                except UnicodeDecodeError:
                    suspicious.warning(
                        "Session metadata corrupted: a field is treated as absent."
                    )
            elif name.startswith(_KEYED):
                try:
                    data[next(iter(loads(name[len(_KEYED) :])))] = loads(value)
                except Exception:
                    suspicious.warning(_CORRUPT_KEY)
        cookie_raw = fields.get(_COOKIE)
        cookie = (
            self.decode(cookie_raw)
            if cookie_raw and cookie_raw != self._no_overrides
            else None
        )
        return Record(
            data=data,
            expires=expires,
            cookie=cookie or {},
            created=_optional_time(fields.get(_CREATED), now),
            last_seen=_optional_time(fields.get(_LAST_SEEN), now),
            meta=meta,
        )

    def _field(self, key: Any) -> bytes:
        """The hash field of data key ``key``."""
        if not isinstance(key, str):
            # Named as the other stores give it back, through the whole
            # data's round trip in the serializer: 7 is "7" under JSON and
            # stays 7 under pickle, apart from "7".
            dumps: Callable[[Any], bytes] = self.serializer.dumps
            key = next(iter(self.serializer.loads(dumps({key: None}))))
            if not isinstance(key, str):
                return _KEYED + dumps({key: None})
        return _DATA + key.encode("utf-8", _KEY_ERRORS)

    def get(self, sid: str) -> Record | None:
        key = self.session_key(self.digest(sid))
        fields: dict[bytes, bytes] = self._run(lambda: self.client.hgetall(key))  # type: ignore[arg-type,return-value]
        return self._record(fields)

    def set(
        self,
        sid: str,
        record: Record,
        *,
        create: bool = False,
        delta: Delta | None = None,
    ) -> None:
        if create:
            self._save(sid, record, "create")
        elif delta is None:
            self._save(sid, record, "replace")
        else:
            self._save(sid, record, "update", delta.changed, tuple(delta.removed))

    def replace(self, old_sid: str, sid: str, record: Record) -> bool:
        # One script: the old id is deleted as the new one is created.
        return self._save(sid, record, "move", moved=old_sid)

    def _save(
        self,
        sid: str,
        record: Record,
        mode: str,
        changed: Mapping[str, Any] | None = None,
        removed: tuple[str, ...] = (),
        *,
        moved: str | None = None,
    ) -> bool:
        """Run the save script; ``False`` if the session to move was gone."""
        digest = self.digest(sid)
        dumps = self.serializer.dumps
        if changed is None:
            changed = record.data
        now = timezone.now()
        pairs: list[str | bytes] = [
            EXPIRES,
            record.expires.isoformat(),
            COOKIE,
            dumps(dict(record.cookie)) if record.cookie else self._no_overrides,
            LAST_SEEN,
            (record.last_seen or now).isoformat(),
        ]
        if mode in ("create", "move"):
            # An update keeps the creation time the session already has.
            pairs += [CREATED, (record.created or now).isoformat()]
        for name, text in record.meta.items():
            pairs += [META + name, text]
        for name, value in changed.items():
            pairs += [self._field(name), dumps(value)]
        deleted = [self._field(name) for name in removed]
        # An update that leaves the user alone leaves the stored one: a
        # concurrent login or logout may have changed it since this loaded.
        user = user_of(changed)
        if user is not None:
            pairs += [USER, user]
        elif mode == "replace" or (
            mode == "update" and (AUTH_USER_KEY in changed or AUTH_USER_KEY in removed)
        ):
            deleted.append(_USER)
        expires_ms = _ms(record.expires)
        keys = [self.session_key(digest)]
        if moved is not None:
            keys.append(self.session_key(self.digest(moved)))
        args: list[Any]
        if mode == "create" and user is None:
            script = self._script(_CREATE_ANONYMOUS)
            args = [expires_ms, *pairs]
        else:
            script = self._script(_SAVE)
            args = [
                mode,
                expires_ms,
                _ms(now),
                self.user_prefix,
                digest,
                USER,
                len(pairs) // 2,
                *pairs,
                len(deleted),
                *deleted,
            ]
        outcome = self._run(lambda: script(keys=keys, args=args))
        if outcome == b"taken":
            raise CreateError
        if outcome == b"missing":
            raise UpdateError
        return bool(outcome != b"gone")

    def destroy(self, sid: str) -> bool:
        digest = self.digest(sid)
        script = self._script(_DESTROY)
        return bool(
            self._run(
                lambda: script(
                    keys=[self.session_key(digest)], args=[self.user_prefix, digest]
                )
            )
        )

    def touch(self, sid: str, expires: datetime.datetime) -> bool:
        digest = self.digest(sid)
        script = self._script(_TOUCH)
        now = timezone.now()
        args: list[str | int] = [
            _ms(expires),
            expires.isoformat(),
            _ms(now),
            self.user_prefix,
            digest,
            now.isoformat(),
        ]
        return bool(
            self._run(lambda: script(keys=[self.session_key(digest)], args=args))
        )

    def user_sessions(self, user_id: str) -> dict[str, Record]:
        script = self._script(_USER_SESSIONS)
        now = _ms(timezone.now())
        found: list[Any] = self._run(
            lambda: script(
                keys=[f"{self.user_prefix}{user_id}"],
                args=[now, self.session_key("")],
            )
        )
        records = {}
        for digest, flat in zip(found[::2], found[1::2], strict=True):
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            record = self._record(fields)
            if record is not None:
                records[digest.decode()] = record
        return records

    def destroy_keys(self, keys: Iterable[str]) -> int:
        script = self._script(_DESTROY)

        def destroy_each() -> int:
            pipeline = self.client.pipeline(transaction=False)
            for digest in keys:
                script(
                    keys=[self.session_key(digest)],
                    args=[self.user_prefix, digest],
                    client=pipeline,
                )
            return sum(int(deleted) for deleted in pipeline.execute())

        return self._run(destroy_each)

    def _scan(self, pattern: str) -> Iterator[bytes]:
        return self.client.scan_iter(match=pattern, count=1000)

    def _session_keys(self) -> list[bytes]:
        return self._run(lambda: list(self._scan(self._session_pattern())))

    def _session_pattern(self) -> str:
        # The digest's shape too: a store whose prefix extends this one's
        # ("xs:" and "xs:s:") keeps its sessions out of all() and clear().
        return f"{_literal(self.session_key(''))}{'[0-9a-f]' * 64}"

    def all(self) -> dict[str, Record]:
        keys = self._session_keys()
        start = len(f"{self.prefix}s:")

        def fetch() -> list[dict[bytes, bytes]]:
            pipeline = self.client.pipeline(transaction=False)
            for key in keys:
                pipeline.hgetall(key)
            return pipeline.execute()

        records = {}
        for key, fields in zip(keys, self._run(fetch), strict=True):
            record = self._record(fields)
            if record is not None:
                records[key.decode()[start:]] = record
        return records

    def clear(self) -> None:
        script = self._script(_CLEAR)

        def unlink_all() -> None:
            batch: list[bytes] = []
            for key in self._scan(self._session_pattern()):
                batch.append(key)
                if len(batch) == 1000:
                    script(keys=batch, args=[self.user_prefix, USER])
                    batch = []
            if batch:
                script(keys=batch, args=[self.user_prefix, USER])

        self._run(unlink_all)

    def length(self) -> int:
        # Redis has already dropped every session whose TTL ran out.
        return len(self._session_keys())

    def count_expired(self) -> int:
        return 0

    def clear_expired(
        self, *, batch_size: int = 10_000, progress: Callable[[int], None] | None = None
    ) -> int:
        # Redis deletes each session when its TTL runs out.
        return 0

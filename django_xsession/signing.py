"""The cookie token: a session id signed with HMAC-SHA256 under a secret list."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, Signer
from itsdangerous.signer import HMACAlgorithm

SALT = b"django_xsession.cookie"
# An id (ours, or GENID's URL-safe 8 to 256 characters), ".", and the
# HMAC-SHA256 cut to its first 12 bytes in unpadded URL-safe base64: 16
# characters, each bit of them signed, so a session has one token. Ours is
# 39 characters, as session_key too: apps that keep session_key in
# Django's 40-character columns (django-allauth's user sessions) fit.
# itsdangerous decodes base64 leniently ("sig==", "sig$$$" verify too): a
# token is only ever this shape.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~]{8,256}\.[A-Za-z0-9_-]{16}")
# 96 bits: a forger must guess it, online, one request at a time.
_SIGNATURE_BYTES = 12


@dataclass(frozen=True)
class Verified:
    """A token whose signature checked out."""

    sid: str
    by_primary: bool


class _KeyedHMAC(HMACAlgorithm):
    """HMAC-SHA256 whose keyed state is built once and copied per signature."""

    def __init__(self, key: bytes) -> None:
        super().__init__(hashlib.sha256)
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(value)
        return mac.digest()[:_SIGNATURE_BYTES]


def _signer(secret: str) -> Signer:
    # Derive the key from the secret once, here, not on every call.
    key = hmac.new(secret.encode(), SALT, hashlib.sha256).digest()
    return Signer(key, key_derivation="none", algorithm=_KeyedHMAC(key))


@lru_cache(maxsize=8)
def _signers(secret_list: tuple[str, ...]) -> tuple[Signer, ...]:
    return tuple(_signer(secret) for secret in secret_list)


def new_id() -> str:
    """A fresh session id: 128 random bits from :mod:`secrets`, URL-safe."""
    return secrets.token_urlsafe(16)


def sign(sid: str, secret_list: tuple[str, ...]) -> str:
    """Sign ``sid`` with the first secret."""
    return _signers(secret_list)[0].sign(sid).decode()


# A client sends the same token on every request: remember the ones that
# verified (never the ones that did not, so garbage cannot fill this).
_verified: dict[tuple[str, tuple[str, ...]], Verified] = {}
_VERIFIED_MAX = 10_000


def unsign(token: str, secret_list: tuple[str, ...]) -> Verified | None:
    """Return the id inside ``token`` if any secret verifies it, else ``None``."""
    known = _verified.get((token, secret_list))
    if known is not None:
        return known
    if not _TOKEN.fullmatch(token):
        return None
    value = token.encode("ascii")
    for position, signer in enumerate(_signers(secret_list)):
        try:
            sid = signer.unsign(value)
        except BadSignature:
            continue
        verified = Verified(sid.decode(), by_primary=position == 0)
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[token, secret_list] = verified
        return verified
    return None

"""The cookie token: a session id signed with HMAC-SHA256 under a secret list."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, Signer

SALT = b"django_xsession.cookie"


@dataclass(frozen=True)
class Verified:
    """A token whose signature checked out."""

    sid: str
    by_primary: bool


@lru_cache(maxsize=8)
def _signers(secret_list: tuple[str, ...]) -> tuple[Signer, ...]:
    # Derive each key once here: itsdangerous would re-derive it per call.
    return tuple(
        Signer(
            hmac.new(secret.encode(), SALT, hashlib.sha256).digest(),
            key_derivation="none",
            digest_method=hashlib.sha256,
        )
        for secret in secret_list
    )


def new_id() -> str:
    """A fresh session id: 192 random bits from :mod:`secrets`, URL-safe."""
    return secrets.token_urlsafe(24)


def sign(sid: str, secret_list: tuple[str, ...]) -> str:
    """Sign ``sid`` with the first secret."""
    return _signers(secret_list)[0].sign(sid).decode()


def unsign(token: str, secret_list: tuple[str, ...]) -> Verified | None:
    """Return the id inside ``token`` if any secret verifies it, else ``None``."""
    try:
        value = token.encode("ascii")
    except UnicodeEncodeError:
        return None
    for position, signer in enumerate(_signers(secret_list)):
        try:
            sid = signer.unsign(value)
        except BadSignature:
            continue
        return Verified(sid.decode(), by_primary=position == 0)
    return None

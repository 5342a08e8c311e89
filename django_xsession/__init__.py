"""Server-side Django sessions with express-session's model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_xsession.users import (
        SessionInfo,
        arevoke,
        asessions_of,
        revoke,
        sessions_of,
    )

__version__ = "0.1.0"
__all__ = ["SessionInfo", "arevoke", "asessions_of", "revoke", "sessions_of"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the package itself is loaded before Django's
    # apps are ready, and these need the models and settings.
    if name in __all__:
        from django_xsession import users

        return getattr(users, name)
    raise AttributeError(f"module 'django_xsession' has no attribute {name!r}")

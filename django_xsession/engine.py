"""``SESSION_ENGINE = "django_xsession.engine"``: what Django's tools import."""

from __future__ import annotations

from django_xsession.session import Session as SessionStore

__all__ = ["SessionStore"]

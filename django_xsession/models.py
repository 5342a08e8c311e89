"""The database store's table: one row per session, keyed by the id's hash."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Session(models.Model):
    """A stored session. ``key`` is SHA-256 of the session id, never the id."""

    key = models.CharField(_("key hash"), max_length=64, primary_key=True)
    data = models.TextField(_("data"))
    expires = models.DateTimeField(_("expires"), db_index=True)
    created = models.DateTimeField(_("created"))
    last_seen = models.DateTimeField(_("last seen"))
    # NULL, not "", for anonymous sessions: no user may look like one.
    user_id = models.CharField(  # noqa: DJ001
        _("user id"), max_length=255, null=True, blank=True, db_index=True
    )
    ip = models.CharField(_("IP address"), max_length=64, blank=True, default="")
    user_agent = models.CharField(
        _("user agent"), max_length=255, blank=True, default=""
    )
    cookie = models.JSONField(_("cookie attributes"), default=dict, blank=True)
    # Bumped on every write: a save whose version still matches needs no lock.
    version = models.PositiveBigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        owner = self.user_id or "anonymous"
        return f"session of {owner} until {self.expires:%Y-%m-%d %H:%M}"

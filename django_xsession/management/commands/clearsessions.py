from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_xsession.conf import get_options
from django_xsession.stores import get_store


class Command(BaseCommand):
    help = "Delete expired sessions from the configured django-xsession store."

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        try:
            removed = store.clear_expired()
        except NotImplementedError:
            raise CommandError(
                f"Session store {get_options().store.backend!r} doesn't support "
                "clearing expired sessions."
            ) from None
        self.stdout.write(f"Deleted {removed} expired session(s).")

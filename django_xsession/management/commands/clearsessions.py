from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_xsession.checks import OUR_ENGINE
from django_xsession.conf import get_options
from django_xsession.stores import get_store
from django_xsession.stores.base import StoreUnavailable

# More than any table holds, and less than every database's integers.
MAX_BATCH_SIZE = 1_000_000_000


class Command(BaseCommand):
    help = (
        "Delete expired sessions from the configured django-xsession store, "
        "and from SESSION_ENGINE's when that is another engine and "
        "django.contrib.sessions is installed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=10_000,
            help=(
                "Delete at most this many sessions per statement (default "
                "10000), for stores that delete in batches."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the expired sessions; delete nothing.",
        )

    def handle(
        self, *args: Any, batch_size: int, dry_run: bool, verbosity: int, **options: Any
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(
                f"--batch-size must be from 1 to {MAX_BATCH_SIZE:,}, not {batch_size}."
            )
        # Without django.contrib.sessions installed, no command of Django's
        # is shadowed (another engine is left over by mistake: W003).
        if settings.SESSION_ENGINE != OUR_ENGINE and apps.is_installed(
            "django.contrib.sessions"
        ):
            self._clear_engine(settings.SESSION_ENGINE, dry_run, verbosity)
        store = get_store()
        if store.expires_by_itself:
            if verbosity >= 1:
                self.stdout.write(
                    "Nothing to delete: the session store expires sessions itself."
                )
            return
        try:
            if dry_run:
                expired = store.count_expired()
            else:
                progress = self._progress() if verbosity >= 2 else None
                removed = store.clear_expired(batch_size=batch_size, progress=progress)
        except NotImplementedError:
            doing = "counting" if dry_run else "clearing"
            raise CommandError(
                f"Session store {get_options().store.backend!r} doesn't support "
                f"{doing} expired sessions."
            ) from None
        except StoreUnavailable as error:
            raise CommandError(str(error)) from error
        if verbosity >= 1:
            if dry_run:
                self.stdout.write(f"Would delete {expired} expired session(s).")
            else:
                self.stdout.write(f"Deleted {removed} expired session(s).")

    def _clear_engine(self, engine: str, dry_run: bool, verbosity: int) -> None:
        # Before step 2 of a migration, or after a rollback, Django's
        # sessions are the live ones: this command shadows Django's, so it
        # does what Django's would.
        if not dry_run:
            try:
                import_module(engine).SessionStore.clear_expired()
            except NotImplementedError:
                raise CommandError(
                    f"Session engine '{engine}' doesn't support clearing "
                    "expired sessions."
                ) from None
        if verbosity >= 1:
            done = "Would clear" if dry_run else "Cleared"
            self.stdout.write(
                f"{done} the expired sessions of SESSION_ENGINE '{engine}' "
                "(the engine does not count them)."
            )

    def _progress(self) -> Callable[[int], None]:
        so_far = 0

        def report(deleted: int) -> None:
            nonlocal so_far
            so_far += deleted
            self.stdout.write(
                f"Deleted {deleted} expired session(s) ({so_far} so far)."
            )

        return report

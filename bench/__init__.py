"""django-xsession next to Django's own session engines.

Per-request cost of the in-memory engines and of the db and cached_db
engines on SQLite and PostgreSQL, and ``clearsessions`` on a million
expired sessions. Run it with ``python -m bench`` (``make bench``) from the
repository root; ``python -m bench --help`` lists the sections and options.
"""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value

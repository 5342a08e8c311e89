"""Per-request cost of django-xsession's middleware next to Django's own engines.

Run it with ``python -m bench`` (``make bench``) from the repository root.
"""

from __future__ import annotations

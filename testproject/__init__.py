"""Demo project for django-xsession, served by ``make demo``."""

from __future__ import annotations

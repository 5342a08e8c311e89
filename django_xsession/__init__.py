"""Server-side Django sessions with express-session's model."""

from __future__ import annotations

__version__ = "0.1.0"

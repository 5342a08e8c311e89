"""Real services the suite talks to, and what to do when one is missing.

A test that needs a service it cannot reach is skipped with a loud reason;
with ``XSESSION_REQUIRE_SERVICES=1`` (CI) it fails instead.
"""

from __future__ import annotations

import os
import socket

import pytest

REQUIRED = os.environ.get("XSESSION_REQUIRE_SERVICES") == "1"

POSTGRES = ("127.0.0.1", 5432)
MARIADB = ("127.0.0.1", 3306)
REDIS = ("127.0.0.1", 6379)
# The suite's own Redis database; another number lets a second run go alongside.
REDIS_DB = int(os.environ.get("XSESSION_TEST_REDIS_DB", "13"))


def reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def missing(name: str, address: tuple[str, int]) -> None:
    """Skip (or, when services are required, fail) a test needing ``name``."""
    reason = (
        f"SERVICE UNAVAILABLE: {name} on {address[0]}:{address[1]} is not reachable"
    )
    if REQUIRED:
        pytest.fail(f"{reason}, and XSESSION_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)

"""Helpers for the SQL backend's tests: where stores live on the session's server."""

from __future__ import annotations

import uuid

DATABASE = "threadstore_tests"


def fresh_schema() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"

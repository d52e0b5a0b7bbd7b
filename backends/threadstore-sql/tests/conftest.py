"""One PostgreSQL server per test session on 127.0.0.1, and a fresh schema per test.

The server is started by the tests themselves (:mod:`threadstore_sql.testing`); if it
cannot be started, every PostgreSQL test fails with the reason, never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sql_support import DATABASE, fresh_schema
from threadstore_sql.testing import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        server.create_database(DATABASE)
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty store: a new schema in the test database."""
    return pg_server.url(DATABASE, schema=fresh_schema())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, empty store: a new file (four slashes: an absolute path)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """A fresh store that many processes share, on each SQL backend in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url

"""The whole conformance suite on ``sqlite://`` (a file, and memory) and ``postgresql://``
(a real server started by the tests, a fresh schema per test and per state-machine
example)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sql_support import DATABASE, fresh_schema
from threadstore_sql.testing import PostgresServer

from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.testing import ThreadStoreConformance, stateful


class TestSqliteConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url

    @pytest.fixture
    def new_location(
        self, tmp_path: Path, open_options: dict[str, Any]
    ) -> Callable[[], Callable[[], ThreadStore]]:
        def make() -> Callable[[], ThreadStore]:
            url = f"sqlite:///{tmp_path / f'sm{uuid.uuid4().hex[:12]}.db'}"
            return lambda: open_store(url, **open_options)

        return make

    @pytest.fixture
    def stateful_settings(self) -> settings:
        return stateful.profile(default="quick")


class TestSqliteMemoryConformance(ThreadStoreConformance):
    """``sqlite://``: private to its store object, like ``memory://``."""

    @pytest.fixture
    def store_url(self) -> str:
        return "sqlite://"

    @pytest.fixture
    def new_location(self) -> Callable[[], Callable[[], ThreadStore]]:
        return lambda: lambda: open_store("sqlite://")

    @pytest.fixture
    def stateful_settings(self) -> settings:
        return stateful.profile(default="quick")


class TestPostgresConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url

    @pytest.fixture
    def new_location(
        self, pg_server: PostgresServer, open_options: dict[str, Any]
    ) -> Callable[[], Callable[[], ThreadStore]]:
        def make() -> Callable[[], ThreadStore]:
            url = pg_server.url(DATABASE, schema=fresh_schema())
            return lambda: open_store(url, **open_options)

        return make

    @pytest.fixture
    def stateful_settings(self) -> settings:
        return stateful.profile(default="quick")

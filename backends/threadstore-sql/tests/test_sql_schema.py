"""Tables are created on first open, their version is recorded, an old schema is refused
until migrated (explicitly, or on open with ``migrate=true``), a newer one always."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sql_support import DATABASE, fresh_schema
from threadstore_sql import schema
from threadstore_sql.schema import SCHEMA_VERSION, plan_upgrade
from threadstore_sql.testing import PostgresServer

from threadstore import open_store
from threadstore.errors import BackendError

SCRIPT = Path(sys.executable).with_name("threadstore")


def set_version(url: str, version: int) -> None:
    with open_store(url) as store:
        store._engine.query(  # type: ignore[attr-defined]
            "UPDATE {meta} SET value = ? WHERE name = 'schema_version'", [str(version)]
        )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_upgrade_plan() -> None:
    steps = {2: ["ALTER x"], 3: ["ALTER y"]}
    assert plan_upgrade(None, migrate=False, where="w", migrations=steps, current=3) is None
    assert plan_upgrade(3, migrate=False, where="w", migrations=steps, current=3) == []
    planned = plan_upgrade(1, migrate=True, where="w", migrations=steps, current=3)
    assert planned is not None
    assert [s for s in planned if s.startswith("ALTER")] == ["ALTER x", "ALTER y"]
    with pytest.raises(BackendError, match="threadstore migrate URL"):
        plan_upgrade(1, migrate=False, where="w", migrations=steps, current=3)
    with pytest.raises(BackendError, match="upgrade threadstore-sql"):
        plan_upgrade(4, migrate=True, where="w", migrations=steps, current=3)
    with pytest.raises(BackendError, match="no migration to schema version 2"):
        plan_upgrade(1, migrate=True, where="w", migrations={}, current=3)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_old_schema_is_refused_until_migrated(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url: str = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    open_store(url).close()
    set_version(url, SCHEMA_VERSION - 1)
    with pytest.raises(BackendError, match="threadstore migrate URL"):
        open_store(url)
    monkeypatch.setattr(
        schema, "MIGRATIONS", {SCHEMA_VERSION: ["CREATE INDEX later ON {records} (created_by)"]}
    )
    with open_store(url, migrate=True) as store:
        assert store._engine.query("SELECT value FROM {meta}") == [  # type: ignore[attr-defined]
            (str(SCHEMA_VERSION),)
        ]
    set_version(url, SCHEMA_VERSION + 1)
    with pytest.raises(BackendError, match="upgrade threadstore-sql"):
        open_store(url, migrate=True)


def test_openers_racing_to_create_the_tables_all_succeed(pg_server: PostgresServer) -> None:
    url = pg_server.url(DATABASE, schema=fresh_schema())
    failures: list[BaseException] = []

    def open_once() -> None:
        try:
            open_store(url).close()
        except BaseException as error:
            failures.append(error)

    openers = [threading.Thread(target=open_once) for _ in range(6)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(60)
    assert not failures


def test_the_migrate_command(sqlite_url: str, pg_url: str) -> None:
    for url in (sqlite_url, pg_url):
        first = cli("migrate", url, "--json")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["before"] is None
        again = cli("migrate", url)
        assert again.returncode == 0, again.stderr
        assert "already current" in again.stdout
        assert "***" in again.stdout or "sqlite" in url
    refused = cli("migrate", "memory://")
    assert refused.returncode == 2
    assert "keeps no format to migrate" in refused.stderr

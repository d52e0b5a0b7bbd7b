"""The tables, their version, and how a store brings a database up to that version.

One table holds every record of every kind (``records``), keyed by kind, scope (the owner
IDs joined with ``/``) and ID, ordered by ``seq``, with the version of the record's JSON
form (``format``: the ``RECORD_FORMAT`` of the threadstore that wrote it). Lists are
read through ``list`` (kind and scope in one generated column) so that the index of list
order never competes with the primary key for a lookup by ID. ``heads`` holds
the last position handed out per list. ``meta`` records the schema version. A new kind of
record needs no new table; a change of these tables is a new entry in :data:`MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from threadstore.errors import BackendError
from threadstore_sql.dialect import Dialect

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "create_statements", "plan_upgrade"]

SCHEMA_VERSION = 1

MIGRATIONS: Mapping[int, Sequence[str]] = {}
"""Statements that take the schema from version ``N - 1`` to ``N``, by ``N``."""

_TABLES = """
CREATE TABLE {{records}} (
    kind {key} NOT NULL,
    scope {key} NOT NULL,
    id {key} NOT NULL,
    seq bigint NOT NULL,
    data {json} NOT NULL,
    format integer NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    created_by text NOT NULL,
    changed_by text NOT NULL,
    list {key} GENERATED ALWAYS AS (kind || '/' || scope) STORED,
    PRIMARY KEY (kind, scope, id)
)
;CREATE UNIQUE INDEX records_order ON {{records}} (list, seq)
;CREATE TABLE {{heads}} (
    kind {key} NOT NULL,
    scope {key} NOT NULL,
    head bigint NOT NULL,
    PRIMARY KEY (kind, scope)
)
;CREATE TABLE {{meta}} (name text PRIMARY KEY, value text NOT NULL)
;INSERT INTO {{meta}} (name, value) VALUES ('schema_version', '{version}')
"""


def create_statements(dialect: Dialect) -> list[str]:
    """The statements that create the current schema's tables (in a schema that exists)."""
    text = _TABLES.format(key=dialect.key_type, json=dialect.json_type, version=SCHEMA_VERSION)
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def plan_upgrade(
    found: int | None,
    *,
    migrate: bool,
    where: str,
    migrations: Mapping[int, Sequence[str]] | None = None,
    current: int = SCHEMA_VERSION,
) -> list[str] | None:
    """What to run on a database whose schema is at version ``found`` (None: no tables).

    Returns None to create the tables, ``[]`` when nothing is to be done, or the migration
    statements in order. Refuses a newer schema, and an older one unless ``migrate``.
    """
    if found is None:
        return None
    if found == current:
        return []
    if found > current:
        raise BackendError(
            f"the tables at {where} are at schema version {found}, newer than this "
            f"threadstore-sql's {current}: upgrade threadstore-sql"
        )
    if not migrate:
        raise BackendError(
            f"the tables at {where} are at schema version {found}; this threadstore-sql "
            f"needs {current}. Back the database up, then run `threadstore migrate URL` "
            "once (or open the store with migrate=true)"
        )
    if migrations is None:
        migrations = MIGRATIONS
    steps: list[str] = []
    for version in range(found + 1, current + 1):
        if version not in migrations:
            raise BackendError(f"no migration to schema version {version} for {where}")
        steps.extend(migrations[version])
        steps.append(f"UPDATE {{meta}} SET value = '{version}' WHERE name = 'schema_version'")  # noqa: S608
    return steps


def read_version(query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]) -> int:
    """The version recorded in ``meta`` (its table must exist)."""
    rows = query("SELECT value FROM {meta} WHERE name = 'schema_version'", ())
    if not rows:
        raise BackendError("the threadstore meta table has no schema_version row")
    return int(rows[0][0])

"""Where PostgreSQL and SQLite differ in the SQL this backend sends: placeholders, table
names, column types. Statements are written once with ``?`` placeholders and ``{records}``
style table names; :meth:`Dialect.sql` turns them into the driver's form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["POSTGRES", "SQLITE", "Dialect", "quote_identifier"]

TABLES = ("records", "heads", "meta")
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def quote_identifier(name: str) -> str:
    """``"name"``, for a schema name already checked against ``[A-Za-z_][A-Za-z0-9_]*``."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Dialect:
    """One SQL dialect: how to write a parameter, a table name and the stored JSON."""

    name: str
    placeholder: str
    """``%s`` (psycopg) or ``?`` (sqlite3)."""
    json_type: str
    """The type of ``records.data``: ``jsonb`` or ``TEXT``."""
    key_type: str
    """Text compared byte by byte, as IDs and scopes sort: ``text COLLATE "C"`` or ``TEXT``."""

    def sql(self, statement: str, schema: str | None = None) -> str:
        """``statement`` with ``{records}``-style names qualified and placeholders converted."""
        return _render(self, statement, schema)


@lru_cache(maxsize=1024)
def _render(dialect: Dialect, statement: str, schema: str | None) -> str:
    prefix = f"{quote_identifier(schema)}." if schema else ""
    names = {table: f"{prefix}{table}" for table in TABLES}
    text = statement.format(**names)
    if dialect.placeholder == "?":
        return text
    return text.replace("%", "%%").replace("?", dialect.placeholder)


POSTGRES = Dialect(
    name="postgresql", placeholder="%s", json_type="jsonb", key_type='text COLLATE "C"'
)
SQLITE = Dialect(name="sqlite", placeholder="?", json_type="TEXT", key_type="TEXT")

"""A PostgreSQL server for the benchmark, on 127.0.0.1, with fsync on (durable commits).

It is the SQL backend's own test harness (:mod:`threadstore_sql.testing`); without that
package or the server's binaries the PostgreSQL contenders are left out, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadstore_sql.testing import PostgresServer

__all__ = ["BENCH_DATABASE", "conninfo", "postgres_available", "running_postgres"]

BENCH_DATABASE = "bench"


def postgres_available() -> str | None:
    """None if a server can be started here, else why not."""
    try:
        from threadstore_sql.testing import ServerUnavailable, find_binaries
    except ImportError as error:
        return f"threadstore-sql is not installed ({error})"
    try:
        find_binaries()
    except ServerUnavailable as error:
        return str(error)
    return None


def conninfo(server: PostgresServer) -> dict[str, object]:
    """psycopg's connection keywords for the ``bench`` database, as the superuser."""
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "user": "threadstore",
        "password": server.password,
        "dbname": BENCH_DATABASE,
    }


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A durable server holding an empty ``bench`` database, stopped and removed after."""
    from threadstore_sql.testing import postgres_server

    with postgres_server(fsync=True) as server:
        server.create_database(BENCH_DATABASE)
        yield server

"""``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``, ``sqlite://`` (memory).

Paths follow SQLAlchemy: three slashes, then the path, so four for an absolute one. The
stdlib ``sqlite3`` in WAL mode with ``synchronous=FULL`` (an acknowledged write survives
a power loss); every write is one ``BEGIN IMMEDIATE`` transaction, so writers from many
threads and processes take turns on the file's lock, waiting up to ``busy_timeout``. The
SQL is shared with PostgreSQL; only the insert differs (see docs/design.md §6.4).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from threadstore.backend import RECORD_FORMAT, BackendError, Capability, StoreURL
from threadstore_sql import statements as sql
from threadstore_sql.dialect import SQLITE
from threadstore_sql.engine import Duplicate, Engine, Row
from threadstore_sql.schema import create_statements, plan_upgrade, read_version
from threadstore_sql.statements import Place
from threadstore_sql.store import SqlThreadStore

__all__ = ["SqliteOptions", "SqliteThreadStore"]

MEMORY = ":memory:"


class SqliteOptions(BaseModel):
    """Options of ``sqlite://`` URLs, from the query string or as keywords."""

    model_config = ConfigDict(extra="forbid")

    synchronous: Literal["EXTRA", "FULL", "NORMAL", "OFF"] = "FULL"
    """SQLite's own setting; below FULL a power loss may lose acknowledged writes, and
    the store no longer promises ``durable``."""
    busy_timeout: float = Field(30.0, gt=0)
    """Seconds a writer waits for another to finish before giving up."""
    migrate: bool = False
    """Run pending schema migrations on open (otherwise an old schema is refused)."""


def database_path(url: StoreURL) -> str:
    """The file a ``sqlite://`` URL names (absolute), or ``:memory:``."""
    if url.host:
        raise BackendError(
            f"sqlite:// takes no host ({url.host!r}): sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    path = url.path[1:] if url.path.startswith("/") else url.path
    if path in ("", MEMORY):
        return MEMORY
    return os.path.abspath(path)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(SQLITE.sql(statement), params).fetchall()


class SqliteEngine(Engine):
    """A few connections to one file (one per concurrent caller), or one to memory."""

    dialect = SQLITE

    def __init__(self, path: str, opts: SqliteOptions) -> None:
        self.path = path
        self.where = "sqlite://" if path == MEMORY else f"sqlite:///{path}"
        self._opts = opts
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._memory_turn = threading.RLock() if path == MEMORY else None
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self._opts.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self._opts.busy_timeout * 1000)}")
            connection.execute(f"PRAGMA synchronous = {self._opts.synchronous}")
        except sqlite3.Error as error:
            raise self._failure(error) from error
        return connection

    def start(self) -> None:
        """Switch the file to WAL (once per file; it stays so)."""
        if self.path == MEMORY:
            return
        with self._connection() as connection, self._errors():
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise BackendError(f"{self.path}: SQLite refused WAL mode ({mode})")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise BackendError(f"the store {self.where} is closed")
        if self._memory_turn is not None:
            with self._memory_turn:
                if not self._all:
                    self._all.append(self._connect())
                yield self._all[0]
            return
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
            with self._lock:
                self._all.append(connection)
        try:
            yield connection
        finally:
            with self._lock:
                self._idle.append(connection)

    def _failure(self, error: sqlite3.Error) -> Exception:
        text = str(error)
        if isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in text:
            return Duplicate()
        if "locked" in text or "busy" in text:
            return BackendError(
                f"{self.where} stayed locked by another writer for busy_timeout "
                f"({self._opts.busy_timeout:g} s); nothing was written. Retry, or raise the "
                "busy_timeout option"
            )
        if "unable to open" in text:
            return BackendError(
                f"cannot open the SQLite file {self.path}: check that its directory exists "
                "and is writable"
            )
        return BackendError(f"SQLite failed on {self.where}: {text}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise self._failure(error) from error

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._connection() as connection, self._errors():
            return connection.execute(SQLITE.sql(statement), params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._connection() as connection, self._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _Transaction(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._all, self._idle = self._all, [], []
        for connection in connections:
            connection.close()


_INSERT_RECORD = (
    "INSERT INTO {records} (kind, scope, id, seq, data, format, created_by, changed_by) "  # noqa: S608
    f"VALUES (?, ?, ?, ?, ?, {RECORD_FORMAT}, ?, ?)"
)


def prepare_schema(engine: SqliteEngine, *, migrate: bool) -> tuple[int | None, int]:
    """Create the tables in a new file, or check (and, if asked, migrate) an existing one;
    return the versions before (None: no tables) and after."""

    def version(work: Any) -> int | None:
        exists = work.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
        return read_version(work.query) if exists else None

    found = version(engine)
    if plan_upgrade(found, migrate=migrate, where=engine.where) == []:
        return found, found or 0
    with engine.transaction() as work:
        found = version(work)
        plan = plan_upgrade(found, migrate=migrate, where=engine.where)
        for statement in create_statements(SQLITE) if plan is None else plan:
            work.query(statement)
        return found, version(work) or 0


def _opened(url: StoreURL, opts: SqliteOptions) -> SqliteEngine:
    """An engine on the URL's file (its directory made if need be), in WAL mode."""
    path = database_path(url)
    if path != MEMORY:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as error:
            raise BackendError(f"cannot create the directory of {path}: {error}") from error
    engine = SqliteEngine(path, opts)
    try:
        engine.start()
    except BaseException:
        engine.close()
        raise
    return engine


class SqliteThreadStore(SqlThreadStore):
    """A thread store in one SQLite file, shared by the threads and processes of a machine."""

    capabilities: frozenset[Capability] = frozenset(
        {Capability.PERSISTENT, Capability.SHARED, Capability.MULTI_PROCESS, Capability.DURABLE}
    )

    @classmethod
    def migrate_schema(cls, url: StoreURL, **options: Any) -> tuple[int | None, int]:
        """Bring the tables at ``url`` to this version, creating them if absent; return
        the versions before (None: no tables) and after. ``threadstore migrate URL``."""
        engine = _opened(url, url.options(SqliteOptions, options))
        try:
            return prepare_schema(engine, migrate=True)
        finally:
            engine.close()

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        opts = url.options(SqliteOptions, options)
        engine = _opened(url, opts)
        try:
            prepare_schema(engine, migrate=opts.migrate)
        except BaseException:
            engine.close()
            raise
        path = engine.path
        store = cls(engine, retry_timeout=0)
        if path == MEMORY:
            store.capabilities = frozenset()
        elif opts.synchronous in ("NORMAL", "OFF"):
            store.capabilities = cls.capabilities - {Capability.DURABLE}
        return store

    def _insert_rows(
        self, place: Place, rows: list[tuple[str, str]], lists: list[tuple[str, str]], token: str
    ) -> int:
        with self._engine.transaction() as work:
            head = work.query(sql.take_positions(place.depth), sql.take_params(place, len(rows)))
            if not head:
                return 0
            first = int(head[0][0]) - len(rows) + 1
            for offset, (record_id, data) in enumerate(rows):
                work.query(
                    _INSERT_RECORD,
                    [place.kind, place.scope, record_id, first + offset, data, token, token],
                )
            for new_list in lists:
                work.query(sql.NEW_LISTS, new_list)
        return len(rows)

"""``postgresql://user:pass@host:port/db?schema=NAME``: threads on a PostgreSQL server.

psycopg 3 with a ``psycopg_pool`` pool; every statement is prepared on the server, and
every operation is one transaction, most of them one statement in autocommit (one round
trip). The tables live in their own schema, created on first open (see
:mod:`threadstore_sql.schema`); the design is in docs/design.md §6.4.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self

import psycopg
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout
from pydantic import BaseModel, ConfigDict, Field

from threadstore import lifecycle
from threadstore.backend import (
    RECORD_FORMAT,
    RUNS,
    BackendError,
    Capability,
    InvalidRequestError,
    Scope,
    StoreURL,
    decode,
)
from threadstore.ids import check_id
from threadstore.models import LastError, Run, RunStatus
from threadstore.validation import input_rules
from threadstore_sql import statements as sql
from threadstore_sql.bridge import await_only, entered, in_bridge
from threadstore_sql.dialect import POSTGRES, quote_identifier
from threadstore_sql.engine import Engine, NotSent, Row, Unsure
from threadstore_sql.pg_errors import (
    DRIVER_ERRORS,
    Target,
    connect_failure,
    driver_errors,
    operation_failure,
    translated,
)
from threadstore_sql.schema import create_statements, plan_upgrade, read_version
from threadstore_sql.statements import Place
from threadstore_sql.store import SqlThreadStore, new_token

if TYPE_CHECKING:
    from threadstore_sql.aio import NativeAsyncStore

__all__ = ["PostgresOptions", "PostgresThreadStore"]

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"


class PostgresOptions(BaseModel):
    """Options of ``postgresql://`` URLs, from the query string or as keywords."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_name: str | None = Field(None, alias="schema", pattern=IDENTIFIER)
    """The schema holding the tables (default ``threadstore``); created on first open."""
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    connect_timeout: int = Field(10, ge=2)
    """Seconds to wait for a new connection."""
    statement_timeout: float | None = Field(None, gt=0)
    """Seconds a statement may run before the server cancels it (unset: the server's)."""
    retry_timeout: float = Field(30.0, ge=0)
    """Seconds an operation keeps retrying while the server cannot be reached."""
    migrate: bool = False
    """Run pending schema migrations on open (otherwise an old schema is refused)."""
    application_name: str = "threadstore"
    sslmode: str | None = None


@dataclass(frozen=True)
class Settings:
    """How to connect (with the password) and where that is (without it)."""

    connect: dict[str, Any]
    target: Target

    @property
    def secret(self) -> str | None:
        password = self.connect.get("password")
        return password if isinstance(password, str) and password else None

    @classmethod
    def of(cls, url: StoreURL, opts: PostgresOptions) -> Settings:
        database, *below = [part for part in url.path.split("/") if part] or [""]
        schema = opts.schema_name
        if below:  # postgresql://…/db/NAME names the schema too (and nests, for tests)
            if schema is not None:
                raise InvalidRequestError("give the schema in the path or as ?schema=, not both")
            schema = "_".join(below)
            if len(schema) > 63 or not all(part.isidentifier() for part in below):
                raise InvalidRequestError(
                    "the path after the database must name a schema: letters, digits, _"
                )
        schema = schema or "threadstore"
        quote_identifier(schema)
        connect: dict[str, Any] = {
            "host": url.host or None,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "dbname": database or None,
            "connect_timeout": opts.connect_timeout,
            "application_name": opts.application_name,
            "sslmode": opts.sslmode,
        }
        if opts.statement_timeout is not None:
            connect["options"] = f"-c statement_timeout={int(opts.statement_timeout * 1000)}"
        connect = {name: value for name, value in connect.items() if value is not None}
        shown = StoreURL.parse(url.render()).render()
        target = Target(url.host, url.port, url.username, database or None, schema, shown)
        return cls(connect, target)


def configure(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """``jsonb`` columns arrive as the server's text, for pydantic to parse once (psycopg
    swaps in its C text loader)."""
    connection.adapters.register_loader("jsonb", TextLoader)


async def configure_async(connection: psycopg.AsyncConnection[Any]) -> None:
    configure(connection)


@lru_cache(maxsize=512)
def _encoded(statement: str, schema: str) -> bytes:
    return POSTGRES.sql(statement, schema).encode()


def connect_once(settings: Settings) -> psycopg.Connection[Any]:
    """A connection of its own (for opening and migrating), or the error saying why not."""
    try:
        return psycopg.connect(**settings.connect, autocommit=True)
    except psycopg.Error as error:
        raise connect_failure(error, settings.target, settings.secret) from error


def _version(connection: psycopg.Connection[Any], schema: str) -> int | None:
    # pg_tables, not to_regclass(): a plain query sees tables another opener has just
    # committed, where the catalog cache behind to_regclass() may not yet.
    row = connection.execute(
        b"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables "
        b"WHERE schemaname = %s AND tablename = 'meta')",
        [schema],
    ).fetchone()
    if not row or not row[0]:
        return None
    return read_version(
        lambda statement, params: connection.execute(_encoded(statement, schema), params).fetchall()
    )


def prepare_schema(settings: Settings, *, migrate: bool) -> tuple[int | None, int]:
    """Create the tables on first open, or migrate them if asked; return the versions
    before and after. Two openers at once serialise on an advisory lock."""
    target = settings.target
    schema = target.schema
    where = f"schema {schema!r} of {target.shown_as}"
    with connect_once(settings) as connection:
        try:
            found = _version(connection, schema)
            if plan_upgrade(found, migrate=migrate, where=where) == []:
                return found, found or 0
            try:
                with connection.transaction():
                    connection.execute(
                        b"SELECT pg_advisory_xact_lock(hashtext(%s))", [f"threadstore:{schema}"]
                    )
                    found = _version(connection, schema)
                    plan = plan_upgrade(found, migrate=migrate, where=where)
                    if plan is None:
                        quoted = quote_identifier(schema)
                        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}".encode())
                        plan = create_statements(POSTGRES)
                    for statement in plan:
                        connection.execute(_encoded(statement, schema))
                    return found, _version(connection, schema) or 0
            except psycopg.errors.InsufficientPrivilege as error:
                raise BackendError(
                    f"role {target.user!r} may not create or change the threadstore tables "
                    f"in schema {schema!r} of database {target.database!r}: have an owner "
                    "run `threadstore migrate URL` once, or grant the role CREATE on the "
                    f"database (GRANT CREATE ON DATABASE {target.database} TO {target.user})"
                ) from error
        except psycopg.Error as error:
            failure = operation_failure(error, target, settings.secret)
            if not isinstance(failure, BackendError):
                failure = BackendError(
                    f"lost the connection to {target.address} while opening {where}: try again"
                )
            raise failure from error


class _Transaction:
    """Statements on a connection inside a transaction, sync or (bridged) async."""

    def __init__(
        self, connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], schema: str
    ) -> None:
        self._connection = connection
        self._schema = schema

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        query = _encoded(statement, self._schema)
        if isinstance(self._connection, psycopg.AsyncConnection):
            return await_only(_fetched(self._connection, query, params))
        cursor = self._connection.execute(query, params)
        return cursor.fetchall() if cursor.description else []


async def _fetched(
    connection: psycopg.AsyncConnection[Any], query: bytes, params: Sequence[Any]
) -> list[Row]:
    cursor = await connection.execute(query, params)
    return await cursor.fetchall() if cursor.description else []


class PostgresEngine(Engine):
    """Statements through ``psycopg_pool`` pools of autocommit connections: a sync pool
    for sync callers, opened (and connected) with the store, and an async
    one for callers bridged from an asyncio task (see :mod:`threadstore_sql.bridge`),
    opened on its first use."""

    dialect = POSTGRES

    def __init__(self, settings: Settings, opts: PostgresOptions) -> None:
        self.schema = settings.target.schema
        self.where = settings.target.shown_as
        self._settings = settings
        self._pool_settings: dict[str, Any] = {
            "kwargs": {**settings.connect, "autocommit": True, "prepare_threshold": 0},
            "min_size": min(opts.pool_min_size, opts.pool_max_size),
            "max_size": opts.pool_max_size,
            "timeout": opts.connect_timeout,
            "configure": configure,
            "name": f"threadstore {self.where}",
        }
        self._opening = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._async_pool: AsyncConnectionPool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._sync_pool()

    def close_sync_pool(self) -> None:
        """Close the sync pool (an async store has no use for it; it reopens if used)."""
        with self._opening:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _errors(self) -> AbstractContextManager[None]:
        return driver_errors(self._settings.target, self._settings.secret)

    def _sync_pool(self) -> ConnectionPool:
        with self._opening:
            if self._closed:
                raise BackendError(f"the store {self.where} is closed")
            if self._pool is None:
                pool = ConnectionPool(**self._pool_settings, open=True)
                try:  # its first connections are made now, not behind the caller's back
                    pool.wait(self._pool_settings["timeout"])
                except PoolTimeout as error:
                    pool.close()
                    raise BackendError(
                        f"the pool for {self.where} made no connection within "
                        "connect_timeout; check the server, or raise connect_timeout"
                    ) from error
                self._pool = pool
            return self._pool

    async def _loop_pool(self) -> AsyncConnectionPool:
        """The async pool of the running event loop (a later loop gets a new one)."""
        if self._closed:
            raise BackendError(f"the store {self.where} is closed")
        loop = asyncio.get_running_loop()
        if self._async_pool is None or self._pool_loop is not loop:
            pool = AsyncConnectionPool(
                **{**self._pool_settings, "configure": configure_async}, open=False
            )
            await pool.open()
            self._async_pool, self._pool_loop = pool, loop
        return self._async_pool

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        query = _encoded(statement, self.schema or "")
        if in_bridge():
            return await_only(self._async_query(query, params))
        pool = self._pool or self._sync_pool()
        try:  # the hot path: no context managers, a few microseconds each
            connection = pool.getconn()
            try:
                cursor = connection.execute(query, params)
                return cursor.fetchall() if cursor.description else []
            finally:
                pool.putconn(connection)
        except DRIVER_ERRORS as error:
            raise translated(error, self._settings.target, self._settings.secret) from error

    async def _async_query(self, query: bytes, params: Sequence[Any]) -> list[Row]:
        with self._errors():
            async with (await self._loop_pool()).connection() as connection:
                return await _fetched(connection, query, params)

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._errors():
            if in_bridge():
                pool = await_only(self._loop_pool())
                with entered(pool.connection()) as bridged, entered(bridged.transaction()):
                    yield _Transaction(bridged, self.schema or "")
            else:
                with self._sync_pool().connection() as connection, connection.transaction():
                    yield _Transaction(connection, self.schema or "")

    def sleep(self, seconds: float) -> None:
        if in_bridge():
            await_only(asyncio.sleep(seconds))
        else:
            time.sleep(seconds)

    def close(self) -> None:
        with self._opening:
            self._closed = True
            pool, self._pool = self._pool, None
            async_pool, self._async_pool = self._async_pool, None
        if pool is not None:
            pool.close()
        if async_pool is not None and in_bridge():
            await_only(async_pool.close())


CLAIM = (
    "UPDATE {records} AS r SET data = r.data || ?::jsonb || ("  # noqa: S608
    "SELECT coalesce(jsonb_object_agg(o.key, o.value), '{{}}'::jsonb) "
    "FROM jsonb_each(?::jsonb) AS o "
    "WHERE coalesce(r.data -> o.key, 'null'::jsonb) = 'null'::jsonb), "
    f"version = r.version + 1, {sql.CHANGED_BY} "
    "WHERE r.kind = ? AND r.scope = ? AND r.id = ? AND r.data ->> 'status' = ? RETURNING r.data"
)
"""A run's move from the status it must be in: the fields every such move sets, the
fields it sets only when unset (``started_at``), all in one statement. Params: the two
JSON objects, token, kind, scope, id, the expected status."""


def _move_patch(target: RunStatus, want: RunStatus, changes: dict[str, Any]) -> tuple[str, str]:
    """The JSON of what a move from ``want`` to ``target`` sets, split into what it
    always sets and what it sets only on a run that has none (``lifecycle.run_move`` on
    a run in ``want`` that has every timestamp unset, validated as a Run)."""
    moved = lifecycle.run_move(Run(assistant_id="", status=want), target, changes)
    with input_rules():
        probe = Run.model_validate({"assistant_id": "", "status": want, **moved})
    wire = probe.model_dump(mode="json")
    set_once = {"started_at"} - set(changes)
    always = {name: wire[name] for name in moved if name not in set_once}
    once = {name: wire[name] for name in moved if name in set_once}
    return json.dumps(always), json.dumps(once)


@lru_cache(maxsize=16)
def insert_statement(depth: int, owns_lists: bool) -> str:
    """One statement: take positions from the list's head (no row: the owner is gone),
    insert the batch from one JSON array, and the heads of the lists the new records own.
    Params: the head's (see :func:`~threadstore_sql.statements.take_params`), kind, scope,
    count, token, token, the batch; then, if ``owns_lists``, their kinds and scopes."""
    lists = ""
    if owns_lists:
        lists = (
            ", lists AS (INSERT INTO {heads} (kind, scope, head) "
            "SELECT k, s, 0 FROM unnest(?::text[], ?::text[]) AS c(k, s) "
            "WHERE EXISTS (SELECT 1 FROM made) ON CONFLICT (kind, scope) DO NOTHING)"
        )
    return (
        f"WITH head AS ({sql.take_positions(depth)}), "  # noqa: S608
        "made AS (INSERT INTO {records} "
        "(kind, scope, id, seq, data, format, created_by, changed_by) "
        f"SELECT ?, ?, r.data ->> 'id', head.head - ?::bigint + r.ord, r.data, {RECORD_FORMAT}, "
        "?, ? "
        "FROM head, jsonb_array_elements(?::jsonb) WITH ORDINALITY AS r(data, ord) "
        f"RETURNING 1){lists} SELECT count(*) FROM made"
    )


class PostgresThreadStore(SqlThreadStore):
    """A thread store in PostgreSQL: many processes on many hosts share one database."""

    _engine: PostgresEngine

    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED,
            Capability.MULTI_PROCESS,
            Capability.MULTI_HOST,
            Capability.DURABLE,
        }
    )

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        opts = url.options(PostgresOptions, options)
        settings = Settings.of(url, opts)
        prepare_schema(settings, migrate=opts.migrate)
        return cls(PostgresEngine(settings, opts), retry_timeout=opts.retry_timeout)

    @classmethod
    def migrate_schema(cls, url: StoreURL, **options: Any) -> tuple[int | None, int]:
        """Bring the tables at ``url`` to this version, creating them if absent; return
        the versions before (None: no tables) and after. ``threadstore migrate URL``."""
        opts = url.options(PostgresOptions, options)
        return prepare_schema(Settings.of(url, opts), migrate=True)

    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: LastError | dict[str, Any] | None = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run:
        """With ``expected``: one conditional ``UPDATE … WHERE status = expected`` (the
        claim N workers race on), never a read then a write. The rules are
        :mod:`threadstore.lifecycle`'s: the fields the move sets, and on a refusal the
        same error the read-modify-write would give."""
        want = None if expected is None else lifecycle.run_status(expected, "expected status")
        if want is None or want.is_terminal:  # a terminal run never moves: nothing to write
            return super().update_run_status(thread_id, run_id, status, error, expected=expected)
        target = lifecycle.run_status(status)
        changes = {} if error is None else {"last_error": lifecycle.error_of(error)}
        scope = self._scope(RUNS, thread_id)
        return self._claim(scope, check_id(run_id, "run id"), target, want, changes)

    def _claim(
        self, scope: Scope, run_id: str, target: RunStatus, want: RunStatus, changes: dict[str, Any]
    ) -> Run:
        place = Place.of(RUNS, scope)
        always, once = _move_patch(target, want, changes)
        token = new_token()
        params = [always, once, token, place.kind, place.scope, run_id, want.value]
        attempts = self._attempts()
        while True:
            try:
                moved = self._engine.query(CLAIM, params)
            except NotSent as failure:
                attempts.again(failure)
                continue
            except Unsure as failure:
                attempts.again(failure)
                current, _, writers = self._current(RUNS, scope, run_id)
                if token in writers.split():
                    return current  # the lost answer was a success
                continue
            if moved:
                return decode(RUNS, moved[0][0], self._where(place, run_id))
            current = self._fetch(RUNS, scope, run_id)
            lifecycle.check_run_move(current, target, expected=want, force=False)
            # It was back in the expected status by the time we looked: try again.

    @classmethod
    def async_store_class(cls) -> type[NativeAsyncStore]:
        """What ``threadstore.aio.open_store`` opens for this backend: the store as
        coroutines on asyncio's loop, with psycopg's async pool."""
        from threadstore_sql.aio import NativeAsyncStore

        return NativeAsyncStore

    def use_async_pool_only(self) -> None:
        """Close the sync pool: a store used from asyncio's loop talks through the async one."""
        self._engine.close_sync_pool()

    def _insert_rows(
        self, place: Place, rows: list[tuple[str, str]], lists: list[tuple[str, str]], token: str
    ) -> int:
        batch = "[" + ",".join(data for _, data in rows) + "]"
        params = [
            *sql.take_params(place, len(rows)),
            place.kind,
            place.scope,
            len(rows),
            token,
            token,
            batch,
        ]
        if lists:
            params += [[kind for kind, _ in lists], [scope for _, scope in lists]]
        found = self._engine.query(insert_statement(place.depth, bool(lists)), params)
        return int(found[0][0])

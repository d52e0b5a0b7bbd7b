"""``SqlThreadStore``: the five storage hooks in SQL, shared by PostgreSQL and SQLite.

Every hook is one transaction. Records are stored as their wire JSON in one table; a list
is ordered by ``seq``, handed out from ``heads`` inside the inserting transaction, so all
readers see one order. Every write carries a random token (``created_by`` on insert,
the newest of ``changed_by`` on update), so that after a lost connection a retry can tell
its own write from somebody else's: a lost commit acknowledgement never becomes a
duplicate, a lost update is never applied twice.
"""

from __future__ import annotations

import random
import secrets
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from threadstore.backend import (
    RECORD_FORMAT,
    AlreadyExistsError,
    BackendError,
    BaseThreadStore,
    CorruptDataError,
    CursorNotFound,
    Kind,
    NotFoundError,
    Record,
    Scope,
    decode,
    decode_many,
    encode,
)
from threadstore_sql import statements as sql
from threadstore_sql.engine import Duplicate, Engine, NotSent, Unsure
from threadstore_sql.statements import Place

__all__ = ["Attempts", "SqlThreadStore", "new_token"]

R = TypeVar("R", bound=Record)

CAS_ROUNDS = 1000
"""Compare-and-set rounds lost to other writers before giving up (each round one read
and one conditional update)."""


_JITTER = random.Random()
"""Backoff jitter, apart from the global generator (which callers' tests may seed)."""


def new_token() -> str:
    return secrets.token_hex(6)


class Attempts:
    """Retries of one operation after failures that left nothing (or maybe something)
    written, with jittered backoff, until ``patience`` seconds have passed."""

    def __init__(self, engine: Engine, patience: float) -> None:
        self._engine = engine
        self._deadline = time.monotonic() + patience
        self._patience = patience
        self._delay = 0.02
        self.unsure = False

    def again(self, failure: NotSent | Unsure) -> None:
        """Wait before the next attempt, or raise once patience has run out."""
        self.unsure = self.unsure or isinstance(failure, Unsure)
        if time.monotonic() + self._delay > self._deadline:
            cause = failure.__cause__ or failure
            if self.unsure:
                raise BackendError(
                    f"lost the connection to {self._engine.where} after a write was sent, "
                    f"and could not reconnect within {self._patience:g} s ({failure}); the "
                    "write may or may not have been stored: read it back to see"
                ) from cause
            raise BackendError(
                f"could not reach {self._engine.where} within {self._patience:g} s "
                f"({failure}); nothing was written. Check that the database is up, or raise "
                "the retry_timeout option"
            ) from cause
        self._engine.sleep(self._delay * _JITTER.uniform(0.5, 1.0))
        self._delay = min(self._delay * 2, 1.0)


def _descendants(kind: Kind[Any]) -> list[str]:
    names: list[str] = []
    for child in kind.children:
        names.append(child.name)
        names.extend(_descendants(child))
    return names


class SqlThreadStore(BaseThreadStore):
    """The hooks over an :class:`~threadstore_sql.engine.Engine`; a dialect's subclass
    adds how a batch is inserted (:meth:`_insert_rows`) and how it is opened."""

    def __init__(self, engine: Engine, *, retry_timeout: float) -> None:
        self._engine = engine
        self._retry_timeout = retry_timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._engine.where}>"

    def _close(self) -> None:
        self._engine.close()

    def _attempts(self) -> Attempts:
        return Attempts(self._engine, self._retry_timeout)

    def _read(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """A read, retried while the database cannot be reached."""
        attempts = self._attempts()
        while True:
            try:
                return self._engine.query(statement, params)
            except (NotSent, Unsure) as failure:
                attempts.again(failure)

    def _owners_found(self, place: Place) -> int:
        return int(self._read(sql.owners_found(place.depth), place.owner_params())[0][0])

    def _where(self, place: Place, record_id: str) -> str:
        return f"{self._engine.where} {place.kind} {place.below(record_id)}"

    def _missing(self, kind: Kind[Any], scope: Scope, record_id: str, owners: int) -> NotFoundError:
        """The error for the first level of the path that is not there."""
        if owners < kind.depth:
            return kind.owner_missing(scope, owners)
        return kind.missing(record_id)

    # --- the hooks ---------------------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        place = Place.of(kind, scope)
        rows = [(record.id, encode(record).decode()) for record in records]
        lists = [(child.name, place.below(i)) for i, _ in rows for child in kind.children]
        token = new_token()
        attempts = self._attempts()
        headless = False
        while True:
            try:
                inserted = self._insert_rows(place, rows, lists, token)
            except Duplicate:
                found = self._read(
                    sql.taken(len(rows)), [place.kind, place.scope, *(i for i, _ in rows)]
                )
                if attempts.unsure and any(creator == token for _, creator in found):
                    return  # our first attempt committed; its answer was lost
                if found:
                    raise AlreadyExistsError(
                        f"{kind.singular} {found[0][0]!r} already exists"
                    ) from None
                attempts.again(NotSent("the row in the way is gone"))  # try again
            except (NotSent, Unsure) as failure:
                attempts.again(failure)
                continue
            if inserted:
                return
            present = self._owners_found(place)
            if present < place.depth:
                raise kind.owner_missing(scope, present)
            if headless:  # the owner is there (not just made meanwhile), its head is not
                raise CorruptDataError(
                    f"the {place.kind} of {place.scope!r} at {self._engine.where} have no "
                    "row in the heads table: appends there cannot be numbered"
                )
            headless = True

    @abstractmethod
    def _insert_rows(
        self, place: Place, rows: list[tuple[str, str]], lists: list[tuple[str, str]], token: str
    ) -> int:
        """In one transaction: take positions at the end of the list (:func:`take_positions`),
        insert ``rows`` (ID, wire JSON) there and the heads of the ``lists`` (kind, scope)
        they own. Return how many rows were inserted (0: the list's owner is gone); raise
        :class:`Duplicate` if an ID is taken."""

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        return self._current(kind, scope, record_id)[0]

    def _current(self, kind: Kind[R], scope: Scope, record_id: str) -> tuple[R, int, str]:
        """The record, its version and its latest writers' tokens."""
        place = Place.of(kind, scope)
        found = self._read(sql.FETCH, [place.kind, place.scope, record_id])
        if not found:
            raise self._missing(kind, scope, record_id, self._owners_found(place))
        data, version, writers = found[0]
        return decode(kind, data, self._where(place, record_id)), int(version), writers

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        place = Place.of(kind, scope)
        token = new_token()
        attempts = self._attempts()
        tried: int | None = None  # the version an update whose answer was lost started from
        for _ in range(CAS_ROUNDS):
            current, version, writers = self._current(kind, scope, record_id)
            if tried is not None:
                if token in writers.split():
                    return current  # the lost answer was a success
                if version - tried > sql.TOKENS_KEPT:
                    raise BackendError(
                        f"lost the answer to an update of {kind.singular} {record_id!r}, and "
                        f"it has changed {version - tried} times since: whether the update "
                        "landed is unknown; read the record to see"
                    )
                tried = None
            updated = change(current)
            data = encode(updated).decode()
            params = [data, RECORD_FORMAT, token, place.kind, place.scope, record_id, version]
            try:
                if self._engine.query(sql.CAS_UPDATE, params):
                    return updated
            except NotSent as failure:
                attempts.again(failure)
            except Unsure as failure:
                tried = version
                attempts.again(failure)
        raise BackendError(
            f"gave up changing {kind.singular} {record_id!r} after {CAS_ROUNDS} rounds lost "
            "to other writers; try again"
        )

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        place = Place.of(kind, scope)
        below = _descendants(kind)
        attempts = self._attempts()
        while True:
            try:
                with self._engine.transaction() as work:
                    prefix = sql.below_params(place.below(record_id))
                    if below:  # first: appenders to the lists below wait for this, or fail
                        work.query(sql.delete_below("heads", len(below)), [*below, *prefix])
                    gone = work.query(sql.DELETE_RECORD, [place.kind, place.scope, record_id])
                    if gone and below:
                        work.query(sql.delete_below("records", len(below)), [*below, *prefix])
                break
            except (NotSent, Unsure) as failure:
                attempts.again(failure)
        if gone or attempts.unsure:
            return  # after a lost answer, a record that is gone was deleted by us or for us
        raise self._missing(kind, scope, record_id, self._owners_found(place))

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        place = Place.of(kind, scope)
        after = [] if cursor is None else [place.kind, place.scope, cursor]
        statement = sql.scan(cursor is not None, descending)
        rows = self._read(statement, [place.list_key, *after, count])
        if rows:
            datas = [data for _, data in rows]
            return decode_many(kind, datas, lambda n: self._where(place, rows[n][0]))
        check = sql.scan_check(place.depth, cursor is not None)
        owners, cursors = self._read(check, [*place.owner_params(), *after])[0]
        if int(owners) < place.depth:
            raise kind.owner_missing(scope, int(owners))
        if not cursors:
            raise CursorNotFound(cursor)
        return []

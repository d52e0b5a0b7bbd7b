"""How the store reaches its database: one statement in its own transaction, or several
in one, with failures sorted into the three cases the store's retry logic needs.

An engine turns the driver's failures into :class:`NotSent` (nothing reached the
database: retry), :class:`Unsure` (the connection was lost after a statement went out:
it may have committed), :class:`Duplicate` (a unique key was taken) or a
:class:`~threadstore.errors.BackendError` whose message says what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from threadstore_sql.dialect import Dialect

__all__ = ["Duplicate", "Engine", "NotSent", "Row", "Transaction", "Unsure"]

Row = tuple[Any, ...]


class NotSent(Exception):
    """The statement did not run (no connection, a serialization failure, a deadlock):
    nothing was written, and the same attempt may simply be made again."""


class Unsure(Exception):
    """The connection failed after a statement was sent: it may or may not have committed."""


class Duplicate(Exception):
    """A unique key was taken (the transaction was rolled back)."""


class Transaction(Protocol):
    """The statements of one transaction, run in order on one connection."""

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Engine(ABC):
    """Runs statements written with ``?`` placeholders and ``{records}``-style names."""

    dialect: Dialect
    schema: str | None = None
    where: str
    """Where the data is, for messages (the URL without secrets)."""

    def sql(self, statement: str) -> str:
        return self.dialect.sql(statement, self.schema)

    @abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement as its own transaction; return its rows."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back on an error."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait before a retry (without blocking an event loop, for an async engine)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections; calling it twice is harmless."""


def rows_of(results: Iterator[Row] | None) -> list[Row]:
    return [] if results is None else list(results)

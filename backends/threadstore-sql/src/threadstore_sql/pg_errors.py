"""What a psycopg failure means for the store, and what its message tells the user to do.

Connection failures at open become :class:`BackendError` with the fix (start the server,
check the credentials, create the database); during an operation they become
:class:`~threadstore_sql.engine.NotSent` or :class:`~threadstore_sql.engine.Unsure` for
the store to retry. Messages name the host, role, database and schema, never the
password; the driver's exception stays attached as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import psycopg_pool
from psycopg import errors as pg

from threadstore.backend import BackendError
from threadstore_sql.engine import Duplicate, NotSent, Unsure

__all__ = [
    "DRIVER_ERRORS",
    "Target",
    "connect_failure",
    "driver_errors",
    "operation_failure",
    "translated",
]

_LOST = {"57P01", "57P02", "57P03"}
"""Administrator shutdown, crash shutdown, cannot connect now: the server went away."""


@dataclass(frozen=True)
class Target:
    """Where the store connects, for messages (no password)."""

    host: str
    port: int | None
    user: str | None
    database: str | None
    schema: str
    shown_as: str

    @property
    def address(self) -> str:
        return f"{self.host or 'the default host'}:{self.port or 5432}"


def _lost(error: psycopg.Error) -> bool:
    state = error.sqlstate
    if isinstance(error, psycopg.InterfaceError):
        return True
    return isinstance(error, psycopg.OperationalError) and (
        state is None or state.startswith("08") or state in _LOST
    )


def _summary(error: psycopg.Error, secret: str | None) -> str:
    text = (error.diag.message_primary or str(error)).strip().splitlines()[0]
    return text.replace(secret, "***") if secret else text


def connect_failure(error: psycopg.Error, target: Target, secret: str | None) -> BackendError:
    """The error for a connection that could not be made, saying what to do about it."""
    state, text = error.sqlstate, str(error)
    if (
        state in ("28P01", "28000")
        or "authentication failed" in text
        or ("role" in text and "does not exist" in text)
    ):
        return BackendError(
            f"PostgreSQL at {target.address} refused role {target.user!r} "
            "(wrong user name or password, or no pg_hba.conf entry for it): check the "
            "credentials in the URL"
        )
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return BackendError(
            f"database {target.database!r} does not exist at {target.address}: create it "
            f"(createdb {target.database}) or fix the database name in the URL"
        )
    if "Connection refused" in text:
        return BackendError(
            f"cannot connect to PostgreSQL at {target.address}: connection refused. Is the "
            "server running and listening on that address and port?"
        )
    if "timeout expired" in text:
        return BackendError(
            f"no answer from PostgreSQL at {target.address} within connect_timeout: check "
            "the address and the network, or raise the connect_timeout option"
        )
    return BackendError(
        f"cannot connect to PostgreSQL at {target.address}: {_summary(error, secret)}"
    )


def operation_failure(error: psycopg.Error, target: Target, secret: str | None) -> Exception:
    """What a failure during an operation means: retry, an unknown outcome, or an error."""
    if isinstance(error, pg.UniqueViolation):
        return Duplicate()
    if isinstance(error, pg.SerializationFailure | pg.DeadlockDetected):
        return NotSent(f"{error.sqlstate}: {_summary(error, secret)}")
    if _lost(error):
        return Unsure(f"connection lost: {_summary(error, secret)}")
    if isinstance(error, pg.QueryCanceled):
        return BackendError(
            f"a statement on {target.shown_as} ran past statement_timeout and was cancelled; "
            "nothing was written. Retry, or raise the statement_timeout option"
        )
    if isinstance(error, pg.InsufficientPrivilege):
        return BackendError(
            f"role {target.user!r} lacks a privilege on the threadstore tables in schema "
            f"{target.schema!r} ({_summary(error, secret)}): GRANT SELECT, INSERT, UPDATE, "
            f"DELETE ON ALL TABLES IN SCHEMA {target.schema} TO {target.user}"
        )
    if isinstance(error, pg.UndefinedTable | pg.InvalidSchemaName):
        return BackendError(
            f"the threadstore tables in schema {target.schema!r} are gone "
            f"({_summary(error, secret)}): open the store again to create them"
        )
    return BackendError(f"PostgreSQL failed on {target.shown_as}: {_summary(error, secret)}")


def translated(error: Exception, target: Target, secret: str | None) -> Exception:
    """What a driver's or pool's exception means (see :func:`operation_failure`)."""
    if isinstance(error, psycopg_pool.PoolTimeout):
        return NotSent(f"no connection to {target.address}: {error}")
    if isinstance(error, psycopg.Error):
        return operation_failure(error, target, secret)
    return error


DRIVER_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout)


@contextmanager
def driver_errors(target: Target, secret: str | None) -> Iterator[None]:
    """Translate the driver's and the pool's exceptions raised inside the block."""
    try:
        yield
    except DRIVER_ERRORS as error:
        raise translated(error, target, secret) from error

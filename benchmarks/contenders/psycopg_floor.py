"""Bare psycopg on PostgreSQL: the floor a threadstore operation on the same server is
held to, in two forms: messages numbered by an identity column (the cheapest insert),
and numbered from a per-thread head row in the same statement (``ordered``: what
threadstore does so that positions follow commit order). The rows are the same wire
JSON in ``jsonb``, the tables have the indexes a careful user would add, each operation
is one autocommit statement, prepared on the server, and pages are decoded into the
same pydantic models. What it leaves out is what threadstore adds: owner checks, exact
``has_more``, retries, lost-answer tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family
from threadstore.models import Message, Run, RunStatus, Thread, now

__all__ = ["PsycopgContender"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_threads (
    id text COLLATE "C" PRIMARY KEY,
    data jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS floor_messages (
    thread_id text COLLATE "C" NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text COLLATE "C" NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (thread_id, id)
);
CREATE INDEX IF NOT EXISTS floor_messages_order ON floor_messages (thread_id, seq);
CREATE TABLE IF NOT EXISTS floor_ordered (
    thread_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    id text COLLATE "C" NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (thread_id, id),
    UNIQUE (thread_id, seq)
);
CREATE TABLE IF NOT EXISTS floor_heads (
    thread_id text COLLATE "C" PRIMARY KEY,
    head bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS floor_runs (
    thread_id text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    status text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (thread_id, id)
);
"""
PAGE_LATEST = (
    "SELECT data::text FROM floor_messages WHERE thread_id = %s ORDER BY seq DESC LIMIT %s"
)
APPEND = "INSERT INTO floor_messages (thread_id, id, data) VALUES (%s, %s, %s)"
APPEND_ORDERED = (
    "WITH h AS (UPDATE floor_heads SET head = head + 1 WHERE thread_id = %s RETURNING head) "
    "INSERT INTO floor_ordered (thread_id, seq, id, data) SELECT %s, h.head, %s, %s FROM h"
)
PAGE_AFTER = (
    "SELECT data::text FROM floor_messages WHERE thread_id = %s AND seq < "
    "(SELECT seq FROM floor_messages WHERE thread_id = %s AND id = %s) "
    "ORDER BY seq DESC LIMIT %s"
)


@dataclasses.dataclass(kw_only=True)
class PsycopgContender(Contender):
    """psycopg 3, autocommit, prepared statements; one statement per operation."""

    family: ClassVar[Family] = Family.BASELINE
    conninfo: dict[str, Any]
    ordered: bool = False
    """Number messages from a per-thread head row, taken in the inserting statement."""
    durable: bool = True
    _db: psycopg.Connection[Any] | None = dataclasses.field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        if self.ordered:
            return (
                "bare psycopg 3, the append numbered from a per-thread head row in the same "
                "statement (`WITH h AS (UPDATE heads … RETURNING head) INSERT …`), so "
                "positions follow commit order"
            )
        return (
            "bare psycopg 3 on the same server: one prepared autocommit statement per "
            "operation (INSERT with an identity seq; SELECT … ORDER BY seq LIMIT 21; "
            "UPDATE … WHERE status = expected), rows decoded into the same pydantic models"
        )

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.conninfo, autocommit=True, prepare_threshold=0)

    @property
    def db(self) -> psycopg.Connection[Any]:
        if self._db is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._db

    def open(self) -> None:
        self._db = self._connect()
        self._db.execute(SCHEMA, prepare=False)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def new_thread(self) -> str:
        thread = Thread()
        self.db.execute(
            "INSERT INTO floor_threads (id, data) VALUES (%s, %s)",
            (thread.id, thread.model_dump_json()),
        )
        if self.ordered:
            self.db.execute(
                "INSERT INTO floor_heads (thread_id, head) VALUES (%s, 0)", (thread.id,)
            )
        return thread.id

    def append(self, thread_id: str, message: Message) -> None:
        owned = message.model_copy(update={"thread_id": thread_id})
        data = owned.model_dump_json()
        if self.ordered:
            self.db.execute(APPEND_ORDERED, (thread_id, thread_id, owned.id, data))
        else:
            self.db.execute(APPEND, (thread_id, owned.id, data))

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        with (
            self.db.cursor() as cursor,
            cursor.copy("COPY floor_messages (thread_id, id, data) FROM STDIN") as copy,
        ):
            for message in messages:
                owned = message.model_copy(update={"thread_id": thread_id})
                copy.write_row((thread_id, owned.id, owned.model_dump_json()))
        return [message.id for message in messages]

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        if after is None:
            rows = self.db.execute(PAGE_LATEST, (thread_id, PAGE_SIZE + 1)).fetchall()
        else:
            rows = self.db.execute(
                PAGE_AFTER, (thread_id, thread_id, after, PAGE_SIZE + 1)
            ).fetchall()
        return [Message.model_validate_json(data) for (data,) in rows[:PAGE_SIZE]]

    def read_all(self, thread_id: str) -> int:
        table = "floor_ordered" if self.ordered else "floor_messages"
        rows = self.db.execute(
            f"SELECT data::text FROM {table} WHERE thread_id = %s ORDER BY seq",  # noqa: S608
            (thread_id,),
        )
        return len([Message.model_validate_json(data) for (data,) in rows])

    def create_run(self, thread_id: str) -> str:
        run = Run(assistant_id="asst_bench", model="m", thread_id=thread_id)
        self.db.execute(
            "INSERT INTO floor_runs (thread_id, id, status, data) VALUES (%s, %s, %s, %s)",
            (thread_id, run.id, run.status.value, run.model_dump_json()),
        )
        return run.id

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        """One conditional UPDATE, the stamp set in the same statement, the run returned."""
        stamp = "started_at" if status == RunStatus.IN_PROGRESS else "completed_at"
        row = self.db.execute(
            "UPDATE floor_runs SET status = %s, data = data || jsonb_build_object("
            "'status', %s::text, %s::text, %s::bigint) "
            "WHERE thread_id = %s AND id = %s AND status = %s RETURNING data::text",
            (status, status, stamp, now(), thread_id, run_id, expected),
        ).fetchone()
        if row is None:
            raise RuntimeError(f"run {run_id} is not {expected}")
        Run.model_validate_json(row[0])

    def create_threads(self, count: int) -> None:
        with (
            self.db.cursor() as cursor,
            cursor.copy("COPY floor_threads (id, data) FROM STDIN") as copy,
        ):
            for _ in range(count):
                thread = Thread()
                copy.write_row((thread.id, thread.model_dump_json()))

    def cold_open(self) -> int:
        with self._connect() as db:
            rows = db.execute(
                "SELECT data::text FROM floor_threads ORDER BY id DESC LIMIT %s",
                (PAGE_SIZE + 1,),
            ).fetchall()
        return len([Thread.model_validate_json(data) for (data,) in rows[:PAGE_SIZE]])

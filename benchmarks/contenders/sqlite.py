"""The stdlib ``sqlite3`` peer: what a user would write with SQLite instead of threadstore.

The schema is the equivalent of threadstore's data model with the indexes a careful
user would add: messages keyed by ``(thread_id, seq)`` for ordered pages, a unique
``(thread_id, id)`` for cursors, foreign keys so an append to a missing thread fails.
Like threadstore, it stores the wire JSON and hands back validated models, so the
figures compare storage, not serialisation.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family
from threadstore.models import Message, Run, RunStatus, Thread, now

__all__ = ["SqliteContender"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_order ON messages (thread_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_id ON messages (thread_id, id);
CREATE TABLE IF NOT EXISTS runs (
    thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_order ON runs (thread_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS runs_id ON runs (thread_id, id);
"""

# The next sequence number is taken inside the INSERT, under SQLite's write lock, so
# concurrent writers (threads or processes) never share or skip a number.
APPEND = """
INSERT INTO messages (thread_id, seq, id, json)
SELECT :thread_id, COALESCE(MAX(seq), 0) + 1, :id, :json
FROM messages WHERE thread_id = :thread_id
"""
PAGE_LATEST = "SELECT json FROM messages WHERE thread_id = ? ORDER BY seq DESC LIMIT ?"
PAGE_AFTER = """
SELECT json FROM messages
WHERE thread_id = :thread_id
  AND seq < (SELECT seq FROM messages WHERE thread_id = :thread_id AND id = :cursor)
ORDER BY seq DESC LIMIT :limit
"""


@dataclasses.dataclass(kw_only=True)
class SqliteContender(Contender):
    """stdlib sqlite3, WAL, autocommit (one transaction per append), indexed schema."""

    family: ClassVar[Family] = Family.PEER
    path: Path
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    _db: sqlite3.Connection | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.durable = self.synchronous == "FULL"

    @property
    def description(self) -> str:
        return (
            f"stdlib `sqlite3`, WAL, `synchronous={self.synchronous}`, one transaction per "
            "append; indexes on (thread_id, seq) and unique (thread_id, id); rows decoded "
            "into the same pydantic models"
        )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        return db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._db

    def open(self) -> None:
        self._db = self._connect()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def new_thread(self) -> str:
        thread = Thread()
        self.db.execute(
            "INSERT INTO threads (id, json) VALUES (?, ?)", (thread.id, thread.model_dump_json())
        )
        return thread.id

    @staticmethod
    def _row(thread_id: str, message: Message) -> dict[str, str]:
        owned = message.model_copy(update={"thread_id": thread_id})
        return {"thread_id": thread_id, "id": owned.id, "json": owned.model_dump_json()}

    def append(self, thread_id: str, message: Message) -> None:
        self.db.execute(APPEND, self._row(thread_id, message))

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        with self.db:  # one transaction: fixtures are not what is measured
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO messages (thread_id, seq, id, json) "
                "VALUES (:thread_id, :seq, :id, :json)",
                (
                    {**self._row(thread_id, message), "seq": seq}
                    for seq, message in enumerate(messages, start=1)
                ),
            )
        return [message.id for message in messages]

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        # One more than the page, as threadstore does, so has_more would be exact.
        if after is None:
            rows = self.db.execute(PAGE_LATEST, (thread_id, PAGE_SIZE + 1)).fetchall()
        else:
            query = {"thread_id": thread_id, "cursor": after, "limit": PAGE_SIZE + 1}
            rows = self.db.execute(PAGE_AFTER, query).fetchall()
        return [Message.model_validate_json(json) for (json,) in rows[:PAGE_SIZE]]

    def read_all(self, thread_id: str) -> int:
        rows = self.db.execute(
            "SELECT json FROM messages WHERE thread_id = ? ORDER BY seq", (thread_id,)
        )
        return len([Message.model_validate_json(json) for (json,) in rows])

    def create_run(self, thread_id: str) -> str:
        run = Run(assistant_id="asst_bench", model="m", thread_id=thread_id)
        self.db.execute(
            "INSERT INTO runs (thread_id, seq, id, status, json) "
            "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM runs WHERE thread_id = ?",
            (thread_id, run.id, run.status.value, run.model_dump_json(), thread_id),
        )
        return run.id

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        """Read, change the model, write back only if the status is still ``expected``:
        an optimistic compare-and-set in one autocommit UPDATE."""
        (json,) = self.db.execute(
            "SELECT json FROM runs WHERE thread_id = ? AND id = ?", (thread_id, run_id)
        ).fetchone()
        run = Run.model_validate_json(json)
        if run.status != expected or run.status.is_terminal:
            raise RuntimeError(f"run {run_id} is {run.status}, not {expected}")
        stamp = "started_at" if status == RunStatus.IN_PROGRESS else "completed_at"
        moved = run.model_copy(update={"status": RunStatus(status), stamp: now()})
        changed = self.db.execute(
            "UPDATE runs SET status = ?, json = ? WHERE thread_id = ? AND id = ? AND status = ?",
            (status, moved.model_dump_json(), thread_id, run_id, expected),
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"run {run_id} changed under us")

    def create_threads(self, count: int) -> None:
        threads = [Thread() for _ in range(count)]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO threads (id, json) VALUES (?, ?)",
                ((thread.id, thread.model_dump_json()) for thread in threads),
            )

    def cold_open(self) -> int:
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT json FROM threads ORDER BY id DESC LIMIT ?", (PAGE_SIZE + 1,)
            ).fetchall()
            return len([Thread.model_validate_json(json) for (json,) in rows[:PAGE_SIZE]])
        finally:
            db.close()

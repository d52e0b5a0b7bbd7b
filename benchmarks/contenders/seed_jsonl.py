"""The seed design threadstore replaces: one directory per thread, messages in one JSONL file.

Ported faithfully from the seed store: ``append`` opens ``messages.jsonl`` in append
mode and writes one line (no fsync, so not durable); every listing reads and parses the
whole file, then the caller slices the page it wants; a run is ``status.json`` rewritten
through a temp file and a rename (no fsync, no lock: two processes can both "win");
listing threads reads the whole root directory.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family
from threadstore.models import Message, Run, RunStatus, Thread, now

__all__ = ["SeedJsonlContender"]


def _write_atomic(directory: Path, name: str, data: bytes) -> None:
    """The seed's ``write_json_atomic``: temp file in the same directory, then rename."""
    fd, temp = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temp, directory / name)


@dataclasses.dataclass(kw_only=True)
class SeedJsonlContender(Contender):
    """The seed: append a line to the thread's JSONL file; every read parses the whole file."""

    family: ClassVar[Family] = Family.BASELINE
    root: Path
    _opened: bool = dataclasses.field(default=False, init=False, repr=False)

    @property
    def description(self) -> str:
        return (
            "the seed design: one JSONL file per thread, `open(append)` + one line per "
            "append (no fsync); every listing parses the whole file into models, then slices"
        )

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._opened = True

    def close(self) -> None:
        self._opened = False

    def _thread_dir(self, thread_id: str) -> Path:
        return self.root / thread_id

    def new_thread(self) -> str:
        thread = Thread()
        directory = self._thread_dir(thread.id)
        directory.mkdir(parents=True)
        _write_atomic(directory, "meta.json", thread.model_dump_json().encode())
        return thread.id

    def append(self, thread_id: str, message: Message) -> None:
        directory = self._thread_dir(thread_id)
        if not (directory / "meta.json").exists():
            raise LookupError(f"thread {thread_id} not found")
        line = message.model_copy(update={"thread_id": thread_id}).model_dump_json()
        with open(directory / "messages.jsonl", "ab") as file:
            file.write(line.encode() + b"\n")

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        with open(self._thread_dir(thread_id) / "messages.jsonl", "ab") as file:
            for message in messages:
                owned = message.model_copy(update={"thread_id": thread_id})
                file.write(owned.model_dump_json().encode() + b"\n")
        return [message.id for message in messages]

    def _list(self, thread_id: str) -> list[Message]:
        """The seed's ``list_messages``: every message of the thread, oldest first."""
        directory = self._thread_dir(thread_id)
        if not (directory / "meta.json").exists():
            raise LookupError(f"thread {thread_id} not found")
        try:
            lines = (directory / "messages.jsonl").read_bytes().splitlines()
        except FileNotFoundError:
            return []
        messages = []
        for line in lines:
            if line.strip():
                try:
                    messages.append(Message.model_validate_json(line))
                except ValueError:
                    continue  # the seed skips lines it cannot parse
        return messages

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        newest_first = self._list(thread_id)[::-1]
        start = 0
        if after is not None:
            start = next(i for i, m in enumerate(newest_first) if m.id == after) + 1
        return newest_first[start : start + PAGE_SIZE]

    def read_all(self, thread_id: str) -> int:
        return len(self._list(thread_id))

    def _run_dir(self, thread_id: str, run_id: str) -> Path:
        return self._thread_dir(thread_id) / "runs" / run_id

    def create_run(self, thread_id: str) -> str:
        run = Run(assistant_id="asst_bench", model="m", thread_id=thread_id)
        directory = self._run_dir(thread_id, run.id)
        directory.mkdir(parents=True)
        _write_atomic(directory, "status.json", run.model_dump_json().encode())
        return run.id

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        """The seed's ``update_run_status`` plus the check a caller would add: read,
        check, rewrite. Not atomic across processes (the seed has no lock)."""
        directory = self._run_dir(thread_id, run_id)
        run = Run.model_validate_json((directory / "status.json").read_bytes())
        if run.status != expected or run.status.is_terminal:
            raise RuntimeError(f"run {run_id} is {run.status}, not {expected}")
        stamp = "started_at" if status == RunStatus.IN_PROGRESS else "completed_at"
        moved = run.model_copy(update={"status": RunStatus(status), stamp: now()})
        _write_atomic(directory, "status.json", moved.model_dump_json().encode())

    def cold_open(self) -> int:
        """The seed's ``list_thread_ids`` (the whole directory), then the newest 20 threads."""
        ids = sorted(entry.name for entry in os.scandir(self.root) if entry.is_dir())
        newest = ids[::-1][:PAGE_SIZE]
        threads = [
            Thread.model_validate_json((self._thread_dir(i) / "meta.json").read_bytes())
            for i in newest
        ]
        return len(threads)

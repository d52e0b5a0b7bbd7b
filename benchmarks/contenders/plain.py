"""The plain dict-and-list store: the least a correct in-memory store must do.

It is the yardstick for the memory backend. Per thread it keeps a list of messages and
a dict from message ID to position. It does exactly the work that cannot be skipped
without changing what callers see, and nothing else:

- append: copy the caller's Message with ``thread_id`` set (``model_copy``, no
  validation), encode it to its wire JSON (pydantic's serializer, as the memory backend
  does), append the bytes and record the position;
- page: look the cursor up in the dict, slice 21 entries newest first (one extra, as an
  exact ``has_more`` needs) and decode 20 of them into Message models;
- full read: decode every entry into a Message model;
- run moves: decode the run, check the status, ``model_copy`` with the new status and
  timestamp, encode it back.

Storing encoded JSON and decoding on read is what keeps a caller who mutates a returned
model from changing the store; the memory backend pays the same cost. What the plain
store does not do: ID validation, locks, owner checks, pagination rules and errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family, Role
from threadstore.models import Message, Run, RunStatus, Thread, now

__all__ = ["PlainContender"]


@dataclasses.dataclass
class _Thread:
    messages: list[bytes] = dataclasses.field(default_factory=list)
    positions: dict[str, int] = dataclasses.field(default_factory=dict)
    runs: dict[str, bytes] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class PlainContender(Contender):
    """A dict of threads, each a list of encoded messages plus an ID-to-position dict."""

    family: ClassVar[Family] = Family.BASELINE
    roles: frozenset[Role] = frozenset(
        {Role.APPEND, Role.LATEST_PAGE, Role.CURSOR_PAGE, Role.FULL_READ, Role.RUNS}
    )
    _threads: dict[str, _Thread] = dataclasses.field(default_factory=dict, init=False)

    @property
    def description(self) -> str:
        return (
            "plain dict-and-list: encode on append, decode the page's Message models on "
            "read; no validation, locks or errors (see below)"
        )

    def open(self) -> None:
        self._threads = {}

    def close(self) -> None:
        self._threads = {}

    def new_thread(self) -> str:
        thread_id = Thread().id
        self._threads[thread_id] = _Thread()
        return thread_id

    def append(self, thread_id: str, message: Message) -> None:
        thread = self._threads[thread_id]
        owned = message.model_copy(update={"thread_id": thread_id})
        thread.positions[owned.id] = len(thread.messages)
        thread.messages.append(owned.__pydantic_serializer__.to_json(owned))

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        thread = self._threads[thread_id]
        end = len(thread.messages) if after is None else thread.positions[after]
        window = thread.messages[max(0, end - PAGE_SIZE - 1) : end][::-1]
        return [Message.model_validate_json(data) for data in window[:PAGE_SIZE]]

    def read_all(self, thread_id: str) -> int:
        messages = self._threads[thread_id].messages
        return len([Message.model_validate_json(data) for data in messages])

    def create_run(self, thread_id: str) -> str:
        run = Run(assistant_id="asst_bench", model="m", thread_id=thread_id)
        self._threads[thread_id].runs[run.id] = run.__pydantic_serializer__.to_json(run)
        return run.id

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        runs = self._threads[thread_id].runs
        run = Run.model_validate_json(runs[run_id])
        if run.status != expected or run.status.is_terminal:
            raise RuntimeError(f"run {run_id} is {run.status}, not {expected}")
        stamp = "started_at" if status == RunStatus.IN_PROGRESS else "completed_at"
        moved = run.model_copy(update={"status": RunStatus(status), stamp: now()})
        runs[run_id] = moved.__pydantic_serializer__.to_json(moved)

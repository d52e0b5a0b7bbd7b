"""A threadstore backend, opened by URL like a user opens it: memory, local disk, S3."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family
from threadstore.models import Message, Run, Thread
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

__all__ = ["Loader", "ThreadStoreContender"]

Loader = Callable[[ThreadStore, str, int], list[str]]


@dataclasses.dataclass(kw_only=True)
class ThreadStoreContender(Contender):
    """threadstore through ``open_store(url)``: the public API, nothing bypassed."""

    family: ClassVar[Family] = Family.THREADSTORE
    url: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    fixture_options: dict[str, Any] | None = None
    """Options for a second store on the same URL that builds the untimed fixtures (a
    faster, non-durable mode, or a direct endpoint instead of a delaying proxy)."""
    loader: Loader | None = None
    """A bulk path for the read fixtures: writes ``count`` messages of its own straight
    into the backend's layout and returns their IDs (for stores where appending every
    fixture message through the API would take minutes)."""
    _store: ThreadStore | None = dataclasses.field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        shown = self.url.split("?")[0]
        scheme = shown.split("://")[0]
        options = ", ".join(f"{k}={v}" for k, v in self.options.items() if k != "endpoint_url")
        return f"`open_store('{scheme}://…'{', ' + options if options else ''})`: the public API"

    @property
    def store(self) -> ThreadStore:
        if self._store is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._store

    def open(self) -> None:
        self._store = open_store(self.url, **self.options)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _builder(self) -> AbstractContextManager[ThreadStore]:
        """The store that builds fixtures: this one, or a faster twin on the same data."""
        if self.fixture_options is None:
            return nullcontext(self.store)
        return open_store(self.url, **self.fixture_options)

    def new_thread(self) -> str:
        return self.store.create_thread().id

    def append(self, thread_id: str, message: Message) -> None:
        self.store.append_message(thread_id, message)

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        with self._builder() as builder:
            if self.loader is not None:
                return self.loader(builder, thread_id, len(messages))
            for message in messages:
                builder.append_message(thread_id, message)
        return [message.id for message in messages]

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        return self.store.list_messages(thread_id, limit=PAGE_SIZE, order="desc", after=after).data

    def read_all(self, thread_id: str) -> int:
        messages: Iterator[Message] = self.store.iter_messages(thread_id, order="asc")
        return sum(1 for _ in messages)

    def create_run(self, thread_id: str) -> str:
        return self.store.create_run(thread_id, Run(assistant_id="asst_bench", model="m")).id

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        self.store.update_run_status(thread_id, run_id, status, expected=expected)

    def create_threads(self, count: int) -> None:
        with self._builder() as builder:
            for _ in range(count):
                builder.create_thread(Thread())

    def cold_open(self) -> int:
        with open_store(self.url, **self.options) as store:
            return len(store.list_threads(limit=PAGE_SIZE).data)

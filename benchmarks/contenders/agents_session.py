"""The OpenAI Agents SDK's ``SQLiteSession`` (package ``openai-agents``), used as documented.

It is the session store agent builders reach for first. Its API is async
(``add_items``, ``get_items(limit=)``), so calls run on one event loop owned by the
contender; the session itself hops to a worker thread per call, which is part of its
cost. It keeps items as JSON dicts (no model validation on read, which flatters it), has
no cursors (only "the latest N") and no runs, so it sits out those workloads.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family, Role
from threadstore.models import Message, Thread

if TYPE_CHECKING:
    from agents import SQLiteSession

__all__ = ["AgentsSessionContender", "AgentsSessions", "agents_version"]

T = TypeVar("T")


def agents_version() -> str | None:
    """The installed ``openai-agents`` version, or None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openai-agents")
    except PackageNotFoundError:
        return None


@dataclasses.dataclass(kw_only=True)
class AgentsSessions(Contender):
    """What every Agents SDK session contender shares: one event loop for the session's
    async API, one session per thread, items as dicts. Subclasses make the sessions."""

    family: ClassVar[Family] = Family.PEER
    roles: frozenset[Role] = frozenset(
        {Role.APPEND, Role.WRITERS, Role.LATEST_PAGE, Role.FULL_READ}
    )
    durable: bool = True
    _loop: asyncio.AbstractEventLoop | None = dataclasses.field(
        default=None, init=False, repr=False
    )
    _sessions: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False)

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._loop.run_until_complete(work)

    def _new_session(self, thread_id: str) -> Any:
        raise NotImplementedError

    def _session(self, thread_id: str) -> Any:
        session = self._sessions.get(thread_id)
        if session is None:
            session = self._sessions[thread_id] = self._new_session(thread_id)
        return session

    def open(self) -> None:
        self._loop = asyncio.new_event_loop()

    def attach(self, thread_id: str) -> None:
        self._session(thread_id)

    def close(self) -> None:
        self._sessions.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def new_thread(self) -> str:
        return Thread().id  # a session exists once it holds an item

    def append(self, thread_id: str, message: Message) -> None:
        item = message.model_dump(mode="json")
        self._run(self._session(thread_id).add_items([item]))

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        items = [message.model_dump(mode="json") for message in messages]
        for start in range(0, len(items), 1000):
            self._run(self._session(thread_id).add_items(items[start : start + 1000]))
        return [message.id for message in messages]

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        if after is not None:
            raise NotImplementedError(f"{self.label} has no cursors")
        pages: Sequence[object] = self._run(self._session(thread_id).get_items(limit=PAGE_SIZE))
        return pages

    def read_all(self, thread_id: str) -> int:
        return len(self._run(self._session(thread_id).get_items()))


@dataclasses.dataclass(kw_only=True)
class AgentsSessionContender(AgentsSessions):
    """openai-agents `SQLiteSession` on a file (WAL, SQLite's default synchronous=FULL)."""

    path: Path

    @property
    def description(self) -> str:
        return (
            "openai-agents `SQLiteSession` on a file (WAL, synchronous=FULL): "
            "`add_items([item])` per append, `get_items(limit=20)` / `get_items()`; "
            "items stay dicts"
        )

    def _new_session(self, thread_id: str) -> SQLiteSession:
        from agents import SQLiteSession

        return SQLiteSession(thread_id, self.path)

    def open(self) -> None:
        import agents  # noqa: F401 (a heavy import: paid here, not by the first append)

        super().open()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        super().close()

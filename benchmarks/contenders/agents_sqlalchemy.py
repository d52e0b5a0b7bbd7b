"""The OpenAI Agents SDK's ``SQLAlchemySession`` on the same PostgreSQL server.

What an agent builder on PostgreSQL would pick: ``SQLAlchemySession.from_url`` with an
async SQLAlchemy engine over psycopg, used as documented. Like ``SQLiteSession`` it keeps
items as JSON dicts, has no cursors and no runs, so it sits out those workloads. Its
calls run on one event loop owned by the contender.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from benchmarks.contenders.base import PAGE_SIZE, Contender, Family, Role
from threadstore.models import Message, Thread

if TYPE_CHECKING:
    from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

__all__ = ["AgentsSqlAlchemyContender", "sqlalchemy_session_available"]

T = TypeVar("T")


def sqlalchemy_session_available() -> str | None:
    """None if ``SQLAlchemySession`` can be imported, else why not."""
    try:
        from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession  # noqa: F401
    except ImportError as error:
        return f"openai-agents' SQLAlchemySession cannot be imported ({error})"
    return None


@dataclasses.dataclass(kw_only=True)
class AgentsSqlAlchemyContender(Contender):
    """openai-agents `SQLAlchemySession` on PostgreSQL (async SQLAlchemy over psycopg)."""

    family: ClassVar[Family] = Family.PEER
    url: str
    roles: frozenset[Role] = frozenset(
        {Role.APPEND, Role.WRITERS, Role.LATEST_PAGE, Role.FULL_READ}
    )
    durable: bool = True
    _loop: asyncio.AbstractEventLoop | None = dataclasses.field(
        default=None, init=False, repr=False
    )
    _engine: Any = dataclasses.field(default=None, init=False, repr=False)
    _sessions: dict[str, SQLAlchemySession] = dataclasses.field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def description(self) -> str:
        return (
            "openai-agents `SQLAlchemySession` on the same server (async SQLAlchemy, "
            "psycopg): `add_items([item])` per append, `get_items(limit=20)` / "
            "`get_items()`; items stay dicts"
        )

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._loop.run_until_complete(work)

    def _session(self, thread_id: str) -> SQLAlchemySession:
        session = self._sessions.get(thread_id)
        if session is None:
            from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

            session = SQLAlchemySession(thread_id, engine=self._engine, create_tables=True)
            self._sessions[thread_id] = session
        return session

    def open(self) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        self._loop = asyncio.new_event_loop()
        self._engine = create_async_engine(self.url, pool_size=2)

    def attach(self, thread_id: str) -> None:
        self._session(thread_id)

    def close(self) -> None:
        self._sessions.clear()
        if self._loop is not None:
            if self._engine is not None:
                self._run(self._engine.dispose())
                self._engine = None
            self._loop.close()
            self._loop = None

    def new_thread(self) -> str:
        return Thread().id  # a session exists once it holds an item

    def append(self, thread_id: str, message: Message) -> None:
        item = message.model_dump(mode="json")
        self._run(self._session(thread_id).add_items([item]))  # type: ignore[list-item]

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        items = [message.model_dump(mode="json") for message in messages]
        for start in range(0, len(items), 1000):
            self._run(self._session(thread_id).add_items(items[start : start + 1000]))  # type: ignore[arg-type]
        return [message.id for message in messages]

    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        if after is not None:
            raise NotImplementedError("SQLAlchemySession has no cursors")
        return self._run(self._session(thread_id).get_items(limit=PAGE_SIZE))

    def read_all(self, thread_id: str) -> int:
        return len(self._run(self._session(thread_id).get_items()))

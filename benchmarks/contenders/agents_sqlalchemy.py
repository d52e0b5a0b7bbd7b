"""The OpenAI Agents SDK's ``SQLAlchemySession`` on the same PostgreSQL server.

What an agent builder on PostgreSQL would pick: ``SQLAlchemySession`` with an async
SQLAlchemy engine over psycopg, tables created by the session, used as documented. Like
``SQLiteSession`` it keeps items as JSON dicts, has no cursors and no runs, so it sits
out those workloads.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from benchmarks.contenders.agents_session import AgentsSessions

if TYPE_CHECKING:
    from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

__all__ = ["AgentsSqlAlchemyContender", "sqlalchemy_session_available"]


def sqlalchemy_session_available() -> str | None:
    """None if ``SQLAlchemySession`` can be imported, else why not."""
    try:
        from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession  # noqa: F401
    except ImportError as error:
        return f"openai-agents' SQLAlchemySession cannot be imported ({error})"
    return None


@dataclasses.dataclass(kw_only=True)
class AgentsSqlAlchemyContender(AgentsSessions):
    """openai-agents `SQLAlchemySession` on PostgreSQL (async SQLAlchemy over psycopg)."""

    url: str
    _engine: Any = dataclasses.field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        return (
            "openai-agents `SQLAlchemySession` on the same server (async SQLAlchemy, "
            "psycopg): `add_items([item])` per append, `get_items(limit=20)` / "
            "`get_items()`; items stay dicts"
        )

    def _new_session(self, thread_id: str) -> SQLAlchemySession:
        from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession

        return SQLAlchemySession(thread_id, engine=self._engine, create_tables=True)

    def open(self) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        super().open()
        self._engine = create_async_engine(self.url, pool_size=2)

    def close(self) -> None:
        if self._engine is not None and self._loop is not None:
            self._run(self._engine.dispose())
        self._engine = None
        super().close()

"""The native async PostgreSQL store: ``threadstore.aio.open_store("postgresql://…")``.

:class:`NativeAsyncStore` is :class:`threadstore.aio.AsyncThreadStore` with one change:
on asyncio, a call runs the store's sync code in a greenlet on the event loop itself
(:mod:`threadstore_sql.bridge`), and the engine talks to PostgreSQL through psycopg's
async connections and an async pool. No worker thread is involved. The semantics are the
sync store's, since the code is the same: the hooks, their retries, the one-statement
run moves. Writes are shielded from cancellation, as in the adapter. On another async
library (trio) psycopg has no async connections, so calls take the adapter's worker
threads and the sync pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

import anyio

from threadstore.aio import AsyncThreadStore
from threadstore.protocol import ThreadStore
from threadstore_sql.bridge import run_bridged
from threadstore_sql.postgres import PostgresThreadStore

__all__ = ["NativeAsyncStore"]

R = TypeVar("R")


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class NativeAsyncStore(AsyncThreadStore):
    """Every operation as a coroutine on the event loop (asyncio), with psycopg's async
    pool; see the module's docstring."""

    def _open_here(self) -> ThreadStore:
        store = super()._open_here()
        if isinstance(store, PostgresThreadStore):
            store.use_async_pool_only()  # the sync pool reopens if a trio caller needs it
        return store

    async def _run(self, call: Callable[[ThreadStore], R], *, abandon_on_cancel: bool) -> R:
        if not _on_asyncio():
            return await super()._run(call, abandon_on_cancel=abandon_on_cancel)
        store = await self._opened()
        work = functools.partial(call, store)
        if abandon_on_cancel:
            return await run_bridged(work)
        with anyio.CancelScope(shield=True):  # a write, once begun, completes
            result = await run_bridged(work)
        return result

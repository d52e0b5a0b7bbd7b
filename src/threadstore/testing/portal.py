"""The sync protocol over an async store: the conformance suite's way into
:class:`threadstore.aio.AsyncThreadStore` and its subclasses (a backend's native async
store too). A blocking portal runs an event loop in a background thread, and each call is
awaited on it."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal

from threadstore.aio import AsyncThreadStore
from threadstore.models import ConversationItem, Message
from threadstore.protocol import Capability

__all__ = ["PortalFacade"]

T = TypeVar("T")


class PortalFacade:
    """The sync protocol over an AsyncThreadStore, each call awaited on a portal's loop."""

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, portal: BlockingPortal, store: AsyncThreadStore) -> None:
        self._portal = portal
        self.async_store = store
        self.capabilities = store.capabilities

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operation = getattr(self.async_store, name)
        return lambda *args, **kwargs: self._portal.call(
            functools.partial(operation, *args, **kwargs)
        )

    def iter_messages(self, thread_id: str, order: Any = "asc") -> Iterator[Message]:
        return self._through_portal(self.async_store.iter_messages(thread_id, order))

    def iter_items(self, conversation_id: str, order: Any = "asc") -> Iterator[ConversationItem]:
        return self._through_portal(self.async_store.iter_items(conversation_id, order))

    def _through_portal(self, records: AsyncIterator[T]) -> Iterator[T]:
        """An async iterator of the adapter as a sync one, each step awaited on the portal
        (and the iterator closed there, however the caller leaves)."""
        try:
            while True:
                try:
                    yield self._portal.call(_next, records)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(_close, records)

    def close(self) -> None:
        self._portal.call(self.async_store.aclose)

    def __enter__(self) -> PortalFacade:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _next(records: AsyncIterator[T]) -> T:
    return await anext(records)


async def _close(records: AsyncIterator[Any]) -> None:
    if isinstance(records, AsyncGenerator):
        await records.aclose()

"""The whole conformance suite, run through ``AsyncThreadStore`` on asyncio and on trio.

A blocking portal runs an event loop in a background thread; :class:`PortalFacade` presents
the sync protocol by awaiting each call of the async store on that loop. So the suite's
every test drives the adapter, and the adapter's every call crosses into its worker pool.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from threadstore.aio import AsyncThreadStore
from threadstore.models import Message
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.testing import ThreadStoreConformance


class PortalFacade:
    """The sync protocol over an AsyncThreadStore, each call awaited on a portal's loop."""

    def __init__(self, portal: BlockingPortal, store: AsyncThreadStore) -> None:
        self._portal = portal
        self.async_store = store

    @property
    def capabilities(self) -> Any:
        return self.async_store.capabilities

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operation = getattr(self.async_store, name)
        return lambda *args, **kwargs: self._portal.call(
            functools.partial(operation, *args, **kwargs)
        )

    def iter_messages(self, thread_id: str, order: str = "asc") -> Iterator[Message]:
        messages = self.async_store.iter_messages(thread_id, order)
        try:
            while True:
                try:
                    yield self._portal.call(messages.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(messages.aclose)

    def close(self) -> None:
        self._portal.call(self.async_store.aclose)

    def __enter__(self) -> PortalFacade:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AdapterConformance(ThreadStoreConformance):
    """The suite with every store opened through ``threadstore.aio`` behind a portal."""

    @pytest.fixture(params=["asyncio", "trio"])
    def portal(self, request: pytest.FixtureRequest) -> Iterator[BlockingPortal]:
        with start_blocking_portal(request.param) as portal:
            yield portal

    @pytest.fixture
    def reopen(
        self, store_url: str, open_options: dict[str, Any], portal: BlockingPortal
    ) -> Iterator[Callable[[], ThreadStore]]:
        with ExitStack() as opened:

            def open_again() -> ThreadStore:
                store = AsyncThreadStore(open_store(store_url, **open_options), max_workers=4)
                facade = opened.enter_context(PortalFacade(portal, store))
                assert isinstance(facade, ThreadStore)
                return facade

            yield open_again


class TestAdapterOverMemory(AdapterConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return f"memory://aio-{uuid.uuid4().hex}"

"""``threadstore.aio.open_store("postgresql://…")`` returns the native async store: the
whole suite through it on asyncio, with no worker thread, and writes that finish even
when their caller is cancelled."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings
from sql_support import DATABASE, fresh_schema
from threadstore_sql.aio import NativeAsyncStore
from threadstore_sql.testing import PostgresServer

from threadstore import Message, aio
from threadstore.protocol import ThreadStore
from threadstore.testing import ThreadStoreConformance, stateful
from threadstore.testing.portal import PortalFacade


class TestNativeAsyncConformance(ThreadStoreConformance):
    """The suite, every call through ``aio.open_store`` on an asyncio portal."""

    @pytest.fixture
    def portal(self) -> Iterator[BlockingPortal]:
        with start_blocking_portal("asyncio") as portal:
            yield portal

    @pytest.fixture
    def native(self, portal: BlockingPortal) -> Iterator[Callable[[str], ThreadStore]]:
        with ExitStack() as opened:

            def open_url(url: str) -> ThreadStore:
                store = aio.open_store(url, **self.options)
                assert isinstance(store, NativeAsyncStore)
                facade = opened.enter_context(PortalFacade(portal, store))
                assert isinstance(facade, ThreadStore)
                return facade

            yield open_url

    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url

    @pytest.fixture
    def reopen(
        self, store_url: str, open_options: dict[str, Any], native: Any
    ) -> Callable[[], ThreadStore]:
        self.options = open_options
        return functools.partial(native, store_url)

    @pytest.fixture
    def new_location(
        self, pg_server: PostgresServer, open_options: dict[str, Any], native: Any
    ) -> Callable[[], Callable[[], ThreadStore]]:
        self.options = open_options

        def make() -> Callable[[], ThreadStore]:
            return functools.partial(native, pg_server.url(DATABASE, schema=fresh_schema()))

        return make

    @pytest.fixture
    def stateful_settings(self) -> settings:
        chosen = stateful.profile(default="quick")
        return settings(chosen, max_examples=max(2, chosen.max_examples // 4))

    # Their other writers are processes that open the sync store: covered by the sync suite.
    test_data_outlives_the_process = None  # type: ignore[assignment]
    test_acknowledged_writes_survive_a_killed_writer = None  # type: ignore[assignment]
    test_concurrent_appends_from_processes = None  # type: ignore[assignment]
    test_concurrent_claims_from_processes = None  # type: ignore[assignment]
    test_no_lost_updates_between_processes = None  # type: ignore[assignment]


@pytest.mark.anyio
async def test_calls_run_on_the_event_loop_without_threads(pg_url: str) -> None:
    async with aio.open_store(pg_url) as store:
        thread = await store.create_thread()
        before = threading.active_count()
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(store.append_message, thread.id, Message.user(f"{i}"))
        assert store.busy_workers == 0
        assert threading.active_count() == before
        page = await store.list_messages(thread.id, limit=100)
        assert sorted(m.text for m in page.data) == sorted(str(i) for i in range(20))


@pytest.mark.anyio
async def test_a_cancelled_write_still_lands(pg_url: str) -> None:
    async with aio.open_store(pg_url) as store:
        thread = await store.create_thread()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await store.append_message(thread.id, Message.user("finished anyway", id="msg_c"))
        assert (await store.get_message(thread.id, "msg_c")).text == "finished anyway"


@pytest.mark.anyio
async def test_closing_ends_the_pools_tasks_on_the_loop(pg_url: str) -> None:
    """The async pool's tasks run on the loop; a close that left them there would leave
    them to be cancelled at the loop's end, mid-connect."""
    before = asyncio.all_tasks()
    store = aio.open_store(pg_url)
    await store.create_thread()
    assert asyncio.all_tasks() - before, "the pool runs tasks of its own"
    await store.aclose()
    await asyncio.sleep(0)
    assert {task for task in asyncio.all_tasks() - before if not task.done()} == set()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""``threadstore.aio.open_store``: ``async with``, ``await`` or plain use, opened off the loop.

A store's open can be slow (the S3 backend probes its bucket for about a second): the
event loop must go on serving while it runs. Tests prove it with a backend whose open
waits until the loop itself lets it through, and with a real S3 open (moto on 127.0.0.1).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar, Self

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from anyio import from_thread

from threadstore import aio
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import BackendError, BackendNotFoundError, InvalidRequestError
from threadstore.registry import register_backend, unregister_backend
from threadstore.url import StoreURL

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]

BOUND = 60.0
"""A safety net only: an open that runs off the loop is let through at once."""


class GateStore(MemoryThreadStore):
    """Opening waits until the event loop opens the gate: only possible off the loop."""

    gate = threading.Event()
    reached: ClassVar[anyio.Event | None] = None
    opens: ClassVar[list[int]] = []

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        cls.opens.append(threading.get_ident())
        if cls.reached is not None:
            from_thread.run_sync(cls.reached.set)  # fails on the loop's own thread
        if not cls.gate.wait(BOUND):
            raise BackendError("the event loop never opened the gate: the open blocked it")
        return cls()


@pytest.fixture
def gated() -> Iterator[str]:
    scheme = f"gated{uuid.uuid4().hex[:8]}"
    GateStore.gate.clear()
    GateStore.opens.clear()
    register_backend(scheme, GateStore)
    yield f"{scheme}://"
    unregister_backend(scheme)
    GateStore.reached = None


async def open_the_gate_from_the_loop(
    *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    GateStore.reached = anyio.Event()
    task_status.started()
    await GateStore.reached.wait()
    GateStore.gate.set()


async def test_async_with_opens_off_the_loop(gated: str) -> None:
    async with anyio.create_task_group() as tasks:
        await tasks.start(open_the_gate_from_the_loop)
        async with aio.open_store(gated) as store:
            thread = await store.create_thread()
            assert (await store.get_thread(thread.id)).id == thread.id
    assert len(GateStore.opens) == 1
    assert GateStore.opens[0] != threading.get_ident()


async def test_await_opens_off_the_loop_and_returns_the_store(gated: str) -> None:
    async with anyio.create_task_group() as tasks:
        await tasks.start(open_the_gate_from_the_loop)
        store = await aio.open_store(gated)
    assert isinstance(store.sync_store, GateStore)
    assert await store is store  # awaiting an open store opens nothing more
    assert len(GateStore.opens) == 1
    await store.aclose()


async def test_plain_use_opens_at_the_first_call_once(gated: str) -> None:
    store = aio.open_store(gated)
    with pytest.raises(RuntimeError, match="not open yet"):
        store.sync_store  # noqa: B018
    async with anyio.create_task_group() as tasks:
        await tasks.start(open_the_gate_from_the_loop)
        for _ in range(5):  # racing first calls share one open
            tasks.start_soon(store.create_thread)
    assert len(GateStore.opens) == 1
    assert len(await store.list_thread_ids()) == 5
    await store.aclose()


async def test_errors_come_where_the_store_is_opened() -> None:
    with pytest.raises(InvalidRequestError, match="did you mean memory://"):
        aio.open_store("memory:/x")  # a malformed URL: at once, nothing to open
    lazy = aio.open_store("nosuchscheme://x")
    with pytest.raises(BackendNotFoundError):
        await lazy.list_thread_ids()
    with pytest.raises(BackendNotFoundError):
        async with aio.open_store("nosuchscheme://x"):
            pass


async def test_a_store_closed_before_it_opened_stays_closed() -> None:
    store = aio.open_store("memory://")
    await store.aclose()
    with pytest.raises(BackendError, match="closed"):
        await store.create_thread()


async def test_the_loop_keeps_running_while_s3_opens() -> None:
    """The S3 backend's open probes the bucket over HTTP: ticks of the loop counted
    while it runs prove it ran on a worker."""
    from threadstore_fsspec.testing import moto_server, use_dummy_credentials

    use_dummy_credentials()
    ticks = 0
    opened = anyio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not opened.is_set():
            ticks += 1
            await anyio.lowlevel.checkpoint()

    bucket = f"aio-open-{uuid.uuid4().hex[:8]}"  # moto keeps buckets per process
    with moto_server(bucket) as endpoint:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(tick)
            async with aio.open_store(f"s3://{bucket}/p?endpoint_url={endpoint}") as store:
                ticks_while_opening = ticks
                opened.set()
                await store.create_thread()
    assert ticks_while_opening > 0

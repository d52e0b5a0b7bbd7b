"""``threadstore.aio``: the adapter's own promises, on asyncio and on trio.

What the conformance suite cannot see: every operation runs off the event loop, on the
store's own bounded pool; a cancelled write lands exactly once or not at all; a cancelled
read lets go at once without breaking the bound. Slow calls come from a real memory store
whose storage hook waits at a gate the test opens.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import uuid
from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from anyio import from_thread
from blockbuster import blockbuster_ctx

from threadstore import aio
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import CapabilityError, InvalidRequestError, ThreadNotFound
from threadstore.models import Message, Run, RunStep, Thread
from threadstore.protocol import Capability, ThreadStore

pytestmark = pytest.mark.anyio

GATE_TIMEOUT = 60.0
"""A safety net only: a correct adapter opens every gate long before this."""


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class GatedStore(MemoryThreadStore):
    """A memory store whose ``gated`` hook stops at a gate until the test opens it.

    ``entered`` is set (on the event loop) when a call reaches the gate; ``calls`` counts
    the calls of every hook, so a test can tell how often a write really ran.
    """

    def __init__(self, gated: str) -> None:
        super().__init__()
        self.gated = gated
        self.gate = threading.Event()
        self.gate.set()
        self.entered = anyio.Event()
        self.calls: Counter[str] = Counter()
        self.opened_in_time: list[bool] = []
        self.inside = 0
        self.most_inside = 0
        self._count_lock = threading.Lock()

    async def reached(self) -> None:
        """Wait until a call waits at the gate (bounded, so a broken adapter fails, not hangs)."""
        with anyio.fail_after(GATE_TIMEOUT):
            await self.entered.wait()

    def hold(self) -> None:
        """Close the gate: calls of the gated hook wait until :meth:`release`."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def _through_gate(self, hook: str) -> None:
        with self._count_lock:
            self.calls[hook] += 1
        if hook != self.gated or self.gate.is_set():
            return
        with self._count_lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        from_thread.run_sync(self.entered.set)
        self.opened_in_time.append(self.gate.wait(GATE_TIMEOUT))
        with self._count_lock:
            self.inside -= 1

    def _insert(self, *args: Any) -> None:
        self._through_gate("_insert")
        super()._insert(*args)

    def _fetch(self, *args: Any) -> Any:
        self._through_gate("_fetch")
        return super()._fetch(*args)

    def _scan(self, *args: Any) -> Any:
        self._through_gate("_scan")
        return super()._scan(*args)


class Recorder:
    """A pass-through store that notes which method ran, and on which OS thread."""

    def __init__(self, inner: ThreadStore) -> None:
        self.inner = inner
        self.seen: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.seen.append((name, threading.get_ident()))
            return value(*args, **kwargs)

        return recorded


def protocol_operations() -> list[str]:
    return sorted(
        name
        for name, member in vars(ThreadStore).items()
        if inspect.isfunction(member) and not name.startswith("_")
    )


# --- the surface -------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in protocol_operations() if n != "close"])
def test_every_operation_is_async_with_the_sync_parameters(name: str) -> None:
    operation = getattr(aio.AsyncThreadStore, name)
    if name in ("iter_messages", "iter_items"):
        assert inspect.isasyncgenfunction(operation)
    else:
        assert inspect.iscoroutinefunction(operation)
    expected = inspect.signature(getattr(ThreadStore, name)).parameters
    assert inspect.signature(operation).parameters == expected


async def test_every_operation_runs_the_same_sync_method_off_the_loop(anyio_backend: str) -> None:
    """Each call reaches the same-named sync method on a worker; blockbuster (asyncio) agrees."""
    recorder = Recorder(MemoryThreadStore())
    store = aio.AsyncThreadStore(recorder)
    loop_thread = threading.get_ident()
    with blockbuster_ctx() if anyio_backend == "asyncio" else contextlib.nullcontext():
        thread = await store.create_thread(Thread(metadata={"k": "v"}))
        await store.get_thread(thread.id)
        await store.update_thread(thread.id, metadata={"k": "w"})
        await store.list_threads(limit=5)
        await store.list_thread_ids()
        message = await store.append_message(thread.id, Message.user("hi"))
        batch = await store.append_messages(thread.id, [Message.user("a"), Message.user("b")])
        await store.get_message(thread.id, message.id)
        await store.update_message(thread.id, message.id, metadata={"a": "b"})
        await store.list_messages(thread.id, order="asc")
        listed = [m.id async for m in store.iter_messages(thread.id)]
        assert listed == [message.id, *(m.id for m in batch)]
        run = await store.create_run(thread.id, Run(assistant_id="asst_1", model="m"))
        await store.get_run(thread.id, run.id)
        await store.update_run(thread.id, run.id, metadata={"r": "1"})
        await store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        await store.force_update_run_status(thread.id, run.id, "completed")
        await store.list_runs(thread.id)
        step = await store.append_step(
            thread.id,
            run.id,
            RunStep(
                type="message_creation",
                step_details={
                    "type": "message_creation",
                    "message_creation": {"message_id": message.id},
                },
            ),
        )
        await store.get_step(thread.id, run.id, step.id)
        await store.update_step(thread.id, run.id, step.id, metadata={"s": "1"})
        await store.update_step_status(thread.id, run.id, step.id, "completed")
        await store.list_steps(thread.id, run.id)
        await store.delete_message(thread.id, message.id)
        await store.delete_thread(thread.id)
        conversation = await store.create_conversation(items=[{"role": "user", "content": "hi"}])
        await store.get_conversation(conversation.id)
        await store.update_conversation(conversation.id, metadata={"c": "1"})
        await store.list_conversations()
        items = await store.add_items(conversation.id, [{"role": "assistant", "content": "yo"}])
        await store.get_item(conversation.id, items[0].id)
        await store.list_items(conversation.id)
        newest_first = [i.id async for i in store.iter_items(conversation.id, "desc")]
        assert newest_first[:1] == [items[0].id]
        await store.delete_item(conversation.id, items[0].id)
        await store.delete_conversation(conversation.id)
        await store.aclose()
    # The iterators page through list_*, so they hold nothing open between pages.
    iterators = {"iter_messages", "iter_items"}
    assert {name for name, _ in recorder.seen} == set(protocol_operations()) - iterators
    assert all(ident != loop_thread for _, ident in recorder.seen)


async def test_results_and_errors_pass_through() -> None:
    async with aio.open_store("memory://") as store:
        thread = await store.create_thread(Thread(id="thread_a"))
        assert await store.get_thread("thread_a") == thread
        with pytest.raises(ThreadNotFound):
            await store.get_thread("thread_missing")
        with pytest.raises(InvalidRequestError):
            await store.list_messages(thread.id, limit=0)
        with pytest.raises(InvalidRequestError):
            [m async for m in store.iter_messages(thread.id, "sideways")]  # type: ignore[arg-type]


async def test_iter_messages_reads_every_page_in_both_orders() -> None:
    async with aio.open_store("memory://") as store:
        thread = await store.create_thread()
        texts = [f"m{i}" for i in range(2 * aio.ITER_PAGE + 7)]
        for text in texts:
            await store.append_message(thread.id, Message.user(text))
        assert [m.text async for m in store.iter_messages(thread.id)] == texts
        assert [m.text async for m in store.iter_messages(thread.id, "desc")] == texts[::-1]
        assert store.busy_workers == 0


async def test_open_store_is_a_plain_function_over_the_registry() -> None:
    store = aio.open_store(f"memory://aio-{uuid.uuid4().hex}", max_workers=3)
    assert isinstance(store, aio.AsyncThreadStore)
    assert await store is store
    assert isinstance(store.sync_store, MemoryThreadStore)
    assert store.max_workers == 3
    assert store.capabilities == MemoryThreadStore.capabilities
    assert "MemoryThreadStore" in repr(store)
    await store.aclose()


async def test_open_store_refuses_bad_arguments() -> None:
    with pytest.raises(CapabilityError):
        await aio.open_store("memory://", require=[Capability.DURABLE])
    with pytest.raises(InvalidRequestError, match="nonsense"):
        await aio.open_store("memory://", nonsense=1)
    not_counts: tuple[Any, ...] = (0, -1, True, 2.5)  # 2.5 is not even an int: on purpose
    for bad in not_counts:
        with pytest.raises(ValueError, match="max_workers"):
            aio.open_store("memory://", max_workers=bad)
    with pytest.raises(ValueError, match="max_workers"):  # checked before anything is opened
        aio.open_store("nosuchscheme://x", max_workers=0)


async def test_async_with_closes_the_wrapped_store() -> None:
    closed: list[bool] = []

    class Closing(MemoryThreadStore):
        def _close(self) -> None:
            closed.append(True)

    async with aio.AsyncThreadStore(Closing()) as store:
        await store.create_thread()
    assert closed == [True]


# --- the event loop stays free ------------------------------------------------


async def test_the_loop_keeps_ticking_while_a_call_is_in_flight() -> None:
    """The gate opens only after the loop has run a heartbeat while the write waits."""
    store = GatedStore("_insert")
    async_store = aio.AsyncThreadStore(store)
    thread = await async_store.create_thread()
    store.hold()
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        await store.reached()
        for _ in range(20):
            ticks += 1
            await anyio.lowlevel.checkpoint()
        store.release()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(heartbeat)
        await async_store.append_message(thread.id, Message.user("slow"))
    assert ticks == 20
    assert store.opened_in_time == [True]


# --- cancellation ---------------------------------------------------------------


async def test_cancelled_write_lands_exactly_once_before_the_caller_moves_on() -> None:
    store = GatedStore("_insert")
    async_store = aio.AsyncThreadStore(store)
    thread = await async_store.create_thread()
    store.hold()
    stored_on_return: list[int] = []
    went_on = False
    writer = anyio.CancelScope()

    async def write() -> None:
        nonlocal went_on
        with writer:
            try:
                await async_store.append_message(thread.id, Message.user("once"))
            finally:
                stored_on_return.append(len(store.list_messages(thread.id).data))
            await anyio.lowlevel.checkpoint()  # the cancel is delivered here at the latest
            went_on = True

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(write)
        await store.reached()
        writer.cancel()
        await anyio.wait_all_tasks_blocked()  # a writer that gave up has finished by now
        store.release()
    assert writer.cancelled_caught
    assert not went_on
    assert stored_on_return == [1]
    assert [m.text for m in store.list_messages(thread.id).data] == ["once"]
    assert store.calls["_insert"] == 2  # the thread, then the message: each once
    assert store.opened_in_time == [True]
    assert async_store.busy_workers == 0


async def test_write_cancelled_while_waiting_for_a_worker_never_runs() -> None:
    """A write still queued for a token is cancelled cleanly: it does not run later."""
    store = GatedStore("_insert")
    async_store = aio.AsyncThreadStore(store, max_workers=1)
    thread = await async_store.create_thread()
    store.hold()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(async_store.append_message, thread.id, Message.user("first"))
        await store.reached()
        queued_scope = anyio.CancelScope()

        async def queued() -> None:
            with queued_scope:
                await async_store.append_message(thread.id, Message.user("queued"))

        tasks.start_soon(queued)
        await anyio.wait_all_tasks_blocked()
        queued_scope.cancel()
        await anyio.wait_all_tasks_blocked()
        store.release()
    assert [m.text for m in store.list_messages(thread.id).data] == ["first"]
    assert store.calls["_insert"] == 2


async def test_cancelled_read_lets_go_at_once_but_keeps_its_worker() -> None:
    store = GatedStore("_fetch")
    async_store = aio.AsyncThreadStore(store, max_workers=1)
    thread = await async_store.create_thread()
    store.hold()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(async_store.get_thread, thread.id)
            await store.reached()
            scope.cancel()
    # The caller is free while the read is still at the gate; its token is still held.
    assert not store.gate.is_set()
    assert async_store.busy_workers == 1
    store.release()
    # The next call needs that one token, so it runs only after the abandoned read ended.
    assert await async_store.get_thread(thread.id) == thread
    assert store.opened_in_time == [True]
    assert async_store.busy_workers == 0


async def test_iteration_cancelled_mid_fetch_stops_at_once() -> None:
    store = GatedStore("_scan")
    async_store = aio.AsyncThreadStore(store)
    thread = await async_store.create_thread()
    for i in range(3 * aio.ITER_PAGE):
        await async_store.append_message(thread.id, Message.user(f"m{i}"))
    seen: list[str] = []

    async def read_all() -> None:
        async for message in async_store.iter_messages(thread.id):
            seen.append(message.text)
            if len(seen) == aio.ITER_PAGE:
                store.hold()  # the next page's fetch waits at the gate

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read_all)
        await store.reached()
        tasks.cancel_scope.cancel()
    assert not store.gate.is_set()  # the fetch is still at the gate; the reader has gone
    assert seen == [f"m{i}" for i in range(aio.ITER_PAGE)]
    store.release()
    assert len([m async for m in async_store.iter_messages(thread.id, "desc")]) == 3 * aio.ITER_PAGE


async def test_pool_bounds_concurrency_and_leaves_the_default_pool_alone() -> None:
    store = GatedStore("_fetch")
    async_store = aio.AsyncThreadStore(store, max_workers=2)
    thread = await async_store.create_thread()
    store.hold()
    default_pool = anyio.to_thread.current_default_thread_limiter()
    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(async_store.get_thread, thread.id)
        await store.reached()
        await anyio.wait_all_tasks_blocked()
        assert async_store.busy_workers == 2
        assert default_pool.borrowed_tokens == 0
        store.release()
    assert store.most_inside <= 2
    assert store.calls["_fetch"] == 6
    assert async_store.busy_workers == 0


def test_one_store_serves_loops_that_follow_one_another() -> None:
    """As in a test suite: each test runs its own event loop over a store opened once."""
    store = aio.AsyncThreadStore(MemoryThreadStore(), max_workers=1)

    async def contend() -> int:
        thread = await store.create_thread()
        async with anyio.create_task_group() as tasks:
            for i in range(5):
                tasks.start_soon(store.append_message, thread.id, Message.user(f"m{i}"))
        return len((await store.list_messages(thread.id)).data)

    assert [anyio.run(contend) for _ in range(3)] == [5, 5, 5]
    assert store.busy_workers == 0


async def test_a_read_abandoned_before_a_worker_took_it_never_runs() -> None:
    """The lease's other path: the caller left first, so the worker skips the call."""
    limiter = anyio.CapacityLimiter(1)
    lease = aio._Lease(limiter, anyio.CapacityLimiter(1))
    await limiter.acquire_on_behalf_of(lease)
    assert lease._last_out("caller")  # nothing began: the caller returns the token
    limiter.release_on_behalf_of(lease)
    ran: list[bool] = []
    with pytest.raises(aio._Abandoned):
        lease._work(lambda: ran.append(True))
    assert ran == []
    assert limiter.borrowed_tokens == 0

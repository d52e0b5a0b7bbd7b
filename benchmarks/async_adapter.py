"""What ``threadstore.aio`` costs: per-call overhead over the sync store, and concurrent appends.

    python -m benchmarks.async_adapter [--quick]

For memory and local disk it prints, per operation, the sync call's time, the awaited
call's time on asyncio and on trio, and the difference (the adapter's overhead: a trip to
a worker thread and back). Then 100 tasks append to 100 threads at once through one
AsyncThreadStore, against one thread doing the same appends through the sync store.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from threadstore.aio import DEFAULT_MAX_WORKERS, AsyncThreadStore
from threadstore.models import Message
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

LOOPS = ("asyncio", "trio")
TASKS = 100


@contextmanager
def fresh_store(backend: str) -> Iterator[ThreadStore]:
    if backend == "memory":
        with open_store("memory://") as store:
            yield store
        return
    with (
        tempfile.TemporaryDirectory(prefix="threadstore-bench-") as root,
        open_store(f"file://{root}/store") as store,
    ):
        yield store


def per_call(calls: int, repeats: int, measure: Callable[[], float]) -> float:
    """Median over ``repeats`` runs of the time per call, in microseconds."""
    return statistics.median(measure() for _ in range(repeats)) / calls * 1e6


def sync_time(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return time.perf_counter() - start


def async_time(
    loop: str, store: ThreadStore, call: Callable[[AsyncThreadStore], Awaitable[object]], calls: int
) -> float:
    """Time ``calls`` awaited calls on a fresh event loop, through an adapter made for it."""

    async def run() -> float:
        adapter = AsyncThreadStore(store)
        start = time.perf_counter()
        for _ in range(calls):
            await call(adapter)
        return time.perf_counter() - start

    return anyio.run(run, backend=loop)


def overhead(backend: str, calls: int, repeats: int) -> None:
    with fresh_store(backend) as store:
        thread = store.create_thread()
        message = store.append_message(thread.id, Message.user("hello"))
        operations: dict[
            str, tuple[Callable[[], object], Callable[[AsyncThreadStore], Awaitable[object]]]
        ] = {
            "get_message": (
                lambda: store.get_message(thread.id, message.id),
                lambda adapter: adapter.get_message(thread.id, message.id),
            ),
            "append_message": (
                lambda: store.append_message(thread.id, Message.user("x")),
                lambda adapter: adapter.append_message(thread.id, Message.user("x")),
            ),
        }
        for name, (sync_call, async_call) in operations.items():
            base = per_call(calls, repeats, functools.partial(sync_time, sync_call, calls))
            cells = [f"{backend:7} {name:15} sync {base:8.1f} us"]
            for loop in LOOPS:
                measure = functools.partial(async_time, loop, store, async_call, calls)
                awaited = per_call(calls, repeats, measure)
                cells.append(f"{loop} {awaited:8.1f} us (+{awaited - base:6.1f})")
            print("  ".join(cells), flush=True)


def concurrent_appends(backend: str, each: int, max_workers: int) -> None:
    total = TASKS * each
    with fresh_store(backend) as store:
        threads = [store.create_thread().id for _ in range(TASKS)]
        start = time.perf_counter()
        for thread_id in threads:
            for i in range(each):
                store.append_message(thread_id, Message.user(f"m{i}"))
        sync_rate = total / (time.perf_counter() - start)

    for loop in LOOPS:
        with fresh_store(backend) as store:
            adapter = AsyncThreadStore(store, max_workers=max_workers)
            threads = [store.create_thread().id for _ in range(TASKS)]
            seconds = anyio.run(_append_all, adapter, threads, each, backend=loop)
            assert all(len(list(store.iter_messages(t))) == each for t in threads)
        print(
            f"{backend:7} {TASKS} tasks x {each} appends, {max_workers:2} workers, {loop:7}: "
            f"{total / seconds:8.0f} appends/s  (one thread, sync: {sync_rate:8.0f}/s)",
            flush=True,
        )


async def _append_all(adapter: AsyncThreadStore, threads: list[str], each: int) -> float:
    async def append(thread_id: str) -> None:
        for i in range(each):
            await adapter.append_message(thread_id, Message.user(f"m{i}"))

    start = time.perf_counter()
    async with anyio.create_task_group() as tasks:
        for thread_id in threads:
            tasks.start_soon(append, thread_id)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args: Any = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    print("-- per call (median of 5 runs)")
    overhead("memory", 2000 // scale, 5)
    overhead("local", 300 // scale, 5)
    print(f"-- {TASKS} concurrent tasks, one thread each")
    for workers in (DEFAULT_MAX_WORKERS, 64):
        concurrent_appends("memory", 50 // scale, workers)
    for workers in (DEFAULT_MAX_WORKERS, 64):
        concurrent_appends("local", 10 // scale or 1, workers)


if __name__ == "__main__":
    main()

"""Functions the conformance suite runs in child processes (importable by ``spawn``)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from threadstore.errors import ConflictError
from threadstore.models import Message, MessageItem
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store


def append_messages(url: str, thread_id: str, worker: int, count: int) -> None:
    """Append ``count`` messages ``"<worker>:<i>"`` in order."""
    with open_store(url) as store:
        for i in range(count):
            store.append_message(thread_id, Message.user(f"{worker}:{i}"))


def _batch(writer: int, batch: int, size: int) -> list[MessageItem]:
    return [MessageItem(role="user", content=f"{writer}:{batch}:{i}") for i in range(size)]


def add_item_batches(
    url: str, options: dict[str, Any], conversation_id: str, writer: int, batches: int, size: int
) -> None:
    """Add ``batches`` batches of ``size`` items ``"<writer>:<batch>:<i>"``, in order."""
    with open_store(url, **options) as store:
        for batch in range(batches):
            store.add_items(conversation_id, _batch(writer, batch, size))


def add_batches_until_killed(
    url: str, options: dict[str, Any], conversation_id: str, writer: int, size: int, acks: Any
) -> None:
    """Add batches like :func:`add_item_batches` until killed, sending each batch's number
    down ``acks`` (a pipe) once it is acknowledged."""
    store = open_store(url, **options)
    batch = 0
    while True:
        store.add_items(conversation_id, _batch(writer, batch, size))
        acks.send(batch)
        batch += 1


def claim_runs(url: str, thread_id: str, run_ids: list[str]) -> list[str]:
    """Try to move each run from queued to in_progress; return the ones this worker won."""
    won = []
    with open_store(url) as store:
        for run_id in run_ids:
            try:
                store.update_run_status(thread_id, run_id, "in_progress", expected="queued")
            except ConflictError:
                continue
            won.append(run_id)
    return won


def claim_run(url: str, thread_id: str, run_id: str, worker: int) -> bool:
    """Try to move the run from queued to in_progress; return whether this worker won."""
    with open_store(url) as store:
        try:
            store.update_run_status(thread_id, run_id, "in_progress", expected="queued")
        except ConflictError:
            return False
        return True


DIED = 17
"""The exit code of :func:`append_then_die`: it stopped where it meant to."""

USAGE = {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3}
TOOL_RESOURCES = {"code_interpreter": {"file_ids": ["file_1"]}}

Touch = tuple[str, str, str, str]
"""The records one round of :func:`touch` changes: thread, message, run and step IDs."""


def read_thread(
    url: str, options: dict[str, Any], thread_id: str
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """The thread's metadata, its message IDs in order and its runs' statuses."""
    with open_store(url, **options) as store:
        thread = store.get_thread(thread_id)
        messages = [m.id for m in store.iter_messages(thread_id)]
        runs = {r.id: r.status.value for r in store.list_runs(thread_id, limit=100).data}
        return thread.metadata, messages, runs


def append_then_die(url: str, options: dict[str, Any], thread_id: str, count: int) -> None:
    """Append ``count`` messages, then end the process at once: no close, no clean-up."""
    store = open_store(url, **options)
    for i in range(count):
        store.append_message(thread_id, Message.user(f"0:{i}"))
    os._exit(DIED)


def touch(
    store: ThreadStore, worker: int, plan: list[Touch], together: Callable[[], Any] = int
) -> None:
    """Worker 0, 1 or 2 changes its own fields of every record in ``plan``.

    Every change is a read-modify-write of a whole record, so a store that is not
    atomic loses another worker's field. ``together()`` runs before each record (a
    barrier makes the workers arrive at each record at once).
    """
    for thread_id, message_id, run_id, step_id in plan:
        together()
        if worker == 0:
            store.update_thread(thread_id, metadata={"by": "0"})
            store.update_message(thread_id, message_id, metadata={"by": "0"})
            store.update_run_status(thread_id, run_id, "in_progress")
            store.update_step_status(thread_id, run_id, step_id, "completed")
        elif worker == 1:
            store.update_thread(thread_id, tool_resources=TOOL_RESOURCES)
            store.update_message(thread_id, message_id, content="written")
            store.update_run(thread_id, run_id, usage=USAGE)
            store.update_step(thread_id, run_id, step_id, usage=USAGE)
        else:
            store.update_message(thread_id, message_id, completed_at=5)
            store.update_run(thread_id, run_id, metadata={"by": "2"})
            store.update_step(thread_id, run_id, step_id, metadata={"by": "2"})


def touch_at(url: str, options: dict[str, Any], worker: int, plan: list[Touch]) -> None:
    """:func:`touch` through a store of this process's own."""
    with open_store(url, **options) as store:
        touch(store, worker, plan)


def run_processes(target: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args)`` in one fresh process per argument tuple; return the results."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(arguments)) as pool:
        return pool.starmap(target, arguments, chunksize=1)


def _released(
    target: Callable[..., Any], barrier: Any, results: Any, number: int, args: tuple[Any, ...]
) -> None:
    barrier.wait()
    try:
        results.put((number, None, target(*args)))
    except Exception as exc:  # reported to the caller
        results.put((number, f"{type(exc).__name__}: {exc}", None))


def run_together(
    target: Callable[..., Any],
    arguments: list[tuple[Any, ...]],
    *,
    context: Any,
    wait: float,
    result_wait: float | None = None,
) -> list[Any]:
    """Run ``target(*args)`` in one process per tuple of ``context``, released together by
    a barrier; return the results in order. A child's exception fails the caller. ``wait``
    bounds the wait at the barrier and for a process to end; ``result_wait`` (default
    ``wait``) the wait for each result."""
    barrier = context.Barrier(len(arguments), timeout=wait)
    results = context.Queue()
    processes = [
        context.Process(
            target=_released, args=(target, barrier, results, number, args), daemon=True
        )
        for number, args in enumerate(arguments)
    ]
    for process in processes:
        process.start()
    collected: dict[int, Any] = {}
    try:
        for _ in processes:
            number, error, value = results.get(timeout=result_wait or wait)
            assert error is None, f"process {number}: {error}"
            collected[number] = value
    finally:
        for process in processes:
            process.join(wait)
            if process.is_alive():
                process.kill()
    return [collected[number] for number in range(len(processes))]

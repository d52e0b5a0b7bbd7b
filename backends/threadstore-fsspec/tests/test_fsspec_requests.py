"""What each operation costs, counted on the wire (a botocore hook on the real client) and as
sequential round trips (the longest chain of requests waited for in turn)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from threadstore_fsspec import CHUNK_RECORDS, FsspecThreadStore

from threadstore import Message, Run, RunStep, Thread, open_store

PAGE = 20
Filled = tuple[str, str, list[str]]


def cost(store: Any, call: Callable[[], object]) -> tuple[int, int]:
    """(requests, sequential round trips) of one call."""
    assert isinstance(store, FsspecThreadStore)
    with store.measure() as measured:
        call()
    assert len(measured.round_trips) >= 1
    return measured.requests, sum(measured.round_trips)


def fill(store: Any, thread_id: str, count: int) -> list[str]:
    """Append ``count`` messages in batches of a chunk's size (the layout one-by-one
    appends make, in a few requests)."""
    ids: list[str] = []
    for start in range(0, count, CHUNK_RECORDS):
        batch = [Message.user(f"m{i}") for i in range(start, min(count, start + CHUNK_RECORDS))]
        ids += [m.id for m in store.append_messages(thread_id, batch)]
    return ids


@pytest.fixture
def filled(s3_url: str) -> Filled:
    """A thread of 100 messages; returns the URL, the thread ID and the message IDs."""
    with open_store(s3_url) as store:
        thread = store.create_thread()
        return s3_url, thread.id, fill(store, thread.id, 100)


def test_an_append_is_two_round_trips(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        # the thread's chunk ‖ the claim ‖ the last chunk, then the last chunk's If-Match PUT
        assert cost(store, lambda: store.append_message(thread.id, Message.user("x"))) == (4, 2)
        batch = [Message.user(f"b{i}") for i in range(10)]
        # a batch: a claim per message, the same two round trips
        assert cost(store, lambda: store.append_messages(thread.id, batch)) == (13, 2)


def test_the_append_that_fills_a_chunk_moves_the_tail_pointer(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()

        def append(i: int) -> Message:
            return store.append_message(thread.id, Message.user(f"{i}"))

        costs = [cost(store, partial(append, i)) for i in range(CHUNK_RECORDS + 1)]
    filling = costs[CHUNK_RECORDS - 1]
    assert filling == (5, 3)  # then the thread's entry, compare-and-set
    assert costs[CHUNK_RECORDS] == (4, 2)  # the next chunk is created by the next append
    assert set(costs[1 : CHUNK_RECORDS - 1]) == {(4, 2)}


def test_gets(filled: Filled) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        # a fresh process: the thread's claim, then its chunk ‖ the message's claim, then
        # the message's chunk
        assert cost(store, lambda: store.get_message(thread_id, ids[3])) == (4, 3)
        # both seen: the thread's chunk ‖ the message's chunk
        assert cost(store, lambda: store.get_message(thread_id, ids[3])) == (2, 1)


def test_a_page_is_at_most_four_requests_in_two_round_trips(filled: Filled) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        store.get_thread(thread_id)  # the process has seen the thread (and its tail pointers)
        # the thread's chunk ‖ the last two chunks of messages
        assert cost(store, lambda: store.list_messages(thread_id, limit=PAGE)) == (3, 1)
        oldest = cost(store, lambda: store.list_messages(thread_id, limit=PAGE, order="asc"))
        assert oldest == (3, 1)
    with open_store(url) as store:
        store.get_thread(thread_id)
        # the thread's chunk ‖ the cursor's claim, then the cursor's chunk and the next
        after = lambda: store.list_messages(thread_id, limit=PAGE, after=ids[50], order="asc")
        assert cost(store, after) == (4, 2)
        assert cost(store, after) == (3, 1)  # the cursor's chunk is remembered now
        before = lambda: store.list_messages(thread_id, limit=PAGE, before=ids[50])
        assert cost(store, before) == (3, 1)


def test_page_cost_does_not_grow_with_the_thread(filled: Filled) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        store.get_thread(thread_id)
        small = cost(store, lambda: store.list_messages(thread_id, after=ids[60], order="asc"))
        ids += fill(store, thread_id, 300)
    with open_store(url) as store:
        store.get_thread(thread_id)
        large = cost(store, lambda: store.list_messages(thread_id, after=ids[360], order="asc"))
        newest = cost(store, lambda: store.list_messages(thread_id, limit=PAGE))
    assert small == large == (4, 2)
    assert newest == (3, 1)


def test_a_run_compare_and_set_is_two_round_trips(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        claim = lambda: store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        # the thread's chunk ‖ the run's chunk, then the If-Match PUT
        assert cost(store, claim) == (3, 2)


def test_a_page_of_steps_reads_both_owners_and_two_chunks(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        details = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
        for _ in range(CHUNK_RECORDS + 5):
            store.append_step(thread.id, run.id, RunStep.model_validate({"step_details": details}))
        ids = [s.id for s in store.list_steps(thread.id, run.id, limit=100, order="asc").data]
    with open_store(s3_url) as store:
        store.list_runs(thread.id)  # the process has seen the run (and its tail pointers)
        steps = lambda: store.list_steps(thread.id, run.id, limit=PAGE)
        # the thread's chunk ‖ the run's chunk ‖ the last two chunks of steps
        assert cost(store, steps) == (4, 1)
    with open_store(s3_url) as store:
        store.list_runs(thread.id)
        after = lambda: store.list_steps(thread.id, run.id, limit=PAGE, after=ids[30])
        # a list of two chunks is read whole to find a cursor: no claim to read first
        assert cost(store, after) == (4, 1)


def test_a_page_of_threads_is_at_most_three_requests(s3_url: str) -> None:
    with open_store(s3_url) as store:
        ids = [store.create_thread(Thread()).id for _ in range(CHUNK_RECORDS + 8)]
    with open_store(url := s3_url) as store:
        # a fresh process: the marker (the catalog's tail pointer), then two chunks
        assert cost(store, lambda: store.list_threads(limit=PAGE)) == (3, 2)
        # the catalog's last chunk remembered: read with the marker, one round trip
        assert cost(store, lambda: store.list_threads(limit=PAGE)) == (3, 1)
    with open_store(url) as store:
        # the cursor's claim, then its chunk and the next
        after = lambda: store.list_threads(limit=PAGE, after=ids[10], order="asc")
        assert cost(store, after) == (3, 2)
        assert [t.id for t in store.list_threads(limit=PAGE, after=ids[10], order="asc").data] == (
            ids[11 : 11 + PAGE]
        )


def test_opening_a_probed_store_is_one_request(s3_url: str) -> None:
    with open_store(s3_url) as store:
        store.create_thread()  # the first write probes, and records it in the marker
    counted = open_store(s3_url)
    assert isinstance(counted, FsspecThreadStore)
    with counted, counted.measure() as measured:
        counted._run(counted._open)
    assert measured.requests == 1

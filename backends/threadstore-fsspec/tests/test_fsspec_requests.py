"""What each operation costs, counted on the wire (a botocore hook on the real client) and as
sequential round trips (the longest chain of requests waited for in turn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from threadstore_fsspec import FsspecThreadStore
from threadstore_fsspec.store import LOOKAHEAD

from threadstore import Message, Run, open_store

PAGE = 20


def cost(store: Any, call: Callable[[], object]) -> tuple[int, int]:
    """(requests, sequential round trips) of one call."""
    assert isinstance(store, FsspecThreadStore)
    with store.measure() as measured:
        call()
    assert len(measured.round_trips) >= 1
    return measured.requests, sum(measured.round_trips)


@pytest.fixture
def filled(s3_url: str) -> tuple[str, str, list[str]]:
    """A thread of 45 messages; returns the URL, the thread ID and the message IDs."""
    with open_store(s3_url) as store:
        thread = store.create_thread()
        ids = [store.append_message(thread.id, Message.user(f"m{i}")).id for i in range(45)]
    return s3_url, thread.id, ids


def test_append_costs_five_requests_in_three_round_trips(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        # thread ‖ claim ‖ head hint, then the slot, then the new head hint
        assert cost(store, lambda: store.append_message(thread.id, Message.user("x"))) == (5, 3)


def test_get_costs_one_round_trip_once_the_thread_is_known(filled: Any) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        # a fresh process: thread, then the ID's claim, then its slot
        assert cost(store, lambda: store.get_message(thread_id, ids[3])) == (3, 3)
        # known thread and slot: the thread (to see it still exists) ‖ the slot
        assert cost(store, lambda: store.get_message(thread_id, ids[3])) == (2, 1)


def test_a_page_costs_at_most_two_round_trips(filled: Any) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        store.get_thread(thread_id)  # the process has seen the thread
        newest = cost(store, lambda: store.list_messages(thread_id, limit=PAGE))
        # thread ‖ head hint, then the page and a few slots past the hint
        assert newest == (2 + PAGE + 1 + LOOKAHEAD, 2)  # limit + 1 tells has_more
    with open_store(url) as store:
        store.get_thread(thread_id)
        # thread ‖ the cursor's claim, then the cursor's slot and the page (+1 for has_more)
        after = cost(store, lambda: store.list_messages(thread_id, limit=PAGE, after=ids[30]))
        assert after == (2 + 1 + PAGE + 1, 2)
        before = cost(store, lambda: store.list_messages(thread_id, limit=PAGE, before=ids[30]))
        assert before == (1 + 1 + PAGE + 1, 1)  # the cursor's slot is remembered now
        oldest = cost(store, lambda: store.list_messages(thread_id, limit=PAGE, order="asc"))
        assert oldest == (1 + PAGE + 1, 1)


def test_page_cost_does_not_grow_with_the_thread(filled: Any) -> None:
    url, thread_id, ids = filled
    with open_store(url) as store:
        store.get_thread(thread_id)
        early = cost(store, lambda: store.list_messages(thread_id, order="asc", after=ids[2]))
    with open_store(url) as store:
        for i in range(30):
            store.append_message(thread_id, Message.user(f"more{i}"))
    with open_store(url) as store:
        store.get_thread(thread_id)
        late = cost(store, lambda: store.list_messages(thread_id, order="asc", after=ids[40]))
        newest = cost(store, lambda: store.list_messages(thread_id, limit=PAGE))
    assert early == late
    assert newest[1] <= 2


def test_run_compare_and_set_costs_two_round_trips(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        claim = lambda: store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        # thread ‖ the run's slot (remembered), then the If-Match PUT
        assert cost(store, claim) == (3, 2)

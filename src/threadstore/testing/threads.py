"""``ThreadTests``: the life of a thread, and that reads never create one.

A created thread comes back whole and keeps a caller's ID and timestamp; creating an
existing ID fails and overwrites nothing; updates change metadata and tool resources;
deleting a thread takes its messages, runs and steps with it; threads list in creation order
(generated IDs sort in creation order); reading a missing thread raises
``ThreadNotFound`` and leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from threadstore.errors import AlreadyExistsError, NotFoundError, RunNotFound, ThreadNotFound
from threadstore.models import Run, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures, step_for, text_message

__all__ = ["ThreadTests"]


class ThreadTests(ConformanceFixtures):
    """Threads: create, get, update, delete (with everything in them), list."""

    def test_create_thread_returns_complete_thread(self, store: ThreadStore) -> None:
        thread = store.create_thread(Thread(metadata={"user": "u1"}))
        assert thread.id.startswith("thread_")
        assert thread.object == "thread"
        assert thread.metadata == {"user": "u1"}
        assert store.get_thread(thread.id) == thread

    def test_create_thread_without_argument(self, store: ThreadStore) -> None:
        thread = store.create_thread()
        assert store.get_thread(thread.id) == thread

    def test_create_thread_keeps_caller_id_and_timestamp(self, store: ThreadStore) -> None:
        thread = store.create_thread(Thread(id="thread_mine", created_at=1234))
        assert (thread.id, thread.created_at) == ("thread_mine", 1234)
        assert store.get_thread("thread_mine").created_at == 1234

    def test_create_existing_thread_fails_and_overwrites_nothing(self, store: ThreadStore) -> None:
        store.create_thread(Thread(id="thread_x", metadata={"v": "1"}))
        with pytest.raises(AlreadyExistsError):
            store.create_thread(Thread(id="thread_x", metadata={"v": "2"}))
        assert store.get_thread("thread_x").metadata == {"v": "1"}

    def test_get_missing_thread(self, store: ThreadStore) -> None:
        with pytest.raises(ThreadNotFound) as caught:
            store.get_thread("thread_missing")
        assert isinstance(caught.value, NotFoundError)

    def test_update_thread_metadata(self, store: ThreadStore, thread: Thread) -> None:
        updated = store.update_thread(thread.id, metadata={"k": "v"})
        assert updated.metadata == {"k": "v"}
        assert updated.created_at == thread.created_at
        assert store.get_thread(thread.id) == updated

    def test_update_thread_tool_resources(self, store: ThreadStore, thread: Thread) -> None:
        resources = {"code_interpreter": {"file_ids": ["file_1"]}}
        updated = store.update_thread(thread.id, tool_resources=resources)
        assert updated.model_dump(mode="json")["tool_resources"] == {
            "code_interpreter": {"file_ids": ["file_1"]},
            "file_search": None,
        }
        assert store.get_thread(thread.id) == updated
        assert store.update_thread(thread.id, tool_resources=None).tool_resources is None

    def test_update_missing_thread(self, store: ThreadStore) -> None:
        with pytest.raises(ThreadNotFound):
            store.update_thread("thread_missing", metadata={})

    def test_delete_thread(self, store: ThreadStore, thread: Thread) -> None:
        deleted = store.delete_thread(thread.id)
        assert deleted.model_dump(mode="json") == {
            "id": thread.id,
            "object": "thread.deleted",
            "deleted": True,
        }
        with pytest.raises(ThreadNotFound):
            store.get_thread(thread.id)
        with pytest.raises(ThreadNotFound):
            store.delete_thread(thread.id)

    def test_delete_thread_cascades(self, store: ThreadStore) -> None:
        thread = store.create_thread(Thread(id="thread_gone"))
        message = store.append_message(thread.id, text_message("hi"))
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.append_step(thread.id, run.id, step_for(message.id))
        store.delete_thread(thread.id)
        with pytest.raises(ThreadNotFound):
            store.list_messages(thread.id)
        with pytest.raises(ThreadNotFound):
            store.get_run(thread.id, run.id)
        with pytest.raises(ThreadNotFound):
            store.list_steps(thread.id, run.id)
        store.create_thread(Thread(id="thread_gone"))
        assert store.list_messages(thread.id).data == []
        assert store.list_runs(thread.id).data == []
        with pytest.raises(RunNotFound):
            store.list_steps(thread.id, run.id)

    def test_list_threads_in_creation_order(self, store: ThreadStore) -> None:
        ids = ["thread_b", "thread_a", "thread_d", "thread_c"]  # not sorted: the order made
        for thread_id in ids:
            store.create_thread(Thread(id=thread_id))
        assert [t.id for t in store.list_threads(order="asc").data] == ids
        assert [t.id for t in store.list_threads().data] == ids[::-1]
        assert store.list_thread_ids() == ids
        page = store.list_threads(order="asc", limit=2, after="thread_a")
        assert [t.id for t in page.data] == ["thread_d", "thread_c"]
        assert page.has_more is False
        store.delete_thread("thread_a")
        store.create_thread(Thread(id="thread_a"))  # made again: it is the newest now
        assert store.list_thread_ids() == ["thread_b", "thread_d", "thread_c", "thread_a"]

    def test_generated_thread_ids_list_in_creation_order(self, store: ThreadStore) -> None:
        made = [store.create_thread().id for _ in range(5)]
        assert [t.id for t in store.list_threads(order="asc").data] == made

    def test_list_thread_ids(self, store: ThreadStore) -> None:
        kept = store.create_thread()
        gone = store.create_thread()
        store.delete_thread(gone.id)
        assert store.list_thread_ids() == [kept.id]

    def test_reads_never_create(self, store: ThreadStore) -> None:
        reads: list[Callable[[], object]] = [
            lambda: store.get_thread("thread_ghost"),
            lambda: store.list_messages("thread_ghost"),
            lambda: store.get_message("thread_ghost", "msg_x"),
            lambda: store.get_run("thread_ghost", "run_x"),
            lambda: store.list_runs("thread_ghost"),
            lambda: store.list_steps("thread_ghost", "run_x"),
            lambda: store.get_step("thread_ghost", "run_x", "step_x"),
            lambda: list(store.iter_messages("thread_ghost")),
        ]
        for read in reads:
            with pytest.raises(ThreadNotFound):
                read()
        assert store.list_thread_ids() == []
        assert store.list_threads().data == []

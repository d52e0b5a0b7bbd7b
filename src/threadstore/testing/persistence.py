"""``PersistenceTests``: what outlives a store object, proved rather than trusted.

``close`` is idempotent; a ``PERSISTENT`` store reopened sees everything, and so does
another process after the store is closed (an in-process cache cannot pass); a
``DURABLE`` store loses no acknowledged write when its process dies without closing;
a ``SHARED`` store's second object sees the first one's writes at once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest

from threadstore.errors import AlreadyExistsError
from threadstore.models import Run, Thread
from threadstore.protocol import Capability, ThreadStore
from threadstore.testing import workers
from threadstore.testing.fixtures import ConformanceFixtures, step_for, text_message

__all__ = ["PersistenceTests"]


class PersistenceTests(ConformanceFixtures):
    """Persistence: reopen, another process, a killed writer, a second store object."""

    def test_close_is_idempotent(self, reopen: Callable[[], ThreadStore]) -> None:
        store = reopen()
        store.close()
        store.close()
        with reopen() as again:
            assert again.list_threads().object == "list"

    def test_reopen_sees_everything(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore]
    ) -> None:
        self.require(store, Capability.PERSISTENT)
        thread = store.create_thread(Thread(metadata={"a": "b"}))
        sent = self.fill(store, thread.id, 30)
        store.delete_message(thread.id, sent[3].id)
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        run = store.update_run_status(thread.id, run.id, "in_progress")
        step = store.append_step(thread.id, run.id, step_for(sent[0].id))
        store.close()
        again = reopen()
        assert again.get_thread(thread.id) == thread
        assert [m.id for m in again.iter_messages(thread.id)] == [
            m.id for i, m in enumerate(sent) if i != 3
        ]
        assert again.get_run(thread.id, run.id) == run
        assert again.get_step(thread.id, run.id, step.id) == step

    def test_data_outlives_the_process(
        self, store: ThreadStore, store_url: str, open_options: dict[str, Any]
    ) -> None:
        """What a closed store wrote, another process finds: persistence is not a cache."""
        self.require(store, Capability.PERSISTENT)
        thread = store.create_thread(Thread(metadata={"a": "b"}))
        sent = self.fill(store, thread.id, 5)
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "in_progress")
        store.close()
        [seen] = workers.run_processes(workers.read_thread, [(store_url, open_options, thread.id)])
        assert seen == ({"a": "b"}, [m.id for m in sent], {run.id: "in_progress"})

    def test_acknowledged_writes_survive_a_killed_writer(
        self,
        store: ThreadStore,
        store_url: str,
        open_options: dict[str, Any],
        reopen: Callable[[], ThreadStore],
    ) -> None:
        """A process that ends without closing its store loses none of its acknowledged writes."""
        self.require(store, Capability.DURABLE)
        thread = store.create_thread()
        store.close()
        writer = multiprocessing.get_context("spawn").Process(
            target=workers.append_then_die, args=(store_url, open_options, thread.id, 10)
        )
        writer.start()
        writer.join(timeout=120)
        assert writer.exitcode == workers.DIED
        texts = [m.text for m in reopen().iter_messages(thread.id)]
        assert texts == [f"0:{i}" for i in range(10)]

    def test_second_store_object_sees_writes(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore]
    ) -> None:
        self.require(store, Capability.SHARED)
        other = reopen()
        thread = store.create_thread()
        message = store.append_message(thread.id, text_message("x"))
        assert other.get_message(thread.id, message.id) == message
        other.update_thread(thread.id, metadata={"by": "other"})
        assert store.get_thread(thread.id).metadata == {"by": "other"}
        with pytest.raises(AlreadyExistsError):
            other.create_thread(Thread(id=thread.id))

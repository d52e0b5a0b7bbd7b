"""``verify_store`` on a store in use: a record deleted while it is checked is no finding,
while a record that is there but cannot be read under is one."""

from __future__ import annotations

from typing import Any

from threadstore import Message, Thread
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import ThreadNotFound
from threadstore.integrity import verify_store
from threadstore.models import Page


class DeletedWhileChecked(MemoryThreadStore):
    """Another writer deletes each thread between its listing and its messages' gets."""

    def list_messages(self, thread_id: str, **options: Any) -> Page[Message]:
        page = super().list_messages(thread_id, **options)
        self.delete_thread(thread_id)
        return page


class ListsOfALiveThreadMissing(MemoryThreadStore):
    """A broken backend: the thread is there, its messages say it is not."""

    def list_messages(self, thread_id: str, **options: Any) -> Page[Message]:
        raise ThreadNotFound(thread_id)


def filled(store: MemoryThreadStore) -> MemoryThreadStore:
    for n in range(3):
        thread = store.create_thread(Thread(id=f"thread_{n}"))
        store.append_messages(thread.id, [Message.user("hello"), Message.user("again")])
    return store


def test_threads_deleted_while_checked_leave_no_finding() -> None:
    store = filled(DeletedWhileChecked())
    report = verify_store(store)
    assert report.findings == []
    assert report.checked["threads"] == 3
    assert store.list_thread_ids() == []


def test_a_live_thread_whose_lists_say_missing_is_a_finding() -> None:
    report = verify_store(filled(ListsOfALiveThreadMissing()))
    assert [(f.check, f.location) for f in report.findings] == [
        ("listing-differs", f"thread_{n}") for n in range(3)
    ]

"""``copy_store`` appends what the target lacks in batches, one commit each."""

from __future__ import annotations

from collections.abc import Iterable

from threadstore import Message
from threadstore.backends.memory import MemoryThreadStore
from threadstore.migrate import BATCH, copy_store


class CountingStore(MemoryThreadStore):
    """A memory store that counts its batch appends (and can play a second writer)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.intruder: Message | None = None

    def append_messages(self, thread_id: str, messages: Iterable[Message]) -> list[Message]:
        batch = list(messages)
        self.batches.append(len(batch))
        if self.intruder is not None:  # another writer takes one of the batch's IDs first
            intruder, self.intruder = self.intruder, None
            self.append_message(thread_id, intruder)
        return super().append_messages(thread_id, batch)


def test_messages_past_the_targets_end_go_in_batches() -> None:
    source, target = MemoryThreadStore(), CountingStore()
    thread = source.create_thread()
    source.append_messages(thread.id, [Message.user(f"m{n}") for n in range(2 * BATCH + 50)])
    target.create_thread(thread)
    target.append_message(thread.id, source.list_messages(thread.id, order="asc").data[0])

    report = copy_store(source, target)

    assert report.ok
    assert report.unchanged["message"] == 1
    assert report.created["message"] == 2 * BATCH + 49
    assert target.batches == [BATCH, BATCH, 49]
    assert [m.id for m in target.iter_messages(thread.id)] == [
        m.id for m in source.iter_messages(thread.id)
    ]


def test_a_batch_whose_id_another_writer_took_is_copied_one_by_one() -> None:
    source, target = MemoryThreadStore(), CountingStore()
    thread = source.create_thread()
    messages = source.append_messages(thread.id, [Message.user(f"m{n}") for n in range(5)])
    target.intruder = messages[2]

    report = copy_store(source, target)

    assert target.batches == [5]
    assert report.created["message"] == 4
    assert [c.location for c in report.conflicts] == [f"{thread.id}/messages/{messages[2].id}"]
    assert [m.id for m in target.iter_messages(thread.id)] == [
        messages[2].id,
        messages[0].id,
        messages[1].id,
        messages[3].id,
        messages[4].id,
    ]

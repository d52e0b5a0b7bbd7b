"""``MessageTests``: messages belong to one thread and keep every field.

An appended message gets its thread and an ID, and every content kind round-trips;
appending to a missing thread, with a conflicting ``thread_id`` or an existing ID
fails; message IDs are scoped to their thread; a message being written is finished
once and then only its metadata changes; a delete leaves the others in order; messages
list in append order even within one second; ``iter_messages`` reads them all, and
``run_id`` filters a list.
"""

from __future__ import annotations

import pytest

from threadstore.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidRequestError,
    MessageNotFound,
    ThreadNotFound,
)
from threadstore.models import Message, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures, text_message

__all__ = ["MessageTests"]


class MessageTests(ConformanceFixtures):
    """Messages: append, get, update, delete, list, iterate."""

    def test_append_message_fills_owner(self, store: ThreadStore, thread: Thread) -> None:
        message = store.append_message(thread.id, Message.user("hello"))
        assert message.thread_id == thread.id
        assert message.id.startswith("msg_")
        assert message.text == "hello"
        assert store.get_message(thread.id, message.id) == message

    def test_message_round_trips_every_content_kind(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        content = [
            {
                "type": "text",
                "text": {
                    "value": "see 【1】",
                    "annotations": [
                        {
                            "type": "file_citation",
                            "text": "【1】",
                            "start_index": 4,
                            "end_index": 7,
                            "file_citation": {"file_id": "file_1"},
                        }
                    ],
                },
            },
            {"type": "image_file", "image_file": {"file_id": "file_2", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "refusal", "refusal": "no"},
        ]
        sent = Message(
            role="assistant",
            content=content,
            assistant_id="asst_1",
            run_id="run_1",
            attachments=[{"file_id": "file_3", "tools": [{"type": "file_search"}]}],
            metadata={"k": "v"},
            status="incomplete",
            incomplete_at=5,
            incomplete_details={"reason": "max_tokens"},
        )
        stored = store.append_message(thread.id, sent)
        wire = store.get_message(thread.id, stored.id).model_dump(mode="json")
        assert wire == {**sent.model_dump(mode="json"), "thread_id": thread.id}

    def test_append_to_missing_thread(self, store: ThreadStore) -> None:
        with pytest.raises(ThreadNotFound):
            store.append_message("thread_missing", text_message("x"))
        assert store.list_thread_ids() == []

    def test_append_with_conflicting_thread_id(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(InvalidRequestError):
            store.append_message(thread.id, text_message("x", thread_id="thread_other"))
        assert store.list_messages(thread.id).data == []

    def test_append_existing_message_id_fails(self, store: ThreadStore, thread: Thread) -> None:
        store.append_message(thread.id, text_message("first", id="msg_same"))
        with pytest.raises(AlreadyExistsError):
            store.append_message(thread.id, text_message("second", id="msg_same"))
        assert [m.text for m in store.list_messages(thread.id).data] == ["first"]

    def test_message_ids_are_scoped_to_their_thread(self, store: ThreadStore) -> None:
        one, two = store.create_thread(), store.create_thread()
        store.append_message(one.id, text_message("a", id="msg_same"))
        store.append_message(two.id, text_message("b", id="msg_same"))
        assert store.get_message(one.id, "msg_same").text == "a"
        assert store.get_message(two.id, "msg_same").text == "b"

    def test_get_missing_message(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(MessageNotFound):
            store.get_message(thread.id, "msg_missing")

    def test_update_message_metadata(self, store: ThreadStore, thread: Thread) -> None:
        message = store.append_message(thread.id, text_message("x"))
        updated = store.update_message(thread.id, message.id, metadata={"seen": "yes"})
        assert updated.metadata == {"seen": "yes"}
        assert updated.content == message.content
        assert store.get_message(thread.id, message.id) == updated

    def test_update_message_being_written(self, store: ThreadStore, thread: Thread) -> None:
        draft = store.append_message(
            thread.id, Message.assistant("", status="in_progress", run_id="run_1")
        )
        done = store.update_message(
            thread.id, draft.id, content="the answer", status="completed", completed_at=99
        )
        assert (done.text, done.status, done.completed_at) == ("the answer", "completed", 99)
        assert store.get_message(thread.id, draft.id) == done
        with pytest.raises(ConflictError):
            store.update_message(thread.id, draft.id, content="rewritten")
        assert store.get_message(thread.id, draft.id).text == "the answer"

    def test_update_missing_message(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(MessageNotFound):
            store.update_message(thread.id, "msg_missing", metadata={})

    def test_delete_message(self, store: ThreadStore, thread: Thread) -> None:
        first, middle, last = self.fill(store, thread.id, 3)
        deleted = store.delete_message(thread.id, middle.id)
        assert deleted.model_dump(mode="json") == {
            "id": middle.id,
            "object": "thread.message.deleted",
            "deleted": True,
        }
        assert [m.id for m in store.list_messages(thread.id, order="asc").data] == [
            first.id,
            last.id,
        ]
        with pytest.raises(MessageNotFound):
            store.get_message(thread.id, middle.id)
        with pytest.raises(MessageNotFound):
            store.delete_message(thread.id, middle.id)

    def test_messages_keep_append_order_within_one_second(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        ids = [f"msg_{c}" for c in "zyxwvu"]  # reverse lexical order: not sorted by ID
        for message_id in ids:
            store.append_message(thread.id, text_message(message_id, id=message_id, created_at=7))
        assert [m.id for m in store.list_messages(thread.id, order="asc").data] == ids
        assert [m.id for m in store.list_messages(thread.id).data] == ids[::-1]

    def test_iter_messages_reads_everything_in_order(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        sent = self.fill(store, thread.id, 230)
        for message in sent[10:15]:
            store.delete_message(thread.id, message.id)
        expected = [m.id for m in sent[:10] + sent[15:]]
        assert [m.id for m in store.iter_messages(thread.id)] == expected
        assert [m.id for m in store.iter_messages(thread.id, order="desc")] == expected[::-1]

    def test_list_messages_by_run(self, store: ThreadStore, thread: Thread) -> None:
        for i in range(30):
            store.append_message(thread.id, Message.assistant(f"{i}", run_id=f"run_{i % 3}"))
        page = store.list_messages(thread.id, run_id="run_1", order="asc", limit=5)
        assert [m.text for m in page.data] == ["1", "4", "7", "10", "13"]
        assert page.has_more is True
        rest = store.list_messages(thread.id, run_id="run_1", order="asc", after=page.last_id)
        assert [m.text for m in rest.data] == ["16", "19", "22", "25", "28"]
        assert rest.has_more is False

"""The memory backend against the whole conformance suite, plus what is memory-specific."""

from __future__ import annotations

import uuid

import pytest

from threadstore import Message, open_store
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import InvalidRequestError
from threadstore.testing import ThreadStoreConformance


class TestMemoryConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return f"memory://conformance-{uuid.uuid4().hex}"


def test_private_stores_are_separate() -> None:
    one, two = open_store("memory://"), open_store("memory://")
    thread = one.create_thread()
    assert two.list_thread_ids() == []
    assert one.list_thread_ids() == [thread.id]


def test_named_stores_are_shared_in_process() -> None:
    name = f"memory://shared-{uuid.uuid4().hex}"
    one, two = open_store(name), open_store(name)
    thread = one.create_thread()
    two.append_message(thread.id, Message.user("hi"))
    assert [m.text for m in one.list_messages(thread.id).data] == ["hi"]
    assert isinstance(one, MemoryThreadStore)


def test_memory_takes_no_options() -> None:
    with pytest.raises(InvalidRequestError, match="unknown_option"):
        open_store("memory://", unknown_option=1)
    with pytest.raises(InvalidRequestError, match="durable"):
        open_store("memory://x?durable=1")


def test_returned_models_are_copies() -> None:
    store = open_store("memory://")
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("hi", metadata={"a": "b"}))
    message.metadata["a"] = "changed"
    store.get_message(thread.id, message.id).metadata["a"] = "changed"
    assert store.get_message(thread.id, message.id).metadata == {"a": "b"}


def test_a_stored_record_is_a_copy_with_its_owners_filled_in() -> None:
    store = open_store("memory://")
    thread = store.create_thread()
    given = Message.user("hi")
    stored = store.append_message(thread.id, given)
    assert given.thread_id is None
    assert stored is not given
    assert stored.thread_id == thread.id
    assert stored.model_dump(exclude_unset=True)["thread_id"] == thread.id
    assert store.get_message(thread.id, stored.id) == stored

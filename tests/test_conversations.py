"""What a caller sees when storage fails between a conversation and its items.

``create_conversation`` with items is two commits. Input is checked before either, so
only a storage failure can come between them; the error then names the conversation,
which exists without the items. A storage that fails on purpose shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import BackendError, ConversationNotFound, InvalidRequestError
from threadstore.models import Conversation
from threadstore.records import ITEMS, Kind, Scope


class FailingItems(MemoryThreadStore):
    """A memory store whose commit of items first does ``before`` (if anything), then
    fails unless told to go on."""

    def __init__(self, before: Any = None, *, fail: bool = True) -> None:
        super().__init__()
        self.before = before
        self.fail = fail

    def _insert(self, kind: Kind[Any], scope: Scope, records: Sequence[Any]) -> None:
        if kind is ITEMS:
            if self.before is not None:
                self.before(self, scope[0])
            if self.fail:
                raise BackendError("the disk is full; nothing was written")
        super()._insert(kind, scope, records)


ITEMS_GIVEN = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def test_a_failed_commit_of_the_items_names_the_conversation_that_exists() -> None:
    store = FailingItems()
    with pytest.raises(BackendError) as caught:
        store.create_conversation(Conversation(id="conv_half"), items=ITEMS_GIVEN)
    message = str(caught.value)
    assert "conversation 'conv_half' was stored" in message
    assert "2 item(s)" in message
    assert "the disk is full" in message
    assert isinstance(caught.value.__cause__, BackendError)
    assert store.get_conversation("conv_half").id == "conv_half"
    assert store.list_items("conv_half").data == []


def test_bad_input_stores_nothing_at_all() -> None:
    store = FailingItems()
    with pytest.raises(InvalidRequestError):
        store.create_conversation(
            Conversation(id="conv_none"), items=[*ITEMS_GIVEN, {"type": "message"}]
        )
    with pytest.raises(ConversationNotFound):
        store.get_conversation("conv_none")


def test_a_conversation_deleted_meanwhile_is_not_found() -> None:
    """Another caller deleted it between the two commits: nothing of this call remains."""
    store = FailingItems(lambda store, gone: store.delete_conversation(gone), fail=False)
    with pytest.raises(ConversationNotFound):
        store.create_conversation(Conversation(id="conv_gone"), items=ITEMS_GIVEN)
    assert store.list_conversations().data == []

"""``ConversationTests``: conversations and their items, as deep as threads and messages.

A conversation is created (with items or without), read, given metadata, listed in
creation order and deleted with its items; items of every type the Conversations API
lists round-trip unchanged, get IDs with their type's prefix, keep append order, page
both ways with an exact ``has_more`` and are deleted one by one; a batch is all or
nothing, in order and contiguous, from many threads, store objects and processes; a
writer killed mid-batch never leaves half a batch; hostile IDs and metadata past its
limits are refused with nothing stored; reads never create.
"""

from __future__ import annotations

import copy
import multiprocessing
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from threadstore.errors import (
    AlreadyExistsError,
    ConversationNotFound,
    InvalidRequestError,
    ItemNotFound,
)
from threadstore.models import Conversation, ConversationItem, Message, MessageItem, Page, Thread
from threadstore.protocol import Capability, ThreadStore
from threadstore.testing import workers
from threadstore.testing.concurrency import run_threads
from threadstore.testing.fixtures import ConformanceFixtures, walk_pages
from threadstore.testing.sample_items import MODELLED, SAMPLE_ITEMS
from threadstore.testing.validation import HOSTILE_IDS

__all__ = ["ConversationTests"]

EVERY_ITEM = [*SAMPLE_ITEMS.values(), *MODELLED.values()]


def said(text: str, **fields: Any) -> dict[str, Any]:
    """A user message item in the Responses API's short input form."""
    return {"role": "user", "content": text, **fields}


def text_of(item: ConversationItem) -> str:
    assert isinstance(item, MessageItem), f"expected a message, got {item.type}"
    return item.text


def assert_whole_batches(texts: list[str], size: int) -> dict[str, int]:
    """``texts`` are ``"<writer>:<batch>:<i>"``: every batch whole and contiguous, each
    writer's batches in order from 0. Returns how many batches each writer has."""
    assert len(texts) % size == 0, f"{len(texts)} items are not whole batches of {size}"
    batches: dict[str, int] = {}
    for start in range(0, len(texts), size):
        writer, batch, _ = texts[start].split(":")
        expected = [f"{writer}:{batch}:{i}" for i in range(size)]
        assert texts[start : start + size] == expected, f"batch {writer}:{batch} is not whole"
        assert int(batch) == batches.get(writer, 0), f"writer {writer}'s batches out of order"
        batches[writer] = int(batch) + 1
    return batches


class ConversationTests(ConformanceFixtures):
    """Conversations and items: create, read, update, delete, list, batches, races, kills."""

    @pytest.fixture
    def conversation(self, store: ThreadStore) -> Conversation:
        return store.create_conversation()

    @staticmethod
    def add(store: ThreadStore, conversation_id: str, count: int) -> list[ConversationItem]:
        return store.add_items(conversation_id, [said(f"m{i}") for i in range(count)])

    # --- conversations -------------------------------------------------------------

    def test_create_conversation_returns_complete_conversation(self, store: ThreadStore) -> None:
        conversation = store.create_conversation(Conversation(metadata={"user": "u1"}))
        assert conversation.id.startswith("conv_")
        assert conversation.model_dump(mode="json") == {
            "id": conversation.id,
            "object": "conversation",
            "created_at": conversation.created_at,
            "metadata": {"user": "u1"},
        }
        assert store.get_conversation(conversation.id) == conversation
        assert store.list_items(conversation.id).data == []

    def test_create_conversation_keeps_caller_id_and_timestamp(self, store: ThreadStore) -> None:
        made = store.create_conversation(Conversation(id="conv_mine", created_at=1234))
        assert (made.id, made.created_at) == ("conv_mine", 1234)
        assert store.get_conversation("conv_mine") == made

    def test_create_conversation_with_items(self, store: ThreadStore) -> None:
        conversation = store.create_conversation(
            items=[said("hi"), {"type": "message", "role": "assistant", "content": "hello"}]
        )
        items = list(store.iter_items(conversation.id))
        assert [(i.type, text_of(i)) for i in items] == [("message", "hi"), ("message", "hello")]
        assert [i.id[:4] for i in items] == ["msg_", "msg_"]

    def test_create_existing_conversation_fails_and_stores_nothing(
        self, store: ThreadStore
    ) -> None:
        store.create_conversation(Conversation(id="conv_x", metadata={"v": "1"}), items=[said("a")])
        with pytest.raises(AlreadyExistsError):
            store.create_conversation(
                Conversation(id="conv_x", metadata={"v": "2"}), items=[said("b")]
            )
        assert store.get_conversation("conv_x").metadata == {"v": "1"}
        assert [text_of(i) for i in store.iter_items("conv_x")] == ["a"]

    @pytest.mark.parametrize(
        "items",
        [
            [said("fine"), {"type": "message", "role": "robot", "content": "x"}],
            [said("a", id="msg_same"), said("b", id="msg_same")],
            [said("fine"), {"type": "web_search_call", "id": "../up"}],
        ],
        ids=["bad item", "id twice", "hostile id"],
    )
    def test_create_with_a_bad_item_stores_nothing(
        self, store: ThreadStore, items: list[dict[str, Any]]
    ) -> None:
        with pytest.raises(InvalidRequestError):
            store.create_conversation(Conversation(id="conv_bad"), items=items)
        with pytest.raises(ConversationNotFound):
            store.get_conversation("conv_bad")
        assert store.list_conversations().data == []

    def test_get_missing_conversation(self, store: ThreadStore) -> None:
        with pytest.raises(ConversationNotFound):
            store.get_conversation("conv_missing")

    def test_update_conversation_metadata(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        updated = store.update_conversation(conversation.id, metadata={"k": "v"})
        assert updated.metadata == {"k": "v"}
        assert updated.created_at == conversation.created_at
        assert store.get_conversation(conversation.id) == updated
        assert store.update_conversation(conversation.id, metadata={}).metadata == {}
        with pytest.raises(ConversationNotFound):
            store.update_conversation("conv_missing", metadata={})

    def test_delete_conversation_cascades(self, store: ThreadStore) -> None:
        conversation = store.create_conversation(Conversation(id="conv_gone"), items=[said("x")])
        [item] = store.list_items(conversation.id).data
        deleted = store.delete_conversation(conversation.id)
        assert deleted.model_dump(mode="json") == {
            "id": "conv_gone",
            "object": "conversation.deleted",
            "deleted": True,
        }
        for read in (
            lambda: store.get_conversation("conv_gone"),
            lambda: store.list_items("conv_gone"),
            lambda: store.get_item("conv_gone", item.id),
            lambda: store.delete_conversation("conv_gone"),
        ):
            with pytest.raises(ConversationNotFound):
                read()
        store.create_conversation(Conversation(id="conv_gone"))
        assert store.list_items("conv_gone").data == []
        with pytest.raises(ItemNotFound):
            store.get_item("conv_gone", item.id)

    def test_conversations_list_in_creation_order(self, store: ThreadStore) -> None:
        ids = ["conv_b", "conv_a", "conv_d", "conv_c"]  # not in ID order
        for conversation_id in ids:
            store.create_conversation(Conversation(id=conversation_id))
        assert [c.id for c in store.list_conversations(order="asc").data] == ids
        assert [c.id for c in store.list_conversations().data] == ids[::-1]
        page = store.list_conversations(order="asc", limit=2, after="conv_a")
        assert ([c.id for c in page.data], page.has_more) == (["conv_d", "conv_c"], False)
        store.delete_conversation("conv_d")
        assert [c.id for c in store.list_conversations(order="asc").data] == [
            "conv_b",
            "conv_a",
            "conv_c",
        ]

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("backwards", [False, True])
    def test_conversations_page_like_threads(
        self, store: ThreadStore, order: str, backwards: bool
    ) -> None:
        made = [store.create_conversation().id for _ in range(7)]
        expected = made if order == "asc" else made[::-1]
        walked = walk_pages(store.list_conversations, order, limit=3, backwards=backwards)
        assert walked == expected

    def test_threads_and_conversations_are_apart(self, store: ThreadStore) -> None:
        store.create_thread(Thread(id="same"))
        store.create_conversation(Conversation(id="same"), items=[said("c")])
        store.append_message("same", Message.user("t"))
        assert [c.id for c in store.list_conversations().data] == ["same"]
        assert store.list_thread_ids() == ["same"]
        store.delete_thread("same")
        assert [text_of(i) for i in store.iter_items("same")] == ["c"]
        store.delete_conversation("same")
        assert store.list_conversations().data == []

    def test_conversation_reads_never_create(self, store: ThreadStore) -> None:
        reads: list[Callable[[], object]] = [
            lambda: store.get_conversation("conv_ghost"),
            lambda: store.list_items("conv_ghost"),
            lambda: store.get_item("conv_ghost", "msg_x"),
            lambda: list(store.iter_items("conv_ghost")),
            lambda: store.delete_item("conv_ghost", "msg_x"),
            lambda: store.add_items("conv_ghost", []),
            lambda: store.add_items("conv_ghost", [said("x")]),
        ]
        for read in reads:
            with pytest.raises(ConversationNotFound):
                read()
        assert store.list_conversations().data == []

    # --- items -----------------------------------------------------------------------

    def test_add_items_fills_ids_and_keeps_given_ones(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        added = store.add_items(
            conversation.id,
            [
                said("hi"),
                MessageItem(id="msg_mine", role="assistant", content="yo"),
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"type": "reasoning", "summary": []},
            ],
        )
        assert [i.id.split("_")[0] for i in added] == ["msg", "msg", "fc", "fco", "rs"]
        assert added[1].id == "msg_mine"
        assert [store.get_item(conversation.id, i.id) for i in added] == added
        assert store.list_items(conversation.id, order="asc").data == added

    def test_every_item_type_round_trips(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], conversation: Conversation
    ) -> None:
        """One batch holding an item of every type the API lists, read back unchanged."""
        store.add_items(conversation.id, copy.deepcopy(EVERY_ITEM))
        readers = [store, reopen()] if Capability.SHARED in store.capabilities else [store]
        for reader in readers:
            wire = [item.model_dump(mode="json") for item in reader.iter_items(conversation.id)]
            assert wire == EVERY_ITEM
            for sent in EVERY_ITEM:
                assert reader.get_item(conversation.id, sent["id"]).model_dump(mode="json") == sent
            page = reader.list_items(conversation.id, limit=100)
            assert [item.model_dump(mode="json") for item in page.data] == EVERY_ITEM[::-1]

    def test_newer_item_types_and_fields_round_trip(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        newer: list[dict[str, Any]] = [
            {"id": "holo_1", "type": "hologram_call", "frames": [{"t": 0.5, "on": None}]},
            {
                "id": "msg_1",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": "x", "cache": {"ttl": "5m"}}],
                "trace": {"span": "s1"},
            },
            {"id": "msg_2", "type": "message", "role": "user", "content": [{"type": "video"}]},
        ]
        store.add_items(conversation.id, copy.deepcopy(newer))
        wire = [item.model_dump(mode="json") for item in store.iter_items(conversation.id)]
        assert wire == [*newer[:2], {**newer[2], "status": "completed"}]

    def test_returned_items_are_copies(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        sent = {"id": "ws_1", "type": "web_search_call", "status": "completed", "extra": {"a": 1}}
        [item] = store.add_items(conversation.id, [copy.deepcopy(sent)])
        assert item.model_extra is not None
        item.model_extra["extra"]["a"] = 2
        fetched = store.get_item(conversation.id, "ws_1")
        assert fetched.model_extra is not None
        fetched.model_extra["extra"]["a"] = 3
        assert store.get_item(conversation.id, "ws_1").model_dump(mode="json") == sent

    def test_item_ids_are_scoped_to_their_conversation(self, store: ThreadStore) -> None:
        one, two = store.create_conversation(), store.create_conversation()
        store.add_items(one.id, [said("a", id="msg_same")])
        store.add_items(two.id, [said("b", id="msg_same")])
        assert text_of(store.get_item(one.id, "msg_same")) == "a"
        assert text_of(store.get_item(two.id, "msg_same")) == "b"

    def test_a_batch_is_all_or_nothing(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        store.add_items(conversation.id, [said("kept", id="msg_taken")])
        bad_batches: list[tuple[type[Exception], list[Any]]] = [
            (AlreadyExistsError, [said("new"), said("clash", id="msg_taken")]),
            (InvalidRequestError, [said("new", id="msg_twice"), said("again", id="msg_twice")]),
            (InvalidRequestError, [said("new"), {"type": "function_call", "name": "no call"}]),
            (InvalidRequestError, [said("new"), "not an item"]),
            (InvalidRequestError, [said("new"), said("key with no UTF-8 form", **{"\ud800": 1})]),
            (InvalidRequestError, [said("new"), said("not JSON", extra=object())]),
            (InvalidRequestError, [said("new"), Message.user("a thread message")]),
        ]
        for error, batch in bad_batches:
            with pytest.raises(error):
                store.add_items(conversation.id, batch)
        assert [text_of(i) for i in store.iter_items(conversation.id)] == ["kept"]

    def test_a_single_item_is_not_a_batch(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        for single in (said("x"), MessageItem(role="user", content="x"), "x"):
            with pytest.raises(InvalidRequestError):
                store.add_items(conversation.id, single)  # type: ignore[arg-type]
        assert store.add_items(conversation.id, []) == []
        assert store.list_items(conversation.id).data == []

    def test_items_keep_append_order_not_id_order(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        ids = [f"msg_{c}" for c in "zyxwvu"]
        store.add_items(conversation.id, [said(i, id=i) for i in ids[:2]])
        for item_id in ids[2:]:
            store.add_items(conversation.id, [said(item_id, id=item_id)])
        assert [i.id for i in store.list_items(conversation.id, order="asc").data] == ids
        assert [i.id for i in store.list_items(conversation.id).data] == ids[::-1]

    def test_get_missing_item(self, store: ThreadStore, conversation: Conversation) -> None:
        with pytest.raises(ItemNotFound):
            store.get_item(conversation.id, "msg_missing")

    def test_delete_item_returns_the_conversation(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        first, middle, last = self.add(store, conversation.id, 3)
        returned = store.delete_item(conversation.id, middle.id)
        assert returned == store.get_conversation(conversation.id)
        assert returned.model_dump(mode="json")["object"] == "conversation"
        assert [i.id for i in store.iter_items(conversation.id)] == [first.id, last.id]
        with pytest.raises(ItemNotFound):
            store.get_item(conversation.id, middle.id)
        with pytest.raises(ItemNotFound):
            store.delete_item(conversation.id, middle.id)
        [again] = store.add_items(conversation.id, [said("back", id=middle.id)])
        assert [i.id for i in store.iter_items(conversation.id)] == [first.id, last.id, again.id]

    def test_iter_items_reads_everything_in_order(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        sent = self.add(store, conversation.id, 230)
        for item in sent[10:15]:
            store.delete_item(conversation.id, item.id)
        expected = [i.id for i in sent[:10] + sent[15:]]
        assert [i.id for i in store.iter_items(conversation.id)] == expected
        assert [i.id for i in store.iter_items(conversation.id, order="desc")] == expected[::-1]
        with pytest.raises(InvalidRequestError):
            list(store.iter_items(conversation.id, order="up"))  # type: ignore[arg-type]

    # --- pagination --------------------------------------------------------------------

    def test_list_items_defaults_to_20_newest_first(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        sent = self.add(store, conversation.id, 25)
        page = store.list_items(conversation.id)
        assert [i.id for i in page.data] == [i.id for i in sent[::-1][:20]]
        assert (page.first_id, page.last_id, page.has_more) == (sent[24].id, sent[5].id, True)
        assert page.object == "list"

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize(("count", "more"), [(8, False), (9, True)])
    def test_item_has_more_is_exact_at_the_page_boundary(
        self,
        store: ThreadStore,
        conversation: Conversation,
        order: Any,
        count: int,
        more: bool,
    ) -> None:
        self.add(store, conversation.id, count)
        page = store.list_items(conversation.id, order=order, limit=4)
        assert page.has_more is True
        second = store.list_items(conversation.id, order=order, limit=4, after=page.last_id)
        assert (len(second.data), second.has_more) == (4, more)
        back = store.list_items(conversation.id, order=order, limit=4, before=second.first_id)
        assert (back.data, back.has_more) == (page.data, False)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_item_cursors_exclude_themselves(
        self, store: ThreadStore, conversation: Conversation, order: Any
    ) -> None:
        sent = [i.id for i in self.add(store, conversation.id, 10)]
        line = sent if order == "asc" else sent[::-1]
        after = store.list_items(conversation.id, order=order, after=line[3], limit=3)
        assert ([i.id for i in after.data], after.has_more) == (line[4:7], True)
        before = store.list_items(conversation.id, order=order, before=line[6], limit=3)
        assert ([i.id for i in before.data], before.has_more) == (line[3:6], True)
        first = store.list_items(conversation.id, order=order, before=line[2], limit=3)
        assert ([i.id for i in first.data], first.has_more) == (line[0:2], False)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("backwards", [False, True])
    def test_walking_item_pages_sees_every_item_once(
        self, store: ThreadStore, conversation: Conversation, order: str, backwards: bool
    ) -> None:
        sent = [i.id for i in self.add(store, conversation.id, 23)]
        store.delete_item(conversation.id, sent.pop(7))
        expected = sent if order == "asc" else sent[::-1]

        def page_at(**kwargs: Any) -> Page[ConversationItem]:
            return store.list_items(conversation.id, **kwargs)

        assert walk_pages(page_at, order, limit=5, backwards=backwards) == expected

    @pytest.mark.parametrize("limit", [0, 101, True, "5", None])
    def test_item_limit_out_of_range(
        self, store: ThreadStore, conversation: Conversation, limit: Any
    ) -> None:
        with pytest.raises(InvalidRequestError):
            store.list_items(conversation.id, limit=limit)

    @pytest.mark.parametrize("key", ["after", "before"])
    def test_unknown_item_cursor(
        self, store: ThreadStore, conversation: Conversation, key: str
    ) -> None:
        sent = self.add(store, conversation.id, 3)
        store.delete_item(conversation.id, sent[1].id)
        [foreign] = store.add_items(store.create_conversation().id, [said("elsewhere")])
        for cursor in ["msg_missing", foreign.id, sent[1].id]:
            cursors: dict[str, Any] = {key: cursor}
            with pytest.raises(InvalidRequestError):
                store.list_items(conversation.id, **cursors)
        with pytest.raises(InvalidRequestError):
            store.list_items(conversation.id, after=sent[0].id, before=sent[2].id)
        with pytest.raises(InvalidRequestError):
            store.list_conversations(after="conv_missing")

    # --- validation --------------------------------------------------------------------

    @pytest.mark.parametrize("bad_id", HOSTILE_IDS)
    def test_hostile_ids_are_refused_by_conversations(
        self, store: ThreadStore, conversation: Conversation, bad_id: str
    ) -> None:
        [item] = store.add_items(conversation.id, [said("kept")])
        calls: list[Callable[[], object]] = [
            lambda: store.create_conversation(Conversation.model_construct(id=bad_id)),
            lambda: store.get_conversation(bad_id),
            lambda: store.update_conversation(bad_id, metadata={}),
            lambda: store.delete_conversation(bad_id),
            lambda: store.add_items(bad_id, [said("x")]),
            lambda: store.add_items(conversation.id, [said("x", id=bad_id)]),
            lambda: store.add_items(conversation.id, [{"type": "mcp_call", "id": bad_id}]),
            lambda: store.get_item(conversation.id, bad_id),
            lambda: store.get_item(bad_id, item.id),
            lambda: store.delete_item(conversation.id, bad_id),
            lambda: store.list_items(bad_id),
            lambda: store.list_items(conversation.id, after=bad_id),
            lambda: list(store.iter_items(bad_id)),
            lambda: store.list_conversations(before=bad_id),
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                call()
        assert [c.id for c in store.list_conversations().data] == [conversation.id]
        assert store.list_items(conversation.id).data == [item]

    @pytest.mark.parametrize(
        "metadata",
        [{f"k{i}": "v" for i in range(17)}, {"k" * 65: "v"}, {"k": "v" * 513}],
    )
    def test_conversation_metadata_limits(
        self, store: ThreadStore, conversation: Conversation, metadata: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidRequestError):
            store.update_conversation(conversation.id, metadata=metadata)
        with pytest.raises(InvalidRequestError):
            store.create_conversation(Conversation.model_construct(metadata=metadata))
        assert store.get_conversation(conversation.id) == conversation
        assert store.list_conversations().data == [conversation]

    def test_conversation_metadata_at_the_limits_is_accepted(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
        assert store.update_conversation(conversation.id, metadata=metadata).metadata == metadata
        assert store.get_conversation(conversation.id).metadata == metadata

    def test_an_item_changed_after_construction_is_refused(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        item = MessageItem(role="user", content="x")
        object.__setattr__(item, "role", "robot")  # bypasses validation
        with pytest.raises(InvalidRequestError):
            store.add_items(conversation.id, [said("first"), item])
        assert store.list_items(conversation.id).data == []

    # --- races and kills -----------------------------------------------------------------

    def test_concurrent_batches_from_threads(
        self, store: ThreadStore, conversation: Conversation
    ) -> None:
        writers, batches, size = 6, 8, 5

        def write(worker: int) -> None:
            for batch in range(batches):
                items = [said(f"{worker}:{batch}:{i}") for i in range(size)]
                store.add_items(conversation.id, items)

        run_threads(write, writers)
        texts = [text_of(i) for i in store.iter_items(conversation.id)]
        assert assert_whole_batches(texts, size) == {str(w): batches for w in range(writers)}

    def test_concurrent_batches_from_many_store_objects(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], conversation: Conversation
    ) -> None:
        self.require(store, Capability.SHARED)
        writers, batches, size = 5, 6, 4
        stores = [reopen() for _ in range(writers)]

        def write(worker: int) -> None:
            for batch in range(batches):
                items = [said(f"{worker}:{batch}:{i}") for i in range(size)]
                stores[worker].add_items(conversation.id, items)

        run_threads(write, writers)
        seen = [[text_of(i) for i in s.iter_items(conversation.id)] for s in [store, *stores]]
        assert assert_whole_batches(seen[0], size) == {str(w): batches for w in range(writers)}
        assert all(texts == seen[0] for texts in seen), "store objects disagree on the order"

    def test_concurrent_batches_from_processes(
        self,
        store: ThreadStore,
        store_url: str,
        open_options: dict[str, Any],
        conversation: Conversation,
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        processes, batches, size = 4, 6, 5
        workers.run_processes(
            workers.add_item_batches,
            [
                (store_url, open_options, conversation.id, p, batches, size)
                for p in range(processes)
            ],
        )
        texts = [text_of(i) for i in store.iter_items(conversation.id)]
        assert assert_whole_batches(texts, size) == {str(p): batches for p in range(processes)}

    def test_concurrent_pops_take_each_item_once(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], conversation: Conversation
    ) -> None:
        """Racing deletes of the newest item: each item is deleted by exactly one caller."""
        sent = [i.id for i in self.add(store, conversation.id, 40)]
        stores = [reopen() if Capability.SHARED in store.capabilities else store for _ in range(4)]
        taken: list[str] = []
        lock = threading.Lock()

        def pop(worker: int) -> None:
            mine = stores[worker]
            while page := mine.list_items(conversation.id, limit=1).data:
                try:
                    mine.delete_item(conversation.id, page[0].id)
                except ItemNotFound:
                    continue
                with lock:
                    taken.append(page[0].id)

        run_threads(pop, len(stores))
        assert sorted(taken) == sorted(sent)
        assert store.list_items(conversation.id).data == []

    def test_a_writer_killed_mid_batch_leaves_whole_batches(
        self,
        store: ThreadStore,
        store_url: str,
        open_options: dict[str, Any],
        reopen: Callable[[], ThreadStore],
        conversation: Conversation,
    ) -> None:
        """kill -9 a process that adds batch after batch, at random moments: the
        conversation holds whole batches only, and (``DURABLE``) every acknowledged one."""
        self.require(store, Capability.PERSISTENT)
        size, rounds = 25, 3
        context = multiprocessing.get_context("spawn")
        chance = random.Random(1234)
        acknowledged: dict[str, int] = {}
        for writer in range(rounds):
            reader, sender = context.Pipe(duplex=False)
            child = context.Process(
                target=workers.add_batches_until_killed,
                args=(store_url, open_options, conversation.id, writer, size, sender),
                daemon=True,
            )
            child.start()
            sender.close()
            try:
                assert reader.poll(120), "the writer acknowledged no batch in time"
                done = reader.recv()
                kill_after = done + chance.randint(1, 6)
                while done < kill_after and reader.poll(30):
                    done = reader.recv()
            finally:
                child.kill()
                child.join(60)
            try:
                while reader.poll(0):
                    done = reader.recv()
            except EOFError:
                pass
            acknowledged[str(writer)] = done + 1
        texts = [text_of(i) for i in reopen().iter_items(conversation.id)]
        found = assert_whole_batches(texts, size)
        for name, count in acknowledged.items():
            stored = found.get(name, 0)
            assert stored <= count + 1, f"writer {name}: {stored} batches, {count} acknowledged"
            if Capability.DURABLE in store.capabilities:
                assert stored >= count, f"writer {name} lost acknowledged batches"

"""``ThreadStoreConformance``: the behaviour every backend must show, as pytest tests.

A backend's test module subclasses it and says where a fresh store lives::

    from threadstore.testing import ThreadStoreConformance

    class TestMyBackend(ThreadStoreConformance):
        @pytest.fixture
        def store_url(self, tmp_path):
            return f"mybackend://{tmp_path}"

The suite opens ``store_url`` for each test and opens it again to check what another
store object (or a reopened store) sees. Tests that need a capability the backend does
not declare (``Capability.PERSISTENT``, ``MULTI_PROCESS``...) are skipped with that
reason; tests of what a backend declares are never skipped.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import settings

from threadstore.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidRequestError,
    MessageNotFound,
    NotFoundError,
    RunInTerminalState,
    RunNotFound,
    RunStepNotFound,
    ThreadNotFound,
)
from threadstore.models import (
    LastError,
    Message,
    Page,
    Run,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
)
from threadstore.protocol import Capability, ThreadStore
from threadstore.registry import open_store
from threadstore.testing import stateful, workers
from threadstore.url import StoreURL

__all__ = ["SUITE_VERSION", "ThreadStoreConformance"]

SUITE_VERSION = "1.1"
"""Bumped when the suite tightens; see the changelog in docs/writing-a-backend.md."""

TERMINAL = [s for s in RunStatus if s.is_terminal]
HOSTILE_IDS = [
    "../x",
    "..",
    ".",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "a\x00b",
    "",
    " a",
    "a b",
    "a\nb",
    "x" * 10_000,
    "thread_\u0430",  # Cyrillic a: looks Latin, is not
    "C:\\x",
    "-rf",
]


def text_message(text: str, **fields: Any) -> Message:
    return Message.user(text, **fields)


def step_for(message_id: str) -> RunStep:
    return RunStep.model_validate(
        {
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            }
        }
    )


class ThreadStoreConformance:
    """Base class of the conformance suite. Override ``store_url``; nothing else is required."""

    # --- fixtures a backend overrides --------------------------------------

    @pytest.fixture
    def store_url(self) -> str:
        """The URL of a fresh, empty store. Every backend's test class overrides this."""
        raise NotImplementedError("override the store_url fixture to say where a fresh store is")

    @pytest.fixture
    def open_options(self) -> dict[str, Any]:
        """Keyword options passed to ``open_store`` with ``store_url``."""
        return {}

    @pytest.fixture
    def reopen(
        self, store_url: str, open_options: dict[str, Any]
    ) -> Iterator[Callable[[], ThreadStore]]:
        """Open another store object on the same location; all are closed at teardown."""
        opened: list[ThreadStore] = []

        def open_again() -> ThreadStore:
            store = open_store(store_url, **open_options)
            opened.append(store)
            return store

        yield open_again
        for store in opened:
            store.close()

    @pytest.fixture
    def new_location(
        self, store_url: str, open_options: dict[str, Any]
    ) -> Callable[[], Callable[[], ThreadStore]]:
        """Make a fresh, empty location and return its opener (one per state-machine example).

        The default puts a uniquely named location below ``store_url``; override it if
        your URLs cannot nest.
        """

        def make() -> Callable[[], ThreadStore]:
            name = f"sm{uuid.uuid4().hex[:12]}"
            url = StoreURL.parse(store_url).joinpath(name).render(hide_secrets=False)
            return lambda: open_store(url, **open_options)

        return make

    @pytest.fixture
    def stateful_settings(self) -> settings:
        """The state machine's Hypothesis budget: the ``THREADSTORE_HYPOTHESIS_PROFILE``."""
        return stateful.profile()

    @pytest.fixture
    def store(self, reopen: Callable[[], ThreadStore]) -> ThreadStore:
        return reopen()

    @pytest.fixture
    def thread(self, store: ThreadStore) -> Thread:
        return store.create_thread()

    # --- helpers -------------------------------------------------------------

    @staticmethod
    def require(store: ThreadStore, capability: Capability) -> None:
        if capability not in store.capabilities:
            pytest.skip(f"backend does not declare {capability.value!r}")

    @staticmethod
    def fill(store: ThreadStore, thread_id: str, count: int) -> list[Message]:
        return [store.append_message(thread_id, text_message(f"m{i}")) for i in range(count)]

    @staticmethod
    def walk(
        page_at: Callable[..., Page[Any]], order: str, limit: int, backwards: bool = False
    ) -> list[str]:
        """Follow cursors from one end to the other; return every ID seen, in travel order."""
        seen: list[str] = []
        page = page_at(limit=limit, order=order)
        if backwards:  # start from the far end by walking forward first
            while page.has_more:
                page = page_at(limit=limit, order=order, after=page.last_id)
            seen = [item.id for item in page.data]
            while True:
                page = page_at(limit=limit, order=order, before=seen[0])
                seen = [item.id for item in page.data] + seen
                if not page.has_more:
                    return seen
        seen.extend(item.id for item in page.data)
        while page.has_more:
            page = page_at(limit=limit, order=order, after=page.last_id)
            seen.extend(item.id for item in page.data)
        return seen

    # --- threads -------------------------------------------------------------

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

    def test_list_threads_in_id_order(self, store: ThreadStore) -> None:
        ids = ["thread_b", "thread_a", "thread_d", "thread_c"]
        for thread_id in ids:
            store.create_thread(Thread(id=thread_id))
        assert [t.id for t in store.list_threads(order="asc").data] == sorted(ids)
        assert [t.id for t in store.list_threads().data] == sorted(ids, reverse=True)
        page = store.list_threads(order="asc", limit=2, after="thread_b")
        assert [t.id for t in page.data] == ["thread_c", "thread_d"]
        assert page.has_more is False

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

    # --- messages ------------------------------------------------------------

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

    # --- pagination ----------------------------------------------------------

    def test_list_defaults_to_20_newest_first(self, store: ThreadStore, thread: Thread) -> None:
        sent = self.fill(store, thread.id, 25)
        page = store.list_messages(thread.id)
        assert [m.id for m in page.data] == [m.id for m in sent[::-1][:20]]
        assert (page.first_id, page.last_id, page.has_more) == (sent[24].id, sent[5].id, True)
        assert page.object == "list"

    def test_empty_page(self, store: ThreadStore, thread: Thread) -> None:
        page = store.list_messages(thread.id)
        assert page.model_dump(mode="json") == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }

    @pytest.mark.parametrize("limit", [0, -1, 101, 1000, True, 2.5, "5", None])
    def test_limit_out_of_range(self, store: ThreadStore, thread: Thread, limit: Any) -> None:
        with pytest.raises(InvalidRequestError):
            store.list_messages(thread.id, limit=limit)

    @pytest.mark.parametrize("limit", [1, 100])
    def test_limit_bounds_are_inclusive(
        self, store: ThreadStore, thread: Thread, limit: int
    ) -> None:
        self.fill(store, thread.id, 101)
        page = store.list_messages(thread.id, limit=limit)
        assert len(page.data) == limit
        assert page.has_more is True

    @pytest.mark.parametrize("order", ["ASC", "up", "", None])
    def test_bad_order(self, store: ThreadStore, thread: Thread, order: Any) -> None:
        with pytest.raises(InvalidRequestError):
            store.list_messages(thread.id, order=order)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_after_excludes_the_cursor(
        self, store: ThreadStore, thread: Thread, order: Any
    ) -> None:
        sent = [m.id for m in self.fill(store, thread.id, 10)]
        ordered = sent if order == "asc" else sent[::-1]
        page = store.list_messages(thread.id, order=order, after=ordered[3], limit=3)
        assert [m.id for m in page.data] == ordered[4:7]
        assert page.has_more is True

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_before_returns_the_previous_page_in_requested_order(
        self, store: ThreadStore, thread: Thread, order: Any
    ) -> None:
        sent = [m.id for m in self.fill(store, thread.id, 10)]
        ordered = sent if order == "asc" else sent[::-1]
        page = store.list_messages(thread.id, order=order, before=ordered[6], limit=3)
        assert [m.id for m in page.data] == ordered[3:6]
        assert page.has_more is True
        first = store.list_messages(thread.id, order=order, before=ordered[2], limit=3)
        assert [m.id for m in first.data] == ordered[0:2]
        assert first.has_more is False

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize(("count", "more"), [(8, False), (9, True)])
    def test_has_more_is_exact_at_the_page_boundary(
        self, store: ThreadStore, thread: Thread, order: Any, count: int, more: bool
    ) -> None:
        self.fill(store, thread.id, count)
        page = store.list_messages(thread.id, order=order, limit=4)
        second = store.list_messages(thread.id, order=order, limit=4, after=page.last_id)
        assert len(second.data) == 4
        assert second.has_more is more
        back = store.list_messages(thread.id, order=order, limit=4, before=second.first_id)
        assert back.data == page.data
        assert back.has_more is False

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("backwards", [False, True])
    def test_walking_pages_sees_every_item_once(
        self, store: ThreadStore, thread: Thread, order: str, backwards: bool
    ) -> None:
        sent = [m.id for m in self.fill(store, thread.id, 23)]
        store.delete_message(thread.id, sent[7])
        del sent[7]
        expected = sent if order == "asc" else sent[::-1]

        def page_at(**kwargs: Any) -> Page[Message]:
            return store.list_messages(thread.id, **kwargs)

        assert self.walk(page_at, order, limit=5, backwards=backwards) == expected

    @pytest.mark.parametrize("key", ["after", "before"])
    def test_unknown_cursor(self, store: ThreadStore, thread: Thread, key: str) -> None:
        self.fill(store, thread.id, 3)
        other = store.create_thread()
        foreign = store.append_message(other.id, text_message("elsewhere"))
        cursors: dict[str, Any] = {}
        for cursor in ["msg_missing", foreign.id]:
            cursors[key] = cursor
            with pytest.raises(InvalidRequestError):
                store.list_messages(thread.id, **cursors)

    def test_deleted_cursor(self, store: ThreadStore, thread: Thread) -> None:
        sent = self.fill(store, thread.id, 3)
        store.delete_message(thread.id, sent[1].id)
        with pytest.raises(InvalidRequestError):
            store.list_messages(thread.id, after=sent[1].id)

    def test_after_and_before_together(self, store: ThreadStore, thread: Thread) -> None:
        sent = self.fill(store, thread.id, 3)
        with pytest.raises(InvalidRequestError):
            store.list_messages(thread.id, after=sent[0].id, before=sent[2].id)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_runs_and_steps_page_like_messages(
        self, store: ThreadStore, thread: Thread, order: str
    ) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(7)]
        steps = [store.append_step(thread.id, runs[0], step_for("msg_1")).id for _ in range(7)]
        lists: list[tuple[list[str], Callable[..., Page[Any]]]] = [
            (runs, lambda **kw: store.list_runs(thread.id, **kw)),
            (steps, lambda **kw: store.list_steps(thread.id, runs[0], **kw)),
        ]
        for ids, page_at in lists:
            expected = ids if order == "asc" else ids[::-1]
            assert self.walk(page_at, order, limit=3) == expected
            assert self.walk(page_at, order, limit=3, backwards=True) == expected

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_threads_page_like_messages(self, store: ThreadStore, order: str) -> None:
        ids = sorted(store.create_thread().id for _ in range(7))
        expected = ids if order == "asc" else ids[::-1]
        assert self.walk(store.list_threads, order, limit=3) == expected
        assert self.walk(store.list_threads, order, limit=3, backwards=True) == expected

    # --- runs ----------------------------------------------------------------

    def test_create_run(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1", model="m"))
        assert (run.thread_id, run.status, run.model) == (thread.id, "queued", "m")
        assert run.id.startswith("run_")
        assert store.get_run(thread.id, run.id) == run

    def test_run_round_trips_every_field(self, store: ThreadStore, thread: Thread) -> None:
        sent = Run.model_validate(
            {
                "assistant_id": "asst_1",
                "model": "m",
                "instructions": "be brief",
                "status": "requires_action",
                "required_action": {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ]
                    },
                },
                "tools": [
                    {"type": "code_interpreter"},
                    {"type": "file_search", "file_search": {"max_num_results": 5}},
                    {"type": "function", "function": {"name": "f", "parameters": {}}},
                ],
                "metadata": {"k": "v"},
                "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
                "temperature": 0.5,
                "top_p": 0.9,
                "max_prompt_tokens": 100,
                "max_completion_tokens": 50,
                "truncation_strategy": {"type": "last_messages", "last_messages": 4},
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "parallel_tool_calls": False,
                "response_format": {"type": "json_object"},
                "expires_at": 2000,
                "started_at": 1000,
            }
        )
        stored = store.create_run(thread.id, sent)
        wire = store.get_run(thread.id, stored.id).model_dump(mode="json")
        assert wire == {**sent.model_dump(mode="json"), "thread_id": thread.id}

    def test_create_run_on_missing_thread(self, store: ThreadStore) -> None:
        with pytest.raises(ThreadNotFound):
            store.create_run("thread_missing", Run(assistant_id="asst_1"))

    def test_create_existing_run_fails(self, store: ThreadStore, thread: Thread) -> None:
        store.create_run(thread.id, Run(id="run_same", assistant_id="asst_1"))
        with pytest.raises(AlreadyExistsError):
            store.create_run(thread.id, Run(id="run_same", assistant_id="asst_2"))
        assert store.get_run(thread.id, "run_same").assistant_id == "asst_1"

    def test_get_missing_run(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(RunNotFound):
            store.get_run(thread.id, "run_missing")
        with pytest.raises(RunNotFound):
            store.update_run_status(thread.id, "run_missing", "in_progress")

    def test_run_lifecycle_sets_timestamps(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        started = store.update_run_status(thread.id, run.id, RunStatus.IN_PROGRESS)
        assert started.status is RunStatus.IN_PROGRESS
        assert started.started_at is not None
        done = store.update_run_status(thread.id, run.id, "completed")
        assert done.completed_at is not None
        assert done.started_at == started.started_at
        assert store.get_run(thread.id, run.id) == done

    def test_failed_run_records_error(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        failed = store.update_run_status(
            thread.id, run.id, "failed", {"code": "server_error", "message": "boom"}
        )
        assert failed.last_error == LastError(code="server_error", message="boom")
        assert failed.failed_at is not None
        assert store.get_run(thread.id, run.id).last_error == failed.last_error

    def test_cancelled_run_records_time(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "cancelling")
        assert store.update_run_status(thread.id, run.id, "cancelled").cancelled_at is not None

    @pytest.mark.parametrize("status", ["done", "COMPLETED", ""])
    def test_unknown_run_status(self, store: ThreadStore, thread: Thread, status: str) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(InvalidRequestError):
            store.update_run_status(thread.id, run.id, status)
        assert store.get_run(thread.id, run.id) == run

    def test_bad_error_is_refused(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(InvalidRequestError):
            store.update_run_status(thread.id, run.id, "failed", {"code": "nope", "message": ""})
        assert store.get_run(thread.id, run.id) == run

    @pytest.mark.parametrize("terminal", TERMINAL)
    def test_terminal_run_cannot_move(
        self, store: ThreadStore, thread: Thread, terminal: RunStatus
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        final = store.update_run_status(thread.id, run.id, terminal)
        for status in RunStatus:
            with pytest.raises(RunInTerminalState) as caught:
                store.update_run_status(thread.id, run.id, status)
            assert isinstance(caught.value, ConflictError)
        with pytest.raises(RunInTerminalState):
            store.update_run(thread.id, run.id, status="queued")
        assert store.get_run(thread.id, run.id) == final

    def test_force_moves_a_terminal_run(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "completed")
        forced = store.force_update_run_status(
            thread.id, run.id, "failed", LastError(code="server_error", message="late")
        )
        assert forced.status == "failed"
        assert forced.last_error is not None
        assert store.get_run(thread.id, run.id) == forced

    def test_expected_status_is_compare_and_set(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        claimed = store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        with pytest.raises(ConflictError):
            store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        with pytest.raises(ConflictError):
            store.update_run(thread.id, run.id, expected=RunStatus.QUEUED, metadata={"a": "b"})
        assert store.get_run(thread.id, run.id) == claimed

    def test_update_run_fields(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            },
        }
        waiting = store.update_run(
            thread.id, run.id, status="requires_action", required_action=action
        )
        assert waiting.required_action is not None
        resumed = store.update_run_status(thread.id, run.id, "in_progress")
        assert resumed.required_action is None
        done = store.update_run(
            thread.id,
            run.id,
            status="completed",
            usage={"completion_tokens": 3, "prompt_tokens": 4, "total_tokens": 7},
        )
        assert done.usage is not None
        assert done.usage.total_tokens == 7
        tagged = store.update_run(thread.id, run.id, metadata={"rating": "good"})
        assert (tagged.status, tagged.metadata) == ("completed", {"rating": "good"})
        assert store.get_run(thread.id, run.id) == tagged

    def test_list_runs_in_creation_order(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")) for _ in range(3)]
        assert store.list_runs(thread.id).data == runs[::-1]

    # --- run steps -----------------------------------------------------------

    def test_append_step_fills_owners(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_9"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        assert (step.thread_id, step.run_id, step.assistant_id) == (thread.id, run.id, "asst_9")
        assert step.id.startswith("step_")
        assert step.status is RunStepStatus.IN_PROGRESS
        assert store.get_step(thread.id, run.id, step.id) == step

    def test_step_wire_shape(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        wire = store.get_step(thread.id, run.id, step.id).model_dump(mode="json")
        assert wire["object"] == "thread.run.step"
        assert wire["type"] == "message_creation"
        assert wire["step_details"] == {
            "type": "message_creation",
            "message_creation": {"message_id": "msg_1"},
        }
        for nullable in ["last_error", "expired_at", "cancelled_at", "failed_at", "usage"]:
            assert wire[nullable] is None

    def test_append_step_to_missing_run(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(RunNotFound):
            store.append_step(thread.id, "run_missing", step_for("msg_1"))
        with pytest.raises(ThreadNotFound):
            store.append_step("thread_missing", "run_missing", step_for("msg_1"))

    def test_create_existing_step_fails(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        first = store.append_step(
            thread.id, run.id, step_for("msg_1").model_copy(update={"id": "step_s"})
        )
        with pytest.raises(AlreadyExistsError):
            store.append_step(
                thread.id, run.id, step_for("msg_2").model_copy(update={"id": "step_s"})
            )
        assert store.get_step(thread.id, run.id, "step_s") == first

    def test_get_missing_step(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(RunStepNotFound):
            store.get_step(thread.id, run.id, "step_missing")
        with pytest.raises(RunNotFound):
            store.get_step(thread.id, "run_missing", "step_missing")

    def test_step_status_sets_timestamps_and_error(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        ok = store.append_step(thread.id, run.id, step_for("msg_1"))
        bad = store.append_step(thread.id, run.id, step_for("msg_2"))
        done = store.update_step_status(thread.id, run.id, ok.id, RunStepStatus.COMPLETED)
        assert done.completed_at is not None
        failed = store.update_step_status(
            thread.id, run.id, bad.id, "failed", {"code": "rate_limit_exceeded", "message": "slow"}
        )
        assert failed.failed_at is not None
        assert failed.last_error is not None
        assert failed.last_error.code == "rate_limit_exceeded"
        assert store.list_steps(thread.id, run.id, order="asc").data == [done, failed]

    def test_update_step_details(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(
            thread.id,
            run.id,
            RunStep.model_validate({"step_details": {"type": "tool_calls", "tool_calls": []}}),
        )
        calls = {
            "type": "tool_calls",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}", "output": "42"},
                }
            ],
        }
        updated = store.update_step(
            thread.id,
            run.id,
            step.id,
            step_details=calls,
            usage={"completion_tokens": 1, "prompt_tokens": 1, "total_tokens": 2},
        )
        assert updated.model_dump(mode="json")["step_details"] == calls
        assert store.get_step(thread.id, run.id, step.id) == updated

    def test_unknown_step_status(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        with pytest.raises(InvalidRequestError):
            store.update_step_status(thread.id, run.id, step.id, "queued")
        assert store.get_step(thread.id, run.id, step.id) == step

    # --- validation ----------------------------------------------------------

    @pytest.mark.parametrize("bad_id", HOSTILE_IDS)
    def test_hostile_ids_are_refused_everywhere(
        self, store: ThreadStore, thread: Thread, bad_id: str
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        calls: list[Callable[[], object]] = [
            lambda: store.get_thread(bad_id),
            lambda: store.update_thread(bad_id, metadata={}),
            lambda: store.delete_thread(bad_id),
            lambda: store.append_message(bad_id, text_message("x")),
            lambda: store.get_message(thread.id, bad_id),
            lambda: store.delete_message(thread.id, bad_id),
            lambda: store.list_messages(thread.id, after=bad_id),
            lambda: store.list_messages(thread.id, run_id=bad_id),
            lambda: store.get_run(thread.id, bad_id),
            lambda: store.create_run(bad_id, Run(assistant_id="asst_1")),
            lambda: store.update_run_status(thread.id, bad_id, "in_progress"),
            lambda: store.append_step(thread.id, bad_id, step_for("msg_1")),
            lambda: store.get_step(thread.id, run.id, bad_id),
            lambda: store.list_steps(bad_id, run.id),
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                call()
        assert store.list_thread_ids() == [thread.id]
        assert store.list_runs(thread.id).data == [run]

    @pytest.mark.parametrize(
        "metadata",
        [
            {f"k{i}": "v" for i in range(17)},
            {"k" * 65: "v"},
            {"k": "v" * 513},
        ],
    )
    def test_metadata_limits(
        self, store: ThreadStore, thread: Thread, metadata: dict[str, str]
    ) -> None:
        message = store.append_message(thread.id, text_message("x"))
        with pytest.raises(InvalidRequestError):
            store.update_thread(thread.id, metadata=metadata)
        with pytest.raises(InvalidRequestError):
            store.update_message(thread.id, message.id, metadata=metadata)
        assert store.get_thread(thread.id) == thread
        assert store.get_message(thread.id, message.id) == message

    def test_metadata_at_the_limits_is_accepted(self, store: ThreadStore, thread: Thread) -> None:
        metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
        assert store.update_thread(thread.id, metadata=metadata).metadata == metadata
        assert store.get_thread(thread.id).metadata == metadata

    def test_invalid_model_changed_after_construction(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        message = text_message("x")
        object.__setattr__(message, "metadata", {"k": "v" * 600})  # bypasses validation
        with pytest.raises(InvalidRequestError):
            store.append_message(thread.id, message)
        assert store.list_messages(thread.id).data == []

    def test_wrong_model_type(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(InvalidRequestError):
            store.append_message(thread.id, Run(assistant_id="asst_1"))  # type: ignore[arg-type]

    # --- capabilities ----------------------------------------------------------

    def test_declared_capabilities_are_consistent(self, store: ThreadStore) -> None:
        """Capabilities are Capability members, and a claim brings the ones it implies.

        A store object may claim less than its class (an option such as ``durable=false``
        gives a promise up); ``open_store(require=)`` checks the object it opened.
        """
        declared = set(store.capabilities)
        assert all(isinstance(c, Capability) for c in declared)
        implies = {
            Capability.MULTI_HOST: Capability.MULTI_PROCESS,
            Capability.MULTI_PROCESS: Capability.SHARED,
            Capability.DURABLE: Capability.PERSISTENT,
        }
        for claim, needed in implies.items():
            if claim in declared:
                assert needed in declared, f"{claim.value!r} implies {needed.value!r}"

    # --- persistence and sharing ----------------------------------------------

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

    # --- the state machine ----------------------------------------------------

    def test_state_machine(
        self,
        new_location: Callable[[], Callable[[], ThreadStore]],
        stateful_settings: settings,
    ) -> None:
        """Random operation sequences agree with the memory model and a pagination oracle."""
        stateful.run_state_machine(new_location, stateful_settings)

    def test_updates_keep_list_positions(self, store: ThreadStore, thread: Thread) -> None:
        """A list is in append order: changing a record never moves it."""
        sent = [m.id for m in self.fill(store, thread.id, 3)]
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(3)]
        steps = [store.append_step(thread.id, runs[0], step_for(i)).id for i in sent]
        store.update_message(thread.id, sent[0], metadata={"k": "v"})
        store.update_run_status(thread.id, runs[0], "in_progress")
        store.update_step_status(thread.id, runs[0], steps[0], "completed")
        assert [m.id for m in store.list_messages(thread.id, order="asc").data] == sent
        assert [r.id for r in store.list_runs(thread.id, order="asc").data] == runs
        assert [s.id for s in store.list_steps(thread.id, runs[0], order="asc").data] == steps

    # --- concurrency ----------------------------------------------------------

    @staticmethod
    def assert_appends(texts: list[str], writers: int, each: int) -> None:
        """Every ``"<writer>:<i>"`` appended once, and each writer's own in its order."""
        assert sorted(texts) == sorted(f"{w}:{i}" for w in range(writers) for i in range(each))
        for worker in range(writers):
            mine = [t for t in texts if t.startswith(f"{worker}:")]
            assert mine == [f"{worker}:{i}" for i in range(each)]

    @staticmethod
    def claim_all(stores: Sequence[ThreadStore], thread_id: str, runs: list[str]) -> None:
        """Worker ``i`` tries to claim every run through ``stores[i]``; each run has one winner."""
        wins: list[tuple[str, int]] = []
        lock = threading.Lock()

        def claim(worker: int) -> None:
            for run_id in runs:
                try:
                    stores[worker].update_run_status(
                        thread_id, run_id, "in_progress", expected="queued"
                    )
                except ConflictError:
                    continue
                with lock:
                    wins.append((run_id, worker))

        run_threads(claim, len(stores))
        assert sorted(run_id for run_id, _ in wins) == sorted(runs)

    @staticmethod
    def touch_plan(store: ThreadStore, count: int) -> list[workers.Touch]:
        """``count`` threads, each with a message being written, a run and a step."""
        plan = []
        for _ in range(count):
            thread = store.create_thread()
            draft = store.append_message(
                thread.id, Message.assistant("", status="in_progress", run_id="run_1")
            )
            run = store.create_run(thread.id, Run(assistant_id="asst_1"))
            step = store.append_step(thread.id, run.id, step_for(draft.id))
            plan.append((thread.id, draft.id, run.id, step.id))
        return plan

    @staticmethod
    def assert_touched(store: ThreadStore, plan: list[workers.Touch]) -> None:
        """Every worker's change of :func:`workers.touch` survived on every record."""
        for thread_id, message_id, run_id, step_id in plan:
            thread = store.get_thread(thread_id)
            assert thread.metadata == {"by": "0"}
            resources = thread.model_dump(mode="json")["tool_resources"]
            assert resources["code_interpreter"] == workers.TOOL_RESOURCES["code_interpreter"]
            message = store.get_message(thread_id, message_id)
            assert (message.metadata, message.text, message.completed_at) == (
                {"by": "0"},
                "written",
                5,
            )
            run = store.get_run(thread_id, run_id)
            assert (run.status, run.metadata) == (RunStatus.IN_PROGRESS, {"by": "2"})
            assert run.usage is not None
            step = store.get_step(thread_id, run_id, step_id)
            assert (step.status, step.metadata) == (RunStepStatus.COMPLETED, {"by": "2"})
            assert step.usage is not None

    def test_concurrent_appends_from_threads(self, store: ThreadStore, thread: Thread) -> None:
        writers, each = 8, 25

        def write(worker: int) -> None:
            for i in range(each):
                store.append_message(thread.id, text_message(f"{worker}:{i}"))

        run_threads(write, writers)
        texts = [m.text for m in store.iter_messages(thread.id)]
        self.assert_appends(texts, writers, each)
        assert [m.text for m in store.iter_messages(thread.id, order="desc")] == texts[::-1]

    def test_concurrent_appends_from_many_store_objects(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], thread: Thread
    ) -> None:
        """Writers each with a store object of their own: one order, nothing lost or doubled."""
        self.require(store, Capability.SHARED)
        writers, each = 6, 15
        stores = [reopen() for _ in range(writers)]

        def write(worker: int) -> None:
            for i in range(each):
                stores[worker].append_message(thread.id, text_message(f"{worker}:{i}"))

        run_threads(write, writers)
        seen = [[m.text for m in other.iter_messages(thread.id)] for other in [store, *stores]]
        self.assert_appends(seen[0], writers, each)
        assert all(texts == seen[0] for texts in seen), "store objects disagree on the order"

    def test_concurrent_claims_have_one_winner(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
        self.claim_all([store] * 8, thread.id, runs)

    def test_concurrent_claims_from_many_store_objects(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], thread: Thread
    ) -> None:
        self.require(store, Capability.SHARED)
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
        self.claim_all([reopen() for _ in range(6)], thread.id, runs)

    def test_no_lost_updates_between_threads(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(10)]
        usage = {"completion_tokens": 1, "prompt_tokens": 1, "total_tokens": 2}

        def touch(worker: int) -> None:
            for run_id in runs:
                if worker == 0:
                    store.update_run_status(thread.id, run_id, "in_progress")
                elif worker == 1:
                    store.update_run(thread.id, run_id, usage=usage)
                else:
                    store.update_run(thread.id, run_id, expires_at=worker)

        run_threads(touch, 4)
        for run_id in runs:
            run = store.get_run(thread.id, run_id)
            assert run.status is RunStatus.IN_PROGRESS
            assert run.usage is not None
            assert run.expires_at in (2, 3)

    @pytest.mark.parametrize("objects", ["one", "many"])
    def test_no_lost_updates_on_any_record(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], objects: str
    ) -> None:
        """Threads, messages, runs and steps: racing changes of different fields all survive,
        through one store object or (``SHARED``) one per worker."""
        if objects == "many":
            self.require(store, Capability.SHARED)
        plan = self.touch_plan(store, 8)
        stores = [store] * 3 if objects == "one" else [reopen() for _ in range(3)]
        rounds = threading.Barrier(3)

        def work(worker: int) -> None:
            try:
                workers.touch(stores[worker], worker, plan, rounds.wait)
            except BaseException:
                rounds.abort()  # release the others rather than leave them waiting
                raise

        run_threads(work, 3)
        self.assert_touched(store, plan)

    def test_concurrent_appends_from_processes(
        self, store: ThreadStore, store_url: str, thread: Thread
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        processes, each = 4, 20
        workers.run_processes(
            workers.append_messages, [(store_url, thread.id, p, each) for p in range(processes)]
        )
        texts = [m.text for m in store.iter_messages(thread.id)]
        self.assert_appends(texts, processes, each)

    def test_concurrent_claims_from_processes(
        self, store: ThreadStore, store_url: str, thread: Thread
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        results = workers.run_processes(
            workers.claim_run, [(store_url, thread.id, run.id, p) for p in range(4)]
        )
        assert sorted(results) == [False, False, False, True]
        winner = store.get_run(thread.id, run.id)
        assert winner.status is RunStatus.IN_PROGRESS

    def test_no_lost_updates_between_processes(
        self, store: ThreadStore, store_url: str, open_options: dict[str, Any]
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        plan = self.touch_plan(store, 6)
        workers.run_processes(
            workers.touch_at, [(store_url, open_options, w, plan) for w in range(3)]
        )
        self.assert_touched(store, plan)


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(i)`` on ``count`` threads released at once; re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(worker: int) -> None:
        barrier.wait()
        try:
            target(worker)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    if errors:
        raise errors[0]

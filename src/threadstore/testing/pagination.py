"""``PaginationTests``: every list pages the same way, OpenAI's way.

Twenty newest first by default; ``limit`` from 1 to 100 and ``order`` ``asc`` or
``desc``, anything else refused; ``after`` and ``before`` exclude their cursor, must
name an item of the list itself, and not both at once; ``before`` returns the previous
page in the requested order; ``has_more`` is exact at a page boundary; walking the
pages either way sees every item once, for messages, runs, steps and threads; changing
a record never moves it in its list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from threadstore.errors import InvalidRequestError
from threadstore.models import Message, Page, Run, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures, step_for, text_message, walk_pages

__all__ = ["PaginationTests"]


class PaginationTests(ConformanceFixtures):
    """Pagination: limits, orders, cursors and ``has_more`` on every list."""

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

        assert walk_pages(page_at, order, limit=5, backwards=backwards) == expected

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
            assert walk_pages(page_at, order, limit=3) == expected
            assert walk_pages(page_at, order, limit=3, backwards=True) == expected

    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_threads_page_like_messages(self, store: ThreadStore, order: str) -> None:
        ids = sorted(store.create_thread().id for _ in range(7))
        expected = ids if order == "asc" else ids[::-1]
        assert walk_pages(store.list_threads, order, limit=3) == expected
        assert walk_pages(store.list_threads, order, limit=3, backwards=True) == expected

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

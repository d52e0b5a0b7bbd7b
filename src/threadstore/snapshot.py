"""Reading whole lists and whole threads: every page of a list, everything under a thread.

>>> from threadstore import open_store, Message
>>> store = open_store("memory://")
>>> thread = store.create_thread()
>>> _ = store.append_message(thread.id, Message.user("hi"))
>>> [m.text for m in read_thread(store, thread.id).messages]
['hi']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from threadstore.errors import InvalidRequestError, MessageNotFound, RunNotFound
from threadstore.models import Message, Page, Record, Run, RunStep, Thread
from threadstore.protocol import ThreadStore

__all__ = ["Slice", "ThreadSnapshot", "every", "last", "list_holding", "read_thread"]

M = TypeVar("M", bound=Record)
FIRST_PAGE = 10
LAST_PAGE = 100


def page_sizes() -> Iterator[int]:
    """Page sizes for reading a whole list: small first, doubling up to the maximum.

    A page may cost the backend O(limit) even when the list is shorter (object storage
    fetches ``limit`` slots at once), so short lists stay cheap and long ones still
    travel in full pages.
    """
    size = FIRST_PAGE
    while True:
        yield size
        size = min(size * 2, LAST_PAGE)


def every(list_page: Callable[..., Page[M]], *, after: str | None = None) -> Iterator[M]:
    """Every item of a paged list (or every item after ``after``), in append order, one
    page at a time (see :func:`page_sizes`): only one page is held at once.

    ``list_page`` is a ``list_*`` method with its positional IDs bound, e.g.
    ``functools.partial(store.list_steps, thread_id, run_id)``.
    """
    for limit in page_sizes():
        page = list_page(limit=limit, order="asc", after=after)
        yield from page.data
        if not page.has_more or not page.data:
            return
        after = page.last_id


def last(list_page: Callable[..., Page[M]], count: int) -> list[M]:
    """The last ``count`` items of a paged list, in append order."""
    newest: list[M] = []
    before: str | None = None
    while len(newest) < count:
        page = list_page(limit=min(count - len(newest), LAST_PAGE), order="desc", after=before)
        newest += page.data
        if not page.has_more or not page.data:
            break
        before = page.last_id
    return newest[::-1]


class Slice(Generic[M]):
    """Part of a paged list, read a page at a time in append order, never held whole.

    All of it; the first ``limit`` items (after ``after``, if given); or the last
    ``tail``. Once iterated, :attr:`more_after` is the last ID yielded when the list goes
    on past it (the ``after`` of the next slice), else ``None``.
    """

    def __init__(
        self,
        list_page: Callable[..., Page[M]],
        *,
        limit: int | None = None,
        after: str | None = None,
        tail: int | None = None,
    ) -> None:
        if tail is not None and (limit is not None or after is not None):
            raise InvalidRequestError("a tail takes neither a limit nor an after cursor")
        self._list_page = list_page
        self.limit, self.after, self.tail = limit, after, tail
        self.more_after: str | None = None

    def __iter__(self) -> Iterator[M]:
        if self.tail is not None:
            yield from last(self._list_page, self.tail)
            return
        shown: str | None = None
        for count, item in enumerate(every(self._list_page, after=self.after)):
            if count == self.limit:
                self.more_after = shown
                return
            yield item
            shown = item.id


def list_holding(store: ThreadStore, thread_id: str, item_id: str) -> str:
    """Which list of the thread holds ``item_id``: ``"messages"`` or ``"runs"``."""
    try:
        store.get_message(thread_id, item_id)
    except MessageNotFound:
        pass
    else:
        return "messages"
    try:
        store.get_run(thread_id, item_id)
    except RunNotFound:
        raise InvalidRequestError(
            f"{item_id!r} is neither a message nor a run of thread {thread_id!r}"
        ) from None
    return "runs"


@dataclass(frozen=True)
class ThreadSnapshot:
    """A thread with its messages, runs and steps, each list in append order.

    ``steps`` holds the steps of every run, run by run.
    """

    thread: Thread
    messages: list[Message]
    runs: list[Run]
    steps: list[RunStep]

    def to_json(self) -> dict[str, object]:
        """The wire objects, keyed ``thread``, ``messages``, ``runs`` and ``steps``."""
        return {
            "thread": self.thread.model_dump(mode="json"),
            "messages": [message.model_dump(mode="json") for message in self.messages],
            "runs": [run.model_dump(mode="json") for run in self.runs],
            "steps": [step.model_dump(mode="json") for step in self.steps],
        }


def read_thread(store: ThreadStore, thread_id: str) -> ThreadSnapshot:
    """Read one thread and everything under it (``ThreadNotFound`` if it does not exist)."""
    thread = store.get_thread(thread_id)
    messages = list(every(partial(store.list_messages, thread_id)))
    runs = list(every(partial(store.list_runs, thread_id)))
    steps = [step for run in runs for step in every(partial(store.list_steps, thread_id, run.id))]
    return ThreadSnapshot(thread, messages, runs, steps)

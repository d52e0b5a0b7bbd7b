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
from typing import TypeVar

from threadstore.models import Message, Page, Run, RunStep, Thread, WireModel
from threadstore.protocol import ThreadStore

__all__ = ["ThreadSnapshot", "every", "read_thread"]

M = TypeVar("M", bound=WireModel)
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


def every(list_page: Callable[..., Page[M]]) -> Iterator[M]:
    """Every item of a paged list, in append order, one page at a time (see
    :func:`page_sizes`).

    ``list_page`` is a ``list_*`` method with its positional IDs bound, e.g.
    ``functools.partial(store.list_steps, thread_id, run_id)``.
    """
    after: str | None = None
    for limit in page_sizes():
        page = list_page(limit=limit, order="asc", after=after)
        yield from page.data
        if not page.has_more or not page.data:
            return
        after = page.last_id


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

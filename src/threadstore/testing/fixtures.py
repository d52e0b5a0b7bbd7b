"""``ConformanceFixtures``: what every area of the suite stands on.

The fixtures a backend overrides to say where a fresh store lives and how to open it
again, and the few helpers more than one area uses. Every area class derives from it,
so a test class that subclasses one area alone has all it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings

from threadstore.models import Message, Page, RunStep, Thread
from threadstore.protocol import Capability, ThreadStore
from threadstore.registry import open_store
from threadstore.testing import stateful
from threadstore.url import StoreURL

__all__ = ["ConformanceFixtures", "step_for", "text_message", "walk_pages"]


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


def walk_pages(
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


class ConformanceFixtures:
    """The fixtures of the suite. Override ``store_url``; nothing else is required."""

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

"""``ThreadStoreSession``: OpenAI Agents SDK session memory in any threadstore.

The Agents SDK (``pip install "threadstore[agents]"``) keeps a run's history in a
*session*. This one keeps it in a conversation of any store URL, so history survives
restarts and is shared by every process and machine the URL reaches::

    from agents import Agent, Runner
    from threadstore.integrations.agents import ThreadStoreSession

    session = ThreadStoreSession("conv_user42", "file:///var/lib/app/store")
    await Runner.run(agent, "Hello", session=session)

``session_id`` names the conversation (a threadstore ID); the first ``add_items``
creates it. Items are stored as Conversations API items, so the store's listing, the
CLI and a Conversations server show the same history. ``get_items`` returns them in
the Responses API's input form, which the Runner sends to the model as they are: the
stored item's JSON, without the ``id`` of a user, system or developer message (an input
message has none). An item the Runner made comes back exactly as it was; a short input
message (``{"role": "user", "content": "hi"}``) comes back as the full message it was
stored as.

Item IDs: an item keeps the ``id`` it came with, unless that cannot name an item of the
conversation -- the SDK's placeholder ``__fake_id__`` (from a provider that gives no
IDs), a string that is no threadstore ID, or an ID the conversation or the batch already
holds, as a scripted or non-OpenAI model may repeat one. Such an item gets a new ID of
its type, as an item without one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from agents.items import TResponseInputItem
from agents.memory.session_settings import SessionSettings, resolve_session_limit
from pydantic import BaseModel

from threadstore.aio import AsyncThreadStore
from threadstore.errors import AlreadyExistsError, ConversationNotFound, ItemNotFound
from threadstore.ids import ID_PATTERN, check_id
from threadstore.models import Conversation, ConversationItem, MessageItem
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.url import StoreURL

__all__ = ["ThreadStoreSession"]

T = TypeVar("T")

_UNNAMED_ROLES = frozenset({"user", "system", "developer"})
"""Roles of the Responses API's input messages, which carry no ``id``."""

_PAGE = 100
_ATTEMPTS = 3
"""Tries of a batch that meets a missing conversation or a taken item ID, besides the
last one, whose error is the caller's."""


class ThreadStoreSession:
    """An Agents SDK ``Session`` kept in the conversation ``session_id`` of a store.

    ``url_or_store`` is a store URL (opened here, with ``options``, and closed by
    :meth:`close`), or a store the caller opened and closes (a ``ThreadStore`` or an
    ``AsyncThreadStore``). ``session_settings`` (or its dict) gives the default
    ``limit``. Each call runs on a worker thread of the event loop (asyncio's default
    executor, as the SDK's own sessions use); a write that has begun completes before its
    caller's cancellation takes effect. After :meth:`close`, every call raises
    ``RuntimeError``.
    """

    def __init__(
        self,
        session_id: str,
        url_or_store: str | os.PathLike[str] | StoreURL | ThreadStore | AsyncThreadStore,
        *,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.session_id = check_id(session_id, "session id")
        if isinstance(session_settings, dict):
            session_settings = SessionSettings(**session_settings)
        self.session_settings: SessionSettings | None = session_settings or SessionSettings()
        self._closed = False
        self._owned = isinstance(url_or_store, str | os.PathLike | StoreURL)
        if isinstance(url_or_store, str | os.PathLike | StoreURL):
            self.store: ThreadStore = open_store(url_or_store, **options)
        elif options:
            raise TypeError("options are for a URL; this store is open already")
        elif isinstance(url_or_store, AsyncThreadStore):
            self.store = url_or_store.sync_store
        else:
            self.store = url_or_store

    def __repr__(self) -> str:
        return f"<ThreadStoreSession {self.session_id} in {self.store!r}>"

    async def _run(self, call: Callable[[], T], *, write: bool = True) -> T:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        work = asyncio.ensure_future(asyncio.to_thread(call))
        if not write:
            return await work
        return await _completed(work)

    # --- the Session protocol -------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The latest ``limit`` items (all when None), oldest first."""
        count = resolve_session_limit(limit, self.session_settings)
        if count is not None and (isinstance(count, bool) or count < 0):
            raise ValueError(f"limit must be None or a count of items, got {count!r}")
        if count == 0:
            return []
        items = await self._run(lambda: self._latest(count), write=False)
        return [_as_input(item) for item in items]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Add ``items`` at the end of the history, as one batch: all of them or none."""
        batch = _as_stored(items)
        await self._run(lambda: self._add(batch) if batch else None)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the newest item and return it (None if the history is empty).

        Atomic: two callers popping at once, in any processes, never get the same item.
        """
        item = await self._run(self._pop)
        return None if item is None else _as_input(item)

    async def clear_session(self) -> None:
        """Delete the conversation and every item of it."""
        await self._run(self._clear)

    def close(self) -> None:
        """End the session; close the store if the session opened it from a URL."""
        if self._owned and not self._closed:
            self.store.close()
        self._closed = True

    # --- on a worker thread ---------------------------------------------------------

    def _latest(self, count: int | None) -> list[ConversationItem]:
        try:
            if count is None:
                return list(self.store.iter_items(self.session_id))
            newest: list[ConversationItem] = []
            after = None
            while len(newest) < count:
                want = min(_PAGE, count - len(newest))
                page = self.store.list_items(self.session_id, limit=want, after=after)
                newest.extend(page.data)
                if not page.has_more:
                    break
                after = page.last_id
        except ConversationNotFound:
            return []
        return newest[::-1]

    def _add(self, batch: list[dict[str, Any]]) -> None:
        for _ in range(_ATTEMPTS):
            try:
                self.store.add_items(self.session_id, batch)
                return
            except ConversationNotFound:
                with contextlib.suppress(AlreadyExistsError):  # another writer made it first
                    self.store.create_conversation(Conversation(id=self.session_id))
            except AlreadyExistsError:
                batch = [self._unclaimed(item) for item in batch]
        self.store.add_items(self.session_id, batch)

    def _unclaimed(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item``, without its ``id`` if the conversation has an item of that ID."""
        if "id" not in item:
            return item
        try:
            self.store.get_item(self.session_id, item["id"])
        except (ItemNotFound, ConversationNotFound):
            return item
        return _without_id(item)

    def _pop(self) -> ConversationItem | None:
        while True:
            try:
                newest = self.store.list_items(self.session_id, limit=1).data
                if not newest:
                    return None
                self.store.delete_item(self.session_id, newest[0].id)
            except ConversationNotFound:
                return None
            except ItemNotFound:
                continue  # another caller popped it: try the next one
            return newest[0]

    def _clear(self) -> None:
        with contextlib.suppress(ConversationNotFound):
            self.store.delete_conversation(self.session_id)


async def _completed(work: asyncio.Future[T]) -> T:
    """The outcome of a write; a cancel that comes meanwhile waits for it, then is raised."""
    cancelled: asyncio.CancelledError | None = None
    while not work.done():
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError as exc:
            cancelled = cancelled or exc
    if cancelled is not None:
        raise cancelled
    return work.result()


def _as_stored(items: Sequence[TResponseInputItem]) -> list[dict[str, Any]]:
    """SDK input items as the JSON of conversation items (the store parses each by type).

    An ``id`` that cannot name an item (the SDK's placeholder, a string that is no
    threadstore ID, one the batch already gave) is left for the store to make.
    """
    batch: list[dict[str, Any]] = []
    given: set[str] = set()
    for item in items:
        data: dict[str, Any] = (
            item.model_dump(mode="json", by_alias=True, exclude_unset=True)
            if isinstance(item, BaseModel)  # the SDK's models, given where dicts belong
            else dict(item)
        )
        item_id = data.get("id")
        if isinstance(item_id, str) and item_id not in given and ID_PATTERN.fullmatch(item_id):
            given.add(item_id)
        else:
            data = _without_id(data)
        batch.append(data)
    return batch


def _without_id(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "id"}


def _as_input(item: ConversationItem) -> TResponseInputItem:
    """A stored item as the Runner takes it as input."""
    data = item.model_dump(mode="json")
    if isinstance(item, MessageItem) and item.role in _UNNAMED_ROLES:
        del data["id"]
    return cast(TResponseInputItem, data)

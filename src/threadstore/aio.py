"""``AsyncThreadStore``: every operation of any sync :class:`ThreadStore` as a coroutine.

The wrapped store's calls run on worker threads, so an event loop (asyncio or trio, through
anyio) never blocks on storage. The pool is the store's own: a ``CapacityLimiter`` of
``max_workers`` tokens, apart from the framework's default one, so the store neither starves
the host application's sync endpoints nor waits behind them.

Cancellation: a write that a worker has picked up runs to completion; the caller's
cancellation takes effect once it returns, so no write is ever left half done. A write still
waiting for a token when cancelled does not run at all. A cancelled read returns control at
once; its worker finishes in the background, still holding its token, and its result is
dropped.

    >>> import anyio
    >>> from threadstore import Message
    >>> from threadstore.aio import open_store
    >>> async def main() -> str:
    ...     async with open_store("memory://") as store:
    ...         thread = await store.create_thread()
    ...         message = await store.append_message(thread.id, Message.user("hi"))
    ...         return message.text
    >>> anyio.run(main)
    'hi'
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import anyio
from anyio import from_thread, to_thread
from pydantic import BaseModel

from threadstore import registry
from threadstore.models import ConversationItem, Message, Page
from threadstore.protocol import Capability, Order, ThreadStore
from threadstore.url import StoreURL

__all__ = ["DEFAULT_MAX_WORKERS", "AsyncThreadStore", "open_store"]

DEFAULT_MAX_WORKERS = 16
"""Worker threads a store uses at most, unless told otherwise."""

ITER_PAGE = 100
"""Records ``iter_messages`` and ``iter_items`` fetch per trip to a worker: the largest
page a store serves."""

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T", bound=BaseModel)


class _Lease:
    """One token of the store's pool for a read, returned once the read has really finished.

    anyio on asyncio gives an abandoned call's token back at once, which would let
    cancelled reads pile up threads beyond the limit; a lease keeps the bound exact.
    Whichever of the caller and the worker leaves last returns the token.
    """

    def __init__(self, limiter: anyio.CapacityLimiter, carrier: anyio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._carrier = carrier
        self._lock = threading.Lock()
        self._begun = False
        self._out: set[str] = set()

    async def run(self, call: Callable[[], R]) -> R:
        await self._limiter.acquire_on_behalf_of(self)
        try:
            return await to_thread.run_sync(
                self._work, call, abandon_on_cancel=True, limiter=self._carrier
            )
        finally:
            if self._last_out("caller"):
                self._limiter.release_on_behalf_of(self)

    def _work(self, call: Callable[[], R]) -> R:
        if not self._begin():
            raise _Abandoned
        try:
            return call()
        finally:
            if self._last_out("worker"):
                self._release_from_worker()

    def _begin(self) -> bool:
        """Mark the call begun in its worker, unless its caller has gone already."""
        with self._lock:
            self._begun = "caller" not in self._out
            return self._begun

    def _last_out(self, party: str) -> bool:
        """Record that ``party`` is done with the call; whether the token is now free."""
        with self._lock:
            self._out.add(party)
            return not self._begun or self._out == {"caller", "worker"}

    def _release_from_worker(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has ended, and its limiter with it
            from_thread.run_sync(self._limiter.release_on_behalf_of, self)


class _Abandoned(Exception):
    """Raised in a worker for a call its caller gave up on before it began; nobody sees it."""


def _read(
    op: Callable[Concatenate[ThreadStore, P], R],
) -> Callable[Concatenate[AsyncThreadStore, P], Coroutine[Any, Any, R]]:
    """The async form of a read: cancelling the caller abandons the call."""
    return _offload(op, abandon_on_cancel=True)


def _write(
    op: Callable[Concatenate[ThreadStore, P], R],
) -> Callable[Concatenate[AsyncThreadStore, P], Coroutine[Any, Any, R]]:
    """The async form of a write: once started, it finishes before the caller sees a cancel."""
    return _offload(op, abandon_on_cancel=False)


def _offload(
    op: Callable[Concatenate[ThreadStore, P], R], *, abandon_on_cancel: bool
) -> Callable[Concatenate[AsyncThreadStore, P], Coroutine[Any, Any, R]]:
    name = op.__name__

    async def call(self: AsyncThreadStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        method: Callable[P, R] = getattr(self.sync_store, name)
        return await self._run(
            functools.partial(method, *args, **kwargs), abandon_on_cancel=abandon_on_cancel
        )

    functools.update_wrapper(call, op, assigned=("__name__",))
    call.__qualname__ = f"AsyncThreadStore.{name}"
    call.__doc__ = f"Await ``ThreadStore.{name}`` on a worker thread ({_KIND[abandon_on_cancel]})."
    return call


_KIND = {True: "a read: a cancel abandons it", False: "a write: once begun, it completes"}


class AsyncThreadStore:
    """Any sync :class:`ThreadStore`, offered as coroutines run on a bounded worker pool.

    Every operation keeps the sync signature and returns its result when awaited;
    ``iter_messages`` and ``iter_items`` are async iterators. ``async with`` (or
    :meth:`aclose`) closes the wrapped store. Use one from one event loop at a time (loops
    may follow one another, as in tests), all of one async library: its pool is made for
    the library that first uses it.
    """

    capabilities: frozenset[Capability] = frozenset()
    """The wrapped store's; the class itself promises nothing."""

    def __init__(self, store: ThreadStore, *, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self.sync_store = store
        self.capabilities = store.capabilities
        self.max_workers = _checked_workers(max_workers)
        self._limiter = anyio.CapacityLimiter(max_workers)
        # Reads run under a lease on _limiter; to_thread still needs a limiter for them,
        # and an unbounded one of our own keeps them off the framework's default pool.
        self._carrier = anyio.CapacityLimiter(math.inf)

    def __repr__(self) -> str:
        return f"<AsyncThreadStore over {self.sync_store!r}>"

    @property
    def busy_workers(self) -> int:
        """Calls holding a worker now, abandoned reads still running included."""
        return int(self._limiter.borrowed_tokens)

    async def _run(self, call: Callable[[], R], *, abandon_on_cancel: bool) -> R:
        if abandon_on_cancel:
            return await _Lease(self._limiter, self._carrier).run(call)
        # Not abandoned, so anyio holds the token until the call returns: the bound is exact.
        return await to_thread.run_sync(call, limiter=self._limiter)

    # threads
    create_thread = _write(ThreadStore.create_thread)
    get_thread = _read(ThreadStore.get_thread)
    update_thread = _write(ThreadStore.update_thread)
    delete_thread = _write(ThreadStore.delete_thread)
    list_threads = _read(ThreadStore.list_threads)
    list_thread_ids = _read(ThreadStore.list_thread_ids)

    # messages
    append_message = _write(ThreadStore.append_message)
    append_messages = _write(ThreadStore.append_messages)
    get_message = _read(ThreadStore.get_message)
    update_message = _write(ThreadStore.update_message)
    delete_message = _write(ThreadStore.delete_message)
    list_messages = _read(ThreadStore.list_messages)

    async def iter_messages(self, thread_id: str, order: Order = "asc") -> AsyncIterator[Message]:
        """Every message of the thread, one ``list_messages`` page per trip to a worker."""
        async for message in _pages(self.list_messages, thread_id, order):
            yield message

    # runs
    create_run = _write(ThreadStore.create_run)
    get_run = _read(ThreadStore.get_run)
    update_run = _write(ThreadStore.update_run)
    update_run_status = _write(ThreadStore.update_run_status)
    force_update_run_status = _write(ThreadStore.force_update_run_status)
    list_runs = _read(ThreadStore.list_runs)

    # run steps
    append_step = _write(ThreadStore.append_step)
    get_step = _read(ThreadStore.get_step)
    update_step_status = _write(ThreadStore.update_step_status)
    update_step = _write(ThreadStore.update_step)
    list_steps = _read(ThreadStore.list_steps)

    # conversations
    create_conversation = _write(ThreadStore.create_conversation)
    get_conversation = _read(ThreadStore.get_conversation)
    update_conversation = _write(ThreadStore.update_conversation)
    delete_conversation = _write(ThreadStore.delete_conversation)
    list_conversations = _read(ThreadStore.list_conversations)

    # conversation items
    add_items = _write(ThreadStore.add_items)
    get_item = _read(ThreadStore.get_item)
    delete_item = _write(ThreadStore.delete_item)
    list_items = _read(ThreadStore.list_items)

    async def iter_items(
        self, conversation_id: str, order: Order = "asc"
    ) -> AsyncIterator[ConversationItem]:
        """Every item of the conversation, one ``list_items`` page per trip to a worker."""
        async for item in _pages(self.list_items, conversation_id, order):
            yield item

    # lifecycle
    async def aclose(self) -> None:
        """Close the wrapped store on a worker; shielded, so a cancel cannot leave it open."""
        with anyio.CancelScope(shield=True):
            await self._run(self.sync_store.close, abandon_on_cancel=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _pages(
    list_page: Callable[..., Coroutine[Any, Any, Page[T]]], owner_id: str, order: Order
) -> AsyncIterator[T]:
    """Every record of one list, a page per trip to a worker.

    Cursor paging holds nothing between pages, so leaving the loop early leaves nothing
    open; a cancel during a fetch abandons it like any read.
    """
    after: str | None = None
    while True:
        page = await list_page(owner_id, limit=ITER_PAGE, order=order, after=after)
        for record in page.data:
            yield record
        if not page.has_more:
            return
        after = page.last_id


def open_store(
    url: str | os.PathLike[str] | StoreURL | None = None,
    *,
    require: Collection[Capability | str] = (),
    max_workers: int = DEFAULT_MAX_WORKERS,
    **options: Any,
) -> AsyncThreadStore:
    """Open ``url`` like :func:`threadstore.open_store` and wrap it in an AsyncThreadStore.

    A plain function, not a coroutine: opening happens in the calling thread, as at an
    application's start-up; every later call runs on the store's ``max_workers`` threads.
    """
    _checked_workers(max_workers)  # before opening: a bad argument must not leave a store open
    store = registry.open_store(url, require=require, **options)
    native = getattr(store, "async_twin", None)  # a backend with an async path of its own
    if native is not None:
        twin: AsyncThreadStore = native(max_workers=max_workers)
        return twin
    return AsyncThreadStore(store, max_workers=max_workers)


def _checked_workers(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_workers must be a positive integer, got {value!r}")
    return value

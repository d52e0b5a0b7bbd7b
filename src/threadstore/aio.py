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
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Generator
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import anyio
from anyio import from_thread, to_thread

from threadstore import registry
from threadstore.errors import BackendError, BackendNotFoundError
from threadstore.models import ConversationItem, Message, Page, Record
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
T = TypeVar("T", bound=Record)


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
        def on(store: ThreadStore) -> R:
            method: Callable[P, R] = getattr(store, name)
            return method(*args, **kwargs)

        return await self._run(on, abandon_on_cancel=abandon_on_cancel)

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
    """The wrapped store's, once it is open; the class itself promises nothing."""
    _store: ThreadStore | None
    _opener: Callable[[], ThreadStore] | None

    def __init__(self, store: ThreadStore, *, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self._prepare(max_workers)
        self._store = store
        self.capabilities = store.capabilities

    @classmethod
    def _opening(cls, opener: Callable[[], ThreadStore], max_workers: int) -> Self:
        """A store that ``opener`` opens on a worker thread, when first awaited or used."""
        unopened = cls.__new__(cls)
        unopened._prepare(max_workers)
        unopened._opener = opener
        return unopened

    def _prepare(self, max_workers: int) -> None:
        self.max_workers = _checked_workers(max_workers)
        self._store = None
        self._opener = None
        self._open_lock = threading.Lock()
        self._closed = False
        self._limiter = anyio.CapacityLimiter(max_workers)
        # Reads run under a lease on _limiter; to_thread still needs a limiter for them,
        # and an unbounded one of our own keeps them off the framework's default pool.
        self._carrier = anyio.CapacityLimiter(math.inf)

    def __repr__(self) -> str:
        inside = repr(self._store) if self._store is not None else "a store not opened yet"
        return f"<AsyncThreadStore over {inside}>"

    @property
    def sync_store(self) -> ThreadStore:
        """The wrapped sync store (once opened: ``await`` the store or use ``async with``)."""
        if self._store is None:
            raise RuntimeError(
                "this AsyncThreadStore is not open yet: `await` it, or use `async with`, "
                "to open it off the event loop"
            )
        return self._store

    @property
    def busy_workers(self) -> int:
        """Calls holding a worker now, abandoned reads still running included."""
        return int(self._limiter.borrowed_tokens)

    async def _opened(self) -> ThreadStore:
        """The wrapped store, opened on a worker first if need be (a cancel waits for it)."""
        if self._store is not None:
            return self._store
        return await to_thread.run_sync(self._open_here, limiter=self._limiter)

    def _open_here(self) -> ThreadStore:
        with self._open_lock:  # callers racing to be first open it once
            if self._store is None:
                if self._closed or self._opener is None:
                    raise BackendError(f"{self!r} is closed")
                self._store = self._opener()
                self.capabilities = self._store.capabilities
            return self._store

    def __await__(self) -> Generator[Any, None, Self]:
        """``store = await aio.open_store(url)``: open it (off the loop) and return it."""
        return self._ready().__await__()

    async def _ready(self) -> Self:
        await self._opened()
        return self

    async def _run(self, call: Callable[[ThreadStore], R], *, abandon_on_cancel: bool) -> R:
        store = await self._opened()
        work = functools.partial(call, store)
        if abandon_on_cancel:
            return await _Lease(self._limiter, self._carrier).run(work)
        # Not abandoned, so anyio holds the token until the call returns: the bound is exact.
        return await to_thread.run_sync(work, limiter=self._limiter)

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
            with self._open_lock:
                self._closed = True
                store = self._store
            if store is not None:
                await self._close(store)

    async def _close(self, store: ThreadStore) -> None:
        """Close the wrapped store (on a worker: closing may wait on I/O)."""
        await to_thread.run_sync(store.close, limiter=self._limiter)

    async def __aenter__(self) -> Self:
        await self._opened()
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
    """Open ``url`` like :func:`threadstore.open_store`, as an :class:`AsyncThreadStore`.

    A plain function that does no I/O: the store is opened on a worker thread (an S3
    open runs a probe of about a second; the event loop keeps serving meanwhile) by
    ``async with aio.open_store(url) as store``, by ``store = await
    aio.open_store(url)``, or else by the first operation. A malformed URL or argument
    is refused at once; a store that cannot open fails where it is opened.
    """
    _checked_workers(max_workers)  # before opening: a bad argument must not leave a store open
    parsed = StoreURL.parse(url) if url is not None else None
    wanted = [Capability(c) for c in require]
    opener = functools.partial(registry.open_store, parsed, require=wanted, **options)
    return _async_class(parsed)._opening(opener, max_workers)


def _async_class(url: StoreURL | None) -> type[AsyncThreadStore]:
    """The backend's own async store class, if it has one (``async_store_class``), else
    the thread adapter. Unknown schemes fail later, where the store is opened."""
    if url is None:
        return AsyncThreadStore
    try:
        backend = registry.backend_class(url.scheme)
    except BackendNotFoundError:
        return AsyncThreadStore
    native: Callable[[], type[AsyncThreadStore]] | None = getattr(
        backend, "async_store_class", None
    )
    return AsyncThreadStore if native is None else native()


def _checked_workers(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_workers must be a positive integer, got {value!r}")
    return value

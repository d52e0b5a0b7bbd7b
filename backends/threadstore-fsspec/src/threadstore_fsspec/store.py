"""``s3://bucket/prefix``: threads, messages, runs and steps in chunk objects in a bucket.

Many processes on many machines may share one prefix. The storage hooks map onto the
list protocol of :mod:`threadstore_fsspec.lists` (the same code for every kind); this
module opens a store (options, the marker, the probe) and runs the protocol's
coroutines on s3fs's event loop. The layout and each protocol, with its cost in
requests, are in docs/design.md §6.3.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar, cast

from fsspec.asyn import sync  # type: ignore[import-untyped]

from threadstore.backend import (
    BackendError,
    BaseThreadStore,
    Capability,
    Finding,
    Kind,
    Record,
    Scope,
    StoreURL,
    decode_object,
)
from threadstore_fsspec.check import StorageChecker
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.legacy import migrate, refuse_legacy
from threadstore_fsspec.lists import Gone, Lists, Target, dump
from threadstore_fsspec.marker import Marker
from threadstore_fsspec.objects import S3Objects
from threadstore_fsspec.options import (
    FsspecOptions,
    credentials,
    open_objects,
    store_root,
)
from threadstore_fsspec.probe import check_client, probe
from threadstore_fsspec.redact import hide_in_library_logs
from threadstore_fsspec.rounds import Measurement, request_depth

__all__ = ["FsspecOptions", "FsspecThreadStore", "Measurement"]

R = TypeVar("R", bound=Record)
T = TypeVar("T")


class FsspecThreadStore(BaseThreadStore):
    """A thread store in an S3 bucket (via s3fs), safe for many writers on many hosts."""

    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED,
            Capability.MULTI_PROCESS,
            Capability.MULTI_HOST,
            Capability.DURABLE,
        }
    )

    def __init__(
        self, objects: S3Objects, layout: Layout, shown_as: str, probing: bool | str = True
    ) -> None:
        self._objects = objects
        self._layout = layout
        self._shown_as = shown_as
        self._probing = probing
        self._marker = Marker(objects, layout, shown_as)
        self._lists = Lists(objects, layout, self._marker)
        self._writable = False
        self._closed = False
        self._measurement: Measurement | None = None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        """Open the store: one request (the marker) once its prefix was probed; the
        probe runs before the first write otherwise, so reading never writes."""
        store = cls._made(url, options)
        try:
            store._run(store._open)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def migrate_schema(cls, url: StoreURL, **options: Any) -> tuple[int | None, int]:
        """Bring the prefix to the current layout (``threadstore migrate URL``): a 0.1
        prefix is rewritten in place (stop its writers first); an empty one gets its
        marker (after the probe). Returns the layout version before and after."""
        store = cls._made(url, options)
        try:
            return store._run(migrate, store._objects, store._layout, store._marker, store._probing)
        finally:
            store.close()

    @classmethod
    def _made(cls, url: StoreURL, options: dict[str, Any]) -> Self:
        """A store object for ``url``, not opened yet (no request made)."""
        opts = url.options(FsspecOptions, options)
        bucket, root = store_root(url, opts)
        hide_in_library_logs(*credentials(url, opts))
        objects = open_objects(bucket, opts)
        return cls(objects, Layout(root), url.render(), opts.check_conditional_writes)

    async def _open(self) -> None:
        check_client(await self._objects.client())
        if await self._marker.read() is None:
            await refuse_legacy(self._objects, self._layout, self._shown_as)
        if self._probing == "always":
            await self._marker.create(await probe(self._objects, self._layout))
            self._writable = True

    def _writing(self) -> None:
        """Before this object's first write: the marker exists, and the store's conditional
        writes were proved, by this probe or one the marker records."""
        if not self._writable:
            self._run(self._prepare_writes)

    async def _prepare_writes(self) -> None:
        if self._marker.probed or self._probing is False:
            if self._marker.blob is None:
                await self._marker.create(None)
        else:
            await self._marker.create(await probe(self._objects, self._layout))
        self._writable = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._shown_as}>"

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            sync(self._objects.loop, self._objects.close)

    def check_storage(self, repair: bool) -> list[Finding]:
        """What only this backend can see: claims, tail pointers, orphaned objects (see
        :mod:`threadstore_fsspec.check`). ``repair=True`` fixes what loses no
        acknowledged write and marks it ``repaired``. Meant for a quiet store."""
        checker = StorageChecker(self._objects, self._lists, self._shown_as, repair)
        if repair:
            self._writing()
        return self._run(checker.run)

    # --- running coroutines on s3fs's event loop ----------------------------------------

    def _run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self._closed:
            raise BackendError(f"the store {self._shown_as} is closed")
        measurement = self._measurement
        if measurement is None:
            return cast(T, sync(self._objects.loop, function, *args))

        async def measured() -> T:
            cell = request_depth()
            try:
                return await function(*args)
            finally:
                measurement.round_trips.append(cell[0])

        return cast(T, sync(self._objects.loop, measured))

    @contextmanager
    def measure(self) -> Iterator[Measurement]:
        """Count the requests (as sent on the wire) and sequential round trips of calls made
        inside the block, from one thread. For benchmarks and tests of the cost model."""
        measurement = Measurement()
        client = sync(self._objects.loop, self._objects.client)

        def count(**_: Any) -> None:
            measurement.requests += 1

        client.meta.events.register("before-send.s3", count)
        self._measurement = measurement
        try:
            yield measurement
        finally:
            self._measurement = None
            client.meta.events.unregister("before-send.s3", count)

    def _within(self, kind: Kind[Any], scope: Scope, step: Callable[[Target], Awaitable[T]]) -> T:
        """Run ``step`` on the list of ``kind`` in ``scope``; a missing owner is its
        not-found error."""
        try:
            return cast(T, self._run(self._lists.within, kind, scope, step))
        except Gone as gone:
            raise kind.owner_missing(scope, gone.level) from None

    def _decode(self, kind: Kind[R], entry: dict[str, Any]) -> R:
        return decode_object(kind, entry["record"], f"{self._shown_as} ({entry['id']})")

    # --- the storage hooks --------------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        self._writing()
        self._within(kind, scope, lambda target: self._lists.append(target, records))

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        entry = self._within(kind, scope, lambda target: self._lists.fetch(target, record_id))
        if entry is None:
            raise kind.missing(record_id)
        return self._decode(kind, entry)

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        self._writing()
        made: list[R] = []

        def replace(entry: dict[str, Any]) -> dict[str, Any]:
            made.append(change(self._decode(kind, entry)))
            return {**entry, "record": dump(made[-1])}

        changed = self._within(
            kind, scope, lambda target: self._lists.modify(target, record_id, replace)
        )
        if changed is None:
            raise kind.missing(record_id)
        return made[-1]

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        self._writing()

        async def step(target: Target) -> bool:
            removed = await self._lists.modify(target, record_id, lambda entry: None)
            if removed is None:
                return False
            if kind.children:
                await self._lists.remove_owned(target, removed[0])
            return True

        if not self._within(kind, scope, step):
            raise kind.missing(record_id)

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        entries = self._within(
            kind, scope, lambda target: self._lists.scan(target, cursor, descending, count)
        )
        return [self._decode(kind, entry) for entry in entries]

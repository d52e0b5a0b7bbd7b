"""``s3://bucket/prefix``: threads, messages, runs and steps as objects in a bucket.

Many processes on many machines may share one prefix. Appends are exactly-once and
gap-free through create-only PUTs of zero-padded sequence slots; updates are atomic
through If-Match compare-and-set; caller IDs map to slots through create-only claims.
The key layout and each protocol, with its cost in requests, are in docs/design.md §6.3.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar, cast

import fsspec  # type: ignore[import-untyped]
import s3fs  # type: ignore[import-untyped]
from fsspec.asyn import sync  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from threadstore.backend import (
    AlreadyExistsError,
    BackendError,
    BaseThreadStore,
    Capability,
    CursorNotFound,
    Finding,
    InvalidRequestError,
    Kind,
    Record,
    Scope,
    StoreURL,
    decode_object,
)
from threadstore_fsspec.check import StorageChecker
from threadstore_fsspec.objects import (
    Blob,
    NoResendSession,
    S3Objects,
    both,
    new_token,
    request_depth,
)
from threadstore_fsspec.redact import hide_in_library_logs

__all__ = ["FsspecOptions", "FsspecThreadStore", "Measurement"]

R = TypeVar("R", bound=Record)
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

LOOKAHEAD = 4
"""Slots read past the head hint on a newest-first page: covers appends whose hint is late."""
_PLACEMENT_ATTEMPTS = 1000
_CAS_ATTEMPTS = 1000
_CACHE_ENTRIES = 10_000
_APPEND_LOCKS: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)
"""One lock per list for every store object in the process (all run on s3fs's one loop):
appends from one process queue up instead of colliding on the head slot."""


class FsspecOptions(BaseModel):
    """Options of ``s3://`` URLs, from the query string or as keywords (keywords win)."""

    model_config = ConfigDict(extra="forbid")

    endpoint_url: str | None = None
    key: SecretStr | None = None
    secret: SecretStr | None = None
    token: SecretStr | None = None
    region: str | None = None
    profile: str | None = None
    anon: bool = False
    client_kwargs: dict[str, Any] = Field(default_factory=dict)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    max_pool_connections: int = Field(64, ge=1)
    max_attempts: int = Field(6, ge=1, le=20)
    """Attempts per request on throttling, 5xx and timeouts (with jittered backoff)."""
    check_conditional_writes: bool = True
    """The start-up probe. ``false`` skips it: only for a store known to honour conditions."""
    protocol: str | None = None
    """The fsspec protocol; by default the URL's (``fsspec+PROTO://``, or the scheme)."""


class _Recent(Generic[K, V]):
    """A bounded map that forgets the least recently used entry (hints only, never truth)."""

    def __init__(self, size: int = _CACHE_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def set(self, key: K, value: V) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def drop(self, key: K) -> None:
        self.entries.pop(key, None)


class _ScopeGone(Exception):
    """An owner of the scope does not exist: the thread (level 0), or the run (level 1)."""

    def __init__(self, level: int = 0) -> None:
        self.level = level


@dataclass
class Measurement:
    """Requests sent on the wire, and per call the longest chain of them waited for in turn."""

    requests: int = 0
    round_trips: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Layout:
    """Where each object lives, below the store's root (``prefix/`` or nothing)."""

    root: str

    @property
    def threads(self) -> str:
        return f"{self.root}threads/"

    def thread(self, thread_id: str) -> str:
        return f"{self.threads}{thread_id}"

    def data(self, thread_id: str, generation: str | None = None) -> str:
        base = f"{self.root}thread-data/{thread_id}/"
        return base if generation is None else f"{base}{generation}/"

    def log(self, kind: Kind[Any], scope: Scope, generation: str) -> str:
        """The prefix of one ordered list: a thread's messages or runs, a run's steps."""
        below = "".join(f"{owner}/" for owner in scope[1:])
        return f"{self.data(scope[0], generation)}{kind.name}/{below}"

    @staticmethod
    def held(log: str, kind: Kind[Any], record_id: str) -> list[str]:
        """The prefixes of the lists a record in ``log`` holds (a run's steps)."""
        base = log.removesuffix(f"{kind.name}/")
        return [f"{base}{child.name}/{record_id}/" for child in kind.children]

    @staticmethod
    def slot(log: str, seq: int) -> str:
        return f"{log}seq/{seq:020d}"

    @staticmethod
    def claim(log: str, record_id: str) -> str:
        return f"{log}id/{record_id}"

    @staticmethod
    def head(log: str) -> str:
        return f"{log}head"


def _dump(record: Record) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record.__pydantic_serializer__.to_json(record))
    return value


def _holds(slot: Blob | None, record_id: str) -> bool:
    """Whether the slot holds the live record ``record_id`` (not a tombstone)."""
    return slot is not None and slot.data.get("id") == record_id and "record" in slot.data


def _seq_of(key: str) -> int:
    return int(key.rsplit("/", 1)[1])


@dataclass(frozen=True)
class _Outcome(Generic[T]):
    """A result or an exception, held until it is known whether it counts."""

    result: T | None = None
    error: Exception | None = None

    def value(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


async def _settled(step: Awaitable[T]) -> _Outcome[T]:
    try:
        return _Outcome(result=await step)
    except Exception as exc:
        return _Outcome(error=exc)


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

    def __init__(self, objects: S3Objects, root: str, shown_as: str) -> None:
        self._objects = objects
        self._layout = _Layout(root)
        self._shown_as = shown_as
        self._closed = False
        self._generations: _Recent[str, str] = _Recent()
        self._heads: _Recent[str, int] = _Recent()
        self._seqs: _Recent[tuple[str, str], int] = _Recent()
        self._measurement: Measurement | None = None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        opts = url.options(FsspecOptions, options)
        protocol = opts.protocol or url.driver or url.scheme
        bucket = url.host
        if not bucket:
            raise InvalidRequestError(
                f"{url.scheme}:// needs a bucket: {url.scheme}://BUCKET/PREFIX"
            )
        prefix = url.path.strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise InvalidRequestError("the prefix must not contain empty, '.' or '..' parts")
        hide_in_library_logs(
            url.password,
            *(value.get_secret_value() for value in (opts.key, opts.secret, opts.token) if value),
        )
        objects = _open_objects(protocol, bucket, url, opts)
        store = cls(objects, f"{prefix}/" if prefix else "", url.render())
        if opts.check_conditional_writes:
            try:
                store._run(objects.probe, store._layout.root)
            except BaseException:
                store.close()
                raise
        return store

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._shown_as}>"

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            sync(self._objects.loop, self._objects.close)

    def check_storage(self, repair: bool) -> list[Finding]:
        """What only this backend can see: claims, head hints, orphaned objects (see
        :mod:`threadstore_fsspec.check`). ``repair=True`` fixes what loses no
        acknowledged write and marks it ``repaired``. Meant for a quiet store."""
        return self._run(StorageChecker(self, repair).run)

    # --- running coroutines on s3fs's event loop ----------------------------------------------

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

    def _scoped(self, kind: Kind[Any], scope: Scope, step: Callable[[str], Awaitable[T]]) -> T:
        """Run ``step(log)`` in the list's current prefix (:meth:`_within`), synchronously;
        a missing owner is its not-found error."""
        try:
            return cast(T, self._run(self._within, kind, scope, step))
        except _ScopeGone as gone:
            raise kind.owner_missing(scope, gone.level) from None

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

    # --- scopes and generations ----------------------------------------------------------------

    async def _thread(self, thread_id: str) -> Blob | None:
        blob = await self._objects.get(self._layout.thread(thread_id))
        if blob is None:
            self._generations.drop(thread_id)
        else:
            self._generations.set(thread_id, blob.data["gen"])
        return blob

    async def _within(
        self, kind: Kind[Any], scope: Scope, step: Callable[[str], Awaitable[T]]
    ) -> T:
        """Run ``step(log)`` on the list's prefix in the thread's current generation.

        With a remembered generation, the thread is read back concurrently with the step
        (no extra round trip) and the step is redone if the thread was replaced. Steps of
        a run also check, concurrently, that the run exists. Raises :class:`_ScopeGone`.
        """
        thread_id = scope[0]
        remembered = self._generations.get(thread_id)
        if remembered is None:
            thread = await self._thread(thread_id)
        else:
            thread, outcome = await both(
                self._thread(thread_id),
                _settled(self._in_generation(kind, scope, remembered, step)),
            )
            if thread is not None and thread.data["gen"] == remembered:
                return outcome.value()
        if thread is None:
            raise _ScopeGone
        return await self._in_generation(kind, scope, thread.data["gen"], step)

    async def _in_generation(
        self, kind: Kind[Any], scope: Scope, generation: str, step: Callable[[str], Awaitable[T]]
    ) -> T:
        log = self._layout.log(kind, scope, generation)
        if kind.depth < 2:
            return await step(log)
        owner = kind.lineage[1]
        owners = self._layout.log(owner, scope[:1], generation)
        found, outcome = await both(self._locate(owners, scope[1]), _settled(step(log)))
        if found is None:
            raise _ScopeGone(1)
        return outcome.value()

    # --- finding records --------------------------------------------------------------------

    async def _locate(self, log: str, record_id: str) -> tuple[int, Blob] | None:
        """The slot holding the live record ``record_id``: remembered, else via its claim."""
        seq = self._seqs.get((log, record_id))
        if seq is not None:
            slot = await self._objects.get(self._layout.slot(log, seq))
            if _holds(slot, record_id):
                return seq, slot  # type: ignore[return-value]
            self._seqs.drop((log, record_id))
        claim = await self._objects.get(self._layout.claim(log, record_id))
        if claim is None or not claim.data["seq"]:
            return None
        seq = int(claim.data["seq"])
        slot = await self._objects.get(self._layout.slot(log, seq))
        if not _holds(slot, record_id):
            return None  # still being appended, or deleted
        self._seqs.set((log, record_id), seq)
        return seq, slot  # type: ignore[return-value]

    def _where(self, log: str, seq: int) -> str:
        return f"{self._shown_as} {self._layout.slot(log, seq)}"

    # --- hooks: insert ------------------------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        if kind.owner is None:
            for record in records:
                self._run(self._insert_thread, kind, record)
            return
        self._scoped(kind, scope, lambda log: self._append_all(kind, log, records))

    async def _append_all(self, kind: Kind[Any], log: str, records: Sequence[Record]) -> None:
        """Append records one by one, after checking none of them is taken.

        Not yet one atomic commit: two batches from different processes may interleave,
        and a crash mid-batch leaves its first records stored.
        """
        if len(records) > 1:  # a single append's claim finds a taken ID by itself
            taken = await asyncio.gather(*(self._locate(log, record.id) for record in records))
            for record, found in zip(records, taken, strict=True):
                if found is not None:
                    raise AlreadyExistsError(f"{kind.singular} {record.id!r} already exists")
        for record in records:
            await self._append(kind, log, record)

    async def _insert_thread(self, kind: Kind[Any], thread: Record) -> None:
        thread_id = thread.id
        generation = secrets.token_hex(8)
        data = {"gen": generation, "made": time.time_ns(), "record": _dump(thread)}
        created, _ = await self._objects.create(self._layout.thread(thread_id), data, new_token())
        if not created:
            raise AlreadyExistsError(f"{kind.singular} {thread_id!r} already exists")
        self._generations.set(thread_id, generation)

    async def _append(self, kind: Kind[Any], log: str, record: Record) -> None:
        """Claim the record's ID, then create the next free slot for it (see §6.3)."""
        record_id = record.id
        token = new_token()
        place = (self._objects.fs.endpoint_url or "", self._objects.bucket, log)
        lock = _APPEND_LOCKS.setdefault(place, asyncio.Lock())
        async with lock:
            known = self._heads.get(log) or 0
            body = {"seq": known + 1 if known else 0, "record": _dump(record)}
            claim_key = self._layout.claim(log, record_id)
            (created, claim), hint = await both(
                self._objects.create(claim_key, body, token), self._hint(log)
            )
            floor = max(known, hint)
            while not created:
                if claim is None:
                    raise _ScopeGone  # the thread went away under us
                if not await self._settle_claim(kind, log, record_id, claim, floor):
                    raise AlreadyExistsError(
                        f"{kind.singular} {record_id!r} already exists in this scope"
                    )
                created, claim = await self._objects.create(claim_key, body, token)
            assert claim is not None
            seq = await self._place(log, record_id, claim, floor)
        self._seqs.set((log, record_id), seq)

    async def _hint(self, log: str) -> int:
        blob = await self._objects.get(self._layout.head(log))
        return int(blob.data["head"]) if blob is not None else 0

    async def _settle_claim(
        self, kind: Kind[Any], log: str, record_id: str, claim: Blob, floor: int
    ) -> bool:
        """Deal with someone else's claim on the ID; return whether the ID is free again.

        A claim whose slot holds the live record: taken. A claim not placed yet (its
        writer is busy, or died): finish placing it for them, then it is taken. A claim
        whose record was deleted: drop it (and the dead record's steps) so the ID is free.
        """
        seq = int(claim.data["seq"])
        slot = await self._objects.get(self._layout.slot(log, seq)) if seq else None
        if slot is None or slot.data.get("id") != record_id:
            await self._place(log, record_id, claim, floor)
            return False
        if _holds(slot, record_id):
            return False
        for held in self._layout.held(log, kind, record_id):
            await self._objects.delete_prefix(held)
        await self._objects.delete(self._layout.claim(log, record_id), claim)
        return True

    async def _place(self, log: str, record_id: str, claim: Blob, floor: int) -> int:
        """Put the claimed record in a slot and return its sequence number.

        Invariant: slot ``n`` is only ever created by a writer that saw slot ``n - 1``
        exist, so the slots are exactly ``1..head``. A claim moves from ``n`` only after
        slot ``n`` was seen holding another record, so a record lands in one slot.
        """
        claim_key = self._layout.claim(log, record_id)
        for _ in range(_PLACEMENT_ATTEMPTS):
            seq = int(claim.data["seq"])
            if seq:
                key = self._layout.slot(log, seq)
                if seq > floor:
                    data = {"id": record_id, "record": claim.data["record"]}
                    created, slot = await self._objects.create(key, data, claim.creator)
                    if created or (slot is not None and slot.data.get("id") == record_id):
                        await self._placed(log, seq)
                        return seq
                else:
                    slot = await self._objects.get(key)
                    if slot is not None and slot.data.get("id") == record_id:
                        return seq
                if slot is None:
                    raise _ScopeGone  # slots only vanish with their thread
                floor = await self._discover(log, max(floor, seq))
            moved = await self._objects.swap(
                claim_key, {**claim.data, "seq": floor + 1}, claim, new_token()
            )
            if moved is None:
                moved = await self._objects.get(claim_key)
                if moved is None:
                    raise _ScopeGone
            claim = moved
        raise BackendError(f"could not find a free slot in {self._shown_as} {log} (contention)")

    async def _placed(self, log: str, seq: int) -> None:
        self._heads.set(log, max(seq, self._heads.get(log) or 0))
        await self._objects.put(self._layout.head(log), {"head": seq}, new_token())

    async def _discover(self, log: str, known: int) -> int:
        """The highest existing slot, listing forward from ``known`` (which exists)."""
        head = known
        while True:
            start = self._layout.slot(log, head) if head else None
            keys, more = await self._objects.keys_after(f"{log}seq/", start)
            if keys:
                head = _seq_of(keys[-1])
            if not more:
                self._heads.set(log, max(head, self._heads.get(log) or 0))
                return head

    # --- hooks: fetch, modify, remove ---------------------------------------------------------

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        if kind.owner is None:
            blob = self._run(self._thread, record_id)
            if blob is None:
                raise kind.missing(record_id)
            return self._decode(kind, blob, record_id)
        found = self._scoped(kind, scope, lambda log: self._locate(log, record_id))
        if found is None:
            raise kind.missing(record_id)
        return self._decode(kind, found[1], record_id)

    def _decode(self, kind: Kind[R], blob: Blob, record_id: str) -> R:
        return decode_object(kind, blob.data["record"], f"{self._shown_as} ({record_id})")

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        updated: R | None
        if kind.owner is None:
            updated = self._run(self._modify_thread, kind, record_id, change)
        else:
            updated = self._scoped(
                kind, scope, lambda log: self._modify_slot(kind, log, record_id, change)
            )
        if updated is None:
            raise kind.missing(record_id)
        return updated

    async def _modify_thread(
        self, kind: Kind[R], thread_id: str, change: Callable[[R], R]
    ) -> R | None:
        key = self._layout.thread(thread_id)
        token, updated = new_token(), None
        for _ in range(_CAS_ATTEMPTS):
            blob = await self._thread(thread_id)
            if blob is not None and blob.writer == token:
                return updated  # a write reported lost had landed
            if blob is None:
                return None
            updated = change(self._decode(kind, blob, thread_id))
            data = {**blob.data, "record": _dump(updated)}
            if await self._objects.swap(key, data, blob, token) is not None:
                return updated
        raise BackendError(f"too much contention on {self._shown_as} thread {thread_id!r}")

    async def _modify_slot(
        self, kind: Kind[R], log: str, record_id: str, change: Callable[[R], R]
    ) -> R | None:
        token, updated = new_token(), None
        for _ in range(_CAS_ATTEMPTS):
            found = await self._locate(log, record_id)
            if found is None:
                return None
            seq, slot = found
            if slot.writer == token:
                return updated  # a write reported lost had landed
            updated = change(self._decode(kind, slot, record_id))
            data = {"id": record_id, "record": _dump(updated)}
            if await self._objects.swap(self._layout.slot(log, seq), data, slot, token):
                return updated
        raise BackendError(f"too much contention on {self._where(log, 0)} ({record_id})")

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        if kind.owner is None:
            removed = self._run(self._remove_thread, record_id)
        else:
            removed = self._scoped(kind, scope, lambda log: self._remove_slot(kind, log, record_id))
        if not removed:
            raise kind.missing(record_id)

    async def _remove_thread(self, thread_id: str) -> bool:
        while True:
            blob = await self._thread(thread_id)
            if blob is None:
                return False
            if await self._objects.delete(self._layout.thread(thread_id), blob):
                break
        self._generations.drop(thread_id)
        await self._objects.delete_prefix(self._layout.data(thread_id, blob.data["gen"]))
        return True

    async def _remove_slot(self, kind: Kind[Any], log: str, record_id: str) -> bool:
        """Replace the record by a tombstone: the slot stays, so the sequence has no gap."""
        token, tried = new_token(), 0
        for _ in range(_CAS_ATTEMPTS):
            found = await self._locate(log, record_id)
            if found is None:
                if not tried:
                    return False
                last = await self._objects.get(self._layout.slot(log, tried))
                return last is not None and last.writer == token  # reported lost, but landed?
            tried, slot = found
            tombstone = {"id": record_id, "deleted": True}
            if await self._objects.swap(self._layout.slot(log, tried), tombstone, slot, token):
                for held in self._layout.held(log, kind, record_id):
                    await self._objects.delete_prefix(held)
                return True
        raise BackendError(f"too much contention on {self._where(log, 0)} ({record_id})")

    # --- hooks: scan --------------------------------------------------------------------------

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        if kind.owner is None:
            blobs = self._run(self._scan_threads, cursor, descending, count)
        else:
            blobs = self._scoped(
                kind, scope, lambda log: self._scan_log(log, cursor, descending, count)
            )
        return [self._decode(kind, blob, blob.data["record"].get("id", "?")) for blob in blobs]

    async def _scan_log(
        self, log: str, cursor: str | None, descending: bool, count: int
    ) -> list[Blob]:
        """Up to ``count`` live records after ``cursor``: GETs of computed slot keys, no LIST.

        The cursor's slot comes from memory or its claim (1 round trip); it is read with
        the page to prove the cursor is still in the list. A newest-first page without a
        cursor starts from the head hint (1 round trip) plus a few slots of look-ahead.
        """
        fetched: dict[int, Blob | None] = {}
        if cursor is not None:
            start = await self._cursor_seq(log, cursor, descending, count, fetched)
        elif descending:
            start = await self._top(log, count, fetched) + 1
        else:
            start = 0
        return await self._walk(log, start, descending, count, fetched)

    async def _fetch_slots(
        self, log: str, seqs: list[int], fetched: dict[int, Blob | None]
    ) -> None:
        wanted = [seq for seq in seqs if seq > 0 and seq not in fetched]
        blobs = await self._objects.get_many(self._layout.slot(log, seq) for seq in wanted)
        fetched.update(zip(wanted, blobs, strict=True))

    @staticmethod
    def _span(start: int, descending: bool, count: int) -> list[int]:
        if descending:
            return list(range(start - 1, max(0, start - 1 - count), -1))
        return list(range(start + 1, start + 1 + count))

    async def _cursor_seq(
        self, log: str, cursor: str, descending: bool, count: int, fetched: dict[int, Blob | None]
    ) -> int:
        seq = self._seqs.get((log, cursor))
        if seq is not None:
            await self._fetch_slots(log, [seq, *self._span(seq, descending, count)], fetched)
            if _holds(fetched[seq], cursor):
                return seq
            self._seqs.drop((log, cursor))
            fetched.clear()
        claim = await self._objects.get(self._layout.claim(log, cursor))
        if claim is None or not claim.data["seq"]:
            raise CursorNotFound(cursor)
        seq = int(claim.data["seq"])
        await self._fetch_slots(log, [seq, *self._span(seq, descending, count)], fetched)
        if not _holds(fetched[seq], cursor):
            raise CursorNotFound(cursor)
        self._seqs.set((log, cursor), seq)
        return seq

    async def _top(self, log: str, count: int, fetched: dict[int, Blob | None]) -> int:
        """The last slot, found from the remembered head or the head hint plus look-ahead."""
        known = self._heads.get(log) or await self._hint(log)
        await self._fetch_slots(
            log, list(range(max(1, known - count + 1), known + LOOKAHEAD + 1)), fetched
        )
        top = known
        while fetched.get(top + 1) is not None:
            top += 1
        if top == known + LOOKAHEAD:
            top = await self._discover(log, top)
            await self._fetch_slots(log, list(range(max(1, top - count + 1), top + 1)), fetched)
        else:
            self._heads.set(log, max(top, self._heads.get(log) or 0))
        return top

    async def _walk(
        self, log: str, start: int, descending: bool, count: int, fetched: dict[int, Blob | None]
    ) -> list[Blob]:
        found: list[Blob] = []
        position = start
        while len(found) < count:
            span = self._span(position, descending, count - len(found))
            if not span:
                break
            await self._fetch_slots(log, span, fetched)
            for seq in span:
                slot = fetched[seq]
                if slot is None:
                    if descending:
                        raise _ScopeGone  # slots below the head vanish only with the thread
                    return found
                if "record" in slot.data:
                    found.append(slot)
                position = seq
        return found

    async def _scan_threads(self, cursor: str | None, descending: bool, count: int) -> list[Blob]:
        """Threads in creation order (the ``made`` stamp in each thread object): every
        thread is listed and read, so a page costs O(threads)."""
        keys, _ = await self._keys_before(self._layout.threads, None)
        blobs = [blob for blob in await self._objects.get_many(keys) if blob is not None]
        blobs.sort(key=lambda blob: (blob.data.get("made", 0), blob.data["record"]["id"]))
        if descending:
            blobs.reverse()
        if cursor is not None:
            ids = [blob.data["record"]["id"] for blob in blobs]
            if cursor not in ids:
                raise CursorNotFound(cursor)
            blobs = blobs[ids.index(cursor) + 1 :]
        return blobs[:count]

    async def _keys_before(self, prefix: str, bound: str | None) -> tuple[list[str], bool]:
        """Every key under ``prefix`` sorting before ``bound``: ceil(N/1000) LISTs."""
        keys: list[str] = []
        start: str | None = None
        while True:
            batch, more = await self._objects.keys_after(prefix, start)
            keys.extend(key for key in batch if bound is None or key < bound)
            if not more or not batch or (bound is not None and batch[-1] >= bound):
                return keys, False
            start = batch[-1]


def _open_objects(protocol: str, bucket: str, url: StoreURL, opts: FsspecOptions) -> S3Objects:
    """The object layer for ``protocol``; fails closed where conditional writes are missing."""
    try:
        filesystem = fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        raise BackendError(f"no fsspec filesystem for {protocol}:// ({exc})") from None
    if not issubclass(filesystem, s3fs.S3FileSystem):
        raise BackendError(
            f"{url.scheme}:// ({protocol}) is not supported: this backend needs atomic "
            "create-only and compare-and-set writes, which it implements for S3 (s3fs) only; "
            "fsspec's local and memory filesystems are not atomic at all"
        )
    fs = filesystem(**_s3_arguments(opts))
    return S3Objects(fs, bucket, attempts=opts.max_attempts)


def _s3_arguments(opts: FsspecOptions) -> dict[str, Any]:
    client_kwargs = dict(opts.client_kwargs)
    if opts.region:
        client_kwargs.setdefault("region_name", opts.region)
    arguments: dict[str, Any] = {
        "anon": opts.anon,
        "endpoint_url": opts.endpoint_url,
        "client_kwargs": client_kwargs,
        "use_listings_cache": False,
        "skip_instance_cache": True,
        "config_kwargs": {
            "connect_timeout": opts.connect_timeout,
            "read_timeout": opts.read_timeout,
            "max_pool_connections": opts.max_pool_connections,
            "retries": {"total_max_attempts": 1},
            "http_session_cls": NoResendSession,
        },
    }
    for name in ("key", "secret", "token"):
        value = getattr(opts, name)
        if value is not None:
            arguments[name] = value.get_secret_value()
    if opts.profile:
        arguments["profile"] = opts.profile
    return arguments

"""Lists of records in chunk objects: append, find, change, delete and page, for any kind.

Every list (the store's threads, a thread's messages or runs, a run's steps) is a run of
chunk objects ``0, 1, 2, …`` and one claim object per record ID (see
:mod:`threadstore_fsspec.layout` and :mod:`threadstore_fsspec.chunks`). The protocol:

- **Append** (one record or a batch, one token): create a claim ``ids/ID`` for every ID
  with ``If-None-Match`` (``{"t": token, "chunk": c}``, ``c`` the chunk the writer
  expects to append to), concurrently read the last chunk, then add all the batch's
  entries to it with one ``If-Match`` PUT, or create the next chunk with them when the
  last is full. One object changes, so a batch is atomic and contiguous. Chunk ``n+1``
  is only created by a writer that saw chunk ``n`` full, and entries are never
  removed, so the chunks are gap-free and every chunk but the last is full.
- **Claims** make IDs unique. A claim whose token no chunk shows yet is *pending*: its
  writer is between the two steps, or died there. A second append of the ID writes
  ``{"abort": token}`` into the last chunk, which the first writer sees before it
  commits (a chunk it compares and sets), so exactly one of the two commits; an
  aborted or deleted record's claim is then replaced. A reader treats a pending record
  as not there.
- **Change and delete** are compare-and-set on the chunk holding the record; a deleted
  record leaves a tombstone, so positions never shift.
- **Reads** fetch computed chunk keys, never LIST: a page of 20 is at most two chunks.

What a process has seen (which chunk holds a record, a list's last chunk, an owner's
generation) is remembered as a hint, never trusted as truth: every read checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from threadstore.backend import AlreadyExistsError, BackendError, CursorNotFound, Kind, Record
from threadstore_fsspec.chunks import CHUNK_RECORDS, Chunk, Fate, record_entry, tail, tombstone
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.marker import Marker
from threadstore_fsspec.objects import Blob, S3Objects, Swap, new_token
from threadstore_fsspec.rounds import Started, both, gather, started

__all__ = ["Gone", "Lists", "Target"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

log = logging.getLogger("threadstore.fsspec")

_ATTEMPTS = 1000
_CACHE_ENTRIES = 10_000
_SHORT = 2
"""A list this process knows to have fewer chunks than this is read whole to find a
cursor, instead of reading the cursor's claim first: a page in one round trip."""
_APPEND_LOCKS: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)
"""One lock per list for every store object in the process (all run on s3fs's one loop):
appends from one process queue up instead of colliding on the last chunk."""


class Gone(Exception):
    """An owner of the list does not exist: the top-level one (level 0), or the next."""

    def __init__(self, level: int) -> None:
        self.level = level


class _Moved(Exception):
    """What the call relied on changed under it (an owner deleted or re-created, a chunk
    gone): start over from the claims."""


class Recent(Generic[K, V]):
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


def _taken(kind: Kind[Any], entries: list[dict[str, Any]]) -> str:
    """What to say when another writer took an ID of the batch while it was committing."""
    if len(entries) == 1:
        return f"{kind.singular} {entries[0]['id']!r} already exists in this scope"
    return f"a {kind.singular} of this batch was appended by another writer meanwhile"


def dump(record: Record) -> dict[str, Any]:
    """The record's wire JSON as a dict, as a chunk stores it."""
    value: dict[str, Any] = json.loads(record.__pydantic_serializer__.to_json(record))
    return value


@dataclass(frozen=True)
class Owner:
    """A record that owns the list: where it is, and the generation its lists live under."""

    log: str
    record_id: str
    chunk: int
    generation: str


@dataclass
class Target:
    """The list one call works on, and the proof that its owners still exist.

    With owners remembered from earlier calls, the proof is read while the call does
    its first requests (no extra round trip); :meth:`confirmed` waits for it, and every
    call waits for it before it writes or answers.
    """

    kind: Kind[Any]
    log: str
    owners: list[Owner]
    check: Started[Chunk | None] | None = None
    owner_chunk: Chunk | None = None
    """The chunk holding the innermost owner, as read to confirm it."""
    confirmed_once: bool = field(default=False)

    async def confirmed(self) -> dict[str, Any] | None:
        """The innermost owner's entry (``None`` for a top-level list); raises
        :class:`_Moved` if an owner was deleted or re-created meanwhile."""
        if self.check is not None and not self.confirmed_once:
            self.owner_chunk = await self.check.result()
            self.confirmed_once = True
        return self.entry

    @property
    def entry(self) -> dict[str, Any] | None:
        chunk = self.owner_chunk
        index = None if chunk is None else chunk.live(self.owners[-1].record_id)
        return None if chunk is None or index is None else chunk.entries[index]


@dataclass(frozen=True)
class _Found:
    """A record's place: its chunk as read, and its index there."""

    chunk: Chunk
    index: int

    @property
    def entry(self) -> dict[str, Any]:
        return self.chunk.entries[self.index]


class _Claimed(Enum):
    LIVE = "live"
    GONE = "gone"
    """Its record was deleted, or its append aborted: the claim may be replaced."""
    PENDING = "pending"


class Lists:
    """The list protocol over one store's objects (async, on s3fs's event loop)."""

    def __init__(self, objects: S3Objects, layout: Layout, marker: Marker) -> None:
        self.objects = objects
        self.layout = layout
        self.marker = marker
        self._chunk_of: Recent[tuple[str, str], int] = Recent()
        self._generation: Recent[tuple[str, str], str] = Recent()
        self._tail: Recent[str, int] = Recent()

    def tail_hint(self, log_prefix: str) -> int | None:
        """The chunk this process expects the list's next append to go to."""
        return self._tail.get(log_prefix)

    # --- owners -----------------------------------------------------------------------

    async def within(
        self, kind: Kind[Any], scope: tuple[str, ...], step: Callable[[Target], Awaitable[T]]
    ) -> T:
        """Run ``step`` on the list of ``kind`` in ``scope``; raises :class:`Gone` for a
        missing owner.

        Owners this process has seen (or whose claims name their generation) are checked
        concurrently with the step's first requests; if one changed, the step runs again
        with its owners found from their claims and chunks, level by level."""
        hinted = await self._hinted(kind, scope)
        if hinted is not None:
            owners, log_prefix = hinted
            check = started(self._check(owners))
            try:
                return await self._guarded(Target(kind, log_prefix, owners, check), step)
            except _Moved:
                check.discard()  # its own _Moved, if it has one, tells nothing new
                for owner in owners:
                    self._chunk_of.drop((owner.log, owner.record_id))
                    self._generation.drop((owner.log, owner.record_id))
        for _ in range(_ATTEMPTS):
            owners, log_prefix, holding = await self._resolve(kind, scope)
            target = Target(kind, log_prefix, owners, None, holding)
            try:
                return await step(target)
            except _Moved:
                continue
        raise BackendError(f"the owners of a {kind.singular} list keep changing")

    async def _guarded(self, target: Target, step: Callable[[Target], Awaitable[T]]) -> T:
        """Run ``step``; whatever it raises, the owners are confirmed first (a missing
        owner outranks a missing record or cursor)."""
        try:
            result = await step(target)
        except _Moved:
            raise
        except Exception:
            if target.check is not None and not target.confirmed_once:
                with contextlib.suppress(BackendError):  # the step's own failure is reported
                    await target.confirmed()
            raise
        await target.confirmed()
        return result

    async def _hinted(
        self, kind: Kind[Any], scope: tuple[str, ...]
    ) -> tuple[list[Owner], str] | None:
        """Each owner's chunk and generation, as remembered or as its claim names them
        (one read per level not remembered); ``None`` if a claim cannot tell."""
        owners: list[Owner] = []
        log_prefix = self.layout.top(kind.lineage[0])
        for level, owner_id in enumerate(scope):
            chunk = self._chunk_of.get((log_prefix, owner_id))
            generation = self._generation.get((log_prefix, owner_id))
            if chunk is None or generation is None:
                claim = await self.objects.get(self.layout.claim(log_prefix, owner_id))
                if claim is None and level == 0:
                    raise Gone(level)  # a live record always has its claim
                if claim is None:
                    return None  # its owners are not proved yet: find them level by level
                chunk, generation = claim.data.get("chunk"), claim.data.get("gen")
                if not isinstance(chunk, int) or not isinstance(generation, str):
                    return None
            owners.append(Owner(log_prefix, owner_id, chunk, generation))
            log_prefix = self.layout.child(
                log_prefix, owner_id, generation, kind.lineage[level + 1]
            )
        return owners, log_prefix

    async def _check(self, owners: list[Owner]) -> Chunk | None:
        """Each remembered owner's entry, read again: still there, same generation? Returns
        the chunk holding the innermost owner."""
        chunks = await gather(*(self._chunk(o.log, o.chunk) for o in owners))
        for owner, chunk in zip(owners, chunks, strict=True):
            index = None if chunk is None else chunk.live(owner.record_id)
            if chunk is None or index is None:
                raise _Moved
            if chunk.entries[index].get("gen") != owner.generation:
                raise _Moved
        return chunks[-1] if chunks else None

    async def _resolve(
        self, kind: Kind[Any], scope: tuple[str, ...]
    ) -> tuple[list[Owner], str, Chunk | None]:
        """Find each owner from its claim, level by level."""
        owners: list[Owner] = []
        log_prefix = self.layout.top(kind.lineage[0])
        holding = None
        for level, owner_id in enumerate(scope):
            found = await self._locate(log_prefix, owner_id)
            if found is None:
                raise Gone(level)
            holding = found.chunk
            generation = str(found.entry["gen"])
            self._generation.set((log_prefix, owner_id), generation)
            owners.append(Owner(log_prefix, owner_id, found.chunk.number, generation))
            log_prefix = self.layout.child(
                log_prefix, owner_id, generation, kind.lineage[level + 1]
            )
        return owners, log_prefix, holding

    async def _pointer(self, target: Target) -> int:
        """The list's tail pointer, from its owner's entry (the marker for a top-level list)."""
        if not target.owners:
            current = await self.marker.read()
            return 0 if current is None else tail(current.data, target.kind.name)
        entry = await target.confirmed()
        return 0 if entry is None else tail(entry, target.kind.name)

    # --- reading chunks -----------------------------------------------------------------

    async def _chunk(self, log_prefix: str, number: int) -> Chunk | None:
        key = self.layout.chunk(log_prefix, number)
        blob = await self.objects.get(key)
        return None if blob is None else self._seen(log_prefix, Chunk.of(number, blob, key))

    async def _chunks(self, log_prefix: str, numbers: Sequence[int]) -> dict[int, Chunk | None]:
        wanted = [n for n in numbers if n >= 0]
        chunks = await gather(*(self._chunk(log_prefix, n) for n in wanted))
        return dict(zip(wanted, chunks, strict=True))

    def _seen(self, log_prefix: str, chunk: Chunk) -> Chunk:
        """Remember where the chunk's live records are, the generations of those that own
        lists, and the tail pointers their entries hold."""
        for entry in chunk.entries:
            if "record" in entry:
                self._chunk_of.set((log_prefix, entry["id"]), chunk.number)
                if "gen" in entry:
                    self._generation.set((log_prefix, entry["id"]), entry["gen"])
                    owned = self.layout.owned(log_prefix, entry["id"], entry["gen"])
                    for name, number in entry.get("tails", {}).items():
                        self._hint_tail(f"{owned}{name}/", int(number))
        self._hint_tail(log_prefix, chunk.number + 1 if chunk.full else chunk.number)
        return chunk

    def _hint_tail(self, log_prefix: str, number: int) -> None:
        known = self._tail.get(log_prefix)
        if known is None or number > known:
            self._tail.set(log_prefix, number)

    async def _locate(self, log_prefix: str, record_id: str) -> _Found | None:
        """Where the live record ``record_id`` is: the remembered chunk, else its claim's."""
        number = self._chunk_of.get((log_prefix, record_id))
        if number is not None:
            chunk = await self._chunk(log_prefix, number)
            index = None if chunk is None else chunk.live(record_id)
            if chunk is not None and index is not None:
                return _Found(chunk, index)
            self._chunk_of.drop((log_prefix, record_id))
        claim = await self.objects.get(self.layout.claim(log_prefix, record_id))
        if claim is None:
            return None
        state, found, _ = await self._follow(log_prefix, record_id, claim)
        return found if state is _Claimed.LIVE else None

    async def _follow(
        self, log_prefix: str, record_id: str, claim: Blob
    ) -> tuple[_Claimed, _Found | None, int]:
        """What became of a claim: the chunks from the one it names onwards show its
        token's entry (live or deleted), an abort of it, or nothing yet (pending).
        Returns the state, the entry's place, and the last chunk number read."""
        token, number = str(claim.data.get("t")), int(claim.data.get("chunk", 0))
        while True:
            chunk = await self._chunk(log_prefix, number)
            if chunk is None:
                return _Claimed.PENDING, None, number
            index = chunk.added_by(record_id, token)
            if index is not None:
                found = _Found(chunk, index)
                live = "record" in found.entry
                return (_Claimed.LIVE if live else _Claimed.GONE), found, number
            if chunk.fate(token) is Fate.ABORTED:
                return _Claimed.GONE, None, number
            if not chunk.full:
                return _Claimed.PENDING, None, number
            number += 1

    # --- fetch ------------------------------------------------------------------------

    async def fetch(self, target: Target, record_id: str) -> dict[str, Any] | None:
        """The record's entry, or ``None`` if the list does not hold it."""
        found = await self._locate(target.log, record_id)
        await target.confirmed()
        return None if found is None else found.entry

    # --- append -----------------------------------------------------------------------

    async def append(self, target: Target, records: Sequence[Record]) -> None:
        """Add ``records`` at the end of the list as one commit (see the module's text)."""
        kind, log_prefix = target.kind, target.log
        token = new_token()
        entries = [record_entry(dump(record), token, kind) for record in records]
        place = (self.objects.place.endpoint, self.objects.bucket, log_prefix)
        lock = _APPEND_LOCKS.setdefault(place, asyncio.Lock())
        async with lock:
            start = self._tail.get(log_prefix)
            if start is None:
                start = await self._pointer(target)
            claims, blob = await both(
                gather(*(self._claim(log_prefix, e, token, start) for e in entries)),
                self.objects.get(self.layout.chunk(log_prefix, start)),
            )
            mine = [claim for claim in claims if claim is not None]
            if len(mine) < len(entries):
                await self._take_claims(target, token, start, entries, claims)
                mine = [claim for claim in claims if claim is not None]
                blob = await self.objects.get(self.layout.chunk(log_prefix, start))
            await target.confirmed()
            fate, chunk = await self._commit(target, start, blob, token, entries)
            if fate is Fate.ABORTED:
                await self._release(log_prefix, mine)
                raise AlreadyExistsError(_taken(kind, entries))
        if chunk.number != start:
            await self._repoint(log_prefix, mine, chunk.number)
        await self._advance(target, chunk)

    async def _claim(
        self, log_prefix: str, entry: dict[str, Any], token: str, chunk: int
    ) -> Blob | None:
        """Our claim on the entry's ID, or ``None`` if another claim holds it. A record that
        owns lists has its generation named in its claim too, so that a process that has
        not seen it yet reaches its lists from the claim alone."""
        key = self.layout.claim(log_prefix, entry["id"])
        data = {"id": entry["id"], "t": token, "chunk": chunk}
        if "gen" in entry:
            data["gen"] = entry["gen"]
        created, blob = await self.objects.create(key, data, token)
        return blob if created else None

    async def _take_claims(
        self,
        target: Target,
        token: str,
        start: int,
        entries: list[dict[str, Any]],
        claims: list[Blob | None],
    ) -> None:
        """Settle every ID another claim holds: taken (raise, releasing ours), or free
        again once its record was deleted or its append aborted (then claim it)."""
        log_prefix = target.log
        for position, entry in enumerate(entries):
            record_id = entry["id"]
            key = self.layout.claim(log_prefix, record_id)
            for _ in range(_ATTEMPTS):
                if claims[position] is not None:
                    break
                theirs = await self.objects.get(key)
                if theirs is not None and await self.holds(target, record_id, theirs):
                    await self._release(log_prefix, [c for c in claims if c])
                    raise AlreadyExistsError(
                        f"{target.kind.singular} {record_id!r} already exists in this scope"
                    )
                if theirs is not None:
                    await self.objects.delete(key, theirs)
                claims[position] = await self._claim(log_prefix, entry, token, start)
            else:
                raise BackendError(f"could not claim {target.kind.singular} {record_id!r}")

    async def holds(self, target: Target, record_id: str, claim: Blob) -> bool:
        """Whether ``claim`` holds its ID for good: its record is live, or its append may
        still commit. A pending append is aborted first, so it never will."""
        for _ in range(_ATTEMPTS):
            state, _, last = await self._follow(target.log, record_id, claim)
            if state is not _Claimed.PENDING:
                return state is _Claimed.LIVE
            await target.confirmed()
            victim = str(claim.data.get("t"))
            blob = await self.objects.get(self.layout.chunk(target.log, last))
            abort = [{"abort": victim}]
            fate, chunk = await self._commit(target, last, blob, victim, abort, new_token())
            if fate is Fate.ABORTED:
                await self._advance(target, chunk)  # the abort entry may have filled it
                return False
        raise BackendError(f"could not settle the claim on {record_id!r}")

    async def _commit(
        self,
        target: Target,
        number: int,
        blob: Blob | None,
        watch: str,
        added: list[dict[str, Any]],
        writer: str | None = None,
    ) -> tuple[Fate, Chunk]:
        """Add ``added`` to the last chunk from ``number`` on, unless a chunk on the way
        already shows the fate of the append ``watch``; returns that fate, and the chunk
        that shows it. Creating chunk ``number`` is allowed: the caller got the number
        from a tail pointer, which names the last chunk or, when that is full, the next."""
        log_prefix, token = target.log, writer or watch
        fate = Fate.COMMITTED if added and added[0].get("t") == watch else Fate.ABORTED
        for _ in range(_ATTEMPTS):
            key = self.layout.chunk(log_prefix, number)
            if blob is None:
                created, blob = await self.objects.create(key, {"entries": added}, token)
                if created:
                    assert blob is not None
                    return fate, self._seen(log_prefix, Chunk.of(number, blob, key))
                if blob is None:
                    raise _Moved  # made and deleted again: the list went with its owner
            chunk = Chunk.of(number, blob, key)
            shown = chunk.fate(watch)
            if shown is not None:
                return shown, self._seen(log_prefix, chunk)
            if chunk.full:
                number += 1
                blob = await self.objects.get(self.layout.chunk(log_prefix, number))
                continue
            result = await self.objects.swap(key, chunk.extended(added), blob, token)
            if isinstance(result, Blob):
                return fate, self._seen(log_prefix, Chunk.of(number, result, key))
            blob = await self.objects.get(key)  # lost, or unsure: the content decides
            if blob is None:
                raise _Moved
        raise BackendError(f"too much contention on {log_prefix}")

    async def _release(self, log_prefix: str, claims: list[Blob]) -> None:
        """Drop claims an append made and will never use (a claim someone else replaced
        meanwhile is left alone)."""
        keys = [self.layout.claim(log_prefix, str(claim.data["id"])) for claim in claims]
        await gather(*(self.objects.delete(key, c) for key, c in zip(keys, claims, strict=True)))

    async def _repoint(self, log_prefix: str, claims: list[Blob], number: int) -> None:
        """Point our claims at the chunk the batch went to (it moved on under contention),
        so later lookups read one chunk. Best effort: a claim that names an earlier chunk
        is still followed to the right one."""
        await gather(
            *(
                self.objects.swap(
                    self.layout.claim(log_prefix, str(claim.data["id"])),
                    {**claim.data, "chunk": number},
                    claim,
                    new_token(),
                )
                for claim in claims
            )
        )

    async def _advance(self, target: Target, chunk: Chunk) -> None:
        """Move the list's tail pointer on when the batch filled its chunk (or landed
        past the pointer): the owner's entry (the marker for a top-level list) then
        names the chunk the next append starts, so a newest-first page reads two chunks."""
        wanted = chunk.number + 1 if chunk.full else chunk.number
        self._tail.set(target.log, wanted)
        try:
            if target.owners:
                entry = await target.confirmed()
                if entry is not None and tail(entry, target.kind.name) >= wanted:
                    return
            await self.point(target, wanted)
        except BackendError as exc:  # the commit stands; a late pointer costs reads a trip
            log.warning("could not move the tail pointer of %s on: %s", target.log, exc)

    async def point(self, target: Target, wanted: int, *, exact: bool = False) -> None:
        """Set the list's tail pointer to ``wanted`` (by default only ever forward)."""
        if not target.owners:
            await self.marker.advance(target.kind.name, wanted, exact=exact)
            return
        owner = target.owners[-1]
        chunk = target.owner_chunk
        for _ in range(_ATTEMPTS):
            if chunk is None:
                chunk = await self._chunk(owner.log, owner.chunk)
            index = None if chunk is None else chunk.live(owner.record_id)
            if chunk is None or index is None:
                return  # the owner is gone: so is its list
            entry = chunk.entries[index]
            current = tail(entry, target.kind.name)
            if current == wanted or (current > wanted and not exact):
                return
            tails = {**entry.get("tails", {}), target.kind.name: wanted}
            key = self.layout.chunk(owner.log, owner.chunk)
            changed = chunk.replaced(index, {**entry, "tails": tails})
            result = await self.objects.swap(key, changed, chunk.blob, new_token())
            if isinstance(result, Blob):
                self._seen(owner.log, Chunk.of(owner.chunk, result, key))
                return
            chunk = None

    # --- change and delete --------------------------------------------------------------

    async def modify(
        self,
        target: Target,
        record_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Replace the record's entry by ``change(entry)`` with compare-and-set, retrying
        when another write to the chunk came first; ``None`` from ``change`` deletes the
        record, leaving a tombstone. Returns the entry before and after, or ``None`` if
        the list does not hold the record."""
        token = new_token()
        for _ in range(_ATTEMPTS):
            found = await self._locate(target.log, record_id)
            await target.confirmed()
            if found is None:
                return None
            entry = found.entry
            replaced = change(entry)
            new = tombstone(entry, token) if replaced is None else replaced
            new = {**new, "w": token, "p": entry["w"]}
            key = self.layout.chunk(target.log, found.chunk.number)
            result = await self.objects.swap(
                key, found.chunk.replaced(found.index, new), found.chunk.blob, token
            )
            if isinstance(result, Blob):
                self._seen(target.log, Chunk.of(found.chunk.number, result, key))
                return entry, new
            if result is Swap.UNSURE and await self._landed(target, found, token):
                return entry, new
        raise BackendError(f"too much contention on {target.log} ({record_id})")

    async def _landed(self, target: Target, found: _Found, token: str) -> bool:
        """After an attempt whose answer was lost: did it land? The entry's own chain of
        writer tokens says so, or says it cannot tell (then: ``BackendError``)."""
        base = found.entry
        chunk = await self._chunk(target.log, found.chunk.number)
        index = None if chunk is None else chunk.added_by(base["id"], base["t"])
        if chunk is None or index is None:
            return False  # gone with its owner: nothing to retry
        now = chunk.entries[index]
        if now.get("w") == token:
            return True
        if now.get("w") == base["w"] or now.get("p") == base["w"]:
            return False  # untouched, or replaced by another writer: ours did not land
        raise BackendError(
            f"the outcome of a compare-and-set in {target.log} ({base['id']}) is unknown: "
            "the request failed without an answer and the record has changed twice since"
        )

    async def remove_owned(self, target: Target, entry: dict[str, Any]) -> None:
        """Delete what a deleted record owned (its generation's lists). Best effort: what
        is left is unreachable, and ``check_storage`` finds and removes it."""
        generation = entry.get("gen")
        if not isinstance(generation, str):
            return
        prefix = self.layout.owned(target.log, entry["id"], generation)
        try:
            await self.objects.delete_prefix(prefix)
        except BackendError as exc:
            log.warning(
                "deleted %s but not all it owned under %s (%s); `threadstore verify "
                "--repair` removes the rest",
                entry["id"],
                prefix,
                exc,
            )

    # --- scan ---------------------------------------------------------------------------

    async def scan(
        self, target: Target, cursor: str | None, descending: bool, count: int
    ) -> list[dict[str, Any]]:
        """Up to ``count`` live entries after ``cursor`` in list order (see
        ``BaseThreadStore._scan``): a few chunks read at once, never a LIST."""
        log_prefix = target.log
        width = -(-count // CHUNK_RECORDS) + 1
        step = -1 if descending else 1
        if cursor is not None:
            chunks, number, index = await self._around(target, cursor, step, width)
        elif descending:
            chunks, number = await self._last(target, width)
            last = chunks.get(number)
            index = 0 if last is None else len(last.entries)
        else:
            chunks = await self._chunks(log_prefix, range(width))
            number, index = 0, -1
        first, found = number, list[dict[str, Any]]()
        while True:
            chunk = chunks.get(number)
            if chunk is None:
                if descending and number != first:
                    raise _Moved  # chunks below the last vanish only with their owner
                break
            entries = chunk.entries
            position = index + step
            while 0 <= position < len(entries) and len(found) < count:
                if "record" in entries[position]:
                    found.append(entries[position])
                position += step
            if len(found) >= count or (not descending and not chunk.full) or number + step < 0:
                break
            number += step
            if number not in chunks:
                chunks.update(
                    await self._chunks(log_prefix, range(number, number + step * width, step))
                )
            following = chunks.get(number)
            index = len(following.entries) if descending and following is not None else -1
        return found

    async def _around(
        self, target: Target, cursor: str, step: int, width: int
    ) -> tuple[dict[int, Chunk | None], int, int]:
        """The cursor's chunk and the ones after it in the direction of travel: where the
        process saw the cursor, or, for a list of at most two chunks, both of them (no
        claim to read); else where its claim says."""
        log_prefix = target.log
        number = self._chunk_of.get((log_prefix, cursor))
        if number is not None:
            numbers: Sequence[int] = range(number, number + step * width, step)
        elif (last := self._tail.get(log_prefix)) is not None and last < _SHORT:
            numbers = range(last + 1)
        else:
            numbers = ()
        if numbers:
            chunks = await self._chunks(log_prefix, numbers)
            for number, chunk in chunks.items():
                index = None if chunk is None else chunk.live(cursor)
                if index is not None:
                    return chunks, number, index
            self._chunk_of.drop((log_prefix, cursor))
        claim = await self.objects.get(self.layout.claim(log_prefix, cursor))
        if claim is None:
            raise CursorNotFound(cursor)
        number = int(claim.data.get("chunk", 0))
        chunks = await self._chunks(log_prefix, range(number, number + step * width, step))
        chunk = chunks.get(number)
        index = None if chunk is None else chunk.added_by(cursor, str(claim.data.get("t")))
        if chunk is None or index is None:  # the claim names an earlier chunk: follow it
            state, found, _ = await self._follow(log_prefix, cursor, claim)
            if state is not _Claimed.LIVE or found is None:
                raise CursorNotFound(cursor)
            number, index = found.chunk.number, found.index
            rest = range(number + step, number + step * width, step)
            chunks = {number: found.chunk, **await self._chunks(log_prefix, rest)}
        elif "record" not in chunk.entries[index]:
            raise CursorNotFound(cursor)
        return chunks, number, index

    async def _last(self, target: Target, width: int) -> tuple[dict[int, Chunk | None], int]:
        """The list's last chunk (its number) and the ones before it.

        Read from the remembered last chunk while the tail pointer is read (the owner's
        entry, which every call reads anyway; the marker for a top-level list), so no
        extra round trip unless the pointer shows the list grew. A pointer that lags
        (its writer died) is followed forward through full chunks."""
        log_prefix = target.log
        pointer = started(self._pointer(target))
        known = self._tail.get(log_prefix)
        if known is None:
            known = await pointer.result()
            chunks = await self._chunks(log_prefix, range(known, known - width, -1))
        else:
            chunks = await self._chunks(log_prefix, range(known, known - width, -1))
            newer = await pointer.result()
            if newer > known:
                known = newer
                chunks.update(await self._chunks(log_prefix, range(known, known - width, -1)))
        number = known
        while (chunk := chunks.get(number)) is not None and chunk.full:
            following = await self._chunk(log_prefix, number + 1)
            if following is None:
                break
            number += 1
            chunks[number] = following
        if chunks.get(number) is None and number > 0:
            number -= 1  # the pointer names the chunk the next append will start
        return chunks, number

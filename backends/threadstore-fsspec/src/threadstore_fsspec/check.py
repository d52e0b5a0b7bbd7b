"""The object-storage backend's own integrity check: what the protocol cannot see.

``FsspecThreadStore.check_storage`` lists every object under the store's prefix, reads
every chunk and claim, and reports what a writer that died mid-operation leaves behind;
with ``repair=True`` it finishes or removes it without losing an acknowledged write:

- ``dangling-claim``: a claim whose append never committed (its writer died between
  claiming and committing). Repair: abort it (an ``{"abort": token}`` entry, as a
  second append of the ID would write) and drop the claim; the append never lands.
- ``tail-hint-behind``: a list's tail pointer (in its owner's entry, or the marker)
  names a chunk before the one the next append starts (its writer died after the
  commit). Harmless, reads follow full chunks forward; repair: move it on.
- ``orphaned-data``: the lists of a record that was deleted, or of a generation that is
  not its record's (a delete that died before its clean-up, or a late append).
  Repair: delete them.
- ``probe-leftover``: a start-up probe object of an opener that died. Repair: delete it,
  once it is older than :data:`PROBE_GRACE_SECONDS`.
- ``legacy-object``: an object of the 0.1 layout in a migrated store (a migration that
  died after writing the marker). Repair: delete it.
- ``unclaimed-record``, ``misplaced-claim``, ``duplicate-record``, ``tail-hint-ahead``:
  a live record without its claim, a claim naming a chunk after its record's, one ID
  live twice, a pointer past the list. The protocol never makes these; a repair points
  the claim at the record, tombstones later copies, sets the pointer.
- ``chunk-gap``, ``chunk-short``, ``corrupt-object``, ``unknown-object``: damage no
  protocol write makes; reported, never repaired.

Run it on a quiet store: an append in flight looks like a dangling claim, and a repair
aborts it (its writer then gets ``AlreadyExistsError`` or a ``BackendError``).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from threadstore.backend import KINDS, CorruptDataError, Finding, Kind
from threadstore_fsspec.chunks import Chunk, tail, tombstone
from threadstore_fsspec.layout import Layout, parse_key
from threadstore_fsspec.legacy import is_legacy
from threadstore_fsspec.lists import Lists, Owner, Target
from threadstore_fsspec.objects import Blob, S3Objects, new_token

__all__ = ["PROBE_GRACE_SECONDS", "StorageChecker"]

PROBE_GRACE_SECONDS = 300.0
"""A probe object older than this belongs to an opener that died, not to one at work."""
_BATCH = 200


@dataclass
class _List:
    """The objects of one list, as listed."""

    kind: Kind[Any]
    log: str
    owners: tuple[tuple[str, str, str], ...]
    chunks: set[int] = field(default_factory=set)
    claims: set[str] = field(default_factory=set)


@dataclass
class _Entries:
    """A list's entries as read, indexed: every (ID, token) added, the aborted tokens,
    and each ID's live places."""

    added: dict[tuple[str, Any], tuple[int, int]] = field(default_factory=dict)
    aborted: set[str] = field(default_factory=set)
    live: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, number: int, index: int, entry: dict[str, Any]) -> None:
        if "abort" in entry:
            self.aborted.add(entry["abort"])
            return
        self.added.setdefault((entry["id"], entry["t"]), (number, index))
        if "record" in entry:
            self.live[entry["id"]].append((number, index))


class StorageChecker:
    """One run of the check over one store (async, on the store's event loop)."""

    def __init__(self, objects: S3Objects, lists: Lists, shown_as: str, repair: bool) -> None:
        self.objects = objects
        self.lists = lists
        self.layout: Layout = lists.layout
        self.shown_as = shown_as
        self.repair = repair
        self.findings: list[Finding] = []
        self.live: dict[tuple[str, str], tuple[Chunk, dict[str, Any]]] = {}
        """(list, ID) → the chunk and entry of every live record that owns lists."""

    async def run(self) -> list[Finding]:
        root = self.layout.root
        kinds = {kind.name: kind for kind in KINDS}
        found: dict[str, _List] = {}
        stale_probes: list[str] = []
        legacy: list[str] = []
        for key, modified in await self.objects.entries(root):
            part = parse_key(root, key, kinds)
            if part.what in ("chunk", "claim"):
                kind = kinds[part.log.rstrip("/").rsplit("/", 1)[-1]]
                listed = found.setdefault(part.log, _List(kind, part.log, part.owners))
                if part.what == "chunk":
                    listed.chunks.add(int(part.name))
                else:
                    listed.claims.add(part.name)
            elif part.what == "probe":
                if self._probe_leftover(key, modified):
                    stale_probes.append(key)
            elif is_legacy(root, key):
                legacy.append(key)
            elif part.what != "marker":
                self._find("unknown-object", key, "not an object this backend writes")
        await self._legacy(legacy)
        if self.repair:
            await self.objects.delete_keys(stale_probes)
        orphans: set[tuple[str, str, str]] = set()
        for listed in sorted(found.values(), key=lambda item: (len(item.owners), item.log)):
            dead = next((o for o in listed.owners if o in orphans), None)
            if dead is None and listed.owners:
                owner_log, owner_id, generation = listed.owners[-1]
                live = self.live.get((owner_log, owner_id))
                if live is None or live[1].get("gen") != generation:
                    dead = listed.owners[-1]
            if dead is not None:
                if dead not in orphans:
                    orphans.add(dead)
                    await self._orphaned(dead)
                continue
            await self._check_list(listed)
        return self.findings

    # --- reading ----------------------------------------------------------------------

    async def _read(self, keys: list[str]) -> list[Blob | None]:
        """Objects by key, in batches; one that does not parse is reported and read as None."""
        blobs: list[Blob | None] = []
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            outcomes = await asyncio.gather(
                *(self.objects.get(key) for key in batch), return_exceptions=True
            )
            for key, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, CorruptDataError):
                    self._find("corrupt-object", key, str(outcome))
                    blobs.append(None)
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    blobs.append(outcome)
        return blobs

    def _chunks(self, listed: _List, blobs: Iterable[tuple[int, Blob | None]]) -> dict[int, Chunk]:
        chunks: dict[int, Chunk] = {}
        for number, blob in blobs:
            key = self.layout.chunk(listed.log, number)
            if blob is None:
                continue
            try:
                chunks[number] = Chunk.of(number, blob, key)
            except CorruptDataError as exc:
                self._find("corrupt-object", key, str(exc))
        return chunks

    # --- one list ---------------------------------------------------------------------

    async def _check_list(self, listed: _List) -> None:
        numbers, ids = sorted(listed.chunks), sorted(listed.claims)
        keys = [self.layout.chunk(listed.log, n) for n in numbers]
        keys += [self.layout.claim(listed.log, i) for i in ids]
        blobs = await self._read(keys)
        chunks = self._chunks(listed, zip(numbers, blobs[: len(numbers)], strict=True))
        claims = {i: b for i, b in zip(ids, blobs[len(numbers) :], strict=True) if b is not None}
        target = self._target(listed)
        self._shape(listed, numbers, chunks)
        log = _Entries()
        for number, chunk in sorted(chunks.items()):
            for index, entry in enumerate(chunk.entries):
                log.add(number, index, entry)
                if "record" in entry and listed.kind.children:
                    self.live[(listed.log, entry["id"])] = (chunk, entry)
        settled = len(self.findings)
        for record_id, claim in sorted(claims.items()):
            await self._claim(target, chunks, log, record_id, claim)
        if self.repair and len(self.findings) > settled:  # aborts may have been appended
            chunks = await self._to_the_end(listed, chunks)
            target = await self._owner_again(target)
        for record_id, places in sorted(log.live.items()):
            held = claims.get(record_id)
            if held is None:
                await self._unclaimed(target, chunks, record_id, places[0])
            claimed = None if held is None else log.added.get((record_id, held.data.get("t")))
            kept = claimed if claimed in places else places[0]
            for number, index in places:
                if (number, index) != kept:
                    await self._duplicate(target, chunks[number], index, kept[0])
        await self._pointer(target, listed, chunks)

    async def _to_the_end(self, listed: _List, chunks: dict[int, Chunk]) -> dict[int, Chunk]:
        """``chunks`` with the last one read again and any made since read too: what the
        list ends with after this check's repairs appended to it (up to a chunk that does
        not parse: that was reported already)."""
        number, chunks = max(chunks, default=0), dict(chunks)
        while True:
            key = self.layout.chunk(listed.log, number)
            try:
                blob = await self.objects.get(key)
                if blob is None:
                    return chunks
                chunks[number] = Chunk.of(number, blob, key)
            except CorruptDataError:
                return chunks
            number += 1

    async def _owner_again(self, target: Target) -> Target:
        """``target`` with its owner's chunk read again: the entry there holds the list's
        tail pointer, which an abort appended by a repair may have moved on."""
        if not target.owners:
            return target  # the marker holds it; this store object made any move itself
        owner = target.owners[-1]
        key = self.layout.chunk(owner.log, owner.chunk)
        blob = await self.objects.get(key)
        return replace(
            target, owner_chunk=None if blob is None else Chunk.of(owner.chunk, blob, key)
        )

    def _target(self, listed: _List) -> Target:
        owners = []
        for owner_log, owner_id, generation in listed.owners:
            chunk, _ = self.live[(owner_log, owner_id)]
            owners.append(Owner(owner_log, owner_id, chunk.number, generation))
        holding = self.live[listed.owners[-1][:2]][0] if listed.owners else None
        return Target(listed.kind, listed.log, owners, None, holding)

    def _shape(self, listed: _List, numbers: list[int], chunks: dict[int, Chunk]) -> None:
        if numbers and numbers != list(range(numbers[-1] + 1)):
            missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
            shown = ", ".join(str(n) for n in missing[:10])
            self._find(
                "chunk-gap",
                f"{listed.log}chunks/",
                f"chunks {shown} are missing below chunk {numbers[-1]}: the list has lost records",
            )
        for number in numbers[:-1]:
            chunk = chunks.get(number)
            if chunk is not None and not chunk.full:
                self._find(
                    "chunk-short",
                    self.layout.chunk(listed.log, number),
                    f"{len(chunk.entries)} entries in a chunk that is not the last",
                )

    async def _claim(
        self, target: Target, chunks: dict[int, Chunk], log: _Entries, record_id: str, claim: Blob
    ) -> None:
        key = self.layout.claim(target.log, record_id)
        token, start = str(claim.data.get("t")), int(claim.data.get("chunk", 0))
        place = log.added.get((record_id, token))
        if place is not None:
            if place[0] < start:
                detail = f"the claim names chunk {start}, but its record is in chunk {place[0]}"
                if self.repair:
                    data = {**claim.data, "chunk": place[0]}
                    await self.objects.swap(key, data, claim, new_token())
                self._find("misplaced-claim", key, detail, repaired=self.repair)
            return
        if token in log.aborted:
            return
        live = log.live.get(record_id)
        if live:
            number, index = live[0]
            detail = f"the claim names another append than the live record's (chunk {number})"
            if self.repair and not await self.lists.holds(target, record_id, claim):
                data = _claim_of(chunks[number].entries[index], number)
                await self.objects.swap(key, data, claim, new_token())
            self._find("misplaced-claim", key, detail, repaired=self.repair)
            return
        detail = (
            f"{record_id!r} was claimed, but its append never committed: it stopped "
            "between the claim and the commit"
        )
        if self.repair and not await self.lists.holds(target, record_id, claim):
            await self.objects.delete(key, claim)
        self._find("dangling-claim", key, detail, repaired=self.repair)

    async def _unclaimed(
        self, target: Target, chunks: dict[int, Chunk], record_id: str, place: tuple[int, int]
    ) -> None:
        number, index = place
        entry = chunks[number].entries[index]
        key = self.layout.claim(target.log, record_id)
        if self.repair:
            await self.objects.create(key, _claim_of(entry, number), new_token())
        self._find(
            "unclaimed-record",
            key,
            f"{record_id!r} is in chunk {number} but has no claim: reads by ID miss it",
            repaired=self.repair,
        )

    async def _duplicate(self, target: Target, chunk: Chunk, index: int, kept: int) -> None:
        entry = chunk.entries[index]
        key = self.layout.chunk(target.log, chunk.number)
        if self.repair:
            token = new_token()
            await self.objects.swap(
                key, chunk.replaced(index, tombstone(entry, token)), chunk.blob, token
            )
        self._find(
            "duplicate-record",
            key,
            f"{entry['id']!r} is live here and in chunk {kept}",
            repaired=self.repair,
        )

    async def _pointer(self, target: Target, listed: _List, chunks: dict[int, Chunk]) -> None:
        if not chunks:
            return
        last = max(chunks)
        expected = last + 1 if chunks[last].full else last
        if target.owners:
            pointer = tail(target.entry or {}, listed.kind.name)
            where = self.layout.chunk(target.owners[-1].log, target.owners[-1].chunk)
        else:
            pointer = tail(self.lists.marker.data, listed.kind.name)
            where = self.layout.marker
        if pointer == expected:
            return
        check = "tail-hint-behind" if pointer < expected else "tail-hint-ahead"
        detail = f"the list's tail pointer is {pointer}; the next append starts chunk {expected}"
        if self.repair:
            await self.lists.point(target, expected, exact=True)
        self._find(check, where, detail, repaired=self.repair)

    # --- what lies outside the lists ------------------------------------------------------

    async def _orphaned(self, owner: tuple[str, str, str]) -> None:
        owner_log, owner_id, generation = owner
        prefix = self.layout.owned(owner_log, owner_id, generation)
        removed = False
        if self.repair:
            await self.objects.delete_prefix(prefix)
            removed = True
        self._find(
            "orphaned-data",
            prefix,
            f"lists of {owner_id!r} in a generation that is not (or no longer) its record's",
            repaired=removed,
        )

    async def _legacy(self, keys: list[str]) -> None:
        if not keys:
            return
        if self.repair:
            await self.objects.delete_keys(keys)
        self._find(
            "legacy-object",
            keys[0],
            f"{len(keys)} object(s) of the 0.1 layout, left by a migration that stopped late",
            repaired=self.repair,
        )

    def _probe_leftover(self, key: str, modified: float) -> bool:
        """Report a probe object; whether it is old enough to delete."""
        age = time.time() - modified
        stale = age >= PROBE_GRACE_SECONDS
        detail = "a start-up probe object of an opener that died"
        if not stale:
            detail += (
                f" (or of one opening now: {age:.0f}s old; removed after "
                f"{PROBE_GRACE_SECONDS:.0f}s)"
            )
        self._find("probe-leftover", key, detail, repaired=self.repair and stale)
        return stale

    def _find(self, check: str, key: str, detail: str, *, repaired: bool = False) -> None:
        self.findings.append(Finding(check, f"{self.shown_as} {key}", detail, repaired))


def _claim_of(entry: dict[str, Any], number: int) -> dict[str, Any]:
    """The claim an append makes for ``entry``, once it is in chunk ``number``."""
    data = {"id": entry["id"], "t": entry["t"], "chunk": number}
    if "gen" in entry:
        data["gen"] = entry["gen"]
    return data

"""The object-storage backend's own integrity check: what the protocol cannot see.

:meth:`FsspecThreadStore.check_storage` lists every object under the store's prefix and
reads the bookkeeping objects the protocol hides (ID claims, head hints, generations,
probe objects). What a writer that died mid-operation leaves behind is found here, and
with ``repair=True`` finished or removed without losing an acknowledged write:

- ``dangling-claim``: an ID claim whose slot was never written (the writer died between
  the two steps of an append). Repair: place it, exactly as the next append of that ID
  would, so the record appears once (an unacknowledged append may land; it never lands
  twice).
- ``misplaced-claim``, ``unclaimed-record``, ``duplicate-record``: a claim that does not
  name the slot holding its record, a live record without a claim, or one record in two
  slots. The protocol never makes these; a repair points the claim at the record's first
  slot and turns later copies into tombstones, so reads by ID and listings agree.
- ``head-hint-behind`` / ``head-hint-ahead``: the head hint names a slot before the last
  one (a writer died before updating it; harmless, reads look ahead) or past it (reads
  would fail). Repair: write the true head.
- ``slot-gap``, ``corrupt-object``, ``unknown-object``: damage no protocol write makes;
  reported, never repaired (there is nothing to rebuild them from).
- ``orphaned-generation``: objects under a generation of a thread that was deleted (or
  re-created) — a delete that died before its clean-up, or a late append. Repair:
  delete them; a generation is random and never current again.
- ``orphaned-steps``: steps of a run that was deleted (its delete died before removing
  them). Repair: delete them, after reading the run once more.
- ``probe-leftover``: a start-up probe object of an opener that died. Repair: delete it,
  once it is older than :data:`PROBE_GRACE_SECONDS` (a live probe takes milliseconds).

Run it on a quiet store: an append in flight looks like a dangling claim or a hint
behind, and a repair then finishes it for its writer (both converge on one slot).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadstore.backend import MESSAGES, RUNS, STEPS, CorruptDataError, Finding, Kind
from threadstore.ids import ID_PATTERN
from threadstore_fsspec.objects import Blob, new_token

if TYPE_CHECKING:
    from threadstore_fsspec.store import FsspecThreadStore

__all__ = ["PROBE_GRACE_SECONDS", "StorageChecker"]

PROBE_GRACE_SECONDS = 300.0
"""A probe object older than this belongs to an opener that died, not to one at work."""
_BATCH = 200


@dataclass
class _Log:
    """The objects of one ordered list, as listed."""

    kind: Kind[Any]
    prefix: str
    slots: set[int] = field(default_factory=set)
    claims: set[str] = field(default_factory=set)
    has_head: bool = False


@dataclass
class _Generation:
    thread_id: str
    generation: str
    keys: int = 0
    logs: dict[str, _Log] = field(default_factory=dict)


@dataclass
class _Read:
    """A log's objects, read: slots by number, claims by ID (``None``: unreadable)."""

    slots: dict[int, Blob | None]
    claims: dict[str, Blob | None]
    hint: int


class StorageChecker:
    """One run of the check over one store (async, on the store's event loop)."""

    def __init__(self, store: FsspecThreadStore, repair: bool) -> None:
        self.store = store
        self.objects = store._objects
        self.layout = store._layout
        self.repair = repair
        self.findings: list[Finding] = []
        self.stale_probes: list[str] = []

    async def run(self) -> list[Finding]:
        root = self.layout.root
        entries = await self.objects.entries(root)
        generations: dict[tuple[str, str], _Generation] = {}
        for key, modified in entries:
            self._sort(key[len(root) :], key, modified, generations)
        for key in self.stale_probes:
            await self.objects.delete(key)
        threads = {thread_id for thread_id, _ in generations}
        current = dict(zip(threads, await self._generations(threads), strict=True))
        for (thread_id, generation), found in sorted(generations.items()):
            if current.get(thread_id) != generation:
                await self._orphaned_generation(found)
            else:
                await self._check_generation(found)
        return self.findings

    # --- sorting the listing ---------------------------------------------------------------

    def _sort(
        self,
        relative: str,
        key: str,
        modified: float,
        generations: dict[tuple[str, str], _Generation],
    ) -> None:
        parts = relative.split("/")
        if parts[0] == "threads" and len(parts) == 2 and ID_PATTERN.fullmatch(parts[1]):
            return
        if parts[0] == "probe" and len(parts) == 2:
            self._probe_leftover(key, modified)
            return
        if parts[0] == "thread-data" and len(parts) >= 5 and ID_PATTERN.fullmatch(parts[1]):
            thread_id, generation, rest = parts[1], parts[2], parts[3:]
            found = generations.setdefault(
                (thread_id, generation), _Generation(thread_id, generation)
            )
            found.keys += 1
            if self._place_key(found, rest):
                return
        self._find("unknown-object", key, "not an object this backend writes")

    def _place_key(self, found: _Generation, rest: list[str]) -> bool:
        """File a key of a generation under its log; whether it is one this backend writes."""
        base = self.layout.data(found.thread_id, found.generation)
        if rest[0] in ("messages", "runs"):
            kind: Kind[Any] = MESSAGES if rest[0] == "messages" else RUNS
            prefix, tail = f"{base}{rest[0]}/", rest[1:]
        elif rest[0] == "steps" and len(rest) >= 3 and ID_PATTERN.fullmatch(rest[1]):
            kind, prefix, tail = STEPS, f"{base}steps/{rest[1]}/", rest[2:]
        else:
            return False
        log = found.logs.setdefault(prefix, _Log(kind, prefix))
        if tail == ["head"]:
            log.has_head = True
        elif len(tail) == 2 and tail[0] == "seq" and tail[1].isdigit() and len(tail[1]) == 20:
            log.slots.add(int(tail[1]))
        elif len(tail) == 2 and tail[0] == "id" and ID_PATTERN.fullmatch(tail[1]):
            log.claims.add(tail[1])
        else:
            return False
        return True

    # --- reading ----------------------------------------------------------------------------

    async def _read(self, keys: list[str]) -> list[Blob | None]:
        """Objects by key, in batches; one that does not parse is reported and read as None."""
        blobs: list[Blob | None] = []
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            outcomes = await _settle_all(self.objects.get(key) for key in batch)
            for key, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, CorruptDataError):
                    self._find("corrupt-object", key, str(outcome))
                    blobs.append(None)
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    blobs.append(outcome)
        return blobs

    async def _generations(self, threads: Iterable[str]) -> list[str | None]:
        ordered = list(threads)
        blobs = await self._read([self.layout.thread(thread_id) for thread_id in ordered])
        generations: list[str | None] = []
        for thread_id, blob in zip(ordered, blobs, strict=True):
            generation = None if blob is None else blob.data.get("gen")
            if blob is not None and not isinstance(generation, str):
                self._find(
                    "corrupt-object", self.layout.thread(thread_id), "a thread without a generation"
                )
            generations.append(generation if isinstance(generation, str) else None)
        return generations

    async def _read_log(self, log: _Log) -> _Read:
        seqs, claims = sorted(log.slots), sorted(log.claims)
        keys = [self.layout.slot(log.prefix, seq) for seq in seqs]
        keys += [self.layout.claim(log.prefix, claim) for claim in claims]
        blobs = await self._read(keys)
        slots = dict(zip(seqs, blobs[: len(seqs)], strict=True))
        read = _Read(slots, dict(zip(claims, blobs[len(seqs) :], strict=True)), 0)
        if log.has_head:
            (head,) = await self._read([self.layout.head(log.prefix)])
            value = None if head is None else head.data.get("head")
            if type(value) is int:
                read.hint = value
            elif head is not None:
                self._find("corrupt-object", self.layout.head(log.prefix), "a head without a head")
        for seq, slot in slots.items():
            if slot is not None and not _well_formed(slot):
                self._find("corrupt-object", self.layout.slot(log.prefix, seq), "not a slot")
                slots[seq] = None
        for claim_id, claim in read.claims.items():
            if claim is not None and type(claim.data.get("seq")) is not int:
                self._find("corrupt-object", self.layout.claim(log.prefix, claim_id), "not a claim")
                read.claims[claim_id] = None
        return read

    # --- checks -------------------------------------------------------------------------------

    async def _check_generation(self, found: _Generation) -> None:
        runs_prefix = f"{self.layout.data(found.thread_id, found.generation)}runs/"
        logs = sorted(found.logs.values(), key=lambda log: (log.kind is STEPS, log.prefix))
        live_runs: set[str] = set()
        for log in logs:
            if log.kind is STEPS:
                run_id = log.prefix.rstrip("/").rsplit("/", 1)[1]
                if run_id not in live_runs and not await self._run_lives(runs_prefix, run_id):
                    await self._orphaned_steps(log, run_id)
                    continue
            read = await self._read_log(log)
            self._gaps(log, read)
            await self._claims(log, read)
            await self._head(log, read)
            if log.kind is RUNS:
                live_runs |= {
                    slot.data["id"]
                    for slot in read.slots.values()
                    if slot is not None and "record" in slot.data
                }

    def _gaps(self, log: _Log, read: _Read) -> None:
        top = max(log.slots, default=0)
        missing = sorted(set(range(1, top + 1)) - log.slots)
        if missing:
            shown = ", ".join(str(seq) for seq in missing[:10])
            self._find(
                "slot-gap",
                f"{log.prefix}seq/",
                f"slots {shown} are missing below slot {top}: the list has lost records",
            )

    async def _head(self, log: _Log, read: _Read) -> None:
        top = max(log.slots, default=0)
        if read.hint == top:
            return
        key = self.layout.head(log.prefix)
        if read.hint < top:
            check = "head-hint-behind"
            detail = f"slots {read.hint + 1}..{top} lie beyond the head hint {read.hint}"
        else:
            check = "head-hint-ahead"
            detail = f"the head hint {read.hint} names a slot past the last one ({top})"
        if self.repair:
            await self.objects.put(key, {"head": top}, new_token())
        self._find(check, key, detail, repaired=self.repair)

    async def _claims(self, log: _Log, read: _Read) -> None:
        """Claims and slots must name each other: one live slot per claimed ID."""
        live: dict[str, list[int]] = defaultdict(list)
        tombstones: dict[str, set[int]] = defaultdict(set)
        for seq, slot in sorted(read.slots.items()):
            if slot is None:
                continue
            if "record" in slot.data:
                live[slot.data["id"]].append(seq)
            else:
                tombstones[slot.data["id"]].add(seq)
        top = max(log.slots, default=0)
        for record_id in sorted(set(read.claims) | set(live)):
            claim = read.claims.get(record_id)
            if record_id in read.claims and claim is None:
                continue  # unreadable: reported already
            holders = live.get(record_id, [])
            claimed = None if claim is None else int(claim.data["seq"])
            if claim is not None and (claimed in holders or claimed in tombstones[record_id]):
                keep = claimed
            elif holders:
                keep = holders[0]
                await self._claim_slot(log, record_id, claim, holders[0], read)
            else:
                assert claim is not None
                await self._dangling(log, record_id, claim, top)
                continue
            for seq in holders:
                if seq != keep:
                    await self._duplicate(log, record_id, seq, keep, read.slots[seq])

    async def _claim_slot(
        self, log: _Log, record_id: str, claim: Blob | None, seq: int, read: _Read
    ) -> None:
        key = self.layout.claim(log.prefix, record_id)
        slot = read.slots[seq]
        assert slot is not None
        body = {"seq": seq, "record": slot.data["record"]}
        if claim is None:
            detail = f"slot {seq} holds {record_id!r}, which has no claim: reads by ID miss it"
            if self.repair:
                await self.objects.create(key, body, new_token())
            self._find("unclaimed-record", key, detail, repaired=self.repair)
        else:
            detail = f"the claim names slot {claim.data['seq']}, but {record_id!r} is in {seq}"
            if self.repair:
                await self.objects.swap(key, body, claim, new_token())
            self._find("misplaced-claim", key, detail, repaired=self.repair)

    async def _duplicate(
        self, log: _Log, record_id: str, seq: int, keep: int, slot: Blob | None
    ) -> None:
        key = self.layout.slot(log.prefix, seq)
        if self.repair and slot is not None:
            tombstone = {"id": record_id, "deleted": True}
            await self.objects.swap(key, tombstone, slot, new_token())
        self._find(
            "duplicate-record",
            key,
            f"{record_id!r} is listed here and in slot {keep}",
            repaired=self.repair,
        )

    async def _dangling(self, log: _Log, record_id: str, claim: Blob, top: int) -> None:
        key = self.layout.claim(log.prefix, record_id)
        detail = (
            f"{record_id!r} was claimed for slot {claim.data['seq']}, which does not hold it: "
            "its append stopped between the claim and the slot"
        )
        if self.repair:
            await self.store._place(log.prefix, record_id, claim, top)
        self._find("dangling-claim", key, detail, repaired=self.repair)

    async def _run_lives(self, runs_prefix: str, run_id: str) -> bool:
        return await self.store._locate(runs_prefix, run_id) is not None

    async def _orphaned_steps(self, log: _Log, run_id: str) -> None:
        detail = f"steps of run {run_id!r}, which does not exist (its delete stopped early)"
        repaired = False
        if self.repair and not await self._run_lives(
            log.prefix.removesuffix(f"steps/{run_id}/") + "runs/", run_id
        ):
            await self.objects.delete_prefix(log.prefix)
            repaired = True
        self._find("orphaned-steps", log.prefix, detail, repaired=repaired)

    async def _orphaned_generation(self, found: _Generation) -> None:
        prefix = self.layout.data(found.thread_id, found.generation)
        if self.repair:
            await self.objects.delete_prefix(prefix)
        self._find(
            "orphaned-generation",
            prefix,
            f"{found.keys} object(s) of a deleted generation of thread {found.thread_id!r}",
            repaired=self.repair,
        )

    def _probe_leftover(self, key: str, modified: float) -> None:
        age = time.time() - modified
        stale = age >= PROBE_GRACE_SECONDS
        if self.repair and stale:
            self.stale_probes.append(key)
        detail = "a start-up probe object of an opener that died"
        if not stale:
            detail += (
                f" (or of one opening now: {age:.0f}s old; removed after "
                f"{PROBE_GRACE_SECONDS:.0f}s)"
            )
        self._find("probe-leftover", key, detail, repaired=self.repair and stale)

    def _find(self, check: str, key: str, detail: str, *, repaired: bool = False) -> None:
        self.findings.append(Finding(check, f"{self.store._shown_as} {key}", detail, repaired))


def _well_formed(slot: Blob) -> bool:
    data = slot.data
    if not isinstance(data.get("id"), str):
        return False
    if "record" in data:
        record = data["record"]
        return isinstance(record, dict) and record.get("id") == data["id"]
    return data.get("deleted") is True


async def _settle_all(steps: Iterable[Any]) -> list[Any]:
    return list(await asyncio.gather(*steps, return_exceptions=True))

"""Copy threads, with their messages, runs and steps, and conversations, with their
items, from one store to another.

The copy is exact and resumable. Records keep their IDs, timestamps and statuses, and
each list keeps its order, because records are appended to the target in the source's
order. Each list of the target is read side by side with the source's: a record already
there with the same ID at the same position is compared (equal: skipped; different: a
conflict), and what the target lacks is appended after it. An interrupted copy therefore
leaves a prefix of each list, and running it again finishes the job without duplicates.
Nothing in the target is ever overwritten or deleted.

    >>> from threadstore import open_store, Message
    >>> source, target = open_store("memory://"), open_store("memory://")
    >>> thread = source.create_thread()
    >>> _ = source.append_message(thread.id, Message.user("hi"))
    >>> copy_store(source, target).created["message"]
    1
    >>> copy_store(source, target).unchanged["message"]
    1
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, TypeVar

from threadstore.errors import AlreadyExistsError, NotFoundError
from threadstore.models import Record, WireModel
from threadstore.protocol import ThreadStore
from threadstore.snapshot import every
from threadstore.url import StoreURL

__all__ = [
    "BATCH",
    "Conflict",
    "CopyEvent",
    "CopyReport",
    "StoreCopy",
    "chosen_records",
    "conversations_to_copy",
    "copy_store",
    "count_records",
    "same_store",
    "threads_to_copy",
]

M = TypeVar("M", bound=Record)
Outcome = Literal["created", "unchanged", "conflict"]
KINDS = ("thread", "message", "run", "step", "conversation", "item")
BATCH = 100
"""Records appended in one commit, where the target takes batches (messages, items)."""


@dataclass(frozen=True)
class Conflict:
    """A record the copy left alone because the target disagrees with the source."""

    location: str
    reason: str


@dataclass(frozen=True)
class CopyEvent:
    """What happened to one record, for progress displays and logs."""

    outcome: Outcome
    kind: str
    location: str


@dataclass
class CopyReport:
    """Counts by kind (``thread``, ``message``, ``run``, ``step``, ``conversation``,
    ``item``) and the conflicts found.

    In a dry run, ``created`` counts what would have been created.
    """

    dry_run: bool = False
    created: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "ok": self.ok,
            "created": {kind: self.created[kind] for kind in KINDS},
            "unchanged": {kind: self.unchanged[kind] for kind in KINDS},
            "conflicts": [
                {"location": conflict.location, "reason": conflict.reason}
                for conflict in self.conflicts
            ],
        }


def _wire(record: WireModel) -> object:
    return record.model_dump(mode="json")


class StoreCopy:
    """Copies threads and conversations from ``source`` to ``target`` one at a time,
    tallying a report.

    Use :func:`copy_store` for the whole job; this class lets a caller show progress
    between them (``copy_thread`` and ``copy_conversation`` for each).
    """

    def __init__(
        self,
        source: ThreadStore,
        target: ThreadStore,
        *,
        dry_run: bool = False,
        on_event: Callable[[CopyEvent], None] | None = None,
    ) -> None:
        self.source = source
        self.target = target
        self.report = CopyReport(dry_run=dry_run)
        self._on_event = on_event

    def thread_ids(self, wanted: Iterable[str] | None = None) -> list[str]:
        """The source's thread IDs, or ``wanted`` once each exists (else ``ThreadNotFound``)."""
        return threads_to_copy(self.source, wanted)

    def copy_thread(self, thread_id: str) -> None:
        """Bring one thread and everything under it into the target."""
        try:
            thread = self.source.get_thread(thread_id)
        except NotFoundError:
            self._conflict("thread", thread_id, "the thread left the source during the copy")
            return
        in_target = self._sync_top(
            "thread", thread, self.target.get_thread, self.target.create_thread
        )
        if in_target is None:
            return
        source, target = self.source, self.target
        self._sync_list(
            "message",
            thread_id,
            every(partial(source.list_messages, thread_id)),
            every(partial(target.list_messages, thread_id)) if in_target else iter(()),
            partial(target.append_message, thread_id),
            partial(target.append_messages, thread_id),
        )
        runs = self._sync_list(
            "run",
            thread_id,
            every(partial(source.list_runs, thread_id)),
            every(partial(target.list_runs, thread_id)) if in_target else iter(()),
            partial(target.create_run, thread_id),
        )
        for run_id, run_in_target in runs:
            self._sync_list(
                "step",
                f"{thread_id}/runs/{run_id}",
                every(partial(source.list_steps, thread_id, run_id)),
                every(partial(target.list_steps, thread_id, run_id)) if run_in_target else iter(()),
                partial(target.append_step, thread_id, run_id),
            )

    def copy_conversation(self, conversation_id: str) -> None:
        """Bring one conversation and its items into the target."""
        try:
            conversation = self.source.get_conversation(conversation_id)
        except NotFoundError:
            reason = "the conversation left the source during the copy"
            self._conflict("conversation", conversation_id, reason)
            return
        in_target = self._sync_top(
            "conversation",
            conversation,
            self.target.get_conversation,
            self.target.create_conversation,
        )
        if in_target is None:
            return
        source, target = self.source, self.target
        self._sync_list(
            "item",
            conversation_id,
            every(partial(source.list_items, conversation_id)),
            every(partial(target.list_items, conversation_id)) if in_target else iter(()),
            lambda item: target.add_items(conversation_id, [item]),
            partial(target.add_items, conversation_id),
        )

    def _sync_top(
        self, kind: str, record: M, get: Callable[[str], M], create: Callable[[M], object]
    ) -> bool | None:
        """Create or compare a top-level record (a thread, a conversation) itself.

        Returns whether the target held it before, or ``None`` when it could not be put
        in place. A record that differs is a conflict, but its lists are still copied.
        """
        record_id = record.id
        try:
            existing = get(record_id)
        except NotFoundError:
            placed = self._create(kind, record_id, partial(create, record))
            return False if placed else None
        if _wire(existing) != _wire(record):
            self._conflict(kind, record_id, f"the target's {kind} differs from the source's")
        else:
            self._count("unchanged", kind, record_id)
        return True

    def _sync_list(
        self,
        kind: str,
        parent: str,
        source_items: Iterator[M],
        target_items: Iterator[M],
        create: Callable[[M], object],
        create_batch: Callable[[list[M]], object] | None = None,
    ) -> list[tuple[str, bool]]:
        """Walk one list of the source beside the same list of the target.

        Returns the records the target holds (or, in a dry run, would hold) with the
        same ID at the same position, each with whether it was there before. Past the
        target's end, records go in batches of up to ``BATCH`` through ``create_batch``
        (one commit each, so an interruption still leaves a prefix), if given.
        """
        kept: list[tuple[str, bool]] = []
        plural = f"{kind}s"
        target_done = False
        pending: list[M] = []
        for item in source_items:
            item_id = item.id
            location = f"{parent}/{plural}/{item_id}"
            there = None if target_done else next(target_items, None)
            if there is None:
                target_done = True
                if create_batch is not None:
                    pending.append(item)
                    if len(pending) == BATCH:
                        kept += self._create_batch(kind, parent, pending, create, create_batch)
                        pending = []
                elif self._create(kind, location, partial(create, item)):
                    kept.append((item_id, False))
                continue
            there_id = there.id
            if there_id != item_id:
                self._conflict(
                    kind,
                    location,
                    f"the target's {plural} of {parent} diverge here: it has {there_id!r} "
                    f"where the source has {item_id!r}; the rest of this list was not copied",
                )
                return kept
            if _wire(there) != _wire(item):
                self._conflict(kind, location, f"the target's {kind} differs from the source's")
            else:
                self._count("unchanged", kind, location)
            kept.append((item_id, True))
        if pending and create_batch is not None:
            kept += self._create_batch(kind, parent, pending, create, create_batch)
        extra = None if target_done else next(target_items, None)
        if extra is not None:
            extra_id = extra.id
            self._conflict(
                kind,
                f"{parent}/{plural}/{extra_id}",
                f"the target has {plural} of {parent} that the source lacks, from this one on",
            )
        return kept

    def _create_batch(
        self,
        kind: str,
        parent: str,
        items: list[M],
        create: Callable[[M], object],
        create_batch: Callable[[list[M]], object],
    ) -> list[tuple[str, bool]]:
        """Write records in one commit; if another writer took an ID meanwhile (nothing
        was written), one by one, so each is reported as a single write would be."""
        ids = [item.id for item in items]
        locations = [f"{parent}/{kind}s/{item_id}" for item_id in ids]
        if not self.report.dry_run:
            try:
                create_batch(items)
            except AlreadyExistsError:
                return [
                    (item_id, False)
                    for item_id, location, item in zip(ids, locations, items, strict=True)
                    if self._create(kind, location, partial(create, item))
                ]
        self.report.created[kind] += len(ids)  # at once: an interruption sees the batch whole
        for location in locations:
            self._emit("created", kind, location)
        return [(item_id, False) for item_id in ids]

    def _create(self, kind: str, location: str, write: Callable[[], object]) -> bool:
        """Write one record (unless this is a dry run); whether it is now in place."""
        if not self.report.dry_run:
            try:
                write()
            except AlreadyExistsError:
                self._conflict(kind, location, "another writer created it during the copy")
                return False
        self._count("created", kind, location)
        return True

    def _count(self, outcome: Outcome, kind: str, location: str) -> None:
        (self.report.created if outcome == "created" else self.report.unchanged)[kind] += 1
        self._emit(outcome, kind, location)

    def _conflict(self, kind: str, location: str, reason: str) -> None:
        self.report.conflicts.append(Conflict(location, reason))
        self._emit("conflict", kind, location)

    def _emit(self, outcome: Outcome, kind: str, location: str) -> None:
        if self._on_event is not None:
            self._on_event(CopyEvent(outcome, kind, location))


def copy_store(
    source: ThreadStore,
    target: ThreadStore,
    thread_ids: Iterable[str] | None = None,
    *,
    conversation_ids: Iterable[str] | None = None,
    dry_run: bool = False,
    on_event: Callable[[CopyEvent], None] | None = None,
) -> CopyReport:
    """Copy every thread and conversation of ``source`` into ``target``, or those named
    (naming only threads copies no conversation, and the other way round); see the
    module doc."""
    copy = StoreCopy(source, target, dry_run=dry_run, on_event=on_event)
    threads, conversations = chosen_records(source, thread_ids, conversation_ids)
    for thread_id in threads:
        copy.copy_thread(thread_id)
    for conversation_id in conversations:
        copy.copy_conversation(conversation_id)
    return copy.report


def chosen_records(
    source: ThreadStore,
    thread_ids: Iterable[str] | None,
    conversation_ids: Iterable[str] | None,
) -> tuple[list[str], list[str]]:
    """The threads and conversations a copy takes: all of both when none is named, else
    those named, each checked to exist (``ThreadNotFound``, ``ConversationNotFound``)."""
    if thread_ids is None and conversation_ids is None:
        return threads_to_copy(source), conversations_to_copy(source)
    return (
        threads_to_copy(source, thread_ids or ()),
        conversations_to_copy(source, conversation_ids or ()),
    )


def threads_to_copy(source: ThreadStore, wanted: Iterable[str] | None = None) -> list[str]:
    """The source's thread IDs, or ``wanted`` once each exists (else ``ThreadNotFound``)."""
    if wanted is None:
        return source.list_thread_ids()
    chosen = list(dict.fromkeys(wanted))
    for thread_id in chosen:
        source.get_thread(thread_id)
    return chosen


def conversations_to_copy(source: ThreadStore, wanted: Iterable[str] | None = None) -> list[str]:
    """The source's conversation IDs, oldest first, or ``wanted`` once each exists (else
    ``ConversationNotFound``)."""
    if wanted is None:
        return [conversation.id for conversation in every(source.list_conversations)]
    chosen = list(dict.fromkeys(wanted))
    for conversation_id in chosen:
        source.get_conversation(conversation_id)
    return chosen


def count_records(
    source: ThreadStore, thread_ids: Iterable[str], conversation_ids: Iterable[str] = ()
) -> int:
    """How many records a copy of these threads and conversations walks: each one and
    all under it.

    Costs a read of every list (a page at a time), so a progress display can show a
    total, a rate and the time left.
    """
    total = 0
    for thread_id in thread_ids:
        total += 1 + sum(1 for _ in every(partial(source.list_messages, thread_id)))
        for run in every(partial(source.list_runs, thread_id)):
            total += 1 + sum(1 for _ in every(partial(source.list_steps, thread_id, run.id)))
    for conversation_id in conversation_ids:
        total += 1 + sum(1 for _ in every(partial(source.list_items, conversation_id)))
    return total


def same_store(source: StoreURL, target: StoreURL) -> bool:
    """Whether two URLs name the same store (a copy onto itself would compare, not copy).

    Local paths are compared after resolving links; a private ``memory://`` is never
    the same as another; options and credentials do not change the location.
    """
    if source.scheme == target.scheme == "file":
        return os.path.realpath(source.path) == os.path.realpath(target.path)
    if source.scheme == "memory" and not source.host:
        return False
    place = (source.scheme, source.host, source.port, source.path.rstrip("/"))
    return place == (target.scheme, target.host, target.port, target.path.rstrip("/"))

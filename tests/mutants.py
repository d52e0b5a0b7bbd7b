"""Deliberately broken memory backends: each breaks one promise the suite must catch.

Each mutant is a small subclass of the memory backend that overrides one hook or one
method of ``BaseThreadStore``, the way a real backend gets it wrong. ``test_mutants``
installs them under schemes of their own and runs the conformance suite against each.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from threadstore.backend import MESSAGES, Capability, Kind, NotFoundError, Record, Scope, encode
from threadstore.backends.memory import MemoryThreadStore, _Log
from threadstore.models import Page, Run, RunStatus
from threadstore.protocol import ErrorInput

M = TypeVar("M", bound=Record)


class HasMoreOffByOne(MemoryThreadStore):
    """``has_more`` is true whenever a page is full: ``>=`` where ``>`` belongs."""

    def _page(self, kind: Kind[M], scope: Scope, **options: Any) -> Page[M]:
        page = super()._page(kind, scope, **options)
        if len(page.data) == options["limit"]:
            page.has_more = True
        return page


class CursorIncluded(MemoryThreadStore):
    """A page after (or before) X begins with X itself."""

    def _scan(
        self, kind: Kind[M], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[M]:
        found = super()._scan(kind, scope, cursor, descending, count)
        return found if cursor is None else [self._fetch(kind, scope, cursor), *found][:count]


class BeforeIgnoresOrder(MemoryThreadStore):
    """``before`` always counts in ascending order, whatever ``order`` asks for."""

    def _page(self, kind: Kind[M], scope: Scope, **options: Any) -> Page[M]:
        if options["before"] is not None:
            options["order"] = "asc"
        return super()._page(kind, scope, **options)


class TerminalGuardSkipped(MemoryThreadStore):
    """A finished run moves again: without ``expected=`` the terminal guard is skipped."""

    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run:
        if expected is None:
            return self.force_update_run_status(thread_id, run_id, status, error)
        return super().update_run_status(thread_id, run_id, status, error, expected=expected)


class ExpectedIgnored(MemoryThreadStore):
    """``expected=`` is accepted and ignored: no compare-and-set, every claimer wins."""

    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run:
        return super().update_run_status(thread_id, run_id, status, error)

    def update_run(
        self, thread_id: str, run_id: str, *, expected: Any = None, **fields: Any
    ) -> Run:
        return super().update_run(thread_id, run_id, **fields)


class UnlockedModify(MemoryThreadStore):
    """Read, change, write back, with nothing held in between: racing changes are lost."""

    def _modify(self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]) -> M:
        updated = change(self._fetch(kind, scope, record_id))
        time.sleep(0.001)  # the gap a real backend leaves between its read and its write
        return super()._modify(kind, scope, record_id, lambda _: updated)


class LockPerObject(UnlockedModify):
    """Atomic within one store object only: the lock is the object's, the data is shared."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._own_lock = threading.Lock()

    def _modify(self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]) -> M:
        with self._own_lock:
            return super()._modify(kind, scope, record_id, change)


class ShallowDelete(MemoryThreadStore):
    """Deleting a thread leaves its messages, runs and steps readable."""

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        inner = (*scope, record_id)
        with self._state.lock:
            kept = {k: v for k, v in self._state.logs.items() if k[1][: len(inner)] == inner}
            super()._remove(kind, scope, record_id)
            if kind.owner is None:
                self._state.logs.update(kept)


def _replaced_by(new: M) -> Callable[[M], M]:
    """A change for ``_modify`` that puts ``new`` in place of the record it is given."""
    return lambda _: new


class CreateOverwrites(MemoryThreadStore):
    """A create with a taken ID replaces the record instead of failing."""

    def _insert(self, kind: Kind[M], scope: Scope, records: Sequence[M]) -> None:
        with self._state.lock:
            for record in records:
                try:
                    self._modify(kind, scope, record.id, _replaced_by(record))
                except NotFoundError:
                    super()._insert(kind, scope, [record])


class GhostReads(MemoryThreadStore):
    """Listing under a missing thread makes its lists, like a ``defaultdict``."""

    def _scan(
        self, kind: Kind[M], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[M]:
        with self._state.lock:
            self._state.logs.setdefault((kind.name, scope), _Log())
        return super()._scan(kind, scope, cursor, descending, count)


class RetryDuplicates(MemoryThreadStore):
    """Every seventh message is written twice, as a retry after a lost acknowledgement would."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._appends = itertools.count(1)

    def _insert(self, kind: Kind[M], scope: Scope, records: Sequence[M]) -> None:
        super()._insert(kind, scope, records)
        for record in records:
            if kind is MESSAGES and next(self._appends) % 7 == 0:
                with self._state.lock:
                    self._state.logs[(kind.name, scope)].order.append(record.id)


class StaleCache(MemoryThreadStore):
    """Each store object caches records; it sees its own writes, never another object's."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._cache: dict[tuple[str, Scope, str], Any] = {}

    def _fetch(self, kind: Kind[M], scope: Scope, record_id: str) -> M:
        key = (kind.name, scope, record_id)
        if key not in self._cache:
            self._cache[key] = super()._fetch(kind, scope, record_id)
        found: M = self._cache[key]
        return found

    def _insert(self, kind: Kind[M], scope: Scope, records: Sequence[M]) -> None:
        super()._insert(kind, scope, records)
        for record in records:
            self._cache[(kind.name, scope, record.id)] = record

    def _modify(self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]) -> M:
        updated = super()._modify(kind, scope, record_id, change)
        self._cache[(kind.name, scope, record_id)] = updated
        return updated

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        self._cache.pop((kind.name, scope, record_id), None)
        super()._remove(kind, scope, record_id)


class MovesOnUpdate(MemoryThreadStore):
    """An update re-appends the record, moving it to the end of its list."""

    def _modify(self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]) -> M:
        with self._state.lock:
            updated = super()._modify(kind, scope, record_id, change)
            log = self._state.logs.get((kind.name, scope))
            if log is not None and kind.owner is not None:
                log.remove(record_id)
                log.add(record_id, encode(updated))
            return updated


class ClaimsPersistence(MemoryThreadStore):
    """Declares ``PERSISTENT``, but its data lives only as long as the process."""

    capabilities: frozenset[Capability] = frozenset({Capability.SHARED, Capability.PERSISTENT})


class ClaimsMultiProcess(MemoryThreadStore):
    """Declares ``MULTI_PROCESS``, but another process never sees its data."""

    capabilities: frozenset[Capability] = frozenset({Capability.SHARED, Capability.MULTI_PROCESS})


MUTANTS: dict[str, type[MemoryThreadStore]] = {
    "mutant-has-more": HasMoreOffByOne,
    "mutant-cursor-included": CursorIncluded,
    "mutant-before-order": BeforeIgnoresOrder,
    "mutant-terminal-guard": TerminalGuardSkipped,
    "mutant-expected-ignored": ExpectedIgnored,
    "mutant-unlocked-modify": UnlockedModify,
    "mutant-lock-per-object": LockPerObject,
    "mutant-shallow-delete": ShallowDelete,
    "mutant-create-overwrites": CreateOverwrites,
    "mutant-ghost-reads": GhostReads,
    "mutant-retry-duplicates": RetryDuplicates,
    "mutant-stale-cache": StaleCache,
    "mutant-moves-on-update": MovesOnUpdate,
    "mutant-claims-persistence": ClaimsPersistence,
    "mutant-claims-multi-process": ClaimsMultiProcess,
}
"""Scheme → mutant class."""

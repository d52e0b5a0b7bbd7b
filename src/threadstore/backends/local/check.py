"""``check_storage`` for the local-disk backend: what ``verify`` cannot see through the protocol.

It reads the catalog and every list file from its start, each under its lock, and checks
that each log ends in whole records, that no record is damaged, that the index says
exactly what the log says, that each list file belongs to a live incarnation and says so
in its first line, and that nothing foreign lies in the store's directories. With
``repair=True`` it cuts off unfinished writes, rebuilds indexes, finishes deletions a dead
process started and removes what dead processes and deleted records left behind;
damaged log records and foreign entries are reported, never touched.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from threadstore.backends.local import entries
from threadstore.backends.local.files import ReadCounter, remove_tree, try_exclusive
from threadstore.backends.local.index import Slot, effects
from threadstore.backends.local.journal import Journal
from threadstore.backends.local.layout import Incarnation, Layout
from threadstore.backends.local.log import BEGIN, GONE, Entry, scan
from threadstore.errors import CorruptDataError
from threadstore.integrity import Finding
from threadstore.records import KINDS

__all__ = ["check_store"]

_TOP = {kind.singular: kind for kind in KINDS if kind.owner is None}


def check_store(layout: Layout, counter: ReadCounter, repair: bool) -> list[Finding]:
    """Every problem of the store's files; with ``repair``, fixed where that loses nothing."""
    findings = _leftovers(layout, repair) + _foreign(layout)
    live: dict[Incarnation, None] = {}
    with _opened(layout.catalog, counter, layout.durable) as catalog:
        if catalog is not None:
            for entry in _check_journal(catalog, repair, findings) or []:
                _note(live, entry)
    for path, incarnation in layout.list_files():
        if incarnation is None:
            findings.append(_foreign_entry(path))
        elif path.endswith(".jsonl"):
            alive = incarnation in live or _lives_now(layout, counter, incarnation)
            findings += _check_lists(layout, counter, path, incarnation, alive, repair)
        elif not os.path.exists(path.removesuffix(".idx") + ".jsonl"):
            findings.append(_leftover(path, "an index without its log", repair))
    return findings


def _note(live: dict[Incarnation, None], entry: Entry) -> None:
    """Follow the catalog: which incarnations of top-level records live."""
    kind = _TOP.get(entry.kind)
    if kind is None or entry.under:
        return
    if entry.op == "add":
        live[Incarnation(kind, entry.id, entry.seq)] = None
    elif entry.op == "del":
        live.pop(Incarnation(kind, entry.id, entry.seq), None)


def _lives_now(layout: Layout, counter: ReadCounter, incarnation: Incarnation) -> bool:
    """Whether the catalog, read again now, says the incarnation lives: one created after
    the catalog was first read is not in ``live``, and its lists are not leftovers."""
    kind = incarnation.kind
    with _opened(layout.catalog, counter, layout.durable) as catalog:
        if catalog is None:
            return False
        with catalog.locked(False):
            found = catalog.checked(partial(entries.live, catalog, kind, (), incarnation.id))
        return found is not None and found.seq == incarnation.seq


@contextmanager
def _opened(path: str, counter: ReadCounter, durable: bool) -> Iterator[Journal | None]:
    """The journal at ``path``, or ``None`` if it is gone (deleted since it was listed)."""
    journal = Journal.open(path, counter, durable, create=False)
    try:
        yield journal
    finally:
        if journal is not None:
            journal.close()


def _check_journal(journal: Journal, repair: bool, findings: list[Finding]) -> list[Entry] | None:
    """Check one journal's log and index (locked); its entries, or ``None`` if damaged."""
    fcntl.flock(journal.log_fd, fcntl.LOCK_EX if repair else fcntl.LOCK_SH)
    try:
        size = os.fstat(journal.log_fd).st_size
        try:
            found, end, clean = scan(journal.log_fd, 0, size, journal.path, journal.index.counter)
        except CorruptDataError as exc:
            detail = f"{exc}; repair cannot fix damage"
            findings.append(Finding("corrupt-log", journal.path, detail))
            return None
        problems: list[Finding] = []
        if not clean:
            problems.append(
                Finding(
                    "unfinished-write",
                    journal.path,
                    f"bytes after byte {end}, the end of the last whole record, that are not"
                    " spare space (never acknowledged)",
                )
            )
        index_problem = _index_problem(journal, found, end)
        if index_problem:
            problems.append(Finding("index", journal.index.path, index_problem))
        if repair and problems:
            journal.repair(rebuild=True)
            journal.index.sync()
            problems = [_repaired(finding) for finding in problems]
        findings += problems
        return found
    finally:
        fcntl.flock(journal.log_fd, fcntl.LOCK_UN)


def _index_problem(journal: Journal, found: list[Entry], end: int) -> str | None:
    """Why the index does not say what the log says, or ``None`` if it does."""
    index = journal.index
    try:
        header = index.load()
        if header is None or header.covered != end:
            return "does not cover the whole log (it is rebuilt on next use)"
        latest: dict[str, Slot] = {}
        for entry in found:
            latest.update(effects(entry))
        if any(index.get(key) != slot for key, slot in latest.items()):
            return "disagrees with the log"
    except CorruptDataError as exc:
        return str(exc)
    return None


def _check_lists(
    layout: Layout,
    counter: ReadCounter,
    path: str,
    incarnation: Incarnation,
    alive: bool,
    repair: bool,
) -> list[Finding]:
    if not alive:
        index = path.removesuffix(".jsonl") + ".idx"
        return [_leftover(path, "the lists of a deleted record", repair, index)]
    findings: list[Finding] = []
    with _opened(path, counter, layout.durable) as journal:
        if journal is None:  # deleted since it was listed
            return findings
        found = _check_journal(journal, repair, findings)
        if found is None:
            return findings
        first = found[0] if found else None
        if first is not None and (first.op, first.id, first.seq) != (
            BEGIN,
            incarnation.id,
            incarnation.seq,
        ):
            findings.append(
                Finding("corrupt-lists", path, "it does not begin with its record's incarnation")
            )
        if any(entry.op == GONE for entry in found):
            findings.append(_finish(layout, counter, journal, incarnation, repair))
    return findings


def _finish(
    layout: Layout, counter: ReadCounter, lists: Journal, incarnation: Incarnation, repair: bool
) -> Finding:
    """A record whose lists say deleted, while the catalog says it lives: its deleter died."""
    detail = f"{incarnation.kind.singular} {incarnation.id!r} was being deleted"
    if not repair:
        return Finding("unfinished-delete", lists.path, detail)
    with _opened(layout.catalog, counter, layout.durable) as catalog:
        assert catalog is not None  # the incarnation was found in it
        with catalog.locked(True):
            catalog.checked(lambda: entries.tombstone(catalog, incarnation))
        catalog.sync(f"the delete of {incarnation.kind.singular} {incarnation.id!r}")
    for leftover in (lists.path, lists.index.path):
        remove_tree(leftover)
    return Finding("unfinished-delete", lists.path, f"{detail}: deleted", repaired=True)


def _leftover(path: str, what: str, repair: bool, *beside: str) -> Finding:
    """A leftover (and files that go with it, ``beside``): removed with ``repair``."""
    if repair:
        for leftover in (path, *beside):
            remove_tree(leftover)
    return Finding("leftover", path, f"{what}{'; removed' if repair else ''}", repaired=repair)


def _leftovers(layout: Layout, repair: bool) -> list[Finding]:
    """Unfinished work of writers in ``tmp/``: removed with ``repair`` if none is alive."""
    found = [os.path.join(layout.tmp, name) for name in _listdir(layout.tmp)]
    if not found:
        return []
    if repair:
        fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if try_exclusive(fd):
                for path in found:
                    remove_tree(path)
                return [Finding("temp-file", p, "removed", repaired=True) for p in found]
        finally:
            os.close(fd)
    return [Finding("temp-file", p, "unfinished work of a writer") for p in found]


def _foreign(layout: Layout) -> list[Finding]:
    own = {layout.marker, layout.lock, layout.catalog, layout.lists, layout.tmp}
    own.add(layout.catalog.removesuffix(".jsonl") + ".idx")
    paths = (os.path.join(layout.root, name) for name in _listdir(layout.root))
    return [_foreign_entry(path) for path in paths if path not in own]


def _foreign_entry(path: str) -> Finding:
    return Finding("foreign-entry", path, "not a file threadstore writes; left alone")


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _repaired(finding: Finding) -> Finding:
    return Finding(finding.check, finding.location, finding.detail, repaired=True)

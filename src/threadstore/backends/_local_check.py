"""``check_storage`` for the local-disk backend: what ``verify`` cannot see through the protocol.

Per thread directory it reads the whole log from the start under the thread's lock and
checks that the log ends in whole records, that no record is damaged, and that the index
says exactly what the log says. Around the threads it looks for leftover ``.tmp-*``
entries and for entries of ``threads/`` that are not thread directories. With
``repair=True`` it cuts off unfinished writes, rebuilds indexes, finishes deletions a dead
process started and removes leftovers; damaged log records are reported, never dropped.
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING

from threadstore.backends._local_files import TEMP_PREFIX
from threadstore.backends._local_index import Slot, effects
from threadstore.backends._local_log import Entry, scan
from threadstore.errors import CorruptDataError
from threadstore.ids import ID_PATTERN
from threadstore.integrity import Finding

if TYPE_CHECKING:
    from threadstore.backends.local import LocalThreadStore, _Thread


def check_local_store(store: LocalThreadStore, repair: bool) -> list[Finding]:
    """Every problem of the store's files; with ``repair``, fixed where that loses nothing."""
    findings = _leftovers(store, repair)
    threads_dir = os.path.join(store.root, "threads")
    for entry in sorted(os.scandir(threads_dir), key=lambda e: e.name):
        if entry.name.startswith(TEMP_PREFIX):
            continue
        if not ID_PATTERN.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
            findings.append(
                Finding("foreign-entry", entry.path, "not a thread directory; left alone")
            )
            continue
        findings.extend(_check_thread(store, entry.name, repair))
    return findings


def _leftovers(store: LocalThreadStore, repair: bool) -> list[Finding]:
    def listed() -> list[str]:
        return [
            os.path.join(directory, name)
            for directory in (store.root, os.path.join(store.root, "threads"))
            for name in os.listdir(directory)
            if name.startswith(TEMP_PREFIX)
        ]

    found = listed()
    if not found or not repair:
        return [Finding("temp-file", path, "unfinished work of a writer") for path in found]
    store._clean_up()
    remaining = set(listed())
    return [
        Finding(
            "temp-file",
            path,
            "still in use by a live writer" if path in remaining else "removed",
            repaired=path not in remaining,
        )
        for path in found
    ]


def _check_thread(store: LocalThreadStore, thread_id: str, repair: bool) -> list[Finding]:
    try:
        handle = store._open_thread(thread_id)
    except CorruptDataError as exc:
        return [Finding("corrupt-thread", os.path.join(store.root, "threads", thread_id), str(exc))]
    if handle is None:  # deleted meanwhile
        return []
    try:
        fcntl.flock(handle.log_fd, fcntl.LOCK_EX if repair else fcntl.LOCK_SH)
        return _check_locked(store, handle, repair)
    finally:
        handle.close()


def _check_locked(store: LocalThreadStore, handle: _Thread, repair: bool) -> list[Finding]:
    size = os.fstat(handle.log_fd).st_size
    try:
        entries, end = scan(handle.log_fd, 0, size, handle.log_path, store.stats)
    except CorruptDataError as exc:
        return [Finding("corrupt-log", handle.log_path, f"{exc}; repair cannot fix damage")]
    findings: list[Finding] = []
    if end < size:
        findings.append(
            Finding(
                "unfinished-write",
                handle.log_path,
                f"{size - end} bytes after the last whole record (never acknowledged)",
            )
        )
    index_problem = _index_problem(handle, entries, end)
    if index_problem:
        findings.append(Finding("index", handle.index.path, index_problem))
    thread_entries = [entry for entry in entries if entry.kind == "thread"]
    thread_slot = thread_entries[-1] if thread_entries else None
    deleted = thread_slot is not None and thread_slot.op == "del"
    if thread_slot is None:
        findings.append(Finding("corrupt-thread", handle.log_path, "no thread record"))
    elif deleted:
        findings.append(Finding("deleted-thread", handle.path, "deleted, but not yet removed"))
    if not repair or not findings:
        return findings
    if end < size:
        os.ftruncate(handle.log_fd, end)
        if store.durable:
            os.fsync(handle.log_fd)
    if index_problem or end < size:
        handle.index.rebuild(entries, end)
        if store.durable:
            handle.index.sync()
    if deleted:
        fcntl.flock(handle.log_fd, fcntl.LOCK_UN)
        store._clear_dead(handle.id)
    return [
        Finding(f.check, f.location, f.detail, repaired=f.check != "corrupt-thread")
        for f in findings
    ]


def _index_problem(handle: _Thread, entries: list[Entry], end: int) -> str | None:
    """Why the index does not say what the log says, or ``None`` if it does."""
    index = handle.index
    try:
        index.load()
        if not index.current(end):
            return "does not cover the whole log (it is rebuilt on next use)"
        latest: dict[bytes, Slot] = {}
        for entry in entries:
            latest.update(effects(entry))
        if any(index.get(key) != slot for key, slot in latest.items()):
            return "disagrees with the log"
    except CorruptDataError as exc:
        return str(exc)
    return None

"""``file://``: the embedded default. JSON lines on local disk, safe for many processes.

Layout (docs/design.md §6.2)::

    ROOT/threadstore.json              format name and version
    ROOT/threadstore.lock              flock that guards the clean-up of unfinished work
    ROOT/threads/THREAD_ID/log.jsonl   every change to the thread and what it holds
    ROOT/threads/THREAD_ID/index.bin   derived hash index over the log

A write is one ``write`` and one ``fdatasync`` of the thread's log, under an exclusive
``flock`` of that log; a read takes a shared one and costs O(page) through the index.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import suppress
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.backends._local_files import (
    TEMP_PREFIX,
    ReadCounter,
    create_file,
    failure,
    fsync_dir,
    io_errors,
    make_dirs,
    remove_tree,
    shared_lock,
    temp_name,
    try_exclusive,
    write_all,
)
from threadstore.backends._local_index import Index, Slot, item_key, position_key
from threadstore.backends._local_log import Entry, data_of, make_line, scan
from threadstore.base import BaseThreadStore, CursorNotFound
from threadstore.errors import (
    AlreadyExistsError,
    BackendError,
    CorruptDataError,
    InvalidRequestError,
    NotFoundError,
)
from threadstore.ids import ID_PATTERN
from threadstore.integrity import Finding
from threadstore.models import Record
from threadstore.protocol import Capability
from threadstore.records import Kind, Scope, decode, encode
from threadstore.url import StoreURL

__all__ = ["FORMAT", "FORMAT_VERSION", "LocalOptions", "LocalThreadStore"]

R = TypeVar("R", bound=Record)
log = logging.getLogger("threadstore")

FORMAT = "threadstore.local"
FORMAT_VERSION = 1
MARKER = "threadstore.json"
ROOT_LOCK = "threadstore.lock"
COUNTER = "threads.count"
THREADS_DIR = "threads"
LOG = "log.jsonl"
INDEX = "index.bin"
_NO_FOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC  # a link planted in the store leads nowhere
OPEN_THREADS = 64
"""Threads whose files one store object keeps open (least recently used are closed)."""
SYNC_EVERY = 1024
"""Writes to a thread after which its index is synced and marked clean."""


class LocalOptions(BaseModel):
    """Options of ``file://`` URLs (query string or keywords)."""

    model_config = ConfigDict(extra="forbid")

    durable: bool = True
    """fsync every write (file and directory). ``False`` is faster and survives a killed
    process, but a machine crash or power loss may lose recent writes."""


class _Thread:
    """The open files of one thread directory, shared by the users of one store object."""

    def __init__(self, thread_id: str, path: str, log_fd: int, index: Index) -> None:
        self.id = thread_id
        self.path = path
        self.log_path = os.path.join(path, LOG)
        self.log_fd = log_fd
        self.index = index
        self.mutex = threading.Lock()  # flock is per open file: threads need their own lock
        self.users = 0
        self.gone = False  # deleted, or superseded: open it again by path
        self.commits = 0  # writes through this object since its index was last synced

    def close(self) -> None:
        for fd in (self.log_fd, self.index.fd):
            with suppress(OSError):
                os.close(fd)


def _live(slot: Slot | None) -> bool:
    return slot is not None and slot.live


def _names(kind: Kind[Any], scope: Scope) -> tuple[str, str]:
    """The log's name for the kind, and the run a step list belongs to."""
    return kind.singular, scope[1] if len(scope) == 2 else ""


class LocalThreadStore(BaseThreadStore):
    """A thread store in a directory: durable, shared by threads and processes."""

    capabilities: frozenset[Capability] = frozenset(
        {Capability.PERSISTENT, Capability.SHARED, Capability.MULTI_PROCESS, Capability.DURABLE}
    )

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.durable = durable
        if not durable:
            self.capabilities = type(self).capabilities - {Capability.DURABLE}
        self.stats = ReadCounter()
        self._threads = os.path.join(self.root, THREADS_DIR)
        self._root_lock = os.path.join(self.root, ROOT_LOCK)
        self._cache: OrderedDict[str, _Thread] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        with io_errors("open a store at", self.root):
            self._prepare()

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        chosen = url.options(LocalOptions, options)
        if url.host not in ("", "localhost"):
            raise InvalidRequestError(
                f"{url.scheme}:// names a local directory; host {url.host!r} is not supported "
                f"(write {url.scheme}:///absolute/path)"
            )
        if not url.path:
            raise InvalidRequestError(f"a {url.scheme}:// URL needs a directory path")
        return cls(url.path, durable=chosen.durable)

    def __repr__(self) -> str:
        durable = "" if self.durable else " durable=False"
        return f"<LocalThreadStore {self.root}{durable}>"

    # --- the store directory ------------------------------------------------

    def _prepare(self) -> None:
        """Create or check the store directory, then clear unfinished work of dead writers."""
        make_dirs(self.root, self.durable)
        marker = os.path.join(self.root, MARKER)
        if not os.path.exists(marker):
            own = {MARKER, ROOT_LOCK, THREADS_DIR, COUNTER}
            foreign = [
                name
                for name in os.listdir(self.root)
                if name not in own and not name.startswith(TEMP_PREFIX)
            ]
            if foreign:
                raise BackendError(
                    f"{self.root} is not empty and holds no {MARKER}: it is not a "
                    "threadstore, and nothing was written to it"
                )
            content = json.dumps({"format": FORMAT, "version": FORMAT_VERSION}, indent=2)
            with shared_lock(self._root_lock):
                create_file(marker, content.encode() + b"\n", self.durable)
        self._check_marker(marker)
        make_dirs(self._threads, self.durable)
        self._clean_up()

    @staticmethod
    def _check_marker(path: str) -> None:
        with open(path, "rb") as file:
            raw = file.read()
        try:
            marker = json.loads(raw)
        except ValueError:
            marker = None
        if not isinstance(marker, dict) or marker.get("format") != FORMAT:
            raise CorruptDataError(f"{path} is not a threadstore marker")
        if marker.get("version") != FORMAT_VERSION:
            raise BackendError(
                f"{path}: format version {marker.get('version')!r} is not supported "
                f"(this threadstore reads version {FORMAT_VERSION})"
            )

    def _clean_up(self) -> None:
        """Remove ``.tmp-*`` leftovers, if no process is making any right now.

        Every maker of temporary files holds a shared lock on ``threadstore.lock``;
        getting it exclusively proves the leftovers belong to dead processes.
        """
        fd = os.open(self._root_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not try_exclusive(fd):
                return
            for directory in (self.root, self._threads):
                for entry in os.scandir(directory):
                    if entry.name.startswith(TEMP_PREFIX):
                        log.info("removing unfinished %s", entry.path)
                        remove_tree(entry.path)
        finally:
            os.close(fd)

    def _thread_path(self, thread_id: str) -> str:
        if ID_PATTERN.fullmatch(thread_id) is None:  # the base checks too; paths demand it
            raise InvalidRequestError(f"invalid thread id {thread_id[:80]!r}")
        return os.path.join(self._threads, thread_id)

    # --- open threads: a cache of file descriptors ----------------------------

    def _open_thread(self, thread_id: str) -> _Thread | None:
        path = self._thread_path(thread_id)
        with io_errors("open thread directory", path):
            try:
                dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NO_FOLLOW)
            except FileNotFoundError:
                return None
            try:  # both files through one directory descriptor: the same thread, always
                try:
                    log_fd = os.open(LOG, os.O_RDWR | os.O_APPEND | _NO_FOLLOW, dir_fd=dir_fd)
                except FileNotFoundError:
                    raise CorruptDataError(f"{path} is a thread directory without {LOG}") from None
                try:
                    index_fd = os.open(
                        INDEX, os.O_RDWR | os.O_CREAT | _NO_FOLLOW, 0o644, dir_fd=dir_fd
                    )
                except BaseException:
                    os.close(log_fd)
                    raise
            finally:
                os.close(dir_fd)
        index = Index(index_fd, os.path.join(path, INDEX), self.stats, self.durable)
        return _Thread(thread_id, path, log_fd, index)

    def _acquire(self, thread_id: str) -> _Thread | None:
        with self._cache_lock:
            if self._closed:
                raise BackendError(f"{self!r} is closed")
            if self._pid != os.getpid():  # a forked child must not share our flocks
                for inherited in self._cache.values():
                    inherited.close()
                self._cache.clear()
                self._pid = os.getpid()
            handle = self._cache.get(thread_id)
            if handle is None or handle.gone:
                handle = self._open_thread(thread_id)
                if handle is None:
                    return None
                self._cache[thread_id] = handle
            self._cache.move_to_end(thread_id)
            handle.users += 1
            if len(self._cache) > OPEN_THREADS:
                self._evict()
            return handle

    def _release(self, handle: _Thread) -> None:
        with self._cache_lock:
            handle.users -= 1
            if handle.users == 0 and self._cache.get(handle.id) is not handle:
                handle.close()
            elif handle.users == 0 and handle.gone:
                del self._cache[handle.id]
                handle.close()

    def _evict(self) -> None:
        idle = [tid for tid, handle in self._cache.items() if handle.users == 0]
        for thread_id in idle[: max(0, len(self._cache) - OPEN_THREADS)]:
            self._cache.pop(thread_id).close()

    # --- locking and keeping the index current --------------------------------

    def _locked(self, thread_id: str, exclusive: bool) -> _Locked:
        """``with`` it: the thread, locked, its index current; ``None`` if it does not exist."""
        return _Locked(self, thread_id, exclusive)

    def _lock(self, thread_id: str, exclusive: bool) -> _Thread | None:
        for _ in range(2):  # a cached thread may have been deleted: then look again
            handle = self._acquire(thread_id)
            if handle is None:
                return None
            handle.mutex.acquire()
            try:
                try:
                    fcntl.flock(handle.log_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                except OSError as exc:
                    raise failure("lock", handle.log_path, exc) from exc
                if self._refresh(handle, exclusive):
                    return handle
            except BaseException:
                self._unlock(handle)
                raise
            handle.gone = True
            self._unlock(handle)
        return None

    def _unlock(self, handle: _Thread) -> None:
        try:
            fcntl.flock(handle.log_fd, fcntl.LOCK_UN)
        except OSError:
            handle.gone = True
        finally:
            handle.mutex.release()
            self._release(handle)

    def _refresh(self, handle: _Thread, exclusive: bool) -> bool:
        """Bring the index up to the log (repairing it if needed); return if the thread lives."""
        index = handle.index
        try:
            index.load()
            size = os.fstat(handle.log_fd).st_size
            if not index.current(size):
                if not exclusive:  # repairs need the exclusive lock; then look again
                    fcntl.flock(handle.log_fd, fcntl.LOCK_EX)
                    index.load()
                    size = os.fstat(handle.log_fd).st_size
                if not index.current(size):
                    self._repair(handle, size)
            slot = index.get(item_key("thread", "", handle.id))
        except OSError as exc:
            raise failure("read", index.path, exc) from exc
        if slot is None:
            raise CorruptDataError(f"{handle.log_path} does not start with its thread record")
        return slot.live

    def _repair(self, handle: _Thread, size: int) -> None:
        """Index the log past what the index covers, or all of it if the index is in doubt.

        Bytes after the last whole record are an unfinished write of a dead process
        (never acknowledged): they are cut off.
        """
        index = handle.index
        trusted = index.trusted(size)
        start = index.header.covered if trusted and index.header is not None else 0
        if size - start > start:  # a long tail: one pass over the log beats slot-by-slot replay
            trusted, start = False, 0
        entries, end = scan(handle.log_fd, start, size, handle.log_path, self.stats)
        if end < size:
            log.warning(
                "cutting an unfinished write of %d bytes off %s", size - end, handle.log_path
            )
            os.ftruncate(handle.log_fd, end)
            if self.durable:
                os.fsync(handle.log_fd)
        if trusted:
            for entry in entries:
                index.apply(entry)
            index.commit(end)
        else:
            log.info("rebuilding %s from %d log records", index.path, len(entries))
            index.rebuild(entries, end)

    # --- writing and reading lines --------------------------------------------

    def _commit(self, handle: _Thread, entries: list[Entry], lines: bytes) -> None:
        """Append lines in one write and one fsync, then index them. The caller holds the
        exclusive lock."""
        start = entries[0].offset
        try:
            write_all(handle.log_fd, lines)
            if self.durable:
                os.fdatasync(handle.log_fd)
        except OSError as exc:
            with suppress(OSError):  # after a failed write or fsync, take the lines back
                os.ftruncate(handle.log_fd, start)
            raise failure("append to", handle.log_path, exc) from exc
        try:
            for entry in entries:
                handle.index.apply(entry)
            handle.index.commit(start + len(lines))
        except OSError as exc:  # the lines are safe in the log; the next writer re-indexes them
            raise failure("update", handle.index.path, exc) from exc
        handle.commits += 1
        if self.durable and handle.commits >= SYNC_EVERY:
            with io_errors("sync", handle.index.path):
                handle.index.sync()
            handle.commits = 0

    def _write(
        self,
        handle: _Thread,
        op: str,
        kind: str,
        changes: list[tuple[str, int, Record | None]],
        run: str = "",
    ) -> None:
        """Log one change per ``(record_id, seq, record)``: all in one commit."""
        header = handle.index.header
        assert header is not None
        entries, lines, offset = [], b"", header.covered
        for record_id, seq, record in changes:
            data = None if record is None else encode(record)
            line = make_line(op, kind, record_id, seq, run, data)
            entries.append(Entry(op, kind, run, record_id, seq, offset, len(line)))
            lines += line
            offset += len(line)
        self._commit(handle, entries, lines)

    def _read(self, handle: _Thread, kind: Kind[R], slot: Slot, record_id: str | None) -> R:
        line = self.stats.pread(handle.log_fd, slot.length, slot.offset)
        record = self._decode(handle, kind, slot, line)
        if record_id is not None and getattr(record, "id", None) != record_id:
            raise CorruptDataError(
                f"damaged index {handle.index.path}: it places {record_id!r} at byte "
                f"{slot.offset} of the log (it is derived from the log; remove it and it "
                "is rebuilt)"
            )
        return record

    def _read_all(self, handle: _Thread, kind: Kind[R], slots: list[Slot]) -> list[R]:
        """The records at ``slots``, in that order; adjacent lines come in one read."""
        lines: dict[int, bytes] = {}
        ordered = sorted(slots)
        start = 0
        while start < len(ordered):
            end = start + 1
            while end < len(ordered) and ordered[end].offset == (
                ordered[end - 1].offset + ordered[end - 1].length
            ):
                end += 1
            first, last = ordered[start], ordered[end - 1]
            size = last.offset + last.length - first.offset
            block = self.stats.pread(handle.log_fd, size, first.offset)
            for slot in ordered[start:end]:
                at = slot.offset - first.offset
                lines[slot.offset] = block[at : at + slot.length]
            start = end
        return [self._decode(handle, kind, slot, lines[slot.offset]) for slot in slots]

    def _decode(self, handle: _Thread, kind: Kind[R], slot: Slot, line: bytes) -> R:
        where = f"{handle.log_path} at byte {slot.offset}"
        data = data_of(line) if len(line) == slot.length else None
        if data is None:
            raise CorruptDataError(f"corrupt log record in {where}")
        record = decode(kind, data, where)
        self.stats.records_decoded += 1
        return record

    def _locate(self, handle: _Thread, kind: Kind[Any], scope: Scope, record_id: str) -> Slot:
        """The record's live slot; raises the not-found error of its run or itself."""
        name, run = self._live_list(handle, kind, scope)
        slot = handle.index.get(item_key(name, run, record_id))
        if not _live(slot):
            raise kind.missing(record_id)
        assert slot is not None
        return slot

    @staticmethod
    def _live_list(handle: _Thread, kind: Kind[Any], scope: Scope) -> tuple[str, str]:
        """The list's names in the log; raises the run's not-found error if it is gone."""
        name, run = _names(kind, scope)
        if run and not _live(handle.index.get(item_key("run", "", run))):
            raise kind.owner_missing(scope, 1)
        return name, run

    def _held(self, kind: Kind[Any], scope: Scope, record_id: str, exclusive: bool) -> _Locked:
        """The thread a record lives in, locked; ``None`` when it is gone."""
        return self._locked(scope[0] if scope else record_id, exclusive)

    @staticmethod
    def _present(handle: _Thread | None, kind: Kind[Any], scope: Scope, record_id: str) -> _Thread:
        if handle is None:
            raise kind.owner_missing(scope) if scope else kind.missing(record_id)
        return handle

    # --- storage hooks --------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        if kind.owner is None:
            for record in records:
                self._create_thread(record.id, encode(record))
            return
        with self._locked(scope[0], exclusive=True) as handle:
            handle = self._present(handle, kind, scope, "")
            name, run = self._live_list(handle, kind, scope)
            index = handle.index
            for record in records:
                if _live(index.get(item_key(name, run, record.id))):
                    raise AlreadyExistsError(f"{name} {record.id!r} already exists")
            first = index.count(name, run)
            changes = [(r.id, first + n, r) for n, r in enumerate(records)]
            self._write(handle, "add", name, list(changes), run)

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        with self._held(kind, scope, record_id, exclusive=False) as handle:
            handle = self._present(handle, kind, scope, record_id)
            slot = self._locate(handle, kind, scope, record_id)
            return self._read(handle, kind, slot, record_id)

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        with self._held(kind, scope, record_id, exclusive=True) as handle:
            handle = self._present(handle, kind, scope, record_id)
            slot = self._locate(handle, kind, scope, record_id)
            updated = change(self._read(handle, kind, slot, record_id))
            name, run = _names(kind, scope)
            self._write(handle, "set", name, [(record_id, slot.seq, updated)], run)
            return updated

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        if kind.owner is None:
            if not self._delete_thread(record_id):
                raise kind.missing(record_id)
            return
        with self._locked(scope[0], exclusive=True) as handle:
            handle = self._present(handle, kind, scope, record_id)
            slot = self._locate(handle, kind, scope, record_id)
            name, run = _names(kind, scope)
            self._write(handle, "del", name, [(record_id, slot.seq, None)], run)

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        if kind.owner is None:
            return self._scan_threads(kind, cursor, descending, count)
        with self._locked(scope[0], exclusive=False) as handle:
            handle = self._present(handle, kind, scope, "")
            name, run = self._live_list(handle, kind, scope)
            index = handle.index
            total = index.count(name, run)
            if cursor is None:
                position = total if descending else -1
            else:
                at = index.get(item_key(name, run, cursor))
                if at is None or not at.live:
                    raise CursorNotFound(cursor)
                position = at.seq
            step = -1 if descending else 1
            found: list[Slot] = []
            position += step
            while 0 <= position < total and len(found) < count:
                slot = index.get(position_key(name, run, position))
                if slot is None:
                    raise CorruptDataError(
                        f"damaged index {index.path}: no {name} at position {position} "
                        "(it is derived from the log; remove it and it is rebuilt)"
                    )
                if slot.live:
                    found.append(slot)
                position += step
            return self._read_all(handle, kind, found)

    # --- threads: one directory each ----------------------------------------

    def _create_thread(self, thread_id: str, data: bytes) -> None:
        path = self._thread_path(thread_id)
        line = make_line("add", "thread", thread_id, self._next_thread_number(), data=data)
        for _ in range(3):
            if self._place_thread(path, line):
                return
            if not self._clear_dead(thread_id):
                raise AlreadyExistsError(f"thread {thread_id!r} already exists")
        raise BackendError(f"cannot create {path}: it keeps reappearing")

    def _next_thread_number(self) -> int:
        """The next number of the store-wide count of created threads: their list order."""
        path = os.path.join(self.root, COUNTER)
        with io_errors("count threads in", path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | _NO_FOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.pread(fd, 16, 0)
                number = int(raw) + 1 if raw.strip().isdigit() else 1
                os.pwrite(fd, b"%015d\n" % number, 0)
            finally:
                os.close(fd)
        return number

    def _place_thread(self, path: str, line: bytes) -> bool:
        """Build the thread's directory aside, then rename it into place (never over one)."""
        with io_errors("create", path), shared_lock(self._root_lock):
            tmp = os.path.join(self._threads, temp_name())
            os.mkdir(tmp, 0o755)
            placed = False
            try:
                fd = os.open(
                    os.path.join(tmp, LOG),
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                    0o644,
                )
                try:
                    write_all(fd, line)
                    if self.durable:
                        os.fdatasync(fd)
                finally:
                    os.close(fd)
                if self.durable:
                    fsync_dir(tmp)
                try:
                    os.rename(tmp, path)
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        return False
                    raise
                placed = True
            finally:
                if not placed:
                    remove_tree(tmp)
            if self.durable:
                fsync_dir(self._threads)
            return True

    def _clear_dead(self, thread_id: str) -> bool:
        """Finish the deletion of a deleted thread whose directory is still in place.

        Return whether the name is free; ``False`` means a live thread holds it.
        """
        handle = self._open_thread(thread_id)
        if handle is None:
            return True
        trash = None
        try:
            with io_errors("lock", handle.log_path):
                fcntl.flock(handle.log_fd, fcntl.LOCK_EX)
            if self._refresh(handle, exclusive=True):
                return False
            trash = self._retire(handle)
        finally:
            handle.close()
        remove_tree(trash)
        return True

    def _retire(self, handle: _Thread) -> str:
        """Move a deleted thread's directory out of the listing, for removal."""
        trash = os.path.join(self._threads, temp_name("deleted-"))
        with io_errors("delete", handle.path), shared_lock(self._root_lock):
            os.rename(handle.path, trash)
            if self.durable:
                fsync_dir(self._threads)
        return trash

    def _delete_thread(self, thread_id: str) -> bool:
        with self._locked(thread_id, exclusive=True) as handle:
            if handle is None:
                return False
            self._write(handle, "del", "thread", [(thread_id, 0, None)])
            handle.gone = True
            trash = self._retire(handle)
        with io_errors("remove", trash):
            remove_tree(trash)
        return True

    def _scan_threads(
        self, kind: Kind[Any], cursor: str | None, descending: bool, count: int
    ) -> list[Any]:
        """Threads in creation order: each thread's number, from its first log line."""
        with io_errors("list", self._threads):
            names = [name for name in os.listdir(self._threads) if ID_PATTERN.fullmatch(name)]
        numbered = []
        for name in names:
            with self._locked(name, exclusive=False) as handle:
                slot = None if handle is None else handle.index.get(item_key("thread", "", name))
                if slot is not None and slot.live:
                    numbered.append((slot.seq, name))
        line = [name for _, name in sorted(numbered, reverse=descending)]
        if cursor is not None:
            if cursor not in line:
                raise CursorNotFound(cursor)
            line = line[line.index(cursor) + 1 :]
        found = []
        for name in line:
            try:
                found.append(self._fetch(kind, (), name))
            except NotFoundError:
                continue
            if len(found) == count:
                break
        return found

    # --- lifecycle ----------------------------------------------------------

    def check_storage(self, repair: bool) -> list[Finding]:
        """Check every file of the store (see ``threadstore.integrity.StorageCheck``)."""
        from threadstore.backends._local_check import check_local_store

        with io_errors("check", self.root):
            return check_local_store(self, repair)

    def _close(self) -> None:
        """Sync the indexes this object wrote (so a reboot need not rebuild them), close all."""
        with self._cache_lock:
            if self._closed:
                return
            self._closed = True
            handles = list(self._cache.values())
            self._cache.clear()
            forked = self._pid != os.getpid()
        for handle in handles:
            if self.durable and handle.commits and not forked:
                with handle.mutex:
                    self._sync(handle)
            handle.close()

    def _sync(self, handle: _Thread) -> None:
        try:
            fcntl.flock(handle.log_fd, fcntl.LOCK_EX)
            if self._refresh(handle, exclusive=True):
                handle.index.sync()
        except (OSError, BackendError) as exc:  # the index is derived: a reboot rebuilds it
            log.warning("could not sync %s: %s", handle.index.path, exc)


class _Locked:
    """A thread held for one operation; an ``OSError`` inside becomes a BackendError."""

    __slots__ = ("exclusive", "handle", "store", "thread_id")

    def __init__(self, store: LocalThreadStore, thread_id: str, exclusive: bool) -> None:
        self.store = store
        self.thread_id = thread_id
        self.exclusive = exclusive
        self.handle: _Thread | None = None

    def __enter__(self) -> _Thread | None:
        self.handle = self.store._lock(self.thread_id, self.exclusive)
        return self.handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.handle is not None:
            self.store._unlock(self.handle)
            if isinstance(exc, OSError):
                raise failure("use thread directory", self.handle.path, exc) from exc

"""A journal: one log file and its index, locked, recovered and committed together.

The catalog of top-level records and the lists of each thread are journals. The log's
``flock`` is the journal's lock: exclusive to write, shared to read; ``flock`` belongs to
an open file description, so each journal object also has a mutex for the threads of its
process. Every lock taken brings the index up to the log (:meth:`Journal.refresh`); the
log is the truth, so what the index says is checked against the line it points to before
anything is decided from it (:meth:`Journal.line`).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TypeVar

from threadstore.backends.local.files import (
    ReadCounter,
    failure,
    fsync_dir,
    pwrite_all,
    pwrite_parts,
    start_writeback,
    try_exclusive,
)
from threadstore.backends.local.index import Header, Index, IndexMismatch
from threadstore.backends.local.log import SPARE, Entry, corrupt, intact, scan, spare
from threadstore.errors import BackendError, CorruptDataError

T = TypeVar("T")


__all__ = ["IndexMismatch", "Journal", "Written"]

log = logging.getLogger("threadstore")

_NO_FOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC  # a link planted in the store leads nowhere
_READ_AHEAD = 4096
_KEPT_LINES = 1 << 17
"""Bytes of checked log lines a journal object keeps (lines are never rewritten)."""
SYNC_EVERY = 1024
"""Commits to a journal after which its index is synced and marked clean."""
_PAGE = 4096
_MOST_SPARE = 1 << 14
"""The most spare space a log is given at once (a quarter of its length, up to this): each
new page of a file is slow to make, and more at once was a stall (design §6.2)."""
_FILL = memoryview(SPARE * (_MOST_SPARE + _PAGE))
"""Spare space to write from: made once, not for every log that grows."""


@dataclass(frozen=True, slots=True)
class Written:
    """A line to append and what the index learns from it (its offset filled in on write)."""

    line: bytes
    entry: Entry


class Journal:
    """One log and its index; see the module's docstring. Open with :meth:`open`."""

    def __init__(self, path: str, log_fd: int, index: Index, durable: bool) -> None:
        self.path = path
        self.log_fd = log_fd
        self.index = index
        self.durable = durable
        self.mutex = threading.Lock()
        self.size = 0
        """Where the log's records end, as of the last refresh (or this object's last
        write); spare space follows, up to :attr:`allocated`."""
        self.allocated = 0
        """The log file's length: its records and the spare space after them."""
        self.stat: os.stat_result | None = None
        """The log's status at the last refresh: its device and inode name it to the index."""
        self.users = 0
        self.commits = 0
        self.stale = False
        """The file was deleted or replaced: whoever wants the journal opens it again."""
        self.fresh = False
        """The file was started by this object and its directory entry is not durable
        yet: the next :meth:`sync` syncs the directory too."""
        self.opening: Written | None = None
        """The line an empty log's first write starts with (a list file's ``begin``), set
        by whoever starts the file: the file and its first records come in one write."""
        self.queued = False
        """The lock was held by another (thread or process) when this object last took
        it: writers are queueing for it, and a commit leaves the writeback hint to the
        flush after the lock (see :meth:`append`)."""
        self.written = 0
        """Where this object's last write ended (whole lines, never cut)."""
        self.synced = 0
        """Log bytes this object knows are durable: it synced the log after they were
        written."""
        self._kept: dict[int, bytes] = {}
        """offset → a line read from this file, its checksum checked then. A line is
        never rewritten; only an unfinished write is cut, and none of it was read."""
        self._kept_size = 0
        self.learned: dict[int, tuple[int, int, bytes, bytes | None]] = {}
        """offset → where a kept line ends, the position and the rest of the head it was
        checked to begin with, and the record JSON it carries (``entries.records_in``):
        read again, what is expected is compared with this, not with the line. Dropped
        with the kept lines."""

    @classmethod
    def open(
        cls,
        path: str,
        counter: ReadCounter,
        durable: bool,
        *,
        create: bool,
        directory: int | None = None,
    ) -> Journal | None:
        """Open the log at ``path`` (``None`` if it does not exist and ``create`` is false)
        and its index beside it (``.idx``), which is made when missing. With a
        ``directory`` descriptor, the files are opened in it by name."""
        flags = os.O_RDWR | _NO_FOLLOW | (os.O_CREAT if create else 0)
        index_path = path.removesuffix(".jsonl") + ".idx"
        names = (path, index_path)
        if directory is not None:
            names = (os.path.basename(path), os.path.basename(index_path))
        try:
            log_fd = os.open(names[0], flags, 0o644, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise failure("open", path, exc) from exc
        try:
            index_fd = os.open(
                names[1], os.O_RDWR | os.O_CREAT | _NO_FOLLOW, 0o644, dir_fd=directory
            )
        except OSError as exc:
            os.close(log_fd)
            raise failure("open", index_path, exc) from exc
        return cls(path, log_fd, Index(index_fd, index_path, counter), durable)

    def close(self) -> None:
        for fd in (self.log_fd, self.index.fd):
            with suppress(OSError):
                os.close(fd)

    # --- locking ------------------------------------------------------------------------

    def lock(self, exclusive: bool) -> None:
        """Take the journal for one operation, its index current with its log (an
        ``OSError`` becomes :class:`BackendError`). Pair with :meth:`unlock`."""
        queued = not self.mutex.acquire(blocking=False)
        if queued:
            self.mutex.acquire()
        try:
            try:
                if not exclusive:
                    fcntl.flock(self.log_fd, fcntl.LOCK_SH)
                elif not try_exclusive(self.log_fd):
                    queued = True
                    fcntl.flock(self.log_fd, fcntl.LOCK_EX)
                self.queued = queued
            except OSError as exc:
                raise failure("lock", self.path, exc) from exc
            try:
                self.refresh(exclusive)
            except OSError as exc:
                raise failure("read", self.path, exc) from exc
        except BaseException:
            self.unlock()
            raise

    def unlock(self) -> None:
        with suppress(OSError):
            fcntl.flock(self.log_fd, fcntl.LOCK_UN)
        self.mutex.release()

    @contextmanager
    def locked(self, exclusive: bool) -> Iterator[Journal]:
        """:meth:`lock` for the length of a ``with`` block."""
        self.lock(exclusive)
        try:
            yield self
        except OSError as exc:
            raise failure("use", self.path, exc) from exc
        finally:
            self.unlock()

    def refresh(self, exclusive: bool) -> None:
        """Bring the index up to the log: replay lines it misses, rebuild it if in doubt.

        Bytes after the last whole record (or the last whole batch) are an unfinished
        write of a dead process, never acknowledged: they are cut off.
        """
        stat = self.stat = os.fstat(self.log_fd)
        if stat.st_nlink == 0 and not self.stale:
            self.stale = True
            self._drop_orphan_index()
        self.allocated = stat.st_size
        try:
            self.size = self._end(self.index.load(), stat.st_size)
            if self.index.current(stat, self.size):
                return
        except CorruptDataError:
            pass
        if not exclusive:  # repairs need the exclusive lock; then look again
            fcntl.flock(self.log_fd, fcntl.LOCK_EX)
        self.repair()

    def _end(self, header: Header | None, length: int) -> int:
        """Where the records end if the index is current: where its header says, if spare
        space follows there (one byte read); else the file's length (a writer died after
        writing, or the index is not this log's: a repair finds the end)."""
        if header is None or header.covered >= length:
            return length
        mark = self.index.counter.pread(self.log_fd, 1, header.covered)
        return header.covered if mark and spare(mark) else length

    def _drop_orphan_index(self) -> None:
        """The log was removed: if our index file was made after that, beside nothing, it
        is an orphan of ours to remove (another's, made since, is left alone)."""
        with suppress(OSError):
            if os.stat(self.index.path).st_ino == os.fstat(self.index.fd).st_ino:
                with suppress(FileNotFoundError):
                    if not os.path.exists(self.path):
                        os.unlink(self.index.path)

    def repair(self, rebuild: bool = False) -> None:
        """Index what the index misses (all of the log if ``rebuild`` or in doubt).
        The caller holds the exclusive lock."""
        stat = os.fstat(self.log_fd)
        self.allocated = stat.st_size
        index = self.index
        try:
            self.size = self._end(index.load(), stat.st_size)
            if not rebuild and index.current(stat, self.size):
                return
            behind = not rebuild and index.behind(stat, self.size)
        except CorruptDataError:
            behind = False
        header = index.header
        start = header.covered if behind and header is not None else 0
        if stat.st_size - start > start:  # a long tail: one pass beats slot-by-slot replay
            behind, start = False, 0
        entries, end, clean = scan(self.log_fd, start, stat.st_size, self.path, index.counter)
        self.size = end
        if not clean:
            log.warning("cutting an unfinished write off %s at byte %d", self.path, end)
            os.ftruncate(self.log_fd, end)
            self._forget_lines()
            if self.durable:
                os.fsync(self.log_fd)
            stat = os.fstat(self.log_fd)
            self.allocated = end
        try:
            if behind:
                index.forget()  # a dead writer's slots may be on disk: read them, not memory
                index.apply(entries)
                index.commit(end, stat)
            else:
                log.info("rebuilding %s from %d log records", index.path, len(entries))
                index.rebuild(entries, end, stat)
            index.forget()  # what the replay looked up says nothing of what readers will
        except CorruptDataError:
            index.rebuild(scan(self.log_fd, 0, end, self.path, index.counter)[0], end, stat)
        except OSError as exc:  # the index is derived: go on without writing it
            log.warning("cannot update %s (%s): indexing the log in memory", index.path, exc)
            index.memory = {}
            index.rebuild(scan(self.log_fd, 0, end, self.path, index.counter)[0], end, stat)

    def checked(self, step: Callable[[], T]) -> T:
        """Run ``step`` (the journal locked); if it finds the index damaged, rebuild the
        index from the log and run it once more (damage a rebuild does not cure is raised)."""
        try:
            return step()
        except IndexMismatch:
            fcntl.flock(self.log_fd, fcntl.LOCK_EX)  # a shared lock becomes exclusive
            self.repair(rebuild=True)
            return step()

    # --- reading ------------------------------------------------------------------------

    def line(self, offset: int) -> bytes:
        """The checksummed line at ``offset`` (an offset the index gave: it is checked)."""
        return self.lines([offset])[offset]

    def lines(self, offsets: Sequence[int]) -> dict[int, bytes]:
        """The lines at ``offsets``; lines close together come in one read, and lines
        this object read before are not read again."""
        found: dict[int, bytes] = {}
        ordered = []
        for offset in sorted(set(offsets)):
            if not 0 <= offset < self.size:
                raise self.index.damaged(f"it points at byte {offset}, past the log's end")
            kept = self._kept.get(offset)
            if kept is not None and offset + len(kept) <= self.size:
                found[offset] = kept
            else:
                ordered.append(offset)
        start = 0
        while start < len(ordered):
            end = start + 1
            while end < len(ordered) and ordered[end] - ordered[end - 1] <= _READ_AHEAD:
                end += 1
            first, last = ordered[start], ordered[end - 1]
            size = min(last + _READ_AHEAD, self.size) - first
            block = self.index.counter.pread(self.log_fd, size, first)
            for offset in ordered[start:end]:
                found[offset] = self._keep(offset, self._cut(block, offset - first, offset))
            start = end
        return found

    def _keep(self, offset: int, line: bytes) -> bytes:
        if self._kept_size + len(line) > _KEPT_LINES:
            self._forget_lines()
        self._kept[offset] = line
        self._kept_size += len(line)
        return line

    def _forget_lines(self) -> None:
        self._kept.clear()
        self._kept_size = 0
        self.learned.clear()

    def forget(self) -> None:
        """Drop what this object remembers of its files: the next reads go to the disk."""
        self._forget_lines()
        self.index.forget()

    def _cut(self, block: bytes, at: int, offset: int) -> bytes:
        newline = block.find(b"\n", at)
        line = block[at:] if newline < 0 else block[at : newline + 1]
        while newline < 0 and offset + len(line) < self.size:  # a long line: read on
            more = self.index.counter.pread(
                self.log_fd, max(len(line), _READ_AHEAD), offset + len(line)
            )
            newline = more.find(b"\n")
            line += more if newline < 0 else more[: newline + 1]
        if not intact(line):
            raise corrupt(self.path, offset, "its checksum does not match")
        return line

    # --- writing (under the exclusive lock) ---------------------------------------------

    def append(self, written: Sequence[Written]) -> int:
        """Write the lines in one write and index them; return where the log now ends.

        The lines go into the log's spare space; a write that needs more also writes new
        spare space after them (a quarter of the log's length, at most 16 KiB, to a whole
        page), or, if the disk has no room for that, the lines alone. A failed write is taken
        back (nothing is stored). The index is derived: if it cannot be written the lines
        still count, and the next user indexes them.
        """
        start = self.size
        lines = b"".join(item.line for item in written)
        end = start + len(lines)
        try:
            if end <= self.allocated:
                pwrite_all(self.log_fd, lines, start)
            else:
                self._grow(start, lines)
        except OSError as exc:
            with suppress(OSError):  # after a failed write, take the lines back
                os.ftruncate(self.log_fd, start)
            self.allocated = start
            self._forget_lines()
            raise failure("append to", self.path, exc, stored=False) from exc
        self.size = self.written = end
        self.commits += 1
        if self.durable and not self.queued:  # the disk writes them while the index is updated
            start_writeback(self.log_fd, start, self.allocated - start)
        try:
            self.index.apply(item.entry for item in written)
            self.index.commit(self.size, self.stat or os.fstat(self.log_fd))
            if self.durable and self.commits % SYNC_EVERY == 0:
                self.index.sync()
        except (OSError, CorruptDataError) as exc:
            log.warning("cannot update %s (%s): the next user re-indexes it", self.index.path, exc)
            self.index.forget()
        return self.size

    def _grow(self, start: int, lines: bytes) -> None:
        """Write ``lines`` at ``start``, past the log's spare space, and new spare space
        after them; if there is no room for it, the lines alone."""
        end = start + len(lines)
        grown = -(-(end + min(end // 4, _MOST_SPARE)) // _PAGE) * _PAGE
        try:
            pwrite_parts(self.log_fd, (lines, _FILL[: grown - end]), start)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            os.ftruncate(self.log_fd, start)
            grown = end
            pwrite_all(self.log_fd, lines, start)
        self.allocated = grown

    def sync(self, what: str) -> None:
        """Make the log durable up to here (``fdatasync``; a fresh file's directory too);
        outside the lock, so writers that wrote meanwhile share one flush."""
        if not self.durable:
            self.fresh = False
            return
        end = self.written
        try:
            os.fdatasync(self.log_fd)
            if self.fresh:
                fsync_dir(os.path.dirname(self.path))
                self.fresh = False
        except OSError as exc:
            raise BackendError(
                f"cannot sync {self.path} ({os.strerror(exc.errno or 0)}): the outcome of "
                f"{what} is unknown; read it back to see whether it was stored"
            ) from exc
        self.synced = max(self.synced, end)

    def make_durable(self, end: int) -> None:
        """Make the log durable up to ``end`` (bytes already written, perhaps by another
        process), unless this object knows it is. For a write that depends on them: an
        error means that write did not happen, so nothing of it was stored."""
        if not self.durable or end <= self.synced:
            return
        try:
            os.fdatasync(self.log_fd)
        except OSError as exc:
            raise failure("sync", self.path, exc, stored=False) from exc
        self.synced = max(self.synced, end)

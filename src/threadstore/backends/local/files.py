"""POSIX recipes the local-disk backend is built from, each done once and done right.

fsync of files and of the directories that name them, create-only writes through a
hard link, whole-file locks with ``flock``, and removal that tolerates a concurrent
remover. :func:`failure` and :func:`io_errors` turn an ``OSError`` into a
:class:`BackendError` naming the path, so an I/O failure is never mistaken for "not
found".
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from threadstore.errors import BackendError

__all__ = [
    "PUNCHES_HOLES",
    "TEMP_PREFIX",
    "ReadCounter",
    "create_file",
    "failure",
    "fsync_dir",
    "io_errors",
    "make_dirs",
    "punch_hole",
    "pwrite_all",
    "pwrite_parts",
    "remove_tree",
    "shared_lock",
    "start_writeback",
    "temp_name",
    "try_exclusive",
    "write_all",
]

TEMP_PREFIX = ".tmp-"
"""Names that start with this are unfinished work; they never match an ID."""


def failure(doing: str, path: str, exc: OSError, *, stored: bool | None = None) -> BackendError:
    """The :class:`BackendError` for an ``OSError``: what failed, where, and why (and, for
    a write, that nothing of it was stored)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    after = "; nothing was stored" if stored is False else ""
    return BackendError(f"cannot {doing} {path}: {reason}{after}")


@contextmanager
def io_errors(doing: str, path: str) -> Iterator[None]:
    """Report an ``OSError`` as :class:`BackendError` (see :func:`failure`)."""
    try:
        yield
    except OSError as exc:
        raise failure(doing, path, exc) from exc


@dataclass
class ReadCounter:
    """Counts what a store reads, so tests can prove a page costs O(page), not O(thread)."""

    reads: int = 0
    bytes_read: int = 0
    records_decoded: int = 0

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        data = os.pread(fd, size, offset)
        self.reads += 1
        self.bytes_read += len(data)
        return data

    def reset(self) -> None:
        self.reads = self.bytes_read = self.records_decoded = 0


def temp_name(stem: str = "") -> str:
    return f"{TEMP_PREFIX}{stem}{secrets.token_hex(8)}"


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte: ``write(2)`` may transfer fewer than asked."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write every byte at ``offset``, looping on short writes like :func:`write_all`."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


_MOST_PARTS = 1024
"""Buffers one ``pwritev(2)`` takes (``IOV_MAX`` on Linux)."""


def pwrite_parts(fd: int, parts: Sequence[bytes | memoryview], offset: int) -> None:
    """Write ``parts`` one after another from ``offset``, in one system call per thousand
    parts unless the kernel writes less: long runs of the same bytes are written from one
    buffer, never built in memory first."""
    views = [memoryview(part) for part in parts if len(part)]
    first = 0
    while first < len(views):
        written = os.pwritev(fd, views[first : first + _MOST_PARTS], offset)
        offset += written
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


def _load_libc() -> ctypes.CDLL | None:
    """The C library this process already has loaded (its own symbols: no search of the
    system's libraries, which costs a child process and milliseconds at start-up)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _libc(name: str, *arguments: type[ctypes._SimpleCData[int]]) -> Callable[..., int] | None:
    """A function of the C library that Python's ``os`` lacks (``None`` where there is
    none: not Linux)."""
    function = getattr(_LIBC, name, None)
    if function is None:
        return None
    function.argtypes = arguments
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_fallocate = _libc("fallocate", ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_FALLOC_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
PUNCHES_HOLES = _fallocate is not None
"""Whether :func:`punch_hole` can give blocks back here."""
_sync_file_range = _libc(
    "sync_file_range", ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint
)
_SYNC_FILE_RANGE_WRITE = 2


def punch_hole(fd: int, offset: int, length: int) -> None:
    """Give a region's blocks back to the file system (a hole reads as zeros); best effort."""
    if _fallocate is not None and length > 0:
        _fallocate(fd, _FALLOC_PUNCH_HOLE, offset, length)


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a region's dirty pages to the disk, and return at once: a flush that
    follows some work later then has less left to wait for (a hint; it makes nothing
    durable, and its errors are the flush's to report)."""
    if _sync_file_range is not None and length > 0:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def fsync_dir(path: str) -> None:
    """Make the directory's entries (creates, renames, unlinks) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str, durable: bool) -> None:
    """Create ``path`` and its missing parents; fsync the parent of each one created."""
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        make_dirs(parent, durable)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    if durable:
        fsync_dir(parent)


def create_file(path: str, data: bytes, durable: bool) -> bool:
    """Create ``path`` holding ``data`` unless it exists; return whether this call made it.

    The content is complete before the name appears (temp file, fsync, ``link``), so a
    reader never sees a partial file, and ``link`` fails rather than overwrite.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, temp_name(name + "."))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    if durable:
        fsync_dir(directory)
    return True


def remove_tree(path: str) -> None:
    """Remove a file or directory tree; entries another process removes first are fine.

    Symbolic links are removed, never followed: nothing outside ``path`` is touched.
    """
    if os.path.islink(path):
        _unlink(path)
        return
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        entries = None
    if entries is None:
        _unlink(path)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            _unlink(entry.path)
    with suppress(FileNotFoundError):
        os.rmdir(path)


def _unlink(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


@contextmanager
def shared_lock(path: str) -> Iterator[None]:
    """Hold a shared ``flock`` on ``path`` on a descriptor of our own.

    A descriptor per holder keeps holders independent: ``flock`` belongs to the open
    file description, so threads sharing one descriptor would share (and release)
    one lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def try_exclusive(fd: int) -> bool:
    """Take an exclusive ``flock`` without waiting; return whether it was free."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True

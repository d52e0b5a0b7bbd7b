"""A journal's index: a hash table in a file, from keys to lines of the journal's log.

It answers in O(1) reads "where is the latest line of record X" (item keys), "which
record is at position N of a list" (position keys) and "how long is a list" (count
keys). The log is the truth and the index is derived: every log line says which slots
it sets, so replaying lines is idempotent, and whatever the index says is checked
against the log line it points to before anything is decided from it.

Slots are 16 bytes: a 64-bit tag of the key, then the line's offset (40 bits), a
deleted flag and a 16-bit checksum of the slot. Open addressing with linear probing;
a table grows by half before it is 80% full. Growth never stops an append: the new
table is allocated empty (a sparse extension of the file) and every later insert moves
a few slots of the old one across, so the move is spread over the next inserts; lookups
try the new table, then the old. When the move is done the old table's blocks are given
back to the file system.

The header (checksummed) records the log bytes the table covers, which log file it
belongs to, the boot it was written in, and the tables. Index writes are not fsynced:
within one boot the page cache holds them for every process; after a reboot an index is
trusted only if it was synced and marked clean (``close()`` does), else it is rebuilt.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import secrets
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import NamedTuple

from threadstore.backends.local.files import ReadCounter, pwrite_all
from threadstore.backends.local.log import GONE, RECORD_OPS, Entry
from threadstore.errors import CorruptDataError

__all__ = [
    "BOOT_ID",
    "GONE_KEY",
    "Header",
    "Index",
    "IndexMismatch",
    "Slot",
    "count_key",
    "effects",
    "item_key",
    "position_key",
]

_MAGIC = b"TSIDX2\n\x00"
_VERSION = 2
_HEADER = struct.Struct("<8sII16s10Q")
_HEADER_SIZE = 512
_SLOT = struct.Struct("<QQ")
_SLOT_SIZE = _SLOT.size
_EMPTY = bytes(_SLOT_SIZE)
_OFFSET_MASK = (1 << 40) - 1
_DELETED = 1 << 40
_CHECK_SHIFT = 48
_CLEAN = 1
_MIN_CAPACITY = 64
_FULL = 0.8
_GROWTH = 1.5
_MOVES_PER_PUT = 4
_WINDOW = 16  # slots per probe read: one pread almost always finds the key or a gap
_REMEMBERED = 1 << 15  # probes an index object keeps
_PAGE = 4096


class IndexMismatch(CorruptDataError):
    """The index is damaged (a slot fails its checksum, or leads to a line about something
    else); the log is not. Rebuilding the index from the log cures it."""


def _boot_id() -> bytes:
    """This boot's identity (Linux), to tell "same boot" from "after a possible power loss"."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as file:
            text = file.read().strip().replace(b"-", b"")
        return bytes.fromhex(text.decode())[:16].ljust(16, b"\0")
    except (OSError, ValueError):
        return bytes(16)


BOOT_ID = _boot_id()


class Slot(NamedTuple):
    """Where the latest line about a key lies (a count key: the count), and if deleted."""

    offset: int
    deleted: bool = False

    @property
    def live(self) -> bool:
        return not self.deleted


def item_key(kind: str, under: tuple[str, ...], record_id: str) -> str:
    return f"i\0{kind}\0{'/'.join(under)}\0{record_id}"


def position_key(kind: str, under: tuple[str, ...], seq: int) -> str:
    return f"p\0{kind}\0{'/'.join(under)}\0{seq}"


def count_key(kind: str, under: tuple[str, ...]) -> str:
    return f"n\0{kind}\0{'/'.join(under)}"


GONE_KEY = "gone"
"""Set by a ``gone`` line: the incarnation whose lists the journal holds was deleted."""


def effects(entry: Entry) -> list[tuple[str, Slot]]:
    """The slots one log line sets: everything the index knows comes from here."""
    if entry.op == GONE:
        return [(GONE_KEY, Slot(entry.offset))]
    if entry.op not in RECORD_OPS:
        return []
    slot = Slot(entry.offset, entry.op == "del")
    sets = [
        (item_key(entry.kind, entry.under, entry.id), slot),
        (position_key(entry.kind, entry.under, entry.seq), slot),
    ]
    if entry.op == "add":
        sets.append((count_key(entry.kind, entry.under), Slot(entry.seq + 1)))
    return sets


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") | 1


def _check(tag: int, value: int) -> int:
    return zlib.crc32(_SLOT.pack(tag, value)) & 0xFFFF


def _pack(tag: int, slot: Slot) -> bytes:
    value = slot.offset | (_DELETED if slot.deleted else 0)
    return _SLOT.pack(tag, value | _check(tag, value) << _CHECK_SHIFT)


@dataclass(slots=True)
class Header:
    """What the index file says about itself; checksummed, so damage is never believed."""

    flags: int
    boot: bytes
    generation: int
    """Counts commits: an unchanged header means an unchanged table."""
    covered: int
    """Log bytes the table reflects."""
    log_device: int
    log_inode: int
    table: int
    capacity: int
    used: int
    old_table: int
    old_capacity: int
    moved: int
    """Slots of the old table moved into the new one so far (a move is under way while
    ``moved < old_capacity``)."""

    def pack(self) -> bytes:
        values = [getattr(self, field.name) for field in fields(self)]
        packed = _HEADER.pack(_MAGIC, _VERSION, *values)
        return packed + struct.pack("<I", zlib.crc32(packed))

    @classmethod
    def unpack(cls, data: bytes) -> Header | None:
        size = _HEADER.size
        if len(data) < size + 4 or struct.unpack_from("<I", data, size)[0] != zlib.crc32(
            data[:size]
        ):
            return None
        magic, version, *values = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            return None
        header = cls(*values)
        if header.capacity < _MIN_CAPACITY or header.used > header.capacity:
            return None
        return header

    def copy(self) -> Header:
        return Header(*(getattr(self, field.name) for field in fields(self)))


class Index:
    """The index file of one journal. Callers hold the journal's lock around every use."""

    def __init__(self, fd: int, path: str, counter: ReadCounter) -> None:
        self.fd = fd
        self.path = path
        self.counter = counter
        self.header: Header | None = None
        # The header as this object last wrote or checked it, and the probes it made
        # since: while the header on disk is byte for byte the same and the log has not
        # grown past it, so is the table.
        self._seen: bytes | None = None
        self._found: dict[str, tuple[int, int, Slot | None]] = {}
        """key → (tag, its slot index in the current table or -1, its value or None)."""
        self.memory: dict[str, Slot] | None = None
        """Set when the file cannot be written (a full disk): the index then lives here."""

    # --- trust ------------------------------------------------------------------------

    def load(self) -> Header | None:
        """Read the header again; forget what was remembered if it changed."""
        if self.memory is not None:
            return self.header
        raw = self.counter.pread(self.fd, _HEADER.size + 4, 0)
        if raw != self._seen:
            self._found.clear()
            self._seen = raw
            self.header = Header.unpack(raw)
        return self.header

    def current(self, log: os.stat_result) -> bool:
        """Whether the table reflects exactly the log ``log`` describes."""
        header = self.header
        return (
            header is not None
            and header.covered == log.st_size
            and self.belongs(header, log)
            and (header.boot == BOOT_ID or bool(header.flags & _CLEAN) or self.memory is not None)
        )

    def behind(self, log: os.stat_result) -> bool:
        """Whether the table is trustworthy but misses lines at the log's end (a writer
        died, or could not write the index): those can be replayed."""
        header = self.header
        return (
            header is not None
            and header.covered < log.st_size
            and self.belongs(header, log)
            and (header.boot == BOOT_ID or bool(header.flags & _CLEAN))
        )

    def belongs(self, header: Header, log: os.stat_result) -> bool:
        return self.memory is not None or (header.log_device, header.log_inode) == (
            log.st_dev,
            log.st_ino,
        )

    def forget(self) -> None:
        """Drop every remembered probe (the table changed under this object)."""
        self._found.clear()
        self._seen = None

    # --- lookups ----------------------------------------------------------------------

    def get(self, key: str) -> Slot | None:
        if self.memory is not None:
            return self.memory.get(key)
        known = self._found.get(key)
        if known is not None:
            return known[2]
        header = self._header()
        tag = _digest(key)
        index, slot = self._probe(header.table, header.capacity, tag)
        if slot is None and header.moved < header.old_capacity:
            _, slot = self._probe(header.old_table, header.old_capacity, tag)
            index = -1 if slot is not None else index
        if len(self._found) > _REMEMBERED:
            self._found.clear()
        self._found[key] = (tag, index, slot)
        return slot

    def count(self, kind: str, under: tuple[str, ...]) -> int:
        slot = self.get(count_key(kind, under))
        return 0 if slot is None else slot.offset

    def _probe(self, table: int, capacity: int, tag: int) -> tuple[int, Slot | None]:
        """The slot index holding ``tag`` and its value, or the empty one it would take."""
        index = tag % capacity
        for _ in range(0, capacity, _WINDOW):
            count = min(_WINDOW, capacity - index)
            size = count * _SLOT_SIZE
            block = self.counter.pread(self.fd, size, table + index * _SLOT_SIZE)
            if len(block) != size:
                raise self.damaged("the table is cut short")
            for at in range(0, size, _SLOT_SIZE):
                found, value = _SLOT.unpack_from(block, at)
                if found == 0 and value == 0:
                    return index + at // _SLOT_SIZE, None
                slot = self._unpack(found, value, index + at // _SLOT_SIZE)
                if found == tag:
                    return index + at // _SLOT_SIZE, slot
            index = (index + count) % capacity
        raise self.damaged("the table has no free slot")

    def _unpack(self, tag: int, value: int, where: int) -> Slot:
        plain = value & ~(0xFFFF << _CHECK_SHIFT)
        if value >> _CHECK_SHIFT != _check(tag, plain):
            raise self.damaged(f"slot {where} fails its checksum")
        return Slot(plain & _OFFSET_MASK, bool(plain & _DELETED))

    # --- changes (the caller holds the exclusive lock) ---------------------------------

    def apply(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            for key, slot in effects(entry):
                self.put(key, slot)

    def put(self, key: str, slot: Slot) -> None:
        if self.memory is not None:
            self.memory[key] = slot
            return
        header = self._header()
        if header.moved < header.old_capacity:
            self._move(_MOVES_PER_PUT)
        elif header.used + 1 > header.capacity * _FULL:
            self._grow()
        known = self._found.get(key)
        if known is not None and known[2] is not None and known[1] >= 0:
            tag, index = known[0], known[1]  # the key's own slot in the current table
        else:
            tag = _digest(key)
            index, found = self._probe(header.table, header.capacity, tag)
            if found is None:
                header.used += 1
                self._forget_gaps()
        os.pwrite(self.fd, _pack(tag, slot), header.table + index * _SLOT_SIZE)
        self._found[key] = (tag, index, slot)

    def _forget_gaps(self) -> None:
        """A gap was filled: any remembered gap may have been that one."""
        for key in [k for k, (_, _, slot) in self._found.items() if slot is None]:
            del self._found[key]

    def _grow(self) -> None:
        """Start moving into a table half again as large, allocated empty at the file's end."""
        header = self._header()
        capacity = int(header.capacity * _GROWTH)
        end = os.fstat(self.fd).st_size
        start = -(-end // _PAGE) * _PAGE
        os.ftruncate(self.fd, start + capacity * _SLOT_SIZE)  # sparse: reads as empty slots
        header.old_table, header.old_capacity, header.moved = header.table, header.capacity, 0
        header.table, header.capacity, header.used = start, capacity, 0
        self._found.clear()

    def _move(self, count: int) -> None:
        """Move the next ``count`` slots of the old table into the new one (if absent)."""
        header = self._header()
        first = header.moved
        count = min(count, header.old_capacity - first)
        block = self.counter.pread(
            self.fd, count * _SLOT_SIZE, header.old_table + first * _SLOT_SIZE
        )
        for at in range(0, len(block), _SLOT_SIZE):
            tag, value = _SLOT.unpack_from(block, at)
            if tag == 0 and value == 0:
                continue
            self._unpack(tag, value, first + at // _SLOT_SIZE)
            index, found = self._probe(header.table, header.capacity, tag)
            if found is None:
                pwrite_all(self.fd, block[at : at + _SLOT_SIZE], header.table + index * _SLOT_SIZE)
                header.used += 1
        header.moved = first + count
        self._found.clear()
        if header.moved >= header.old_capacity:
            _release(self.fd, header.old_table, header.old_capacity * _SLOT_SIZE)
            header.old_table = header.old_capacity = header.moved = 0

    def commit(self, covered: int, log: os.stat_result) -> None:
        """Record that the table reflects the log up to ``covered``."""
        header = self._header()
        header.covered = covered
        header.log_device, header.log_inode = log.st_dev, log.st_ino
        header.boot = BOOT_ID
        header.flags &= ~_CLEAN
        header.generation += 1
        if self.memory is None:
            raw = header.pack()
            os.pwrite(self.fd, raw, 0)
            self._seen = raw

    def sync(self) -> None:
        """Make the table durable and mark it clean, so it is trusted after a reboot."""
        header = self._header()
        if self.memory is not None:
            return
        os.fdatasync(self.fd)
        header.flags |= _CLEAN
        raw = header.pack()
        os.pwrite(self.fd, raw, 0)
        os.fdatasync(self.fd)
        self._seen = raw

    def rebuild(self, entries: Iterable[Entry], covered: int, log: os.stat_result) -> None:
        """Replace the whole table with one built from ``entries`` (the log from its start)."""
        latest: dict[str, Slot] = {}
        for entry in entries:
            latest.update(effects(entry))
        capacity = _MIN_CAPACITY
        while len(latest) > capacity * _FULL * 0.75:
            capacity = int(capacity * _GROWTH)
        table = bytearray(capacity * _SLOT_SIZE)
        for key, slot in latest.items():
            _place(table, capacity, _digest(key), slot)
        self._found.clear()
        try:
            os.pwrite(self.fd, bytes(_HEADER_SIZE), 0)  # no header, no trust: safe to overwrite
            os.ftruncate(self.fd, _HEADER_SIZE)
            pwrite_all(self.fd, table, _HEADER_SIZE)
        except OSError:
            self.memory = latest  # a full disk: serve from memory until it can be written
        generation = secrets.randbits(63)  # unlike any header another object remembers
        self.header = Header(
            0, BOOT_ID, generation, covered, 0, 0, _HEADER_SIZE, capacity, len(latest), 0, 0, 0
        )
        if self.memory is None:
            self.commit(covered, log)
        else:
            self.header.covered = covered

    def _header(self) -> Header:
        if self.header is None:
            raise AssertionError("index used before it was loaded or rebuilt")
        return self.header

    def damaged(self, why: str) -> IndexMismatch:
        return IndexMismatch(
            f"damaged index {self.path}: {why} (it is derived from the log; "
            "remove it and it is rebuilt)"
        )


def _place(table: bytearray, capacity: int, tag: int, slot: Slot) -> None:
    """Put ``tag`` into an in-memory table (keys are unique: a new slot each)."""
    index = tag % capacity
    while table[index * _SLOT_SIZE : index * _SLOT_SIZE + 8] != bytes(8):
        index = (index + 1) % capacity
    table[index * _SLOT_SIZE : (index + 1) * _SLOT_SIZE] = _pack(tag, slot)


_FALLOC_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


def _load_fallocate() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function


_fallocate = _load_fallocate()


def _release(fd: int, offset: int, length: int) -> None:
    """Give a region's blocks back to the file system (a hole reads as zeros); best effort."""
    if _fallocate is not None and length > 0:
        _fallocate(fd, _FALLOC_PUNCH_HOLE, offset, length)  # type: ignore[operator]

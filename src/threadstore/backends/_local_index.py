"""The per-thread index: a hash table on disk from keys to lines of the thread log.

It answers, in O(1) reads each, "where is the latest line of record X" (item keys),
"which record is at position N of a list" (position keys) and "how long is a list"
(count keys). Keys are 16-byte BLAKE2b digests; slots are fixed-size, probed
linearly, at most half full. The log is the truth and the index is derived: every log
line says which slots it sets, so replaying lines is idempotent.

Writes to the index are not fsynced one by one. Its header records the log length it
covers and the boot it was written in; after a reboot (a possible power loss) an index
is trusted only if it was synced and marked clean, and is rebuilt from the log
otherwise. Within one boot, a killed process leaves index writes in the page cache,
and the next writer replays the log past the covered length.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from threadstore.backends._local_files import ReadCounter, pwrite_all
from threadstore.backends._local_log import Entry
from threadstore.errors import CorruptDataError

__all__ = ["BOOT_ID", "Index", "Slot", "count_key", "item_key", "position_key"]

_MAGIC = b"TSINDEX\n"
_VERSION = 1
_HEADER = struct.Struct("<8sII16sQQQQQ")  # magic version flags boot generation covered...
_HEADER_CRC = struct.Struct("<I")
_HEADER_SIZE = 128
_SLOT = struct.Struct("<16sQII")  # key, offset, length (0: deleted), seq
_VALUE = struct.Struct("<QII")
_EMPTY = bytes(16)
_CLEAN = 1
_MIN_CAPACITY = 64
_WINDOW = 8  # slots read per probe: one pread almost always finds the key or a gap
_REMEMBERED = 1 << 14  # probes an index object keeps


def _boot_id() -> bytes | None:
    """This boot's identity (Linux), to tell "same boot" from "after a possible power loss"."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as file:
            text = file.read().strip().replace(b"-", b"")
        return bytes.fromhex(text.decode())[:16].ljust(16, b"\0")
    except (OSError, ValueError):
        return None


BOOT_ID = _boot_id()


class Slot(NamedTuple):
    """Where a record's latest line lies, and its position; ``length == 0``: deleted."""

    offset: int
    length: int
    seq: int

    @property
    def live(self) -> bool:
        return self.length > 0


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def item_key(kind: str, run: str, record_id: str) -> bytes:
    return _digest(f"i\0{kind}\0{run}\0{record_id}")


def position_key(kind: str, run: str, seq: int) -> bytes:
    return _digest(f"p\0{kind}\0{run}\0{seq}")


def count_key(kind: str, run: str) -> bytes:
    return _digest(f"n\0{kind}\0{run}")


def effects(entry: Entry) -> list[tuple[bytes, Slot]]:
    """The slots one log line sets: everything the index knows comes from here."""
    slot = Slot(entry.offset, 0 if entry.op == "del" else entry.length, entry.seq)
    sets = [(item_key(entry.kind, entry.run, entry.id), slot)]
    if entry.kind != "thread":
        sets.append((position_key(entry.kind, entry.run, entry.seq), slot))
        if entry.op == "add":
            sets.append((count_key(entry.kind, entry.run), Slot(entry.seq + 1, 1, 0)))
    return sets


@dataclass(slots=True)
class Header:
    flags: int
    boot: bytes
    generation: int  # counts commits, so an unchanged header means an unchanged table
    covered: int
    table: int
    capacity: int
    used: int

    def copy(self) -> Header:
        return Header(
            self.flags,
            self.boot,
            self.generation,
            self.covered,
            self.table,
            self.capacity,
            self.used,
        )

    def pack(self) -> bytes:
        fields = _HEADER.pack(
            _MAGIC,
            _VERSION,
            self.flags,
            self.boot,
            self.generation,
            self.covered,
            self.table,
            self.capacity,
            self.used,
        )
        return fields + _HEADER_CRC.pack(zlib.crc32(fields))

    @classmethod
    def unpack(cls, data: bytes) -> Header | None:
        end = _HEADER.size
        if len(data) < end + _HEADER_CRC.size:
            return None
        (crc,) = _HEADER_CRC.unpack_from(data, end)
        if crc != zlib.crc32(data[:end]):
            return None
        magic, version, *fields = _HEADER.unpack_from(data)
        header = cls(*fields)
        if magic != _MAGIC or version != _VERSION or header.table < _HEADER_SIZE:
            return None
        capacity = header.capacity
        if capacity < _MIN_CAPACITY or capacity & (capacity - 1) or header.used > capacity:
            return None
        return header


def _place(table: bytearray, capacity: int, key: bytes, slot: Slot) -> bool:
    """Put ``key`` into an in-memory table; return whether it took a new slot."""
    index = int.from_bytes(key[:8], "little") & (capacity - 1)
    while True:
        at = index * _SLOT.size
        found = bytes(table[at : at + 16])
        if found in (key, _EMPTY):
            _SLOT.pack_into(table, at, key, *slot)
            return found == _EMPTY
        index = (index + 1) & (capacity - 1)


class Index:
    """The index file of one thread. Callers hold the thread's lock around every use."""

    def __init__(self, fd: int, path: str, counter: ReadCounter, durable: bool) -> None:
        self.fd = fd
        self.path = path
        self.counter = counter
        self.durable = durable
        self.header: Header | None = None
        # The header as this object last wrote or checked it, and the probes it has made
        # since: while the header on disk stays byte for byte the same, so does the table.
        self._seen: bytes | None = None
        self._kept: Header | None = None
        self._found: dict[bytes, tuple[int, Slot | None]] = {}
        self._gaps: set[bytes] = set()  # keys remembered as absent

    # --- header and trust ----------------------------------------------------

    def load(self) -> None:
        """Read the header (another process may have changed it since we last looked)."""
        raw = self.counter.pread(self.fd, _HEADER.size + _HEADER_CRC.size, 0)
        if raw == self._seen and self._kept is not None:
            self.header = self._kept.copy()
            return
        self._forget()
        header = Header.unpack(raw)
        if (
            header is not None
            and header.table + header.capacity * _SLOT.size > os.fstat(self.fd).st_size
        ):
            header = None  # the table is cut short: not to be believed
        self.header = header
        self._remember(raw if header is not None else None)

    def _forget(self) -> None:
        self._found.clear()
        self._gaps.clear()

    def _remember(self, raw: bytes | None) -> None:
        self._seen = raw
        self._kept = None if raw is None or self.header is None else self.header.copy()

    def trusted(self, log_size: int) -> bool:
        """Whether the table can be believed up to ``covered`` (else: rebuild it)."""
        header = self.header
        if header is None or header.covered > log_size:
            return False
        same_boot = BOOT_ID is not None and header.boot == BOOT_ID
        return same_boot or bool(header.flags & _CLEAN)

    def current(self, log_size: int) -> bool:
        return (
            self.header is not None and self.header.covered == log_size and self.trusted(log_size)
        )

    def commit(self, covered: int) -> None:
        """Record that the table reflects the log up to ``covered``."""
        header = self._header()
        header.covered = covered
        header.boot = BOOT_ID or _EMPTY
        header.flags &= ~_CLEAN
        header.generation += 1
        raw = header.pack()
        os.pwrite(self.fd, raw, 0)
        self._remember(raw)
        if BOOT_ID is None and self.durable:  # no way to detect a reboot: stay clean
            self.sync()

    def sync(self) -> None:
        """Make the table durable and mark it clean, so it is trusted after a reboot."""
        header = self._header()
        os.fdatasync(self.fd)
        header.flags |= _CLEAN
        raw = header.pack()
        os.pwrite(self.fd, raw, 0)
        os.fdatasync(self.fd)
        self._remember(raw)

    def _header(self) -> Header:
        if self.header is None:
            raise AssertionError("index used before it was loaded or rebuilt")
        return self.header

    # --- lookups and changes -------------------------------------------------

    def get(self, key: bytes) -> Slot | None:
        _, slot = self._find(key)
        return slot

    def count(self, kind: str, run: str) -> int:
        slot = self.get(count_key(kind, run))
        return 0 if slot is None else slot.offset

    def apply(self, entry: Entry) -> None:
        for key, slot in effects(entry):
            self._put(key, slot)

    def _put(self, key: bytes, slot: Slot) -> None:
        header = self._header()
        if (header.used + 1) * 2 > header.capacity:
            self._grow()
        index, found = self._find(key)
        os.pwrite(self.fd, _SLOT.pack(key, *slot), header.table + index * _SLOT.size)
        if found is None:  # a gap is filled: any remembered gap may have been this one
            header.used += 1
            for gap in self._gaps:
                self._found.pop(gap, None)
            self._gaps.clear()
        self._found[key] = index, slot

    def _find(self, key: bytes) -> tuple[int, Slot | None]:
        """The slot index holding ``key`` (and its value), or the empty one it would take.

        Probes are remembered while the table stays as this object last saw it (see
        :meth:`load`); a remembered gap is forgotten when any gap is filled.
        """
        known = self._found.get(key)
        if known is not None:
            return known
        if len(self._found) > _REMEMBERED:
            self._forget()
        header = self._header()
        mask = header.capacity - 1
        index = int.from_bytes(key[:8], "little") & mask
        for _ in range(0, header.capacity, _WINDOW):
            count = min(_WINDOW, header.capacity - index)
            size = count * _SLOT.size
            block = self.counter.pread(self.fd, size, header.table + index * _SLOT.size)
            if len(block) != size:
                raise self._damaged("the table is cut short")
            for at in range(0, size, _SLOT.size):
                found = block[at : at + 16]
                if found in (key, _EMPTY):
                    value = Slot(*_VALUE.unpack_from(block, at + 16)) if found == key else None
                    result = index + at // _SLOT.size, value
                    self._found[key] = result
                    if value is None:
                        self._gaps.add(key)
                    return result
            index = (index + count) & mask
        raise self._damaged("the table has no free slot")

    def _grow(self) -> None:
        """Double the table into fresh space at the end of the file, then switch to it.

        The old table is left as it was, so until the header is rewritten it still
        describes the covered part of the log.
        """
        header = self._header()
        old = self.counter.pread(self.fd, header.capacity * _SLOT.size, header.table)
        capacity = header.capacity * 2
        table = bytearray(capacity * _SLOT.size)
        for at in range(0, len(old), _SLOT.size):
            key = old[at : at + 16]
            if key != _EMPTY:
                _place(table, capacity, key, Slot(*_VALUE.unpack_from(old, at + 16)))
        end = os.fstat(self.fd).st_size
        start = max(end, header.table + len(old))
        pwrite_all(self.fd, table, start)
        header.table, header.capacity = start, capacity
        self._forget()
        self._remember(None)  # until committed, the header on disk names the old table

    def rebuild(self, entries: Iterable[Entry], covered: int) -> None:
        """Replace the whole table with one built from ``entries`` (the log from its start)."""
        latest: dict[bytes, Slot] = {}
        for entry in entries:
            latest.update(effects(entry))
        capacity = _MIN_CAPACITY
        while len(latest) * 2 >= capacity:
            capacity *= 2
        table = bytearray(capacity * _SLOT.size)
        for key, slot in latest.items():
            _place(table, capacity, key, slot)
        os.pwrite(self.fd, bytes(_HEADER_SIZE), 0)  # no header, no trust: safe to overwrite
        if self.durable:
            os.fdatasync(self.fd)
        pwrite_all(self.fd, table, _HEADER_SIZE)
        os.ftruncate(self.fd, _HEADER_SIZE + len(table))
        self._forget()
        generation = secrets.randbits(63)  # unlike any header another object remembers
        self.header = Header(
            0, BOOT_ID or _EMPTY, generation, covered, _HEADER_SIZE, capacity, len(latest)
        )
        self.commit(covered)

    def _damaged(self, why: str) -> CorruptDataError:
        return CorruptDataError(
            f"damaged index {self.path}: {why} (it is derived from the log; "
            "remove it and it is rebuilt)"
        )

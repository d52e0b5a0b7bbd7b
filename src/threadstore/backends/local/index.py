"""A journal's index: a hash table in a file, from keys to lines of the journal's log.

It answers in O(1) reads "where is the latest line of record X" (item keys), "which
record is at position N of a list" (position keys) and "how long is a list" (count
keys). The log is the truth and the index is derived: every log line says which slots
it sets, so replaying lines is idempotent, and whatever the index says is checked
against the log line it points to before anything is decided from it.

Slots are 16 bytes: a 64-bit tag of the key, and the line's offset (40 bits) with a
deleted flag. They come in blocks of 256 bytes: fifteen slots and a checksum of them,
so a block damaged in any way is noticed: every block of a table is written with its
checksum when the table is made, so a block of zeros is damage too (a lookup that met
it would otherwise answer "no such key"). Open addressing with linear probing from a
home that follows the tag (see :func:`_home`); a table grows by half before it is 85%
full. Growth never stops an append for long: the new table is written empty (one
sequential write) and every later insert moves a few slots of the old one across, in
order, so the move is spread over the next inserts; lookups try the
new table, then what is left of the old (never a slot already moved). The old table's
pages are given back to the file system as soon as every slot in them has moved. Nor
does writing the new table stop one: the file system makes each new page of a file
slowly (a 6 MB table took 13 ms), so the next table is written ahead, a page every few
inserts, over the last inserts before the growth (see :meth:`Index._write_ahead`).

The header (checksummed) records the log bytes the table covers, which log file it
belongs to, the boot it was written in, and the tables. Index writes are not fsynced:
within one boot the page cache holds them for every process; after a reboot an index is
trusted only if it was synced and marked clean (``close()`` does), else it is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from itertools import islice
from typing import NamedTuple

from threadstore.backends.local.files import ReadCounter, punch_hole, pwrite_all, pwrite_parts
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
_VERSION_ORDERED = 3
"""Written when a table's homes are in tag order (see :func:`_home`): a version that
knows only the other kind reads the header as damaged and rebuilds, never misreads it."""
_HEADER = struct.Struct("<8sII16s10Q")
_AHEAD = struct.Struct("<3Q")
"""After the header and its checksum: the next table written ahead (see :class:`Header`),
with a checksum of its own, so an index without it (an older one) reads as none."""
_AHEAD_AT = _HEADER.size + 4
_HEADER_BYTES = _AHEAD_AT + _AHEAD.size + 4
_HEADER_SIZE = 512
_SLOT = struct.Struct("<QQ")
_SLOT_SIZE = _SLOT.size
_PER_BLOCK = 15
_BLOCK_WORDS = struct.Struct(f"<{2 * _PER_BLOCK}Q")  # a block's slots as tag, value, tag…
_SLOTS_BYTES = _PER_BLOCK * _SLOT_SIZE
_BLOCK = _SLOTS_BYTES + _SLOT_SIZE
_ZEROS = bytes(_BLOCK)
_BLOCK_MARK = 0x5453_424C_4F43_4B31  # tags the checksum slot: never a key's tag (see _digest)
_OFFSET_MASK = (1 << 40) - 1
_DELETED = 1 << 40
_CLEAN = 1
_ORDERED = 2
"""The current table's homes are in tag order (else ``tag % capacity``, as written before)."""
_OLD_ORDERED = 4
"""The same, of the old table a move is emptying."""
_MIN_CAPACITY = 64
_FULL = 0.85
_GROWTH = 1.5
_MOVES_PER_INSERT = 3  # the move ends with the new table under 80% full
_AHEAD_FROM = 0.8
"""How full a table is when the next one starts being written ahead (until ``_FULL``)."""
_REMEMBERED = 1 << 12  # probes an index object keeps
_FORGOTTEN = _REMEMBERED // 64  # forgotten at once when full: see _forget_oldest
_KEPT_BLOCKS = 1 << 10  # blocks an index object keeps (256 KiB)
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
    tag = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") | 1
    return tag if tag != _BLOCK_MARK else tag ^ 2


def _value(slot: Slot) -> int:
    return slot.offset | (_DELETED if slot.deleted else 0)


def _sealed(block: bytearray) -> bytearray:
    """The block with its checksum slot brought up to date."""
    check = zlib.crc32(block[:_SLOTS_BYTES])
    _SLOT.pack_into(block, _SLOTS_BYTES, _BLOCK_MARK, check)
    return block


_EMPTY_BLOCK = bytes(_sealed(bytearray(_BLOCK)))
"""A block with no slot in use: every block of a new table starts so."""
_EMPTY_RUN = memoryview(_EMPTY_BLOCK * 256)
"""Empty blocks to write a new table from (64 KiB, written as often as the table needs)."""


def _home(tag: int, capacity: int, ordered: int) -> int:
    """The slot a key's probe starts at. In an ordered table, the tag's place in the range
    of slots: homes follow tags, so the slots of one table move into the next in order,
    each block of the new table filled by a run of moves (with ``tag % capacity``, each
    moved slot went to a block of its own); ``ordered`` is a header flag (or 0)."""
    return tag * capacity >> 64 if ordered else tag % capacity


def _where(table: int, index: int) -> tuple[int, int]:
    """The byte offset of the block holding slot ``index``, and the slot's place in it."""
    block, place = divmod(index, _PER_BLOCK)
    return table + block * _BLOCK, place * _SLOT_SIZE


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
    old_table: int = 0
    old_capacity: int = 0
    moved: int = 0
    """Slots of the old table moved into the new one so far (a move is under way while
    ``moved < old_capacity``)."""
    ahead_of: int = 0
    """The table the next one is being written ahead for (0: none is)."""
    ahead_start: int = 0
    ahead: int = 0
    """Bytes of empty blocks written from ``ahead_start``: the next table's first ones."""

    def pack(self) -> bytes:
        values = [getattr(self, name) for name in _HEADER_FIELDS]
        version = _VERSION_ORDERED if self.flags & (_ORDERED | _OLD_ORDERED) else _VERSION
        packed = _HEADER.pack(_MAGIC, version, *values)
        return packed + struct.pack("<I", zlib.crc32(packed)) + self.pack_ahead()

    def pack_ahead(self) -> bytes:
        """The record of the table written ahead, as it lies at ``_AHEAD_AT``."""
        ahead = _AHEAD.pack(self.ahead_of, self.ahead_start, self.ahead)
        return ahead + struct.pack("<I", zlib.crc32(ahead))

    @classmethod
    def unpack(cls, data: bytes) -> Header | None:
        size = _HEADER.size
        if len(data) < size + 4 or struct.unpack_from("<I", data, size)[0] != zlib.crc32(
            data[:size]
        ):
            return None
        magic, version, *values = _HEADER.unpack_from(data)
        if magic != _MAGIC or version not in (_VERSION, _VERSION_ORDERED):
            return None
        header = cls(*values)
        if version == _VERSION and header.flags & (_ORDERED | _OLD_ORDERED):
            return None
        if header.capacity < _MIN_CAPACITY or header.used > header.capacity:
            return None
        ahead, check = data[_AHEAD_AT : _HEADER_BYTES - 4], data[_HEADER_BYTES - 4 : _HEADER_BYTES]
        if len(check) == 4 and struct.unpack("<I", check)[0] == zlib.crc32(ahead):
            header.ahead_of, header.ahead_start, header.ahead = _AHEAD.unpack(ahead)
        return header

    def copy(self) -> Header:
        return Header(*(getattr(self, field.name) for field in fields(self)))


_AHEAD_FIELDS = ("ahead_of", "ahead_start", "ahead")
_HEADER_FIELDS = tuple(field.name for field in fields(Header) if field.name not in _AHEAD_FIELDS)


class Index:
    """The index file of one journal. Callers hold the journal's lock around every use."""

    def __init__(self, fd: int, path: str, counter: ReadCounter) -> None:
        self.fd = fd
        self.path = path
        self.counter = counter
        self.header: Header | None = None
        # The header as this object last wrote or checked it, and the probes it made and
        # blocks it read since: while the header on disk is byte for byte the same and
        # the log has not grown past it, so is the table.
        self._seen: bytes | None = None
        self._found: dict[str, tuple[int, int, Slot | None]] = {}
        """key → (tag, its slot index in the current table or -1, its value or None)."""
        self._gaps: dict[int, list[str]] = {}
        """empty slot index → the remembered absent keys whose probe ended there."""
        self._blocks: dict[int, bytearray] = {}
        """byte offset → a block as this object read (checked) or wrote it."""
        self._dirty: dict[int, bytearray] = {}
        """byte offset → a block changed since the last :meth:`_flush`: a commit writes
        each once, however many of its slots changed."""
        self._fetched = b""
        self._fetched_at = 0
        """A small table as read whole when the header changed (see :meth:`load`); dropped
        at the first write."""
        self._freed: list[tuple[int, int]] = []
        """Byte ranges of the old table to give back once :meth:`_flush` has written the
        slots moved out of them (never before: a reader would find neither)."""
        self.memory: dict[str, Slot] | None = None
        """Set when the file cannot be written (a full disk): the index then lives here."""

    # --- trust ------------------------------------------------------------------------

    def load(self) -> Header | None:
        """Read the header again; forget what was remembered if it changed."""
        if self.memory is not None:
            return self.header
        raw = self.counter.pread(self.fd, _HEADER_BYTES, 0)
        if raw != self._seen:
            self._forget_all()
            self._seen = raw
            self.header = Header.unpack(raw)
            if self.header is not None:
                self._fetch_small_table(self.header)
        return self.header

    def _fetch_small_table(self, header: Header) -> None:
        """Read a table that ends within the file's first page in one read: most lists are
        short, and the probes that follow would read its blocks one at a time. Each
        block is still checked when a probe first uses it."""
        end = header.table + -(-header.capacity // _PER_BLOCK) * _BLOCK
        if not header.old_capacity and end <= _PAGE:
            self._fetched = self.counter.pread(self.fd, end - header.table, header.table)
            self._fetched_at = header.table

    def current(self, log: os.stat_result, end: int) -> bool:
        """Whether the table reflects exactly the log ``log`` describes, whose records end
        at ``end``. A clean table from another boot is, if no spare space follows (see
        :meth:`behind`)."""
        header = self.header
        return (
            header is not None
            and header.covered == end
            and self.belongs(header, log)
            and (
                header.boot == BOOT_ID
                or self.memory is not None
                or (bool(header.flags & _CLEAN) and end == log.st_size)
            )
        )

    def behind(self, log: os.stat_result, end: int) -> bool:
        """Whether the table is trustworthy but misses lines before ``end`` (a writer
        died, or could not write the index): those can be replayed. So is a clean table
        from another boot with spare space after the records: a power loss in a flush
        may have kept a later page of an unfinished write and not the one before it, so
        the spare space is checked (and what is not spare cut) once in this boot."""
        header = self.header
        if header is None or not self.belongs(header, log):
            return False
        if header.boot == BOOT_ID:
            return header.covered < end
        return bool(header.flags & _CLEAN) and (
            header.covered < end or header.covered == end < log.st_size
        )

    def belongs(self, header: Header, log: os.stat_result) -> bool:
        return self.memory is not None or (header.log_device, header.log_inode) == (
            log.st_dev,
            log.st_ino,
        )

    def forget(self) -> None:
        """Drop every remembered probe and block (the table changed under this object)."""
        self._forget_all()
        self._seen = None

    def _forget_all(self) -> None:
        self._found.clear()
        self._gaps.clear()
        self._blocks.clear()
        self._dirty.clear()
        self._freed.clear()
        self._fetched = b""

    def _remember(self, key: str, tag: int, index: int, slot: Slot | None) -> None:
        if len(self._found) > _REMEMBERED:
            self._forget_oldest()
        self._found[key] = (tag, index, slot)
        if slot is None:
            self._gaps.setdefault(index, []).append(key)

    def _forget_oldest(self) -> None:
        """Make room a little at a time: forget the oldest of the remembered probes, and
        every remembered absence with the gaps that keep it true. An old probe's memory
        is cold, so each costs about half a microsecond to forget: 512 at once made a
        0.3 ms stall, all 4,096 at once 0.6 ms; 64 at a time cost the same in all."""
        found = self._found
        for key in list(islice(found, _FORGOTTEN)):
            del found[key]
        for keys in self._gaps.values():
            for key in keys:
                known = found.get(key)
                if known is not None and known[2] is None:
                    del found[key]
        self._gaps.clear()

    def _filled(self, index: int) -> None:
        """Slot ``index`` of the current table was filled: a key remembered as absent
        because its probe ended there may be anywhere now. (Other remembered gaps stay
        true: slots are never emptied while a table is in use.)"""
        for key in self._gaps.pop(index, ()):
            known = self._found.get(key)
            if known is not None and known[2] is None and known[1] == index:
                del self._found[key]

    # --- lookups ----------------------------------------------------------------------

    def get(self, key: str) -> Slot | None:
        if self.memory is not None:
            return self.memory.get(key)
        known = self._found.get(key)
        if known is not None:
            return known[2]
        header = self._header()
        tag = _digest(key)
        index, slot = self._probe(header.table, header.capacity, tag, header.flags & _ORDERED)
        if slot is None and header.moved < header.old_capacity:
            ordered = header.flags & _OLD_ORDERED
            _, slot = self._probe(header.old_table, header.old_capacity, tag, ordered, header.moved)
            index = -1 if slot is not None else index
        self._remember(key, tag, index, slot)
        return slot

    def count(self, kind: str, under: tuple[str, ...]) -> int:
        slot = self.get(count_key(kind, under))
        return 0 if slot is None else slot.offset

    def _block(self, table: int, index: int) -> bytearray:
        """The block holding slot ``index``, its checksum checked (not to be changed in
        place: it may be the one this object keeps)."""
        start = table + index // _PER_BLOCK * _BLOCK
        block = self._dirty.get(start) or self._blocks.get(start)
        if block is not None:
            return block
        at = start - self._fetched_at
        if at >= 0 and at + _BLOCK <= len(self._fetched):
            block = bytearray(self._fetched[at : at + _BLOCK])
        else:
            block = bytearray(self.counter.pread(self.fd, _BLOCK, start))
        if len(block) != _BLOCK:
            raise self.damaged("the table is cut short")
        if block != _EMPTY_BLOCK:
            mark, check = _SLOT.unpack_from(block, _SLOTS_BYTES)
            if (mark, check) != (_BLOCK_MARK, zlib.crc32(block[:_SLOTS_BYTES])):
                why = "is zeroed" if block == _ZEROS else "fails its checksum"
                raise self.damaged(f"the block at byte {start} {why}")
        self._keep(start, block)
        return block

    def _keep(self, start: int, block: bytearray) -> None:
        if len(self._blocks) >= _KEPT_BLOCKS:
            self._blocks.clear()
        self._blocks[start] = block

    def _probe(
        self, table: int, capacity: int, tag: int, ordered: int, moved: int = 0
    ) -> tuple[int, Slot | None]:
        """The slot index holding ``tag`` and its value, or the empty one it would take.

        In an old table, the first ``moved`` slots were moved into the new one (and their
        blocks may be given back): they are passed over, never read. A key still here
        lies past them, and every slot between is taken, so the probe loses nothing; the
        empty slots may all be among the moved ones, so a probe that has looked at every
        slot not yet moved ends there: the key is not in them.
        """
        index = max(_home(tag, capacity, ordered), moved)
        left = capacity - moved
        while left > 0:
            words = _BLOCK_WORDS.unpack_from(self._block(table, index))
            for at in range(index % _PER_BLOCK * 2, 2 * _PER_BLOCK, 2):
                found, value = words[at], words[at + 1]
                if found == tag:
                    return index, Slot(value & _OFFSET_MASK, bool(value & _DELETED))
                if found == 0 and value == 0:
                    return index, None
                index += 1
                left -= 1
                if not left:
                    break
            if index == capacity:  # tables are whole blocks: wrap to the first one
                index = moved
        if moved:
            return index, None
        raise self.damaged("the table has no free slot")

    def _store(self, table: int, index: int, tag: int, value: int) -> None:
        """Set one slot; its block is written, with its checksum, by :meth:`_flush`."""
        start, place = _where(table, index)
        block = self._dirty.get(start)
        if block is None:
            block = self._dirty[start] = bytearray(self._block(table, index))
            self._keep(start, block)
        _SLOT.pack_into(block, place, tag, value)

    def _flush(self) -> None:
        """Write every changed block once, sealed (before the header that covers them),
        then give back the old table's pages whose slots those blocks now hold."""
        self._fetched = b""
        for start, block in self._dirty.items():
            pwrite_all(self.fd, _sealed(block), start)
        self._dirty.clear()
        for start, length in self._freed:
            punch_hole(self.fd, start, length)
        self._freed.clear()

    # --- changes (the caller holds the exclusive lock) ---------------------------------

    def apply(self, entries: Iterable[Entry]) -> None:
        """Set the slots the lines set; a key set more than once (a list's count, over a
        batch) is written once, with its last value."""
        latest: dict[str, Slot] = {}
        for entry in entries:
            latest.update(effects(entry))
        for key, slot in latest.items():
            self._put(key, slot)
        self._flush()

    def put(self, key: str, slot: Slot) -> None:
        """Set one key's slot (written at once)."""
        self._put(key, slot)
        self._flush()

    def _put(self, key: str, slot: Slot) -> None:
        if self.memory is not None:
            self.memory[key] = slot
            return
        header = self._header()
        known = self._found.get(key)
        if known is None or known[1] < 0 or known[2] is None:  # it may take a new slot
            if header.moved < header.old_capacity:
                self._move(_MOVES_PER_INSERT)
            elif header.used + 1 > header.capacity * _FULL:
                self._grow()
            elif header.used + 1 > header.capacity * _AHEAD_FROM:
                self._write_ahead(header)
            known = self._found.get(key)
        if known is not None and known[1] >= 0:
            tag, index = known[0], known[1]  # its slot, or the gap its probe ended at
            fills = known[2] is None
        else:
            tag = _digest(key)
            index, found = self._probe(header.table, header.capacity, tag, header.flags & _ORDERED)
            fills = found is None
        if fills:
            header.used += 1
            self._filled(index)
        self._store(header.table, index, tag, _value(slot))
        self._remember(key, tag, index, slot)

    def _write_ahead(self, header: Header) -> None:
        """Write the next table's empty blocks a page at a time, so that all are written
        by the time the table is ``_FULL`` and :meth:`_grow` has none left to write. They
        lie at the file's end, past everything else; the header counts them as written
        only once they are (a writer that dies meanwhile leaves a few unclaimed)."""
        if header.ahead_of != header.table:
            end = os.fstat(self.fd).st_size
            header.ahead_of, header.ahead_start, header.ahead = header.table, _page_above(end), 0
        size = _next_blocks(header) * _BLOCK
        start_at = header.capacity * _AHEAD_FROM
        done = (header.used + 1 - start_at) / (header.capacity * _FULL - start_at)
        if header.ahead >= min(size, done * size + _PAGE):  # a page ahead of the pace
            return
        length = min(size - header.ahead, _PAGE // _BLOCK * _BLOCK)
        try:
            pwrite_all(self.fd, _EMPTY_RUN[:length], header.ahead_start + header.ahead)
        except OSError:
            return  # a full disk: the growth writes what is missing, or fails as it would
        header.ahead += length

    def _grow(self) -> None:
        """Start moving into a table half again as large, empty at the file's end: written
        ahead (see :meth:`_write_ahead`), or here."""
        header = self._header()
        blocks = _next_blocks(header)
        if header.ahead_of == header.table:
            start, written = header.ahead_start, header.ahead
            self._disown_ahead(header)
        else:
            start, written = _page_above(os.fstat(self.fd).st_size), 0
        whole, rest = divmod(blocks * _BLOCK - written, len(_EMPTY_RUN))
        pwrite_parts(self.fd, [_EMPTY_RUN] * whole + [_EMPTY_RUN[:rest]], start + written)
        header.old_table, header.old_capacity, header.moved = header.table, header.capacity, 0
        header.table, header.capacity, header.used = start, blocks * _PER_BLOCK, 0
        moving = _OLD_ORDERED if header.flags & _ORDERED else 0  # this table, once old
        header.flags = (header.flags & _CLEAN) | _ORDERED | moving
        self._found.clear()
        self._gaps.clear()

    def _disown_ahead(self, header: Header) -> None:
        """Say on disk, before any slot is put there, that the blocks written ahead are no
        longer empty: if this writer died before its header, the next would take them
        for empty ones and find this one's slots in its new table."""
        header.ahead_of = header.ahead_start = header.ahead = 0
        os.pwrite(self.fd, header.pack_ahead(), _AHEAD_AT)

    def _move(self, count: int) -> None:
        """Move the next ``count`` slots of the old table into the new one (if absent).
        The old pages whose slots have all moved are given back by the next :meth:`_flush`,
        once it has written the slots where they now are."""
        header = self._header()
        first = header.moved
        last = min(first + count, header.old_capacity)
        for index in range(first, last):
            block = self._block(header.old_table, index)
            _, place = _where(header.old_table, index)
            tag, value = _SLOT.unpack_from(block, place)
            if tag == 0 and value == 0:
                continue
            target, found = self._probe(header.table, header.capacity, tag, header.flags & _ORDERED)
            if found is None:
                self._store(header.table, target, tag, value)
                header.used += 1
                self._filled(target)
        header.moved = last
        before = _page_below(header.old_table + first // _PER_BLOCK * _BLOCK)
        after = _page_below(header.old_table + last // _PER_BLOCK * _BLOCK)
        start = max(before, _page_above(header.old_table))
        if header.moved >= header.old_capacity:
            blocks = -(-header.old_capacity // _PER_BLOCK)
            self._freed.append((header.old_table, blocks * _BLOCK))
            header.old_table = header.old_capacity = header.moved = 0
            header.flags &= ~_OLD_ORDERED
            self._blocks.clear()  # remembered probes stay true: what was in the old table
            # is in the new one with the same value, and what was in neither still is
        elif after > start:  # the pages whose slots have all moved
            self._freed.append((start, after - start))

    def commit(self, covered: int, log: os.stat_result) -> None:
        """Record that the table reflects the log up to ``covered``."""
        header = self._header()
        self._flush()
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
        blocks = -(-_MIN_CAPACITY // _PER_BLOCK)
        while len(latest) > blocks * _PER_BLOCK * _FULL * 0.75:
            blocks = -(-int(blocks * _GROWTH) // 1)
        capacity = blocks * _PER_BLOCK
        table = bytearray(blocks * _BLOCK)
        for key, slot in latest.items():
            tag = _digest(key)
            _place(table, capacity, _home(tag, capacity, _ORDERED), tag, _value(slot))
        for block in range(blocks):
            table[block * _BLOCK : (block + 1) * _BLOCK] = _sealed(
                table[block * _BLOCK : (block + 1) * _BLOCK]
            )
        self._forget_all()
        if self.memory is not None:  # the file could not be written: the table lives here
            self.memory = latest
        else:
            try:
                os.pwrite(self.fd, bytes(_HEADER_SIZE), 0)  # no header, no trust
                os.ftruncate(self.fd, _HEADER_SIZE)
                pwrite_all(self.fd, table, _HEADER_SIZE)
            except OSError:
                self.memory = latest  # a full disk: serve from memory from now on
        generation = secrets.randbits(63)  # unlike any header another object remembers
        self.header = Header(
            _ORDERED, BOOT_ID, generation, covered, 0, 0, _HEADER_SIZE, capacity, len(latest)
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


def _page_below(offset: int) -> int:
    return offset // _PAGE * _PAGE


def _page_above(offset: int) -> int:
    return -(-offset // _PAGE) * _PAGE


def _next_blocks(header: Header) -> int:
    """The blocks of the table that follows the current one (half again as many slots)."""
    return -(-int(header.capacity * _GROWTH) // _PER_BLOCK)


def _place(table: bytearray, capacity: int, index: int, tag: int, value: int) -> None:
    """Put ``tag`` into an in-memory table from its home ``index`` (keys are unique: a new
    slot each)."""
    while True:
        start, place = _where(0, index)
        if table[start + place : start + place + 8] == bytes(8):
            _SLOT.pack_into(table, start + place, tag, value)
            return
        index = (index + 1) % capacity

"""The journal's log: every change, one checksummed JSON line each, never rewritten.

    {"seq":7,"kind":"message","op":"add","id":"msg_1","v":1,"data":{...},"crc":"1c291ca3"}
    {"seq":0,"kind":"step","run":"run_1","op":"set","id":"step_1","v":1,"data":{...},"crc":"…"}
    {"seq":7,"kind":"message","op":"del","id":"msg_1","crc":"…"}

``seq`` is the record's position in its list; ``op`` is ``add`` (a new record at ``seq``),
``set`` (a new version of the record at ``seq``) or ``del`` (a tombstone, no ``data``).
Records held below the top level name their owners below it (a step its ``run``). ``v``
is the version of the record's JSON form (:data:`threadstore.records.RECORD_FORMAT`).
A line of a batch that has more lines after it says ``"more":true``: a batch whose last
line is missing never happened. ``crc`` is the CRC-32 of the line's bytes before
``,"crc":``, so a line cut short by a crash, or garbage after it, is told apart from a
record. A list file also starts with ``begin`` (whose incarnation of which top-level
record it holds) and may end with ``gone`` (that incarnation was deleted).

After the last line comes the log's *spare space*: blank lines written ahead of need, so
that a commit overwrites bytes the file already has and its ``fdatasync`` flushes data
alone, not a new file length through the file system's journal. A crash may leave zeros
there instead. The records end at the first line that begins blank.

Every line carries all the index needs, so replaying lines is idempotent.
"""

from __future__ import annotations

import functools
import json
import zlib
from dataclasses import dataclass
from typing import Any

from threadstore.backends.local.files import ReadCounter
from threadstore.errors import CorruptDataError
from threadstore.ids import ID_PATTERN
from threadstore.records import KINDS, Kind

__all__ = [
    "BEGIN",
    "GONE",
    "RECORD_OPS",
    "Entry",
    "after_seq",
    "data_in",
    "entry_about",
    "entry_in",
    "entry_of",
    "intact",
    "make_line",
    "owners_of",
    "scan",
    "spare",
]

RECORD_OPS = frozenset({"add", "set", "del"})
BEGIN = "begin"
GONE = "gone"
_OPS = RECORD_OPS | {BEGIN, GONE}
_KINDS = {kind.singular: kind for kind in KINDS}
_SUFFIX_LENGTH = len(b',"crc":"00000000"}\n')
_DATA = b',"data":'
_CHUNK = 1 << 20
SPARE = b"\n"
"""What a log's spare space is written with; zeros (never written) count as spare too."""
_SPARE_BYTES = SPARE + b"\0"


def owners_of(kind: Kind[Any]) -> tuple[Kind[Any], ...]:
    """The owner kinds a line of ``kind`` names: those below the top level."""
    return kind.lineage[1:-1]


@dataclass(frozen=True, slots=True)
class Entry:
    """One log line, as the index sees it: what changed, and where the line lies."""

    op: str
    kind: str
    under: tuple[str, ...]
    """The IDs of the record's owners below the top level (a step's run)."""
    id: str
    seq: int
    offset: int
    length: int
    more: bool = False
    """Another line of the same batch follows."""

    @property
    def end(self) -> int:
        return self.offset + self.length


def make_line(
    op: str,
    kind: Kind[Any],
    under: tuple[str, ...],
    record_id: str,
    seq: int,
    data: bytes | None = None,
    *,
    version: int | None = None,
    more: bool = False,
) -> bytes:
    """The log line for one change. IDs are plain ``[A-Za-z0-9_-]``: no escaping needed."""
    owners = "".join(
        f'"{owner.singular}":"{owner_id}",'
        for owner, owner_id in zip(owners_of(kind), under, strict=True)
    )
    body = f'{{"seq":{seq},"kind":"{kind.singular}",{owners}"op":"{op}","id":"{record_id}"'
    if version is not None:
        body += f',"v":{version}'
    if more:
        body += ',"more":true'
    encoded = body.encode()
    if data is not None:
        encoded += _DATA + data
    return encoded + b',"crc":"%08x"}\n' % zlib.crc32(encoded)


def prefix(kind: Kind[Any], under: tuple[str, ...], seq: int) -> bytes:
    """How every line about position ``seq`` of a list begins: checked before it is trusted."""
    return b'{"seq":%d' % seq + after_seq(kind, under)


@functools.lru_cache(maxsize=1024)
def after_seq(kind: Kind[Any], under: tuple[str, ...]) -> bytes:
    """What follows the position in every line about a record of ``kind`` under ``under``."""
    owners = "".join(
        f'"{owner.singular}":"{owner_id}",'
        for owner, owner_id in zip(owners_of(kind), under, strict=True)
    )
    return f',"kind":"{kind.singular}",{owners}"op":"'.encode()


def intact(line: bytes) -> bool:
    """Whether the line ends with the checksum of the bytes before it."""
    if len(line) <= _SUFFIX_LENGTH:
        return False
    body = memoryview(line)[:-_SUFFIX_LENGTH]
    return line[-_SUFFIX_LENGTH:] == b',"crc":"%08x"}\n' % zlib.crc32(body)


def body_of(line: bytes) -> bytes | None:
    """The line without its checksum, or ``None`` if the checksum does not match."""
    return line[:-_SUFFIX_LENGTH] if intact(line) else None


def data_in(line: bytes) -> bytes | None:
    """The record JSON an ``add``/``set`` line carries, else ``None``. The line's checksum
    was checked already (lines from ``Journal.line`` and ``Journal.lines`` were)."""
    end = len(line) - _SUFFIX_LENGTH
    start = line.find(_DATA, 0, end)
    return None if start < 0 else line[start + len(_DATA) : end]


def entry_about(
    line: bytes,
    offset: int,
    kind: Kind[Any],
    under: tuple[str, ...],
    record_id: str,
    ops: tuple[str, ...],
) -> Entry | None:
    """The entry of a checksummed line, if it is in the one form :func:`make_line` writes
    and about ``record_id`` with an op in ``ops``; read from its fixed form, not parsed.
    ``None`` says only "not in that form": the caller parses it in full."""
    comma = line.find(b",", 7, 32)
    digits = line[7:comma]
    if comma < 0 or not digits.isdigit():
        return None
    seq = int(digits)
    head = prefix(kind, under, seq)
    if not line.startswith(head):
        return None
    named = b'","id":"%s"' % record_id.encode()
    for op in ops:
        if line.startswith(op.encode() + named, len(head)):
            break
    else:
        return None
    rest = len(head) + len(op) + len(named)
    data = line.find(_DATA, rest)
    if (data >= 0) != (op in ("add", "set")):
        return None
    more = line.find(b',"more":true', rest, data if data >= 0 else len(line)) >= 0
    return Entry(op, kind.singular, under, record_id, seq, offset, len(line), more)


def entry_of(line: bytes, offset: int) -> Entry | None:
    """The entry of a whole, checksummed line; ``None`` if the line is not one."""
    body = body_of(line)
    return None if body is None else _entry(body, offset, len(line))


def entry_in(line: bytes, offset: int) -> Entry | None:
    """:func:`entry_of` for a line whose checksum was checked already."""
    return _entry(line[:-_SUFFIX_LENGTH], offset, len(line))


def _entry(body: bytes, offset: int, length: int) -> Entry | None:
    start = body.find(_DATA)
    try:
        meta: Any = json.loads((body if start < 0 else body[:start]) + b"}")
        kind = _KINDS[meta["kind"]]
        entry = Entry(
            op=meta["op"],
            kind=kind.singular,
            under=tuple(meta[owner.singular] for owner in owners_of(kind)),
            id=meta["id"],
            seq=meta["seq"],
            offset=offset,
            length=length,
            more=meta.get("more", False) is True,
        )
    except (ValueError, KeyError, TypeError):
        return None
    valid = (
        entry.op in _OPS
        and isinstance(entry.id, str)
        and ID_PATTERN.fullmatch(entry.id) is not None
        and all(isinstance(i, str) and ID_PATTERN.fullmatch(i) for i in entry.under)
        and type(entry.seq) is int
        and entry.seq >= 0
        and (start >= 0) == (entry.op in ("add", "set"))
    )
    return entry if valid else None


def scan(
    fd: int, start: int, end: int, path: str, counter: ReadCounter
) -> tuple[list[Entry], int, bool]:
    """Parse the log's lines from ``start`` up to its spare space (or ``end``); return the
    entries, where they end, and whether nothing but spare space follows them (up to
    ``end``): if something does, the caller cuts it off.

    Bad bytes with nothing valid after them are a torn tail, and so are the lines of a
    batch whose last line is missing: the returned end stops before them, and the caller
    cuts them off. A bad line with a good line after it cannot come from an interrupted
    append: that is corruption, and it is raised. Nothing after the first line that
    begins blank is a record: the third value says whether it is all spare space.
    """
    entries: list[Entry] = []
    bad_at: int | None = None
    carry = b""
    position = start  # file offset of carry[0]
    records_end = end
    clean = True
    while position + len(carry) < end:
        chunk = counter.pread(fd, min(_CHUNK, end - position - len(carry)), position + len(carry))
        if not chunk:
            break
        buffer = carry + chunk
        cursor = 0
        blank = False
        while not (blank := cursor < len(buffer) and buffer[cursor] in _SPARE_BYTES):
            newline = buffer.find(b"\n", cursor)
            if newline < 0:
                break
            line_end = newline + 1
            body = body_of(buffer[cursor:line_end])
            if body is None:
                bad_at = position + cursor if bad_at is None else bad_at
            else:
                if bad_at is not None:
                    raise corrupt(path, bad_at, "intact records follow it, so it is damage")
                entry = _entry(body, position + cursor, line_end - cursor)
                if entry is None:
                    raise corrupt(path, position + cursor, "its checksum holds, its fields do not")
                entries.append(entry)
            cursor = line_end
        carry = b"" if blank else buffer[cursor:]
        position += cursor
        if blank:
            records_end = position
            clean = spare(buffer[cursor:]) and _spare_in(
                fd, position + len(buffer) - cursor, end, counter
            )
            break
    if carry and bad_at is None:
        bad_at = position
    complete = len(entries)
    while complete and entries[complete - 1].more:  # an unfinished batch never happened
        complete -= 1
    if complete < len(entries):
        first = entries[complete].offset
        bad_at = first if bad_at is None else min(bad_at, first)
        del entries[complete:]
    if bad_at is None:
        return entries, records_end, clean
    return entries, bad_at, False


def spare(data: bytes) -> bool:
    """Whether ``data`` is all spare space: blank lines, or zeros a crash left."""
    return not data.translate(None, _SPARE_BYTES)


def _spare_in(fd: int, start: int, end: int, counter: ReadCounter) -> bool:
    """Whether the log's bytes in ``[start, end)`` are all spare space: if not, something
    was written there that is not a record, and it is cut off."""
    while start < end:
        chunk = counter.pread(fd, min(_CHUNK, end - start), start)
        if not chunk:
            break
        if not spare(chunk):
            return False
        start += len(chunk)
    return True


def corrupt(path: str, offset: int, why: str) -> CorruptDataError:
    return CorruptDataError(f"corrupt log record in {path} at byte {offset}: {why}")

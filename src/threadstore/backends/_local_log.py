"""The thread log: every change to a thread's records, one checksummed JSON line each.

    {"op":"add","kind":"message","id":"msg_1","seq":0,"data":{...},"crc":"1c291ca3"}

``op`` is ``add`` (a new record at position ``seq`` of its list), ``set`` (a new
version of the record at ``seq``) or ``del`` (a tombstone, no ``data``). Steps also
name their ``run``. ``crc`` is the CRC-32 of the line's bytes before ``,"crc":``, so a
line cut short by a crash, or garbage after it, is told apart from a record. Each line
carries all the index needs, so replaying lines is idempotent.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from threadstore.backends._local_files import ReadCounter
from threadstore.errors import CorruptDataError
from threadstore.ids import ID_PATTERN

__all__ = ["OPS", "Entry", "data_of", "make_line", "scan"]

OPS = frozenset({"add", "set", "del"})
KINDS = frozenset({"thread", "message", "run", "step"})
_SUFFIX_LENGTH = len(b',"crc":"00000000"}\n')
_DATA = b',"data":'
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One log line, as the index sees it: what changed, and where the line lies."""

    op: str
    kind: str
    run: str
    id: str
    seq: int
    offset: int
    length: int


def make_line(
    op: str, kind: str, record_id: str, seq: int, run: str = "", data: bytes | None = None
) -> bytes:
    """The log line for one change. IDs are plain ``[A-Za-z0-9_-]``: no escaping needed."""
    run_field = f'"run":"{run}",' if run else ""
    body = f'{{"op":"{op}","kind":"{kind}",{run_field}"id":"{record_id}","seq":{seq}'.encode()
    if data is not None:
        body += _DATA + data
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def _body(line: bytes) -> bytes | None:
    """The line without its checksum, or ``None`` if the checksum does not match."""
    if len(line) <= _SUFFIX_LENGTH or not line.endswith(b'"}\n'):
        return None
    body, suffix = line[:-_SUFFIX_LENGTH], line[-_SUFFIX_LENGTH:]
    return body if suffix == b',"crc":"%08x"}\n' % zlib.crc32(body) else None


def data_of(line: bytes) -> bytes | None:
    """The record JSON a checksummed ``add``/``set`` line carries, else ``None``."""
    body = _body(line)
    if body is None:
        return None
    start = body.find(_DATA)
    return None if start < 0 else body[start + len(_DATA) :]


def _entry(body: bytes, offset: int, length: int) -> Entry | None:
    start = body.find(_DATA)
    try:
        meta: Any = json.loads((body if start < 0 else body[:start]) + b"}")
        entry = Entry(
            op=meta["op"],
            kind=meta["kind"],
            run=meta.get("run", ""),
            id=meta["id"],
            seq=meta["seq"],
            offset=offset,
            length=length,
        )
    except (ValueError, KeyError, TypeError):
        return None
    valid = (
        entry.op in OPS
        and entry.kind in KINDS
        and isinstance(entry.id, str)
        and ID_PATTERN.fullmatch(entry.id) is not None
        and isinstance(entry.run, str)
        and (entry.run == "") == (entry.kind != "step")
        and (entry.run == "" or ID_PATTERN.fullmatch(entry.run) is not None)
        and type(entry.seq) is int
        and entry.seq >= 0
        and (start >= 0) == (entry.op != "del")
    )
    return entry if valid else None


def scan(fd: int, start: int, end: int, path: str, counter: ReadCounter) -> tuple[list[Entry], int]:
    """Parse the log's bytes in ``[start, end)``; return the entries and where they end.

    Bad bytes with nothing valid after them are a torn tail: the returned end stops
    before them, and the caller cuts them off. A bad line with a good line after it
    cannot come from an interrupted append: that is corruption, and it is raised.
    """
    entries: list[Entry] = []
    bad_at: int | None = None
    carry = b""
    position = start  # file offset of carry[0]
    while position + len(carry) < end:
        chunk = counter.pread(fd, min(_CHUNK, end - position - len(carry)), position + len(carry))
        if not chunk:
            break
        buffer = carry + chunk
        cursor = 0
        while (newline := buffer.find(b"\n", cursor)) >= 0:
            line_end = newline + 1
            body = _body(buffer[cursor:line_end])
            if body is None:
                bad_at = position + cursor if bad_at is None else bad_at
            else:
                if bad_at is not None:
                    raise _corrupt(path, bad_at, "intact records follow it, so it is damage")
                entry = _entry(body, position + cursor, line_end - cursor)
                if entry is None:
                    raise _corrupt(path, position + cursor, "its checksum holds, its fields do not")
                entries.append(entry)
            cursor = line_end
        carry = buffer[cursor:]
        position += cursor
    if carry and bad_at is None:
        bad_at = position
    return entries, end if bad_at is None else bad_at


def _corrupt(path: str, offset: int, why: str) -> CorruptDataError:
    return CorruptDataError(f"corrupt log record in {path} at byte {offset}: {why}")

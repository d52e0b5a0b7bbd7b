"""Records in journals: lines to write, checked reads, and the steps of a delete.

The log is the truth. A slot of the index only says where to look: the line it leads to
must say it is about the record asked for (kind, owners, ID or position) before anything
is read from it or decided from it. When it does not, the index is damaged
(:class:`IndexMismatch`): the caller rebuilds it from the log and tries again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadstore.backends.local.index import GONE_KEY, IndexMismatch, Slot, item_key, position_key
from threadstore.backends.local.journal import Journal, Written
from threadstore.backends.local.layout import Incarnation
from threadstore.backends.local.log import (
    BEGIN,
    GONE,
    Entry,
    after_seq,
    data_in,
    entry_about,
    entry_in,
    make_line,
    prefix,
)
from threadstore.records import RECORD_FORMAT, Kind

__all__ = [
    "Change",
    "IndexMismatch",
    "at_position",
    "batch",
    "begin",
    "change",
    "checked",
    "count",
    "gone",
    "held_records",
    "is_gone",
    "live",
    "live_line",
    "live_slots",
    "place",
    "records_in",
    "tombstone",
]


def change(
    op: str,
    kind: Kind[Any],
    under: tuple[str, ...],
    record_id: str,
    seq: int,
    data: bytes | None = None,
    *,
    more: bool = False,
) -> Written:
    """One line of a change, and the entry the index learns from it (placed by :func:`place`)."""
    version = RECORD_FORMAT if data is not None else None
    line = make_line(op, kind, under, record_id, seq, data, version=version, more=more)
    return Written(line, Entry(op, kind.singular, under, record_id, seq, 0, len(line), more))


def begin(incarnation: Incarnation) -> Written:
    """The first line of a list file: which incarnation of which record it belongs to."""
    return change(BEGIN, incarnation.kind, (), incarnation.id, incarnation.seq)


def gone(incarnation: Incarnation) -> Written:
    """The last line of a list file: its incarnation was deleted."""
    return change(GONE, incarnation.kind, (), incarnation.id, incarnation.seq)


def place(journal: Journal, written: list[Written]) -> list[Written]:
    """The lines with the offsets they get when appended at the journal's end now; an
    empty log's first write starts with its opening line (``Journal.opening``)."""
    if journal.size == 0 and journal.opening is not None:
        written = [journal.opening, *written]
    offset, placed = journal.size, []
    for item in written:
        line, entry = item.line, item.entry
        at = Entry(
            entry.op, entry.kind, entry.under, entry.id, entry.seq, offset, len(line), entry.more
        )
        placed.append(Written(line, at))
        offset += len(line)
    return placed


def is_gone(journal: Journal) -> bool:
    """Whether the journal's incarnation was deleted (or its file removed)."""
    return journal.stale or journal.index.get(GONE_KEY) is not None


def count(journal: Journal, kind: Kind[Any], under: tuple[str, ...]) -> int:
    """The length of a list, checked: its last position is there, the next one is not."""
    total = journal.index.count(kind.singular, under)
    last = total - 1
    if journal.index.get(position_key(kind.singular, under, total)) is not None or (
        total and journal.index.get(position_key(kind.singular, under, last)) is None
    ):
        raise IndexMismatch(
            f"damaged index {journal.index.path}: the length of {kind.name} is wrong"
        )
    return total


def live(journal: Journal, kind: Kind[Any], under: tuple[str, ...], record_id: str) -> Entry | None:
    """The record's latest entry, if it lives (checked against the log), else ``None``."""
    found = live_line(journal, kind, under, record_id)
    return None if found is None else found[0]


def live_line(
    journal: Journal, kind: Kind[Any], under: tuple[str, ...], record_id: str
) -> tuple[Entry, bytes] | None:
    """:func:`live`, with the line itself."""
    slot = journal.index.get(item_key(kind.singular, under, record_id))
    if slot is None or slot.deleted:
        return None
    return checked(journal, slot, kind, under, record_id=record_id)


def at_position(journal: Journal, kind: Kind[Any], under: tuple[str, ...], seq: int) -> Slot | None:
    return journal.index.get(position_key(kind.singular, under, seq))


def live_slots(
    journal: Journal,
    kind: Kind[Any],
    under: tuple[str, ...],
    position: int,
    step: int,
    total: int,
    count: int,
) -> list[tuple[int, Slot]]:
    """Up to ``count`` live records' positions and slots, from ``position`` on by ``step``
    (the list is ``total`` long): O(records passed over)."""
    get = journal.index.get
    key = position_key(kind.singular, under, 0)[:-1]
    found: list[tuple[int, Slot]] = []
    while 0 <= position < total and len(found) < count:
        slot = get(f"{key}{position}")
        if slot is None:
            raise IndexMismatch(
                f"damaged index {journal.index.path}: no {kind.singular} at position {position}"
            )
        if not slot.deleted:
            found.append((position, slot))
        position += step
    return found


def checked(
    journal: Journal,
    slot: Slot,
    kind: Kind[Any],
    under: tuple[str, ...],
    *,
    record_id: str | None = None,
    seq: int | None = None,
    line: bytes | None = None,
) -> tuple[Entry, bytes]:
    """The line a slot leads to, and its entry, after checking that it is about the record
    asked for (a live version of it, unless the slot says deleted)."""
    if line is None:
        line = journal.line(slot.offset)
    if seq is not None and not line.startswith(prefix(kind, under, seq)):
        raise _mismatch(journal, slot, f"{kind.singular} at position {seq}")
    wanted_ops = ("del",) if slot.deleted else ("add", "set")
    if record_id is not None and seq is None:
        entry = entry_about(line, slot.offset, kind, under, record_id, wanted_ops)
        if entry is not None:
            return entry, line
    entry = entry_in(line, slot.offset)
    if (
        entry is None
        or entry.kind != kind.singular
        or entry.under != under
        or entry.op not in wanted_ops
        or (record_id is not None and entry.id != record_id)
    ):
        raise _mismatch(journal, slot, f"{kind.singular} {record_id or seq!r}")
    return entry, line


_LIVE_OPS = (b'add","id":"', b'set","id":"')


def records_in(
    journal: Journal,
    kind: Kind[Any],
    under: tuple[str, ...],
    slots: Sequence[tuple[int, Slot]],
) -> list[bytes | None]:
    """The record JSON of each live line the position ``slots`` lead to, each checked to
    be about its position of the list asked for (read through the journal).

    Lines are written in one form, so a line's first bytes are compared with the form's
    for that position and a live op; a line in any other form is parsed in full instead
    (:func:`checked`), which raises :class:`IndexMismatch` if it is about something else.
    What a line was found to hold is remembered beside it (``Journal.learned``): read
    again, it is compared with what is expected now, not parsed again.
    """
    after = after_seq(kind, under)
    learned, size = journal.learned, journal.size
    lines = journal.lines([slot.offset for _, slot in slots if slot.offset not in learned])
    found: list[bytes | None] = []
    for seq, slot in slots:
        known = learned.get(slot.offset)
        if known is not None and known[0] <= size and known[1] == seq and known[2] == after:
            found.append(known[3])
            continue
        line = lines[slot.offset] if slot.offset in lines else journal.line(slot.offset)
        head = b'{"seq":%d' % seq + after
        if not (line.startswith(head) and line.startswith(_LIVE_OPS, len(head))):
            checked(journal, slot, kind, under, seq=seq, line=line)
        data = data_in(line)
        learned[slot.offset] = (slot.offset + len(line), seq, after, data)
        found.append(data)
    return found


def _mismatch(journal: Journal, slot: Slot, what: str) -> IndexMismatch:
    return IndexMismatch(
        f"damaged index {journal.index.path}: it places {what} at byte {slot.offset} of "
        f"{journal.path}, which holds something else (it is derived from the log; it is rebuilt)"
    )


Change = tuple[Kind[Any], tuple[str, ...], str, int, bytes | None]
"""One record of a batch: its kind, its owners below the top level, ID, position, data."""


def batch(journal: Journal, op: str, changes: Sequence[Change]) -> list[Written]:
    """The lines of one commit, placed at the journal's end: all ``op``, every line but
    the last marked ``more`` (a batch cut short by a crash never happened)."""
    last = len(changes) - 1
    return place(
        journal,
        [
            change(op, kind, under, record_id, seq, data, more=n < last)
            for n, (kind, under, record_id, seq, data) in enumerate(changes)
        ],
    )


def tombstone(catalog: Journal, incarnation: Incarnation) -> bool:
    """Delete a top-level record's incarnation from the catalog (the catalog locked
    exclusively); ``False`` if it is no longer the live one (someone did it first)."""
    found = live(catalog, incarnation.kind, (), incarnation.id)
    if found is None or found.seq != incarnation.seq:
        return False
    catalog.append(batch(catalog, "del", [(incarnation.kind, (), incarnation.id, found.seq, None)]))
    return True


def held_records(journal: Journal, kind: Kind[Any], held: tuple[str, ...]) -> list[Change]:
    """Deletes of every live record a removed record held (a run's steps), at any depth."""
    deletes: list[Change] = []
    for child in kind.children:
        for seq in range(count(journal, child, held)):
            slot = at_position(journal, child, held, seq)
            if slot is None or slot.deleted:
                continue
            entry, _ = checked(journal, slot, child, held, seq=seq)
            deletes.append((child, held, entry.id, seq, None))
            deletes += held_records(journal, child, (*held, entry.id))
    return deletes

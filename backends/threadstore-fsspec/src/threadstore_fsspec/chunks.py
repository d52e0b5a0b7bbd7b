"""A list's records, packed in chunks: what one chunk object holds, and how it is read.

A chunk is ``{"entries": [...]}``, entries in list order. An entry is one of:

- a record: ``{"id", "t", "w", "p", "f", "record"}``, plus ``"gen"`` and ``"tails"`` for
  a record that owns lists (a thread, a run): the generation its lists live under and,
  per owned kind, the number of that list's last chunk (a hint, see :data:`tail`);
- a tombstone, what a deleted record leaves: ``{"id", "t", "w", "p", "deleted": true}``;
- an abort: ``{"abort": TOKEN}``, written over an append that claimed IDs and never
  committed, so that its writer can no longer commit it (see :mod:`threadstore_fsspec.lists`).

``t`` is the token of the append that added the record, ``w`` that of the last write of
it and ``p`` that of the write before (``null`` until one changes it): an answer lost in
transit is settled by reading these back. ``f`` is ``RECORD_FORMAT``, the version of the
record's JSON form. Entries are never removed, so a chunk only grows: once it holds
:data:`CHUNK_RECORDS` entries it is *full* and the next append starts the next chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from threadstore.backend import RECORD_FORMAT, CorruptDataError, Kind
from threadstore_fsspec.objects import Blob, new_token

__all__ = ["CHUNK_RECORDS", "Chunk", "Fate", "record_entry", "tail", "tombstone"]

CHUNK_RECORDS = 32
"""Entries a chunk holds before the next one starts (a batch may push one past it).
A page of 20 (21 records with ``has_more``, and the cursor) spans at most two chunks."""


class Fate(Enum):
    """What became of an append, as the log shows it."""

    COMMITTED = "committed"
    ABORTED = "aborted"


def record_entry(record: dict[str, Any], token: str, kind: Kind[Any]) -> dict[str, Any]:
    """A new record's entry, written by the append with ``token``; a record of a kind
    that owns lists gets a fresh generation, and a tail pointer for each of them."""
    entry: dict[str, Any] = {"id": record["id"], "t": token, "w": token, "p": None}
    if kind.children:
        entry["gen"] = new_token()
        entry["tails"] = {child.name: 0 for child in kind.children}
    entry["f"] = RECORD_FORMAT
    entry["record"] = record
    return entry


def tombstone(entry: dict[str, Any], token: str) -> dict[str, Any]:
    """What a deleted record leaves in its place: enough to settle lost answers."""
    return {"id": entry["id"], "t": entry["t"], "w": token, "p": entry["w"], "deleted": True}


def tail(entry: dict[str, Any], kind_name: str) -> int:
    """The number of the last chunk of the owned list ``kind_name``, as the owner's entry
    records it: the last chunk, or one past it when the last is full; it may lag behind
    after a writer died, never run ahead."""
    return int(entry.get("tails", {}).get(kind_name, 0))


@dataclass(frozen=True)
class Chunk:
    """One chunk as read: its number, its version (``blob``) and its entries."""

    number: int
    blob: Blob
    entries: list[dict[str, Any]]

    @classmethod
    def of(cls, number: int, blob: Blob, key: str) -> Chunk:
        entries = blob.data.get("entries")
        if not isinstance(entries, list) or not all(_well_formed(e) for e in entries):
            raise CorruptDataError(f"corrupt chunk at {key}: not a list of entries")
        return cls(number, blob, entries)

    @property
    def full(self) -> bool:
        return len(self.entries) >= CHUNK_RECORDS

    def live(self, record_id: str) -> int | None:
        """The index of the live record ``record_id``, if this chunk holds it."""
        for index, entry in enumerate(self.entries):
            if entry.get("id") == record_id and "record" in entry:
                return index
        return None

    def added_by(self, record_id: str, token: str) -> int | None:
        """The index of the entry the append ``token`` made for ``record_id`` (live or not)."""
        for index, entry in enumerate(self.entries):
            if entry.get("id") == record_id and entry.get("t") == token:
                return index
        return None

    def fate(self, token: str) -> Fate | None:
        """Whether this chunk shows the append ``token`` committed or aborted."""
        for entry in self.entries:
            if entry.get("abort") == token:
                return Fate.ABORTED
            if entry.get("t") == token and "id" in entry:
                return Fate.COMMITTED
        return None

    def replaced(self, index: int, entry: dict[str, Any]) -> dict[str, Any]:
        """This chunk's data with entry ``index`` replaced."""
        entries = list(self.entries)
        entries[index] = entry
        return {"entries": entries}

    def extended(self, added: list[dict[str, Any]]) -> dict[str, Any]:
        return {"entries": [*self.entries, *added]}


def _well_formed(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    if "abort" in entry:
        return isinstance(entry["abort"], str)
    if not isinstance(entry.get("id"), str) or not isinstance(entry.get("t"), str):
        return False
    if "record" in entry:
        record = entry["record"]
        return isinstance(record, dict) and record.get("id") == entry["id"]
    return entry.get("deleted") is True

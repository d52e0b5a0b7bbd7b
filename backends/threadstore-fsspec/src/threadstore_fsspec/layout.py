"""Where each object lives in the bucket, below the store's prefix.

```
PREFIX/threadstore.json                     the store's marker: format, version, probe, tails
PREFIX/probe/TOKEN                          the start-up probe's objects (deleted after)
PREFIX/threads/chunks/000000000000          a list's chunks: its records, in order
PREFIX/threads/ids/ID                       a list's claims: one per record ID
PREFIX/threads/owned/ID/GEN/messages/...    the lists record ID owns, in its generation GEN
```

A *list* is a prefix ending in ``/``: ``threads/`` for a top-level kind, and below a
record that owns lists, ``…/owned/ID/GEN/KIND/`` for each kind it owns (a thread's
``messages/`` and ``runs/``, a run's ``steps/``). Names are made from the kinds, so a
new kind needs no new code here. Record IDs appear only after ``ids/`` and ``owned/``,
so no ID can be mistaken for a part of the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from threadstore.backend import Kind
from threadstore.ids import ID_PATTERN

__all__ = ["CHUNK_DIGITS", "KeyPart", "Layout", "parse_key"]

CHUNK_DIGITS = 12
MARKER = "threadstore.json"
_CHUNK = re.compile(rf"\d{{{CHUNK_DIGITS}}}")
_GENERATION = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Layout:
    """Keys below ``root`` (``prefix/``, or ``""`` for a whole bucket)."""

    root: str

    @property
    def marker(self) -> str:
        return f"{self.root}{MARKER}"

    @property
    def probes(self) -> str:
        return f"{self.root}probe/"

    def top(self, kind: Kind[Any]) -> str:
        """The list of a top-level kind."""
        return f"{self.root}{kind.name}/"

    @staticmethod
    def owned(log: str, record_id: str, generation: str) -> str:
        """Everything the record ``record_id`` of ``log`` owns, in one generation."""
        return f"{log}owned/{record_id}/{generation}/"

    @classmethod
    def child(cls, log: str, record_id: str, generation: str, kind: Kind[Any]) -> str:
        """The list of ``kind`` that the record ``record_id`` of ``log`` owns."""
        return f"{cls.owned(log, record_id, generation)}{kind.name}/"

    @staticmethod
    def chunk(log: str, number: int) -> str:
        return f"{log}chunks/{number:0{CHUNK_DIGITS}d}"

    @staticmethod
    def claim(log: str, record_id: str) -> str:
        return f"{log}ids/{record_id}"


@dataclass(frozen=True)
class KeyPart:
    """What a key is, read off its name: a chunk or claim of a list, the marker, a probe
    object; ``owners`` are the ``(list, record ID, generation)`` it lies below."""

    what: str
    """``chunk``, ``claim``, ``marker``, ``probe`` or ``unknown``."""
    log: str = ""
    name: str = ""
    """The chunk number or the claimed ID."""
    owners: tuple[tuple[str, str, str], ...] = ()


def parse_key(root: str, key: str, kinds: dict[str, Kind[Any]]) -> KeyPart:
    """What ``key`` (below ``root``) is in this layout; ``kinds`` by name."""
    rest = key[len(root) :]
    if rest == MARKER:
        return KeyPart("marker")
    parts = rest.split("/")
    if parts[0] == "probe" and len(parts) == 2:
        return KeyPart("probe", name=parts[1])
    top = kinds.get(parts[0])
    if top is None or top.owner is not None:
        return KeyPart("unknown")
    kind, log, index = top, f"{root}{parts[0]}/", 1
    owners: list[tuple[str, str, str]] = []
    while index + 1 < len(parts):
        part, name = parts[index], parts[index + 1]
        if index + 2 == len(parts):
            if part == "chunks" and _CHUNK.fullmatch(name):
                return KeyPart("chunk", log, name, tuple(owners))
            if part == "ids" and ID_PATTERN.fullmatch(name):
                return KeyPart("claim", log, name, tuple(owners))
            break
        if part != "owned" or not ID_PATTERN.fullmatch(name) or index + 3 >= len(parts):
            break
        generation, child = parts[index + 2], kinds.get(parts[index + 3])
        if not _GENERATION.fullmatch(generation) or child is None or child.owner is not kind:
            break
        owners.append((log, name, generation))
        kind, log = child, Layout.child(log, name, generation, child)
        index += 4
    return KeyPart("unknown")

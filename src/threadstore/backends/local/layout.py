"""Where a local store keeps what, and which incarnation a list file belongs to.

    ROOT/threadstore.json                      {"format": "threadstore.local", "version": 2}
    ROOT/catalog.jsonl, ROOT/catalog.idx       the top-level records (threads, conversations)
    ROOT/lists/KIND/XX/ID.N.jsonl, ….idx       what incarnation N of top-level record ID holds
    ROOT/tmp/                                  unfinished work of live or dead writers

An *incarnation* is one life of a top-level record: its position ``N`` in the catalog's
list of its kind. A record deleted and created again gets a new position, so a new list
file: nothing ever acts by name on the files of a live incarnation it has not checked.
``XX`` spreads list files over 256 directories.
"""

from __future__ import annotations

import os
import re
import zlib
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from threadstore.ids import ID_PATTERN
from threadstore.records import KINDS, Kind

__all__ = ["FORMAT", "FORMAT_VERSION", "Incarnation", "Layout"]

FORMAT = "threadstore.local"
FORMAT_VERSION = 2
_LIST_NAME = re.compile(r"(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(?P<seq>\d{1,19})\.(jsonl|idx)")
_TOP_KINDS = {kind.name: kind for kind in KINDS if kind.owner is None}
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Incarnation:
    """One life of a top-level record: the kind, the ID, the position it was created at."""

    kind: Kind[Any]
    id: str
    seq: int


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


class Layout:
    """The paths of one store."""

    def __init__(self, root: str, durable: bool) -> None:
        self.root = root
        self.durable = durable
        self.marker = os.path.join(root, "threadstore.json")
        self.lock = os.path.join(root, "threadstore.lock")
        self.catalog = os.path.join(root, "catalog.jsonl")
        self.lists = os.path.join(root, "lists")
        self.tmp = os.path.join(root, "tmp")
        self._kind_dirs: dict[str, tuple[int, tuple[int, int]]] = {}
        """lists/KIND → an open descriptor of it, and its device and inode."""

    def shard(self, kind: Kind[Any], record_id: str) -> str:
        spread = zlib.crc32(record_id.encode()) & 0xFF
        return os.path.join(self.lists, kind.name, f"{spread:02x}")

    def list_path(self, incarnation: Incarnation) -> str:
        """The log of an incarnation's lists; its index is beside it (``.idx``)."""
        folder = self.shard(incarnation.kind, incarnation.id)
        return os.path.join(folder, f"{incarnation.id}.{incarnation.seq}.jsonl")

    def shard_fd(self, incarnation: Incarnation, create: bool) -> int | None:
        """A descriptor of the directory an incarnation's list file is in, reached one
        level at a time without following a link (``None``: it does not exist). A link
        planted anywhere below the root leads nowhere: opening it fails.

        The kind's directory (``lists/KIND``), once reached, is kept open and used again
        while its path still names that very directory (same device and inode, by
        ``lstat``): a directory removed, replaced or turned into a link is walked again.
        """
        kind_dir = os.path.join(self.lists, incarnation.kind.name)
        spread = os.path.basename(self.shard(incarnation.kind, incarnation.id))
        kept = self._kind_dirs.get(kind_dir)
        if kept is not None:
            fd, identity = kept
            try:
                same = _identity(os.lstat(kind_dir)) == identity
            except FileNotFoundError:
                same = False
            if same:
                return self._enter(fd, spread, create)
            del self._kind_dirs[kind_dir]
            os.close(fd)
        walked = self._walk(os.path.relpath(kind_dir, self.root), create)
        if walked is None:
            return None
        self._kind_dirs[kind_dir] = (walked, _identity(os.fstat(walked)))
        return self._enter(walked, spread, create)

    def _enter(self, parent: int, name: str, create: bool) -> int | None:
        """Open (or make) the directory ``name`` in ``parent``, not following a link."""
        try:
            return os.open(name, _DIRECTORY, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
        with suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent)
            if self.durable:
                os.fsync(parent)
        return os.open(name, _DIRECTORY, dir_fd=parent)

    def close(self) -> None:
        """Close the directories kept open."""
        for fd, _ in self._kind_dirs.values():
            os.close(fd)
        self._kind_dirs.clear()

    def _walk(self, parts: str, create: bool) -> int | None:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts.split(os.sep):
                inner = self._enter(fd, part, create)
                if inner is None:
                    return None
                os.close(fd)
                fd = inner
            opened, fd = fd, -1
            return opened
        finally:
            if fd >= 0:
                os.close(fd)

    def list_files(self) -> list[tuple[str, Incarnation | None]]:
        """Every entry below ``lists/``, with the incarnation its name says (``None``: not a
        list file threadstore writes). Costs a walk of the directories: checks only."""
        found: list[tuple[str, Incarnation | None]] = []
        if not os.path.isdir(self.lists):
            return found
        for kind_name in sorted(os.listdir(self.lists)):
            kind_dir = os.path.join(self.lists, kind_name)
            kind = _TOP_KINDS.get(kind_name)
            if kind is None or not os.path.isdir(kind_dir) or os.path.islink(kind_dir):
                found.append((kind_dir, None))
                continue
            for shard in sorted(os.listdir(kind_dir)):
                shard_dir = os.path.join(kind_dir, shard)
                if os.path.islink(shard_dir) or not os.path.isdir(shard_dir):
                    found.append((shard_dir, None))
                    continue
                for name in sorted(os.listdir(shard_dir)):
                    path = os.path.join(shard_dir, name)
                    match = _LIST_NAME.fullmatch(name)
                    incarnation = None
                    if match and not os.path.islink(path) and ID_PATTERN.fullmatch(match["id"]):
                        incarnation = Incarnation(kind, match["id"], int(match["seq"]))
                        if self.shard(kind, incarnation.id) != shard_dir:
                            incarnation = None
                    found.append((path, incarnation))
        return found

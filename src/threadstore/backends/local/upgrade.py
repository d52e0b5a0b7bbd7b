"""Stores written by threadstore 0.1 (format 1), converted to format 2 where they lie.

Format 1 kept each thread in ``threads/ID/log.jsonl`` (lines like format 2's, without
``v``, the thread's own record first) beside an ``index.bin``. :func:`upgrade` reads
every format-1 log from its start (the log is the truth; the old indexes are not read),
writes the same records in the same order into a format-2 store built in ``tmp/``, moves
it into place and switches the marker last. Until then the store is a format-1 store: an
interrupted upgrade is run again and starts over. Afterwards the old ``threads/``
directory is removed. Threads keep the order format 1 listed them in (by ID), which
becomes their creation order.

No other process may use the store while it is upgraded.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from threadstore.backends.local.files import fsync_dir, remove_tree, write_all
from threadstore.backends.local.layout import FORMAT, FORMAT_VERSION, Layout
from threadstore.errors import BackendError, CorruptDataError
from threadstore.ids import ID_PATTERN
from threadstore.records import MESSAGES, RUNS, STEPS, THREADS, decode_object

__all__ = ["Upgraded", "upgrade", "version_of"]

_OLD = "threads"
_BATCH = 100


@dataclass
class Upgraded:
    """What an upgrade carried over."""

    threads: int = 0
    messages: int = 0
    runs: int = 0
    steps: int = 0
    skipped: list[str] = field(default_factory=list)
    """Format-1 thread directories that could not be read (damaged): left in place."""


def upgrade(root: str, progress: Callable[[str], None] | None = None) -> Upgraded:
    """Convert the format-1 store at ``root`` to format 2; a format-2 store is left as it is
    (after removing what an interrupted upgrade left)."""
    from threadstore.backends.local.store import LocalThreadStore

    layout = Layout(os.path.abspath(root), durable=True)
    version = version_of(layout.marker)
    done = Upgraded()
    if version == FORMAT_VERSION:
        remove_tree(os.path.join(layout.root, _OLD))
        return done
    if version != 1:
        raise BackendError(f"{layout.root} is not a threadstore of format 1 or {FORMAT_VERSION}")
    building = os.path.join(layout.tmp, "upgrade")
    index = layout.catalog.removesuffix(".jsonl") + ".idx"
    for leftover in (building, layout.catalog, index, layout.lists):
        remove_tree(leftover)
    os.makedirs(layout.tmp, exist_ok=True)
    with LocalThreadStore(building, durable=False) as store:
        for thread_dir in sorted(os.listdir(os.path.join(layout.root, _OLD))):
            path = os.path.join(layout.root, _OLD, thread_dir)
            if not ID_PATTERN.fullmatch(thread_dir) or os.path.islink(path):
                continue
            try:
                _copy_thread(store, os.path.join(path, "log.jsonl"), done)
            except (CorruptDataError, OSError) as exc:
                done.skipped.append(f"{path}: {exc}")
            if progress is not None:
                progress(thread_dir)
    _sync_tree(building)
    for name in ("catalog.jsonl", "catalog.idx", "lists"):
        os.rename(os.path.join(building, name), os.path.join(layout.root, name))
    fsync_dir(layout.root)
    marker = os.path.join(layout.tmp, "threadstore.json")
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        content = json.dumps({"format": FORMAT, "version": FORMAT_VERSION}, indent=2) + "\n"
        write_all(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(marker, layout.marker)
    fsync_dir(layout.root)
    if not done.skipped:
        remove_tree(os.path.join(layout.root, _OLD))
    remove_tree(building)
    return done


def version_of(marker: str) -> Any:
    """The format version a store's marker file names."""
    try:
        with open(marker, "rb") as file:
            return json.loads(file.read()).get("version")
    except (OSError, ValueError, AttributeError):
        raise BackendError(f"{marker} is missing or damaged: not a threadstore") from None


def _copy_thread(store: Any, log: str, done: Upgraded) -> None:
    """Replay one format-1 log and write what it holds, in order, into ``store``."""
    latest: dict[tuple[str, str, str], tuple[int, Any]] = {}
    thread = None
    for line in _lines(log):
        kind, run, record_id = line["kind"], line.get("run", ""), line["id"]
        if kind == "thread":
            thread = None if line["op"] == "del" else line.get("data", thread)
            continue
        if line["op"] == "del":
            latest.pop((kind, run, record_id), None)
        else:
            latest[(kind, run, record_id)] = (line["seq"], line["data"])
    if thread is None:
        return
    made = store.create_thread(decode_object(THREADS, thread, log))
    done.threads += 1

    def listed(kind: str, run: str = "") -> list[Any]:
        found = [(seq, data) for (k, r, _), (seq, data) in latest.items() if (k, r) == (kind, run)]
        return [data for _, data in sorted(found, key=lambda pair: pair[0])]

    messages = [decode_object(MESSAGES, data, log) for data in listed("message")]
    for start in range(0, len(messages), _BATCH):
        store.append_messages(made.id, messages[start : start + _BATCH])
    done.messages += len(messages)
    for data in listed("run"):
        run = store.create_run(made.id, decode_object(RUNS, data, log))
        done.runs += 1
        for step in listed("step", run.id):
            store.append_step(made.id, run.id, decode_object(STEPS, step, log))
            done.steps += 1


def _lines(log: str) -> Iterator[dict[str, Any]]:
    """The whole, checksummed lines of a format-1 log (a torn tail is never acknowledged)."""
    with open(log, "rb") as file:
        raw_lines = file.read().splitlines(keepends=True)
    for number, raw in enumerate(raw_lines, start=1):
        body, _, suffix = raw.rpartition(b',"crc":"')
        if not raw.endswith(b'"}\n') or suffix[:8] != b"%08x" % zlib.crc32(body):
            if number == len(raw_lines):
                return  # a torn tail: never acknowledged
            raise CorruptDataError(f"corrupt log record in {log}, line {number}")
        yield json.loads(body + b"}")


def _sync_tree(path: str) -> None:
    """fsync every file and directory below ``path`` (it was written without)."""
    for folder, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)

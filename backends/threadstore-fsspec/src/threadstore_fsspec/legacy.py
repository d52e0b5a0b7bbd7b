"""Prefixes written by threadstore-fsspec 0.1: recognised, refused, and migrated.

0.1 kept one object per record and no marker::

    threads/ID                                         {gen, record}
    thread-data/ID/GEN/{messages,runs}/seq/N           {id, record} or {id, deleted}
    thread-data/ID/GEN/steps/RUN/seq/N                 the same, for a run's steps
    thread-data/ID/GEN/.../id/ID, .../head             claims and head hints

Opening such a prefix is refused with the command that upgrades it:
``threadstore migrate URL`` (:func:`migrate`), which rewrites it in place through the
list protocol (IDs, order and every field kept; threads in 0.1's listing order: by
creation stamp where 0.1 wrote one, then by ID), writes the marker last, then deletes
the 0.1 objects. Its writers must be stopped first. A migration that dies before the
marker leaves a 0.1 prefix (run it again: it starts over); after the marker, a current
store with 0.1 leftovers, which running it again (or ``verify --repair``) removes.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from threadstore.backend import (
    KINDS,
    MESSAGES,
    RUNS,
    STEPS,
    THREADS,
    BackendError,
    Kind,
    decode_object,
)
from threadstore_fsspec.chunks import CHUNK_RECORDS
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.lists import Lists, Target
from threadstore_fsspec.marker import VERSION, Marker
from threadstore_fsspec.objects import Blob, S3Objects
from threadstore_fsspec.probe import probe
from threadstore_fsspec.rounds import gather

__all__ = ["LEGACY_VERSION", "is_legacy", "migrate", "refuse_legacy"]

LEGACY_VERSION = 1
_THREAD_KEY = re.compile(r"threads/[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_BATCH = 200


def is_legacy(root: str, key: str) -> bool:
    """Whether ``key`` is an object of the 0.1 layout."""
    rest = key[len(root) :]
    return bool(_THREAD_KEY.fullmatch(rest)) or rest.startswith("thread-data/")


async def refuse_legacy(objects: S3Objects, layout: Layout, shown_as: str) -> None:
    """For a prefix without a marker: refuse a 0.1 store (naming the command that
    upgrades it) or a prefix holding something else; an empty one is a new store."""
    root = layout.root
    (before, _), (after, _) = await gather(
        objects.keys_after(root, None, 1), objects.keys_after(root, f"{root}probe0", 1)
    )
    found = [key for key in (*before, *after) if not key.startswith(layout.probes)]
    if not found:
        return
    if any(is_legacy(root, key) for key in found) or await _has_legacy(objects, root):
        raise BackendError(
            f"{shown_as} holds a threadstore-fsspec 0.1 store (one object per record), which "
            f"this version does not read: upgrade it in place with `threadstore migrate "
            f"{shown_as}` (stop the processes that write to it first)"
        )
    raise BackendError(
        f"{shown_as} is not empty but holds no threadstore store (it has "
        f"{objects.place.url(found[0])} and no {layout.marker.rsplit('/', 1)[-1]}): point "
        "the URL at an empty prefix or at an existing store"
    )


async def _has_legacy(objects: S3Objects, root: str) -> bool:
    (threads, _), (data, _) = await gather(
        objects.keys_after(f"{root}threads/", None, 1),
        objects.keys_after(f"{root}thread-data/", None, 1),
    )
    return any(is_legacy(root, key) for key in (*threads, *data))


async def migrate(
    objects: S3Objects, layout: Layout, marker: Marker, probing: bool | str
) -> tuple[int | None, int]:
    """Upgrade the prefix to the current layout; returns the versions before and after."""
    if await marker.read() is not None:
        await _remove_legacy(objects, layout.root)  # left by a migration that died late
        return VERSION, VERSION
    root = layout.root
    keys = [key for key, _ in await objects.entries(root)]
    legacy = [key for key in keys if is_legacy(root, key)]
    other = [k for k in keys if not is_legacy(root, k) and not k.startswith(layout.probes)]
    if other and not legacy:
        raise BackendError(
            f"{marker.shown_as} holds objects that are not a threadstore store "
            f"({objects.place.url(other[0])}): nothing to migrate"
        )
    record = await probe(objects, layout) if probing is not False else None
    if not legacy:
        await marker.create(record)
        return None, VERSION
    for kind in KINDS:  # new-layout objects of an earlier attempt that died
        if kind.owner is None:
            for part in ("chunks/", "ids/", "owned/"):
                await objects.delete_prefix(f"{layout.top(kind)}{part}")
    lists = Lists(objects, layout, marker)
    keys = [key for key in legacy if _THREAD_KEY.fullmatch(key[len(root) :])]
    threads = [(key, blob) for key, blob in zip(keys, await _read(objects, keys), strict=True)]
    threads.sort(key=lambda pair: _listed(pair[1]))
    for key, blob in threads:
        if blob is not None:
            await _copy_thread(objects, lists, root, key, blob)
    tails = {THREADS.name: lists.tail_hint(layout.top(THREADS)) or 0}
    await marker.create(record, tails)
    await _remove_legacy(objects, root)
    return LEGACY_VERSION, VERSION


def _listed(blob: Blob | None) -> tuple[int, str]:
    """Where 0.1 listed a thread: by its creation stamp (``made``, from its last
    releases), then by ID."""
    if blob is None:
        return 0, ""
    return int(blob.data.get("made", 0)), str(blob.data["record"]["id"])


async def _read(objects: S3Objects, keys: list[str]) -> list[Blob | None]:
    blobs: list[Blob | None] = []
    for start in range(0, len(keys), _BATCH):
        blobs += await objects.get_many(keys[start : start + _BATCH])
    return blobs


async def _copy_thread(objects: S3Objects, lists: Lists, root: str, key: str, blob: Blob) -> None:
    """Rewrite one 0.1 thread and everything under it."""
    thread_id, generation = key.rsplit("/", 1)[1], str(blob.data["gen"])
    old = f"{root}thread-data/{thread_id}/{generation}/"
    thread = decode_object(THREADS, blob.data["record"], objects.place.url(key))
    await lists.within(THREADS, (), partial(_append, lists, records=[thread]))
    for kind in (MESSAGES, RUNS):
        records = await _read_log(objects, kind, f"{old}{kind.name}/")
        await _append_all(lists, kind, (thread_id,), records)
        if kind is RUNS:
            for run in records:
                steps = await _read_log(objects, STEPS, f"{old}steps/{run.id}/")
                await _append_all(lists, STEPS, (thread_id, run.id), steps)


async def _append(lists: Lists, target: Target, *, records: list[Any]) -> None:
    await lists.append(target, records)


async def _append_all(
    lists: Lists, kind: Kind[Any], scope: tuple[str, ...], records: list[Any]
) -> None:
    """Append in batches of a chunk's size: the layout one-by-one appends would make."""
    for start in range(0, len(records), CHUNK_RECORDS):
        batch = records[start : start + CHUNK_RECORDS]
        await lists.within(kind, scope, partial(_append, lists, records=batch))


async def _read_log(objects: S3Objects, kind: Kind[Any], prefix: str) -> list[Any]:
    """The live records of a 0.1 list, in slot order."""
    keys = [key for key, _ in await objects.entries(f"{prefix}seq/")]
    blobs = await _read(objects, keys)
    return [
        decode_object(kind, blob.data["record"], objects.place.url(key))
        for key, blob in zip(keys, blobs, strict=True)
        if blob is not None and "record" in blob.data
    ]


async def _remove_legacy(objects: S3Objects, root: str) -> int:
    removed = await objects.delete_prefix(f"{root}thread-data/")
    threads = [key for key, _ in await objects.entries(f"{root}threads/") if is_legacy(root, key)]
    await objects.delete_keys(threads)
    return removed + len(threads)

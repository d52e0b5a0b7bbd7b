"""The store's marker object, ``PREFIX/threadstore.json``: what the prefix holds.

``{"format": "threadstore.s3", "version": 2, "probe": {...} | null, "tails": {...}}``:
the layout's version (an opener refuses any other), the result of the last start-up
probe of conditional writes with its time (so later openers skip it), and the tail
pointers of the top-level lists (:func:`threadstore_fsspec.chunks.tail`). It is
created by the first write to a prefix, never by a reader; opening a store reads it,
one request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threadstore.backend import BackendError
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.objects import Blob, S3Objects, new_token

__all__ = ["FORMAT", "VERSION", "Marker"]

FORMAT = "threadstore.s3"
VERSION = 2
"""The layout this code writes. Version 1 was threadstore-fsspec 0.1's (no marker:
one object per record); ``threadstore migrate URL`` upgrades it."""
_ATTEMPTS = 1000


class Marker:
    """The marker of one store: read once at open, kept current as this process changes it."""

    def __init__(self, objects: S3Objects, layout: Layout, shown_as: str) -> None:
        self.objects = objects
        self.key = layout.marker
        self.shown_as = shown_as
        self.blob: Blob | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {} if self.blob is None else self.blob.data

    @property
    def probed(self) -> bool:
        """Whether a start-up probe of this store passed (and was recorded)."""
        return bool(self.data.get("probe"))

    async def read(self) -> Blob | None:
        """The marker as stored now (``None``: no marker, an empty or 0.1 prefix)."""
        blob = await self.objects.get(self.key)
        if blob is not None:
            self._check(blob)
        self.blob = blob
        return blob

    def _check(self, blob: Blob) -> None:
        data = blob.data
        if data.get("format") != FORMAT:
            raise BackendError(
                f"{self.shown_as} has a {self.key.rsplit('/', 1)[-1]} that is not a "
                "threadstore object-storage marker: is this prefix used by something else?"
            )
        if data.get("version") != VERSION:
            raise BackendError(
                f"{self.shown_as} holds layout version {data.get('version')!r}; this "
                f"threadstore-fsspec reads version {VERSION} only: upgrade threadstore-fsspec"
            )

    async def create(
        self, probe: dict[str, Any] | None, tails: dict[str, int] | None = None
    ) -> None:
        """Make the marker if there is none (the first write to the prefix), recording
        ``probe``; if one exists, record ``probe`` in it when it has none."""
        data = {"format": FORMAT, "version": VERSION, "probe": probe, "tails": tails or {}}
        created, blob = await self.objects.create(self.key, data, new_token())
        if created:
            self.blob = blob
            return
        if blob is not None:
            self._check(blob)
            self.blob = blob
        if probe is not None and not self.probed:
            await self._change(lambda data: {**data, "probe": probe})

    async def advance(self, name: str, wanted: int, *, exact: bool = False) -> None:
        """Move the tail pointer of the top-level list ``name`` on to ``wanted`` (or set it
        to exactly ``wanted``, for a repair)."""

        def done(tails: dict[str, Any]) -> bool:
            current = int(tails.get(name, 0))
            return current == wanted or (current > wanted and not exact)

        if done(self.data.get("tails", {})):
            return

        def moved(data: dict[str, Any]) -> dict[str, Any] | None:
            current = dict(data.get("tails", {}))
            if done(current):
                return None
            current[name] = wanted
            return {**data, "tails": current}

        await self._change(moved)

    async def _change(self, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Compare-and-set the marker by ``change(data)`` (``None``: nothing to change)."""
        for _ in range(_ATTEMPTS):
            blob = self.blob if self.blob is not None else await self.read()
            if blob is None:
                return
            changed = change(blob.data)
            if changed is None:
                return
            result = await self.objects.swap(self.key, changed, blob, new_token())
            if isinstance(result, Blob):
                self.blob = result
                return
            await self.read()
        raise BackendError(f"too much contention on {self.shown_as} {self.key}")

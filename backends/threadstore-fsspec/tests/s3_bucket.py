"""Reading a store's objects straight from the bucket, with s3fs and no threadstore code:
what the tests check the layout against."""

from __future__ import annotations

import json
from typing import Any

import s3fs  # type: ignore[import-untyped]

from threadstore.url import StoreURL

BUCKET = "threadstore-tests"
"""The bucket the tests' moto server holds."""


def bucket(url: str) -> tuple[s3fs.S3FileSystem, str]:
    """Direct access to a store's objects (no threadstore code): the filesystem, and the
    store's root as ``bucket/prefix/``."""
    parsed = StoreURL.parse(url)
    fs = s3fs.S3FileSystem(
        endpoint_url=parsed.params["endpoint_url"],
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    return fs, f"{parsed.host}/{parsed.path.strip('/')}/"


def read_object(fs: s3fs.S3FileSystem, path: str) -> dict[str, Any]:
    """What an object holds (its envelope's ``data``)."""
    data: dict[str, Any] = json.loads(fs.cat(path))["data"]
    return data


def chunks_of(url: str, *path: str) -> tuple[str, list[list[dict[str, Any]]]]:
    """A list's chunks as stored: its prefix, and each chunk's entries in order. ``path``
    names the list: ``("threads",)``, ``("threads", THREAD_ID, "messages")``, ..."""
    fs, root = bucket(url)
    prefix = f"{root}{path[0]}/"
    for owner_id, kind in zip(path[1::2], path[2::2], strict=True):
        generation = read_object(fs, f"{prefix}ids/{owner_id}")["gen"]
        prefix = f"{prefix}owned/{owner_id}/{generation}/{kind}/"
    keys = sorted(fs.find(f"{prefix}chunks/"))
    return prefix, [read_object(fs, key)["entries"] for key in keys]

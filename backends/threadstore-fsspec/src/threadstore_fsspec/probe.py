"""The start-up probe: does this object store honour the conditions the protocol relies on?

Two checks, failing closed with :class:`BackendError`:

- the installed botocore must know ``IfNoneMatch``/``IfMatch`` on PutObject and
  ``IfMatch`` on DeleteObject (an old one drops them, and a create becomes an
  overwrite). Local, no request: run on every open.
- the store must refuse what it should, on ``PREFIX/probe/TOKEN``: create → stored,
  create again → 412, PUT with a stale ``If-Match`` → 412, ``If-Match`` on a missing
  key → 404/412, DELETE with a stale ``If-Match`` → 412; then the object is deleted.
  Five requests, which write: run before a store object's first write, unless the
  marker records a probe that passed (see :mod:`threadstore_fsspec.marker`).

An error names the step that failed, never the clean-up after it.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import version
from typing import Any

from threadstore.backend import BackendError
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.objects import S3Objects, new_token

__all__ = ["check_client", "probe"]

log = logging.getLogger("threadstore.fsspec")

_FIELDS = (("PutObject", "IfNoneMatch"), ("PutObject", "IfMatch"), ("DeleteObject", "IfMatch"))
_STALE_ETAG = '"00000000000000000000000000000000"'


def check_client(client: Any) -> None:
    """Refuse a botocore that does not know the conditional fields (it would drop them)."""
    model = client.meta.service_model
    for operation, field in _FIELDS:
        if field not in model.operation_model(operation).input_shape.members:
            raise BackendError(
                f"the installed botocore does not know {operation} {field}: it would "
                "silently drop the condition; upgrade with pip install -U 's3fs>=2026.2.0'"
            )


async def probe(objects: S3Objects, layout: Layout) -> dict[str, Any]:
    """Prove the store honours every condition; return the record the marker keeps."""
    token = new_token()
    key = f"{layout.probes}{token}"
    try:
        await _steps(objects, key, f"{key}-absent", token)
    finally:
        try:
            await objects.delete(key)
        except BackendError as exc:  # the probe's answer stands; a leftover is harmless
            log.warning("could not delete the probe object %s: %s", key, exc)
    return {
        "passed_at": int(time.time()),
        "by": f"threadstore-fsspec {version('threadstore-fsspec')}",
    }


async def _steps(objects: S3Objects, key: str, absent: str, token: str) -> None:
    step = "the start-up probe's first write (writing needs put and delete permission)"
    created, _ = await objects.create(key, {}, token, step)
    if not created:
        raise BackendError(f"{step} found {objects.place.url(key)} already there")
    checks = (
        ("If-None-Match on an existing object", key, {"IfNoneMatch": "*"}),
        ("If-Match with a stale ETag", key, {"IfMatch": _STALE_ETAG}),
        ("If-Match on a missing object", absent, {"IfMatch": _STALE_ETAG}),
    )
    for what, target, condition in checks:
        if await objects.conditional_put(
            f"the start-up probe's PUT with {what}", target, **condition
        ):
            if target == absent:
                await objects.delete(absent)
            raise _unsupported(what)
    if await objects.conditional_delete(
        "the start-up probe's DELETE with a stale If-Match", key, _STALE_ETAG
    ):
        raise _unsupported("If-Match on a delete")


def _unsupported(what: str) -> BackendError:
    return BackendError(
        f"this object store ignored {what}: it cannot do the conditional writes that keep "
        "appends exactly-once and updates atomic, so the store refuses to write "
        "(check_conditional_writes=false skips this check, at the risk of losing data)"
    )

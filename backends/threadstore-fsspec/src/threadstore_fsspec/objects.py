"""Conditional object writes on S3 through s3fs: create-only and compare-and-set, reconciled.

Every object is a JSON envelope ``{"creator", "writer", "prev", "data"}``: the token of
the write that created it, of the write that last replaced it, and of the version that
write replaced. Tokens make every version's bytes (so its ETag) unique, and they settle
an ambiguous outcome (a timeout, a 5xx, a retried request answered 412) by reading the
object back, as Delta Lake's conditional S3 log store does. Retries happen here only:
botocore and s3fs are told not to retry, so this module knows which attempts may have
landed.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import aiohttp
import s3fs  # type: ignore[import-untyped]
from aiobotocore.httpsession import AIOHTTPSession  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from botocore.handlers import add_expect_header  # type: ignore[import-untyped]
from s3fs.core import S3_RETRYABLE_ERRORS  # type: ignore[import-untyped]

from threadstore.errors import BackendError, CorruptDataError

__all__ = ["Blob", "NoResendSession", "S3Objects", "both", "gather", "new_token", "request_depth"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_CONDITION_FAILED = frozenset({"PreconditionFailed", "412"})
_CONDITION_CONFLICT = frozenset({"ConditionalRequestConflict", "409", "OperationAborted"})
_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"})
_BOGUS_ETAG = '"00000000000000000000000000000000"'
_NO_ANSWER = (
    BotoCoreError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
    *S3_RETRYABLE_ERRORS,
)


def new_token() -> str:
    """A fresh writer token: names one logical write across all of its attempts."""
    return secrets.token_hex(12)


# --- sequential round trips ---------------------------------------------------------------

_depth: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("depth", default=None)


def request_depth() -> list[int]:
    """Start counting, for the current task, the longest chain of requests waited for in turn.

    Returns the counter cell; requests issued concurrently through :func:`gather` count
    as one step of the chain. This is what "sequential round trips" means in the docs.
    """
    cell = [0]
    _depth.set(cell)
    return cell


def _count_request() -> None:
    cell = _depth.get()
    if cell is not None:
        cell[0] += 1


async def gather(*steps: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` that keeps :func:`request_depth` true: the longest branch counts."""
    cell = _depth.get()
    if cell is None:
        return list(await asyncio.gather(*steps))
    start = cell[0]
    branches: list[list[int]] = []

    async def branch(step: Awaitable[T]) -> T:
        own = [start]
        branches.append(own)
        _depth.set(own)
        return await step

    results = await asyncio.gather(*(branch(step) for step in steps))
    cell[0] = max([start, *(own[0] for own in branches)])
    return list(results)


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two different requests at once (one round trip), typed."""
    results: list[Any] = await gather(first, second)
    return results[0], results[1]


# --- errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    """What a failed request tells: its S3 error code and HTTP status (0 if none came back)."""

    code: str
    status: int

    @classmethod
    def of(cls, exc: Exception) -> _Failure:
        """Classify a failed request; anything that is not a storage failure is re-raised."""
        error = exc if isinstance(exc, ClientError) else exc.__cause__
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            return cls(code, status)
        if isinstance(exc, _NO_ANSWER):
            return cls(type(exc).__name__, 0)
        raise exc

    @property
    def not_found(self) -> bool:
        return self.code in _NOT_FOUND or self.status == 404

    @property
    def condition_failed(self) -> bool:
        return self.code in _CONDITION_FAILED or self.status == 412

    @property
    def definitely_not_applied(self) -> bool:
        """A refusal that happened before the store changed anything: safe to send again."""
        return (
            self.code in _CONDITION_CONFLICT
            or self.code in _THROTTLED
            or self.status in (409, 429, 503)
        )

    @property
    def transient(self) -> bool:
        """Worth another attempt: throttling, a 5xx, or no answer at all (timeout, reset)."""
        return self.definitely_not_applied or self.status >= 500 or self.status == 0

    def describe(self) -> str:
        return f"{self.code or 'error'} (HTTP {self.status})" if self.status else self.code


def _backend_error(operation: str, key: str, failure: _Failure) -> BackendError:
    return BackendError(f"object storage refused {operation} of {key}: {failure.describe()}")


class NoResendSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, minus aiohttp's silent resend of a PUT.

    aiohttp sends a PUT again, once, when a kept-alive connection drops before the answer
    (RFC 9112 counts PUT as idempotent). A conditional PUT is not idempotent: the resend
    of a write that landed is answered 412, and the win looks like a loss.
    """

    async def _get_session(self, proxy_url: Any) -> Any:
        session = await super()._get_session(proxy_url)
        session._retry_connection = False
        return session


# --- the object layer ------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """One version of an object: its envelope and the ETag that names the version."""

    envelope: dict[str, Any]
    etag: str

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = self.envelope["data"]
        return value

    @property
    def creator(self) -> str:
        return str(self.envelope.get("creator", ""))

    @property
    def writer(self) -> str:
        return str(self.envelope.get("writer", ""))


def _envelope(data: dict[str, Any], creator: str, writer: str, prev: str | None) -> bytes:
    body = {"creator": creator, "writer": writer, "prev": prev, "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


class S3Objects:
    """Objects in one bucket, read and written with conditional PUTs (async, on s3fs's loop).

    ``fs`` must be built without a listings cache; every call goes through
    ``fs._call_s3`` (``put_object``/``get_object``/``list_objects_v2``/``delete_object``).
    """

    def __init__(self, fs: s3fs.S3FileSystem, bucket: str, *, attempts: int) -> None:
        self.fs = fs
        self.bucket = bucket
        self.attempts = attempts
        fs.retries = 1  # retried here, where the outcome of each attempt is known
        self._tuned = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop = self.fs.loop
        return loop

    async def client(self) -> Any:
        return await self.fs.set_session()

    async def _call(self, operation: str, **params: Any) -> Any:
        if not self._tuned:
            await self._tune()
        _count_request()
        return await self.fs._call_s3(operation, Bucket=self.bucket, **params)

    async def _tune(self) -> None:
        """Send small PUTs whole: botocore asks for ``Expect: 100-continue`` on every
        body it can read, which costs each conditional PUT a second round trip."""
        client = await self.fs.set_session()
        client.meta.events.unregister("before-call.s3", add_expect_header)
        self._tuned = True

    async def _pause(self, attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))

    async def _retrying(self, operation: str, key: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run an idempotent request, retrying transient failures with jittered backoff."""
        for attempt in range(self.attempts):
            try:
                return await call()
            except Exception as exc:
                failure = _Failure.of(exc)
                if not failure.transient or attempt + 1 == self.attempts:
                    raise _backend_error(operation, key, failure) from None
            await self._pause(attempt)
        raise AssertionError("unreachable")

    # --- reads -----------------------------------------------------------------------

    async def get(self, key: str) -> Blob | None:
        """The object's current version, or ``None`` if there is none."""

        async def call() -> Blob | None:
            try:
                response = await self._call("get_object", Key=key)
            except Exception as exc:
                if _Failure.of(exc).not_found:
                    return None
                raise
            async with response["Body"] as stream:
                raw = await stream.read()
            return Blob(_parse(raw, key), str(response["ETag"]))

        return await self._retrying("a read", key, call)

    async def get_many(self, keys: Iterable[str]) -> list[Blob | None]:
        """Several objects at once: one round trip."""
        return await gather(*(self.get(key) for key in keys))

    async def keys_after(
        self, prefix: str, start_after: str | None, limit: int = 1000
    ) -> tuple[list[str], bool]:
        """Up to ``limit`` keys under ``prefix`` that sort after ``start_after``; and whether
        more follow. One LIST request, never cached."""
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": limit}
        if start_after:
            params["StartAfter"] = start_after

        async def call() -> tuple[list[str], bool]:
            response = await self._call("list_objects_v2", **params)
            keys = [item["Key"] for item in response.get("Contents", [])]
            return keys, bool(response.get("IsTruncated"))

        return await self._retrying("a listing", prefix, call)

    async def entries(self, prefix: str) -> list[tuple[str, float]]:
        """Every key under ``prefix`` with its last-modified time (Unix seconds), in key
        order: ceil(N/1000) LISTs. For whole-store checks, never for serving calls."""
        found: list[tuple[str, float]] = []
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": 1000}
        while True:
            response = await self._retrying(
                "a listing", prefix, partial(self._call, "list_objects_v2", **params)
            )
            contents = response.get("Contents", [])
            found.extend((item["Key"], item["LastModified"].timestamp()) for item in contents)
            if not response.get("IsTruncated") or not contents:
                return found
            params["StartAfter"] = contents[-1]["Key"]

    # --- writes ----------------------------------------------------------------------

    async def put(self, key: str, data: dict[str, Any], token: str) -> None:
        """Overwrite unconditionally (for hints, which readers never trust alone)."""
        body = _envelope(data, token, token, None)
        await self._retrying("a write", key, lambda: self._call("put_object", Key=key, Body=body))

    async def create(self, key: str, data: dict[str, Any], token: str) -> tuple[bool, Blob | None]:
        """Create the object if absent (``If-None-Match: *``).

        Returns ``(True, ours)`` when this write (token ``token``) made it, even if a
        retry of it was answered 412; else ``(False, theirs)``, where ``theirs`` is
        ``None`` only if the object vanished again (its thread was deleted).
        """
        body = _envelope(data, token, token, None)
        for attempt in range(self.attempts):
            try:
                response = await self._call("put_object", Key=key, Body=body, IfNoneMatch="*")
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.condition_failed:
                    current = await self.get(key)
                    if current is not None and current.creator == token:
                        return True, current  # an earlier attempt landed
                    if current is not None or attempt + 1 == self.attempts:
                        return False, current
                elif not failure.transient or attempt + 1 == self.attempts:
                    raise _backend_error("a create", key, failure) from None
                await self._pause(attempt)
                continue
            return True, Blob(json.loads(body), str(response["ETag"]))
        raise AssertionError("unreachable")

    async def swap(self, key: str, data: dict[str, Any], base: Blob, token: str) -> Blob | None:
        """Replace ``base`` with ``data`` if ``base`` is still current (``If-Match``).

        Returns the new version, or ``None`` if another write replaced ``base`` first.
        When an attempt's outcome was unknown and the object changed, the chain of
        tokens decides: ours is current (won), the current version replaced ``base``
        (lost), or anything else raises :class:`BackendError` rather than guess.
        """
        body = _envelope(data, base.creator, token, base.writer)
        uncertain = False
        for attempt in range(self.attempts):
            try:
                response = await self._call("put_object", Key=key, Body=body, IfMatch=base.etag)
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.condition_failed or failure.not_found:
                    if not uncertain:
                        return None
                    return await self._settle_swap(key, base, token)
                if not failure.transient or attempt + 1 == self.attempts:
                    raise _backend_error("a compare-and-set", key, failure) from None
                uncertain = uncertain or not failure.definitely_not_applied
                await self._pause(attempt)
                continue
            return Blob(json.loads(body), str(response["ETag"]))
        raise AssertionError("unreachable")

    async def _settle_swap(self, key: str, base: Blob, token: str) -> Blob | None:
        current = await self.get(key)
        if current is not None and current.writer == token:
            return current
        if current is None or current.envelope.get("prev") == base.writer:
            return None
        raise BackendError(
            f"the outcome of a compare-and-set of {key} is unknown: the request failed "
            "without an answer and the object has changed twice since; not retrying blindly"
        )

    async def delete(self, key: str, base: Blob | None = None) -> bool:
        """Delete the object (only version ``base`` if given); whether it was deleted.

        An attempt that got no answer may have deleted it: if a later attempt finds the
        object gone, that counts as deleted here (a concurrent deleter of the same
        version would succeed too; reporting "not found" to the caller that deleted it
        would be wrong).
        """
        condition = {} if base is None else {"IfMatch": base.etag}
        uncertain = False
        for attempt in range(self.attempts):
            try:
                await self._call("delete_object", Key=key, **condition)
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.not_found:
                    return uncertain
                if failure.condition_failed:
                    return False
                if not failure.transient or attempt + 1 == self.attempts:
                    raise _backend_error("a delete", key, failure) from None
                uncertain = uncertain or not failure.definitely_not_applied
                await self._pause(attempt)
                continue
            return True
        raise AssertionError("unreachable")

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every object under ``prefix`` (1 LIST and 1 batch delete per 1000)."""
        while True:
            keys, _ = await self.keys_after(prefix, None)
            if not keys:
                return
            batch = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
            await self._retrying(
                "a delete", prefix, partial(self._call, "delete_objects", Delete=batch)
            )

    # --- the start-up probe ------------------------------------------------------------

    async def probe(self, root: str) -> None:
        """Fail closed unless the store honours every condition this backend relies on."""
        client = await self.client()
        model = client.meta.service_model
        for operation, field in (
            ("PutObject", "IfNoneMatch"),
            ("PutObject", "IfMatch"),
            ("DeleteObject", "IfMatch"),
        ):
            if field not in model.operation_model(operation).input_shape.members:
                raise BackendError(
                    f"the installed botocore does not know {operation} {field}: it would "
                    "silently drop the condition; upgrade with pip install -U 's3fs>=2026.2.0'"
                )
        token = new_token()
        key, absent = f"{root}probe/{token}", f"{root}probe/{token}-absent"
        try:
            await self._probe_writes(key, absent, token)
        finally:
            await self.delete(key)

    async def _probe_writes(self, key: str, absent: str, token: str) -> None:
        created, _ = await self.create(key, {}, token)
        if not created:
            raise BackendError(f"the start-up probe could not create {key}")
        checks: list[tuple[str, str, dict[str, Any]]] = [
            ("If-None-Match on an existing object", key, {"IfNoneMatch": "*"}),
            ("If-Match with a stale ETag", key, {"IfMatch": _BOGUS_ETAG}),
            ("If-Match on a missing object", absent, {"IfMatch": _BOGUS_ETAG}),
        ]
        for what, target, condition in checks:
            try:
                await self._call("put_object", Key=target, Body=b"{}", **condition)
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.condition_failed or failure.not_found:
                    continue
                raise _backend_error("the start-up probe", target, failure) from None
            if target == absent:
                await self.delete(absent)
            raise _unsupported(what)
        if await self.delete(key, Blob({}, _BOGUS_ETAG)):
            raise _unsupported("If-Match on a delete")

    async def close(self) -> None:
        creator = getattr(self.fs, "_s3creator", None)
        if creator is not None:
            self.fs._s3creator = None
            self.fs._s3 = None
            await creator.__aexit__(None, None, None)


def _unsupported(what: str) -> BackendError:
    return BackendError(
        f"this object store ignored {what}: it cannot do the conditional writes that keep "
        "appends exactly-once and updates atomic, so the store refuses to open "
        "(check_conditional_writes=false skips this check, at the risk of losing data)"
    )


def _parse(raw: bytes, key: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
        raise CorruptDataError(f"corrupt object at {key}: not a threadstore envelope")
    return value

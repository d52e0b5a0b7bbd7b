"""Objects in one S3 bucket: reads, listings, create-only and compare-and-set writes.

Every object is a JSON envelope ``{"creator", "writer", "data"}``: the token of the
logical write that created it and of the one that wrote this version. Tokens make every
version's bytes (so its ETag) unique, and they settle an ambiguous outcome (a timeout, a
5xx, a retried request answered 412) by reading the object back, as Delta Lake's
conditional S3 log store does. Retries happen here only: botocore is told not to retry,
so this module knows which attempts may have landed.

Requests go straight to the aiobotocore client that s3fs builds (``put_object``,
``get_object``, ``list_objects_v2``, ``delete_object(s)``): botocore refuses a parameter
it does not know, where s3fs would drop it silently (an ``IfNoneMatch`` dropped that way
turns a create into an overwrite). Errors keep botocore's exception as ``__cause__`` and
say what to do: a missing bucket, missing or refused credentials, an endpoint that does
not answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import aiohttp
import s3fs  # type: ignore[import-untyped]
from aiobotocore.httpsession import AIOHTTPSession  # type: ignore[import-untyped]
from botocore import exceptions as boto  # type: ignore[import-untyped]
from botocore.handlers import add_expect_header  # type: ignore[import-untyped]

from threadstore.errors import BackendError, CorruptDataError
from threadstore_fsspec.rounds import count_request, gather

__all__ = ["Blob", "NoResendSession", "S3Objects", "Swap", "new_token"]

T = TypeVar("T")

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_NO_BUCKET = frozenset({"NoSuchBucket"})
_CONDITION_FAILED = frozenset({"PreconditionFailed", "412"})
_CONDITION_CONFLICT = frozenset({"ConditionalRequestConflict", "409", "OperationAborted"})
_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"})
_REFUSED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
    }
)
_NOT_SENT = (boto.EndpointConnectionError, boto.ConnectTimeoutError, boto.ProxyConnectionError)
"""Failures before the request left the machine: it cannot have been applied."""
_NO_ANSWER = (
    boto.ConnectionError,
    boto.HTTPClientError,
    boto.IncompleteReadError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
)
"""Failures that may have happened after the store applied the request."""
_NO_CREDENTIALS = (
    boto.NoCredentialsError,
    boto.PartialCredentialsError,
    boto.CredentialRetrievalError,
    boto.NoAuthTokenError,
    boto.TokenRetrievalError,
    boto.SSOError,
    boto.LoginError,
)


def new_token() -> str:
    """A fresh writer token: names one logical write across all of its attempts."""
    return secrets.token_hex(8)


# --- failures -------------------------------------------------------------------------------


class _Kind(Enum):
    ANSWERED = "answered"
    """The store answered with an error code and an HTTP status."""
    NOT_SENT = "not sent"
    NO_ANSWER = "no answer"
    NO_CREDENTIALS = "no credentials"
    CLIENT = "client"
    """The client refused to build the request (configuration, parameters)."""


@dataclass(frozen=True)
class _Failure:
    """What a failed request tells: its S3 error code and HTTP status (0 if none came back)."""

    kind: _Kind
    code: str
    status: int = 0

    @classmethod
    def of(cls, exc: Exception) -> _Failure:
        """Classify a failed request; anything that is not a storage failure is re-raised."""
        if isinstance(exc, boto.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            return cls(_Kind.ANSWERED, code, status)
        name = type(exc).__name__
        if isinstance(exc, _NO_CREDENTIALS):
            return cls(_Kind.NO_CREDENTIALS, name)
        if isinstance(exc, _NOT_SENT):
            return cls(_Kind.NOT_SENT, name)
        if isinstance(exc, _NO_ANSWER):
            return cls(_Kind.NO_ANSWER, name)
        if isinstance(exc, boto.BotoCoreError):
            return cls(_Kind.CLIENT, name)
        raise exc

    @property
    def not_found(self) -> bool:
        return self.code in _NOT_FOUND or (self.status == 404 and self.code not in _NO_BUCKET)

    @property
    def condition_failed(self) -> bool:
        return self.code in _CONDITION_FAILED or self.status == 412

    @property
    def definitely_not_applied(self) -> bool:
        """A refusal before the store changed anything: safe to send again."""
        return (
            self.kind is _Kind.NOT_SENT
            or self.code in _CONDITION_CONFLICT
            or self.code in _THROTTLED
            or self.status in (409, 429, 503)
        )

    @property
    def transient(self) -> bool:
        """Worth another attempt: throttling, a 5xx, or no answer at all (timeout, reset)."""
        if self.kind in (_Kind.NOT_SENT, _Kind.NO_ANSWER):
            return True
        return self.kind is _Kind.ANSWERED and (self.definitely_not_applied or self.status >= 500)

    def describe(self) -> str:
        return f"{self.code or 'error'} (HTTP {self.status})" if self.status else self.code


@dataclass(frozen=True)
class Place:
    """Where requests go, as error messages may show it (no credential in it)."""

    bucket: str
    endpoint: str
    """The endpoint as shown (secrets masked), or "" for AWS's own."""

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def failed(self, operation: str, key: str, failure: _Failure) -> BackendError:
        """The error for ``operation`` on ``key``, saying what to do about it."""
        at = f" at {self.endpoint}" if self.endpoint else ""
        what = f"{operation} of {self.url(key)}"
        if failure.code in _NO_BUCKET:
            return BackendError(
                f"the bucket {self.bucket!r} does not exist{at} ({what} failed): create it "
                f"(for example `aws s3 mb s3://{self.bucket}`) or correct the URL"
            )
        if failure.kind is _Kind.NO_CREDENTIALS:
            return BackendError(
                f"no AWS credentials for {what} ({failure.code}): pass key= and secret= (as "
                "options or in the URL's query), set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or give anon=true for a public bucket"
            )
        if failure.code in _REFUSED or failure.status == 403:
            return BackendError(
                f"object storage{at} refused {what}: {failure.describe()}; check the "
                "credentials (key=, secret=, token=, profile=) and that they may read and "
                f"write s3://{self.bucket}/"
            )
        if failure.kind in (_Kind.NOT_SENT, _Kind.NO_ANSWER):
            return BackendError(
                f"could not reach the object store{at or ' (AWS)'} for {what}: "
                f"{failure.describe()}; check endpoint_url and that the service is running"
            )
        if failure.kind is _Kind.CLIENT:
            return BackendError(
                f"the S3 client could not send {what}: {failure.code}; check the URL's "
                "options (endpoint_url, region, profile)"
            )
        return BackendError(f"object storage{at} refused {what}: {failure.describe()}")


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


# --- objects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """One version of an object: what it holds, and the ETag that names the version."""

    data: dict[str, Any]
    etag: str
    creator: str
    writer: str
    size: int = 0


class Swap(Enum):
    """How a compare-and-set that did not clearly win ended."""

    LOST = "lost"
    """Another write replaced the base first; ours did not land."""
    UNSURE = "unsure"
    """An attempt got no answer and a later one found the base replaced: ours may have
    landed. The caller reads the object and decides from its content."""


def envelope(data: dict[str, Any], creator: str, writer: str) -> bytes:
    body = {"creator": creator, "writer": writer, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _parse(raw: bytes, key: str) -> tuple[dict[str, Any], str, str]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
        raise CorruptDataError(f"corrupt object at {key}: not a threadstore envelope")
    return value["data"], str(value.get("creator", "")), str(value.get("writer", ""))


class S3Objects:
    """Objects in one bucket, read and written with conditional PUTs (async, on s3fs's loop).

    ``fs`` must be built without a listings cache.
    """

    def __init__(self, fs: s3fs.S3FileSystem, place: Place, *, attempts: int) -> None:
        self.fs = fs
        self.place = place
        self.bucket = place.bucket
        self.attempts = attempts
        self._client: Any = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop = self.fs.loop
        return loop

    async def client(self) -> Any:
        """The aiobotocore client, made on first use; its ``Expect: 100-continue`` is off."""
        if self._client is None:
            try:
                client = await self.fs.set_session()
            except Exception as exc:
                failure = _Failure.of(exc)
                raise self.place.failed("opening a client for", "", failure) from exc
            # botocore asks for `Expect: 100-continue` on every body it can read, which
            # costs each small PUT a second round trip.
            client.meta.events.unregister("before-call.s3", add_expect_header)
            self._client = client
        return self._client

    async def _call(self, operation: str, **params: Any) -> Any:
        client = await self.client()
        count_request()
        return await getattr(client, operation)(Bucket=self.bucket, **params)

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
                    raise self.place.failed(operation, key, failure) from exc
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
            data, creator, writer = _parse(raw, key)
            return Blob(data, str(response["ETag"]), creator, writer, len(raw))

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

            async def call() -> Any:
                return await self._call("list_objects_v2", **params)

            response = await self._retrying("a listing", prefix, call)
            contents = response.get("Contents", [])
            found.extend((item["Key"], item["LastModified"].timestamp()) for item in contents)
            if not response.get("IsTruncated") or not contents:
                return found
            params["StartAfter"] = contents[-1]["Key"]

    # --- writes ----------------------------------------------------------------------

    async def put(self, key: str, data: dict[str, Any], token: str) -> None:
        """Overwrite unconditionally (for objects no one else writes at the same time)."""
        body = envelope(data, token, token)

        async def call() -> Any:
            return await self._call("put_object", Key=key, Body=body)

        await self._retrying("a write", key, call)

    async def create(
        self, key: str, data: dict[str, Any], token: str, operation: str = "a create"
    ) -> tuple[bool, Blob | None]:
        """Create the object if absent (``If-None-Match: *``); errors name ``operation``.

        Returns ``(True, ours)`` when this write (token ``token``) made it, even if a
        retry of it was answered 412; else ``(False, theirs)``, where ``theirs`` is
        ``None`` only if the object vanished again (its owner was deleted).
        """
        body = envelope(data, token, token)
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
                    raise self.place.failed(operation, key, failure) from exc
                await self._pause(attempt)
                continue
            return True, Blob(data, str(response["ETag"]), token, token, len(body))
        raise AssertionError("unreachable")

    async def swap(self, key: str, data: dict[str, Any], base: Blob, token: str) -> Blob | Swap:
        """Replace ``base`` with ``data`` if ``base`` is still current (``If-Match``).

        Returns the new version; :attr:`Swap.LOST` if another write replaced ``base``
        first; :attr:`Swap.UNSURE` if an attempt got no answer and a later one found
        ``base`` gone (ours may be what replaced it: the caller reads and decides).
        """
        body = envelope(data, base.creator, token)
        uncertain = False
        for attempt in range(self.attempts):
            try:
                response = await self._call("put_object", Key=key, Body=body, IfMatch=base.etag)
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.condition_failed or failure.not_found:
                    return Swap.UNSURE if uncertain else Swap.LOST
                if not failure.transient or attempt + 1 == self.attempts:
                    raise self.place.failed("a compare-and-set", key, failure) from exc
                uncertain = uncertain or not failure.definitely_not_applied
                await self._pause(attempt)
                continue
            return Blob(data, str(response["ETag"]), base.creator, token, len(body))
        raise AssertionError("unreachable")

    async def delete(self, key: str, base: Blob | None = None) -> bool:
        """Delete the object (only version ``base`` if given); whether it was deleted.

        An attempt that got no answer may have deleted it: if a later attempt finds the
        object gone, that counts as deleted here.
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
                    raise self.place.failed("a delete", key, failure) from exc
                uncertain = uncertain or not failure.definitely_not_applied
                await self._pause(attempt)
                continue
            return True
        raise AssertionError("unreachable")

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (1 LIST and 1 batch delete per 1000);
        how many there were."""
        deleted = 0
        while True:
            keys, _ = await self.keys_after(prefix, None)
            if not keys:
                return deleted
            await self.delete_keys(keys)
            deleted += len(keys)

    async def delete_keys(self, keys: list[str]) -> None:
        """Delete these objects, unconditionally: one batch request per 1000."""
        for start in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": key} for key in keys[start : start + 1000]], "Quiet": True}

            async def call(batch: dict[str, Any] = batch) -> Any:
                return await self._call("delete_objects", Delete=batch)

            await self._retrying("a delete", keys[start], call)

    async def conditional_put(self, operation: str, key: str, **condition: str) -> bool:
        """A PUT with ``condition``, for the start-up probe: whether it was stored; False
        if the condition refused it (412, or 404 for ``If-Match`` on a missing key). Any
        other failure raises, naming ``operation``."""
        return await self._one(operation, key, "put_object", Body=b"{}", **condition)

    async def conditional_delete(self, operation: str, key: str, etag: str) -> bool:
        """A DELETE with ``If-Match: etag``: whether it deleted (see :meth:`conditional_put`)."""
        return await self._one(operation, key, "delete_object", IfMatch=etag)

    async def _one(self, operation: str, key: str, call: str, **params: Any) -> bool:
        """Send again what failed in transit: the answer to a condition does not change."""
        for attempt in range(self.attempts):
            try:
                await self._call(call, Key=key, **params)
            except Exception as exc:
                failure = _Failure.of(exc)
                if failure.condition_failed or failure.not_found:
                    return False
                if not failure.transient or attempt + 1 == self.attempts:
                    raise self.place.failed(operation, key, failure) from exc
                await self._pause(attempt)
                continue
            return True
        raise AssertionError("unreachable")

    async def close(self) -> None:
        creator = getattr(self.fs, "_s3creator", None)
        self._client = None
        if creator is not None:
            self.fs._s3creator = None
            self.fs._s3 = None
            await creator.__aexit__(None, None, None)

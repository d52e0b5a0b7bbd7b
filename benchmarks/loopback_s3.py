"""An S3 API on 127.0.0.1 for the object-storage figures: a moto server and a delaying proxy.

The server and its bucket come from the object-storage benchmark
(``benchmarks.object_storage.start_moto``); this adds the proxy in front of it. Nothing
here talks to a real endpoint: dummy credentials replace the environment's before any
client is made (so botocore never looks for real ones, nor at an instance metadata
service), and every URL handed out points at 127.0.0.1.

Loopback moto answers far sooner than S3 but serves one request at a time, so its
latencies are not S3's; the figures that carry over are requests per operation and,
through the proxy, sequential round trips.
"""

from __future__ import annotations

import importlib
import os
import uuid
from importlib.util import find_spec
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from benchmarks.delay_proxy import DelayProxy

__all__ = ["LoopbackS3", "s3_available"]

_DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench-key-id",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_DROPPED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def s3_available() -> str | None:
    """Why the S3 figures cannot run here, or None if they can."""
    for module, package in (
        ("moto.server", "moto[server]"),
        ("threadstore_fsspec", "threadstore-fsspec"),
        ("boto3", "boto3"),
        ("s3fs", "s3fs"),
    ):
        try:
            found = find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{package} is not installed"
    return None


class LoopbackS3:
    """A moto S3 server on 127.0.0.1 with one bucket, and a proxy adding ``delay`` per request."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.endpoint = ""
        self.bucket = ""
        self.proxy: DelayProxy | None = None
        self._server: Any = None

    @property
    def delayed_endpoint(self) -> str:
        if self.proxy is None:
            raise RuntimeError("the loopback S3 server is not running")
        return f"http://127.0.0.1:{self.proxy.port}"

    def url(self, name: str) -> str:
        """A fresh store URL under the bucket (a new prefix per call)."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:8]}"

    def _client(self) -> Any:
        """A boto3 S3 client on the moto server (boto3 ships no type hints: Any)."""
        boto3 = importlib.import_module("boto3")
        return boto3.client("s3", endpoint_url=self.endpoint)

    def tiny_object_path(self) -> str:
        """Put a 1-byte object; return a presigned path (with query) to GET it bare."""
        client = self._client()
        client.put_object(Bucket=self.bucket, Key="floor", Body=b"x")
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": "floor"}, ExpiresIn=3600
        )
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    def start(self) -> Self:
        from benchmarks.object_storage import BUCKET, start_moto

        for name in _DROPPED:
            os.environ.pop(name, None)
        os.environ.update(_DUMMY_ENVIRONMENT)
        self._server, self.endpoint = start_moto()
        self.bucket = BUCKET
        port = int(self.endpoint.rsplit(":", 1)[1])
        self.proxy = DelayProxy(port, self.delay).start()
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

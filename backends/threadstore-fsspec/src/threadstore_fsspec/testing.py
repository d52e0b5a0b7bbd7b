"""Test helpers for this backend: a moto S3 server on loopback and a proxy that misbehaves.

:func:`moto_server` starts moto's threaded S3 server on ``127.0.0.1`` with buckets in it.
:class:`FaultProxy` sits between a store and that server and forwards real HTTP, except
when told to fail a request the way S3 and networks fail: an error status before the
request reaches the store (500, 503, throttling), a connection reset, an answer held back
past the client's read timeout, or a request that *was* applied whose answer is lost or
replaced by a 500. Each fault is counted by kind, so a test can show what it survived.
Nothing here is a mock: the store, the server and the sockets are real.

moto is a test dependency, imported only by :func:`moto_server`.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = [
    "CONDITIONS",
    "DUMMY_CREDENTIALS",
    "Fault",
    "FaultPlan",
    "FaultProxy",
    "Request",
    "moto_server",
    "use_dummy_credentials",
]

CONDITIONS = ("if-none-match", "if-match")
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_SESSION_TOKEN": "testing-token",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_dummy_credentials() -> None:
    """Replace this process's AWS credentials, profile and endpoints with dummies, so no
    request can reach real AWS by accident. Call it before any child process starts:
    children inherit the environment."""
    os.environ.update(DUMMY_CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)


class Fault(StrEnum):
    """One way a request can fail. The first three never reach the store."""

    INTERNAL_ERROR = "500 InternalError"
    """Answered 500 InternalError; not forwarded."""
    UNAVAILABLE = "503 ServiceUnavailable"
    """Answered 503 ServiceUnavailable; not forwarded."""
    SLOW_DOWN = "503 SlowDown"
    """S3 throttling: 503 with the ``SlowDown`` code; not forwarded."""
    RESET = "connection reset"
    """The connection is reset (RST) after the request is read; not forwarded."""
    TIMEOUT = "read timeout"
    """Forwarded and applied; the answer is held past the client's read timeout, then dropped."""
    LOST_ANSWER = "lost answer"
    """A conditional PUT is forwarded and applied; the connection closes instead of the answer."""
    APPLIED_THEN_500 = "applied, then 500"
    """Forwarded and applied, then answered 500 InternalError as if it had failed."""

    @property
    def forwarded(self) -> bool:
        """Whether the store sees the request (so it may have been applied)."""
        return self in (Fault.TIMEOUT, Fault.LOST_ANSWER, Fault.APPLIED_THEN_500)


_ERRORS = {
    Fault.INTERNAL_ERROR: (500, "InternalError", "We encountered an internal error."),
    Fault.APPLIED_THEN_500: (500, "InternalError", "We encountered an internal error."),
    Fault.UNAVAILABLE: (503, "ServiceUnavailable", "Service is unable to handle request."),
    Fault.SLOW_DOWN: (503, "SlowDown", "Please reduce your request rate."),
}


@dataclass(frozen=True)
class Request:
    """What the proxy knows of a request when it decides whether to fail it."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""

    @property
    def conditional_put(self) -> bool:
        return self.method == "PUT" and any(name in self.headers for name in CONDITIONS)


@dataclass
class FaultPlan:
    """Fail each eligible request with ``kind`` at probability ``rate`` (seeded).

    ``eligible`` narrows the requests (by default: any; for :attr:`Fault.LOST_ANSWER`,
    conditional PUTs only, the case that makes an outcome ambiguous). ``limit`` bounds
    how many faults the plan injects in all.
    """

    kind: Fault
    rate: float
    seed: int = 0
    limit: int | None = None
    eligible: Callable[[Request], bool] | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        if self.eligible is None and self.kind is Fault.LOST_ANSWER:
            self.eligible = lambda request: request.conditional_put

    def choose(self, request: Request, injected: int) -> Fault | None:
        if self.limit is not None and injected >= self.limit:
            return None
        if self.eligible is not None and not self.eligible(request):
            return None
        return self.kind if self._random.random() < self.rate else None


class FaultProxy:
    """``with FaultProxy(upstream) as proxy: proxy.url ...``; faults are set as attributes.

    - ``plan``: a :class:`FaultPlan`, or ``None`` for none;
    - ``lose_answer(method, path, headers)``: a predicate for one-off lost answers;
    - ``strip_conditions``: drop ``If-None-Match``/``If-Match`` (a store that ignores
      them, like an old S3-compatible server);
    - ``hold_seconds``: how long a :attr:`Fault.TIMEOUT` answer is held back.

    Counters: ``injected`` (per fault kind), ``statuses`` (per HTTP status answered by
    the store), ``requests`` (method and path of each), ``lost`` (lost answers).
    :meth:`settle` waits for requests still in flight.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.strip_conditions = False
        self.lose_answer: Callable[[str, str, dict[str, str]], bool] = lambda *_: False
        self.plan: FaultPlan | None = None
        self.hold_seconds = 2.0
        self.injected: Counter[Fault] = Counter()
        self.statuses: Counter[int] = Counter()
        self.lost: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until no request is in the proxy's hands; whether that happened in time.

        A client that gave up on a request (its read timed out) has not stopped it: the
        proxy may still be forwarding it, and it lands late. Call this before reading
        the store directly, so every write the client started has landed or failed.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _enter(self) -> None:
        with self._lock:
            self._busy += 1

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def _decide(self, request: Request) -> Fault | None:
        with self._lock:
            self.requests.append((request.method, request.path))
            if self.lose_answer(request.method, request.path, request.headers):
                fault: Fault | None = Fault.LOST_ANSWER
            elif self.plan is not None:
                fault = self.plan.choose(request, self.injected[self.plan.kind])
            else:
                fault = None
            if fault is not None:
                self.injected[fault] += 1
            return fault

    def _forward(
        self, request: Request, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            upstream.request(request.method, request.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        finally:
            upstream.close()
        with self._lock:
            self.statuses[answer.status] += 1
        return answer.status, answer.getheaders(), payload

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read the counters instead."""

            def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _error(self, fault: Fault) -> None:
                status, code, message = _ERRORS[fault]
                payload = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{code}</Code><Message>{message}</Message>"
                    "<RequestId>faultproxy</RequestId></Error>"
                ).encode()
                self._answer(status, [("Content-Type", "application/xml")], payload)

            def _reset(self) -> None:
                """Close with RST, not FIN: the client sees ECONNRESET."""
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True

            def _handle(self) -> None:
                proxy._enter()
                try:
                    self._serve()
                finally:
                    proxy._leave()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                if proxy.strip_conditions:
                    headers = {k: v for k, v in headers.items() if k.lower() not in CONDITIONS}
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in headers.items()}
                )
                fault = proxy._decide(request)
                if fault in (Fault.INTERNAL_ERROR, Fault.UNAVAILABLE, Fault.SLOW_DOWN):
                    self._error(fault)
                    return
                if fault is Fault.RESET:
                    self._reset()
                    return
                status, answer_headers, payload = proxy._forward(request, headers, body)
                if fault is Fault.TIMEOUT:
                    time.sleep(proxy.hold_seconds)
                    self.close_connection = True
                elif fault is Fault.LOST_ANSWER:
                    with proxy._lock:
                        proxy.lost.append(f"{self.command} {self.path} -> {status}")
                    self.close_connection = True
                elif fault is Fault.APPLIED_THEN_500:
                    self._error(fault)
                else:
                    self._answer(status, answer_headers, payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler


def _serialise_moto_object_writes() -> None:
    """Make moto keep S3's promise that a conditional write is atomic.

    moto checks ``If-Match``/``If-None-Match`` and then writes, with nothing between the
    two, so two racing writers can both win on its threaded server (S3 never allows
    that). One lock around moto's object PUT and DELETE handlers closes the gap; what is
    under test is our protocol, not moto's races.
    """
    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "_threadstore_serialised", False):
        return
    lock = threading.Lock()
    for name in ("put_object", "delete_object"):
        handler = getattr(S3Response, name)

        def serialised(self: Any, *args: Any, _handler: Any = handler, **kwargs: Any) -> Any:
            with lock:
                return _handler(self, *args, **kwargs)

        serialised._threadstore_serialised = True  # type: ignore[attr-defined]
        setattr(S3Response, name, serialised)


@contextmanager
def moto_server(*buckets: str) -> Iterator[str]:
    """Run moto's S3 server on ``127.0.0.1`` (a free port) with ``buckets`` made; yield
    its endpoint URL. The caller's AWS credentials should be dummies (moto accepts any)."""
    import s3fs  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _serialise_moto_object_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
        for bucket in buckets:
            fs.mkdir(bucket)
        yield endpoint
    finally:
        server.stop()

"""A loopback HTTP proxy in front of the moto server that can misbehave on purpose.

It forwards real requests and counts them; it can strip the conditional headers (a store
that ignores them, like an old S3-compatible server) and can forward a request but lose
its answer (the write happened, the client sees a dropped connection) so that retries
and reconciliation run against real behaviour rather than mocks.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

CONDITIONS = ("if-none-match", "if-match")


class FaultProxy:
    """``with FaultProxy(upstream) as proxy: proxy.url ...``; faults are set as attributes."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.strip_conditions = False
        self.lose_answer: Callable[[str, str, dict[str, str]], bool] = lambda *_: False
        self.lost: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read the counters instead."""

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                if proxy.strip_conditions:
                    headers = {k: v for k, v in headers.items() if k.lower() not in CONDITIONS}
                lower = {k.lower(): v for k, v in headers.items()}
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                    lose = proxy.lose_answer(self.command, self.path, lower)
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                if lose:
                    with proxy._lock:
                        proxy.lost.append(f"{self.command} {self.path} -> {answer.status}")
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler

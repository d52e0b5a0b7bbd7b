"""A loopback TCP proxy that adds a fixed delay to every HTTP request/response exchange.

Loopback moto answers in about a millisecond; real S3 takes tens. To see how many
round trips an operation waits for *in turn*, the S3 client talks to this proxy, which
holds each request for ``delay`` seconds before passing it on. An operation whose
requests go out one after another pays the delay once per request; requests sent
concurrently pay it together. So ``(time with delay - time without) / delay`` is the
number of sequential round trips, measured rather than modelled.

An exchange starts when the client sends bytes after the server last spoke (or on a
new connection): the proxy sleeps once, then forwards. A request whose body follows a
``100 Continue`` pays twice, as it would over a real network. Connection set-up is not
delayed (a warm keep-alive pool). The proxy also counts requests by HTTP method.

The wall-clock difference blurs when the server itself queues concurrent requests
(loopback moto serves them one at a time), so the proxy also records when each exchange
began and ended: the longest chain of exchanges in which each began after the previous
one ended is the number of round trips waited for in turn, read off the wire.

It listens on 127.0.0.1 only and forwards only to the one target it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

__all__ = ["DelayProxy", "Exchange", "sequential_round_trips"]

_REQUEST_LINE = re.compile(rb"^([A-Z]+) \S+ HTTP/1\.[01]\r\n")
_CHUNK = 65536


async def _quietly(pump: Coroutine[Any, Any, None]) -> None:
    """Run one direction of a connection; a peer hanging up just ends it."""
    with contextlib.suppress(ConnectionError, OSError):
        await pump


@dataclass
class Exchange:
    """One request/response exchange as seen by the proxy (``time.monotonic`` seconds)."""

    start: float
    end: float


def sequential_round_trips(exchanges: list[Exchange]) -> int:
    """The longest chain of exchanges, each beginning after the previous one ended.

    Concurrent requests overlap (they all wait out the same delay), so they count once;
    a request sent only after a response arrived adds one. Greedy by earliest end finds
    the longest such chain.
    """
    chain, free_at = 0, float("-inf")
    for exchange in sorted(exchanges, key=lambda e: e.end):
        if exchange.start >= free_at:
            chain += 1
            free_at = exchange.end
    return chain


class DelayProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_port`` on 127.0.0.1, delaying each exchange."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = 0
        self._counts: Counter[str] = Counter()
        self._exchanges: list[Exchange] = []
        self._counts_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def counts(self) -> Counter[str]:
        """Requests forwarded so far, by HTTP method (a copy)."""
        with self._counts_lock:
            return Counter(self._counts)

    def exchanges(self, since: int = 0) -> list[Exchange]:
        """Exchanges recorded so far, from index ``since`` on (a copy)."""
        with self._counts_lock:
            return [Exchange(e.start, e.end) for e in self._exchanges[since:]]

    def exchange_count(self) -> int:
        """How many exchanges have begun (an index for :meth:`exchanges`)."""
        with self._counts_lock:
            return len(self._exchanges)

    def start(self) -> Self:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            # Closing every socket ends each connection's pumps with EOF, so the handlers
            # return on their own instead of being cancelled mid-callback.
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if handlers:
                await asyncio.wait(handlers, timeout=5)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._connection, "127.0.0.1", 0)

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        current: list[Exchange] = []  # the exchange in flight; empty while the client's turn
        upstream = asyncio.ensure_future(
            _quietly(self._requests(client_reader, server_writer, current))
        )
        downstream = asyncio.ensure_future(
            _quietly(self._responses(server_reader, client_writer, current))
        )
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            upstream.cancel()
            downstream.cancel()
            for writer in (client_writer, server_writer):
                writer.close()
                self._writers.discard(writer)

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, current: list[Exchange]
    ) -> None:
        while data := await reader.read(_CHUNK):
            if not current:
                now = time.monotonic()
                exchange = Exchange(now, now)
                current.append(exchange)
                match = _REQUEST_LINE.match(data)
                with self._counts_lock:
                    self._exchanges.append(exchange)
                    if match:
                        self._counts[match.group(1).decode()] += 1
                await asyncio.sleep(self.delay)
            writer.write(data)
            await writer.drain()

    @staticmethod
    async def _responses(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, current: list[Exchange]
    ) -> None:
        while data := await reader.read(_CHUNK):
            if current:
                current.pop().end = time.monotonic()
            writer.write(data)
            await writer.drain()

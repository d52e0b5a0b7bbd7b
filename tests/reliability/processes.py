"""Child processes of the harness: writers that are SIGKILLed, and workers run together.

Children fork from a forkserver that has threadstore and both persistent backends
imported, so a child starts in milliseconds and a kill loop stays cheap. Every wait is
bounded by :data:`WAIT`; none is an expectation of speed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from threadstore.registry import open_store
from threadstore.testing import workers

from .oracle import Oracle
from .workload import Workload

__all__ = ["CONTEXT", "WAIT", "Writer", "run_together", "start_writer"]

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(
    [
        "threadstore",
        "threadstore.backends.local",
        "threadstore_fsspec.store",
        "threadstore.snapshot",
    ]
)
WAIT = 60.0
"""Seconds: the bound on every wait for a child."""
MAX_OPERATIONS = 100_000
"""A writer that is never killed stops after this many operations."""


def write_until_killed(url: str, thread_id: str, lane: str, tag: str, seed: int, sink: Any) -> None:
    """Child: resume the lane's workload and write until killed, streaming every intent
    and ack to ``sink`` (one JSON record per message)."""

    def emit(record: dict[str, Any]) -> None:
        sink.send_bytes(json.dumps(record).encode())

    try:
        with open_store(url) as store:
            work = Workload.resume(store, thread_id, lane, tag, seed, emit)
            for _ in range(MAX_OPERATIONS):
                work.step()
    except Exception as exc:  # reported to the parent, which fails the test
        emit({"t": "error", "error": f"{type(exc).__name__}: {exc}"})


@dataclass
class Writer:
    """A running writer child and the read end of its stream."""

    tag: str
    process: Any
    stream: Connection

    def kill_after(self, acks: int, pause: float, oracle: Oracle) -> None:
        """Feed the stream to ``oracle`` until ``acks`` acks came, wait ``pause`` seconds
        (so the kill lands inside a call), SIGKILL the child, then feed what it sent
        before dying. The call in flight stays unacknowledged."""
        seen = 0
        while seen < acks:
            record = self._next()
            if record is None:
                break
            oracle.feed(record, self.tag)
            seen += record["t"] == "ack"
            if record["t"] == "error":
                break
        time.sleep(pause)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(WAIT)
        while (record := self._next()) is not None:
            oracle.feed(record, self.tag)
        self.stream.close()
        oracle.writer_gone(self.tag)

    def _next(self) -> dict[str, Any] | None:
        if not self.stream.poll(WAIT):
            return None
        try:
            raw = self.stream.recv_bytes()
        except (EOFError, OSError):  # the child died, perhaps in the middle of a record
            return None
        record: dict[str, Any] = json.loads(raw)
        return record


def start_writer(url: str, thread_id: str, lane: str, tag: str, seed: int) -> Writer:
    receive, send = CONTEXT.Pipe(duplex=False)
    process = CONTEXT.Process(
        target=write_until_killed, args=(url, thread_id, lane, tag, seed, send), daemon=True
    )
    process.start()
    send.close()
    return Writer(tag, process, receive)


def run_together(target: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args)`` in one process per tuple, released together; results in order."""
    return workers.run_together(target, arguments, context=CONTEXT, wait=WAIT, result_wait=WAIT * 5)

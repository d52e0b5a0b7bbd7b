"""Counting what a call costs on the wire: requests, and sequential round trips.

A *round trip* here is one step of the longest chain of requests a call waited for in
turn; requests sent together count as one step. Every request the object layer sends
calls :func:`count_request`, and every place that sends several at once goes through
:func:`gather` (or :func:`started`), so the chain length stays true. Counting costs a
context-variable lookup per request and is always on; :class:`Measurement` collects
it for ``FsspecThreadStore.measure()``, which tests and benchmarks use.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Measurement", "Started", "both", "count_request", "gather", "request_depth", "started"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")

_depth: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("depth", default=None)


@dataclass
class Measurement:
    """Requests sent on the wire, and per call the longest chain of them waited for in turn."""

    requests: int = 0
    round_trips: list[int] = field(default_factory=list)


def request_depth() -> list[int]:
    """Start counting, for the current task, the longest chain of requests waited for in turn;
    returns the counter cell."""
    cell = [0]
    _depth.set(cell)
    return cell


def count_request() -> None:
    """One more request in the current chain."""
    cell = _depth.get()
    if cell is not None:
        cell[0] += 1


async def gather(*steps: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` that keeps the chain true: the longest branch counts."""
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

    try:
        return list(await asyncio.gather(*(branch(step) for step in steps)))
    finally:
        cell[0] = max([start, *(own[0] for own in branches)])


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two different requests at once (one round trip), typed."""
    results: list[Any] = await gather(first, second)
    return results[0], results[1]


class Started(Generic[T]):
    """A coroutine already running beside the caller; awaiting it joins its chain."""

    def __init__(self, step: Coroutine[Any, Any, T]) -> None:
        cell = _depth.get()
        self._start = 0 if cell is None else cell[0]
        self._own = [self._start]
        self._task = asyncio.ensure_future(self._run(step))

    async def _run(self, step: Coroutine[Any, Any, T]) -> T:
        _depth.set(self._own)
        return await step

    async def result(self) -> T:
        try:
            return await asyncio.shield(self._task)
        finally:
            cell = _depth.get()
            if cell is not None:
                cell[0] = max(cell[0], self._own[0])

    def discard(self) -> None:
        """Its outcome no longer matters: let it finish, and never report its error."""
        self._task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def started(step: Coroutine[Any, Any, T]) -> Started[T]:
    """Run ``step`` concurrently from now on; ``await it.result()`` when it is needed."""
    return Started(step)

"""Sync store code on an event loop, with no thread: greenlets carry the awaits.

:func:`run_bridged` runs a plain function in a greenlet; wherever that function (or
anything it calls) hands a coroutine to :func:`await_only`, the greenlet pauses, the
coroutine is awaited by the calling task, and the result comes back. So the shared
hooks, written once as sync code, drive psycopg's async connections directly (the
recipe SQLAlchemy's asyncio extension uses).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any, TypeVar

import greenlet  # type: ignore[import-untyped]

__all__ = ["await_only", "entered", "in_bridge", "run_bridged"]

T = TypeVar("T")


class _Bridged(greenlet.greenlet):  # type: ignore[misc]
    """A greenlet running sync code on behalf of a task, which awaits for it."""

    def __init__(self, function: Callable[..., Any], parent: greenlet.greenlet) -> None:
        super().__init__(function, parent)
        self.driver = parent


def in_bridge() -> bool:
    """Whether the caller runs inside :func:`run_bridged` (so it may :func:`await_only`)."""
    return isinstance(greenlet.getcurrent(), _Bridged)


def await_only(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` from sync code running inside :func:`run_bridged`."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Bridged):
        raise RuntimeError("await_only() called outside run_bridged()")
    result: T = current.driver.switch(awaitable)
    return result


async def run_bridged(function: Callable[[], T]) -> T:
    """Run ``function()`` in a greenlet, awaiting on its behalf what it hands over."""
    context = _Bridged(function, greenlet.getcurrent())
    step: Any = context.switch()
    while not context.dead:
        try:
            value = await step
        except BaseException:
            step = context.throw(*sys.exc_info())
        else:
            step = context.switch(value)
    result: T = step
    return result


@contextmanager
def entered(manager: AbstractAsyncContextManager[T]) -> Iterator[T]:
    """An async context manager, entered and left from bridged sync code."""
    value = await_only(manager.__aenter__())
    try:
        yield value
    except BaseException as error:
        if not await_only(manager.__aexit__(type(error), error, error.__traceback__)):
            raise
    else:
        await_only(manager.__aexit__(None, None, None))

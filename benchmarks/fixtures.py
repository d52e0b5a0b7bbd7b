"""Read fixtures, built once per dataset and reused by every workload and contender.

Building a 10^5-message thread is the slowest part of a run, so each (dataset, size)
is built once, by the first contender that needs it, through that contender's own
(untimed, possibly bulk or non-durable) load path. Contenders that share a dataset
(one SQLite file opened two ways, one S3 prefix reached directly and through the
delaying proxy) then read the same thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmarks.contenders.base import PAGE_SIZE, Contender
from benchmarks.corpus import Corpus

__all__ = ["FixtureThread", "Fixtures"]


@dataclass(frozen=True)
class FixtureThread:
    """A thread of ``size`` messages and the IDs that serve as page cursors."""

    thread_id: str
    size: int
    ids: tuple[str, ...]

    def cursor(self, position: str) -> str | None:
        """The ``after=`` cursor of a newest-first page at ``position``.

        ``first``: no cursor (the newest 20). ``middle``: after the message halfway in.
        ``last``: after the 21st oldest, so the page is the 20 oldest messages.
        """
        if position == "first":
            return None
        if position == "middle":
            return self.ids[self.size // 2]
        if position == "last":
            return self.ids[PAGE_SIZE]
        raise ValueError(f"unknown page position {position!r}")


@dataclass
class Fixtures:
    """Threads built so far, by (dataset, size), and how long building took."""

    corpus: Corpus
    threads: dict[tuple[str, int], FixtureThread] = field(default_factory=dict)
    crowds: set[str] = field(default_factory=set)
    build_seconds: float = 0.0

    def thread(self, contender: Contender, size: int) -> FixtureThread:
        key = (contender.dataset, size)
        fixture = self.threads.get(key)
        if fixture is None:
            started = time.perf_counter()
            thread_id = contender.new_thread()
            ids = contender.load(thread_id, self.corpus.prefix(size))
            fixture = FixtureThread(thread_id, size, tuple(ids))
            self.threads[key] = fixture
            self.build_seconds += time.perf_counter() - started
        return fixture

    def crowd(self, contender: Contender, count: int) -> None:
        """Make sure the contender's dataset holds ``count`` more threads (cold open)."""
        if contender.dataset not in self.crowds:
            started = time.perf_counter()
            contender.create_threads(count)
            self.crowds.add(contender.dataset)
            self.build_seconds += time.perf_counter() - started

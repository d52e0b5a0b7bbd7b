"""Several writer processes appending to one thread (or each to its own) at the same time.

The processes are started once (``spawn``: the parent runs server threads, which must
not be forked) and reused for every contender. In each round every process opens the
contender, waits at a barrier, then appends its share to the same thread. Aggregate
throughput is all appends over the time from the first start to the last finish; the
thread is then read back to check that every append landed exactly once.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.pool import Pool
from multiprocessing.synchronize import Barrier
from types import TracebackType
from typing import Self

from benchmarks.contenders.base import Contender
from benchmarks.corpus import Corpus
from benchmarks.measure import Stats
from benchmarks.results import Figure, Results

__all__ = ["WriterPool"]

SLOW_FACTOR = 10
"""Slow contenders (S3 on moto) append this many times fewer messages per round."""

_barrier: Barrier | None = None
_BARRIER_TIMEOUT = 120.0


def _join(barrier: Barrier) -> None:
    global _barrier
    _barrier = barrier


def _write(job: tuple[Contender, str, int]) -> tuple[float, float, list[float]]:
    """In a worker: open, wait for the others, append ``count`` messages, time each."""
    contender, thread_id, count = job
    messages = Corpus.fresh(count)
    contender.open()
    try:
        contender.attach(thread_id)
        if _barrier is None:
            raise RuntimeError("writer process started without its barrier")
        _barrier.wait(_BARRIER_TIMEOUT)
        latencies = []
        started = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes
        for message in messages:
            before = time.perf_counter()
            contender.append(thread_id, message)
            latencies.append(time.perf_counter() - before)
        finished = time.monotonic()
    finally:
        contender.close()
    return started, finished, latencies


class WriterPool:
    """``processes`` writer processes, kept for the whole run."""

    def __init__(self, processes: int, *, spread: bool = False) -> None:
        self.processes = processes
        self.spread = spread
        """Each process appends to a thread of its own (figures: "writers-spread")."""
        context = multiprocessing.get_context("spawn")
        self._pool: Pool = context.Pool(
            processes, initializer=_join, initargs=(context.Barrier(processes),)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.terminate()
        self._pool.join()

    def _round(self, contender: Contender, appends: int) -> tuple[float, list[float], int]:
        """One round: throughput, each append's latency, and how many appends landed."""
        threads = [contender.new_thread() for _ in range(self.processes if self.spread else 1)]
        jobs = [
            (contender.closed_copy(), threads[n % len(threads)], appends)
            for n in range(self.processes)
        ]
        # Every worker blocks at the barrier inside its job, so the jobs are
        # necessarily spread one per process.
        done = self._pool.map(_write, jobs, chunksize=1)
        wall = max(end for _, end, _ in done) - min(start for start, _, _ in done)
        latencies = [latency for _, _, each in done for latency in each]
        found = sum(contender.read_all(thread_id) for thread_id in threads)
        return appends * self.processes / wall, latencies, found

    def measure(
        self, contenders: list[Contender], appends: int, rounds: int, results: Results
    ) -> None:
        """Rounds of concurrent appends to a fresh thread, the contenders taking turns
        round by round (so each meets the disk's busy moments as often); one "writers"
        figure each. A contender that fails is reported and left out of later rounds."""
        throughputs: dict[str, list[float]] = {c.label: [] for c in contenders}
        latencies: dict[str, list[float]] = {c.label: [] for c in contenders}
        landed = dict.fromkeys(throughputs, 0)
        failed: set[str] = set()
        for _ in range(rounds):
            for contender in contenders:
                if contender.label in failed:
                    continue
                count = max(2, appends // SLOW_FACTOR) if contender.slow else appends
                try:
                    rate, each, found = self._round(contender, count)
                except Exception as error:
                    failed.add(contender.label)
                    results.skipped.append(
                        f"{self.processes} writers: {contender.label}: FAILED: "
                        f"{type(error).__name__}: {error}"
                    )
                    continue
                throughputs[contender.label].append(rate)
                latencies[contender.label] += each
                landed[contender.label] += found - count * self.processes
        for contender in contenders:
            label = contender.label
            if label in failed or not throughputs[label]:
                continue
            extra = {
                "processes": self.processes,
                "throughput": Stats.of(throughputs[label]).as_dict(),
                "lost_or_extra": landed[label],
            }
            workload = "writers-spread" if self.spread else "writers"
            results.add(Figure(workload, label, Stats.of(latencies[label]), extra=extra))

"""Timing: run an operation many times and summarise the samples robustly.

Shared machines are noisy, so every figure in the report is a median with its
interquartile range (p25-p75), never a mean or a single run. Each call is timed on its
own with ``perf_counter_ns``; for the fastest operation measured (a plain dict append,
a few microseconds) the clock's own cost is a few percent of the figure.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Stats", "interleave", "sample", "time_calls"]

MIN_SAMPLES = 3
"""Samples a figure gets even when its time budget is spent (the quartiles need some)."""


@dataclass(frozen=True)
class Stats:
    """Summary of timed samples, in seconds."""

    median: float
    p25: float
    p75: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples to summarise")
        if len(samples) == 1:
            only = samples[0]
            return cls(only, only, only, 1)
        p25, median, p75 = statistics.quantiles(samples, n=4, method="inclusive")
        return cls(median, p25, p75, len(samples))

    def scaled(self, factor: float) -> Stats:
        """The same summary with every value multiplied by ``factor`` (e.g. per item)."""
        return Stats(self.median * factor, self.p25 * factor, self.p75 * factor, self.n)

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "p25": self.p25, "p75": self.p75, "n": self.n}


def time_calls(
    op: Callable[[], object], count: int, budget: float, minimum: int = MIN_SAMPLES
) -> list[float]:
    """Time up to ``count`` calls of ``op``; stop early (after at least ``minimum``) once
    ``budget`` seconds have gone by, so a slow contender cannot stall the whole run."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + budget
    for _ in range(count):
        start = clock()
        op()
        samples.append((clock() - start) / 1e9)
        if len(samples) >= minimum and time.perf_counter() > deadline:
            break
    return samples


def sample(
    op: Callable[[], object],
    *,
    count: int,
    budget: float = 5.0,
    warmup: int = 1,
    minimum: int = MIN_SAMPLES,
) -> Stats:
    """Median and spread of ``op``'s latency over up to ``count`` calls.

    ``warmup`` calls run first, untimed, so one-off costs (opening a file, filling a
    cache, a lazy import) do not land in the figure. The garbage collector stays on:
    its pauses are part of what a caller pays.
    """
    for _ in range(warmup):
        op()
    return Stats.of(time_calls(op, count, budget, minimum))


def interleave(
    ops: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    per_round: int,
    budget: float,
    minimum: int = MIN_SAMPLES,
    warmup: int = 1,
) -> dict[str, Stats]:
    """Latency of several operations measured in turns, so they share the machine's
    quiet and busy moments.

    A disk shared with other work makes an fsync take 0.2 ms one second and 4 ms the
    next; timing one contender after another would hand each a different machine. Here
    every round runs ``per_round`` calls of each operation, in a new (seeded) random
    order each round, so no operation always follows the same neighbour and inherits
    what it leaves behind (garbage to collect, a busy cache), for up to ``rounds``
    rounds or, after ``minimum``, until ``budget`` seconds have gone by.
    """
    names = list(ops)
    for name in names:
        for _ in range(warmup):
            ops[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.perf_counter() + budget
    shuffler = random.Random(len(names))
    for number in range(rounds):
        shuffler.shuffle(names)
        for name in names:
            samples[name] += time_calls(ops[name], per_round, budget=math.inf)
        if number + 1 >= minimum and time.perf_counter() > deadline:
            break
    return {name: Stats.of(samples[name]) for name in ops}

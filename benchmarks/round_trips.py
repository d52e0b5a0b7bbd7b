"""Object storage through the delaying proxy: requests and sequential round trips per operation.

Each operation is called a few times through the proxy, after a first call that warms
the connection pool and the store's remembered hints (its round trips are kept apart:
what a fresh opener pays). Per call the proxy reports which requests went out and how
long the chain of round trips waited for in turn was; where the store can count its
own requests (``store.measure()``), its count is recorded beside the wire's.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Protocol

from benchmarks.contenders.base import Role
from benchmarks.contenders.threadstore_url import ThreadStoreContender
from benchmarks.corpus import Corpus
from benchmarks.delay_proxy import DelayProxy, sequential_round_trips
from benchmarks.measure import Stats
from benchmarks.results import Figure
from benchmarks.workloads import POSITIONS, Bench

__all__ = ["trace_object_storage"]


class _SelfMeasurement(Protocol):
    requests: int
    round_trips: list[int]


SelfCount = Callable[[], AbstractContextManager[_SelfMeasurement]]


def _self_count(contender: ThreadStoreContender) -> SelfCount | None:
    """The store's own request counter (``measure()``), if its backend has one."""
    measure: SelfCount | None = getattr(contender.store, "measure", None)
    return measure


def _trace(
    bench: Bench,
    proxy: DelayProxy,
    contender: ThreadStoreContender,
    op: Callable[[], object],
    name: str,
    *,
    size: int | None = None,
    position: str | None = None,
    direct: float | None = None,
    same_store: bool = True,
) -> None:
    """Trace ``op`` through the proxy; ``same_store=False`` for an op that opens its own
    store object (the open store's own request counter cannot see it)."""
    calls = bench.profile.s3_calls
    # The first call warms the connection pool (set-up is not what is measured) and the
    # store's own hints; its round trips are kept apart, as a fresh opener's cost.
    first = proxy.exchange_count()
    op()
    first_call = sequential_round_trips(proxy.exchanges(first))
    latencies: list[float] = []
    chains: list[int] = []
    sent: Counter[str] = Counter()
    for _ in range(calls):
        start, before = proxy.exchange_count(), proxy.counts()
        started = time.perf_counter()
        op()
        latencies.append(time.perf_counter() - started)
        chains.append(sequential_round_trips(proxy.exchanges(start)))
        sent += proxy.counts() - before
    extra: dict[str, Any] = {
        "op": name,
        "round_trips": statistics.median(chains),
        "first_call_round_trips": first_call,
        "requests": {method: count / calls for method, count in sorted(sent.items())},
        "direct": direct,
        "delay": proxy.delay,
    }
    measure = _self_count(contender) if same_store else None
    if measure is not None:
        with measure() as counted:
            op()
        extra["self_requests"] = counted.requests
        extra["self_round_trips"] = sum(counted.round_trips)
    bench.results.add(Figure("s3", contender.label, Stats.of(latencies), size, position, extra))


def trace_object_storage(
    bench: Bench, proxy: DelayProxy, delayed: ThreadStoreContender, direct_label: str
) -> None:
    """Trace every operation of ``delayed`` (the S3 store behind the proxy)."""
    results = bench.results

    def direct(workload: str, size: int | None = None, position: str | None = None) -> float:
        figure = results.get(workload, direct_label, size, position)
        return figure.stats.median if figure is not None else float("nan")

    thread_id = delayed.new_thread()
    messages = iter(Corpus.fresh(bench.profile.s3_calls + 2))
    _trace(
        bench,
        proxy,
        delayed,
        lambda: delayed.append(thread_id, next(messages)),
        "append",
        direct=direct("append"),
    )
    for size in bench.profile.sizes:
        if not delayed.takes(Role.LATEST_PAGE, size):
            continue
        fixture = bench.fixtures.thread(delayed, size)
        for position in POSITIONS:
            _trace(
                bench,
                proxy,
                delayed,
                partial(delayed.page, fixture.thread_id, fixture.cursor(position)),
                f"page of 20, {position}, {size:,}",
                size=size,
                position=position,
                direct=direct("page", size, position),
            )
    smallest = min(bench.profile.sizes)
    fixture = bench.fixtures.thread(delayed, smallest)
    _trace(
        bench,
        proxy,
        delayed,
        partial(delayed.read_all, fixture.thread_id),
        f"full read, {smallest:,}",
        size=smallest,
        direct=direct("full-read", smallest),
    )
    run_ids = iter([delayed.create_run(thread_id) for _ in range(bench.profile.s3_calls + 2)])
    _trace(
        bench,
        proxy,
        delayed,
        lambda: delayed.move_run(thread_id, next(run_ids), "in_progress", "queued"),
        "run claim",
        direct=direct("run-claim"),
    )
    crowd = [f.size or 0 for f in results.of("cold-open") if f.contender == direct_label]
    threads = max(crowd, default=0)
    _trace(
        bench,
        proxy,
        delayed,
        delayed.cold_open,
        "cold open + list threads",
        size=threads,
        direct=direct("cold-open", threads) if threads else None,
        same_store=False,
    )

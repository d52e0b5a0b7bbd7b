"""The targets the report states, each judged met or missed from the run's own figures.

- durable append within 1.5x of SQLite (WAL, synchronous=FULL) per commit, and ahead
  of the Agents SDK's ``SQLiteSession``;
- a page of 20 costs the same at 10^2 and 10^5 messages ("flat": the larger thread's
  median within 1.5x of the smaller's, at every page position);
- on S3, a page of 20 waits for at most 2 round trips in turn, on the wire; and, as the
  backend counts its requests, a page of 20 messages, runs or steps is at most 4 requests
  in 2 round trips, a page of threads at most 3 requests whatever the catalog's size, an
  append (one message or a batch) 2 round trips, and opening a probed store 1 request;
- the memory backend within 5x of the plain dict-and-list store, per operation;
- threadstore on PostgreSQL within 1.3x of bare psycopg on the same server, per
  operation (writers: aggregate throughput); appends against bare psycopg numbering
  messages the same way (a per-thread head in the inserting statement);
- a fresh process that opens ``memory://`` within 100 ms of bare Python;
- the Agents SDK session on the file backend ahead of the SDK's ``SQLiteSession`` at
  ``add_items`` of 1 and of 5 items and at ``get_items(limit=20)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.backend_benchmarks import OBJECT_STORAGE
from benchmarks.lineup import (
    AGENTS,
    LOCAL,
    MEMORY,
    PLAIN,
    POSTGRES,
    PSYCOPG,
    PSYCOPG_ORDERED,
    SQLITE_FULL,
    THREADSTORE_SQLITE,
)
from benchmarks.results import Count, Results
from benchmarks.units import duration, ratio

__all__ = ["FLAT", "Target", "memory_ratios", "paired", "postgres_ratios", "targets"]

APPEND_VS_SQLITE = 1.5
FLAT = 1.5
S3_PAGE_ROUND_TRIPS = 2
S3_PAGE_REQUESTS = 4
S3_THREAD_PAGE_REQUESTS = 3
S3_APPEND_ROUND_TRIPS = 2
MEMORY_VS_PLAIN = 5.0
POSTGRES_VS_PSYCOPG = 1.3
STARTUP_ABOVE_BARE = 0.100


@dataclass(frozen=True)
class Target:
    goal: str
    outcome: str
    met: bool | None
    """None: not measured in this run."""


def _append_targets(results: Results) -> list[Target]:
    ours = results.get("append", LOCAL)
    full = results.get("append", SQLITE_FULL)
    agents = results.get("append", AGENTS)
    found: list[Target] = []
    goal = f"durable append within {APPEND_VS_SQLITE}x of SQLite FULL per commit"
    if ours and full:
        r = ours.stats.median / full.stats.median
        outcome = f"{duration(ours.stats.median)} vs {duration(full.stats.median)}: {ratio(r)}"
        found.append(Target(goal, outcome, r <= APPEND_VS_SQLITE))
    else:
        found.append(Target(goal, "not measured", None))
    goal = "durable append ahead of openai-agents SQLiteSession"
    if ours and agents:
        r = ours.stats.median / agents.stats.median
        outcome = f"{duration(ours.stats.median)} vs {duration(agents.stats.median)}: {ratio(r)}"
        found.append(Target(goal, outcome, r < 1.0))
    else:
        found.append(Target(goal, "not measured", None))
    return found


def page_growth(results: Results, contender: str) -> tuple[int, int, dict[str, float]] | None:
    """Smallest and largest size measured, and per position the ratio of their medians."""
    sizes = [f.size for f in results.of("page") if f.contender == contender and f.size]
    if len(set(sizes)) < 2:
        return None
    small, large = min(sizes), max(sizes)
    ratios = {}
    for position in ("first", "middle", "last"):
        low = results.get("page", contender, small, position)
        high = results.get("page", contender, large, position)
        if low and high:
            ratios[position] = high.stats.median / low.stats.median
    return small, large, ratios


def _flat_targets(results: Results) -> list[Target]:
    """Per threadstore backend; the plain store, flat by construction, measured in the
    same run, says how much of any growth is the machine's noise."""
    control = page_growth(results, PLAIN)
    noise = ""
    if control is not None and control[2]:
        low, high = min(control[2].values()), max(control[2].values())
        noise = f"; the plain store, flat by construction: {ratio(low)} to {ratio(high)}"
    found = []
    for contender in (LOCAL, MEMORY, THREADSTORE_SQLITE, POSTGRES):
        goal = f"{contender}: page of 20 flat from 10^2 to 10^5 messages"
        growth = page_growth(results, contender)
        if growth is None:
            found.append(Target(goal, "not measured", None))
            continue
        small, large, ratios = growth
        parts = ", ".join(f"{position} {ratio(r)}" for position, r in ratios.items())
        outcome = f"{large:,} vs {small:,} messages: {parts}{noise}"
        if large < 100_000:
            outcome += f" (this run stopped at {large:,})"
        found.append(Target(goal, outcome, max(ratios.values()) <= FLAT))
    return found


def _s3_target(results: Results) -> Target:
    goal = f"S3 page of 20 in at most {S3_PAGE_ROUND_TRIPS} sequential round trips"
    pages = [f for f in results.of("s3") if f.extra.get("op", "").startswith("page")]
    if not pages:
        return Target(goal, "not measured", None)
    worst = max(pages, key=lambda f: f.extra["round_trips"])
    trips = worst.extra["round_trips"]
    outcome = f"at most {trips:g} on the wire ({worst.extra['op']})"
    return Target(goal, outcome, trips <= S3_PAGE_ROUND_TRIPS)


def _worst(goal: str, counts: list[Count], requests: int, round_trips: int) -> Target:
    """Whether every count stays within ``requests`` and ``round_trips``; the worst shown."""
    if not counts:
        return Target(goal, "not measured", None)
    worst = max(
        counts,
        key=lambda c: (
            c.requests > requests or c.round_trips > round_trips,
            c.requests,
            c.round_trips,
        ),
    )
    outcome = (
        f"worst of {len(counts)}: {_many(worst.requests, 'request')}, "
        f"{_many(worst.round_trips, 'round trip')} ({worst.operation})"
    )
    met = all(c.requests <= requests and c.round_trips <= round_trips for c in counts)
    return Target(goal, outcome, met)


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _s3_count_targets(results: Results) -> list[Target]:
    """The S3 backend's own request counts, against the goals of its design."""
    counts = [c for c in results.counts if c.workload == OBJECT_STORAGE]
    pages = [c for c in counts if c.operation.startswith("page of 20")]
    threads = [c for c in counts if c.operation.startswith("list_threads")]
    appends = [c for c in counts if c.operation.startswith("append")]
    opens = [c for c in counts if c.operation.startswith("open")]
    largest = max((c.size for c in threads), default=0)
    unlimited = 10**9
    return [
        _worst(
            f"S3 page of 20 messages, runs or steps in at most {S3_PAGE_REQUESTS} requests "
            f"and {S3_PAGE_ROUND_TRIPS} round trips",
            pages,
            S3_PAGE_REQUESTS,
            S3_PAGE_ROUND_TRIPS,
        ),
        _worst(
            f"S3 page of 20 threads in at most {S3_THREAD_PAGE_REQUESTS} requests, "
            f"both orders, at {largest:,} threads",
            threads,
            S3_THREAD_PAGE_REQUESTS,
            unlimited,
        ),
        _worst(
            f"S3 append (one, or a batch) in at most {S3_APPEND_ROUND_TRIPS} round trips",
            appends,
            unlimited,
            S3_APPEND_ROUND_TRIPS,
        ),
        _worst("S3 open of a store probed before: 1 request", opens, 1, 1),
    ]


def paired(results: Results, baseline: str, contender: str) -> list[tuple[str, float, float]]:
    """Per operation: the baseline's median, the contender's, for every figure both have
    (same workload, size and position). Writer rounds compare seconds per append of the
    aggregate throughput, so that, as everywhere, lower is better."""
    rows = []
    for figure in results.figures:
        if figure.contender != baseline or figure.workload == "floor":
            continue
        ours = results.get(figure.workload, contender, figure.size, figure.position)
        if ours is None:
            continue
        name = figure.workload
        if figure.position:
            name += f" {figure.position}"
        if figure.size:
            name += f" @ {figure.size:,}"
        if figure.workload == "writers":
            base_rate = figure.extra["throughput"]["median"]
            our_rate = ours.extra["throughput"]["median"]
            rows.append((f"{name} (per append, all writers)", 1 / base_rate, 1 / our_rate))
        else:
            rows.append((name, figure.stats.median, ours.stats.median))
    return rows


def memory_ratios(results: Results) -> list[tuple[str, float, float]]:
    """:func:`paired` for the memory backend against the plain store."""
    return paired(results, PLAIN, MEMORY)


def postgres_ratios(results: Results) -> list[tuple[str, float, float]]:
    """:func:`paired` for threadstore on PostgreSQL against bare psycopg: against the
    ordered floor where it was measured (appends, writer rounds), which numbers messages
    as threadstore must, else against the plain one."""
    ordered = dict(
        (name, (floor, ours)) for name, floor, ours in paired(results, PSYCOPG_ORDERED, POSTGRES)
    )
    return [
        (name, *ordered.get(name, (floor, ours)))
        for name, floor, ours in paired(results, PSYCOPG, POSTGRES)
    ]


def _worst_ratio(goal: str, rows: list[tuple[str, float, float]], limit: float) -> Target:
    """Met if no operation of ``rows`` (name, baseline, ours) is over ``limit`` times its
    baseline; the outcome names the worst."""
    if not rows:
        return Target(goal, "not measured", None)
    name, base, ours = max(rows, key=lambda row: row[2] / row[1])
    outcome = f"worst: {name}, {duration(ours)} vs {duration(base)} = {ratio(ours / base)}"
    return Target(goal, outcome, ours / base <= limit)


def _memory_target(results: Results) -> Target:
    goal = f"memory backend within {MEMORY_VS_PLAIN:g}x of a plain dict-and-list, per operation"
    return _worst_ratio(goal, memory_ratios(results), MEMORY_VS_PLAIN)


def _postgres_target(results: Results) -> Target:
    goal = f"{POSTGRES} within {POSTGRES_VS_PSYCOPG:g}x of bare psycopg, per operation"
    return _worst_ratio(goal, postgres_ratios(results), POSTGRES_VS_PSYCOPG)


def _session_targets(results: Results) -> list[Target]:
    from benchmarks.session import SESSION_FILE, SESSION_SQLITE, WORKLOADS

    found = []
    for workload, what in WORKLOADS.items():
        goal = f"file-backed ThreadStoreSession ahead of SQLiteSession: {what}"
        ours = next((f for f in results.of(workload) if f.contender == SESSION_FILE), None)
        peer = next((f for f in results.of(workload) if f.contender == SESSION_SQLITE), None)
        if ours is None or peer is None:
            found.append(Target(goal, "not measured", None))
            continue
        r = ours.stats.median / peer.stats.median
        outcome = f"{duration(ours.stats.median)} vs {duration(peer.stats.median)}: {ratio(r)}"
        found.append(Target(goal, outcome, r < 1.0))
    return found


def _startup_target(results: Results) -> Target:
    from benchmarks.backend_benchmarks import STARTUP
    from benchmarks.startup import BARE, OPEN_MEMORY

    goal = f"a fresh process opens memory:// within {duration(STARTUP_ABOVE_BARE)} of bare Python"
    bare, opened = results.get(STARTUP, BARE), results.get(STARTUP, OPEN_MEMORY)
    if bare is None or opened is None:
        return Target(goal, "not measured", None)
    above = opened.stats.median - bare.stats.median
    outcome = f"{duration(opened.stats.median)} vs {duration(bare.stats.median)}"
    outcome += f": +{duration(above)}"
    return Target(goal, outcome, above <= STARTUP_ABOVE_BARE)


def targets(results: Results) -> list[Target]:
    return [
        *_append_targets(results),
        *_flat_targets(results),
        _s3_target(results),
        *_s3_count_targets(results),
        _memory_target(results),
        _postgres_target(results),
        _startup_target(results),
        *_session_targets(results),
    ]

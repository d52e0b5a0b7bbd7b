"""The report's section on the local-disk engine: each goal with this run's figure, met
or not, then the figures behind them (from :mod:`benchmarks.local_engine`, the main
run's pages and writer rounds)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from benchmarks.floors import CPU_TASK, FSYNC_FLOOR, FSYNC_GROWING
from benchmarks.lineup import LOCAL, LOCAL_FAST, MEMORY, SQLITE_FULL, SQLITE_NORMAL
from benchmarks.local_engine import (
    BATCH,
    COMMITS,
    EMPTY_THREAD,
    FIRST_TOUCH,
    MEMORY_DELETE,
    SPREAD_WRITERS,
    TAIL,
    THREAD_COUNT,
)
from benchmarks.results import Figure, Results
from benchmarks.units import DASH, NONE, TIMES, duration, rate, ratio, spread

__all__ = ["section"]

Table = Callable[[Sequence[str], Iterable[Sequence[str]]], list[str]]
MET, SHORT = "**met**", "not met"


@dataclass(frozen=True)
class Goal:
    what: str
    target: str
    measured: str
    met: bool | None

    def row(self) -> tuple[str, str, str, str]:
        verdict = NONE if self.met is None else MET if self.met else SHORT
        return (self.what, self.target, self.measured, verdict)


def _median(results: Results, workload: str, contender: str, **where: object) -> float:
    for figure in results.of(workload):
        if figure.contender == contender and all(
            getattr(figure, key) == value for key, value in where.items()
        ):
            return figure.stats.median
    return float("nan")


def _power(size: int) -> str:
    exponent = len(str(size)) - 1
    return f"10^{exponent}" if size == 10**exponent else f"{size:,}"


def _ratios(results: Results, workload: str, ours: str, theirs: str) -> list[float]:
    """Per repeat (figures sharing a position), ours over theirs."""
    found = []
    for figure in results.of(workload):
        if figure.contender == ours:
            other = _median(results, workload, theirs, position=figure.position)
            found.append(figure.stats.median / other)
    return found


def _spread_of(values: list[float]) -> str:
    if not values:
        return NONE
    if len(values) == 1:
        return ratio(values[0])
    middle = statistics.median(values)
    return (
        f"{ratio(middle)} ({ratio(min(values))}{DASH}{ratio(max(values))}, {len(values)} repeats)"
    )


def _goals(results: Results) -> list[Goal]:
    goals: list[Goal] = []
    sizes = sorted({f.size for f in results.of(THREAD_COUNT) if f.size})
    if sizes:
        opens = [_median(results, THREAD_COUNT, LOCAL, size=s, position="open") for s in sizes]
        goals.append(
            Goal(
                "`open_store`, " + " / ".join(_power(s) for s in sizes) + " threads",
                "≤1 ms at every size",
                " / ".join(duration(v) for v in opens),
                max(opens) <= 1e-3,
            )
        )
        small, big = sizes[0], sizes[-1]
        growth, versus = [], []
        for position in ("first", "middle", "last"):
            at_big = _median(results, THREAD_COUNT, LOCAL, size=big, position=position)
            growth.append(
                at_big / _median(results, THREAD_COUNT, LOCAL, size=small, position=position)
            )
            versus.append(
                at_big / _median(results, THREAD_COUNT, SQLITE_FULL, size=big, position=position)
            )
        goals.append(
            Goal(
                f"`list_threads(limit=20)` first/middle/last, {_power(big)} threads",
                f"within 1.5{TIMES} of {_power(small)}; ≤2{TIMES} SQLite",
                f"{' / '.join(ratio(g) for g in growth)} of {_power(small)}; "
                f"{' / '.join(ratio(v) for v in versus)} SQLite",
                max(growth) <= 1.5 and max(versus) <= 2.0,
            )
        )
    empty = results.get(EMPTY_THREAD, LOCAL, _first_size(results, EMPTY_THREAD))
    if empty is not None:
        goals.append(
            Goal(
                "disk per empty thread",
                "≤4 KB, ≤2 inodes",
                f"{empty.stats.median:,.0f} B allocated ({empty.extra['apparent']:,.0f} B "
                f"written), {empty.extra['inodes']:.2f} inodes",
                empty.stats.median <= 4096 and empty.extra["inodes"] <= 2,
            )
        )
    tail = [f for f in results.of(TAIL) if f.contender == LOCAL_FAST and f.position == "append"]
    if tail:
        figure, cpu = tail[0], tail[0].extra["cpu"]
        other = results.get(TAIL, SQLITE_NORMAL, figure.size, "append")
        task = results.get(TAIL, CPU_TASK, figure.size, "append")
        worst = cpu["p999"] / cpu["median"]
        wall = figure.extra["p999"] / figure.stats.median
        goals.append(
            Goal(
                f"append tail, {figure.size:,} messages on one thread (`durable=false`)",
                f"p99.9 ≤3{TIMES} median",
                f"CPU time: p99.9 {duration(cpu['p999'])} = {ratio(worst)} median "
                f"{duration(cpu['median'])}, max {duration(cpu['max'])} (in the same turns, "
                f"SQLite NORMAL: {_cpu_tail(other)}; a fixed CPU task of about the same "
                f"median: {_cpu_tail(task)}); wall clock {ratio(wall)} (SQLite: "
                f"{NONE if other is None else ratio(other.extra['p999'] / other.stats.median)})",
                worst <= 3,
            )
        )
    index = [f for f in results.of(TAIL) if f.position == "index bytes"]
    if index:
        per_message = index[0].stats.median
        goals.append(
            Goal(
                f"index size, {index[0].size:,} messages on one thread",
                "≤64 B/msg",
                f"{per_message:.0f} B/msg allocated ({index[0].extra['index_apparent']:.0f} B/msg "
                "apparent: released pages are holes)",
                per_message <= 64,
            )
        )
    create = _median(results, FIRST_TOUCH, LOCAL, position="create + append")
    if create == create:
        peer = _median(results, FIRST_TOUCH, SQLITE_FULL, position="create + append")
        first = _median(results, FIRST_TOUCH, LOCAL, position="get_thread, first")
        later = _median(results, FIRST_TOUCH, LOCAL, position="get_thread, later")
        listed = _median(results, FIRST_TOUCH, LOCAL, position="list_messages, first")
        again = _median(results, FIRST_TOUCH, LOCAL, position="list_messages, later")
        goals.append(
            Goal(
                "first touch: create + first append (durable)",
                f"≤1.3{TIMES} SQLite",
                f"{duration(create)} vs {duration(peer)}: {ratio(create / peer)}",
                create / peer <= 1.3,
            )
        )
        goals.append(
            Goal(
                "first touch: first read of a thread",
                f"≤2{TIMES} a later one",
                f"`get_thread` {duration(first)} vs {duration(later)}: {ratio(first / later)}; "
                f"`list_messages` {duration(listed)} vs {duration(again)}: {ratio(listed / again)}",
                first / later <= 2 and listed / again <= 2,
            )
        )
    versus_full = _ratios(results, COMMITS, LOCAL, SQLITE_FULL)
    if versus_full:
        floors = _ratios(results, COMMITS, LOCAL, FSYNC_FLOOR)
        growing = _ratios(results, COMMITS, LOCAL, FSYNC_GROWING)
        goals.append(
            Goal(
                "durable append, one writer",
                f"≤1.0{TIMES} SQLite FULL; ≤1.3{TIMES} the floor",
                f"{_spread_of(versus_full)} SQLite; {_spread_of(floors)} the preallocated floor, "
                f"{_spread_of(growing)} the growing-file floor",
                statistics.median(versus_full) <= 1.0 and statistics.median(floors) <= 1.3,
            )
        )
        fast = _ratios(results, COMMITS, LOCAL_FAST, SQLITE_NORMAL)
        goals.append(
            Goal(
                "`durable=false` append",
                f"≤1.0{TIMES} SQLite NORMAL",
                _spread_of(fast),
                statistics.median(fast) <= 1.0,
            )
        )
    pages = [
        f.stats.median / other.stats.median
        for f in results.of("page")
        if f.contender == LOCAL
        and (other := results.get("page", SQLITE_FULL, f.size, f.position)) is not None
    ]
    if pages:
        goals.append(
            Goal(
                "page of 20 messages vs SQLite's indexed query, every size and position",
                f"≤1.1{TIMES}",
                f"median {ratio(statistics.median(pages))}, "
                f"{ratio(min(pages))}{DASH}{ratio(max(pages))}",
                max(pages) <= 1.1,
            )
        )
    for workload, where, target, at_least in (
        ("writers", "ONE thread", f"≥1.2{TIMES} SQLite", 1.2),
        (SPREAD_WRITERS, "a thread each", f"≥1.5{TIMES} SQLite", 1.5),
    ):
        ours, theirs = results.get(workload, LOCAL), results.get(workload, SQLITE_FULL)
        if ours is not None and theirs is not None:
            mine = ours.extra["throughput"]["median"]
            peer = theirs.extra["throughput"]["median"]
            goals.append(
                Goal(
                    f"{ours.extra['processes']} processes appending to {where}",
                    target,
                    f"{rate(mine)} vs {rate(peer)}: {ratio(mine / peer)}",
                    mine / peer >= at_least,
                )
            )
    batch = results.of(BATCH)
    if batch:
        size = batch[0].size or 1
        ours_batch = _median(results, BATCH, LOCAL)
        peer_batch = _median(results, BATCH, SQLITE_FULL)
        goals.append(
            Goal(
                f"batch append, {size} messages in one durable commit",
                "measured",
                f"{duration(ours_batch)} ({duration(ours_batch / size)}/msg) vs SQLite "
                f"{duration(peer_batch)}: {ratio(ours_batch / peer_batch)}",
                None,
            )
        )
    deletes = results.of(MEMORY_DELETE)
    if deletes:
        cases = {f.position: f.stats.median for f in deletes}
        goals.append(
            Goal(
                "memory:// delete costs what it deletes",
                "flat in store size",
                "; ".join(f"{case}: {duration(value)}" for case, value in cases.items()),
                None,
            )
        )
    return goals


def _first_size(results: Results, workload: str) -> int | None:
    sizes = [f.size for f in results.of(workload)]
    return sizes[0] if sizes else None


def _rows(figures: Iterable[Figure]) -> list[tuple[str, ...]]:
    return [
        (
            f.contender,
            f"{f.size:,}" if f.size else NONE,
            f.position or NONE,
            spread(f.stats),
        )
        for f in figures
    ]


def _cpu_tail(figure: Figure | None) -> str:
    """A tail figure's CPU-time p99.9 over its median."""
    if figure is None:
        return NONE
    return ratio(figure.extra["cpu"]["p999"] / figure.extra["cpu"]["median"])


def _tail_of(each: dict[str, float]) -> tuple[str, str, str]:
    return duration(each["p99"]), duration(each["p999"]), duration(each["max"])


def section(results: Results, table: Table) -> list[str]:
    """The local-disk engine's goals and figures; nothing if none were measured."""
    goals = _goals(results)
    if not goals:
        return []
    lines = [
        "## Local disk engine: goals",
        "",
        "From `benchmarks/local_engine.py` (and, for pages of messages and writers on one "
        "thread, the tables above). SQLite runs in the same process, taking turns with "
        "threadstore call by call or round by round; ratios divide medians, and where "
        "the figure was repeated, the median ratio is shown with its lowest and highest. "
        "The machine's load is in the header above.",
        "",
        *table(("goal", "target", "this run", ""), (goal.row() for goal in goals)),
    ]
    for workload, title in (
        (THREAD_COUNT, "Store size: `open_store` and pages of `list_threads`"),
        (FIRST_TOUCH, "First touch of a thread"),
        (COMMITS, "Single-writer commits, repeated"),
        (BATCH, "Batch append"),
        (TAIL, "The long thread"),
        (SPREAD_WRITERS, "Writer processes, a thread each"),
        (MEMORY_DELETE, f"{MEMORY}: deletes"),
    ):
        figures = [f for f in results.of(workload) if f.position != "index bytes"]
        if figures:
            lines += [
                f"### {title}",
                "",
                *table(("contender", "size", "case", f"median (p25{DASH}p75)"), _rows(figures)),
            ]
    tail = [f for f in results.of(TAIL) if f.position == "append"]
    if tail:
        lines += table(
            ("contender", "clock", "median", "p99", "p99.9", "max"),
            [
                (f.contender, clock, duration(each["median"]), *_tail_of(each))
                for f in tail
                for clock, each in (
                    ("wall", {**f.extra, "median": f.stats.median}),
                    ("CPU", f.extra["cpu"]),
                )
            ],
        )
    sized = results.of(EMPTY_THREAD) + [f for f in results.of(TAIL) if f.position == "index bytes"]
    if sized:
        lines += [
            "### Bytes on disk",
            "",
            *table(
                ("what", "contender", "count", "allocated", "written"),
                [
                    (
                        "per empty thread" if f.workload == EMPTY_THREAD else "index per message",
                        f.contender,
                        f"{f.size:,}" if f.size else NONE,
                        f"{f.stats.median:,.0f} B",
                        f"{f.extra.get('apparent', f.extra.get('index_apparent', 0.0)):,.0f} B",
                    )
                    for f in sized
                ],
            ),
        ]
    return lines

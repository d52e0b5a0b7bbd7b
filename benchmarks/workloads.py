"""The single-process workloads: appends, pages, full reads, run moves, cold opens.

Each function measures one contender and adds its figures to the results. Every read
figure is checked once, untimed, before it is timed (a page must hold 20 messages, a
full read every message), so a contender that returns the wrong answer fast cannot
win a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks.contenders.base import PAGE_SIZE, Contender, Role
from benchmarks.corpus import Corpus
from benchmarks.fixtures import Fixtures
from benchmarks.floors import ALONGSIDE_APPENDS, ALONGSIDE_RUNS, FSYNC_FLOOR, FsyncRecord
from benchmarks.measure import Stats, interleave, sample
from benchmarks.profiles import Profile
from benchmarks.results import Figure, Results

__all__ = ["POSITIONS", "Bench", "appends", "cold_open", "reads", "runs"]

POSITIONS = ("first", "middle", "last")
PER_ROUND = 5
"""Calls of one contender in a row before the next one's turn."""


@dataclass
class Bench:
    """What every workload needs: the sizes, the shared data, where results go."""

    profile: Profile
    results: Results
    fixtures: Fixtures
    corpus: Corpus
    workdir: Path
    log: Callable[[str], None]

    def sample(self, op: Callable[[], object], count: int, warmup: int = 1) -> Stats:
        """Time ``op`` within the profile's budget per figure."""
        profile = self.profile
        return sample(
            op,
            count=count,
            budget=profile.budget,
            warmup=warmup,
            minimum=profile.min_samples,
        )


def _checked(what: str, got: int, want: int) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got} items, expected {want}")


def _appender(contender: Contender, thread_id: str, count: int) -> Callable[[], None]:
    """One append per call, each with a new message built beforehand (untimed)."""
    messages = iter(Corpus.fresh(count + 1))
    return lambda: contender.append(thread_id, next(messages))


def _in_turns(bench: Bench, ops: dict[str, Callable[[], object]], calls: int) -> dict[str, Stats]:
    """Time ``ops`` taking turns, ``calls`` calls each at most (see :func:`interleave`)."""
    return interleave(
        ops,
        rounds=max(1, calls // PER_ROUND),
        per_round=PER_ROUND,
        budget=bench.profile.budget * len(ops),
        minimum=bench.profile.min_samples,
    )


def appends(bench: Bench, contenders: list[Contender]) -> None:
    """Single-writer appends to a fresh thread, one commit each.

    The contenders take turns with each other and with the fsync floor, so a busy
    moment of the disk lands on all of them; slow ones (S3) are timed on their own.
    """
    count = bench.profile.appends
    ops: dict[str, Callable[[], object]] = {
        c.label: _appender(c, c.new_thread(), count) for c in contenders if not c.slow
    }
    with FsyncRecord(bench.workdir, count + 1, grow=False) as commit:
        ops[FSYNC_FLOOR] = commit
        for label, stats in _in_turns(bench, ops, count).items():
            if label == FSYNC_FLOOR:
                bench.results.add(Figure("floor", label, stats, position=ALONGSIDE_APPENDS))
            else:
                bench.results.add(Figure("append", label, stats))
    for contender in contenders:
        if contender.slow:
            op = _appender(contender, contender.new_thread(), count)
            bench.results.add(Figure("append", contender.label, bench.sample(op, count)))


def reads(bench: Bench, contender: Contender) -> None:
    """Pages (first, middle, last), a full read and appends, at every thread size."""
    profile = bench.profile
    for size in profile.sizes:
        if not contender.takes(Role.LATEST_PAGE, size):
            continue
        fixture = bench.fixtures.thread(contender, size)
        thread_id = fixture.thread_id
        for position in POSITIONS:
            if position != "first" and not contender.takes(Role.CURSOR_PAGE, size):
                continue
            cursor = fixture.cursor(position)
            page = partial(contender.page, thread_id, cursor)
            _checked(f"{contender.label} {position} page", len(page()), PAGE_SIZE)
            stats = bench.sample(page, profile.reads, warmup=0)
            bench.results.add(Figure("page", contender.label, stats, size, position))
        largest_read = min(profile.sizes) if contender.slow else profile.full_read_max
        if contender.takes(Role.FULL_READ, size) and size <= largest_read:
            read = partial(contender.read_all, thread_id)
            _checked(f"{contender.label} full read", read(), size)
            stats = bench.sample(read, profile.reads, warmup=0)
            bench.results.add(Figure("full-read", contender.label, stats, size))
        if contender.takes(Role.APPEND, size):
            count = profile.appends_at_size
            stats = bench.sample(_appender(contender, thread_id, count), count)
            bench.results.add(Figure("append-at-size", contender.label, stats, size))


def _mover(
    contender: Contender, thread_id: str, run_ids: Iterator[str], status: str, expected: str
) -> tuple[Callable[[], None], list[str]]:
    moved: list[str] = []

    def move() -> None:
        run_id = next(run_ids)
        contender.move_run(thread_id, run_id, status, expected)
        moved.append(run_id)

    return move, moved


def _run_moves(
    bench: Bench, contenders: list[Contender], count: int
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    """Per contender: a claim of a queued run per call, and a completion of a claimed one."""
    claims: dict[str, Callable[[], object]] = {}
    completions: dict[str, Callable[[], object]] = {}
    for contender in contenders:
        thread_id = contender.new_thread()
        run_ids = [contender.create_run(thread_id) for _ in range(count + 1)]
        claim, claimed = _mover(contender, thread_id, iter(run_ids), "in_progress", "queued")
        complete, _ = _mover(contender, thread_id, iter(claimed), "completed", "in_progress")
        claims[contender.label], completions[contender.label] = claim, complete
    return claims, completions


def runs(bench: Bench, contenders: list[Contender]) -> None:
    """Claim queued runs (``queued -> in_progress`` with ``expected=``), then complete
    them; in turns with each other and with the fsync floor, like appends."""
    count = bench.profile.runs
    together = [c for c in contenders if not c.slow]
    claims, completions = _run_moves(bench, together, count)
    with FsyncRecord(bench.workdir, 2 * count + 2, grow=False) as commit:
        for workload, ops in (("run-claim", claims), ("run-complete", completions)):
            for label, stats in _in_turns(bench, {**ops, FSYNC_FLOOR: commit}, count).items():
                if label != FSYNC_FLOOR:
                    bench.results.add(Figure(workload, label, stats))
                elif workload == "run-claim":
                    bench.results.add(Figure("floor", label, stats, position=ALONGSIDE_RUNS))
    for contender in contenders:
        if contender.slow:
            claims, completions = _run_moves(bench, [contender], count)
            for workload, ops in (("run-claim", claims), ("run-complete", completions)):
                stats = bench.sample(ops[contender.label], count)
                bench.results.add(Figure(workload, contender.label, stats))


def cold_open(bench: Bench, contender: Contender, threads: int) -> None:
    """Open a new handle on a store of ``threads`` threads and list the newest 20."""
    bench.fixtures.crowd(contender, threads)
    _checked(f"{contender.label} cold open", contender.cold_open(), PAGE_SIZE)
    stats = bench.sample(contender.cold_open, bench.profile.opens, warmup=0)
    bench.results.add(Figure("cold-open", contender.label, stats, threads))

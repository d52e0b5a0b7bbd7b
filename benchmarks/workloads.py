"""The single-process workloads: appends, pages, full reads, run moves, cold opens.

The contenders take turns (see :func:`benchmarks.measure.interleave`), so every one of
them meets the machine's busy moments as often as the others; slow ones (S3 on the
in-process moto server) are timed on their own. Every read is checked
once, untimed, before it is timed (a page must hold 20 messages, a full read every
message): a contender that answers wrongly is reported and left out of that figure,
and cannot win a table by answering fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path

from benchmarks.contenders.base import PAGE_SIZE, Contender, Role
from benchmarks.corpus import Corpus
from benchmarks.fixtures import Fixtures
from benchmarks.floors import ALONGSIDE_APPENDS, ALONGSIDE_RUNS, FSYNC_FLOOR, FsyncRecord
from benchmarks.measure import Stats, interleave, sample
from benchmarks.profiles import Profile
from benchmarks.results import Figure, Results

__all__ = ["POSITIONS", "Bench", "Pace", "appends", "cold_open", "in_turns", "reads", "runs"]

POSITIONS = ("first", "middle", "last")


class Pace(Enum):
    """How an operation takes turns with the others (see :func:`in_turns`)."""

    DISK = 1
    """A durable commit: one call per turn, with the other commits and the fsync floor.
    A shared disk's slow spells are short; a run of several commits could land in one
    and the next contender's run not."""
    QUICK = 5
    """Memory or page-cache work: five calls per turn, among the other quick ones only.
    Waking from someone else's fsync, or following a parse that leaves garbage behind,
    costs the first call in cold caches; that is the neighbour's cost, not this one's."""
    ALONE = 0
    """S3 on the in-process moto server: timed on its own, as its server's and proxy's
    threads stay busy a moment after each call and would slow whoever came next."""


@dataclass
class Bench:
    """What every workload needs: the sizes, the shared data, where results go."""

    profile: Profile
    results: Results
    fixtures: Fixtures
    corpus: Corpus
    workdir: Path
    log: Callable[[str], None]
    fail: Callable[[str, Exception], None]
    """Report that ``what`` failed; the run goes on without it."""

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


def in_turns(
    bench: Bench,
    ops: dict[str, Callable[[], object]],
    calls: int,
    paces: Mapping[str, Pace],
    *,
    warmup: int = 1,
) -> dict[str, Stats]:
    """Time ``ops``, ``calls`` calls each at most after ``warmup`` more: the ops of each
    pace take turns among themselves (see :func:`interleave`), ``ALONE`` ones one by one.
    """
    timed: dict[str, Stats] = {}
    for pace in (Pace.DISK, Pace.QUICK):
        group = {label: op for label, op in ops.items() if paces[label] is pace}
        if group:
            per_round = min(pace.value, calls)
            timed |= interleave(
                group,
                rounds=max(1, calls // per_round),
                per_round=per_round,
                budget=bench.profile.budget * len(group),
                minimum=bench.profile.min_samples,
                warmup=warmup,
            )
    for label, op in ops.items():
        if paces[label] is Pace.ALONE:
            timed[label] = bench.sample(op, calls, warmup)
    return {label: timed[label] for label in ops}


def _paces(contenders: Iterable[Contender], commits: bool) -> dict[str, Pace]:
    """Each contender's pace; ``commits``: the operation is a durable commit for the
    durable ones (appends, run moves), else it is a read."""
    return {
        c.label: Pace.ALONE if c.slow else Pace.DISK if commits and c.durable else Pace.QUICK
        for c in contenders
    }


def appends(bench: Bench, contenders: list[Contender]) -> None:
    """Single-writer appends to a fresh thread, one commit each.

    The durable contenders take turns with each other and with the fsync floor, so a
    busy moment of the disk lands on all of them (see :class:`Pace`).
    """
    count = bench.profile.appends
    ops: dict[str, Callable[[], object]] = {
        c.label: _appender(c, c.new_thread(), count) for c in contenders
    }
    paces = {**_paces(contenders, commits=True), FSYNC_FLOOR: Pace.DISK}
    with FsyncRecord(bench.workdir, count + 1, grow=False) as commit:
        ops[FSYNC_FLOOR] = commit
        for label, stats in in_turns(bench, ops, count, paces).items():
            if label == FSYNC_FLOOR:
                bench.results.add(Figure("floor", label, stats, position=ALONGSIDE_APPENDS))
            else:
                bench.results.add(Figure("append", label, stats))


def _checked_ops(
    bench: Bench, what: str, ops: Mapping[str, Callable[[], int]], want: int
) -> dict[str, Callable[[], object]]:
    """The ops whose one untimed call returns ``want`` items; the others are reported."""
    passed: dict[str, Callable[[], object]] = {}
    for label, op in ops.items():
        try:
            _checked(f"{label} {what}", op(), want)
        except Exception as error:
            bench.fail(f"{what}: {label}", error)
        else:
            passed[label] = op
    return passed


def _count(read: Callable[[], Sized]) -> Callable[[], int]:
    return lambda: len(read())


def reads(bench: Bench, contenders: list[Contender]) -> None:
    """Pages (first, middle, last), full reads and appends, at every thread size; at
    each size and position the contenders take turns."""
    profile = bench.profile
    for size in profile.sizes:
        fixtures = {}
        for contender in contenders:
            if contender.takes(Role.LATEST_PAGE, size):
                try:
                    fixtures[contender.label] = bench.fixtures.thread(contender, size)
                except Exception as error:
                    bench.fail(f"{size:,}-message fixture: {contender.label}", error)
        taking = [c for c in contenders if c.label in fixtures]
        paces = _paces(taking, commits=False)
        bench.log(f"  {size:,} messages: fixtures ready")
        for position in POSITIONS:
            pages: dict[str, Callable[[], int]] = {}
            for c in taking:
                if position == "first" or c.takes(Role.CURSOR_PAGE, size):
                    fixture = fixtures[c.label]
                    page = partial(c.page, fixture.thread_id, fixture.cursor(position))
                    pages[c.label] = _count(page)
            ops = _checked_ops(bench, f"{position} page of {size:,}", pages, PAGE_SIZE)
            for label, stats in in_turns(bench, ops, profile.reads, paces, warmup=0).items():
                bench.results.add(Figure("page", label, stats, size, position))
        full = {
            c.label: partial(c.read_all, fixtures[c.label].thread_id)
            for c in taking
            if c.takes(Role.FULL_READ, size)
            and size <= (min(profile.sizes) if c.slow else profile.full_read_max)
        }
        ops = _checked_ops(bench, f"full read of {size:,}", full, size)
        for label, stats in in_turns(bench, ops, profile.reads, paces, warmup=0).items():
            bench.results.add(Figure("full-read", label, stats, size))
        count = profile.appends_at_size
        appenders: dict[str, Callable[[], object]] = {
            c.label: _appender(c, fixtures[c.label].thread_id, count)
            for c in taking
            if c.takes(Role.APPEND, size)
        }
        commits = _paces(taking, commits=True)
        for label, stats in in_turns(bench, appenders, count, commits).items():
            bench.results.add(Figure("append-at-size", label, stats, size))


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
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]], Callable[[], None]]:
    """Per contender: a claim of a queued run per call, and a completion of a claimed one;
    and a function that claims, untimed, the runs a time budget left queued, so that the
    completions (up to ``count`` and a warm-up) never run out of claimed runs."""
    claims: dict[str, Callable[[], object]] = {}
    completions: dict[str, Callable[[], object]] = {}
    claimed_by: list[tuple[Callable[[], None], list[str]]] = []
    for contender in contenders:
        thread_id = contender.new_thread()
        run_ids = [contender.create_run(thread_id) for _ in range(count + 1)]
        claim, claimed = _mover(contender, thread_id, iter(run_ids), "in_progress", "queued")
        complete, _ = _mover(contender, thread_id, iter(claimed), "completed", "in_progress")
        claims[contender.label], completions[contender.label] = claim, complete
        claimed_by.append((claim, claimed))

    def claim_the_rest() -> None:
        for claim, claimed in claimed_by:
            while len(claimed) < count + 1:
                claim()

    return claims, completions, claim_the_rest


def runs(bench: Bench, contenders: list[Contender]) -> None:
    """Claim queued runs (``queued -> in_progress`` with ``expected=``), then complete
    them; in turns with each other and with the fsync floor, like appends."""
    count = bench.profile.runs
    claims, completions, claim_the_rest = _run_moves(bench, contenders, count)
    paces = {**_paces(contenders, commits=True), FSYNC_FLOOR: Pace.DISK}
    with FsyncRecord(bench.workdir, 2 * count + 2, grow=False) as commit:
        for workload, ops in (("run-claim", claims), ("run-complete", completions)):
            if workload == "run-complete":
                claim_the_rest()
            timed = in_turns(bench, {**ops, FSYNC_FLOOR: commit}, count, paces)
            for label, stats in timed.items():
                if label != FSYNC_FLOOR:
                    bench.results.add(Figure(workload, label, stats))
                elif workload == "run-claim":
                    bench.results.add(Figure("floor", label, stats, position=ALONGSIDE_RUNS))


def cold_open(bench: Bench, contender: Contender, threads: int) -> None:
    """Open a new handle on a store of ``threads`` threads and list the newest 20."""
    bench.fixtures.crowd(contender, threads)
    _checked(f"{contender.label} cold open", contender.cold_open(), PAGE_SIZE)
    stats = bench.sample(contender.cold_open, bench.profile.opens, warmup=0)
    bench.results.add(Figure("cold-open", contender.label, stats, threads))

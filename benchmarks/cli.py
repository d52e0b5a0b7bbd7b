"""``python -m benchmarks``: measure every contender, then write the report and its plots.

The stores live in a temporary directory that is removed at the end. The S3 figures
use a moto server on 127.0.0.1 that the run starts and stops itself; nothing leaves
the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import backend_benchmarks, local_engine, machine
from benchmarks.contenders.agents_session import agents_version
from benchmarks.contenders.base import Contender, Role
from benchmarks.corpus import Corpus
from benchmarks.fixtures import Fixtures
from benchmarks.floors import (
    FSYNC_FLOOR,
    FSYNC_GROWING,
    S3_DELAYED_FLOOR,
    S3_FLOOR,
    fsync_floor,
    round_trip_floor,
)
from benchmarks.lineup import S3_DIRECT, lineup
from benchmarks.loopback_postgres import postgres_available, running_postgres
from benchmarks.loopback_s3 import LoopbackS3, s3_available
from benchmarks.profiles import PROFILES, Profile
from benchmarks.report import write_report
from benchmarks.results import ContenderInfo, Figure, Results
from benchmarks.round_trips import trace_object_storage
from benchmarks.workloads import Bench, appends, cold_open, reads, runs
from benchmarks.writers import WriterPool

if TYPE_CHECKING:
    from threadstore_sql.testing import PostgresServer

__all__ = ["main"]

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMMAND = "python -m benchmarks"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Benchmark every threadstore backend against the stores a user would "
        "pick instead, and write docs/benchmarks.md with its plots.",
    )
    sizes = parser.add_mutually_exclusive_group()
    for name, text in (
        ("smoke", "tiny sizes, seconds: checks that the benchmark still runs"),
        ("quick", "smaller sizes and fewer repeats (about a minute)"),
        ("full", "larger S3 fixtures, 10^5 full reads, more repeats"),
    ):
        sizes.add_argument(
            f"--{name}",
            dest="profile",
            action="store_const",
            const=name,
            help=text,
        )
    parser.add_argument(
        "--out",
        type=Path,
        default=DOCS,
        help="directory for benchmarks.md and benchmarks/*.png (default: the repo's docs/)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the stores are built (default: a temp dir)",
    )
    parser.add_argument("--no-s3", action="store_true", help="leave out the object-storage figures")
    parser.add_argument(
        "--no-postgres", action="store_true", help="leave out the PostgreSQL figures"
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="also save what was measured, as JSON"
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        default=None,
        metavar="RESULTS",
        help="measure nothing: write the report and plots from a saved --results file",
    )
    parser.set_defaults(profile="default")
    return parser.parse_args(argv)


class _Runner:
    """Runs each step, logging progress; a failing step is recorded and the run goes on."""

    def __init__(self, results: Results) -> None:
        self.results = results
        self.started = time.perf_counter()
        self.failures = 0

    def log(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {text}", file=sys.stderr, flush=True)

    def fail(self, what: str, error: Exception) -> None:
        self.failures += 1
        self.results.skipped.append(f"{what}: FAILED: {type(error).__name__}: {error}")
        traceback.print_exception(error)

    def step(self, what: str, action: Callable[[], None]) -> None:
        self.log(what)
        try:
            action()
        except Exception as error:
            self.fail(what, error)


def _facts(profile: Profile, workdir: Path) -> dict[str, str]:
    facts = {
        "command": COMMAND + ("" if profile.name == "default" else f" --{profile.name}"),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPUs": f"{os.cpu_count()} x {machine.cpu_model()}",
        "file system": machine.file_system(workdir),
    }
    facts.update(machine.versions())
    return facts


def _note_load(results: Results, when: str) -> None:
    averages = machine.load()
    results.facts[f"{when} (1, 5, 15 min)"] = machine.shown(averages)
    if averages:
        results.busiest = max(results.busiest, averages[0] / (os.cpu_count() or 1))


def _measure(bench: Bench, runner: _Runner, contenders: list[Contender]) -> None:
    """Every single-process workload: appends and run moves with the contenders taking
    turns, then reads and cold opens contender by contender."""
    profile = bench.profile
    for contender in contenders:
        bench.results.contenders[contender.label] = ContenderInfo(
            contender.label, contender.family.value, contender.durable, contender.description
        )
    for role, workload in ((Role.APPEND, appends), (Role.RUNS, runs)):
        taking = [c for c in contenders if c.takes(role)]
        runner.step(f"{workload.__name__}, in turns", partial(workload, bench, taking))
    reading = [c for c in contenders if c.takes(Role.LATEST_PAGE)]
    runner.step("reads, in turns", partial(reads, bench, reading))
    for contender in contenders:
        if contender.takes(Role.COLD_OPEN):
            threads = min(profile.threads, contender.max_threads or profile.threads)
            runner.step(
                f"cold open, {threads:,} threads: {contender.label}",
                partial(cold_open, bench, contender, threads),
            )


def _sessions(bench: Bench, s3: LoopbackS3 | None, cleanup: ExitStack) -> None:
    """The Agents SDK's session memory: ThreadStoreSession beside SQLiteSession."""
    from benchmarks.session import lineup as sessions
    from benchmarks.session import measure_sessions

    measure_sessions(bench, sessions(bench.workdir, s3, cleanup))


def _writers(bench: Bench, contenders: list[Contender]) -> None:
    profile = bench.profile
    writing = [c for c in contenders if c.takes(Role.WRITERS)]
    with WriterPool(profile.writers) as pool:
        pool.measure(writing, profile.writer_appends, profile.writer_rounds, bench.results)


def _local_engine(bench: Bench, runner: _Runner, contenders: list[Contender]) -> None:
    """The local-disk engine's goals, beside SQLite (see :mod:`benchmarks.local_engine`)."""
    for what, action in (
        ("store size: open_store and list_threads", partial(local_engine.thread_counts, bench)),
        ("disk per empty thread", partial(local_engine.empty_threads, bench)),
        ("the long thread's append tail", partial(local_engine.long_thread, bench)),
        ("first touch of a thread", partial(local_engine.first_touch, bench)),
        ("batch append", partial(local_engine.batch_appends, bench)),
        ("single-writer commits, repeated", partial(local_engine.commits, bench)),
        (
            f"{bench.profile.writers} writer processes on a thread each",
            partial(local_engine.spread_writers, bench, contenders),
        ),
        ("memory:// deletes", partial(local_engine.memory_deletes, bench)),
    ):
        runner.step(f"local engine: {what}", action)


def _floors(bench: Bench, s3: LoopbackS3 | None, when: str) -> None:
    results = bench.results
    count = bench.profile.appends
    for label, grow in ((FSYNC_FLOOR, False), (FSYNC_GROWING, True)):
        stats = fsync_floor(bench.workdir, count, grow=grow)
        results.add(Figure("floor", label, stats, position=when))
    if s3 is not None and s3.proxy is not None:
        path = s3.tiny_object_path()
        port = int(s3.endpoint.rsplit(":", 1)[1])
        for label, target in ((S3_FLOOR, port), (S3_DELAYED_FLOOR, s3.proxy.port)):
            stats = round_trip_floor(target, path, count // 4 + 3)
            results.add(Figure("floor", label, stats, position=when))


def _backend_benchmarks(
    bench: Bench, runner: _Runner, s3: LoopbackS3 | None, postgres: PostgresServer | None
) -> None:
    """The backend authors' own benchmarks, folded into the same report."""
    profile, results = bench.profile, bench.results
    if profile.local_disk_sizes:
        directory = bench.workdir / "local-disk"
        runner.step(
            "the local-disk backend's own benchmark",
            partial(
                backend_benchmarks.local_disk,
                results,
                directory,
                profile.local_disk_sizes,
                profile.appends,
                profile.reads,
            ),
        )
    if s3 is not None and profile.object_storage_sizes:
        sizes = profile.object_storage_sizes
        runner.step(
            "the object-storage backend's own request counts",
            partial(
                backend_benchmarks.object_storage,
                results,
                s3,
                sizes,
                profile.object_storage_threads,
            ),
        )
    if postgres is not None:
        sizes = tuple(sorted({profile.sizes[0], profile.sizes[-1]}))
        rounds = max(profile.reads, profile.appends)
        runner.step(
            "the SQL backends' own benchmark",
            partial(
                backend_benchmarks.sql_backends,
                results,
                postgres,
                bench.workdir / "sql-backends",
                sizes,
                rounds,
            ),
        )
    runner.step(
        "the async adapter's own benchmark",
        partial(backend_benchmarks.async_adapter, results, profile.async_adapter_quick),
    )
    runner.step(
        f"start-up, {profile.startup_runs} fresh processes per case",
        partial(backend_benchmarks.startup, results, profile.startup_runs),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.report_from is not None:
        report, failed = write_report(Results.load(args.report_from), args.out)
        print(f"wrote {report}", file=sys.stderr)
        return 1 if failed else 0
    profile = PROFILES[args.profile]
    results = Results()
    runner = _Runner(results)
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="threadstore-bench-", dir=args.workdir))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        results.facts.update(_facts(profile, workdir))
        _note_load(results, "load at start")
        s3 = None
        why_not = "--no-s3" if args.no_s3 else s3_available()
        if why_not is None:
            s3 = cleanup.enter_context(LoopbackS3(profile.s3_delay))
        else:
            results.skipped.append(f"object storage: {why_not}")
        postgres = None
        why_not = "--no-postgres" if args.no_postgres else postgres_available()
        if why_not is None:
            postgres = cleanup.enter_context(running_postgres())
        else:
            results.skipped.append(f"PostgreSQL: {why_not}")
        contenders, delayed = lineup(workdir, profile, s3, results.skipped, postgres)
        corpus = Corpus()
        bench = Bench(profile, results, Fixtures(corpus), corpus, workdir, runner.log, runner.fail)
        runner.step("floors", partial(_floors, bench, s3, "start"))
        for contender in contenders:
            contender.open()
            cleanup.callback(contender.close)
        _measure(bench, runner, contenders)
        if agents_version() is not None:
            runner.step("agents sessions, in turns", partial(_sessions, bench, s3, cleanup))
        else:
            results.skipped.append("agents sessions: openai-agents is not installed")
        runner.step(
            f"{profile.writers} writer processes, in turns", partial(_writers, bench, contenders)
        )
        _local_engine(bench, runner, contenders)
        if s3 is not None and s3.proxy is not None and delayed is not None:
            proxy = s3.proxy
            delayed.open()
            cleanup.callback(delayed.close)
            runner.step(
                f"object storage through a {s3.delay * 1000:.0f} ms proxy",
                lambda: trace_object_storage(bench, proxy, delayed, S3_DIRECT),
            )
        _backend_benchmarks(bench, runner, s3, postgres)
        runner.step("floors again", partial(_floors, bench, s3, "end"))
        _note_load(results, "load at end")
        results.facts["fixture build"] = f"{bench.fixtures.build_seconds:.0f} s"
    results.facts["duration"] = f"{time.perf_counter() - runner.started:.0f} s"
    if args.results is not None:
        results.save(args.results)
    report, failed = write_report(results, args.out)
    runner.failures += failed
    runner.log(f"wrote {report}")
    if runner.failures:
        runner.log(f"{runner.failures} step(s) failed; see the report's problems section")
        return 1
    return 0

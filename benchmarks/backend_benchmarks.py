"""The component authors' own benchmarks, run as part of the whole and folded into the report.

``benchmarks.local_disk`` times the local backend's reads case by case (pages in both
directions, gets, a new opener) and its durable append beside a minimal SQLite table;
``benchmarks.object_storage`` counts the S3 backend's requests per operation, including
cases the main run does not cover (a fresh process, batches, steps, pages of threads in
a catalog of up to 10^6);
``benchmarks.async_adapter`` measures what ``threadstore.aio`` adds per call and with
many tasks, and reports by printing, so its output is kept as it is;
``benchmarks.sql_backends`` alternates the SQL backends with bare drivers call by call
and is kept as printed too; ``benchmarks.startup`` times fresh processes that import
threadstore and open a store. Their figures keep their own method: medians of per-round
means (so no spread), counts, or (start-up) medians of whole processes.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.lineup import LOCAL, S3_DIRECT
from benchmarks.loopback_s3 import LoopbackS3
from benchmarks.measure import Stats
from benchmarks.results import Count, Figure, Results

if TYPE_CHECKING:
    from threadstore_sql.testing import PostgresServer

__all__ = [
    "ASYNC_ADAPTER",
    "LOCAL_DISK",
    "OBJECT_STORAGE",
    "SQL_BACKENDS",
    "STARTUP",
    "async_adapter",
    "local_disk",
    "object_storage",
    "sql_backends",
    "startup",
]

LOCAL_DISK = "local-disk"
OBJECT_STORAGE = "object-storage"
ASYNC_ADAPTER = "async-adapter"
SQL_BACKENDS = "sql-backends"
STARTUP = "startup"


def _point(seconds: float) -> Stats:
    """A figure that comes as one number (a median of round means)."""
    return Stats(seconds, seconds, seconds, 1)


def local_disk(
    results: Results, directory: Path, sizes: tuple[int, ...], appends: int, reads: int
) -> None:
    from benchmarks.local_disk import durable_appends, page_latencies

    timings = durable_appends(directory / "appends", appends)
    for name, case in (
        ("threadstore", "durable append, threadstore"),
        ("sqlite", "durable append, SQLite FULL (one-table schema)"),
    ):
        results.add(Figure(LOCAL_DISK, LOCAL, Stats.of(timings[name]), position=case))
    for size in sizes:
        for case, seconds in page_latencies(directory, size, reads).items():
            results.add(Figure(LOCAL_DISK, LOCAL, _point(seconds), size, case))


def object_storage(results: Results, s3: LoopbackS3, sizes: tuple[int, ...], threads: int) -> None:
    from benchmarks.object_storage import measure, measure_threads

    def fresh() -> str:
        return f"{s3.url('counted')}?endpoint_url={s3.endpoint}"

    measured = [(size, row) for size in sizes for row in measure(fresh(), size)]
    if threads:
        measured += [(threads, row) for row in measure_threads(fresh(), threads)]
    for size, (name, requests, round_trips) in measured:
        results.counts.append(Count(OBJECT_STORAGE, S3_DIRECT, size, name, requests, round_trips))


def async_adapter(results: Results, quick: bool) -> None:
    from benchmarks.async_adapter import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main(["--quick"] if quick else [])
    results.printed[ASYNC_ADAPTER] = printed.getvalue().rstrip().splitlines()


def sql_backends(
    results: Results, server: PostgresServer, directory: Path, sizes: tuple[int, ...], rounds: int
) -> None:
    from benchmarks.sql_backends import compare, table

    directory.mkdir(parents=True, exist_ok=True)
    results.printed[SQL_BACKENDS] = table(compare(server, directory, sizes, rounds))


def startup(results: Results, runs: int) -> None:
    from benchmarks.startup import import_costs, measure, report

    stats = measure(runs)
    for case, figure in stats.items():
        results.add(Figure(STARTUP, case, figure))
    results.printed[STARTUP] = report(stats, import_costs())

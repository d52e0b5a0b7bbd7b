"""The SQL backend's own benchmark: threadstore on PostgreSQL against bare psycopg, call
by call, and ``sqlite://`` against stdlib sqlite3 and ``file://``.

The main run times contenders in turns of five calls; on a busy machine that leaves
page figures a few hundred microseconds apart at the mercy of the neighbours. Here the
contenders of each case alternate one call at a time, many times over, on the same
server and the same kind of fixtures, so each pair of calls meets the same machine and
the ratio of the medians is what carries over.

``python -m benchmarks.sql_backends`` runs it on its own and prints the table.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.contenders.base import Contender
from benchmarks.contenders.psycopg_floor import PsycopgContender
from benchmarks.contenders.sqlite import SqliteContender
from benchmarks.contenders.threadstore_url import ThreadStoreContender
from benchmarks.corpus import Corpus
from benchmarks.lineup import PSYCOPG, PSYCOPG_ORDERED, SQLITE_FULL, batches
from benchmarks.loopback_postgres import BENCH_DATABASE, conninfo, running_postgres

if TYPE_CHECKING:
    from threadstore_sql.testing import PostgresServer

__all__ = ["Case", "compare", "main"]

Case = tuple[str, int, dict[str, float]]
"""An operation, the thread size it ran at, and each contender's median in seconds."""

POSTGRES_OWN = "threadstore postgresql"
SQLITE_OWN = "threadstore sqlite"
FILE_OWN = "threadstore file"


def _alternate(ops: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each op once per round, in turn; every contender's median call."""
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            started = time.perf_counter()
            op()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def _appender(contender: Contender, thread_id: str, rounds: int) -> Callable[[], object]:
    messages: Iterator[Any] = iter(Corpus.fresh(rounds + 2))
    return lambda: contender.append(thread_id, next(messages))


def _claimer(contender: Contender, thread_id: str, rounds: int) -> Callable[[], object]:
    runs = iter([contender.create_run(thread_id) for _ in range(rounds + 2)])
    return lambda: contender.move_run(thread_id, next(runs), "in_progress", "queued")


def _cases(
    contenders: dict[str, Contender], sizes: tuple[int, ...], rounds: int, runs: bool
) -> Iterator[Case]:
    threads = {name: c.new_thread() for name, c in contenders.items()}
    yield (
        "append",
        0,
        _alternate({n: _appender(c, threads[n], rounds) for n, c in contenders.items()}, rounds),
    )
    if runs:
        claims = {n: _claimer(c, threads[n], rounds) for n, c in contenders.items()}
        yield "run claim", 0, _alternate(claims, rounds)
    readers = {n: c for n, c in contenders.items() if n != PSYCOPG_ORDERED}
    for size in sizes:
        messages = Corpus().prefix(size)
        filled = {n: c.new_thread() for n, c in readers.items()}
        ids = {n: c.load(filled[n], messages) for n, c in readers.items()}
        newest = {n: _page(c, filled[n], None) for n, c in readers.items()}
        yield "page of 20, newest", size, _alternate(newest, rounds)
        middle = {n: _page(c, filled[n], ids[n][size // 2]) for n, c in readers.items()}
        yield "page of 20, after a cursor", size, _alternate(middle, rounds)


def _page(contender: Contender, thread_id: str, after: str | None) -> Callable[[], object]:
    return lambda: contender.page(thread_id, after)


def compare(
    server: PostgresServer, workdir: Path, sizes: tuple[int, ...], rounds: int
) -> list[Case]:
    """Every case on PostgreSQL, then on SQLite; the stores are built in ``workdir``."""
    floor = conninfo(server)
    groups: list[tuple[dict[str, Contender], bool]] = [
        (
            {
                POSTGRES_OWN: ThreadStoreContender(
                    label=POSTGRES_OWN,
                    url=server.url(BENCH_DATABASE, schema="own"),
                    loader=batches,
                ),
                PSYCOPG: PsycopgContender(label=PSYCOPG, conninfo=floor),
                PSYCOPG_ORDERED: PsycopgContender(
                    label=PSYCOPG_ORDERED, conninfo=floor, ordered=True
                ),
            },
            True,
        ),
        (
            {
                SQLITE_OWN: ThreadStoreContender(
                    label=SQLITE_OWN, url=f"sqlite:///{workdir / 'own.sqlite'}", loader=batches
                ),
                SQLITE_FULL: SqliteContender(label=SQLITE_FULL, path=workdir / "floor.sqlite"),
                FILE_OWN: ThreadStoreContender(
                    label=FILE_OWN,
                    url=f"file://{workdir / 'own'}",
                    fixture_options={"durable": False},
                ),
            },
            True,
        ),
    ]
    found: list[Case] = []
    for contenders, runs in groups:
        for contender in contenders.values():
            contender.open()
        try:
            found += _cases(contenders, sizes, rounds, runs)
        finally:
            for contender in contenders.values():
                contender.close()
    return found


def table(cases: list[Case]) -> list[str]:
    """The cases as text: each contender's median, and threadstore's over each other."""
    lines = []
    for operation, size, medians in cases:
        ours = next(iter(medians.values()))
        shown = "  ".join(
            f"{name} {seconds * 1e6:8.0f} us ({ours / seconds:4.2f}x)"
            for name, seconds in medians.items()
        )
        lines.append(f"{operation:28} {size or '':>7}  {shown}")
    return lines


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    sizes, rounds = ((100, 1_000), 40) if quick else ((100, 100_000), 300)
    with tempfile.TemporaryDirectory() as directory, running_postgres() as server:
        cases = compare(server, Path(directory), sizes, rounds)
    print("\n".join(table(cases)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

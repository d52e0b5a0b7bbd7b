"""The local-disk engine beside SQLite: store size, long threads, first touch, commits.

Each workload answers one of the engine's goals (the "Local disk engine" section of
docs/benchmarks.md): thread-count scaling of ``open_store`` and ``list_threads``, what an
empty thread costs on disk, the append tail and index size of a long thread, the first
touch of a thread, batch appends, and single-writer commit ratios repeated in turns.
SQLite in WAL mode (``synchronous=FULL`` for durable commits, ``NORMAL`` for the others)
is timed in the same run, taking turns with threadstore (see
:func:`benchmarks.measure.interleave`), and decodes into the same pydantic models.

Stores of up to 10^6 threads are built by writing the catalog's lines directly, made by
the engine's own line maker (the same bytes ``create_thread`` writes), and letting the
engine index them on first use; the SQLite peer gets the same IDs in one transaction.
"""

from __future__ import annotations

import gc
import math
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks.contenders.base import PAGE_SIZE, Contender
from benchmarks.contenders.sqlite import APPEND, SqliteContender
from benchmarks.corpus import Corpus
from benchmarks.floors import (
    CPU_TASK,
    FSYNC_FLOOR,
    FSYNC_GROWING,
    CpuTask,
    FsyncRecord,
    cpu_median,
)
from benchmarks.lineup import LOCAL, LOCAL_FAST, MEMORY, SQLITE_FULL, SQLITE_NORMAL
from benchmarks.machine import load
from benchmarks.measure import Stats, interleave, time_calls
from benchmarks.results import Figure
from benchmarks.workloads import POSITIONS, Bench
from benchmarks.writers import WriterPool
from threadstore.backends.local import entries
from threadstore.ids import new_id
from threadstore.models import Message, Thread
from threadstore.protocol import ThreadStore
from threadstore.records import THREADS, encode
from threadstore.registry import open_store

__all__ = [
    "BATCH",
    "COMMITS",
    "EMPTY_THREAD",
    "FIRST_TOUCH",
    "MEMORY_DELETE",
    "SCALES",
    "SPREAD_WRITERS",
    "TAIL",
    "THREAD_COUNT",
    "WARM_THREADS",
    "Scale",
    "batch_appends",
    "commits",
    "empty_threads",
    "first_touch",
    "long_thread",
    "main",
    "memory_deletes",
    "spread_writers",
    "thread_counts",
]

THREAD_COUNT = "local-thread-count"
EMPTY_THREAD = "local-empty-thread"
TAIL = "local-tail"
FIRST_TOUCH = "local-first-touch"
BATCH = "local-batch"
COMMITS = "local-commits"
WARM_THREADS = 2_000
MEMORY_DELETE = "local-memory-delete"
SPREAD_WRITERS = "writers-spread"


@dataclass(frozen=True)
class Scale:
    """How big each local-engine workload is in one profile."""

    threads: tuple[int, ...]
    """Store sizes (threads) for ``open_store`` and ``list_threads``."""
    tail: int
    """Messages appended to the long thread, every one timed."""
    empty: int
    """Threads created to weigh an empty thread on disk."""
    touches: int
    """Threads touched for the first time (each a sample)."""
    batch: int
    """Messages per batch append."""
    batches: int
    commits: int
    """Timed commits per contender in each repeat of the commit ratios."""
    repeats: int
    calls: int
    """Timed calls per open or page figure."""


SCALES = {
    "smoke": Scale((100,), 300, 50, 5, 10, 3, 10, 1, 5),
    "quick": Scale((100, 1_000, 10_000), 10_000, 1_000, 30, 100, 10, 60, 2, 30),
    "default": Scale((100, 1_000, 10_000, 100_000), 100_000, 10_000, 100, 100, 20, 200, 3, 60),
    "full": Scale(
        (100, 1_000, 10_000, 100_000, 1_000_000), 100_000, 10_000, 200, 100, 40, 400, 5, 100
    ),
}


def _scale(bench: Bench) -> Scale:
    return SCALES[bench.profile.name]


# --- fixtures ---------------------------------------------------------------------------


def catalog_fixture(root: Path, count: int) -> list[str]:
    """A store of ``count`` empty threads, in creation order, built in seconds: the
    catalog's lines are written directly (the engine indexes them on first use)."""
    open_store(f"file://{root}").close()  # the directory and its marker
    ids = [new_id("thread") for _ in range(count)]
    template = encode(Thread(id=ids[0]))
    with open(root / "catalog.jsonl", "ab") as catalog:
        for start in range(0, count, 10_000):
            lines = (
                entries.change(
                    "add", THREADS, (), tid, seq, template.replace(ids[0].encode(), tid.encode())
                ).line
                for seq, tid in enumerate(ids[start : start + 10_000], start)
            )
            catalog.write(b"".join(lines))
    return ids


def _sqlite(path: Path, synchronous: str = "FULL") -> SqliteContender:
    label = SQLITE_FULL if synchronous == "FULL" else SQLITE_NORMAL
    contender = SqliteContender(label=label, path=path, synchronous=synchronous)  # type: ignore[arg-type]
    contender.open()
    return contender


def _sqlite_threads(peer: SqliteContender, ids: list[str]) -> None:
    template = Thread(id=ids[0]).model_dump_json()
    with peer.db:
        peer.db.execute("BEGIN")
        peer.db.executemany(
            "INSERT INTO threads (id, json) VALUES (?, ?)",
            ((tid, template.replace(ids[0], tid)) for tid in ids),
        )


_LATEST_THREADS = "SELECT json FROM threads ORDER BY rowid DESC LIMIT ?"
_THREADS_AFTER = (
    "SELECT json FROM threads WHERE rowid < (SELECT rowid FROM threads WHERE id = ?) "
    "ORDER BY rowid DESC LIMIT ?"
)


def _sqlite_thread_page(db: sqlite3.Connection, after: str | None) -> int:
    """A page of threads, newest first, as ``list_threads(limit=20, after=…)`` gives it
    (one more row fetched, for ``has_more``), decoded into the same models."""
    if after is None:
        rows = db.execute(_LATEST_THREADS, (PAGE_SIZE + 1,)).fetchall()
    else:
        rows = db.execute(_THREADS_AFTER, (after, PAGE_SIZE + 1)).fetchall()
    return len([Thread.model_validate_json(json) for (json,) in rows[:PAGE_SIZE]])


def _thread_page(store: ThreadStore, after: str | None) -> int:
    return len(store.list_threads(limit=PAGE_SIZE, after=after).data)


def _open_close(url: str) -> None:
    open_store(url).close()


def _open_close_peer(path: Path) -> None:
    _sqlite(path).close()


def _cursor(ids: list[str], position: str) -> str | None:
    """The ``after=`` cursor of a newest-first page at ``position`` (as for messages)."""
    return {"first": None, "middle": ids[len(ids) // 2], "last": ids[PAGE_SIZE]}[position]


def _footprint(root: Path) -> tuple[int, int, int]:
    """Allocated bytes, apparent bytes and inodes (files and directories) below ``root``."""
    allocated = apparent = inodes = 0
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            info = os.lstat(os.path.join(folder, name))
            allocated += info.st_blocks * 512
            apparent += info.st_size
            inodes += 1
    return allocated, apparent, inodes


def _quick(bench: Bench, ops: dict[str, Callable[[], object]], calls: int) -> dict[str, Stats]:
    """Memory or page-cache work, five calls per turn (see ``workloads.Pace``)."""
    per_round = min(5, calls)
    return interleave(
        ops,
        rounds=max(1, calls // per_round),
        per_round=per_round,
        budget=bench.profile.budget * len(ops),
        minimum=bench.profile.min_samples,
    )


def _disk(bench: Bench, ops: dict[str, Callable[[], object]], calls: int) -> dict[str, Stats]:
    """Durable commits, one per turn, with the fsync floor among them."""
    return interleave(
        ops,
        rounds=calls,
        per_round=1,
        budget=bench.profile.budget * len(ops),
        minimum=bench.profile.min_samples,
    )


def _beside_floor(
    bench: Bench, ours: Callable[[], object], sqlite: Callable[[], object], calls: int
) -> dict[str, Stats]:
    """Durable commits of ours and SQLite FULL's, in turns with the fsync floor."""
    with FsyncRecord(bench.workdir, calls + 3, grow=False) as floor:
        ops: dict[str, Callable[[], object]] = {
            LOCAL: ours,
            SQLITE_FULL: sqlite,
            FSYNC_FLOOR: floor,
        }
        return _disk(bench, ops, calls)


def _messages(count: int, *, frozen: bool = False) -> Iterator[Message]:
    """Fresh messages, made a thousand at a time (10^5 at once would be 100 MB);
    ``frozen``: each thousand is moved out of the garbage collector's reach as it is made
    (see :func:`long_thread`)."""
    made = 0
    while True:
        batch = Corpus.fresh(1000)
        if frozen:
            gc.freeze()
        for message in batch:
            if made == count:
                return
            made += 1
            yield message.model_copy(update={"id": new_id("msg")})


def _appender(store: ThreadStore, thread_id: str, count: int) -> Callable[[], object]:
    messages = _messages(count)
    return lambda: store.append_message(thread_id, next(messages))


def _peer_appender(peer: SqliteContender, thread_id: str, count: int) -> Callable[[], object]:
    messages = _messages(count)
    return lambda: peer.append(thread_id, next(messages))


# --- workloads ----------------------------------------------------------------------------


def thread_counts(bench: Bench, sizes: tuple[int, ...] | None = None) -> None:
    """``open_store`` and pages of ``list_threads`` at every store size, in turns with
    SQLite opening its file and running the indexed query."""
    for count in sizes or _scale(bench).threads:
        started = time.perf_counter()
        root = bench.workdir / f"local-threads-{count}"
        ids = catalog_fixture(root, count)
        peer = _sqlite(bench.workdir / f"local-threads-{count}.sqlite")
        _sqlite_threads(peer, ids)
        url = f"file://{root}"
        store = open_store(url)
        store.list_threads(limit=1)  # the engine indexes the catalog here, untimed
        built = time.perf_counter() - started
        allocated, _, _ = _footprint(root)
        bench.log(f"  {count:,} threads: fixtures ready in {built:.0f} s")
        calls = _scale(bench).calls
        opens: dict[str, Callable[[], object]] = {
            LOCAL: partial(_open_close, url),
            SQLITE_FULL: partial(_open_close_peer, peer.path),
        }
        extra = {"fixture_seconds": built, "store_bytes_per_thread": allocated / count}
        for label, stats in _quick(bench, opens, calls).items():
            bench.results.add(Figure(THREAD_COUNT, label, stats, count, "open", extra))
        for position in POSITIONS:
            after = _cursor(ids, position)
            pages: dict[str, Callable[[], int]] = {
                LOCAL: partial(_thread_page, store, after),
                SQLITE_FULL: partial(_sqlite_thread_page, peer.db, after),
            }
            for label, page in pages.items():
                if page() != PAGE_SIZE:
                    raise AssertionError(f"{label}: a {position} page of threads is short")
            for label, stats in _quick(bench, dict(pages), calls).items():
                bench.results.add(Figure(THREAD_COUNT, label, stats, count, position))
        store.close()
        peer.close()


def empty_threads(bench: Bench) -> None:
    """What an empty thread costs on disk: bytes and inodes per thread, for threads
    created through the API (``durable=false``: the same bytes, written faster)."""
    count = _scale(bench).empty
    root = bench.workdir / "local-empty"
    with open_store(f"file://{root}", durable=False) as store:
        store.create_thread()  # the catalog's files exist before the count starts
        before = _footprint(root)
        for _ in range(count):
            store.create_thread()
    after = _footprint(root)
    allocated, apparent, inodes = (b - a for a, b in zip(before, after, strict=True))
    extra = {"apparent": apparent / count, "inodes": inodes / count, "threads": count}
    point = Stats(allocated / count, allocated / count, allocated / count, 1)
    bench.results.add(Figure(EMPTY_THREAD, LOCAL, point, count, extra=extra))
    peer = _sqlite(bench.workdir / "local-empty.sqlite")
    _sqlite_threads(peer, [Thread().id])
    peer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = peer.path.stat().st_size
    _sqlite_threads(peer, [new_id("thread") for _ in range(count)])
    peer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grown = (peer.path.stat().st_size - size) / count
    peer.close()
    extra = {"apparent": grown, "inodes": 0.0, "threads": count}
    bench.results.add(
        Figure(EMPTY_THREAD, SQLITE_FULL, Stats(grown, grown, grown, 1), count, extra=extra)
    )


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return {"p99": at(0.99), "p999": at(0.999), "max": ordered[-1]}


_TASK_SIZING = 300
"""Appends to a thread in a store of their own that size :func:`long_thread`'s CPU task."""


def long_thread(bench: Bench) -> None:
    """Every append to one thread up to ``tail`` messages, timed one by one (wall and CPU
    time), taking turns op by op with SQLite NORMAL (no fsync on either side, so the
    tail is the engine's: index growth, not the disk) and with a fixed CPU task of the
    engine's median (what the machine alone adds to a tail); then the index's bytes per
    message. Each message is made before its call's clock starts: every thousandth call
    would otherwise make the next thousand, a tail of everyone's. What the run built
    before (fixtures, earlier figures), and each thousand messages as they are made, is
    frozen out of the garbage collector meanwhile: collections of those would otherwise
    land on whichever call was allocating, and be counted as that store's tail (the
    thousands kept for the turns made half of the engine's slowest 0.1%). What a call itself
    allocates is collected as ever, in whichever call crosses the collector's threshold."""
    count = _scale(bench).tail
    root = bench.workdir / "local-tail"
    peer = _sqlite(bench.workdir / "local-tail.sqlite", "NORMAL")
    samples: dict[str, list[float]] = {LOCAL_FAST: [], SQLITE_NORMAL: [], CPU_TASK: []}
    spent: dict[str, list[float]] = {LOCAL_FAST: [], SQLITE_NORMAL: [], CPU_TASK: []}
    """CPU time of the calling thread: what a stall costs, without the waits a loaded
    machine's scheduler adds to any call."""
    with open_store(f"file://{root}-sizing", durable=False) as store:
        sizing = _appender(store, store.create_thread().id, _TASK_SIZING)
        task = CpuTask(cpu_median(sizing, _TASK_SIZING))
    with open_store(f"file://{root}", durable=False) as store:
        ops: dict[str, Callable[[Message], object]] = {
            LOCAL_FAST: partial(store.append_message, store.create_thread().id),
            SQLITE_NORMAL: partial(peer.append, peer.new_thread()),
            CPU_TASK: lambda _: task(),
        }
        messages = _messages(len(ops) * count, frozen=True)
        clock, cpu = time.perf_counter_ns, time.thread_time_ns
        gc.collect()
        gc.freeze()
        try:
            for _ in range(count):
                for label, op in ops.items():
                    message = next(messages)  # made a thousand at a time: before the clock
                    start, used = clock(), cpu()
                    op(message)
                    samples[label].append((clock() - start) / 1e9)
                    spent[label].append((cpu() - used) / 1e9)
        finally:
            gc.unfreeze()
    peer.close()
    for label, each in samples.items():
        extra = {
            **_percentiles(each),
            "last_tenth": _percentiles(each[-count // 10 :]),
            "cpu": {"median": statistics.median(spent[label]), **_percentiles(spent[label])},
        }
        bench.results.add(Figure(TAIL, label, Stats.of(each), count, "append", extra))
    index = next(root.glob("lists/*/*/*.idx")).stat()
    log = next(root.glob("lists/*/*/*.jsonl")).stat()
    per_message = index.st_blocks * 512 / count
    extra = {"index_apparent": index.st_size / count, "log_apparent": log.st_size / count}
    point = Stats(per_message, per_message, per_message, 1)
    bench.results.add(Figure(TAIL, LOCAL_FAST, point, count, "index bytes", extra))


def first_touch(bench: Bench) -> None:
    """A new thread's first commits (create, then append: durable, in turns with SQLite
    FULL and the fsync floor) in a store already in use, then the first and a later read
    of threads a store object has not touched before (``get_thread``, ``list_messages``).

    A store makes each of its 256 shard directories (and fsyncs its parent) the first
    time a thread in it holds something; in a store of a few thousand threads they all
    exist, so the store is first given ``WARM_THREADS`` threads (``durable=false``)."""
    scale = _scale(bench)
    peer = _sqlite(bench.workdir / "local-touch.sqlite")
    url = f"file://{bench.workdir / 'local-touch'}"
    with open_store(url, durable=False) as warm:  # a store in use: its shard directories exist
        for _ in range(WARM_THREADS):
            warm.append_message(warm.create_thread().id, Message.user("warm"))
    with open_store(url) as store:
        mine, theirs = _messages(scale.touches + 5), _messages(scale.touches + 5)

        def ours() -> None:
            store.append_message(store.create_thread().id, next(mine))

        def sqlite() -> None:
            peer.append(peer.new_thread(), next(theirs))

        for label, stats in _beside_floor(bench, ours, sqlite, scale.touches).items():
            bench.results.add(Figure(FIRST_TOUCH, label, stats, position="create + append"))
    root = bench.workdir / "local-reads"
    with open_store(f"file://{root}", durable=False) as store:
        ids = [store.create_thread().id for _ in range(scale.touches + 1)]
        for thread_id in ids:
            store.append_message(thread_id, Message.user("hello"))
    _sqlite_threads(peer, ids)
    for thread_id in ids:
        peer.append(thread_id, Message.user("hello"))
    cases = (
        "get_thread, first",
        "get_thread, later",
        "list_messages, first",
        "list_messages, later",
    )
    samples: dict[tuple[str, str], list[float]] = {}
    clock = time.perf_counter_ns
    with open_store(f"file://{root}") as store:
        store.get_thread(ids[-1])  # the store object's own first use: not a thread's
        for thread_id in ids[:-1]:
            reads: list[tuple[str, str, Callable[[], object]]] = [
                (LOCAL, cases[0], partial(store.get_thread, thread_id)),
                (LOCAL, cases[1], partial(store.get_thread, thread_id)),
                (LOCAL, cases[2], partial(store.list_messages, thread_id)),
                (LOCAL, cases[3], partial(store.list_messages, thread_id)),
                (SQLITE_FULL, cases[1], partial(_sqlite_thread, peer.db, thread_id)),
                (SQLITE_FULL, cases[3], partial(peer.page, thread_id, None)),
            ]
            for label, case, read in reads:
                start = clock()
                read()
                samples.setdefault((label, case), []).append((clock() - start) / 1e9)
    peer.close()
    for (label, case), each in samples.items():
        bench.results.add(Figure(FIRST_TOUCH, label, Stats.of(each), position=case))


def _sqlite_thread(db: sqlite3.Connection, thread_id: str) -> Thread:
    (json,) = db.execute("SELECT json FROM threads WHERE id = ?", (thread_id,)).fetchone()
    return Thread.model_validate_json(json)


def batch_appends(bench: Bench) -> None:
    """``append_messages`` of a batch in one durable commit, in turns with SQLite FULL
    inserting the same batch in one transaction, and with the fsync floor."""
    scale = _scale(bench)
    peer = _sqlite(bench.workdir / "local-batch.sqlite")
    peer_thread = peer.new_thread()
    with open_store(f"file://{bench.workdir / 'local-batch'}") as store:
        thread_id = store.create_thread().id
        mine, theirs = _messages(10**9), _messages(10**9)

        def ours() -> None:
            store.append_messages(thread_id, [next(mine) for _ in range(scale.batch)])

        def sqlite() -> None:
            rows = [
                {"thread_id": peer_thread, "id": m.id, "json": m.model_dump_json()}
                for m in (next(theirs) for _ in range(scale.batch))
            ]
            with peer.db:
                peer.db.execute("BEGIN")
                peer.db.executemany(APPEND, rows)

        for label, stats in _beside_floor(bench, ours, sqlite, scale.batches).items():
            bench.results.add(Figure(BATCH, label, stats, scale.batch, "batch"))
    peer.close()


def commits(bench: Bench) -> None:
    """Single-writer appends, one commit each, repeated: durable ones in turns with
    SQLite FULL and both fsync floors, ``durable=false`` ones with SQLite NORMAL. Each
    repeat is a figure of its own, so a ratio's spread across repeats can be shown."""
    scale = _scale(bench)
    for repeat in range(scale.repeats):
        where = bench.workdir / f"local-commits-{repeat}"
        where.mkdir()
        full, normal = _sqlite(where / "full.sqlite"), _sqlite(where / "normal.sqlite", "NORMAL")
        durable = open_store(f"file://{where / 'durable'}")
        fast = open_store(f"file://{where / 'fast'}", durable=False)
        count = scale.commits
        before = load()
        with (
            FsyncRecord(where, count + 3, grow=False) as floor,
            FsyncRecord(where, count + 3, grow=True) as growing,
        ):
            ops: dict[str, Callable[[], object]] = {
                LOCAL: _appender(durable, durable.create_thread().id, count + 1),
                SQLITE_FULL: _peer_appender(full, full.new_thread(), count + 1),
                FSYNC_FLOOR: floor,
                FSYNC_GROWING: growing,
            }
            timed = _disk(bench, ops, count)
        quick = {
            LOCAL_FAST: _appender(fast, fast.create_thread().id, count + 5),
            SQLITE_NORMAL: _peer_appender(normal, normal.new_thread(), count + 5),
        }
        timed |= _quick(bench, quick, count)
        extra = {"load": [*before, *load()]}
        for label, stats in timed.items():
            bench.results.add(
                Figure(COMMITS, label, stats, position=f"repeat {repeat + 1}", extra=extra)
            )
        for closing in (durable, fast, full, normal):
            closing.close()


def memory_deletes(bench: Bench) -> None:
    """``delete_thread`` on ``memory://``: a small thread in a small and in a large store,
    and a large thread, each delete timed (it should cost what it removes)."""
    calls = _scale(bench).calls
    for others, held in ((100, 10), (10_000, 10), (100, 1_000)):
        store = open_store("memory://")
        for _ in range(others):
            store.append_message(store.create_thread().id, Message.user("x"))
        doomed = []
        for _ in range(calls):
            thread_id = store.create_thread().id
            store.append_messages(thread_id, [Message.user("x") for _ in range(held)])
            doomed.append(thread_id)
        delete = partial(_delete_next, store, iter(doomed))
        stats = Stats.of(time_calls(delete, calls, math.inf))
        case = f"a thread of {held:,} messages among {others:,} threads"
        bench.results.add(Figure(MEMORY_DELETE, MEMORY, stats, position=case))
        store.close()


def _delete_next(store: ThreadStore, victims: Iterator[str]) -> None:
    store.delete_thread(next(victims))


def spread_writers(bench: Bench, contenders: list[Contender]) -> None:
    """Writer processes appending at once, each to a thread of its own (the main run's
    writer rounds share one thread)."""
    profile = bench.profile
    writing = [c for c in contenders if c.label in (LOCAL, SQLITE_FULL)]
    with WriterPool(profile.writers, spread=True) as pool:
        pool.measure(writing, profile.writer_appends, profile.writer_rounds, bench.results)


def main() -> None:
    """``python -m benchmarks.local_engine --threads N``: the thread-count figures of
    one size on their own (a 10^6-thread store takes minutes to build)."""
    import argparse
    import json
    import shutil
    import tempfile

    from benchmarks.fixtures import Fixtures
    from benchmarks.profiles import PROFILES
    from benchmarks.results import Results

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--threads", type=int, action="append", required=True)
    parser.add_argument("--profile", default="full", choices=sorted(PROFILES))
    args = parser.parse_args()
    results = Results()
    workdir = Path(tempfile.mkdtemp(prefix="threadstore-bench-"))
    try:
        corpus = Corpus()
        bench = Bench(
            PROFILES[args.profile],
            results,
            Fixtures(corpus),
            corpus,
            workdir,
            lambda text: print(text, flush=True),
            lambda what, error: print(f"{what}: {error}", flush=True),
        )
        before = load()
        thread_counts(bench, tuple(args.threads))
        for figure in results.figures:
            print(
                json.dumps(
                    {
                        "threads": figure.size,
                        "case": figure.position,
                        "contender": figure.contender,
                        **figure.stats.as_dict(),
                    }
                )
            )
        print(json.dumps({"load before": before, "load after": load()}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

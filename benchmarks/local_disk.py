"""The local-disk backend beside SQLite: durable appends, and page latency by thread size.

Run with ``python -m benchmarks.local_disk`` (``--quick`` for a smaller run). It prints
per-operation medians; absolute numbers depend on the disk's fsync latency, so read the
ratios. The SQLite peer commits one row per transaction in WAL mode with
``synchronous=FULL``, the setting that makes each commit durable, as ours are.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from threadstore import Message
from threadstore.backends.local import LocalThreadStore


def per_op(action: Callable[[int], object], count: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean seconds per call of ``action(i)``."""
    results = []
    for round_number in range(rounds):
        start = time.perf_counter()
        for i in range(count):
            action(round_number * count + i)
        results.append((time.perf_counter() - start) / count)
    return statistics.median(results)


def durable_appends(directory: Path, count: int) -> dict[str, list[float]]:
    """Seconds per durable append, through the store and in SQLite WAL FULL.

    The two alternate op by op, so a busy disk or CPU weighs on both alike.
    """
    store = LocalThreadStore(directory / "store")
    thread = store.create_thread()
    payload = Message.user("m0", thread_id=thread.id).model_dump_json()
    connection = sqlite3.connect(directory / "peer.sqlite", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE messages (id TEXT PRIMARY KEY, thread TEXT, body TEXT)")

    def ours(i: int) -> None:
        store.append_message(thread.id, Message.user(f"m{i}"))

    def peer(i: int) -> None:
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO messages VALUES (?, ?, ?)", (f"msg_{i}", thread.id, payload)
        )
        connection.execute("COMMIT")

    timings: dict[str, list[float]] = {"threadstore": [], "sqlite": []}
    for i in range(count + 50):  # the first 50 warm up
        for name, action in (("threadstore", ours), ("sqlite", peer)):
            start = time.perf_counter()
            action(i)
            if i >= 50:
                timings[name].append(time.perf_counter() - start)
    connection.close()
    store.close()
    return timings


def page_latencies(directory: Path, size: int, reads: int) -> dict[str, float]:
    """Seconds per page of 20 (and per get) on a thread of ``size`` messages."""
    with LocalThreadStore(directory / f"pages-{size}", durable=False) as store:
        thread = store.create_thread()
        ids = [store.append_message(thread.id, Message.user(f"m{i}")).id for i in range(size)]
    middle = ids[size // 2]
    with LocalThreadStore(directory / f"pages-{size}") as store:  # a fresh, cold opener
        start = time.perf_counter()
        store.list_messages(thread.id, limit=20)
        first = time.perf_counter() - start
        cases: dict[str, Callable[[int], object]] = {
            "newest page": lambda i: store.list_messages(thread.id, limit=20),
            "after, asc": lambda i: store.list_messages(
                thread.id, limit=20, order="asc", after=middle
            ),
            "before, desc": lambda i: store.list_messages(thread.id, limit=20, before=middle),
            "get_message": lambda i: store.get_message(thread.id, ids[(i * 7919) % size]),
        }
        timings = {name: per_op(case, reads) for name, case in cases.items()}
    return {"first page, new opener": first, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    appends = 300 if args.quick else 2000
    sizes = [100, 1_000, 10_000] if args.quick else [100, 10_000, 100_000]
    reads = 50 if args.quick else 200
    with tempfile.TemporaryDirectory(prefix="threadstore-bench-") as name:
        directory = Path(name)
        timings = durable_appends(directory, appends)
        print("durable append, one commit each, alternating (us per op)")
        print(f"  {'':30}{'p25':>8}{'median':>8}{'mean':>8}")
        for name, label in (
            ("threadstore", "threadstore file://"),
            ("sqlite", "sqlite3 WAL synchronous=FULL"),
        ):
            values = sorted(timings[name])
            p25, p50 = values[len(values) // 4], values[len(values) // 2]
            mean = statistics.fmean(values)
            print(f"  {label:30}{p25 * 1e6:8.1f}{p50 * 1e6:8.1f}{mean * 1e6:8.1f}")
        ratio = statistics.median(timings["threadstore"]) / statistics.median(timings["sqlite"])
        print(f"  median ratio {ratio:.2f} x")
        print("page latency, limit=20 (us)")
        table = {size: page_latencies(directory, size, reads) for size in sizes}
        print("  " + " " * 24 + "".join(f"{size:>12,}" for size in sizes))
        for case in table[sizes[0]]:
            row = "".join(f"{table[size][case] * 1e6:12.1f}" for size in sizes)
            print(f"  {case:<24}{row}")


if __name__ == "__main__":
    main()

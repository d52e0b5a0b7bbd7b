"""Requests and sequential round trips per operation of the S3 backend, counted on a moto
server on 127.0.0.1: appends (one, a batch), gets, pages of messages, runs and steps at two
thread sizes, a run compare-and-set, opening a probed store, and pages of threads in a
catalog of up to 10^6 threads.

    python -m benchmarks.object_storage [--small 100] [--large 10000] [--threads 1000000]

Counts come from a botocore hook on the store's real client (every request sent) and
from the store's own chain-of-requests counter. They do not depend on the machine.

Threads' messages are written through the public API, ``append_messages`` in batches of
a chunk's size (the layout one-by-one appends make, in far fewer requests). A catalog of
10^6 threads would take hours to create through loopback moto (about a hundred requests
a second here), so :func:`seed_threads` writes it straight into the in-process moto
server's storage, in the backend's layout: the same bytes a store would write, chunk by
chunk, with claims only for the threads used as cursors.
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

from threadstore_fsspec import CHUNK_RECORDS, FsspecThreadStore
from threadstore_fsspec.chunks import record_entry
from threadstore_fsspec.layout import Layout
from threadstore_fsspec.lists import dump
from threadstore_fsspec.marker import FORMAT, VERSION
from threadstore_fsspec.objects import envelope, new_token

from threadstore import Message, Run, RunStep, Thread, open_store
from threadstore.protocol import ThreadStore
from threadstore.records import THREADS
from threadstore.url import StoreURL

BUCKET = "threadstore-bench"
PAGE = 20
STEPS = 40
"""Steps of the measured run: more than a chunk, so a page of steps spans two."""
Rows = list[tuple[str, int, int]]


def start_moto() -> tuple[Any, str]:
    """A moto S3 server on a free loopback port, with the bucket made; dummy credentials."""
    import s3fs  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "bench"  # dummy: the server is moto on loopback
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).mkdir(BUCKET)
    return server, endpoint


def seed(store: ThreadStore, thread_id: str, count: int) -> list[str]:
    """Append ``count`` messages through the API, a chunk's worth per batch."""
    ids: list[str] = []
    for start in range(0, count, CHUNK_RECORDS):
        batch = [Message.user(f"m{i}") for i in range(start, min(count, start + CHUNK_RECORDS))]
        ids += [message.id for message in store.append_messages(thread_id, batch)]
    return ids


def seed_threads(url: str, count: int, cursors: list[int]) -> list[str]:
    """A catalog of ``count`` threads written into moto's storage in process, in the
    backend's layout, with claims for the threads at positions ``cursors``; their IDs in
    creation order. The store at ``url`` must be empty."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    parsed = StoreURL.parse(url)
    prefix = parsed.path.strip("/")
    layout = Layout(f"{prefix}/" if prefix else "")
    log, token = layout.top(THREADS), new_token()
    ids: list[str] = []
    for number, start in enumerate(range(0, count, CHUNK_RECORDS)):
        threads = [Thread() for _ in range(start, min(count, start + CHUNK_RECORDS))]
        ids += [thread.id for thread in threads]
        entries = [record_entry(dump(thread), token, THREADS) for thread in threads]
        body = envelope({"entries": entries}, token, token)
        backend.put_object(parsed.host, layout.chunk(log, number), body)
        for position in cursors:
            if start <= position < start + len(threads):
                entry = entries[position - start]
                claim = {"id": entry["id"], "t": token, "chunk": number, "gen": entry["gen"]}
                backend.put_object(
                    parsed.host, layout.claim(log, entry["id"]), envelope(claim, token, token)
                )
    chunks = -(-count // CHUNK_RECORDS)
    tail = chunks if count % CHUNK_RECORDS == 0 else chunks - 1
    marker = {"format": FORMAT, "version": VERSION, "probe": None, "tails": {THREADS.name: tail}}
    backend.put_object(parsed.host, layout.marker, envelope(marker, token, token))
    return ids


def cost(store: FsspecThreadStore, call: Callable[[], object]) -> tuple[int, int]:
    with store.measure() as measured:
        call()
    return measured.requests, sum(measured.round_trips)


def _opened(url: str) -> FsspecThreadStore:
    store = open_store(url)
    if not isinstance(store, FsspecThreadStore):
        raise TypeError(f"expected the S3 store, got {type(store).__name__}")
    return store


def measure(url: str, size: int) -> Rows:
    """Each operation's cost on a thread of ``size`` messages, from a fresh process's view
    where it says so, else from one that has seen the thread."""
    rows: Rows = []
    with _opened(url) as writer:
        thread = writer.create_thread()
        ids = seed(writer, thread.id, size)
        run = writer.create_run(thread.id, Run(assistant_id="asst_1"))
        details = {"type": "message_creation", "message_creation": {"message_id": ids[0]}}
        steps = [
            writer.append_step(
                thread.id, run.id, RunStep.model_validate({"step_details": details})
            ).id
            for _ in range(STEPS)
        ]
    mid, early = ids[size // 2], ids[min(5, size - 1)]
    with _opened(url) as store:
        cases: list[tuple[str, Callable[[], object]]] = [
            ("get, fresh process", lambda: store.get_message(thread.id, early)),
            ("get, thread and message seen", lambda: store.get_message(thread.id, early)),
            (
                "page of 20 after a cursor not seen",
                lambda: store.list_messages(thread.id, limit=PAGE, after=mid, order="asc"),
            ),
            (
                "same, cursor seen",
                lambda: store.list_messages(thread.id, limit=PAGE, after=mid, order="asc"),
            ),
            (
                "page of 20 before a cursor",
                lambda: store.list_messages(thread.id, limit=PAGE, before=mid),
            ),
            ("page of 20, newest first", lambda: store.list_messages(thread.id, limit=PAGE)),
            (
                "page of 20, oldest first",
                lambda: store.list_messages(thread.id, limit=PAGE, order="asc"),
            ),
            ("page of 20 runs", lambda: store.list_runs(thread.id, limit=PAGE)),
            (
                "page of 20 steps after a cursor not seen",
                lambda: store.list_steps(thread.id, run.id, limit=PAGE, after=steps[STEPS // 2]),
            ),
            ("page of 20 steps", lambda: store.list_steps(thread.id, run.id, limit=PAGE)),
        ]
        for name, call in cases:
            rows.append((f"{name} ({size:,} msgs)", *cost(store, call)))
        store.append_message(thread.id, Message.user("warm"))
        append = lambda: store.append_message(thread.id, Message.user("x"))
        rows.append((f"append ({size:,} msgs)", *cost(store, append)))
        batch = lambda: store.append_messages(thread.id, [Message.user(f"b{i}") for i in range(10)])
        rows.append((f"append_messages of 10 ({size:,} msgs)", *cost(store, batch)))
        claim = lambda: store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        rows.append(("run compare-and-set", *cost(store, claim)))
    with _opened(url) as reopened:
        reopen = lambda: reopened._run(reopened._open)
        rows.append(("open, store probed before", *cost(reopened, reopen)))
    return rows


def measure_threads(url: str, count: int) -> Rows:
    """Pages of threads in a catalog of ``count`` (written by :func:`seed_threads`)."""
    middle = count // 2
    ids = seed_threads(url, count, [middle])
    cursor = ids[middle]
    rows: Rows = []

    def add(name: str, store: FsspecThreadStore, call: Callable[[], object]) -> None:
        rows.append((f"list_threads {name} ({count:,} threads)", *cost(store, call)))

    with _opened(url) as store:
        add("newest first, fresh process", store, lambda: store.list_threads(limit=PAGE))
        add("newest first again", store, lambda: store.list_threads(limit=PAGE))
        add("oldest first", store, lambda: store.list_threads(limit=PAGE, order="asc"))
    with _opened(url) as store:
        page = store.list_threads(limit=PAGE, after=cursor)
        if [thread.id for thread in page.data] != ids[middle - 1 : middle - 1 - PAGE : -1]:
            raise AssertionError("the page after the cursor is not the threads created before it")
    with _opened(url) as store:
        add("after a cursor, fresh process", store, lambda: store.list_threads(after=cursor))
        add("before the same cursor", store, lambda: store.list_threads(before=cursor))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1_000_000)
    args = parser.parse_args()
    server, endpoint = start_moto()

    def fresh() -> str:
        return f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={endpoint}"

    try:
        print(f"{'operation':66} {'requests':>8} {'round trips':>11}")
        rows = [row for size in (args.small, args.large) for row in measure(fresh(), size)]
        rows += measure_threads(fresh(), args.threads)
        for name, requests, rounds in rows:
            print(f"{name:66} {requests:8d} {rounds:11d}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Requests and sequential round trips per operation of the S3 backend, counted on a moto
server on 127.0.0.1: append, get, page of 20 (10^2 and 10^4 messages), run compare-and-set.

    python -m benchmarks.object_storage [--large 10000]

Counts come from a botocore hook on the store's real client (every request sent) and
from the store's own chain-of-requests counter. They do not depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

from threadstore_fsspec import FsspecThreadStore
from threadstore_fsspec.store import _dump

from threadstore import Message, Run, open_store
from threadstore.records import MESSAGES

BUCKET = "threadstore-bench"


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


def seed(store: FsspecThreadStore, thread_id: str, count: int) -> list[str]:
    """Write ``count`` messages straight in the documented layout (claims, slots, hint),
    many at a time: appending 10^4 through the API one by one would take minutes."""
    thread = store._run(store._thread, thread_id)
    if thread is None:
        raise LookupError(f"seed a thread that exists, not {thread_id!r}")
    gen = thread.data["gen"]
    log = store._layout.log(MESSAGES, (thread_id,), gen)
    messages = [Message.user(f"m{i}", thread_id=thread_id) for i in range(count)]

    async def write(seq: int, message: Message) -> None:
        record = _dump(message)
        objects, layout = store._objects, store._layout
        await asyncio.gather(
            objects.create(layout.claim(log, message.id), {"seq": seq, "record": record}, "s"),
            objects.create(layout.slot(log, seq), {"id": message.id, "record": record}, "s"),
        )

    async def write_all() -> None:
        for start in range(0, count, 200):
            batch = messages[start : start + 200]
            await asyncio.gather(*(write(start + i + 1, m) for i, m in enumerate(batch)))
        await store._objects.put(store._layout.head(log), {"head": count}, "s")

    store._run(write_all)
    return [m.id for m in messages]


def cost(store: FsspecThreadStore, call: Callable[[], object]) -> tuple[int, int]:
    with store.measure() as measured:
        call()
    return measured.requests, sum(measured.round_trips)


def measure(url: str, size: int) -> list[tuple[str, int, int]]:
    rows: list[tuple[str, int, int]] = []
    with open_store(url) as writer:
        assert isinstance(writer, FsspecThreadStore)
        thread = writer.create_thread()
        ids = seed(writer, thread.id, size)
    with open_store(url) as store:
        assert isinstance(store, FsspecThreadStore)
        mid = ids[size // 2]
        reads: list[tuple[str, Callable[[], object]]] = [
            ("get, fresh process", lambda: store.get_message(thread.id, ids[5])),
            ("get, slot remembered", lambda: store.get_message(thread.id, ids[5])),
            ("page of 20, newest first", lambda: store.list_messages(thread.id)),
            ("page of 20 after a cursor", lambda: store.list_messages(thread.id, after=mid)),
            ("same, cursor remembered", lambda: store.list_messages(thread.id, after=mid)),
        ]
        for name, call in reads:
            rows.append((f"{name} ({size} msgs)", *cost(store, call)))
        store.append_message(thread.id, Message.user("warm"))
        append = lambda: store.append_message(thread.id, Message.user("x"))
        rows.append((f"append ({size} msgs)", *cost(store, append)))
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        claim = lambda: store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        rows.append(("run compare-and-set", *cost(store, claim)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()
    server, endpoint = start_moto()
    try:
        print(f"{'operation':42} {'requests':>8} {'round trips':>11}")
        for size in (args.small, args.large):
            url = f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={endpoint}"
            for name, requests, rounds in measure(url, size):
                print(f"{name:42} {requests:8d} {rounds:11d}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

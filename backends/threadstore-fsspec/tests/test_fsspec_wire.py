"""What the store puts on the wire, read from the real requests botocore sends to moto."""

from __future__ import annotations

from typing import Any

from fsspec.asyn import sync  # type: ignore[import-untyped]
from threadstore_fsspec.store import FsspecThreadStore

from threadstore import Message, Run, open_store


def test_puts_are_sent_whole_without_waiting_for_100_continue(s3_url: str) -> None:
    store = open_store(s3_url)
    assert isinstance(store, FsspecThreadStore)
    client = sync(store._objects.loop, store._objects.client)
    sent: list[tuple[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append((request.method, request.headers.get("Expect")))

    client.meta.events.register("before-send.s3", record)
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("hello"))
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
    client.meta.events.unregister("before-send.s3", record)
    store.close()
    puts = [expect for method, expect in sent if method == "PUT"]
    assert len(puts) >= 4
    assert puts == [None] * len(puts)

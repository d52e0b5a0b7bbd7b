"""A prefix written by threadstore-fsspec 0.1 is refused with the command that upgrades it,
and the upgrade keeps every record, field and order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from s3_bucket import bucket
from threadstore_fsspec import FsspecThreadStore

from threadstore import Message, Run, RunStep, Thread, open_store
from threadstore.errors import BackendError
from threadstore.integrity import verify_store
from threadstore.snapshot import read_thread
from threadstore.url import StoreURL

Record = dict[str, Any]


Objects = dict[str, bytes]


def put(objects: Objects, key: str, data: Record) -> None:
    """One object as 0.1 wrote it: ``{"creator", "writer", "prev", "data"}``."""
    envelope = {"creator": "c0", "writer": "c0", "prev": None, "data": data}
    objects[key] = json.dumps(envelope).encode()


def put_list(objects: Objects, prefix: str, records: list[Record | str]) -> None:
    """0.1's list: slot ``n`` per record (a string: a deleted one), a claim per ID, the head
    hint."""
    for seq, record in enumerate(records, start=1):
        record_id = record if isinstance(record, str) else record["id"]
        slot: Record = {"id": record_id}
        slot.update({"deleted": True} if isinstance(record, str) else {"record": record})
        put(objects, f"{prefix}seq/{seq:020d}", slot)
        put(objects, f"{prefix}id/{record_id}", {"seq": seq, "record": slot.get("record", {})})
    put(objects, f"{prefix}head", {"head": len(records)})


def wire(model: Any) -> Record:
    value: Record = model.model_dump(mode="json")
    return value


def legacy_store(url: str) -> dict[str, Any]:
    """Two threads in 0.1's layout (created in the order b, a), with messages (one
    deleted), runs and steps, and a claim whose append never reached its slot, and an
    empty one with a creation stamp; returns what a reader of the upgraded store must
    see."""
    fs, root = bucket(url)
    objects: Objects = {}
    expected: dict[str, Any] = {}
    for thread_id in ("thread_b", "thread_a"):
        thread = Thread(id=thread_id, metadata={"name": thread_id})
        generation = f"{thread_id[-1] * 16}"
        put(objects, f"{root}threads/{thread_id}", {"gen": generation, "record": wire(thread)})
        if thread_id == "thread_b":  # its last releases stamped a creation time
            put(
                objects,
                f"{root}threads/thread_c",
                {"gen": "c" * 16, "made": 5, "record": wire(Thread(id="thread_c"))},
            )
        data = f"{root}thread-data/{thread_id}/{generation}/"
        messages = [
            Message.user(f"{thread_id} {i}", thread_id=thread_id, created_at=1000 + i)
            for i in range(40)
        ]
        put_list(
            objects,
            f"{data}messages/",
            [wire(m) for m in messages[:7]] + [messages[7].id] + [wire(m) for m in messages[8:]],
        )
        put(objects, f"{data}messages/id/msg_never_placed", {"seq": 0, "record": {}})
        runs = [
            Run(id=f"run_{thread_id}_{i}", assistant_id="asst_1", thread_id=thread_id)
            for i in range(2)
        ]
        put_list(objects, f"{data}runs/", [wire(r) for r in runs])
        steps = [
            RunStep.model_validate(
                {
                    "thread_id": thread_id,
                    "run_id": runs[0].id,
                    "assistant_id": "asst_1",
                    "step_details": {
                        "type": "message_creation",
                        "message_creation": {"message_id": messages[0].id},
                    },
                }
            )
            for _ in range(3)
        ]
        put_list(objects, f"{data}steps/{runs[0].id}/", [wire(s) for s in steps])
        expected[thread_id] = {
            "thread": wire(thread),
            "messages": [wire(m) for i, m in enumerate(messages) if i != 7],
            "runs": [wire(r) for r in runs],
            "steps": [wire(s) for s in steps],
        }
    fs.pipe(objects)  # all at once
    return expected


def snapshot(store: Any, thread_id: str) -> dict[str, Any]:
    read = read_thread(store, thread_id)
    return {
        "thread": wire(read.thread),
        "messages": [wire(m) for m in read.messages],
        "runs": [wire(r) for r in read.runs],
        "steps": [wire(s) for s in read.steps],
    }


def test_a_01_store_is_refused_with_the_command_that_upgrades_it(s3_url: str) -> None:
    legacy_store(s3_url)
    with pytest.raises(BackendError) as failure:
        open_store(s3_url)
    shown = StoreURL.parse(s3_url).render()
    assert f"upgrade it in place with `threadstore migrate {shown}`" in str(failure.value)


def test_migrate_keeps_every_record_field_and_order(s3_url: str) -> None:
    expected = legacy_store(s3_url)
    assert FsspecThreadStore.migrate_schema(StoreURL.parse(s3_url)) == (1, 2)
    with open_store(s3_url) as store:
        assert isinstance(store, FsspecThreadStore)
        # 0.1's listing order: by creation stamp where it wrote one, then by ID
        assert store.list_thread_ids() == ["thread_a", "thread_b", "thread_c"]
        for thread_id, content in expected.items():
            assert snapshot(store, thread_id) == content
        assert verify_store(store).ok
        assert store.check_storage(repair=False) == []
        store.append_message("thread_a", Message.user("after the upgrade"))
        assert store.list_messages("thread_a", limit=1).data[0].text == "after the upgrade"
    fs, root = bucket(s3_url)
    assert not fs.find(f"{root}thread-data/")
    assert not fs.exists(f"{root}threads/thread_a")
    assert FsspecThreadStore.migrate_schema(StoreURL.parse(s3_url)) == (2, 2)


def test_migrating_an_empty_prefix_makes_it_a_store(s3_url: str) -> None:
    assert FsspecThreadStore.migrate_schema(StoreURL.parse(s3_url)) == (None, 2)
    fs, root = bucket(s3_url)
    assert json.loads(fs.cat(f"{root}threadstore.json"))["data"]["probe"]


def test_the_migrate_command_upgrades_a_01_store(s3_url: str) -> None:
    legacy_store(s3_url)
    script = Path(sys.executable).with_name("threadstore")
    base, _, endpoint = s3_url.partition("?endpoint_url=")
    url = f"{base}?endpoint_url={quote(endpoint, safe='')}"
    done = subprocess.run(
        [str(script), "migrate", url], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "migrated from version 1 to 2" in done.stdout
    with open_store(s3_url) as store:
        assert store.list_thread_ids() == ["thread_a", "thread_b", "thread_c"]

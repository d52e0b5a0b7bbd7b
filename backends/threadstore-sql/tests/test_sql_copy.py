"""``threadstore copy`` file:// → postgresql:// → file:// gives back the same wire objects,
byte for byte; a second copy finds everything in place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from threadstore import Conversation, Message, Run, RunStep, Thread, open_store
from threadstore.protocol import ThreadStore
from threadstore.snapshot import read_thread

SCRIPT = Path(sys.executable).with_name("threadstore")


def copy(source: str, target: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(SCRIPT), "copy", source, target, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    copied: dict[str, Any] = json.loads(result.stdout)
    return copied


def fill(store: ThreadStore) -> None:
    """Threads with every kind of record; message IDs sort against their append order."""
    for number in range(3):
        thread = store.create_thread(
            Thread(id=f"thread_copy_{number}", created_at=1_700_000_000, metadata={"n": "1"})
        )
        for name in ("msg_z", "msg_a", "msg_m"):
            store.append_message(thread.id, Message.user(f"{name} é ✓", id=name, created_at=5))
        run = store.create_run(
            thread.id,
            Run(id="run_b", assistant_id="asst_1", status="completed", completed_at=9),
        )
        store.append_step(
            thread.id,
            run.id,
            RunStep.model_validate(
                {
                    "id": "step_1",
                    "step_details": {
                        "type": "message_creation",
                        "message_creation": {"message_id": "msg_a"},
                    },
                }
            ),
        )
        store.create_run(thread.id, Run(id="run_a", assistant_id="asst_1"))
    store.create_conversation(
        Conversation(id="conv_copy", created_at=1_700_000_000),
        items=[
            {"id": "msg_z", "role": "user", "content": "é ✓"},
            {
                "id": "fc_a",
                "type": "function_call",
                "call_id": "c1",
                "name": "f",
                "arguments": "{}",
            },
            {"id": "x_new", "type": "a_newer_type", "anything": [1, None]},
        ],
    )


def wire(url: str) -> list[str]:
    """Every object's wire JSON: threads, then conversations, each list in its order."""
    objects: list[str] = []
    with open_store(url) as store:
        for thread_id in store.list_thread_ids():
            snapshot: dict[str, Any] = read_thread(store, thread_id).to_json()
            objects.append(json.dumps(snapshot["thread"], sort_keys=True))
            for name in ("messages", "runs", "steps"):
                objects.extend(json.dumps(item, sort_keys=True) for item in snapshot[name])
        for conversation in store.list_conversations().data:
            objects.append(conversation.model_dump_json())
            objects.extend(item.model_dump_json() for item in store.iter_items(conversation.id))
    return objects


def test_copy_through_postgresql_round_trips_exactly(tmp_path: Path, pg_url: str) -> None:
    source, back = f"file://{tmp_path / 'source'}", f"file://{tmp_path / 'back'}"
    with open_store(source) as store:
        fill(store)
    there = copy(source, pg_url)
    assert there["created"] == {
        "thread": 3,
        "message": 9,
        "run": 6,
        "step": 3,
        "conversation": 1,
        "item": 3,
    }
    assert wire(pg_url) == wire(source)
    copy(source, pg_url)  # again: everything is recognised, nothing written
    assert copy(pg_url, back)["created"] == there["created"]
    assert wire(back) == wire(source)

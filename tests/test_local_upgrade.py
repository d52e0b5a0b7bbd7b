"""Stores written by threadstore 0.1 (format 1): refused with the command that upgrades
them, and upgraded with every record, its order and its fields kept."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from cli_support import cli
from threadstore import Message, Run, RunStep, Thread, open_store
from threadstore.backends.local import LocalThreadStore
from threadstore.backends.local.upgrade import upgrade
from threadstore.errors import BackendError


def v1_line(op: str, kind: str, record_id: str, seq: int, data: Any = None, run: str = "") -> bytes:
    """A line exactly as threadstore 0.1 wrote it."""
    run_field = f'"run":"{run}",' if run else ""
    body = f'{{"op":"{op}","kind":"{kind}",{run_field}"id":"{record_id}","seq":{seq}'.encode()
    if data is not None:
        body += b',"data":' + json.dumps(data, separators=(",", ":")).encode()
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def v1_store(root: Path) -> dict[str, Any]:
    """A format-1 store of two threads (one with a deleted message, a run and its steps)
    and a deleted thread; and what each live thread holds, as wire JSON."""
    (root / "threads").mkdir(parents=True)
    (root / "threadstore.json").write_text(
        json.dumps({"format": "threadstore.local", "version": 1}, indent=2) + "\n"
    )
    expected: dict[str, Any] = {}
    for number, thread_id in enumerate(["thread_b", "thread_a"]):
        thread = Thread(id=thread_id, created_at=1_700_000_000 + number, metadata={"n": "1"})
        messages = [
            Message.user(f"m{i}", id=f"msg_{9 - i}", thread_id=thread_id, created_at=1_700_000_100)
            for i in range(4)
        ]
        run = Run(id="run_1", thread_id=thread_id, assistant_id="asst_1", status="completed")
        step = RunStep.model_validate(
            {
                "id": "step_1",
                "thread_id": thread_id,
                "run_id": "run_1",
                "assistant_id": "asst_1",
                "step_details": {
                    "type": "message_creation",
                    "message_creation": {"message_id": "msg_9"},
                },
            }
        )
        lines = [v1_line("add", "thread", thread_id, 0, thread.model_dump(mode="json"))]
        lines += [
            v1_line("add", "message", m.id, i, m.model_dump(mode="json"))
            for i, m in enumerate(messages)
        ]
        lines.append(v1_line("del", "message", messages[1].id, 1))
        updated = messages[2].model_copy(update={"metadata": {"k": "v"}})
        lines.append(v1_line("set", "message", updated.id, 2, updated.model_dump(mode="json")))
        lines.append(v1_line("add", "run", run.id, 0, run.model_dump(mode="json")))
        lines.append(v1_line("add", "step", step.id, 0, step.model_dump(mode="json"), run=run.id))
        (root / "threads" / thread_id).mkdir()
        (root / "threads" / thread_id / "log.jsonl").write_bytes(b"".join(lines) + b'{"op":"add"')
        (root / "threads" / thread_id / "index.bin").write_bytes(b"\0" * 128)
        kept = [messages[0], messages[3]]
        kept.insert(1, updated)
        expected[thread_id] = {
            "thread": thread.model_dump(mode="json"),
            "messages": [m.model_dump(mode="json") for m in kept],
            "runs": [run.model_dump(mode="json")],
            "steps": [step.model_dump(mode="json")],
        }
    gone = [
        v1_line(
            "add", "thread", "thread_gone", 0, Thread(id="thread_gone").model_dump(mode="json")
        ),
        v1_line("del", "thread", "thread_gone", 0),
    ]
    (root / "threads" / "thread_gone").mkdir()
    (root / "threads" / "thread_gone" / "log.jsonl").write_bytes(b"".join(gone))
    return expected


def held(root: Path) -> tuple[list[str], dict[str, Any]]:
    with open_store(root) as store:
        ids = store.list_thread_ids()
        found = {}
        for thread_id in ids:
            runs = store.list_runs(thread_id, order="asc").data
            found[thread_id] = {
                "thread": store.get_thread(thread_id).model_dump(mode="json"),
                "messages": [m.model_dump(mode="json") for m in store.iter_messages(thread_id)],
                "runs": [r.model_dump(mode="json") for r in runs],
                "steps": [
                    s.model_dump(mode="json")
                    for r in runs
                    for s in store.list_steps(thread_id, r.id, order="asc").data
                ],
            }
        return ids, found


def test_a_format_1_store_is_refused_with_the_command_that_upgrades_it(tmp_path: Path) -> None:
    v1_store(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(BackendError, match=f"threadstore migrate file://{tmp_path}"):
        LocalThreadStore(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_an_upgrade_keeps_every_record_its_order_and_fields(tmp_path: Path) -> None:
    expected = v1_store(tmp_path)
    done = upgrade(str(tmp_path))
    assert (done.threads, done.messages, done.runs, done.steps) == (2, 6, 2, 2)
    ids, found = held(tmp_path)
    assert ids == ["thread_a", "thread_b"]  # format 1 listed threads by ID: kept
    assert found == expected
    assert not (tmp_path / "threads").exists()
    with LocalThreadStore(tmp_path) as store:
        assert store.check_storage(repair=False) == []
        store.append_message("thread_a", Message.user("after"))  # and it works as any store


def test_an_interrupted_upgrade_is_run_again(tmp_path: Path) -> None:
    expected = v1_store(tmp_path)
    (tmp_path / "catalog.jsonl").write_text("half of an earlier try\n")
    (tmp_path / "tmp" / "upgrade").mkdir(parents=True)
    upgrade(str(tmp_path))
    assert held(tmp_path)[1] == expected
    assert upgrade(str(tmp_path)).threads == 0  # a format-2 store: nothing to do
    assert held(tmp_path)[1] == expected


def test_the_migrate_command_upgrades_a_format_1_store(tmp_path: Path) -> None:
    expected = v1_store(tmp_path)
    done = cli("migrate", f"file://{tmp_path}", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"url": f"file://{tmp_path}", "before": 1, "after": 2}
    assert held(tmp_path)[1] == expected
    again = cli("migrate", f"file://{tmp_path}")
    assert again.returncode == 0
    assert "version 2, already current" in again.stdout

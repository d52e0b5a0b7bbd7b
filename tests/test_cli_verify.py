"""``threadstore verify``, run in a subprocess: clean stores pass, damage is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import CONVERSATION_ITEMS, cli, cli_after, data, fill
from threadstore import Message, Run, RunStep, open_store

CHECKED_BACKEND = (
    "from threadstore import register_backend\n"
    "register_backend('checked', 'cli_support:CheckedMemoryStore')"
)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with open_store(path) as store:
        fill(store)
    return path


def test_a_clean_store_passes(store_dir: Path) -> None:
    report = data(cli("verify", str(store_dir), "--json"))
    assert report["ok"] is True
    assert report["findings"] == []
    assert report["checked"] == {
        "threads": 3,
        "messages": 9,
        "runs": 9,
        "steps": 6,
        "conversations": 2,
        "items": CONVERSATION_ITEMS,
    }
    text = cli("verify", str(store_dir))
    assert text.returncode == 0
    assert "No problems found." in text.stdout


def test_a_corrupt_record_is_named_and_the_rest_still_checked(store_dir: Path) -> None:
    (log,) = store_dir.glob("lists/threads/*/thread_cli_1.*.jsonl")
    damaged = log.read_bytes().replace(b'"value":"see"', b'"value":"SEE"')
    assert damaged != log.read_bytes()
    log.write_bytes(damaged)

    result = cli("verify", str(store_dir), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    storage, record = report["findings"]  # the backend's own check, then the protocol's
    assert storage["check"] == "corrupt-log"
    assert storage["location"] == str(log)
    assert record["check"] == "corrupt-record"
    assert record["location"].startswith("thread_cli_1")
    assert str(log) in record["detail"]
    assert report["checked"]["threads"] == 3
    assert report["checked"]["runs"] == 9

    text = cli("verify", str(store_dir))
    assert text.returncode == 1
    assert str(log) in text.stdout
    assert "2 problems found." in text.stdout


def test_references_that_do_not_resolve_are_findings(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.assistant("x", id="msg_1", run_id="run_ghost"))
        run = store.create_run(thread.id, Run(assistant_id="a"))
        store.append_step(
            thread.id,
            run.id,
            RunStep.model_validate(
                {
                    "step_details": {
                        "type": "message_creation",
                        "message_creation": {"message_id": "msg_ghost"},
                    }
                }
            ),
        )
    result = cli("verify", str(tmp_path), "--json")
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f["check"], f["location"].rpartition("/")[0]) for f in findings] == [
        ("dangling-reference", f"{thread.id}/messages"),
        ("dangling-reference", f"{thread.id}/runs/{run.id}/steps"),
    ]
    assert "run_ghost" in findings[0]["detail"]
    assert "msg_ghost" in findings[1]["detail"]


def test_repair_says_it_changes_nothing_on_a_backend_without_storage_checks() -> None:
    prelude = (
        "from threadstore import open_store, Message\n"
        "store = open_store('memory://filled')\n"
        "thread = store.create_thread()\n"
        "store.append_message(thread.id, Message.assistant('x', run_id='run_ghost'))"
    )
    result = cli_after(prelude, "verify", "memory://filled", "--repair")
    assert result.returncode == 1
    assert "no storage checks; --repair changed nothing" in result.stdout


def test_a_backends_own_checks_are_run_and_can_repair() -> None:
    found = cli_after(CHECKED_BACKEND, "verify", "checked://", "--json")
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["storage_checked"] is True
    assert report["findings"] == [
        {
            "check": "orphaned-temp-file",
            "location": "tmp-1234",
            "detail": "left by a writer that died",
            "repaired": False,
        }
    ]
    repaired = cli_after(CHECKED_BACKEND, "verify", "checked://", "--repair")
    assert repaired.returncode == 0
    assert "repaired tmp-1234" in repaired.stdout
    assert "1 problem repaired." in repaired.stdout


def test_a_corrupt_item_is_named_and_the_other_conversations_still_checked(store_dir: Path) -> None:
    (log,) = store_dir.glob("lists/conversations/*/conv_cli_1.*.jsonl")
    damaged = log.read_bytes().replace(b'"an answer"', b'"an answer"]')
    assert damaged != log.read_bytes()
    log.write_bytes(damaged)

    result = cli("verify", str(store_dir), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    storage, record = report["findings"]
    assert storage["check"] == "corrupt-log"
    assert storage["location"] == str(log)
    assert record["check"] == "corrupt-record"
    assert record["location"] == "conv_cli_1/items"
    assert str(log) in record["detail"]
    assert report["checked"]["conversations"] == 2
    assert report["checked"]["items"] == CONVERSATION_ITEMS - 3  # all of conv_cli_0's

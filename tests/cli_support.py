"""Helpers for the command-line tests: run the installed ``threadstore`` script, make
stores full of every kind of record (threads and conversations), and dump a store as the
wire JSON of every object."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from threadstore import Conversation, Message, Run, RunStep, Thread
from threadstore.backends.memory import MemoryThreadStore
from threadstore.integrity import Finding
from threadstore.protocol import ThreadStore
from threadstore.snapshot import every, read_thread
from threadstore.testing.sample_items import MODELLED, SAMPLE_ITEMS

SCRIPT = Path(sys.executable).with_name("threadstore")
TESTS = Path(__file__).parent
TIMEOUT = 60


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    assert SCRIPT.exists(), f"the threadstore console script is not installed at {SCRIPT}"
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def cli_after(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh interpreter after ``prelude`` (Python source),
    e.g. to fill a ``memory://`` store first, which only lives in that process."""
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r})\n{prelude}\n"
        f"from threadstore.cli import main\nmain({list(args)!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def data(result: subprocess.CompletedProcess[str]) -> Any:
    """The ``--json`` output of a run that must have succeeded."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def dump(store: ThreadStore) -> list[dict[str, Any]]:
    """The wire JSON of every object in the store, threads and then conversations in ID
    order, lists in order.

    (Both list in creation order, and a copy of some first creates those first; a full
    copy keeps the source's order, which the copy tests check apart.)
    """
    objects: list[dict[str, Any]] = []
    for thread_id in sorted(store.list_thread_ids()):
        snapshot = read_thread(store, thread_id).to_json()
        thread = snapshot["thread"]
        assert isinstance(thread, dict)
        objects.append(thread)
        for name in ("messages", "runs", "steps"):
            records = snapshot[name]
            assert isinstance(records, list)
            objects.extend(records)
    for conversation in sorted(every(store.list_conversations), key=lambda c: c.id):
        objects.append(conversation.model_dump(mode="json"))
        objects.extend(item.model_dump(mode="json") for item in store.iter_items(conversation.id))
    return objects


CONVERSATION_ITEMS = len(SAMPLE_ITEMS) + len(MODELLED) + 3
"""The items :func:`fill_conversations` writes: an item of every type, and three more."""


def fill_conversations(store: ThreadStore, prefix: str = "conv_cli") -> list[str]:
    """Two conversations with fixed IDs and timestamps: one holding an item of every type
    the API lists, one in the short input form (IDs that sort against append order)."""
    everything = store.create_conversation(
        Conversation(id=f"{prefix}_0", created_at=1_700_000_100, metadata={"n": "0"}),
        items=copy.deepcopy([*SAMPLE_ITEMS.values(), *MODELLED.values()]),
    )
    short = store.create_conversation(
        Conversation(id=f"{prefix}_1", created_at=1_700_000_101),
        items=[
            {"id": "msg_z", "role": "user", "content": "plain [bold]markup[/bold]"},
            {"id": "msg_y", "role": "assistant", "content": "an answer"},
            {"id": "fco_x", "type": "function_call_output", "call_id": "call_1", "output": "1"},
        ],
    )
    return [everything.id, short.id]


def _step(details: dict[str, Any], **fields: Any) -> RunStep:
    return RunStep.model_validate({"step_details": details, **fields})


def fill(
    store: ThreadStore, threads: int = 3, prefix: str = "thread_cli", conversations: bool = True
) -> list[str]:
    """Threads holding every shape of record, with fixed IDs and timestamps, and (unless
    told not to) the conversations of :func:`fill_conversations`; returns the thread IDs.

    Message IDs sort against append order, so a copy that sorted by ID would show.
    """
    made = []
    for number in range(threads):
        thread = store.create_thread(
            Thread(
                id=f"{prefix}_{number}",
                created_at=1_700_000_000 + number,
                metadata={"n": str(number)},
                tool_resources={"code_interpreter": {"file_ids": ["file_1"]}},
            )
        )
        made.append(thread.id)
        tid = thread.id
        store.append_message(
            tid, Message.user("plain [bold]markup[/bold]", id="msg_z", created_at=5)
        )
        store.append_message(
            tid,
            Message(
                id="msg_y",
                role="assistant",
                created_at=6,
                content=[
                    {"type": "text", "text": {"value": "see", "annotations": []}},
                    {"type": "image_file", "image_file": {"file_id": "file_2", "detail": "low"}},
                    {"type": "refusal", "refusal": "no"},
                ],
                assistant_id="asst_1",
                run_id="run_done",
                attachments=[{"file_id": "file_3", "tools": [{"type": "file_search"}]}],
                metadata={"k": "v"},
            ),
        )
        store.append_message(
            tid,
            Message.assistant(
                "half", id="msg_x", created_at=7, status="in_progress", run_id="run_waiting"
            ),
        )
        done = store.create_run(
            tid,
            Run(
                id="run_done",
                created_at=7,
                assistant_id="asst_1",
                model="m",
                status="completed",
                started_at=8,
                completed_at=9,
                usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
            ),
        )
        store.append_step(
            tid,
            done.id,
            _step(
                {
                    "type": "tool_calls",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}", "output": "1"},
                        }
                    ],
                },
                id="step_b",
                created_at=8,
                status="completed",
                completed_at=9,
            ),
        )
        store.append_step(
            tid,
            done.id,
            _step(
                {"type": "message_creation", "message_creation": {"message_id": "msg_y"}},
                id="step_a",
                created_at=9,
                status="completed",
                completed_at=9,
            ),
        )
        store.create_run(
            tid,
            Run(
                id="run_waiting",
                created_at=10,
                assistant_id="asst_1",
                status="requires_action",
                required_action={
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {
                        "tool_calls": [
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ]
                    },
                },
            ),
        )
        store.create_run(
            tid,
            Run(
                id="run_failed",
                created_at=11,
                assistant_id="asst_1",
                status="failed",
                failed_at=12,
                last_error={"code": "server_error", "message": "boom"},
            ),
        )
    if conversations:
        fill_conversations(store)
    return made


class CheckedMemoryStore(MemoryThreadStore):
    """A memory store with storage checks of its own: it keeps a list of leftover
    temporary files, which the checks report and a repair removes."""

    leftovers: ClassVar[list[str]] = ["tmp-1234"]

    def check_storage(self, repair: bool) -> list[Finding]:
        found = [
            Finding("orphaned-temp-file", name, "left by a writer that died", repaired=repair)
            for name in self.leftovers
        ]
        if repair:
            self.leftovers.clear()
        return found

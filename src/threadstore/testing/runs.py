"""``RunTests``: runs, their statuses and the compare-and-set that claims them.

A run is created ``queued`` and every field round-trips; an existing run ID fails;
status moves stamp their timestamps and record a failure's error; unknown statuses
and malformed errors are refused; a terminal run cannot move (``RunInTerminalState``)
except by ``force_update_run_status``; ``expected=`` is compare-and-set; runs list in
creation order.
"""

from __future__ import annotations

import pytest

from threadstore.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidRequestError,
    RunInTerminalState,
    RunNotFound,
    ThreadNotFound,
)
from threadstore.models import LastError, Run, RunStatus, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures

__all__ = ["RunTests"]

TERMINAL = [s for s in RunStatus if s.is_terminal]


class RunTests(ConformanceFixtures):
    """Runs: create, status moves, terminal states, ``expected=``, field updates."""

    def test_create_run(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1", model="m"))
        assert (run.thread_id, run.status, run.model) == (thread.id, "queued", "m")
        assert run.id.startswith("run_")
        assert store.get_run(thread.id, run.id) == run

    def test_run_round_trips_every_field(self, store: ThreadStore, thread: Thread) -> None:
        sent = Run.model_validate(
            {
                "assistant_id": "asst_1",
                "model": "m",
                "instructions": "be brief",
                "status": "requires_action",
                "required_action": {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ]
                    },
                },
                "tools": [
                    {"type": "code_interpreter"},
                    {"type": "file_search", "file_search": {"max_num_results": 5}},
                    {"type": "function", "function": {"name": "f", "parameters": {}}},
                ],
                "metadata": {"k": "v"},
                "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
                "temperature": 0.5,
                "top_p": 0.9,
                "max_prompt_tokens": 100,
                "max_completion_tokens": 50,
                "truncation_strategy": {"type": "last_messages", "last_messages": 4},
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "parallel_tool_calls": False,
                "response_format": {"type": "json_object"},
                "expires_at": 2000,
                "started_at": 1000,
            }
        )
        stored = store.create_run(thread.id, sent)
        wire = store.get_run(thread.id, stored.id).model_dump(mode="json")
        assert wire == {**sent.model_dump(mode="json"), "thread_id": thread.id}

    def test_create_run_on_missing_thread(self, store: ThreadStore) -> None:
        with pytest.raises(ThreadNotFound):
            store.create_run("thread_missing", Run(assistant_id="asst_1"))

    def test_create_existing_run_fails(self, store: ThreadStore, thread: Thread) -> None:
        store.create_run(thread.id, Run(id="run_same", assistant_id="asst_1"))
        with pytest.raises(AlreadyExistsError):
            store.create_run(thread.id, Run(id="run_same", assistant_id="asst_2"))
        assert store.get_run(thread.id, "run_same").assistant_id == "asst_1"

    def test_get_missing_run(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(RunNotFound):
            store.get_run(thread.id, "run_missing")
        with pytest.raises(RunNotFound):
            store.update_run_status(thread.id, "run_missing", "in_progress")

    def test_run_lifecycle_sets_timestamps(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        started = store.update_run_status(thread.id, run.id, RunStatus.IN_PROGRESS)
        assert started.status is RunStatus.IN_PROGRESS
        assert started.started_at is not None
        done = store.update_run_status(thread.id, run.id, "completed")
        assert done.completed_at is not None
        assert done.started_at == started.started_at
        assert store.get_run(thread.id, run.id) == done

    def test_failed_run_records_error(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        failed = store.update_run_status(
            thread.id, run.id, "failed", {"code": "server_error", "message": "boom"}
        )
        assert failed.last_error == LastError(code="server_error", message="boom")
        assert failed.failed_at is not None
        assert store.get_run(thread.id, run.id).last_error == failed.last_error

    def test_cancelled_run_records_time(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "cancelling")
        assert store.update_run_status(thread.id, run.id, "cancelled").cancelled_at is not None

    @pytest.mark.parametrize("status", ["done", "COMPLETED", ""])
    def test_unknown_run_status(self, store: ThreadStore, thread: Thread, status: str) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(InvalidRequestError):
            store.update_run_status(thread.id, run.id, status)
        assert store.get_run(thread.id, run.id) == run

    def test_bad_error_is_refused(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(InvalidRequestError):
            store.update_run_status(thread.id, run.id, "failed", {"code": "nope", "message": ""})
        assert store.get_run(thread.id, run.id) == run

    @pytest.mark.parametrize("terminal", TERMINAL)
    def test_terminal_run_cannot_move(
        self, store: ThreadStore, thread: Thread, terminal: RunStatus
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        final = store.update_run_status(thread.id, run.id, terminal)
        for status in RunStatus:
            with pytest.raises(RunInTerminalState) as caught:
                store.update_run_status(thread.id, run.id, status)
            assert isinstance(caught.value, ConflictError)
        with pytest.raises(RunInTerminalState):
            store.update_run(thread.id, run.id, status="queued")
        assert store.get_run(thread.id, run.id) == final

    def test_force_moves_a_terminal_run(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "completed")
        forced = store.force_update_run_status(
            thread.id, run.id, "failed", LastError(code="server_error", message="late")
        )
        assert forced.status == "failed"
        assert forced.last_error is not None
        assert store.get_run(thread.id, run.id) == forced

    def test_expected_status_is_compare_and_set(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        claimed = store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        with pytest.raises(ConflictError):
            store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        with pytest.raises(ConflictError):
            store.update_run(thread.id, run.id, expected=RunStatus.QUEUED, metadata={"a": "b"})
        assert store.get_run(thread.id, run.id) == claimed

    def test_update_run_fields(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            },
        }
        waiting = store.update_run(
            thread.id, run.id, status="requires_action", required_action=action
        )
        assert waiting.required_action is not None
        resumed = store.update_run_status(thread.id, run.id, "in_progress")
        assert resumed.required_action is None
        done = store.update_run(
            thread.id,
            run.id,
            status="completed",
            usage={"completion_tokens": 3, "prompt_tokens": 4, "total_tokens": 7},
        )
        assert done.usage is not None
        assert done.usage.total_tokens == 7
        tagged = store.update_run(thread.id, run.id, metadata={"rating": "good"})
        assert (tagged.status, tagged.metadata) == ("completed", {"rating": "good"})
        assert store.get_run(thread.id, run.id) == tagged

    def test_list_runs_in_creation_order(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")) for _ in range(3)]
        assert store.list_runs(thread.id).data == runs[::-1]

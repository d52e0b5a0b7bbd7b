"""``StepTests``: run steps belong to one run and follow their own statuses.

An appended step gets its thread, run and assistant and starts ``in_progress``; its
wire shape is OpenAI's; appending to a missing run or thread fails, as does an existing
step ID; status moves stamp timestamps and record errors; details and usage update;
statuses a step cannot have are refused.
"""

from __future__ import annotations

import pytest

from threadstore.errors import (
    AlreadyExistsError,
    InvalidRequestError,
    RunNotFound,
    RunStepNotFound,
    ThreadNotFound,
)
from threadstore.models import Run, RunStep, RunStepStatus, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures, step_for

__all__ = ["StepTests"]


class StepTests(ConformanceFixtures):
    """Run steps: append, get, status moves, detail updates."""

    def test_append_step_fills_owners(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_9"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        assert (step.thread_id, step.run_id, step.assistant_id) == (thread.id, run.id, "asst_9")
        assert step.id.startswith("step_")
        assert step.status is RunStepStatus.IN_PROGRESS
        assert store.get_step(thread.id, run.id, step.id) == step

    def test_step_wire_shape(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        wire = store.get_step(thread.id, run.id, step.id).model_dump(mode="json")
        assert wire["object"] == "thread.run.step"
        assert wire["type"] == "message_creation"
        assert wire["step_details"] == {
            "type": "message_creation",
            "message_creation": {"message_id": "msg_1"},
        }
        for nullable in ["last_error", "expired_at", "cancelled_at", "failed_at", "usage"]:
            assert wire[nullable] is None

    def test_append_step_to_missing_run(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(RunNotFound):
            store.append_step(thread.id, "run_missing", step_for("msg_1"))
        with pytest.raises(ThreadNotFound):
            store.append_step("thread_missing", "run_missing", step_for("msg_1"))

    def test_create_existing_step_fails(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        first = store.append_step(
            thread.id, run.id, step_for("msg_1").model_copy(update={"id": "step_s"})
        )
        with pytest.raises(AlreadyExistsError):
            store.append_step(
                thread.id, run.id, step_for("msg_2").model_copy(update={"id": "step_s"})
            )
        assert store.get_step(thread.id, run.id, "step_s") == first

    def test_get_missing_step(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        with pytest.raises(RunStepNotFound):
            store.get_step(thread.id, run.id, "step_missing")
        with pytest.raises(RunNotFound):
            store.get_step(thread.id, "run_missing", "step_missing")

    def test_step_status_sets_timestamps_and_error(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        ok = store.append_step(thread.id, run.id, step_for("msg_1"))
        bad = store.append_step(thread.id, run.id, step_for("msg_2"))
        done = store.update_step_status(thread.id, run.id, ok.id, RunStepStatus.COMPLETED)
        assert done.completed_at is not None
        failed = store.update_step_status(
            thread.id, run.id, bad.id, "failed", {"code": "rate_limit_exceeded", "message": "slow"}
        )
        assert failed.failed_at is not None
        assert failed.last_error is not None
        assert failed.last_error.code == "rate_limit_exceeded"
        assert store.list_steps(thread.id, run.id, order="asc").data == [done, failed]

    def test_update_step_details(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(
            thread.id,
            run.id,
            RunStep.model_validate({"step_details": {"type": "tool_calls", "tool_calls": []}}),
        )
        calls = {
            "type": "tool_calls",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}", "output": "42"},
                }
            ],
        }
        updated = store.update_step(
            thread.id,
            run.id,
            step.id,
            step_details=calls,
            usage={"completion_tokens": 1, "prompt_tokens": 1, "total_tokens": 2},
        )
        assert updated.model_dump(mode="json")["step_details"] == calls
        assert store.get_step(thread.id, run.id, step.id) == updated

    def test_unknown_step_status(self, store: ThreadStore, thread: Thread) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
        with pytest.raises(InvalidRequestError):
            store.update_step_status(thread.id, run.id, step.id, "queued")
        assert store.get_step(thread.id, run.id, step.id) == step

"""The models are the Assistants API v2 wire format; the openai SDK's types are the oracle."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pydantic
import pytest

from threadstore.errors import CorruptDataError
from threadstore.ids import ID_PATTERN, new_id
from threadstore.models import (
    Message,
    MessageDeleted,
    Page,
    Run,
    RunStatus,
    RunStep,
    Thread,
    ThreadDeleted,
)
from threadstore.records import RUNS, decode, encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from openai.types.beta import Thread as WireThread
    from openai.types.beta.threads import Message as WireMessage
    from openai.types.beta.threads import Run as WireRun
    from openai.types.beta.threads.runs import RunStep as WireRunStep

STEP = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
ROUND_TRIPS: list[tuple[pydantic.BaseModel, type[pydantic.BaseModel]]] = [
    (Thread(metadata={"a": "b"}), WireThread),
    (Message.user("hi", thread_id="thread_1"), WireMessage),
    (
        Message.assistant("hey", thread_id="thread_1", run_id="run_1", assistant_id="asst_1"),
        WireMessage,
    ),
    (Run(assistant_id="asst_1", model="m", thread_id="thread_1"), WireRun),
    (
        RunStep.model_validate(
            {"step_details": STEP, "thread_id": "thread_1", "run_id": "run_1", "assistant_id": "a"}
        ),
        WireRunStep,
    ),
]


@pytest.mark.parametrize(("ours", "theirs"), ROUND_TRIPS, ids=lambda v: type(v).__name__)
def test_wire_fields_match_the_openai_sdk(
    ours: pydantic.BaseModel, theirs: type[pydantic.BaseModel]
) -> None:
    wire = ours.model_dump(mode="json")
    assert set(wire) == set(theirs.model_fields)
    parsed = theirs.model_validate(wire)
    assert parsed.model_dump(mode="json") == wire


def test_nullable_fields_are_present_as_null() -> None:
    wire = Run(assistant_id="asst_1").model_dump(mode="json")
    for field in ["required_action", "last_error", "started_at", "usage", "incomplete_details"]:
        assert field in wire
        assert wire[field] is None
    assert wire["object"] == "thread.run"
    assert wire["status"] == "queued"
    assert wire["truncation_strategy"] == {"type": "auto", "last_messages": None}


def test_object_names() -> None:
    assert ThreadDeleted(id="thread_1").model_dump() == {
        "id": "thread_1",
        "object": "thread.deleted",
        "deleted": True,
    }
    assert MessageDeleted(id="msg_1").object == "thread.message.deleted"
    assert Page[Thread].of([], False).object == "list"


def test_message_helpers() -> None:
    message = Message.user("hello")
    assert message.role == "user"
    assert message.text == "hello"
    assert message.content[0].model_dump() == {
        "type": "text",
        "text": {"value": "hello", "annotations": []},
    }
    parts = Message(
        role="assistant",
        content=[
            {"type": "text", "text": "a"},
            {"type": "refusal", "refusal": "no"},
            {"type": "text", "text": "b"},
        ],
    )
    assert parts.text == "a\nb"


def test_message_create_params_shape_is_accepted() -> None:
    message = Message(role="user", content=[{"type": "text", "text": "plain"}])
    assert message.text == "plain"


def test_step_type_is_inferred_and_checked() -> None:
    assert RunStep.model_validate({"step_details": STEP}).type == "message_creation"
    with pytest.raises(pydantic.ValidationError, match="does not match"):
        RunStep.model_validate({"type": "tool_calls", "step_details": STEP})


def test_terminal_statuses() -> None:
    terminal = {s.value for s in RunStatus if s.is_terminal}
    assert terminal == {"cancelled", "failed", "completed", "incomplete", "expired"}


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "a b", "x" * 65, "\x00", "é"])
def test_unsafe_ids_are_refused_at_construction(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        Thread(id=bad)
    with pytest.raises(pydantic.ValidationError):
        Message.user("x", thread_id=bad)


@pytest.mark.parametrize(
    "metadata",
    [{f"k{i}": "v" for i in range(17)}, {"k" * 65: "v"}, {"k": "v" * 513}, {"k": 1}],
)
def test_metadata_limits(metadata: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError, match="metadata"):
        Thread(metadata=metadata)


def test_assignments_are_validated() -> None:
    thread = Thread()
    with pytest.raises(pydantic.ValidationError):
        thread.metadata = {"k": "v" * 513}
    with pytest.raises(pydantic.ValidationError):
        Run(assistant_id="a").status = "done"  # type: ignore[assignment]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra"):
        Thread.model_validate({"id": "thread_1", "surprise": 1})


def test_stored_records_keep_fields_a_newer_version_wrote() -> None:
    """Strict on what callers write, tolerant of what storage holds: every backend reads
    through ``decode`` and writes through ``encode``, so unknown fields (top level and
    nested) survive a read, a change and a write. A stored record that breaks a known
    field's rule is still corrupt."""
    wire = Run(assistant_id="asst_1").model_dump(mode="json")
    wire["reasoning_effort_v9"] = "deep"
    wire["usage"] = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cached": 1}
    run = decode(RUNS, json.dumps(wire), "a test")
    changed = run.model_copy(update={"metadata": {"k": "v"}})
    assert json.loads(encode(changed)) == {**wire, "metadata": {"k": "v"}}
    with pytest.raises(CorruptDataError):
        decode(RUNS, json.dumps({**wire, "status": "exploded"}), "a test")


def test_generated_ids_are_safe_unique_and_sorted() -> None:
    ids = [new_id("msg") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(ID_PATTERN.fullmatch(i) for i in ids)
    assert all(len(i) == len("msg_") + 26 for i in ids)

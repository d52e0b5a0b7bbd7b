"""The models are the Assistants API v2 and Conversations wire formats; the openai SDK's
types are the oracle."""

from __future__ import annotations

import json
import typing
import warnings
from typing import Any

import pydantic
import pytest
from openai.types.conversations import Conversation as WireConversation
from openai.types.conversations import ConversationDeletedResource as WireDeleted
from openai.types.conversations import ConversationItem as WireConversationItem
from openai.types.conversations import ConversationItemList as WireItemList
from pydantic import TypeAdapter

from threadstore.errors import CorruptDataError
from threadstore.ids import ID_PATTERN, new_id
from threadstore.models import (
    Conversation,
    ConversationDeleted,
    ConversationItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    Item,
    Message,
    MessageDeleted,
    MessageItem,
    OtherItem,
    Page,
    ReasoningItem,
    Run,
    RunStatus,
    RunStep,
    Thread,
    ThreadDeleted,
)
from threadstore.records import RUNS, decode, decode_many, encode
from threadstore.testing.sample_items import MODELLED, SAMPLE_ITEMS

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


def test_a_page_of_stored_records_decodes_in_one_call_or_else_one_at_a_time() -> None:
    """``decode_many`` gives what ``decode`` gives each record. A record the one call
    cannot take as it stands (a newer version's field), or data holding two records
    where one was stored, sends the page through ``decode`` one by one: the unknown
    field is kept, and the damage is named."""
    runs = [Run(assistant_id=f"asst_{n}") for n in range(3)]
    datas = [encode(run) for run in runs]
    assert RUNS.parse_json_many(datas) == runs
    assert decode_many(RUNS, [data.decode() for data in datas], lambda _: "a test") == runs
    newer = {**json.loads(datas[1]), "reasoning_effort_v9": "deep"}
    mixed = [datas[0], json.dumps(newer).encode(), datas[2]]
    assert RUNS.parse_json_many(mixed) is None
    assert [json.loads(encode(run)) for run in decode_many(RUNS, mixed, lambda _: "a test")] == [
        json.loads(data) for data in mixed
    ]
    two_in_one = [datas[0] + b"," + datas[1]]
    assert RUNS.parse_json_many(two_in_one) is None
    with pytest.raises(CorruptDataError, match="a test"):
        decode_many(RUNS, two_in_one, lambda _: "a test")


def test_generated_ids_are_safe_unique_and_sorted() -> None:
    ids = [new_id("msg") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(ID_PATTERN.fullmatch(i) for i in ids)
    assert all(len(i) == len("msg_") + 26 for i in ids)


# --- conversations: the openai SDK's `openai.types.conversations` is the oracle --------

CONVERSATION_ITEMS = TypeAdapter(ConversationItem)
WIRE_ITEMS: TypeAdapter[Any] = TypeAdapter(WireConversationItem)
EVERY_SAMPLE = {**SAMPLE_ITEMS, **MODELLED}


def _wire_types() -> dict[str, type[pydantic.BaseModel]]:
    """Each member of the SDK's item union, by the ``type`` it carries."""
    union = typing.get_args(WireConversationItem)[0]
    members = {}
    for member in typing.get_args(union):
        [kind] = typing.get_args(member.model_fields["type"].annotation)
        members[kind] = member
    return members


def test_samples_cover_every_item_type_of_the_sdk() -> None:
    assert set(SAMPLE_ITEMS) == set(_wire_types())


@pytest.mark.parametrize("name", sorted(EVERY_SAMPLE))
def test_every_item_type_round_trips_and_the_sdk_parses_it(name: str) -> None:
    sample = EVERY_SAMPLE[name]
    item = CONVERSATION_ITEMS.validate_python(sample)
    modelled: dict[str, type[Item]] = {
        "message": MessageItem,
        "function_call": FunctionCallItem,
        "function_call_output": FunctionCallOutputItem,
        "reasoning": ReasoningItem,
    }
    assert type(item) is modelled.get(sample["type"], OtherItem)
    wire = item.model_dump(mode="json")
    assert wire == sample
    assert json.loads(item.model_dump_json()) == sample
    parsed = WIRE_ITEMS.validate_python(wire)
    assert type(parsed) is _wire_types()[sample["type"]]
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == wire


def test_conversation_wire_shape() -> None:
    conversation = Conversation(metadata={"user": "u1"})
    wire = conversation.model_dump(mode="json")
    assert set(wire) == set(WireConversation.model_fields)
    assert WireConversation.model_validate(wire).model_dump(mode="json") == wire
    assert wire["object"] == "conversation"
    assert conversation.id.startswith("conv_")
    deleted = ConversationDeleted(id=conversation.id).model_dump(mode="json")
    assert WireDeleted.model_validate(deleted).model_dump(mode="json") == deleted
    assert deleted == {"id": conversation.id, "object": "conversation.deleted", "deleted": True}


def test_a_page_of_items_is_a_conversation_item_list() -> None:
    items = [CONVERSATION_ITEMS.validate_python(sample) for sample in SAMPLE_ITEMS.values()]
    page = Page[ConversationItem].of(items, True)
    wire = page.model_dump(mode="json")
    parsed = WireItemList.model_validate(wire)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == wire
    assert [type(item).__name__ for item in parsed.data] == [
        _wire_types()[sample["type"]].__name__ for sample in SAMPLE_ITEMS.values()
    ]


@pytest.mark.parametrize(
    ("given", "content"),
    [
        ({"role": "user", "content": "hi"}, [{"type": "input_text", "text": "hi"}]),
        (
            {"role": "developer", "content": "brief"},
            [{"type": "input_text", "text": "brief"}],
        ),
        (
            {"role": "assistant", "content": "hello", "type": "message"},
            [{"type": "output_text", "text": "hello", "annotations": []}],
        ),
    ],
)
def test_the_short_input_form_becomes_a_message(
    given: dict[str, Any], content: list[dict[str, Any]]
) -> None:
    item = CONVERSATION_ITEMS.validate_python(given)
    assert isinstance(item, MessageItem)
    wire = item.model_dump(mode="json")
    assert wire == {
        "id": item.id,
        "type": "message",
        "role": given["role"],
        "content": content,
        "status": "completed",
    }
    assert item.id.startswith("msg_")
    assert WIRE_ITEMS.validate_python(wire).model_dump(mode="json", exclude_unset=True) == wire


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        ("message", "msg_"),
        ("function_call", "fc_"),
        ("function_call_output", "fco_"),
        ("reasoning", "rs_"),
        ("web_search_call", "ws_"),
        ("mcp_call", "mcp_"),
        ("hologram_call", "item_"),
    ],
)
def test_missing_item_ids_get_the_types_prefix(kind: str, prefix: str) -> None:
    sample = {key: value for key, value in EVERY_SAMPLE.get(kind, {"type": kind}).items()}
    sample.pop("id", None)
    assert CONVERSATION_ITEMS.validate_python(sample).id.startswith(prefix)
    sample["id"] = None
    made = CONVERSATION_ITEMS.validate_python(sample).id
    assert made.startswith(prefix)
    assert ID_PATTERN.fullmatch(made)


def test_item_models_are_complete_inputs() -> None:
    assert MessageItem(role="user", content="hi").text == "hi"
    call = FunctionCallItem(call_id="call_1", name="f", arguments="{}")
    assert (call.id[:3], call.status) == ("fc_", "completed")
    reasoning = ReasoningItem(id="rs_1")
    assert reasoning.model_dump(mode="json") == {"id": "rs_1", "type": "reasoning", "summary": []}


def test_a_newer_item_type_is_kept_as_given() -> None:
    newer = {
        "id": "holo_1",
        "type": "hologram_call",
        "status": "projecting",
        "frames": [{"t": 0, "pixels": None}, {"t": 1.5, "nested": {"deep": [True, "x"]}}],
    }
    item = CONVERSATION_ITEMS.validate_python(newer)
    assert isinstance(item, OtherItem)
    assert item.model_dump(mode="json") == newer
    assert json.loads(item.model_dump_json()) == newer


def test_fields_a_newer_api_adds_are_kept_and_optional_ones_shown_with_a_value() -> None:
    given = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "x", "annotations": [], "cache_hint": None}],
        "trace": {"span": "s1", "parent": None},
    }
    item = CONVERSATION_ITEMS.validate_python({**given, "phase": None})
    assert isinstance(item, MessageItem)
    assert item.model_dump(mode="json") == given  # a known optional field shows a value
    assert json.loads(item.model_dump_json()) == given
    item.phase = "final_answer"
    assert item.model_dump(mode="json") == {**given, "phase": "final_answer"}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "message", "role": "robot", "content": []},  # a modelled type is checked
        {"type": "message", "content": "no role"},
        {"type": "function_call", "name": "f", "arguments": "{}"},  # no call_id
        {"type": "function_call_output", "call_id": "c", "output": 3},
        {"type": "reasoning", "summary": [{"type": "summary_text"}]},
        {"id": "x_1"},  # no type
        {"type": "", "id": "x_1"},
        {"type": "web_search_call", "id": "../etc"},
        {"type": "web_search_call", "id": ""},
        {"role": "user", "content": [{"text": "no type"}]},
    ],
)
def test_bad_items_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        CONVERSATION_ITEMS.validate_python(bad)


def test_other_item_refuses_a_modelled_type() -> None:
    with pytest.raises(pydantic.ValidationError, match="is a message item"):
        OtherItem(type="message", role="user", content="hi")

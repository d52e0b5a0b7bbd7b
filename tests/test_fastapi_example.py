"""The FastAPI example, started as its docstring says (``uvicorn examples.fastapi_app:app``,
the store from ``THREADSTORE_URL``) and driven by the real ``openai`` client.

Every object the server returns is parsed into the SDK's own types and compared field by
field with what the store holds (the test opens the same local store the server writes),
so the wire format is checked by the client people use. Runs are played by the example's
scripted assistant; the SDK's ``*_poll`` helpers wait for them as they would for OpenAI.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import openai
import pydantic
import pytest
import uvicorn
from openai.types.beta import FunctionToolParam

from threadstore import aio, open_store
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import BackendError, ConflictError
from threadstore.protocol import ThreadStore
from threadstore.testing.sample_items import MODELLED, SAMPLE_ITEMS

pytestmark = pytest.mark.filterwarnings(
    "ignore:The Assistants API is deprecated:DeprecationWarning"
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fastapi_app.py"
BOUND = 60.0
"""How long a server may take to start or stop: a bound, not an expectation."""
POLL = 20
"""Poll interval (ms) for the SDK's *_poll helpers."""
TOOL: FunctionToolParam = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object"}},
}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the app's generic models through it
    spec.loader.exec_module(module)
    return module


fastapi_app = load_example()


def documented_command() -> list[str]:
    """The first ``uvicorn ...`` command of the example's docstring, as a user types it."""
    assert fastapi_app.__doc__ is not None
    found = re.search(r"^\s+(uvicorn examples\.fastapi_app:app)\b", fastapi_app.__doc__, re.M)
    assert found, "the example's docstring no longer says how to start it"
    return found.group(1).split()


class Uvicorn:
    """``uvicorn`` run as a user runs it, in a subprocess, on a free loopback port."""

    def __init__(
        self, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        command = [sys.executable, "-m", *args, "--host", "127.0.0.1", "--port", "0"]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self._ready = threading.Event()
        self._workers = workers
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(BOUND) or self.process.poll() is not None:
            self.stop()
            raise AssertionError("uvicorn did not start:\n" + "".join(self.log))
        found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", "".join(self.log))
        assert found, self.log
        self.url = found.group(1)

    def _read(self) -> None:
        assert self.process.stderr is not None
        started = 0
        for line in self.process.stderr:  # drained to the end, so uvicorn never blocks
            self.log.append(line)
            started += "Application startup complete" in line
            if started == self._workers and any("Uvicorn running on" in s for s in self.log):
                self._ready.set()
        self._ready.set()

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)

    def stop(self) -> int:
        """Stop it as Ctrl-C does; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(BOUND)
        self._reader.join(BOUND)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Uvicorn, str]]:
    """The example as documented, over a local store the tests open too."""
    url = f"file://{tmp_path_factory.mktemp('example') / 'store'}?durable=false"
    server = Uvicorn(*documented_command(), env={"THREADSTORE_URL": url})
    yield server, url
    assert server.stop() == 0
    assert "Application shutdown complete" in "".join(server.log)
    assert "Traceback" not in "".join(server.log), "".join(server.log)


@pytest.fixture
def client(served: tuple[Uvicorn, str]) -> Iterator[openai.OpenAI]:
    with served[0].client() as sdk:
        yield sdk


@pytest.fixture
def store(served: tuple[Uvicorn, str]) -> Iterator[ThreadStore]:
    """The store the server writes, opened by the test (local disk: many processes)."""
    with open_store(served[1]) as opened:
        yield opened


def assert_same(sdk_object: pydantic.BaseModel, ours: pydantic.BaseModel) -> None:
    """The SDK parsed every field we sent into its own typed fields, with our values."""
    assert sdk_object.model_dump(mode="json", exclude_unset=True) == ours.model_dump(mode="json")
    assert_no_extras(sdk_object)


def assert_no_extras(value: Any) -> None:
    if isinstance(value, pydantic.BaseModel):
        assert not value.model_extra, f"{type(value).__name__} got unknown {value.model_extra}"
        for field in type(value).model_fields:
            assert_no_extras(getattr(value, field))
    elif isinstance(value, list):
        for item in value:
            assert_no_extras(item)


# --- threads and messages ---------------------------------------------------------------


def test_threads_round_trip(client: openai.OpenAI, store: ThreadStore) -> None:
    created = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "hello", "metadata": {"n": "1"}},
            {"role": "assistant", "content": [{"type": "text", "text": "hi there"}]},
        ],
        metadata={"user": "u1"},
        tool_resources={"code_interpreter": {"file_ids": ["file_1"]}},
    )
    assert isinstance(created, openai.types.beta.Thread)
    assert_same(created, store.get_thread(created.id))
    assert_same(client.beta.threads.retrieve(created.id), store.get_thread(created.id))
    assert [m.text for m in store.iter_messages(created.id)] == ["hello", "hi there"]

    updated = client.beta.threads.update(created.id, metadata={"user": "u2"})
    assert updated.metadata == {"user": "u2"}
    assert updated.tool_resources == created.tool_resources  # absent fields are left alone
    assert_same(updated, store.get_thread(created.id))

    deleted = client.beta.threads.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "thread.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.beta.threads.retrieve(created.id)
    assert missing.value.body == {
        "message": f"thread {created.id!r} not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }


def test_messages_round_trip(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create()
    sent = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="what is 2 + 2?",
        attachments=[{"file_id": "file_1", "tools": [{"type": "code_interpreter"}]}],
        metadata={"k": "v"},
    )
    assert isinstance(sent, openai.types.beta.threads.Message)
    assert sent.content[0].type == "text"
    assert sent.content[0].text.value == "what is 2 + 2?"
    assert_same(sent, store.get_message(thread.id, sent.id))

    fetched = client.beta.threads.messages.retrieve(sent.id, thread_id=thread.id)
    assert_same(fetched, store.get_message(thread.id, sent.id))

    updated = client.beta.threads.messages.update(sent.id, thread_id=thread.id, metadata={"k": "w"})
    assert updated.metadata == {"k": "w"}
    assert_same(updated, store.get_message(thread.id, sent.id))

    deleted = client.beta.threads.messages.delete(sent.id, thread_id=thread.id)
    assert (deleted.id, deleted.deleted) == (sent.id, True)
    assert deleted.object == "thread.message.deleted"
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(sent.id, thread_id=thread.id)


def test_listing_pages_like_the_api(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id
        for i in range(7)
    ]
    messages = client.beta.threads.messages

    pages = list(messages.list(thread.id, limit=3, order="asc").iter_pages())
    assert [[m.id for m in page.data] for page in pages] == [ids[0:3], ids[3:6], ids[6:7]]
    assert [page.has_more for page in pages] == [True, True, False]
    assert [m.id for m in messages.list(thread.id, limit=2)] == ids[::-1]  # auto-pagination

    first = messages.list(thread.id, limit=3)
    assert [m.id for m in first.data] == ids[:-4:-1]
    assert (first.first_id, first.last_id) == (ids[6], ids[4])  # type: ignore[attr-defined]
    ours = store.list_messages(thread.id, limit=3)
    for sdk_message, message in zip(first.data, ours.data, strict=True):
        assert_same(sdk_message, message)

    after = messages.list(thread.id, limit=2, order="asc", after=ids[1])
    assert ([m.id for m in after.data], after.has_more) == (ids[2:4], True)
    before = messages.list(thread.id, limit=2, order="asc", before=ids[5])
    assert ([m.id for m in before.data], before.has_more) == (ids[3:5], True)
    start = messages.list(thread.id, limit=5, order="desc", before=ids[2])
    assert ([m.id for m in start.data], start.has_more) == ([ids[6], ids[5], ids[4], ids[3]], False)


# --- runs and steps -----------------------------------------------------------------------


def test_a_run_is_played_to_completion(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello there"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id="asst_1",
        model="scripted",
        instructions="Be brief.",
        additional_instructions="Very brief.",
        additional_messages=[{"role": "user", "content": "and again"}],
        metadata={"k": "v"},
        temperature=0.5,
        poll_interval_ms=POLL,
    )
    assert isinstance(run, openai.types.beta.threads.Run)
    assert run.status == "completed"
    assert run.instructions == "Be brief.\n\nVery brief."
    assert run.usage is not None
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    assert run.started_at is not None
    assert run.completed_at is not None
    assert_same(run, store.get_run(thread.id, run.id))
    assert_same(
        client.beta.threads.runs.retrieve(run.id, thread_id=thread.id),
        store.get_run(thread.id, run.id),
    )

    reply = client.beta.threads.messages.list(thread.id, run_id=run.id)
    [answer] = reply.data
    assert (answer.role, answer.status, answer.assistant_id) == ("assistant", "completed", "asst_1")
    assert answer.content[0].text.value == "You said: and again"  # type: ignore[union-attr]
    assert_same(answer, store.get_message(thread.id, answer.id))

    [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert isinstance(step, openai.types.beta.threads.runs.RunStep)
    assert (step.type, step.status) == ("message_creation", "completed")
    assert step.step_details.message_creation.message_id == answer.id  # type: ignore[union-attr]
    assert_same(step, store.get_step(thread.id, run.id, step.id))
    fetched = client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id)
    assert_same(fetched, store.get_step(thread.id, run.id, step.id))


def test_a_tool_call_waits_for_its_output(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "look it up"}])
    runs = client.beta.threads.runs
    run = runs.create_and_poll(
        thread_id=thread.id, assistant_id="asst_1", tools=[TOOL], poll_interval_ms=POLL
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    [call] = run.required_action.submit_tool_outputs.tool_calls
    assert (call.function.name, call.function.arguments) == ("lookup", '{"question": "look it up"}')
    assert_same(run, store.get_run(thread.id, run.id))

    with pytest.raises(openai.BadRequestError) as wrong:
        runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": "call_other", "output": "1"}],
        )
    assert wrong.value.body["param"] == "tool_outputs"  # type: ignore[index]
    assert store.get_run(thread.id, run.id).status == "requires_action"

    done = runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "42"}],
        poll_interval_ms=POLL,
    )
    assert done.status == "completed"
    assert done.required_action is None
    assert client.beta.threads.messages.list(thread.id, limit=1).data[0].content[0].text.value == (  # type: ignore[union-attr]
        "lookup said: 42"
    )
    steps = list(runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps[0].step_details.tool_calls[0].function.output == "42"  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "42"}]
        )


def test_create_and_run_makes_the_thread_and_plays_the_run(
    client: openai.OpenAI, store: ThreadStore
) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id="asst_1",
        thread={"messages": [{"role": "user", "content": "hi"}], "metadata": {"from": "test"}},
        tool_resources={"code_interpreter": {"file_ids": ["file_9"]}},
        poll_interval_ms=POLL,
    )
    assert run.status == "completed"
    thread = store.get_thread(run.thread_id)
    assert thread.metadata == {"from": "test"}
    assert thread.tool_resources is not None
    assert [m.text for m in store.iter_messages(run.thread_id)] == ["hi", "You said: hi"]
    bare = client.beta.threads.create_and_run(assistant_id="asst_2")
    assert bare.status == "queued"
    assert store.get_run(bare.thread_id, bare.id).assistant_id == "asst_2"


def test_runs_list_auto_page_and_update(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create()
    runs = client.beta.threads.runs
    ids = [runs.create(thread.id, assistant_id=f"asst_{i}").id for i in range(25)]
    assert [r.id for r in runs.list(thread.id, limit=10)] == ids[::-1]
    pages = list(runs.list(thread.id, limit=10, order="asc").iter_pages())
    assert [len(page.data) for page in pages] == [10, 10, 5]
    after = runs.list(thread.id, limit=3, order="asc", after=ids[20])
    assert [r.id for r in after.data] == ids[21:24]
    for sdk_run, ours in zip(
        after.data,
        store.list_runs(thread.id, limit=3, order="asc", after=ids[20]).data,
        strict=True,
    ):
        assert sdk_run.id == ours.id

    updated = runs.update(ids[0], thread_id=thread.id, metadata={"note": "first"})
    assert updated.metadata == {"note": "first"}
    assert store.get_run(thread.id, ids[0]).metadata == {"note": "first"}


def test_cancel_ends_a_waiting_run_and_refuses_a_finished_one(
    client: openai.OpenAI, store: ThreadStore
) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "wait"}])
    runs = client.beta.threads.runs
    waiting = runs.create_and_poll(
        thread_id=thread.id, assistant_id="asst_1", tools=[TOOL], poll_interval_ms=POLL
    )
    assert waiting.status == "requires_action"
    cancelled = runs.cancel(waiting.id, thread_id=thread.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None
    assert_same(cancelled, store.get_run(thread.id, waiting.id))
    with pytest.raises(openai.BadRequestError) as again:
        runs.cancel(waiting.id, thread_id=thread.id)
    assert again.value.body == {
        "message": "Cannot cancel run with status 'cancelled'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_streaming_is_refused_without_writing(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread.id, assistant_id="asst_1", stream=True)
    assert caught.value.body["param"] == "stream"  # type: ignore[index]
    assert store.list_runs(thread.id).data == []


# --- conversations and items ---------------------------------------------------------------


def test_conversations_round_trip(client: openai.OpenAI, store: ThreadStore) -> None:
    created = client.conversations.create(
        items=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"role": "assistant", "content": "hello"},
        ],
        metadata={"user": "u1"},
    )
    assert isinstance(created, openai.types.conversations.Conversation)
    assert_same(created, store.get_conversation(created.id))
    assert_same(client.conversations.retrieve(created.id), store.get_conversation(created.id))
    stored = list(store.iter_items(created.id))
    assert [(i.type, getattr(i, "role", None)) for i in stored] == [
        ("message", "user"),
        ("message", "assistant"),
    ]

    updated = client.conversations.update(created.id, metadata={"user": "u2"})
    assert updated.metadata == {"user": "u2"}
    assert_same(updated, store.get_conversation(created.id))

    deleted = client.conversations.delete(created.id)
    assert isinstance(deleted, openai.types.conversations.ConversationDeletedResource)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        created.id,
        True,
        "conversation.deleted",
    )
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(created.id)


def test_every_item_type_through_the_items_endpoints(
    client: openai.OpenAI, store: ThreadStore
) -> None:
    """Items of every type the API lists, added 20 at a time and read back by the SDK."""
    conversation = client.conversations.create()
    sent = [copy.deepcopy(item) for item in [*SAMPLE_ITEMS.values(), *MODELLED.values()]]
    items = client.conversations.items
    for start in range(0, len(sent), fastapi_app.MAX_NEW_ITEMS):
        batch = sent[start : start + fastapi_app.MAX_NEW_ITEMS]
        created = items.create(conversation.id, items=batch)  # type: ignore[arg-type]
        assert isinstance(created, openai.types.conversations.ConversationItemList)
        assert [item.id for item in created.data] == [item["id"] for item in batch]
        assert created.has_more is False

    listed = list(items.list(conversation.id, limit=7, order="asc"))  # auto-paging
    assert [item.id for item in listed] == [item["id"] for item in sent]
    for sdk_item, item in zip(listed, sent, strict=True):
        assert sdk_item.type == item["type"]
        assert sdk_item.model_dump(mode="json", by_alias=True, exclude_unset=True) == item
        assert_no_extras(sdk_item)
        ours = store.get_item(conversation.id, item["id"])
        assert ours.model_dump(mode="json") == item
    newest_first = [item.id for item in items.list(conversation.id, limit=5)]
    assert newest_first == [item["id"] for item in sent][::-1]

    one = items.retrieve(sent[3]["id"], conversation_id=conversation.id)
    assert one.model_dump(mode="json", by_alias=True, exclude_unset=True) == sent[3]
    after = items.delete(sent[3]["id"], conversation_id=conversation.id)
    assert isinstance(after, openai.types.conversations.Conversation)
    assert_same(after, store.get_conversation(conversation.id))
    with pytest.raises(openai.NotFoundError) as gone:
        items.retrieve(sent[3]["id"], conversation_id=conversation.id)
    assert gone.value.body["type"] == "not_found_error"  # type: ignore[index]
    assert len(list(items.list(conversation.id, limit=100))) == len(sent) - 1


def test_bad_item_requests_are_400_and_store_nothing(
    client: openai.OpenAI, store: ThreadStore
) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "kept"}])
    items = client.conversations.items
    bad_batches: list[Any] = [
        [{"role": "user", "content": "new"}, {"type": "message", "role": "robot", "content": "x"}],
        [{"role": "user", "content": f"m{i}"} for i in range(fastapi_app.MAX_NEW_ITEMS + 1)],
        [],
    ]
    for batch in bad_batches:
        with pytest.raises(openai.BadRequestError) as caught:
            items.create(conversation.id, items=batch)
        assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
        assert "pydantic" not in str(caught.value.body)
    no_call_id: Any = {"type": "function_call", "name": "no call id"}  # not an item: on purpose
    with pytest.raises(openai.BadRequestError):
        client.conversations.create(items=[no_call_id])
    with pytest.raises(openai.BadRequestError):
        items.list(conversation.id, after="msg_not_in_this_conversation")
    assert [i.type for i in store.iter_items(conversation.id)] == ["message"]


# --- errors ------------------------------------------------------------------------------


def test_bad_requests_are_400_in_our_words(client: openai.OpenAI, store: ThreadStore) -> None:
    thread = client.beta.threads.create()
    messages, runs = client.beta.threads.messages, client.beta.threads.runs
    bodies = []
    with pytest.raises(openai.BadRequestError) as bad_limit:
        messages.list(thread.id, limit=0)
    bodies.append(bad_limit.value.body)
    with pytest.raises(openai.BadRequestError) as bad_cursor:
        messages.list(thread.id, after="msg_not_in_this_thread")
    bodies.append(bad_cursor.value.body)
    with pytest.raises(openai.BadRequestError) as bad_role:
        messages.create(thread.id, role="system", content="x")  # type: ignore[arg-type]
    assert bad_role.value.body["param"] == "role"  # type: ignore[index]
    assert bad_role.value.body["message"] == (  # type: ignore[index]
        "Invalid value for 'role': expected 'user' or 'assistant'."
    )
    bodies.append(bad_role.value.body)
    with pytest.raises(openai.BadRequestError) as too_many:
        client.beta.threads.create(metadata={f"k{i}": "v" for i in range(17)})
    assert too_many.value.body["param"] == "metadata"  # type: ignore[index]
    bodies.append(too_many.value.body)
    with pytest.raises(openai.BadRequestError) as unsafe_id:
        client.beta.threads.retrieve("thread..evil")
    bodies.append(unsafe_id.value.body)
    with pytest.raises(openai.BadRequestError) as unknown:
        runs.create(thread.id, assistant_id="asst_1", extra_body={"colour": "blue"})
    assert unknown.value.body["message"] == "Unrecognized request argument supplied: colour"  # type: ignore[index]
    bodies.append(unknown.value.body)
    no_tool: Any = {"type": "nope"}  # not a tool: on purpose
    with pytest.raises(openai.BadRequestError) as bad_tool:
        runs.create(thread.id, assistant_id="asst_1", tools=[no_tool])
    assert bad_tool.value.body["param"] == "tools[0]"  # type: ignore[index]
    bodies.append(bad_tool.value.body)
    for body in bodies:
        assert isinstance(body, dict)
        assert set(body) == {"message", "type", "param", "code"}
        assert body["type"] == "invalid_request_error"
        text = str(body)
        assert "pydantic" not in text
        assert "Input should be" not in text
        assert "validation error" not in text
    assert store.list_messages(thread.id).data == []
    assert store.list_runs(thread.id).data == []


def test_routes_and_raw_requests_keep_the_error_shape(served: tuple[Uvicorn, str]) -> None:
    with httpx.Client(base_url=served[0].url, trust_env=False) as http:
        missing = http.get("/v1/assistants")
        thread = http.post("/v1/threads", json={}).json()
        bad_order = http.get(f"/v1/threads/{thread['id']}/messages", params={"order": "up"})
        not_json = http.post(
            "/v1/threads", content=b"{not json", headers={"content-type": "application/json"}
        )
        no_body = http.post(f"/v1/threads/{thread['id']}/runs")
        create_and_run = http.post("/v1/threads/runs", json={"assistant_id": "asst_1"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /v1/assistants)"
    assert bad_order.status_code == 400
    assert bad_order.json()["error"]["param"] == "order"
    assert not_json.status_code == 400
    assert (
        not_json.json()["error"]["message"] == "We could not parse the JSON body of your request."
    )
    assert no_body.status_code == 400
    assert no_body.json()["error"]["code"] == "missing_required_parameter"
    # POST /threads/runs is create-and-run, not "modify thread 'runs'".
    assert create_and_run.status_code == 200, create_and_run.text
    assert create_and_run.json()["object"] == "thread.run"


# --- how it starts -------------------------------------------------------------------------


def test_without_threadstore_url_it_serves_a_local_directory(tmp_path: Path) -> None:
    server = Uvicorn(
        *documented_command(), "--app-dir", str(ROOT), cwd=tmp_path, env={"THREADSTORE_URL": ""}
    )
    try:
        with server.client() as sdk:
            thread = sdk.beta.threads.create(metadata={"where": "default"})
    finally:
        assert server.stop() == 0
    with open_store(tmp_path / fastapi_app.DEFAULT_URL) as store:
        assert store.get_thread(thread.id).metadata == {"where": "default"}


def test_serving_real_traffic_from_s3_with_several_workers() -> None:
    """The docstring's production recipe: every uvicorn worker on one S3 bucket (a moto
    server on 127.0.0.1); each run is played by whichever worker took its create, and
    polled through any of them."""
    from threadstore_fsspec.testing import DUMMY_CREDENTIALS, moto_server, use_dummy_credentials

    use_dummy_credentials()
    bucket = f"example-{uuid.uuid4().hex[:8]}"
    with moto_server(bucket) as endpoint:
        url = f"s3://{bucket}/threads?endpoint_url={endpoint}"
        server = Uvicorn(
            *documented_command(),
            "--workers",
            "2",
            env={"THREADSTORE_URL": url, **DUMMY_CREDENTIALS},
            workers=2,
        )
        try:
            with server.client() as sdk:
                finished = [
                    sdk.beta.threads.create_and_run_poll(
                        assistant_id="asst_1",
                        thread={"messages": [{"role": "user", "content": f"q{i}"}]},
                        poll_interval_ms=POLL,
                    )
                    for i in range(2)
                ]
        finally:
            assert server.stop() == 0
        with open_store(url) as store:
            for i, run in enumerate(finished):
                assert run.status == "completed"
                texts = [m.text for m in store.iter_messages(run.thread_id)]
                assert texts == [f"q{i}", f"You said: q{i}"]


# --- the store under the app misbehaving ----------------------------------------------------


class InThread:
    """The app over a given store, served by uvicorn in a background thread."""

    def __init__(self, store: ThreadStore) -> None:
        self.store = aio.AsyncThreadStore(store)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(fastapi_app.create_app(self.store), log_level="warning", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})

    def __enter__(self) -> openai.OpenAI:
        self.thread.start()
        deadline = time.monotonic() + BOUND
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.server.started, "uvicorn did not start"
        self.client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        return self.client

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(BOUND)
        self.socket.close()
        assert not self.thread.is_alive()
        self.store.sync_store.close()


class LosingStore(MemoryThreadStore):
    """A store where every thread update loses its compare-and-set."""

    def update_thread(self, *args: Any, **kwargs: Any) -> Any:
        raise ConflictError("the thread changed under this update")


class FailingStore(MemoryThreadStore):
    """A store whose medium fails on reads, with a path in the error that must not leak."""

    def get_thread(self, *args: Any, **kwargs: Any) -> Any:
        raise BackendError("read failed at /srv/private/threads")


def test_conflicts_are_409() -> None:
    with InThread(LosingStore()) as client:
        thread = client.beta.threads.create()
        with pytest.raises(openai.ConflictError) as caught:
            client.beta.threads.update(thread.id, metadata={"k": "v"})
    assert caught.value.body["type"] == "conflict_error"  # type: ignore[index]


def test_storage_failures_are_500_without_details() -> None:
    with InThread(FailingStore()) as client, pytest.raises(openai.InternalServerError) as caught:
        client.beta.threads.retrieve("thread_1")
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]
    assert "/srv/private" not in str(caught.value.body)


class CountingStore(MemoryThreadStore):
    closed = 0

    def close(self) -> None:
        type(self).closed += 1
        super().close()


def test_an_app_given_a_store_leaves_it_to_its_owner() -> None:
    serving = InThread(CountingStore())
    with serving as client:
        client.beta.threads.create()
        serving.server.should_exit = True
        serving.thread.join(BOUND)
        assert CountingStore.closed == 0  # the app stopped; the store is its owner's to close


class HeldReplyStore(MemoryThreadStore):
    """The assistant's reply waits at a gate, so a run can be cancelled while it is played."""

    def __init__(self) -> None:
        super().__init__()
        self.replying = threading.Event()
        self.gate = threading.Event()

    def append_message(self, thread_id: str, message: Any) -> Any:
        if message.role == "assistant":
            self.replying.set()
            assert self.gate.wait(BOUND)
        return super().append_message(thread_id, message)


def test_a_run_cancelled_while_played_ends_cancelled() -> None:
    store = HeldReplyStore()
    with InThread(store) as client:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "slow"}])
        run = client.beta.threads.runs.create(thread.id, assistant_id="asst_1")
        assert store.replying.wait(BOUND)
        cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
        assert cancelling.status == "cancelling"
        store.gate.set()
        ended = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=POLL)
    assert ended.status == "cancelled"
    assert ended.completed_at is None

"""``ThreadStoreSession`` driven by the OpenAI Agents SDK itself, on real stores.

The SDK's ``Runner`` runs an agent over several turns against a scripted ``Model`` (no
network), with the history in a threadstore conversation. The session's own semantics
are those the SDK's ``SQLiteSession`` is held to: the latest ``limit`` items oldest
first, ``limit`` 0 or past the end, popping an empty session, sessions kept apart, list
input appended. Every item the session returns must be an item the Responses API takes
as input: the ``openai`` SDK's ``ResponseInputItemParam``, with no unknown field.
"""

from __future__ import annotations

import copy
import multiprocessing
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.items import ModelResponse, TResponseInputItem, TResponseOutputItem
from agents.memory import Session, SessionSettings
from agents.models.chatcmpl_converter import Converter
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseInputItemParam,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_reasoning_item import Summary
from pydantic import ConfigDict, TypeAdapter
from threadstore_fsspec.testing import DUMMY_CREDENTIALS, moto_server

from threadstore import Conversation, open_store
from threadstore.errors import InvalidRequestError
from threadstore.integrations.agents import ThreadStoreSession
from threadstore.protocol import ThreadStore
from threadstore.testing import workers

pytestmark = pytest.mark.anyio

RESPONSES_INPUT: TypeAdapter[Any] = TypeAdapter(
    ResponseInputItemParam, config=ConfigDict(extra="forbid")
)
NO_TRACING = RunConfig(tracing_disabled=True)
BUCKET = "threadstore-session-tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the Agents SDK runs on asyncio


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1, reached with dummy credentials (this module's only)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        with moto_server(BUCKET) as endpoint:
            yield endpoint


@pytest.fixture(params=["memory", "example", "file", "s3", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://agents-{uuid.uuid4().hex}"
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        return f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={endpoint}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return f"{request.param}://{tmp_path / 'store'}"


@pytest.fixture
def sessions(store_url: str) -> Iterator[Callable[[str], ThreadStoreSession]]:
    """Open sessions on the store; all are closed at teardown."""
    opened: list[ThreadStoreSession] = []

    def open_session(session_id: str) -> ThreadStoreSession:
        session = ThreadStoreSession(session_id, store_url)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


@pytest.fixture
def session(sessions: Callable[[str], ThreadStoreSession]) -> ThreadStoreSession:
    return sessions("conv_session")


class ScriptedModel(Model):
    """A model that answers each call with the next scripted output, noting its input."""

    def __init__(self, *turns: list[TResponseOutputItem]) -> None:
        self.turns = list(turns)
        self.inputs: list[list[TResponseInputItem]] = []

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        assert isinstance(input, list), "with a session, the Runner sends a list of items"
        self.inputs.append(copy.deepcopy(input))
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("this script does not stream")


def answer(text: str, item_id: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=item_id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def weather_call(call_id: str, city: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=f"fc_{call_id}",
        call_id=call_id,
        name="get_weather",
        arguments=f'{{"city": "{city}"}}',
        type="function_call",
        status="completed",
    )


def thinking(text: str, item_id: str) -> ResponseReasoningItem:
    return ResponseReasoningItem(
        id=item_id, type="reasoning", summary=[Summary(text=text, type="summary_text")]
    )


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def outline(items: list[TResponseInputItem]) -> list[tuple[str, str]]:
    """Each item's type and what it says: its text, call or output."""
    shown = []
    for item in items:
        data: dict[str, Any] = dict(item)
        kind = data.get("type", "message")
        if kind == "message":
            content = data["content"]
            text = content if isinstance(content, str) else content[0]["text"]
            shown.append((f"{data['role']} message", text))
        elif kind == "function_call":
            shown.append(("function_call", f"{data['call_id']} {data['arguments']}"))
        elif kind == "function_call_output":
            shown.append(("function_call_output", f"{data['call_id']} {data['output']}"))
        else:
            shown.append((kind, data["summary"][0]["text"]))
    return shown


def assert_responses_input(items: list[TResponseInputItem]) -> None:
    """Every item is one the Responses API takes as input, with no field it does not know."""
    for item in items:
        RESPONSES_INPUT.validate_python(item)


# --- the Runner ---------------------------------------------------------------------


async def test_the_runner_keeps_history_over_turns(
    sessions: Callable[[str], ThreadStoreSession],
) -> None:
    model = ScriptedModel(
        [thinking("needs the weather", "rs_1"), weather_call("call_1", "Paris")],
        [answer("Sunny in Paris.", "msg_a1")],
        [answer("Probably sunny again.", "msg_a2")],
        [weather_call("call_2", "Rome")],
        [answer("Rome is sunny too.", "msg_a3")],
    )
    agent = Agent(name="forecaster", model=model, tools=[get_weather])
    session = sessions("conv_turns")
    first = await Runner.run(agent, "Weather in Paris?", session=session, run_config=NO_TRACING)
    second = await Runner.run(agent, "And tomorrow?", session=session, run_config=NO_TRACING)
    # A new session object on the same store, as a restarted server would open.
    again = sessions("conv_turns")
    third = await Runner.run(agent, "What about Rome?", session=again, run_config=NO_TRACING)
    assert (first.final_output, second.final_output, third.final_output) == (
        "Sunny in Paris.",
        "Probably sunny again.",
        "Rome is sunny too.",
    )
    turn_one = [
        ("user message", "Weather in Paris?"),
        ("reasoning", "needs the weather"),
        ("function_call", 'call_1 {"city": "Paris"}'),
        ("function_call_output", "call_1 sunny in Paris"),
        ("assistant message", "Sunny in Paris."),
    ]
    turn_two = [("user message", "And tomorrow?"), ("assistant message", "Probably sunny again.")]
    assert outline(model.inputs[2]) == [*turn_one, ("user message", "And tomorrow?")]
    assert outline(model.inputs[3]) == [*turn_one, *turn_two, ("user message", "What about Rome?")]
    history = await again.get_items()
    assert outline(history) == [
        *turn_one,
        *turn_two,
        ("user message", "What about Rome?"),
        ("function_call", 'call_2 {"city": "Rome"}'),
        ("function_call_output", "call_2 sunny in Rome"),
        ("assistant message", "Rome is sunny too."),
    ]
    assert model.inputs[4][:-3] == history[:-4], "the model saw the history as stored"
    assert_responses_input(history)


async def test_stored_items_are_what_a_chat_completions_model_takes_too(
    session: ThreadStoreSession,
) -> None:
    """Providers reached through Chat Completions get the history converted by the SDK."""
    model = ScriptedModel([weather_call("call_1", "Oslo")], [answer("Cold.", "msg_1")])
    agent = Agent(name="a", model=model, tools=[get_weather])
    await Runner.run(agent, "Weather in Oslo?", session=session, run_config=NO_TRACING)
    messages = Converter.items_to_messages(await session.get_items())
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[2]["content"] == "sunny in Oslo"


async def test_list_input_is_appended_to_the_history(session: ThreadStoreSession) -> None:
    await session.add_items(
        [{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "Saved"}]
    )
    history = await session.get_items()
    model = ScriptedModel([answer("Done.", "msg_1")])
    given: list[TResponseInputItem] = [{"role": "user", "content": "Now this"}]
    await Runner.run(Agent(name="a", model=model), given, session=session, run_config=NO_TRACING)
    assert model.inputs[0] == [*history, *given]
    assert outline(await session.get_items()) == [
        ("user message", "Earlier"),
        ("assistant message", "Saved"),
        ("user message", "Now this"),
        ("assistant message", "Done."),
    ]


async def test_the_short_input_form_comes_back_as_full_items(session: ThreadStoreSession) -> None:
    """What the SDK hands over without ``type`` or ``id`` comes back as Responses input."""
    given: list[TResponseInputItem] = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Answer in English."},
        {"role": "user", "content": "hi"},
        {"role": "user", "content": [{"type": "input_text", "text": "and this"}]},
        {"role": "assistant", "content": "hello"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    await session.add_items(given)
    got = await session.get_items()
    assert_responses_input(got)
    assert got[:3] == [
        {
            "type": "message",
            "role": role,
            "content": [{"type": "input_text", "text": text}],
            "status": "completed",
        }
        for role, text in [
            ("system", "Be brief."),
            ("developer", "Answer in English."),
            ("user", "hi"),
        ]
    ]
    assistant, output = got[4], got[5]
    assert assistant["content"] == [{"type": "output_text", "text": "hello", "annotations": []}]  # type: ignore[typeddict-item]
    assert str(assistant.get("id")).startswith("msg_")
    assert str(output.get("id")).startswith("fco_")
    assert (output.get("call_id"), output.get("output")) == ("call_1", "42")


async def test_items_the_sdk_made_come_back_as_they_were(session: ThreadStoreSession) -> None:
    """The Runner's own items (model output, with IDs) round-trip exactly."""
    # Input items as the SDK makes them: an output item's dump (as RunItem.to_input_item
    # does), and an item with the SDK's own provider_data, which no input TypedDict declares.
    made: list[TResponseInputItem] = [
        cast(TResponseInputItem, answer("hi", "msg_1").model_dump(exclude_unset=True)),
        cast(TResponseInputItem, weather_call("call_1", "Paris").model_dump(exclude_unset=True)),
        cast(TResponseInputItem, thinking("hmm", "rs_1").model_dump(exclude_unset=True)),
        cast(
            TResponseInputItem,
            {
                "id": "rs_2",
                "type": "reasoning",
                "summary": [],
                "encrypted_content": "gAAAA-opaque",
                "provider_data": {"model": "other"},
            },
        ),
    ]
    await session.add_items(copy.deepcopy(made))
    assert await session.get_items() == made


async def test_a_model_that_repeats_item_ids(session: ThreadStoreSession) -> None:
    """A repeated ``id`` cannot name a second item: that item gets a new one."""
    model = ScriptedModel([answer("one", "msg_same")], [answer("two", "msg_same")])
    agent = Agent(name="a", model=model)
    await Runner.run(agent, "first", session=session, run_config=NO_TRACING)
    await Runner.run(agent, "second", session=session, run_config=NO_TRACING)
    history = await session.get_items()
    assert [text for _, text in outline(history)] == ["first", "one", "second", "two"]
    assert history[1].get("id") == "msg_same"
    assert str(history[3].get("id")).startswith("msg_")
    assert history[3].get("id") != "msg_same"
    await session.add_items([answer("x", "msg_twice"), answer("y", "msg_twice")])  # type: ignore[list-item]
    answers = [item for item in await session.get_items() if item.get("role") == "assistant"]
    assert len({item.get("id") for item in answers}) == 4


async def test_placeholder_ids_are_no_ids(session: ThreadStoreSession) -> None:
    """Providers without item IDs give the SDK's placeholder, which is no ID at all."""
    placeholder = "__fake_id__"
    await session.add_items(
        [
            # An ID on a message given by role and text: no input TypedDict has both.
            cast(
                TResponseInputItem,
                {"id": placeholder, "type": "message", "role": "assistant", "content": "a"},
            ),
            {
                "id": placeholder,
                "type": "function_call",
                "call_id": "c",
                "name": "f",
                "arguments": "{}",
            },
        ]
    )
    ids = [item.get("id") for item in await session.get_items()]
    assert [str(i).split("_")[0] for i in ids] == ["msg", "fc"]
    assert placeholder not in ids


# --- the Session protocol, as SQLiteSession keeps it ------------------------------------


async def test_it_is_an_sdk_session(session: ThreadStoreSession) -> None:
    assert isinstance(session, Session)
    assert session.session_id == "conv_session"


async def test_get_items_with_a_limit(session: ThreadStoreSession) -> None:
    texts = [f"m{i}" for i in range(6)]
    await session.add_items([{"role": "user", "content": text} for text in texts])

    async def latest(limit: int | None) -> list[str]:
        return [text for _, text in outline(await session.get_items(limit))]

    assert await latest(None) == texts
    assert await latest(2) == texts[-2:]
    assert await latest(4) == texts[-4:]
    assert await latest(10) == texts
    assert await latest(0) == []
    with pytest.raises(ValueError, match="limit"):
        await session.get_items(-1)


async def test_the_limit_reaches_past_one_page(session: ThreadStoreSession) -> None:
    await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(230)])
    latest = await session.get_items(150)
    assert [text for _, text in outline(latest)] == [f"m{i}" for i in range(80, 230)]


@pytest.mark.parametrize("settings", [SessionSettings(limit=2), {"limit": 2}])
async def test_session_settings_give_the_default_limit(store_url: str, settings: Any) -> None:
    session = ThreadStoreSession("conv_s", store_url, session_settings=settings)
    try:
        await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(5)])
        assert [text for _, text in outline(await session.get_items())] == ["m3", "m4"]
        assert len(await session.get_items(limit=4)) == 4
    finally:
        session.close()


async def test_pop_item(session: ThreadStoreSession) -> None:
    assert await session.pop_item() is None  # never used
    await session.add_items(
        [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi there!"},
            {"role": "user", "content": "How are you?"},
        ]
    )
    popped = []
    while (item := await session.pop_item()) is not None:
        popped.append(item)
    assert [text for _, text in outline(popped)] == ["How are you?", "Hi there!", "Hello"]
    assert await session.get_items() == []
    assert await session.pop_item() is None


async def test_sessions_are_kept_apart(sessions: Callable[[str], ThreadStoreSession]) -> None:
    one, two = sessions("conv_one"), sessions("conv_two")
    await one.add_items([{"role": "user", "content": "one"}])
    await two.add_items(
        [{"role": "user", "content": "two a"}, {"role": "user", "content": "two b"}]
    )
    popped = await two.pop_item()
    assert popped is not None
    assert outline([popped]) == [("user message", "two b")]
    assert outline(await one.get_items()) == [("user message", "one")]
    assert outline(await two.get_items()) == [("user message", "two a")]
    await one.clear_session()
    assert await one.get_items() == []
    assert outline(await two.get_items()) == [("user message", "two a")]


async def test_clear_session(session: ThreadStoreSession) -> None:
    await session.clear_session()  # never used: nothing to clear
    await session.add_items([{"role": "user", "content": "x"}])
    await session.clear_session()
    assert await session.get_items() == []
    await session.add_items([{"role": "user", "content": "y"}])
    assert outline(await session.get_items()) == [("user message", "y")]


async def test_add_items_is_one_batch(session: ThreadStoreSession) -> None:
    await session.add_items([{"role": "user", "content": "kept"}])
    no_call_id: Any = {"type": "function_call", "name": "no call id"}  # not an item: on purpose
    with pytest.raises(InvalidRequestError):
        await session.add_items([{"role": "user", "content": "new"}, no_call_id])
    assert outline(await session.get_items()) == [("user message", "kept")]
    await session.add_items([])
    assert len(await session.get_items()) == 1


async def test_concurrent_pops_never_return_the_same_item(
    sessions: Callable[[str], ThreadStoreSession],
) -> None:
    first = sessions("conv_pops")
    await first.add_items([{"role": "user", "content": f"m{i}"} for i in range(60)])
    poppers = [first, *(sessions("conv_pops") for _ in range(5))]
    popped: list[str] = []

    async def pop_all(session: ThreadStoreSession) -> None:
        while (item := await session.pop_item()) is not None:
            popped.append(outline([item])[0][1])

    async with anyio.create_task_group() as tasks:
        for popper in poppers:
            tasks.start_soon(pop_all, popper)
    assert sorted(popped) == sorted(f"m{i}" for i in range(60))


async def test_concurrent_pops_from_processes(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    session = ThreadStoreSession("conv_pops", url)
    try:
        await session.add_items([{"role": "user", "content": f"m{i}"} for i in range(80)])
        results = workers.run_together(
            pop_until_empty,
            [(url, "conv_pops")] * 4,
            context=multiprocessing.get_context("spawn"),
            wait=120,
        )
    finally:
        session.close()
    popped = [text for texts in results for text in texts]
    assert sorted(popped) == sorted(f"m{i}" for i in range(80))


def pop_until_empty(url: str, session_id: str) -> list[str]:
    """Pop items until the session is empty; return their texts (run in a child process)."""
    session = ThreadStoreSession(session_id, url)

    async def pop_all() -> list[str]:
        texts = []
        while (item := await session.pop_item()) is not None:
            texts.append(outline([item])[0][1])
        return texts

    try:
        return anyio.run(pop_all)
    finally:
        session.close()


# --- opening and closing ---------------------------------------------------------------


async def test_a_closed_session_refuses_every_call(store_url: str) -> None:
    session = ThreadStoreSession("conv_closed", store_url)
    session.close()
    session.close()
    calls = [
        session.get_items(),
        session.add_items([]),
        session.add_items([{"role": "user", "content": "x"}]),
        session.pop_item(),
        session.clear_session(),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="closed"):
            await call


def test_the_session_id_is_a_threadstore_id(store_url: str) -> None:
    with pytest.raises(InvalidRequestError, match="session id"):
        ThreadStoreSession("../escape", store_url)


async def test_a_store_given_open_is_shared_and_left_open() -> None:
    store: ThreadStore = open_store(f"memory://agents-{uuid.uuid4().hex}")
    session = ThreadStoreSession("conv_given", store)
    await session.add_items([{"role": "user", "content": "hi"}])
    session.close()
    assert [c.id for c in store.list_conversations().data] == ["conv_given"]
    assert store.get_conversation("conv_given") == Conversation(
        id="conv_given", created_at=store.get_conversation("conv_given").created_at
    )
    with pytest.raises(TypeError, match="options"):
        ThreadStoreSession("conv_given", store, durable=False)

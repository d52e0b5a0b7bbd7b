"""An Assistants API v2 and Conversations API server over any threadstore: threads,
messages, runs and run steps, and conversations with their items.

Start it the way FastAPI apps start, from the repository's root::

    pip install -e . fastapi uvicorn
    uvicorn examples.fastapi_app:app                      # a store in ./threadstore-data
    THREADSTORE_URL=memory:// uvicorn examples.fastapi_app:app --port 8080

The store comes from ``THREADSTORE_URL`` (any URL ``threadstore.open_store`` takes),
else the local directory ``./threadstore-data``. The official ``openai`` client works
against it unchanged::

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    run = client.beta.threads.create_and_run_poll(
        assistant_id="asst_1",
        thread={"messages": [{"role": "user", "content": "hello"}]},
    )
    print(client.beta.threads.messages.list(run.thread_id).data[0].content[0].text.value)

Serving real traffic: point every process at one bucket, and run as many as you like
(each keeps no state of its own; the store's compare-and-set settles who moves a run)::

    pip install ./backends/threadstore-fsspec
    THREADSTORE_URL='s3://my-bucket/threads?region=eu-west-1' \\
        uvicorn examples.fastapi_app:app --host 0.0.0.0 --port 8000 --workers 4

Every Assistants endpoint about storage is served: threads (create, retrieve, modify,
delete), messages (create, list, retrieve, modify, delete), runs (create, create a
thread and run it, list, retrieve, modify, cancel, submit tool outputs) and run steps
(list, retrieve); ``stream=true`` is refused. So is every Conversations endpoint:
conversations (create with up to 20 items, retrieve, update, delete) and their items
(create, list, retrieve, delete), for ``client.conversations``. A conversation created
with items is two commits: if the second fails, the reply is a 500 and the
conversation exists without them (the server logs which). No model is called: runs are played by
:class:`ScriptedAssistant` in the same process. It claims a queued run, calls the
run's first function tool if it has one (the run then waits in ``requires_action`` for
the tool's output), and answers with a message written through a ``message_creation``
step. A run queued when its process stops stays queued.

Errors come back in OpenAI's envelope, ``{"error": {"message", "type", "param",
"code"}}``: 400 ``invalid_request_error``, 404 ``not_found_error``, 409
``conflict_error``, 500 ``server_error`` (details are logged, never sent).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
import pydantic
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from threadstore import aio
from threadstore.errors import (
    AlreadyExistsError,
    BackendError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ThreadStoreError,
)
from threadstore.ids import new_id
from threadstore.models import (
    Attachment,
    Conversation,
    ConversationDeleted,
    ConversationItem,
    FunctionCall,
    FunctionTool,
    FunctionToolCall,
    FunctionToolCallDetails,
    Message,
    MessageCreation,
    MessageCreationStepDetails,
    MessageDeleted,
    Metadata,
    Page,
    RequiredAction,
    RequiredToolCall,
    Run,
    RunStep,
    SubmitToolOutputs,
    Thread,
    ThreadDeleted,
    ToolCallsStepDetails,
    ToolResources,
    Usage,
)
from threadstore.settings import Settings
from threadstore.url import StoreURL

__all__ = ["DEFAULT_URL", "ScriptedAssistant", "app", "create_app"]

DEFAULT_URL = "threadstore-data"
"""Where the store is when ``THREADSTORE_URL`` is not set: a local directory."""
POLL_AFTER_MS = 100
"""Sent as ``openai-poll-after-ms`` with a run: how often the SDK's ``*_poll`` helpers ask."""
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})

log = logging.getLogger("threadstore.examples.fastapi")


# --- request bodies ---------------------------------------------------------------


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class MessageCreate(_Body):
    """The body of ``POST /threads/{id}/messages``, and of each message given with a
    thread or a run."""

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]
    attachments: list[Attachment] | None = None
    metadata: Metadata | None = None

    def to_message(self) -> Message:
        return Message(
            role=self.role,
            content=self.content,
            attachments=self.attachments or [],
            metadata=self.metadata or {},
        )


class ThreadCreate(_Body):
    messages: list[MessageCreate] = []
    metadata: Metadata | None = None
    tool_resources: ToolResources | None = None


class ThreadModify(_Body):
    metadata: Metadata | None = None
    tool_resources: ToolResources | None = None


class MessageModify(_Body):
    metadata: Metadata | None = None


class RunModify(_Body):
    metadata: Metadata | None = None


class _RunFields(_Body):
    """What a run is made of, in both ways of creating one. The run's own fields are
    checked by :class:`Run`; ``null`` means the default."""

    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: list[Any] | None = None
    metadata: Metadata | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: Any = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None
    reasoning_effort: str | None = None
    """Accepted, as the API does; the scripted assistant has nothing to reason with."""
    stream: bool | None = None

    def to_run(self) -> Run:
        _refuse_streaming(self.stream)
        given = {
            name: value
            for name, value in self.model_dump(exclude_unset=True).items()
            if value is not None and name in Run.model_fields
        }
        given["instructions"] = self._instructions()
        return Run.model_validate(given)

    def _instructions(self) -> str:
        return self.instructions or ""


class RunCreate(_RunFields):
    additional_instructions: str | None = None
    additional_messages: list[MessageCreate] | None = None

    def _instructions(self) -> str:
        parts = [self.instructions, self.additional_instructions]
        return "\n\n".join(part for part in parts if part)


class ThreadCreateAndRun(_RunFields):
    thread: ThreadCreate | None = None
    tool_resources: ToolResources | None = None


class ToolOutput(_Body):
    tool_call_id: str
    output: str


class ToolOutputs(_Body):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None


MAX_NEW_ITEMS = 20
"""Items one request may add to a conversation, as the API allows."""


class ConversationCreate(_Body):
    items: Annotated[list[dict[str, Any]], pydantic.Field(max_length=MAX_NEW_ITEMS)] = []
    metadata: Metadata | None = None


class ConversationModify(_Body):
    metadata: Metadata


class ItemsCreate(_Body):
    items: Annotated[list[dict[str, Any]], pydantic.Field(min_length=1, max_length=MAX_NEW_ITEMS)]


class Paging(pydantic.BaseModel):
    """The query of every list endpoint (other parameters, like ``include[]``, are ignored)."""

    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


class MessagePaging(Paging):
    run_id: str | None = None


class _BadRequest(Exception):
    """A request the API refuses with a 400 and a message of its own."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _refuse_streaming(stream: bool | None) -> None:
    if stream:
        raise _BadRequest(
            "Streaming is not served by this example; poll the run instead.", "stream"
        )


# --- the scripted assistant -----------------------------------------------------------


class ScriptedAssistant:
    """Plays the assistant's part in every run of this process, from a script: no model.

    A queued run is claimed with a compare-and-set (queued -> in_progress), so a run
    cancelled meanwhile, or claimed by another process, is left alone. If the run
    offers function tools and none was called yet, the first is called with the user's
    last words and the run waits in ``requires_action``; once its outputs are in, or
    when there is no tool, the reply is written (an in-progress message completed
    through a ``message_creation`` step) and the run completes with its usage. A run
    cancelled while it is being played ends ``cancelled``.
    """

    def __init__(self, store: aio.AsyncThreadStore) -> None:
        self.store = store
        self._send, self._receive = anyio.create_memory_object_stream[tuple[str, str]](math.inf)

    def enqueue(self, thread_id: str, run_id: str) -> None:
        """Have the run played as soon as the runs queued before it are."""
        self._send.send_nowait((thread_id, run_id))

    def stop(self) -> None:
        """Take no more runs; :meth:`serve` ends."""
        self._send.close()

    async def serve(self) -> None:
        """Play queued runs one after another, until cancelled."""
        async with self._receive:
            async for thread_id, run_id in self._receive:
                try:
                    await self.play(thread_id, run_id)
                except ThreadStoreError as error:  # e.g. the thread was deleted meanwhile
                    log.warning("run %s of %s stopped: %s", run_id, thread_id, error)

    async def play(self, thread_id: str, run_id: str) -> None:
        store = self.store
        try:
            run = await store.update_run_status(thread_id, run_id, "in_progress", expected="queued")
        except ConflictError:
            return
        steps = await store.list_steps(thread_id, run_id, limit=100, order="asc")
        calls = [
            call
            for step in steps.data
            if isinstance(step.step_details, ToolCallsStepDetails)
            for call in step.step_details.tool_calls
            if isinstance(call, FunctionToolCall)
        ]
        functions = [tool for tool in run.tools if isinstance(tool, FunctionTool)]
        question = await self._last_user_words(thread_id)
        if functions and not calls:
            await self._call(run, functions[0], question)
        else:
            await self._reply(run, question, calls)

    async def _last_user_words(self, thread_id: str) -> str:
        page = await self.store.list_messages(thread_id, limit=100, order="desc")
        return next((message.text for message in page.data if message.role == "user"), "")

    async def _call(self, run: Run, tool: FunctionTool, question: str) -> None:
        assert run.thread_id is not None
        arguments = json.dumps({"question": question})
        call = FunctionToolCall(
            id=new_id("call"),
            function=FunctionToolCallDetails(name=tool.function.name, arguments=arguments),
        )
        await self.store.append_step(
            run.thread_id,
            run.id,
            RunStep(type="tool_calls", step_details=ToolCallsStepDetails(tool_calls=[call])),
        )
        wanted = RequiredToolCall(
            id=call.id, function=FunctionCall(name=tool.function.name, arguments=arguments)
        )
        required = RequiredAction(submit_tool_outputs=SubmitToolOutputs(tool_calls=[wanted]))
        await self._finish(run, "requires_action", required_action=required)

    async def _reply(self, run: Run, question: str, calls: Sequence[FunctionToolCall]) -> None:
        assert run.thread_id is not None
        thread_id, store = run.thread_id, self.store
        if calls:
            text = "\n".join(f"{c.function.name} said: {c.function.output}" for c in calls)
        else:
            text = f"You said: {question}"
        message = await store.append_message(
            thread_id,
            Message(
                role="assistant",
                content=[],
                status="in_progress",
                assistant_id=run.assistant_id,
                run_id=run.id,
            ),
        )
        step = await store.append_step(
            thread_id,
            run.id,
            RunStep(
                type="message_creation",
                step_details=MessageCreationStepDetails(
                    message_creation=MessageCreation(message_id=message.id)
                ),
            ),
        )
        await store.update_message(
            thread_id, message.id, content=text, status="completed", completed_at=_now()
        )
        await store.update_step_status(thread_id, run.id, step.id, "completed")
        prompt, completion = len(question.split()), len(text.split())
        usage = Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )
        await self._finish(run, "completed", usage=usage)

    async def _finish(self, run: Run, status: str, **changes: Any) -> None:
        """Move the run on from in_progress, unless a cancel came first: then cancel it."""
        assert run.thread_id is not None
        try:
            await self.store.update_run(
                run.thread_id, run.id, status=status, expected="in_progress", **changes
            )
        except ConflictError:
            await self.store.update_run_status(
                run.thread_id, run.id, "cancelled", expected="cancelling"
            )


def _now() -> int:
    return int(time.time())


# --- the application ------------------------------------------------------------------


def create_app(store: aio.AsyncThreadStore | None = None) -> FastAPI:
    """The app, serving ``/v1`` from ``store``, or else from ``$THREADSTORE_URL`` (or
    ``./threadstore-data``), opened when the app starts and closed when it stops.

    A store given here belongs to the caller, who closes it.
    """
    held: list[tuple[aio.AsyncThreadStore, ScriptedAssistant]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _store_to_serve(store) as serving:
            assistant = ScriptedAssistant(serving)
            held.append((serving, assistant))
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(assistant.serve)
                try:
                    yield
                finally:
                    held.clear()
                    assistant.stop()
                    tasks.cancel_scope.cancel()

    def serving() -> tuple[aio.AsyncThreadStore, ScriptedAssistant]:
        if not held:
            raise BackendError("the store is not open: the app's lifespan has not started")
        return held[0]

    app = FastAPI(title="threadstore Assistants API example", lifespan=lifespan)
    app.include_router(_routes(serving), prefix="/v1")
    for error, (status, kind) in _ERRORS.items():
        app.add_exception_handler(error, _reply(status, kind))
    app.add_exception_handler(InvalidRequestError, _invalid_input)
    app.add_exception_handler(_BadRequest, _bad_request)
    app.add_exception_handler(pydantic.ValidationError, _invalid_input)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(BackendError, _server_error)
    app.add_exception_handler(Exception, _server_error)
    return app


@asynccontextmanager
async def _store_to_serve(
    given: aio.AsyncThreadStore | None,
) -> AsyncIterator[aio.AsyncThreadStore]:
    if given is not None:
        yield given
        return
    url = StoreURL.parse(Settings().url or DEFAULT_URL)
    async with aio.open_store(url) as store:
        log.info("serving threads from %s", url)
        yield store


def _routes(serving: Callable[[], tuple[aio.AsyncThreadStore, ScriptedAssistant]]) -> APIRouter:
    """Every threads, messages, runs and run steps endpoint of the Assistants API, and
    every conversations and items endpoint of the Conversations API."""
    api = APIRouter()

    def store() -> aio.AsyncThreadStore:
        return serving()[0]

    async def new_thread(body: ThreadCreate | None, resources: ToolResources | None) -> Thread:
        body = body or ThreadCreate()
        messages = [message.to_message() for message in body.messages]  # all valid, or none
        thread = await store().create_thread(
            Thread(metadata=body.metadata or {}, tool_resources=body.tool_resources or resources)
        )
        for message in messages:
            await store().append_message(thread.id, message)
        return thread

    async def start(thread_id: str, run: Run, response: Response) -> Run:
        run = await store().create_run(thread_id, run)
        serving()[1].enqueue(thread_id, run.id)
        response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
        return run

    # threads (POST /threads/runs is declared before POST /threads/{thread_id})

    @api.post("/threads")
    async def create_thread(body: ThreadCreate | None = None) -> Thread:
        return await new_thread(body, None)

    @api.post("/threads/runs")
    async def create_thread_and_run(body: ThreadCreateAndRun, response: Response) -> Run:
        run = body.to_run()  # checked before anything is written
        thread = await new_thread(body.thread, body.tool_resources)
        return await start(thread.id, run, response)

    @api.get("/threads/{thread_id}")
    async def get_thread(thread_id: str) -> Thread:
        return await store().get_thread(thread_id)

    @api.post("/threads/{thread_id}")
    async def modify_thread(thread_id: str, body: ThreadModify) -> Thread:
        return await store().update_thread(thread_id, **_given(body))

    @api.delete("/threads/{thread_id}")
    async def delete_thread(thread_id: str) -> ThreadDeleted:
        return await store().delete_thread(thread_id)

    # messages

    @api.post("/threads/{thread_id}/messages")
    async def create_message(thread_id: str, body: MessageCreate) -> Message:
        return await store().append_message(thread_id, body.to_message())

    @api.get("/threads/{thread_id}/messages")
    async def list_messages(
        thread_id: str, paging: Annotated[MessagePaging, Query()]
    ) -> Page[Message]:
        return await store().list_messages(thread_id, **paging.model_dump())

    @api.get("/threads/{thread_id}/messages/{message_id}")
    async def get_message(thread_id: str, message_id: str) -> Message:
        return await store().get_message(thread_id, message_id)

    @api.post("/threads/{thread_id}/messages/{message_id}")
    async def modify_message(thread_id: str, message_id: str, body: MessageModify) -> Message:
        return await store().update_message(thread_id, message_id, **_given(body))

    @api.delete("/threads/{thread_id}/messages/{message_id}")
    async def delete_message(thread_id: str, message_id: str) -> MessageDeleted:
        return await store().delete_message(thread_id, message_id)

    # runs

    @api.post("/threads/{thread_id}/runs")
    async def create_run(thread_id: str, body: RunCreate, response: Response) -> Run:
        run = body.to_run()
        messages = [message.to_message() for message in body.additional_messages or []]
        await store().get_thread(thread_id)  # not found: nothing is written
        for message in messages:
            await store().append_message(thread_id, message)
        return await start(thread_id, run, response)

    @api.get("/threads/{thread_id}/runs")
    async def list_runs(thread_id: str, paging: Annotated[Paging, Query()]) -> Page[Run]:
        return await store().list_runs(thread_id, **paging.model_dump())

    @api.get("/threads/{thread_id}/runs/{run_id}")
    async def get_run(thread_id: str, run_id: str, response: Response) -> Run:
        run = await store().get_run(thread_id, run_id)
        if run.status not in TERMINAL:
            response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
        return run

    @api.post("/threads/{thread_id}/runs/{run_id}")
    async def modify_run(thread_id: str, run_id: str, body: RunModify) -> Run:
        return await store().update_run(thread_id, run_id, **_given(body))

    @api.post("/threads/{thread_id}/runs/{run_id}/cancel")
    async def cancel_run(thread_id: str, run_id: str) -> Run:
        while True:  # a compare-and-set against the assistant moving the run on
            run = await store().get_run(thread_id, run_id)
            if run.status in TERMINAL or run.status == "cancelling":
                raise _BadRequest(f"Cannot cancel run with status '{run.status}'.")
            # Nobody plays a queued or waiting run: it is cancelled at once. One being
            # played is left 'cancelling' for the assistant to end.
            to = "cancelling" if run.status == "in_progress" else "cancelled"
            try:
                return await store().update_run_status(thread_id, run_id, to, expected=run.status)
            except ConflictError:
                continue

    @api.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
    async def submit_tool_outputs(
        thread_id: str, run_id: str, body: ToolOutputs, response: Response
    ) -> Run:
        _refuse_streaming(body.stream)
        run = await store().get_run(thread_id, run_id)
        if run.status != "requires_action" or run.required_action is None:
            raise _BadRequest(f"Runs in status '{run.status}' do not accept tool outputs.")
        wanted = {call.id for call in run.required_action.submit_tool_outputs.tool_calls}
        outputs = {output.tool_call_id: output.output for output in body.tool_outputs}
        if set(outputs) != wanted or len(outputs) != len(body.tool_outputs):
            raise _BadRequest(
                "Expected tool outputs for call ids " + ", ".join(sorted(wanted)) + ", each once.",
                "tool_outputs",
            )
        await _record_outputs(store(), run, outputs)
        run = await store().update_run(thread_id, run_id, status="queued", expected=run.status)
        serving()[1].enqueue(thread_id, run_id)
        response.headers["openai-poll-after-ms"] = str(POLL_AFTER_MS)
        return run

    # conversations

    @api.post("/conversations")
    async def create_conversation(body: ConversationCreate | None = None) -> Conversation:
        body = body or ConversationCreate()
        conversation = Conversation(metadata=body.metadata or {})
        return await store().create_conversation(conversation, items=body.items)

    @api.get("/conversations/{conversation_id}")
    async def get_conversation(conversation_id: str) -> Conversation:
        return await store().get_conversation(conversation_id)

    @api.post("/conversations/{conversation_id}")
    async def update_conversation(conversation_id: str, body: ConversationModify) -> Conversation:
        return await store().update_conversation(conversation_id, metadata=body.metadata)

    @api.delete("/conversations/{conversation_id}")
    async def delete_conversation(conversation_id: str) -> ConversationDeleted:
        return await store().delete_conversation(conversation_id)

    # conversation items (include[] is accepted and ignored: nothing is left out to add)

    @api.post("/conversations/{conversation_id}/items")
    async def create_items(conversation_id: str, body: ItemsCreate) -> Page[ConversationItem]:
        added = await store().add_items(conversation_id, body.items)
        return Page[ConversationItem].of(added, False)

    @api.get("/conversations/{conversation_id}/items")
    async def list_items(
        conversation_id: str, paging: Annotated[Paging, Query()]
    ) -> Page[ConversationItem]:
        return await store().list_items(conversation_id, **paging.model_dump())

    @api.get("/conversations/{conversation_id}/items/{item_id}")
    async def get_item(conversation_id: str, item_id: str) -> ConversationItem:
        return await store().get_item(conversation_id, item_id)

    @api.delete("/conversations/{conversation_id}/items/{item_id}")
    async def delete_item(conversation_id: str, item_id: str) -> Conversation:
        return await store().delete_item(conversation_id, item_id)

    # run steps

    @api.get("/threads/{thread_id}/runs/{run_id}/steps")
    async def list_steps(
        thread_id: str, run_id: str, paging: Annotated[Paging, Query()]
    ) -> Page[RunStep]:
        return await store().list_steps(thread_id, run_id, **paging.model_dump())

    @api.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}")
    async def get_step(thread_id: str, run_id: str, step_id: str) -> RunStep:
        return await store().get_step(thread_id, run_id, step_id)

    return api


async def _record_outputs(
    store: aio.AsyncThreadStore, run: Run, outputs: Mapping[str, str]
) -> None:
    """Write each tool's output into the step that called it, and complete that step."""
    assert run.thread_id is not None
    steps = await store.list_steps(run.thread_id, run.id, limit=100, order="desc")
    for step in steps.data:
        details = step.step_details
        if step.status != "in_progress" or not isinstance(details, ToolCallsStepDetails):
            continue
        calls = [
            call.model_copy(
                update={"function": call.function.model_copy(update={"output": outputs[call.id]})}
            )
            if isinstance(call, FunctionToolCall) and call.id in outputs
            else call
            for call in details.tool_calls
        ]
        await store.update_step(
            run.thread_id, run.id, step.id, step_details=ToolCallsStepDetails(tool_calls=calls)
        )
        await store.update_step_status(run.thread_id, run.id, step.id, "completed")


def _given(body: pydantic.BaseModel) -> dict[str, Any]:
    """The fields the client sent, so an absent field is left alone and ``null`` clears."""
    return {name: getattr(body, name) for name in body.model_fields_set}


# --- errors, in OpenAI's envelope ------------------------------------------------------

_ERRORS: dict[type[Exception], tuple[int, str]] = {
    NotFoundError: (404, "not_found_error"),
    ConflictError: (409, "conflict_error"),
    AlreadyExistsError: (409, "conflict_error"),
}

Handler = Callable[[Request, Exception], Coroutine[Any, Any, JSONResponse]]


def _error(
    status: int, kind: str, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _reply(status: int, kind: str) -> Handler:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _error(status, kind, str(exc))

    return handle


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    param = exc.param if isinstance(exc, _BadRequest) else None
    return _error(400, "invalid_request_error", str(exc), param)


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    """Bad input, said in our words: pydantic's own text (and its URL) never goes out.

    Pydantic's complaints come from FastAPI (the request), from a model built here, or
    from the store (an ``InvalidRequestError`` raised while one was being handled).
    """
    cause = exc.__context__ if isinstance(exc, InvalidRequestError) else exc
    if isinstance(cause, RequestValidationError):
        problems = list(cause.errors())
        location_starts = 1  # ("body" | "query" | "path", ...)
    elif isinstance(cause, pydantic.ValidationError):
        problems = cause.errors(include_url=False)
        location_starts = 0
    else:
        return _error(400, "invalid_request_error", str(exc))
    first = problems[0] if problems else {}
    location = tuple(first.get("loc", ()))[location_starts:]
    param = _param(location)
    message, code = _describe(first, param)
    return _error(400, "invalid_request_error", message, param or None, code)


def _param(location: Sequence[Any]) -> str:
    """``("messages", 0, "role")`` -> ``messages[0].role``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "string": "a string",
    "dict": "an object",
    "model": "an object",
    "list": "an array",
}


def _describe(problem: Mapping[str, Any], param: str) -> tuple[str, str]:
    """A message and a code for one validation problem."""
    kind = str(problem.get("type", ""))
    context = problem.get("ctx") or {}
    if kind == "json_invalid":
        return "We could not parse the JSON body of your request.", "invalid_json"
    if kind == "missing":
        if not param:
            return "The request has no body.", "missing_required_parameter"
        return f"Missing required parameter: '{param}'.", "missing_required_parameter"
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", "unknown_parameter"
    if kind in ("literal_error", "enum"):
        return f"Invalid value for '{param}': expected {context.get('expected')}.", "invalid_value"
    if kind == "value_error":
        return f"Invalid value for '{param}': {context.get('error')}", "invalid_value"
    for prefix, what in _KINDS.items():
        if kind.startswith(prefix):
            return f"Invalid type for '{param}': expected {what}.", "invalid_type"
    return f"Invalid value for '{param}'.", "invalid_value"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in (404, 405):
        message = f"Invalid URL ({request.method} {request.url.path})"
        return _error(status, "invalid_request_error", message)
    return _error(status, "server_error", "The server had an error while processing your request.")


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """Storage failures are logged here and reported to the client without their details."""
    log.error("failed on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return _error(500, "server_error", "The server had an error while processing your request.")


app = create_app()
"""``uvicorn examples.fastapi_app:app``: the store named by ``THREADSTORE_URL``."""

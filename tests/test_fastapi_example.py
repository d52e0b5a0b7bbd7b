"""The FastAPI example, served by uvicorn on 127.0.0.1 and driven by the real ``openai`` client.

Every object the server returns is parsed into the SDK's own types and compared field by
field with what the store holds, so the wire format is checked by the client people use.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import openai
import pydantic
import pytest
import uvicorn

from threadstore import aio
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import BackendError, ConflictError
from threadstore.models import Message, Run

pytestmark = pytest.mark.filterwarnings(
    "ignore:The Assistants API is deprecated:DeprecationWarning"
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the app's generic models through it
    spec.loader.exec_module(module)
    return module


fastapi_app = load_example()


class Server:
    """uvicorn serving an app on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60  # a bound, not an expectation: a loaded machine is slow
        while time.monotonic() < deadline:
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.005)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
        assert not self.thread.is_alive()


@pytest.fixture
def serve() -> Iterator[Callable[[MemoryThreadStore], tuple[openai.OpenAI, str]]]:
    """Serve the example over a given store; return an SDK client and the base URL."""
    with_cleanup: list[tuple[Server, aio.AsyncThreadStore, openai.OpenAI]] = []

    def start(sync_store: MemoryThreadStore) -> tuple[openai.OpenAI, str]:
        store = aio.AsyncThreadStore(sync_store)
        server = Server(fastapi_app.create_app(store)).__enter__()
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="test", max_retries=0)
        with_cleanup.append((server, store, client))
        return client, server.url

    yield start
    for server, store, client in with_cleanup:
        client.close()
        server.__exit__(None, None, None)
        store.sync_store.close()


@pytest.fixture
def store() -> MemoryThreadStore:
    return MemoryThreadStore()


@pytest.fixture
def client(
    serve: Callable[[MemoryThreadStore], tuple[openai.OpenAI, str]], store: MemoryThreadStore
) -> openai.OpenAI:
    return serve(store)[0]


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


def test_threads_round_trip(client: openai.OpenAI, store: MemoryThreadStore) -> None:
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


def test_messages_round_trip(client: openai.OpenAI, store: MemoryThreadStore) -> None:
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


def test_listing_pages_like_the_api(client: openai.OpenAI, store: MemoryThreadStore) -> None:
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


def test_listing_by_run(client: openai.OpenAI, store: MemoryThreadStore) -> None:
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="question")
    run = store.create_run(thread.id, Run(assistant_id="asst_1", model="m"))
    answer = store.append_message(
        thread.id, Message.assistant("answer", run_id=run.id, assistant_id="asst_1")
    )
    listed = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert [m.id for m in listed.data] == [answer.id]
    assert_same(listed.data[0], answer)


def test_bad_requests_are_400(client: openai.OpenAI, store: MemoryThreadStore) -> None:
    thread = client.beta.threads.create()
    messages = client.beta.threads.messages
    with pytest.raises(openai.BadRequestError) as bad_limit:
        messages.list(thread.id, limit=0)
    assert bad_limit.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        messages.list(thread.id, after="msg_not_in_this_thread")
    with pytest.raises(openai.BadRequestError) as bad_role:
        messages.create(thread.id, role="system", content="x")  # type: ignore[arg-type]
    assert bad_role.value.body["param"] == "role"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.create(metadata={f"k{i}": "v" for i in range(17)})
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.retrieve("thread..evil")
    assert store.list_messages(thread.id).data == []
    assert store.list_thread_ids() == [thread.id]


def test_unknown_route_and_bad_query_keep_the_error_shape(
    serve: Callable[[MemoryThreadStore], tuple[openai.OpenAI, str]],
) -> None:
    _, url = serve(MemoryThreadStore())
    with httpx.Client(base_url=url, trust_env=False) as http:
        missing = http.get("/v1/assistants")
        thread = http.post("/v1/threads", json={}).json()
        bad_order = http.get(f"/v1/threads/{thread['id']}/messages", params={"order": "up"})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert bad_order.status_code == 400
    assert bad_order.json()["error"]["type"] == "invalid_request_error"
    assert bad_order.json()["error"]["param"] == "order"


class LosingStore(MemoryThreadStore):
    """A store where every read-modify-write loses its compare-and-set."""

    def _modify(self, *args: Any) -> Any:
        raise ConflictError("the message changed under this update")


class FailingStore(MemoryThreadStore):
    """A store whose medium fails on reads, with a path in the error that must not leak."""

    def _fetch(self, *args: Any) -> Any:
        raise BackendError("read failed at /srv/private/threads")


def test_conflicts_are_409(serve: Callable[[MemoryThreadStore], tuple[openai.OpenAI, str]]) -> None:
    client, _ = serve(LosingStore())
    thread = client.beta.threads.create()
    with pytest.raises(openai.ConflictError) as caught:
        client.beta.threads.update(thread.id, metadata={"k": "v"})
    assert caught.value.body["type"] == "conflict_error"  # type: ignore[index]


def test_storage_failures_are_500_without_details(
    serve: Callable[[MemoryThreadStore], tuple[openai.OpenAI, str]],
) -> None:
    client, _ = serve(FailingStore())
    with pytest.raises(openai.InternalServerError) as caught:
        client.beta.threads.retrieve("thread_1")
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]
    assert "/srv/private" not in str(caught.value.body)

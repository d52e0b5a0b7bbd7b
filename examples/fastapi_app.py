"""Assistants-style thread and message endpoints over an ``AsyncThreadStore``.

The routes and JSON match the Assistants API v2, so the official ``openai`` client works
against this server unchanged. Errors come back in OpenAI's envelope,
``{"error": {"message", "type", "param", "code"}}``: 400 ``invalid_request_error``,
404 ``not_found_error``, 409 ``conflict_error``, 500 ``server_error``.

Run it (any store URL works; ``THREADSTORE_URL`` is read when none is given)::

    python examples/fastapi_app.py file:///tmp/threads
    python -c "from openai import OpenAI; \\
        c = OpenAI(base_url='http://127.0.0.1:8000/v1', api_key='-'); \\
        print(c.beta.threads.create(messages=[{'role': 'user', 'content': 'hi'}]))"
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import pydantic
from fastapi import APIRouter, FastAPI, Request
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
)
from threadstore.models import (
    Attachment,
    Message,
    MessageDeleted,
    Page,
    Thread,
    ThreadDeleted,
    ToolResources,
)

log = logging.getLogger("threadstore.examples.fastapi")


class _Body(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class MessageCreate(_Body):
    """The body of ``POST /threads/{id}/messages``, and of each message given at thread creation."""

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]
    attachments: list[Attachment] | None = None
    metadata: dict[str, str] | None = None

    def to_message(self) -> Message:
        return Message(
            role=self.role,
            content=self.content,
            attachments=self.attachments or [],
            metadata=self.metadata or {},
        )


class ThreadCreate(_Body):
    messages: list[MessageCreate] = []
    metadata: dict[str, str] | None = None
    tool_resources: ToolResources | None = None


class ThreadModify(_Body):
    metadata: dict[str, str] | None = None
    tool_resources: ToolResources | None = None


class MessageModify(_Body):
    metadata: dict[str, str] | None = None


def create_app(store: aio.AsyncThreadStore) -> FastAPI:
    """An app serving ``/v1/threads`` and ``/v1/threads/{id}/messages`` from ``store``.

    The caller owns ``store`` and closes it; the app never does.
    """
    api = APIRouter(prefix="/v1")

    @api.post("/threads")
    async def create_thread(body: ThreadCreate) -> Thread:
        messages = [message.to_message() for message in body.messages]  # all valid, or none stored
        thread = await store.create_thread(
            Thread(metadata=body.metadata or {}, tool_resources=body.tool_resources)
        )
        for message in messages:
            await store.append_message(thread.id, message)
        return thread

    @api.get("/threads/{thread_id}")
    async def get_thread(thread_id: str) -> Thread:
        return await store.get_thread(thread_id)

    @api.post("/threads/{thread_id}")
    async def modify_thread(thread_id: str, body: ThreadModify) -> Thread:
        return await store.update_thread(thread_id, **_given(body))

    @api.delete("/threads/{thread_id}")
    async def delete_thread(thread_id: str) -> ThreadDeleted:
        return await store.delete_thread(thread_id)

    @api.post("/threads/{thread_id}/messages")
    async def create_message(thread_id: str, body: MessageCreate) -> Message:
        return await store.append_message(thread_id, body.to_message())

    @api.get("/threads/{thread_id}/messages")
    async def list_messages(
        thread_id: str,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
    ) -> Page[Message]:
        return await store.list_messages(
            thread_id, limit=limit, order=order, after=after, before=before, run_id=run_id
        )

    @api.get("/threads/{thread_id}/messages/{message_id}")
    async def get_message(thread_id: str, message_id: str) -> Message:
        return await store.get_message(thread_id, message_id)

    @api.post("/threads/{thread_id}/messages/{message_id}")
    async def modify_message(thread_id: str, message_id: str, body: MessageModify) -> Message:
        return await store.update_message(thread_id, message_id, **_given(body))

    @api.delete("/threads/{thread_id}/messages/{message_id}")
    async def delete_message(thread_id: str, message_id: str) -> MessageDeleted:
        return await store.delete_message(thread_id, message_id)

    app = FastAPI(title="threadstore Assistants API example")
    app.include_router(api)
    for error, (status, kind) in _ERRORS.items():
        app.add_exception_handler(error, _reply(status, kind))
    app.add_exception_handler(pydantic.ValidationError, _reply(400, "invalid_request_error"))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(BackendError, _server_error)
    return app


def _given(body: pydantic.BaseModel) -> dict[str, Any]:
    """The fields the client sent, so an absent field is left alone and ``null`` clears."""
    return {name: getattr(body, name) for name in body.model_fields_set}


_ERRORS: dict[type[Exception], tuple[int, str]] = {
    InvalidRequestError: (400, "invalid_request_error"),
    NotFoundError: (404, "not_found_error"),
    ConflictError: (409, "conflict_error"),
    AlreadyExistsError: (409, "conflict_error"),
}


def _error(status: int, kind: str, message: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


Handler = Callable[[Request, Exception], Coroutine[Any, Any, JSONResponse]]


def _reply(status: int, kind: str) -> Handler:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _error(status, kind, str(exc))

    return handle


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 for a malformed request, in OpenAI's 400 shape."""
    problems = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = problems[0] if problems else {}
    param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
    return _error(400, "invalid_request_error", first.get("msg", "invalid request"), param)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    kind = {404: "not_found_error", 405: "invalid_request_error"}.get(status, "server_error")
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    return _error(status, kind, str(detail))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """Storage failures are logged here and reported to the client without their details."""
    log.error("store failed on %s %s: %s", request.method, request.url.path, exc)
    return _error(500, "server_error", "The server had an error while processing your request.")


def main() -> None:
    """Serve on 127.0.0.1:8000 over the store at ``argv[1]`` (or ``THREADSTORE_URL``)."""
    import asyncio

    import uvicorn

    async def serve() -> None:
        async with aio.open_store(sys.argv[1] if len(sys.argv) > 1 else None) as store:
            config = uvicorn.Config(create_app(store), host="127.0.0.1", port=8000)
            await uvicorn.Server(config).serve()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

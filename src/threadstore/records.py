"""What a backend stores: the four kinds of record, where each lives, and its JSON form.

Every record lives in a *scope*, the IDs of its parents: threads in ``()``, messages and
runs in ``(thread_id,)``, steps in ``(thread_id, run_id)``. Persistent backends encode a
record with :func:`encode` and decode it with :func:`decode`, so the stored form is the
wire form everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
import pydantic_core

from threadstore.errors import (
    CorruptDataError,
    InvalidRequestError,
    MessageNotFound,
    NotFoundError,
    RunNotFound,
    RunStepNotFound,
    ThreadNotFound,
)
from threadstore.models import Message, Run, RunStep, Thread, WireModel

__all__ = ["KINDS", "MESSAGES", "RUNS", "STEPS", "THREADS", "Kind", "Scope", "decode", "encode"]

M = TypeVar("M", bound=WireModel)
Scope = tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Kind(Generic[M]):
    """One kind of record: its model, its collection name and its not-found error."""

    name: str
    model: type[M]
    not_found: type[NotFoundError]
    parents: int

    def __repr__(self) -> str:
        return f"<kind {self.name}>"

    def missing(self, record_id: str) -> NotFoundError:
        return self.not_found(record_id)


THREADS: Kind[Thread] = Kind("threads", Thread, ThreadNotFound, 0)
MESSAGES: Kind[Message] = Kind("messages", Message, MessageNotFound, 1)
RUNS: Kind[Run] = Kind("runs", Run, RunNotFound, 1)
STEPS: Kind[RunStep] = Kind("steps", RunStep, RunStepNotFound, 2)
KINDS: tuple[Kind[Any], ...] = (THREADS, MESSAGES, RUNS, STEPS)


def missing_scope(scope: Scope) -> NotFoundError:
    """The error for a scope whose owner is gone: the thread, or the run under it."""
    return RunNotFound(scope[1]) if len(scope) == 2 else ThreadNotFound(scope[0])


def encode(record: WireModel) -> bytes:
    """The record's stored form: its wire JSON, compact, one line, UTF-8.

    Text that has no UTF-8 form (a lone surrogate such as ``"\ud800"``) passes pydantic's
    validation but cannot be stored: it is refused as bad input.
    """
    try:
        return record.__pydantic_serializer__.to_json(record)
    except pydantic_core.PydanticSerializationError as exc:
        raise InvalidRequestError(
            f"the {type(record).__name__} cannot be stored as UTF-8 JSON: {exc}"
        ) from None


def decode(kind: Kind[M], data: bytes | str, where: str) -> M:
    """Parse a stored record, naming ``where`` it came from if it does not parse."""
    try:
        return kind.model.model_validate_json(data)
    except pydantic.ValidationError as exc:
        raise CorruptDataError(
            f"corrupt {kind.name[:-1]} record at {where}: {_summary(exc)}"
        ) from None


def decode_object(kind: Kind[M], data: dict[str, Any], where: str) -> M:
    """Like :func:`decode` for a record already parsed as JSON."""
    try:
        return kind.model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise CorruptDataError(
            f"corrupt {kind.name[:-1]} record at {where}: {_summary(exc)}"
        ) from None


def _summary(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    place = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{place}: {first['msg']} ({exc.error_count()} problem(s))"


def dumps(value: Any) -> bytes:
    """Compact JSON for internal bookkeeping files (not records)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()

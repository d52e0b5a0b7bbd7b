"""What a backend stores: the kinds of record, where each lives, and its stored form.

Every record lives in a *scope*, the IDs of its owners: threads and conversations in
``()``, messages and runs in ``(thread_id,)``, steps in ``(thread_id, run_id)``, items in
``(conversation_id,)``. A :class:`Kind` knows its owner and the kinds it owns, and how
to parse its records, so a backend asks the kind instead of naming one.

Persistent backends store a record as :func:`encode` makes it and read it back with
:func:`decode`, so the stored form is the wire form everywhere. Reading is tolerant:
fields a newer version of threadstore wrote are kept, and written back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import GenericAlias
from typing import Annotated, Any, Generic, Literal, TypeVar

import pydantic
import pydantic_core

from threadstore.errors import (
    ConversationNotFound,
    CorruptDataError,
    InvalidRequestError,
    ItemNotFound,
    MessageNotFound,
    NotFoundError,
    RunNotFound,
    RunStepNotFound,
    ThreadNotFound,
)
from threadstore.models import (
    Conversation,
    ConversationItem,
    Item,
    Message,
    ModelledItem,
    Record,
    Run,
    RunStep,
    Thread,
)

__all__ = [
    "CONVERSATIONS",
    "ITEMS",
    "KINDS",
    "MESSAGES",
    "RECORD_FORMAT",
    "RUNS",
    "STEPS",
    "THREADS",
    "Kind",
    "Scope",
    "decode",
    "decode_many",
    "decode_object",
    "encode",
]

R = TypeVar("R", bound=Record)
Scope = tuple[str, ...]
Extra = Literal["allow"] | None

RECORD_FORMAT = 1
"""The version of the records' JSON form this threadstore writes. Backends store it beside
each record, so a reader can tell a record from a newer writer (whose unknown fields it
keeps) from damage."""


@dataclass(frozen=True, eq=False)
class Kind(Generic[R]):
    """One kind of record: its model, its names, its not-found error and its owner."""

    name: str
    """The collection's name, plural: ``"messages"``."""
    singular: str
    """One record's name: ``"message"``."""
    model: type[R]
    """The class every record of the kind is an instance of."""
    not_found: type[NotFoundError]
    owner: Kind[Any] | None = None
    """The kind whose records hold these (``None``: top level)."""
    union: Any = None
    """For a kind whose records come in several subclasses of ``model`` (items, by
    ``type``): the union to parse them as. ``None``: parse as ``model``."""
    common: Any = None
    """A faster union of the classes most records are, tried first; a record it cannot
    route (by its discriminator) goes to ``union``."""

    def __repr__(self) -> str:
        return f"<kind {self.name}>"

    @cached_property
    def _adapter(self) -> pydantic.TypeAdapter[R]:
        return pydantic.TypeAdapter(self.union)

    @cached_property
    def _common(self) -> pydantic.TypeAdapter[R] | None:
        return None if self.common is None else pydantic.TypeAdapter(self.common)

    @property
    def parses_as(self) -> Any:
        """The type a record of this kind is read as: ``union``, else ``model``."""
        return self.model if self.union is None else self.union

    def parse_json(self, data: bytes | str, extra: Extra = None) -> R:
        """Validate one record from its JSON (``extra="allow"`` keeps unknown fields)."""
        if self.union is None:
            return self.model.model_validate_json(data, extra=extra)
        if self._common is not None:
            try:
                return self._common.validate_json(data, extra=extra)
            except pydantic.ValidationError as exc:
                if not _unrouted(exc):
                    raise
        return self._adapter.validate_json(data, extra=extra)

    @cached_property
    def _many(self) -> pydantic.TypeAdapter[list[R]]:
        one = self.common if self.common is not None else self.parses_as
        shape: Any = Annotated[GenericAlias(list, (one,)), pydantic.FailFast()]
        return pydantic.TypeAdapter(shape)  # the first record that fails ends the call

    def parse_json_many(self, datas: Sequence[bytes | str]) -> list[R] | None:
        """Validate stored records in one call into pydantic, as a JSON array: a page of
        twenty takes a tenth less time than twenty calls. ``None`` when one of them does
        not validate as it stands (say, from a newer writer), or the array does not hold
        as many records as were given: parse them one at a time then, with
        :func:`decode`, to learn which and why."""
        joined = b",".join(data if isinstance(data, bytes) else data.encode() for data in datas)
        try:
            records = self._many.validate_json(b"[" + joined + b"]")
        except pydantic.ValidationError:
            return None
        return records if len(records) == len(datas) else None

    def parse(self, data: Any, extra: Extra = None) -> R:
        """Validate one record from Python data (a dict, or a model to check again)."""
        if self.union is None:
            return self.model.model_validate(data, extra=extra)
        if self._common is not None:
            try:
                return self._common.validate_python(data, extra=extra)
            except pydantic.ValidationError as exc:
                if not _unrouted(exc):
                    raise
        return self._adapter.validate_python(data, extra=extra)

    @cached_property
    def lineage(self) -> tuple[Kind[Any], ...]:
        """The owner kinds from the top level down, then this kind."""
        return (*self.owner.lineage, self) if self.owner is not None else (self,)

    @property
    def depth(self) -> int:
        """How many owners a record has: the length of its scope."""
        return len(self.lineage) - 1

    @property
    def children(self) -> tuple[Kind[Any], ...]:
        """The kinds this kind's records hold (deleting a record deletes them)."""
        return tuple(kind for kind in KINDS if kind.owner is self)

    def missing(self, record_id: str) -> NotFoundError:
        """The error for a record of this kind that is not there."""
        return self.not_found(record_id)

    def owner_missing(self, scope: Scope, level: int = 0) -> NotFoundError:
        """The error for the owner at ``level`` of ``scope`` (0: the top level) not being there."""
        return self.lineage[level].missing(scope[level])


THREADS: Kind[Thread] = Kind("threads", "thread", Thread, ThreadNotFound)
MESSAGES: Kind[Message] = Kind("messages", "message", Message, MessageNotFound, THREADS)
RUNS: Kind[Run] = Kind("runs", "run", Run, RunNotFound, THREADS)
STEPS: Kind[RunStep] = Kind("steps", "step", RunStep, RunStepNotFound, RUNS)
CONVERSATIONS: Kind[Conversation] = Kind(
    "conversations", "conversation", Conversation, ConversationNotFound
)
ITEMS: Kind[Item] = Kind(
    "items", "item", Item, ItemNotFound, CONVERSATIONS, ConversationItem, ModelledItem
)
KINDS: tuple[Kind[Any], ...] = (THREADS, MESSAGES, RUNS, STEPS, CONVERSATIONS, ITEMS)


def encode(record: Record) -> bytes:
    """The record's stored form: its wire JSON, compact, one line, UTF-8.

    Text that has no UTF-8 form (a lone surrogate such as ``"\\ud800"``) passes pydantic's
    validation but cannot be stored: it is refused as bad input.
    """
    try:
        if record.__pydantic_extra__ is None or record.model_config.get("extra") == "allow":
            data = record.__pydantic_serializer__.to_json(record)
        else:
            data = json.dumps(
                _with_unknown_fields(record), ensure_ascii=False, separators=(",", ":")
            ).encode()
        if _REPLACED in data:  # pydantic replaces lone surrogates in keys: were there any?
            _text_of(record.model_dump())
    except (pydantic_core.PydanticSerializationError, UnicodeEncodeError) as exc:
        raise InvalidRequestError(
            f"the {type(record).__name__} cannot be stored as UTF-8 JSON: {exc}"
        ) from None
    return data


_REPLACED = "\ufffd".encode()


def encode_object(data: dict[str, Any], what: str) -> bytes:
    """A JSON object a caller gave, as compact UTF-8 JSON, refused as bad input when it
    is not JSON or holds text with no UTF-8 form (see :func:`encode`)."""
    try:
        encoded = pydantic_core.to_json(data)
        if _REPLACED in encoded:
            _text_of(data)
    except (pydantic_core.PydanticSerializationError, UnicodeEncodeError) as exc:
        raise InvalidRequestError(f"the {what} cannot be stored as UTF-8 JSON: {exc}") from None
    return encoded


def _text_of(value: Any) -> None:
    """Raise ``UnicodeEncodeError`` for any key or string with no UTF-8 form."""
    if isinstance(value, str):
        value.encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            _text_of(key)
            _text_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _text_of(item)


def decode(kind: Kind[R], data: bytes | str, where: str) -> R:
    """Parse a stored record, naming ``where`` it came from if it does not parse."""
    try:
        return kind.parse_json(data)
    except pydantic.ValidationError as exc:
        if not _only_unknown_fields(exc):
            raise _corrupt(kind, where, exc) from None
    try:
        return kind.parse_json(data, extra="allow")
    except pydantic.ValidationError as exc:
        raise _corrupt(kind, where, exc) from None


def decode_many(
    kind: Kind[R], datas: Sequence[bytes | str], where: Callable[[int], str]
) -> list[R]:
    """:func:`decode` of each stored record, in one call into pydantic when all parse as
    they stand (:meth:`Kind.parse_json_many`); ``where(n)`` names the place of the
    ``n``-th, asked only when one is decoded alone."""
    together = kind.parse_json_many(datas)
    if together is not None:
        return together
    return [decode(kind, data, where(n)) for n, data in enumerate(datas)]


def decode_object(kind: Kind[R], data: dict[str, Any], where: str) -> R:
    """Like :func:`decode` for a record already parsed as JSON."""
    try:
        return kind.parse(data)
    except pydantic.ValidationError as exc:
        if not _only_unknown_fields(exc):
            raise _corrupt(kind, where, exc) from None
    try:
        return kind.parse(data, extra="allow")
    except pydantic.ValidationError as exc:
        raise _corrupt(kind, where, exc) from None


def _unrouted(exc: pydantic.ValidationError) -> bool:
    """Whether a union failed only because the value names none of its members."""
    errors = exc.errors(include_input=False)
    return len(errors) == 1 and errors[0]["type"] in ("union_tag_invalid", "union_tag_not_found")


def _only_unknown_fields(exc: pydantic.ValidationError) -> bool:
    return all(error["type"] == "extra_forbidden" for error in exc.errors(include_input=False))


def _corrupt(kind: Kind[Any], where: str, exc: pydantic.ValidationError) -> CorruptDataError:
    first = exc.errors(include_input=False)[0]
    place = ".".join(str(part) for part in first["loc"]) or "record"
    return CorruptDataError(
        f"corrupt {kind.singular} record at {where}: {place}: {first['msg']} "
        f"({exc.error_count()} problem(s))"
    )


def _with_unknown_fields(value: Any) -> Any:
    """The JSON form of a record read from a newer writer, its unknown fields included."""
    if isinstance(value, pydantic.BaseModel):
        data: dict[str, Any] = {}
        for name, field in type(value).model_fields.items():
            data[field.serialization_alias or field.alias or name] = _with_unknown_fields(
                getattr(value, name)
            )
        data.update(value.__pydantic_extra__ or {})
        return data
    if isinstance(value, list):
        return [_with_unknown_fields(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_unknown_fields(item) for key, item in value.items()}
    return pydantic_core.to_jsonable_python(value)

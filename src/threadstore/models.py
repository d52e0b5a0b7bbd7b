"""Threads, messages, runs and run steps, shaped exactly like the Assistants API v2; and
conversations with their items, shaped like the Conversations API.

``model.model_dump(mode="json")`` is the wire object. Assistants objects show every
field, nullable fields as ``null``, enums in their wire spelling. Callers build a model
with what they know (``Message.user("hi")``, ``Run(assistant_id="asst_1", model="m")``);
a store fills in the owning ``thread_id``/``run_id`` and keeps the generated ``id`` and
``created_at``.

Conversation items (:data:`ConversationItem`) are a union on ``type``. The types a
server writes most are modelled field by field; any other type is kept as the JSON
object it came as. Items keep fields this version does not know, and show an optional
field only when it has a value, as the API does.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from threadstore.ids import check_id, new_id

__all__ = [
    "Attachment",
    "Conversation",
    "ConversationDeleted",
    "ConversationItem",
    "FunctionCall",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "ImageFile",
    "ImageFileContentBlock",
    "ImageURL",
    "ImageURLContentBlock",
    "InputFile",
    "InputImage",
    "InputText",
    "Item",
    "LastError",
    "Message",
    "MessageContent",
    "MessageCreationStepDetails",
    "MessageDeleted",
    "MessageItem",
    "MessageStatus",
    "OtherItem",
    "OutputText",
    "Page",
    "ReasoningItem",
    "ReasoningText",
    "Record",
    "Refusal",
    "RefusalContentBlock",
    "RequiredAction",
    "Run",
    "RunError",
    "RunStatus",
    "RunStep",
    "RunStepStatus",
    "SummaryText",
    "Tagged",
    "Text",
    "TextContentBlock",
    "Thread",
    "ThreadDeleted",
    "ToolCallsStepDetails",
    "Usage",
]

METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512


def now() -> int:
    """The current time in Unix seconds, as the wire format counts it."""
    return int(time.time())


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > METADATA_MAX_PAIRS:
        raise ValueError(f"metadata has {len(value)} pairs; at most {METADATA_MAX_PAIRS} allowed")
    for key, item in value.items():
        for text in (key, item):
            if not _encodable(text):
                raise ValueError(f"metadata holds text with no UTF-8 form: {text[:20]!r}")
        if len(key) > METADATA_KEY_MAX:
            raise ValueError(
                f"metadata key {key[:20]!r}... is longer than {METADATA_KEY_MAX} characters"
            )
        if len(item) > METADATA_VALUE_MAX:
            raise ValueError(
                f"metadata value for {key!r} is longer than {METADATA_VALUE_MAX} characters"
            )
    return value


def _encodable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (a lone surrogate such as ``"\\ud800"`` has none)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


Metadata = Annotated[
    dict[str, str], BeforeValidator(_none_as_empty), AfterValidator(_check_metadata)
]
Timestamp = Annotated[int, Field(ge=0)]
ObjectId = Annotated[str, AfterValidator(check_id)]


def _id_factory(prefix: str) -> Any:
    return lambda: new_id(prefix)


class WireModel(BaseModel):
    """Base of every model: unknown fields are refused, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)


class Record(WireModel):
    """A model a store keeps under its own ``id``: a thread, message, run or step."""

    id: str


class RunStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has finished for good."""
        return self in _TERMINAL_RUN_STATUSES


_TERMINAL_RUN_STATUSES = frozenset(
    {
        RunStatus.CANCELLED,
        RunStatus.FAILED,
        RunStatus.COMPLETED,
        RunStatus.INCOMPLETE,
        RunStatus.EXPIRED,
    }
)


class RunStepStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    EXPIRED = "expired"


class MessageStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    INCOMPLETE = "incomplete"
    COMPLETED = "completed"


# --- threads ---------------------------------------------------------------


class CodeInterpreterResources(WireModel):
    file_ids: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)


class FileSearchResources(WireModel):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] = Field(default_factory=list)


class ToolResources(WireModel):
    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class Thread(Record):
    """A conversation: a container of messages and runs."""

    id: ObjectId = Field(default_factory=_id_factory("thread"))
    object: Literal["thread"] = "thread"
    created_at: Timestamp = Field(default_factory=now)
    metadata: Metadata = Field(default_factory=dict)
    tool_resources: ToolResources | None = None


class ThreadDeleted(WireModel):
    id: str
    object: Literal["thread.deleted"] = "thread.deleted"
    deleted: bool = True


# --- messages --------------------------------------------------------------


class FileCitation(WireModel):
    file_id: str


class FileCitationAnnotation(WireModel):
    type: Literal["file_citation"] = "file_citation"
    text: str
    start_index: int
    end_index: int
    file_citation: FileCitation


class FilePath(WireModel):
    file_id: str


class FilePathAnnotation(WireModel):
    type: Literal["file_path"] = "file_path"
    text: str
    start_index: int
    end_index: int
    file_path: FilePath


Annotation = Annotated[FileCitationAnnotation | FilePathAnnotation, Field(discriminator="type")]


class Text(WireModel):
    value: str
    annotations: list[Annotation] = Field(default_factory=list)


class TextContentBlock(WireModel):
    type: Literal["text"] = "text"
    text: Text


class ImageFile(WireModel):
    file_id: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageFileContentBlock(WireModel):
    type: Literal["image_file"] = "image_file"
    image_file: ImageFile


class ImageURL(WireModel):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLContentBlock(WireModel):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class RefusalContentBlock(WireModel):
    type: Literal["refusal"] = "refusal"
    refusal: str


MessageContent = Annotated[
    TextContentBlock | ImageFileContentBlock | ImageURLContentBlock | RefusalContentBlock,
    Field(discriminator="type"),
]


def _text_part(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def _coerce_content(value: Any) -> Any:
    """Accept the create-message shapes too: a plain string, or text parts as strings."""
    if isinstance(value, str):
        return [_text_part(value)]
    if isinstance(value, list):
        return [
            _text_part(part["text"])
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
            else part
            for part in value
        ]
    return value


class AttachmentTool(WireModel):
    type: Literal["code_interpreter", "file_search"]


class Attachment(WireModel):
    file_id: str | None = None
    tools: list[AttachmentTool] | None = None


class MessageIncompleteDetails(WireModel):
    reason: Literal["content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"]


class Message(Record):
    """One message of a thread. ``Message.user("hi")`` is a complete input."""

    id: ObjectId = Field(default_factory=_id_factory("msg"))
    object: Literal["thread.message"] = "thread.message"
    created_at: Timestamp = Field(default_factory=now)
    thread_id: ObjectId | None = None
    status: MessageStatus = MessageStatus.COMPLETED
    incomplete_details: MessageIncompleteDetails | None = None
    completed_at: Timestamp | None = None
    incomplete_at: Timestamp | None = None
    role: Literal["user", "assistant"]
    content: Annotated[list[MessageContent], BeforeValidator(_coerce_content)] = Field(
        default_factory=list
    )
    assistant_id: str | None = None
    run_id: ObjectId | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)

    @classmethod
    def user(cls, text: str, **fields: Any) -> Message:
        """A user message holding ``text``."""
        return cls(role="user", content=text, **fields)

    @classmethod
    def assistant(cls, text: str, **fields: Any) -> Message:
        """An assistant message holding ``text``."""
        return cls(role="assistant", content=text, **fields)

    @property
    def text(self) -> str:
        """The text of every text part, joined by newlines."""
        return "\n".join(
            part.text.value for part in self.content if isinstance(part, TextContentBlock)
        )


class MessageDeleted(WireModel):
    id: str
    object: Literal["thread.message.deleted"] = "thread.message.deleted"
    deleted: bool = True


# --- runs ------------------------------------------------------------------


class LastError(WireModel):
    """Why a run or step failed. Runs use all three codes; steps the first two."""

    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
    message: str


RunError = LastError


class FunctionDefinition(WireModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(WireModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class CodeInterpreterTool(WireModel):
    type: Literal["code_interpreter"] = "code_interpreter"


class FileSearchRankingOptions(WireModel):
    score_threshold: float
    ranker: Literal["auto", "default_2024_08_21"] | None = None


class FileSearchSettings(WireModel):
    max_num_results: int | None = None
    ranking_options: FileSearchRankingOptions | None = None


class FileSearchTool(WireModel):
    type: Literal["file_search"] = "file_search"
    file_search: FileSearchSettings | None = None


Tool = Annotated[FunctionTool | CodeInterpreterTool | FileSearchTool, Field(discriminator="type")]


class FunctionCall(WireModel):
    name: str
    arguments: str


class RequiredToolCall(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SubmitToolOutputs(WireModel):
    tool_calls: list[RequiredToolCall]


class RequiredAction(WireModel):
    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    submit_tool_outputs: SubmitToolOutputs


class Usage(WireModel):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


class RunIncompleteDetails(WireModel):
    reason: Literal["max_completion_tokens", "max_prompt_tokens"] | None = None


class TruncationStrategy(WireModel):
    type: Literal["auto", "last_messages"] = "auto"
    last_messages: int | None = None


class ToolChoiceFunction(WireModel):
    name: str


class NamedToolChoice(WireModel):
    type: Literal["function", "code_interpreter", "file_search"]
    function: ToolChoiceFunction | None = None


class JSONSchemaFormat(WireModel):
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        validate_by_name=True,
        serialize_by_alias=True,
        defer_build=True,
    )


class ResponseFormatText(WireModel):
    type: Literal["text"] = "text"


class ResponseFormatJSONObject(WireModel):
    type: Literal["json_object"] = "json_object"


class ResponseFormatJSONSchema(WireModel):
    type: Literal["json_schema"] = "json_schema"
    json_schema: JSONSchemaFormat


ResponseFormat = (
    Literal["auto"]
    | Annotated[
        ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema,
        Field(discriminator="type"),
    ]
)


class Run(Record):
    """One execution of an assistant on a thread, with its status and results."""

    id: ObjectId = Field(default_factory=_id_factory("run"))
    object: Literal["thread.run"] = "thread.run"
    created_at: Timestamp = Field(default_factory=now)
    thread_id: ObjectId | None = None
    assistant_id: str
    status: RunStatus = RunStatus.QUEUED
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    expires_at: Timestamp | None = None
    started_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    failed_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    incomplete_details: RunIncompleteDetails | None = None
    model: str = ""
    instructions: str = ""
    tools: list[Tool] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)
    usage: Usage | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: TruncationStrategy | None = Field(default_factory=TruncationStrategy)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = "auto"
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = "auto"


# --- run steps -------------------------------------------------------------


class MessageCreation(WireModel):
    message_id: str


class MessageCreationStepDetails(WireModel):
    type: Literal["message_creation"] = "message_creation"
    message_creation: MessageCreation


class FunctionToolCallDetails(WireModel):
    name: str
    arguments: str
    output: str | None = None


class FunctionToolCall(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionToolCallDetails


class CodeInterpreterCallDetails(WireModel):
    input: str
    outputs: list[dict[str, Any]] = Field(default_factory=list)


class CodeInterpreterToolCall(WireModel):
    id: str
    type: Literal["code_interpreter"] = "code_interpreter"
    code_interpreter: CodeInterpreterCallDetails


class FileSearchToolCall(WireModel):
    id: str
    type: Literal["file_search"] = "file_search"
    file_search: dict[str, Any] = Field(default_factory=dict)


ToolCall = Annotated[
    FunctionToolCall | CodeInterpreterToolCall | FileSearchToolCall, Field(discriminator="type")
]


class ToolCallsStepDetails(WireModel):
    type: Literal["tool_calls"] = "tool_calls"
    tool_calls: list[ToolCall] = Field(default_factory=list)


StepDetails = Annotated[
    MessageCreationStepDetails | ToolCallsStepDetails, Field(discriminator="type")
]


class RunStep(Record):
    """One step of a run: a message it created, or the tools it called."""

    id: ObjectId = Field(default_factory=_id_factory("step"))
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: Timestamp = Field(default_factory=now)
    assistant_id: str | None = None
    thread_id: ObjectId | None = None
    run_id: ObjectId | None = None
    type: Literal["message_creation", "tool_calls"]
    status: RunStepStatus = RunStepStatus.IN_PROGRESS
    step_details: StepDetails
    last_error: LastError | None = None
    expired_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    failed_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    metadata: Metadata = Field(default_factory=dict)
    usage: Usage | None = None

    @model_validator(mode="before")
    @classmethod
    def _type_from_details(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" not in data:
            details = data.get("step_details")
            kind = (
                details.get("type") if isinstance(details, dict) else getattr(details, "type", None)
            )
            if kind is not None:
                return {**data, "type": kind}
        return data

    @model_validator(mode="after")
    def _type_matches_details(self) -> RunStep:
        if self.type != self.step_details.type:
            raise ValueError(
                f"type {self.type!r} does not match step_details.type {self.step_details.type!r}"
            )
        return self


# --- conversations -----------------------------------------------------------


class Conversation(Record):
    """A conversation of the Conversations API: an ordered list of items, plus metadata."""

    id: ObjectId = Field(default_factory=_id_factory("conv"))
    object: Literal["conversation"] = "conversation"
    created_at: Timestamp = Field(default_factory=now)
    metadata: Metadata = Field(default_factory=dict)


class ConversationDeleted(WireModel):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class ItemPart(BaseModel):
    """Base of conversation items and their parts: known fields are checked, others kept.

    The Responses-era wire format grows often, so a field this version does not know is
    kept as it came (``null`` included) rather than refused. An optional field the
    model knows is shown only when it has a value, as the API shows it.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)


def _is_none(value: Any) -> bool:
    return value is None


def _absent() -> Any:
    """An optional wire field: ``None`` by default, and left out of the JSON while it is."""
    return Field(default=None, exclude_if=_is_none)


class Tagged(ItemPart):
    """A JSON object with a ``type`` this version does not model, kept as given."""

    type: str


def _by_type(known: frozenset[str]) -> Discriminator:
    """Route a value to the model of its ``type``, or to ``"other"`` for any other type.

    A dict without ``type`` but with a ``role`` is a message, as in the Responses API's
    short input form ``{"role": "user", "content": "hi"}``.
    """

    def tag(value: Any) -> str:
        if isinstance(value, dict):
            kind = value.get("type", "message" if "role" in value else None)
        else:
            kind = getattr(value, "type", None)
        return kind if kind in known else "other"

    return Discriminator(tag)


class InputText(ItemPart):
    type: Literal["input_text"] = "input_text"
    text: str


class OutputText(ItemPart):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Tagged] = Field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = _absent()


class Refusal(ItemPart):
    type: Literal["refusal"] = "refusal"
    refusal: str


class InputImage(ItemPart):
    type: Literal["input_image"] = "input_image"
    detail: Literal["low", "high", "auto", "original"] = "auto"
    file_id: str | None = _absent()
    image_url: str | None = _absent()


class InputFile(ItemPart):
    type: Literal["input_file"] = "input_file"
    file_id: str | None = _absent()
    file_url: str | None = _absent()
    file_data: str | None = _absent()
    filename: str | None = _absent()


ContentPart = Annotated[
    Annotated[InputText, Tag("input_text")]
    | Annotated[OutputText, Tag("output_text")]
    | Annotated[Refusal, Tag("refusal")]
    | Annotated[InputImage, Tag("input_image")]
    | Annotated[InputFile, Tag("input_file")]
    | Annotated[Tagged, Tag("other")],
    _by_type(frozenset({"input_text", "output_text", "refusal", "input_image", "input_file"})),
]
"""One part of a message's content (or of a function call's output)."""

ItemStatus = Literal["in_progress", "completed", "incomplete"]

ITEM_ID_PREFIXES: dict[str, str] = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "file_search_call": "fs",
    "web_search_call": "ws",
    "image_generation_call": "ig",
    "computer_call": "cu",
    "computer_call_output": "cuo",
    "tool_search_call": "ts",
    "tool_search_output": "tso",
    "additional_tools": "at",
    "configuration_update": "cfg",
    "program": "prog",
    "program_output": "progo",
    "compaction": "cmp",
    "code_interpreter_call": "ci",
    "local_shell_call": "lsh",
    "local_shell_call_output": "lsho",
    "shell_call": "sh",
    "shell_call_output": "sho",
    "apply_patch_call": "apc",
    "apply_patch_call_output": "apco",
    "mcp_list_tools": "mcpl",
    "mcp_approval_request": "mcpr",
    "mcp_approval_response": "mcpa",
    "mcp_call": "mcp",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}
"""The prefix of a generated item ID, per item type; any other type gets ``item_``."""


def _new_item_id(kind: Any) -> str:
    prefix = ITEM_ID_PREFIXES.get(kind, "item") if isinstance(kind, str) else "item"
    return new_id(prefix)


def _item_id(kind: str) -> Any:
    """The ``id`` field of a modelled item type: generated with the type's prefix."""
    return Field(default_factory=lambda: _new_item_id(kind))


class Item(ItemPart, Record):
    """Base of every conversation item: an ``id`` and a ``type``.

    A missing (or null) ``id`` is generated with the type's usual prefix (``msg_``,
    ``fc_``, ``rs_``...); a given one is kept.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    id: ObjectId
    type: str

    @field_validator("id", mode="before")
    @classmethod
    def _generated_if_null(cls, value: Any) -> Any:
        return _new_item_id(cls.model_fields["type"].default) if value is None else value


class MessageItem(Item):
    """A message to or from the model. ``content`` may be given as a plain string."""

    id: ObjectId = _item_id("message")
    type: Literal["message"] = "message"
    role: Literal[
        "unknown", "user", "assistant", "system", "critic", "discriminator", "developer", "tool"
    ]
    content: list[ContentPart]
    status: ItemStatus = "completed"
    phase: Literal["commentary", "final_answer"] | None = _absent()

    @field_validator("content", mode="before")
    @classmethod
    def _short_form(cls, value: Any, info: ValidationInfo) -> Any:
        """Accept the short input form: a string becomes one text part."""
        if not isinstance(value, str):
            return value
        if info.data.get("role") == "assistant":
            return [{"type": "output_text", "text": value}]
        return [{"type": "input_text", "text": value}]

    @property
    def text(self) -> str:
        """The text of every text part, joined by newlines."""
        return "\n".join(
            part.text for part in self.content if isinstance(part, InputText | OutputText)
        )


class FunctionCallItem(Item):
    """The model's call of a function tool."""

    id: ObjectId = _item_id("function_call")
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str
    status: ItemStatus = "completed"
    namespace: str | None = _absent()
    caller: dict[str, Any] | None = _absent()
    created_by: str | None = _absent()


class FunctionCallOutputItem(Item):
    """What a function call returned: text, or a list of content parts."""

    id: ObjectId = _item_id("function_call_output")
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str | list[ContentPart]
    status: ItemStatus = "completed"
    name: str | None = _absent()
    namespace: str | None = _absent()
    caller: dict[str, Any] | None = _absent()
    created_by: str | None = _absent()


class SummaryText(ItemPart):
    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningText(ItemPart):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(Item):
    """A reasoning model's chain of thought: its summary, and perhaps its text or
    encrypted content (to send back on the next turn)."""

    id: ObjectId = _item_id("reasoning")
    type: Literal["reasoning"] = "reasoning"
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = _absent()
    encrypted_content: str | None = _absent()
    status: ItemStatus | None = _absent()


_MODELLED_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})


class OtherItem(Item):
    """An item of a type this version does not model: a JSON object kept as given."""

    id: ObjectId = _item_id("")  # made from the given type by _fill_id

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id") is None:
            return {**data, "id": _new_item_id(data.get("type"))}
        return data

    @model_validator(mode="after")
    def _not_modelled(self) -> OtherItem:
        if self.type in _MODELLED_ITEMS:
            raise ValueError(f"an item of type {self.type!r} is a {self.type} item")
        if not self.type:
            raise ValueError("an item's type cannot be empty")
        return self


ConversationItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    _by_type(_MODELLED_ITEMS),
]
"""One item of a conversation, by its ``type``: parse a dict with
``TypeAdapter(ConversationItem)``, or let a store do it."""

ModelledItem = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem,
    Field(discriminator="type"),
]
"""The modelled item types alone, routed by ``type`` without Python code: an item of
one of them parses at the cost of its model (about half the cost through
:data:`ConversationItem`, which must route any type and the short input form)."""


# --- lists -----------------------------------------------------------------

T = TypeVar("T", bound=Record)


class Page(BaseModel, Generic[T]):
    """One page of a list, as the API returns it: ``data`` plus the cursors around it."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool

    @classmethod
    def of(cls, items: list[T], has_more: bool) -> Page[T]:
        ids = [item.id for item in items]
        return cls(
            data=items,
            first_id=ids[0] if ids else None,
            last_id=ids[-1] if ids else None,
            has_more=has_more,
        )

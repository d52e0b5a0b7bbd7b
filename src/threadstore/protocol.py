"""The ``ThreadStore`` protocol: every operation a backend offers, and its capabilities.

This is the source of truth. A backend may implement it from scratch; most subclass
:class:`threadstore.base.BaseThreadStore`, which does validation, pagination and the run
rules once and leaves only storage to the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum, StrEnum
from types import TracebackType
from typing import Any, Final, Literal, Protocol, Self, runtime_checkable

from threadstore.models import (
    LastError,
    Message,
    MessageContent,
    MessageDeleted,
    MessageIncompleteDetails,
    MessageStatus,
    Page,
    RequiredAction,
    Run,
    RunIncompleteDetails,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
    ThreadDeleted,
    ToolResources,
    Usage,
)

__all__ = ["UNSET", "Capability", "Order", "ThreadStore", "Unset"]

Order = Literal["asc", "desc"]
ErrorInput = LastError | dict[str, Any] | None


class Unset(Enum):
    """Marks a keyword the caller did not pass, so ``None`` can mean "set to null"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class Capability(StrEnum):
    """What a backend promises beyond the protocol; the conformance suite holds it to each."""

    PERSISTENT = "persistent"
    """Data outlives the store object: closing and reopening the URL finds it again."""
    SHARED = "shared"
    """Two store objects opened on the same URL in one process see each other's writes."""
    MULTI_PROCESS = "multi-process"
    """Several processes may write through one URL at once, with every guarantee kept."""
    MULTI_HOST = "multi-host"
    """Several machines may write through one URL at once, with every guarantee kept."""
    DURABLE = "durable"
    """An acknowledged write survives a crash of the process and of the machine."""


@runtime_checkable
class ThreadStore(Protocol):
    """Threads, messages, runs and run steps, stored with the semantics of DESIGN §4.

    Every ``list_*`` takes keyword-only ``limit`` (1..100), ``order`` (``"asc"`` or
    ``"desc"``), ``after`` and ``before`` (IDs in the list) and returns a :class:`Page`.
    Statuses may be given as enum members or as their wire strings.
    """

    capabilities: frozenset[Capability]

    # threads
    def create_thread(self, thread: Thread | None = None) -> Thread: ...
    def get_thread(self, thread_id: str) -> Thread: ...
    def update_thread(
        self,
        thread_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        tool_resources: ToolResources | dict[str, Any] | Unset | None = UNSET,
    ) -> Thread: ...
    def delete_thread(self, thread_id: str) -> ThreadDeleted: ...
    def list_threads(
        self,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Thread]: ...
    def list_thread_ids(self) -> list[str]: ...

    # messages
    def append_message(self, thread_id: str, message: Message) -> Message: ...
    def get_message(self, thread_id: str, message_id: str) -> Message: ...
    def update_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        status: MessageStatus | str | Unset = UNSET,
        content: list[MessageContent] | list[dict[str, Any]] | str | Unset = UNSET,
        completed_at: int | Unset | None = UNSET,
        incomplete_at: int | Unset | None = UNSET,
        incomplete_details: MessageIncompleteDetails | dict[str, Any] | Unset | None = UNSET,
    ) -> Message: ...
    def delete_message(self, thread_id: str, message_id: str) -> MessageDeleted: ...
    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
    ) -> Page[Message]: ...
    def iter_messages(self, thread_id: str, order: Order = "asc") -> Iterator[Message]: ...

    # runs
    def create_run(self, thread_id: str, run: Run) -> Run: ...
    def get_run(self, thread_id: str, run_id: str) -> Run: ...
    def update_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        expected: RunStatus | str | None = None,
        status: RunStatus | str | Unset = UNSET,
        required_action: RequiredAction | dict[str, Any] | Unset | None = UNSET,
        last_error: ErrorInput | Unset = UNSET,
        expires_at: int | Unset | None = UNSET,
        started_at: int | Unset | None = UNSET,
        cancelled_at: int | Unset | None = UNSET,
        failed_at: int | Unset | None = UNSET,
        completed_at: int | Unset | None = UNSET,
        incomplete_details: RunIncompleteDetails | dict[str, Any] | Unset | None = UNSET,
        usage: Usage | dict[str, Any] | Unset | None = UNSET,
        metadata: dict[str, str] | Unset = UNSET,
    ) -> Run: ...
    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run: ...
    def force_update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
    ) -> Run: ...
    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Run]: ...

    # run steps
    def append_step(self, thread_id: str, run_id: str, step: RunStep) -> RunStep: ...
    def get_step(self, thread_id: str, run_id: str, step_id: str) -> RunStep: ...
    def update_step_status(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        status: RunStepStatus | str,
        error: ErrorInput = None,
    ) -> RunStep: ...
    def update_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        *,
        status: RunStepStatus | str | Unset = UNSET,
        step_details: Any | Unset = UNSET,
        last_error: ErrorInput | Unset = UNSET,
        usage: Usage | dict[str, Any] | Unset | None = UNSET,
        metadata: dict[str, str] | Unset = UNSET,
        expired_at: int | Unset | None = UNSET,
        cancelled_at: int | Unset | None = UNSET,
        failed_at: int | Unset | None = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> RunStep: ...
    def list_steps(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[RunStep]: ...

    # lifecycle
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

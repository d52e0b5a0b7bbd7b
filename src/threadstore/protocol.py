"""The ``ThreadStore`` protocol: every operation a backend offers, and its capabilities.

This is the source of truth: each method says what it returns, in which order, and what
it raises. A backend may implement it from scratch; most subclass
:class:`threadstore.backend.BaseThreadStore`, which does validation, pagination and the
run rules once and leaves only storage to the backend.

Rules every method shares:

- IDs must match ``[A-Za-z0-9][A-Za-z0-9_-]{0,63}``; anything else is
  :class:`~threadstore.errors.InvalidRequestError`, as is any other bad input. Bad input
  is refused before anything is written.
- A missing thread, run, message, step, conversation or item is its own
  :class:`~threadstore.errors.NotFoundError` subclass, for the first one of the path that
  is missing (the thread before the run).
- Lists are in append order (threads and conversations: in creation order). ``list_*``
  take keyword-only
  ``limit`` (1..100, default 20), ``order`` (``"desc"``, the default, or ``"asc"``),
  ``after`` or ``before`` (an ID in the list, excluded; ``before`` returns the previous
  page, still in ``order``) and return a :class:`Page` whose ``has_more`` is exact. A
  cursor that is not in the list is ``InvalidRequestError``.
- Statuses may be given as enum members or as their wire strings. Updates change only
  the keywords given (:data:`UNSET` marks one not given, so ``None`` can mean null).
- :class:`~threadstore.errors.BackendError` means the storage failed and nothing was
  stored, unless its message says the outcome is unknown and how to settle it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum, StrEnum
from types import TracebackType
from typing import Any, Final, Literal, Protocol, Self, runtime_checkable

from threadstore.models import (
    Conversation,
    ConversationDeleted,
    ConversationItem,
    Item,
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

__all__ = ["UNSET", "Capability", "ItemInput", "Order", "ThreadStore", "Unset"]

Order = Literal["asc", "desc"]
ErrorInput = LastError | dict[str, Any] | None
ItemInput = Item | dict[str, Any]
"""A conversation item as a model, or as its JSON object (``{"type": "message", ...}``)."""


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
    """Threads, messages, runs and run steps, and conversations with their items."""

    capabilities: frozenset[Capability]
    """What this store object promises beyond the protocol."""

    # --- threads ------------------------------------------------------------------

    def create_thread(self, thread: Thread | None = None) -> Thread:
        """Store ``thread`` (default: an empty one) and return it as stored.

        Raises ``AlreadyExistsError`` if its ``id`` is taken; nothing is overwritten.
        """
        ...

    def get_thread(self, thread_id: str) -> Thread:
        """Return the thread. Raises ``ThreadNotFound``."""
        ...

    def update_thread(
        self,
        thread_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        tool_resources: ToolResources | dict[str, Any] | Unset | None = UNSET,
    ) -> Thread:
        """Replace the fields given, atomically; return the thread. Raises ``ThreadNotFound``."""
        ...

    def delete_thread(self, thread_id: str) -> ThreadDeleted:
        """Delete the thread with its messages, runs and steps. Raises ``ThreadNotFound``."""
        ...

    def list_threads(
        self,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Thread]:
        """One page of threads, in creation order (``desc``: newest first)."""
        ...

    def list_thread_ids(self) -> list[str]:
        """The IDs of every thread, oldest first."""
        ...

    # --- messages -----------------------------------------------------------------

    def append_message(self, thread_id: str, message: Message) -> Message:
        """Add ``message`` at the end of the thread and return it as stored.

        ``thread_id`` is filled in (a different one is ``InvalidRequestError``); ``id``
        and ``created_at`` are kept. Exactly once under concurrent writers. Raises
        ``ThreadNotFound``, or ``AlreadyExistsError`` if the thread has a message with
        this ``id``.
        """
        ...

    def append_messages(self, thread_id: str, messages: Iterable[Message]) -> list[Message]:
        """Add ``messages`` at the end of the thread, in order and contiguous, as one commit.

        All or nothing: if one cannot be stored (a taken ``id``, bad input), none is.
        Returns them as stored. Raises like :meth:`append_message`.
        """
        ...

    def get_message(self, thread_id: str, message_id: str) -> Message:
        """Return the message. Raises ``ThreadNotFound`` or ``MessageNotFound``."""
        ...

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
    ) -> Message:
        """Replace the fields given, atomically, and return the message.

        ``metadata`` may always change; the other fields only while the message is
        ``in_progress`` (a run writing it), else ``ConflictError``. Raises
        ``ThreadNotFound`` or ``MessageNotFound``.
        """
        ...

    def delete_message(self, thread_id: str, message_id: str) -> MessageDeleted:
        """Delete the message; its ID may be used again. Raises like :meth:`get_message`."""
        ...

    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
    ) -> Page[Message]:
        """One page of the thread's messages, in append order; ``run_id`` keeps only that
        run's. Raises ``ThreadNotFound``."""
        ...

    def iter_messages(self, thread_id: str, order: Order = "asc") -> Iterator[Message]:
        """Every message of the thread, a page at a time (nothing held open in between).

        Raises ``ThreadNotFound``, also when the thread is deleted while it is read.
        """
        ...

    # --- runs ---------------------------------------------------------------------

    def create_run(self, thread_id: str, run: Run) -> Run:
        """Add ``run`` at the end of the thread's runs, in whatever status it has.

        Raises ``ThreadNotFound``, or ``AlreadyExistsError`` if the ``id`` is taken.
        """
        ...

    def get_run(self, thread_id: str, run_id: str) -> Run:
        """Return the run. Raises ``ThreadNotFound`` or ``RunNotFound``."""
        ...

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
    ) -> Run:
        """Replace the fields given, atomically, and return the run.

        A ``status`` moves the run as :meth:`update_run_status` does. ``expected`` makes
        the whole update a compare-and-set on the current status: ``ConflictError`` if
        it differs. Raises ``ThreadNotFound``, ``RunNotFound``, ``RunInTerminalState``.
        """
        ...

    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run:
        """Move the run to ``status`` and return it.

        Sets the move's timestamp (``started_at`` once, ``completed_at``, ``failed_at``,
        ``cancelled_at``), clears ``required_action`` unless the run now requires action,
        and sets ``last_error`` from ``error``. A run in a terminal state does not move:
        ``RunInTerminalState``. With ``expected``, the move is a compare-and-set: of N
        workers claiming a queued run with ``expected="queued"``, one wins and the others
        get ``ConflictError``.
        """
        ...

    def force_update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
    ) -> Run:
        """Like :meth:`update_run_status`, but a terminal run moves too."""
        ...

    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Run]:
        """One page of the thread's runs, in creation order. Raises ``ThreadNotFound``."""
        ...

    # --- run steps ----------------------------------------------------------------

    def append_step(self, thread_id: str, run_id: str, step: RunStep) -> RunStep:
        """Add ``step`` at the end of the run's steps and return it as stored.

        ``thread_id``, ``run_id`` and a missing ``assistant_id`` are taken from the run.
        Raises ``ThreadNotFound``, ``RunNotFound``, or ``AlreadyExistsError``.
        """
        ...

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> RunStep:
        """Return the step. Raises ``ThreadNotFound``, ``RunNotFound``, ``RunStepNotFound``."""
        ...

    def update_step_status(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        status: RunStepStatus | str,
        error: ErrorInput = None,
    ) -> RunStep:
        """Move the step to ``status``, setting its timestamp (``completed_at``,
        ``failed_at``, ``cancelled_at``, ``expired_at``) and ``last_error`` from ``error``.
        Steps have no terminal guard: a step belongs to one worker."""
        ...

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
    ) -> RunStep:
        """Replace the fields given, atomically (new ``step_details`` bring their ``type``)."""
        ...

    def list_steps(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[RunStep]:
        """One page of the run's steps. Raises ``ThreadNotFound`` or ``RunNotFound``."""
        ...

    # --- conversations ------------------------------------------------------------

    def create_conversation(
        self, conversation: Conversation | None = None, *, items: Iterable[ItemInput] = ()
    ) -> Conversation:
        """Store ``conversation`` (default: an empty one) with ``items`` and return it.

        Everything is checked before anything is written: bad input, or an item ID named
        twice, is ``InvalidRequestError`` with nothing stored; a taken conversation ID is
        ``AlreadyExistsError``. The conversation and its items are two commits: if the
        items' commit fails, the error is ``BackendError`` naming the conversation, which
        then exists and holds none of the items -- or all of them if the cause says the
        outcome is unknown (``list_items`` tells) -- to complete with :meth:`add_items`
        or remove with :meth:`delete_conversation`.
        """
        ...

    def get_conversation(self, conversation_id: str) -> Conversation:
        """Return the conversation. Raises ``ConversationNotFound``."""
        ...

    def update_conversation(
        self, conversation_id: str, *, metadata: dict[str, str] | Unset = UNSET
    ) -> Conversation:
        """Replace the metadata, atomically; return the conversation.

        Raises ``ConversationNotFound``.
        """
        ...

    def delete_conversation(self, conversation_id: str) -> ConversationDeleted:
        """Delete the conversation with its items. Raises ``ConversationNotFound``."""
        ...

    def list_conversations(
        self,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Conversation]:
        """One page of conversations, in creation order (``desc``: newest first)."""
        ...

    # --- conversation items -------------------------------------------------------

    def add_items(self, conversation_id: str, items: Iterable[ItemInput]) -> list[ConversationItem]:
        """Add ``items`` at the end of the conversation, in order and contiguous, as one
        commit, and return them as stored.

        Each item is a model or its JSON object, parsed by its ``type`` (a dict with a
        ``role`` and no ``type`` is a message; a message's ``content`` may be a string).
        A missing ``id`` is generated with the type's usual prefix; a given one is kept.
        All or nothing: if one cannot be stored (bad input, an ``id`` the conversation
        has, or one named twice), none is. Exactly once under concurrent writers.
        Raises ``ConversationNotFound``, ``AlreadyExistsError``, ``InvalidRequestError``.
        """
        ...

    def get_item(self, conversation_id: str, item_id: str) -> ConversationItem:
        """Return the item. Raises ``ConversationNotFound`` or ``ItemNotFound``."""
        ...

    def delete_item(self, conversation_id: str, item_id: str) -> Conversation:
        """Delete the item and return its conversation, as the Conversations API does.

        Items are never changed once stored; this is the only way to take one back.
        Raises like :meth:`get_item`.
        """
        ...

    def list_items(
        self,
        conversation_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[ConversationItem]:
        """One page of the conversation's items, in append order (``desc``: newest
        first). Raises ``ConversationNotFound``."""
        ...

    def iter_items(self, conversation_id: str, order: Order = "asc") -> Iterator[ConversationItem]:
        """Every item of the conversation, a page at a time (nothing held open in between).

        Raises ``ConversationNotFound``, also when the conversation is deleted while it is
        read.
        """
        ...

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        """Release files and connections; the data stays where it is."""
        ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

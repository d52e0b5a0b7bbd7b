"""``BaseThreadStore``: the protocol's semantics written once, over five storage hooks.

A backend subclasses it and implements ``_insert``, ``_fetch``, ``_modify``, ``_remove``
and ``_scan`` for its medium (the contract is on each hook). Everything a caller can
observe beyond raw storage lives here: ID and input validation, filling in owners and
timestamps, Assistants pagination with exact ``has_more``, the run and step rules of
:mod:`threadstore.lifecycle`, and conversations with their items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, cast

from threadstore import lifecycle
from threadstore.errors import (
    BackendError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from threadstore.ids import check_id
from threadstore.models import (
    Conversation,
    ConversationDeleted,
    ConversationItem,
    Item,
    Message,
    MessageDeleted,
    MessageStatus,
    Page,
    Record,
    Run,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
    ThreadDeleted,
)
from threadstore.protocol import UNSET, Capability, ErrorInput, ItemInput, Order, Unset
from threadstore.records import (
    CONVERSATIONS,
    ITEMS,
    MESSAGES,
    RUNS,
    STEPS,
    THREADS,
    Kind,
    Scope,
    encode,
    encode_object,
)
from threadstore.validation import Patch, input_rules, patch_of

__all__ = ["MAX_LIMIT", "BaseThreadStore", "CursorNotFound"]

R = TypeVar("R", bound=Record)
MAX_LIMIT = 100
_SCAN_BATCH = 100

_THREAD_PATCH = patch_of(Thread, "metadata", "tool_resources")
_CONVERSATION_PATCH = patch_of(Conversation, "metadata")
_MESSAGE_PATCH = patch_of(
    Message, "metadata", "status", "content", "completed_at", "incomplete_at", "incomplete_details"
)
_RUN_PATCH = patch_of(
    Run,
    "required_action",
    "last_error",
    "expires_at",
    "started_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
    "incomplete_details",
    "usage",
    "metadata",
)
_STEP_PATCH = patch_of(
    RunStep,
    "step_details",
    "last_error",
    "usage",
    "metadata",
    "expired_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
)

_PAGE_CLASSES: dict[str, Any] = {}
"""``Page[Model]`` per kind, held strongly: pydantic keeps parametrised classes only by
weak reference, and rebuilding one after a garbage collection costs about a millisecond."""


def _page_class(kind: Kind[R]) -> type[Page[R]]:
    page = _PAGE_CLASSES.get(kind.name)
    if page is None:
        page = _PAGE_CLASSES[kind.name] = Page[kind.parses_as]  # type: ignore[name-defined]
    return page


class CursorNotFound(Exception):
    """Raised by ``_scan`` when the cursor ID is not a live record of the list."""


def _patch(patch: type[Patch], **fields: Any) -> dict[str, Any]:
    """The validated changes among ``fields`` (those not ``UNSET``); bad input is refused."""
    with input_rules():
        given = patch.model_validate({k: v for k, v in fields.items() if v is not UNSET})
    return given.changes()


def _apply(record: R, changes: dict[str, Any]) -> R:
    """A copy of ``record`` with validated ``changes``; fields a newer writer stored are kept."""
    return record.model_copy(update=changes)


def _fill_owners(record: Record, owners: dict[str, str]) -> None:
    """Set owner IDs in a record just validated, which nobody else holds yet. The IDs were
    checked with the call; an assignment would validate the whole model once more."""
    if owners:
        record.__dict__.update(owners)
        record.__pydantic_fields_set__.update(owners)


def _step_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """New step details bring their type along (the two must agree)."""
    details = changes.get("step_details")
    return changes if details is None else {**changes, "type": details.type}


class BaseThreadStore(ABC):
    """Implements :class:`threadstore.ThreadStore` over five storage hooks.

    Hooks receive validated IDs only. ``scope`` holds the owner IDs of the record:
    ``()`` for threads, ``(thread_id,)`` for messages and runs, ``(thread_id, run_id)``
    for steps. Each hook is atomic on its own; the base never needs two to happen
    together.

    **Not there**, for every hook: raise the :class:`NotFoundError` of the first level
    of ``(*scope, record_id)`` that does not exist, ``kind.owner_missing(scope, level)``
    for an owner or ``kind.missing(record_id)`` for the record itself.
    """

    capabilities: frozenset[Capability] = frozenset()
    """What this store promises; a class declares the most its objects may promise."""

    # --- storage hooks ----------------------------------------------------

    @abstractmethod
    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        """Append ``records`` (one or more), in order, at the end of their list.

        One atomic commit: all of them or none, with one fsync, transaction or round of
        requests where the medium allows. Raise :class:`AlreadyExistsError` if an ID is
        taken in ``scope``; nothing is written or overwritten.
        """

    @abstractmethod
    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        """Return the record."""

    @abstractmethod
    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        """Atomically replace the record with ``change(record)`` and return the result.

        ``change`` may raise to abort (nothing is written) and may be called more than
        once if the backend retries; it does not mutate its argument.
        """

    @abstractmethod
    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        """Delete the record and everything under it (its kind's children)."""

    @abstractmethod
    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        """Return up to ``count`` records that follow ``cursor`` in the list's order.

        Lists are in append order. ``cursor=None`` starts at the first record (the last
        if ``descending``); otherwise the cursor is excluded. Return fewer than ``count``
        only at the end of the list. Raise :class:`CursorNotFound` for a cursor that is
        not a live record of the list.
        """

    def _scan_page(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> tuple[list[R], bool]:
        """:meth:`_scan` of ``count`` records, and whether more follow. Optional: by
        default the records are ``count + 1`` scanned, the last one read only to answer
        the question; a backend that can tell without decoding it overrides this."""
        found = self._scan(kind, scope, cursor, descending, count + 1)
        return found[:count], len(found) > count

    def _close(self) -> None:
        """Release what the backend holds (files, connections). Optional."""

    # --- lifecycle --------------------------------------------------------

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- shared machinery -------------------------------------------------

    def _get(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        return self._fetch(kind, scope, check_id(record_id, f"{kind.singular} id"))

    def _change(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        return self._modify(kind, scope, check_id(record_id, f"{kind.singular} id"), change)

    def _delete(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        self._remove(kind, scope, check_id(record_id, f"{kind.singular} id"))

    @staticmethod
    def _scope(kind: Kind[Any], *ids: str) -> Scope:
        """The call's owner IDs for a record of ``kind``, each checked."""
        owners = kind.lineage[:-1]
        return tuple(
            check_id(i, f"{owner.singular} id") for i, owner in zip(ids, owners, strict=True)
        )

    def _create(self, kind: Kind[R], scope: Scope, records: Iterable[R]) -> list[R]:
        """Validate ``records`` and fill in their owners, then insert them as one batch."""
        return self._add(kind, scope, [self._admit(kind, scope, record) for record in records])

    def _add(self, kind: Kind[R], scope: Scope, records: list[R]) -> list[R]:
        _check_distinct(kind, records)
        if records:
            self._insert(kind, scope, records)
        elif scope:  # nothing to add, but an empty batch still needs its owner
            self._fetch(kind.lineage[-2], scope[:-1], scope[-1])
        return records

    def _admit(self, kind: Kind[R], scope: Scope, record: R) -> R:
        """The record as it will be stored: checked again from its JSON, owners filled in.

        Checking the encoded form catches values changed in place after construction.
        Owner fields left empty are filled from the call; a conflicting value is refused.
        """
        if not isinstance(record, kind.model):
            raise InvalidRequestError(
                f"expected a {kind.model.__name__}, got {type(record).__name__}"
            )
        owners = {}
        for owner, owner_id in zip(kind.lineage[:-1], scope, strict=True):
            field = f"{owner.singular}_id"
            if field not in type(record).model_fields:
                continue
            given = getattr(record, field)
            if given is None:
                owners[field] = owner_id
            elif given != owner_id:
                raise InvalidRequestError(
                    f"{field} {given!r} conflicts with the call's {owner_id!r}"
                )
        extra: Literal["allow"] | None = "allow" if record.__pydantic_extra__ is not None else None
        with input_rules():
            admitted = kind.parse_json(encode(record), extra=extra)
        _fill_owners(admitted, owners)
        return admitted

    def _page(
        self,
        kind: Kind[R],
        scope: Scope,
        *,
        limit: int,
        order: Order,
        after: str | None,
        before: str | None,
        keep: Callable[[R], bool] | None = None,
    ) -> Page[R]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequestError(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        _check_order(order)
        if after is not None and before is not None:
            raise InvalidRequestError("give 'after' or 'before', not both")
        cursor = after if after is not None else before
        if cursor is not None:
            check_id(cursor, "after" if after is not None else "before")
        # `before` pages travel backwards: fetch the other way round, then flip.
        descending = (order == "desc") != (before is not None)
        try:
            if keep is None:
                items, has_more = self._scan_page(kind, scope, cursor, descending, limit)
            else:
                items = self._collect(kind, scope, cursor, descending, limit + 1, keep)
                has_more = len(items) > limit
                items = items[:limit]
        except CursorNotFound:
            raise InvalidRequestError(
                f"cursor {cursor!r} is not a {kind.singular} of this list"
            ) from None
        if before is not None:
            items.reverse()
        return _page_class(kind).of(items, has_more)

    def _collect(
        self,
        kind: Kind[R],
        scope: Scope,
        cursor: str | None,
        descending: bool,
        count: int,
        keep: Callable[[R], bool],
    ) -> list[R]:
        """Up to ``count`` records ``keep`` accepts, scanned a batch at a time."""
        found: list[R] = []
        while len(found) < count:
            want = max(count, _SCAN_BATCH)
            batch = self._scan(kind, scope, cursor, descending, want)
            found.extend(r for r in batch if keep(r))
            if len(batch) < want:
                break
            cursor = batch[-1].id
        return found[:count]

    def _iterate(self, kind: Kind[R], scope: Scope, descending: bool) -> Iterator[R]:
        """Every record of the list, a batch at a time, holding nothing open in between.

        When the record it stands on is deleted meanwhile, it goes on from the last one
        of the batch still there. When none is left, the list was replaced: its owner was
        deleted (and perhaps created again), which is that owner's not-found error. A
        top-level list has no owner: it starts over, skipping what it yielded.
        """
        batch: list[R] = []
        seen: set[str] | None = None if scope else set()
        while True:
            for standing in reversed(batch):
                try:
                    batch = self._scan(kind, scope, standing.id, descending, _SCAN_BATCH)
                    break
                except CursorNotFound:
                    continue
            else:
                if batch and scope:
                    raise self._replaced(kind, scope)
                batch = self._scan(kind, scope, None, descending, _SCAN_BATCH)
            if seen is None:
                yield from batch
            else:
                yield from (record for record in batch if record.id not in seen)
                seen.update(record.id for record in batch)
            if len(batch) < _SCAN_BATCH:
                return

    def _replaced(self, kind: Kind[Any], scope: Scope) -> Exception:
        """The error for a list that lost every record an iteration had seen in a batch."""
        owner = kind.lineage[-2]
        self._fetch(owner, scope[:-1], scope[-1])  # gone: its own error
        return owner.not_found(
            scope[-1], f"{owner.singular} {scope[-1]!r} was deleted while it was being read"
        )

    # --- threads ----------------------------------------------------------

    def create_thread(self, thread: Thread | None = None) -> Thread:
        return self._create(THREADS, (), [thread if thread is not None else Thread()])[0]

    def get_thread(self, thread_id: str) -> Thread:
        return self._get(THREADS, (), thread_id)

    def update_thread(
        self,
        thread_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        tool_resources: Any = UNSET,
    ) -> Thread:
        changes = _patch(_THREAD_PATCH, metadata=metadata, tool_resources=tool_resources)
        return self._change(THREADS, (), thread_id, lambda thread: _apply(thread, changes))

    def delete_thread(self, thread_id: str) -> ThreadDeleted:
        self._delete(THREADS, (), thread_id)
        return ThreadDeleted(id=thread_id)

    def list_threads(
        self,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Thread]:
        return self._page(THREADS, (), limit=limit, order=order, after=after, before=before)

    def list_thread_ids(self) -> list[str]:
        return [thread.id for thread in self._iterate(THREADS, (), descending=False)]

    # --- messages ---------------------------------------------------------

    def append_message(self, thread_id: str, message: Message) -> Message:
        return self._create(MESSAGES, self._scope(MESSAGES, thread_id), [message])[0]

    def append_messages(self, thread_id: str, messages: Iterable[Message]) -> list[Message]:
        return self._create(MESSAGES, self._scope(MESSAGES, thread_id), messages)

    def get_message(self, thread_id: str, message_id: str) -> Message:
        return self._get(MESSAGES, self._scope(MESSAGES, thread_id), message_id)

    def update_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        status: MessageStatus | str | Unset = UNSET,
        content: Any = UNSET,
        completed_at: int | Unset | None = UNSET,
        incomplete_at: int | Unset | None = UNSET,
        incomplete_details: Any = UNSET,
    ) -> Message:
        changes = _patch(
            _MESSAGE_PATCH,
            metadata=metadata,
            status=status,
            content=content,
            completed_at=completed_at,
            incomplete_at=incomplete_at,
            incomplete_details=incomplete_details,
        )
        writing = changes.keys() - {"metadata"}

        def change(message: Message) -> Message:
            if writing and message.status is not MessageStatus.IN_PROGRESS:
                raise ConflictError(
                    f"message {message.id!r} is {message.status.value}; only metadata of a "
                    "finished message can change"
                )
            return _apply(message, changes)

        return self._change(MESSAGES, self._scope(MESSAGES, thread_id), message_id, change)

    def delete_message(self, thread_id: str, message_id: str) -> MessageDeleted:
        self._delete(MESSAGES, self._scope(MESSAGES, thread_id), message_id)
        return MessageDeleted(id=message_id)

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
        keep = None
        if run_id is not None:
            check_id(run_id, "run id")
            keep = lambda message: message.run_id == run_id
        return self._page(
            MESSAGES,
            self._scope(MESSAGES, thread_id),
            limit=limit,
            order=order,
            after=after,
            before=before,
            keep=keep,
        )

    def iter_messages(self, thread_id: str, order: Order = "asc") -> Iterator[Message]:
        _check_order(order)
        scope = self._scope(MESSAGES, thread_id)
        return self._iterate(MESSAGES, scope, descending=order == "desc")

    # --- runs -------------------------------------------------------------

    def create_run(self, thread_id: str, run: Run) -> Run:
        return self._create(RUNS, self._scope(RUNS, thread_id), [run])[0]

    def get_run(self, thread_id: str, run_id: str) -> Run:
        return self._get(RUNS, self._scope(RUNS, thread_id), run_id)

    def update_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        expected: RunStatus | str | None = None,
        status: RunStatus | str | Unset = UNSET,
        required_action: Any = UNSET,
        last_error: Any = UNSET,
        expires_at: int | Unset | None = UNSET,
        started_at: int | Unset | None = UNSET,
        cancelled_at: int | Unset | None = UNSET,
        failed_at: int | Unset | None = UNSET,
        completed_at: int | Unset | None = UNSET,
        incomplete_details: Any = UNSET,
        usage: Any = UNSET,
        metadata: dict[str, str] | Unset = UNSET,
    ) -> Run:
        changes = _patch(
            _RUN_PATCH,
            required_action=required_action,
            last_error=last_error,
            expires_at=expires_at,
            started_at=started_at,
            cancelled_at=cancelled_at,
            failed_at=failed_at,
            completed_at=completed_at,
            incomplete_details=incomplete_details,
            usage=usage,
            metadata=metadata,
        )
        target = None if isinstance(status, Unset) else lifecycle.run_status(status)
        return self._move_run(thread_id, run_id, target, changes, expected, force=False)

    def update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
        *,
        expected: RunStatus | str | None = None,
    ) -> Run:
        changes = {} if error is None else {"last_error": lifecycle.error_of(error)}
        target = lifecycle.run_status(status)
        return self._move_run(thread_id, run_id, target, changes, expected, force=False)

    def force_update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
    ) -> Run:
        changes = {} if error is None else {"last_error": lifecycle.error_of(error)}
        target = lifecycle.run_status(status)
        return self._move_run(thread_id, run_id, target, changes, None, force=True)

    def _move_run(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | None,
        changes: dict[str, Any],
        expected: RunStatus | str | None,
        *,
        force: bool,
    ) -> Run:
        want = None if expected is None else lifecycle.run_status(expected, "expected status")

        def change(run: Run) -> Run:
            lifecycle.check_run_move(run, status, expected=want, force=force)
            moved = changes if status is None else lifecycle.run_move(run, status, changes)
            return _apply(run, moved)

        return self._change(RUNS, self._scope(RUNS, thread_id), run_id, change)

    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Run]:
        return self._page(
            RUNS, self._scope(RUNS, thread_id), limit=limit, order=order, after=after, before=before
        )

    # --- run steps --------------------------------------------------------

    def append_step(self, thread_id: str, run_id: str, step: RunStep) -> RunStep:
        scope = self._scope(STEPS, thread_id, run_id)
        step = self._admit(STEPS, scope, step)
        if step.assistant_id is None:
            run = self._get(RUNS, scope[:1], run_id)
            step = _apply(step, {"assistant_id": run.assistant_id})
        return self._add(STEPS, scope, [step])[0]

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> RunStep:
        return self._get(STEPS, self._scope(STEPS, thread_id, run_id), step_id)

    def update_step_status(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        status: RunStepStatus | str,
        error: ErrorInput = None,
    ) -> RunStep:
        changes = {} if error is None else {"last_error": lifecycle.error_of(error)}
        moved = lifecycle.step_move(lifecycle.step_status(status), changes)
        return self._move_step(thread_id, run_id, step_id, moved)

    def update_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        *,
        status: RunStepStatus | str | Unset = UNSET,
        step_details: Any = UNSET,
        last_error: Any = UNSET,
        usage: Any = UNSET,
        metadata: dict[str, str] | Unset = UNSET,
        expired_at: int | Unset | None = UNSET,
        cancelled_at: int | Unset | None = UNSET,
        failed_at: int | Unset | None = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> RunStep:
        changes = _patch(
            _STEP_PATCH,
            step_details=step_details,
            last_error=last_error,
            usage=usage,
            metadata=metadata,
            expired_at=expired_at,
            cancelled_at=cancelled_at,
            failed_at=failed_at,
            completed_at=completed_at,
        )
        if not isinstance(status, Unset):
            changes = lifecycle.step_move(lifecycle.step_status(status), changes)
        return self._move_step(thread_id, run_id, step_id, changes)

    def _move_step(
        self, thread_id: str, run_id: str, step_id: str, changes: dict[str, Any]
    ) -> RunStep:
        changes = _step_changes(changes)
        scope = self._scope(STEPS, thread_id, run_id)
        return self._change(STEPS, scope, step_id, lambda step: _apply(step, changes))

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
        return self._page(
            STEPS,
            self._scope(STEPS, thread_id, run_id),
            limit=limit,
            order=order,
            after=after,
            before=before,
        )

    # --- conversations ----------------------------------------------------

    def create_conversation(
        self, conversation: Conversation | None = None, *, items: Iterable[ItemInput] = ()
    ) -> Conversation:
        given = conversation if conversation is not None else Conversation()
        conversation = self._admit(CONVERSATIONS, (), given)
        scope = (conversation.id,)
        batch = self._admit_items(scope, items)
        _check_distinct(ITEMS, batch)
        self._add(CONVERSATIONS, (), [conversation])
        if batch:
            try:
                self._insert(ITEMS, scope, batch)
            except NotFoundError:
                raise  # deleted meanwhile, by another caller: nothing of this call remains
            except Exception as exc:
                raise BackendError(
                    f"conversation {conversation.id!r} was stored, but storing its "
                    f"{len(batch)} item(s) failed: {exc}. The conversation exists and holds "
                    "none of them, or all of them if that error says the outcome is unknown "
                    "(list_items tells): add them with add_items, or delete the conversation"
                ) from exc
        return conversation

    def get_conversation(self, conversation_id: str) -> Conversation:
        return self._get(CONVERSATIONS, (), conversation_id)

    def update_conversation(
        self, conversation_id: str, *, metadata: dict[str, str] | Unset = UNSET
    ) -> Conversation:
        changes = _patch(_CONVERSATION_PATCH, metadata=metadata)
        return self._change(CONVERSATIONS, (), conversation_id, lambda c: _apply(c, changes))

    def delete_conversation(self, conversation_id: str) -> ConversationDeleted:
        self._delete(CONVERSATIONS, (), conversation_id)
        return ConversationDeleted(id=conversation_id)

    def list_conversations(
        self,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Conversation]:
        return self._page(CONVERSATIONS, (), limit=limit, order=order, after=after, before=before)

    # --- conversation items -----------------------------------------------

    def add_items(self, conversation_id: str, items: Iterable[ItemInput]) -> list[ConversationItem]:
        scope = self._scope(ITEMS, conversation_id)
        added = self._add(ITEMS, scope, self._admit_items(scope, items))
        return cast(list[ConversationItem], added)

    def _admit_items(self, scope: Scope, items: Iterable[ItemInput]) -> list[Item]:
        """Items as they will be stored: each parsed by its ``type`` from its JSON.

        A model is checked again from its JSON, like any record; a dict is parsed from
        its JSON once, which is that same check.
        """
        if isinstance(items, str | bytes | dict | Item):
            raise InvalidRequestError("items must be a list of items, not a single item")
        return [
            _item_from_json(item) if isinstance(item, dict) else self._admit(ITEMS, scope, item)
            for item in items
        ]

    def get_item(self, conversation_id: str, item_id: str) -> ConversationItem:
        item = self._get(ITEMS, self._scope(ITEMS, conversation_id), item_id)
        return cast(ConversationItem, item)

    def delete_item(self, conversation_id: str, item_id: str) -> Conversation:
        self._delete(ITEMS, self._scope(ITEMS, conversation_id), item_id)
        return self._get(CONVERSATIONS, (), conversation_id)

    def list_items(
        self,
        conversation_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[ConversationItem]:
        scope = self._scope(ITEMS, conversation_id)
        page = self._page(ITEMS, scope, limit=limit, order=order, after=after, before=before)
        return cast(Page[ConversationItem], page)

    def iter_items(self, conversation_id: str, order: Order = "asc") -> Iterator[ConversationItem]:
        _check_order(order)
        scope = self._scope(ITEMS, conversation_id)
        return cast(Iterator[ConversationItem], self._iterate(ITEMS, scope, order == "desc"))


def _item_from_json(item: dict[str, Any]) -> Item:
    """An item given as its JSON object, parsed by its ``type``; bad input is refused."""
    data = encode_object(item, "item")
    with input_rules():
        return ITEMS.parse_json(data)


def _check_distinct(kind: Kind[Any], records: Sequence[Record]) -> None:
    ids = [record.id for record in records]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidRequestError(f"the batch names {kind.singular} {twice[0]!r} twice")


def _check_order(order: Order) -> None:
    if order not in ("asc", "desc"):
        raise InvalidRequestError(f"order must be 'asc' or 'desc', got {order!r}")

"""``BaseThreadStore``: the protocol's semantics written once, over five storage hooks.

A backend subclasses it and implements ``_insert``, ``_fetch``, ``_modify``, ``_remove``
and ``_scan`` for its medium. Everything a caller can observe beyond raw storage lives
here: ID and input validation, filling in owners and timestamps, Assistants pagination
with exact ``has_more``, the terminal-run guard and ``expected=`` compare-and-set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, NoReturn, Self, TypeVar

import pydantic

from threadstore.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RunInTerminalState,
    ThreadNotFound,
)
from threadstore.ids import check_id
from threadstore.models import (
    LastError,
    Message,
    MessageDeleted,
    MessageStatus,
    Page,
    Run,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
    ThreadDeleted,
    WireModel,
    now,
)
from threadstore.protocol import UNSET, Capability, ErrorInput, Order, Unset
from threadstore.records import MESSAGES, RUNS, STEPS, THREADS, Kind, Scope

__all__ = ["MAX_LIMIT", "BaseThreadStore", "CursorNotFound"]

M = TypeVar("M", bound=WireModel)
MAX_LIMIT = 100
_SCAN_BATCH = 100


_PAGE_CLASSES: dict[str, Any] = {}
"""``Page[Model]`` per kind, held strongly: pydantic keeps parametrised classes only by
weak reference, and rebuilding one after a garbage collection costs about a millisecond."""


def _page_class(kind: Kind[M]) -> type[Page[M]]:
    page = _PAGE_CLASSES.get(kind.name)
    if page is None:
        page = _PAGE_CLASSES[kind.name] = Page[kind.model]  # type: ignore[name-defined]
    return page


class CursorNotFound(Exception):
    """Raised by ``_scan`` when the cursor ID is not an item of the list."""


@contextmanager
def _input_rules() -> Iterator[None]:
    """Report pydantic's complaints about caller input as ``InvalidRequestError``."""
    try:
        yield
    except pydantic.ValidationError as exc:
        raise InvalidRequestError(str(exc)) from None


def _with(record: M, changes: dict[str, Any]) -> M:
    """A validated copy of ``record`` with ``changes`` applied."""
    updated = record.model_copy()
    with _input_rules():
        for name, value in changes.items():
            setattr(updated, name, value)
    return updated


def _rebuilt(record: M, changes: dict[str, Any]) -> M:
    """A copy of ``record`` with ``changes``, validated as a whole (for fields that must
    change together, like a step's ``type`` and ``step_details``)."""
    with _input_rules():
        return type(record).model_validate({**record.model_dump(), **changes})


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not UNSET}


def _run_status(value: RunStatus | str, what: str = "status") -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidRequestError(f"unknown run {what} {value!r}; one of: {allowed}") from None


def _step_status(value: RunStepStatus | str) -> RunStepStatus:
    try:
        return RunStepStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStepStatus)
        raise InvalidRequestError(f"unknown step status {value!r}; one of: {allowed}") from None


def _error(value: ErrorInput) -> LastError | None:
    if value is None or isinstance(value, LastError):
        return value
    with _input_rules():
        return LastError.model_validate(value)


_RUN_STAMPS = {
    RunStatus.IN_PROGRESS: "started_at",
    RunStatus.COMPLETED: "completed_at",
    RunStatus.FAILED: "failed_at",
    RunStatus.CANCELLED: "cancelled_at",
}
_STEP_STAMPS = {
    RunStepStatus.COMPLETED: "completed_at",
    RunStepStatus.FAILED: "failed_at",
    RunStepStatus.CANCELLED: "cancelled_at",
    RunStepStatus.EXPIRED: "expired_at",
}


def _run_transition(run: Run, status: RunStatus, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields a move to ``status`` sets, unless the caller set them already."""
    stamp = _RUN_STAMPS.get(status)
    moved = dict(changes)
    if stamp and stamp not in moved and (stamp != "started_at" or run.started_at is None):
        moved[stamp] = now()
    if status is not RunStatus.REQUIRES_ACTION:
        moved.setdefault("required_action", None)
    return moved


class BaseThreadStore(ABC):
    """Implements :class:`threadstore.ThreadStore` over five storage hooks.

    Hooks receive validated IDs only. ``scope`` holds the parent IDs of the record:
    ``()`` for threads, ``(thread_id,)`` for messages and runs, ``(thread_id, run_id)``
    for steps. Each hook must be atomic on its own; the base never needs two hooks to
    happen together.
    """

    capabilities: frozenset[Capability] = frozenset()
    """What this store promises; a class declares the most its objects may promise."""

    # --- storage hooks ----------------------------------------------------

    @abstractmethod
    def _insert(self, kind: Kind[M], scope: Scope, record: M) -> None:
        """Add ``record`` at the end of its list.

        Raise :class:`AlreadyExistsError` if its ID is taken in ``scope`` (nothing is
        overwritten) and ``missing_scope(scope)`` if the owner of the scope is gone.
        """

    @abstractmethod
    def _fetch(self, kind: Kind[M], scope: Scope, record_id: str) -> M | None:
        """Return the record, or ``None`` if it (or its scope) does not exist."""

    @abstractmethod
    def _modify(
        self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]
    ) -> M | None:
        """Atomically replace the record with ``change(record)`` and return the result.

        ``change`` may raise to abort (nothing is written) and may be called more than
        once if the backend retries; it must not mutate its argument. Return ``None``
        if the record does not exist.
        """

    @abstractmethod
    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> bool:
        """Delete the record and everything under it; return whether it existed."""

    @abstractmethod
    def _scan(
        self, kind: Kind[M], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[M]:
        """Return up to ``count`` records that follow ``cursor`` in the list's order.

        Lists are in append order (threads: in ID order). ``cursor=None`` starts at the
        first record (the last if ``descending``); otherwise the cursor is excluded.
        Return fewer than ``count`` only at the end of the list. Raise
        :class:`CursorNotFound` for a cursor not in the list, and
        ``missing_scope(scope)`` if the owner of the scope is gone.
        """

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

    def _get(self, kind: Kind[M], scope: Scope, record_id: str) -> M:
        check_id(record_id, f"{kind.name[:-1]} id")
        record = self._fetch(kind, scope, record_id)
        if record is None:
            self._raise_missing(kind, scope, record_id)
        return record

    def _change(self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]) -> M:
        check_id(record_id, f"{kind.name[:-1]} id")
        record = self._modify(kind, scope, record_id, change)
        if record is None:
            self._raise_missing(kind, scope, record_id)
        return record

    def _raise_missing(self, kind: Kind[Any], scope: Scope, record_id: str) -> NoReturn:
        """Raise the most precise not-found error: the thread, the run, or the record."""
        if scope and self._fetch(THREADS, (), scope[0]) is None:
            raise ThreadNotFound(scope[0])
        if len(scope) == 2 and self._fetch(RUNS, scope[:1], scope[1]) is None:
            raise RUNS.missing(scope[1])
        raise kind.missing(record_id)

    def _refine_missing(self, scope: Scope, error: NotFoundError) -> NotFoundError:
        if len(scope) == 2 and self._fetch(THREADS, (), scope[0]) is None:
            return ThreadNotFound(scope[0])
        return error

    def _scope(self, *ids: str) -> Scope:
        names = ("thread id", "run id")
        return tuple(check_id(value, name) for value, name in zip(ids, names, strict=False))

    def _own(self, record: M, scope: Scope, fields: tuple[str, ...]) -> M:
        """Fill the record's owner IDs from the call, refusing a conflicting value."""
        changes = {}
        for name, owner in zip(fields, scope, strict=True):
            given = getattr(record, name)
            if given is None:
                changes[name] = owner
            elif given != owner:
                raise InvalidRequestError(f"{name} {given!r} conflicts with the call's {owner!r}")
        return _with(record, changes) if changes else record.model_copy()

    def _create(self, kind: Kind[M], scope: Scope, record: M) -> M:
        if not isinstance(record, kind.model):
            raise InvalidRequestError(
                f"expected a {kind.model.__name__}, got {type(record).__name__}"
            )
        with _input_rules():  # assignments after construction may have skipped a rule
            record = kind.model.model_validate(record.model_dump())
        try:
            self._insert(kind, scope, record)
        except NotFoundError as error:
            raise self._refine_missing(scope, error) from None
        return record

    def _page(
        self,
        kind: Kind[M],
        scope: Scope,
        *,
        limit: int,
        order: Order,
        after: str | None,
        before: str | None,
        keep: Callable[[M], bool] | None = None,
    ) -> Page[M]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequestError(
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}"
            )
        if order not in ("asc", "desc"):
            raise InvalidRequestError(f"order must be 'asc' or 'desc', got {order!r}")
        if after is not None and before is not None:
            raise InvalidRequestError("give 'after' or 'before', not both")
        cursor = after if after is not None else before
        if cursor is not None:
            check_id(cursor, "after" if after is not None else "before")
        # `before` pages travel backwards: fetch the other way round, then flip.
        descending = (order == "desc") != (before is not None)
        items = self._collect(kind, scope, cursor, descending, limit + 1, keep)
        has_more = len(items) > limit
        items = items[:limit]
        if before is not None:
            items.reverse()
        return _page_class(kind).of(items, has_more)

    def _collect(
        self,
        kind: Kind[M],
        scope: Scope,
        cursor: str | None,
        descending: bool,
        count: int,
        keep: Callable[[M], bool] | None,
    ) -> list[M]:
        found: list[M] = []
        while len(found) < count:
            want = count - len(found) if keep is None else max(count, _SCAN_BATCH)
            try:
                batch = self._scan(kind, scope, cursor, descending, want)
            except CursorNotFound:
                raise InvalidRequestError(
                    f"cursor {cursor!r} is not a {kind.name[:-1]} of this list"
                ) from None
            except NotFoundError as error:
                raise self._refine_missing(scope, error) from None
            found.extend(batch if keep is None else [r for r in batch if keep(r)])
            if len(batch) < want:
                break
            cursor = getattr(batch[-1], "id")  # noqa: B009
        return found[:count]

    def _iterate(self, kind: Kind[M], scope: Scope, descending: bool) -> Iterator[M]:
        cursor: str | None = None
        while True:
            batch = self._collect(kind, scope, cursor, descending, _SCAN_BATCH, None)
            yield from batch
            if len(batch) < _SCAN_BATCH:
                return
            cursor = getattr(batch[-1], "id")  # noqa: B009

    # --- threads ----------------------------------------------------------

    def create_thread(self, thread: Thread | None = None) -> Thread:
        return self._create(THREADS, (), thread if thread is not None else Thread())

    def get_thread(self, thread_id: str) -> Thread:
        return self._get(THREADS, (), thread_id)

    def update_thread(
        self,
        thread_id: str,
        *,
        metadata: dict[str, str] | Unset = UNSET,
        tool_resources: Any = UNSET,
    ) -> Thread:
        changes = _given(metadata=metadata, tool_resources=tool_resources)
        _with(Thread(), changes)  # refuse bad input before touching storage
        return self._change(THREADS, (), thread_id, lambda thread: _with(thread, changes))

    def delete_thread(self, thread_id: str) -> ThreadDeleted:
        check_id(thread_id, "thread id")
        if not self._remove(THREADS, (), thread_id):
            raise ThreadNotFound(thread_id)
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
        scope = self._scope(thread_id)
        return self._create(MESSAGES, scope, self._own(message, scope, ("thread_id",)))

    def get_message(self, thread_id: str, message_id: str) -> Message:
        return self._get(MESSAGES, self._scope(thread_id), message_id)

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
        writing = _given(
            status=status,
            content=content,
            completed_at=completed_at,
            incomplete_at=incomplete_at,
            incomplete_details=incomplete_details,
        )
        changes = {**_given(metadata=metadata), **writing}
        _with(Message.user(""), changes)

        def change(message: Message) -> Message:
            if writing and message.status is not MessageStatus.IN_PROGRESS:
                raise ConflictError(
                    f"message {message.id!r} is {message.status.value}; only metadata of a "
                    "finished message can change"
                )
            return _with(message, changes)

        return self._change(MESSAGES, self._scope(thread_id), message_id, change)

    def delete_message(self, thread_id: str, message_id: str) -> MessageDeleted:
        scope = self._scope(thread_id)
        check_id(message_id, "message id")
        if not self._remove(MESSAGES, scope, message_id):
            self._raise_missing(MESSAGES, scope, message_id)
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
            self._scope(thread_id),
            limit=limit,
            order=order,
            after=after,
            before=before,
            keep=keep,
        )

    def iter_messages(self, thread_id: str, order: Order = "asc") -> Iterator[Message]:
        if order not in ("asc", "desc"):
            raise InvalidRequestError(f"order must be 'asc' or 'desc', got {order!r}")
        return self._iterate(MESSAGES, self._scope(thread_id), descending=order == "desc")

    # --- runs -------------------------------------------------------------

    def create_run(self, thread_id: str, run: Run) -> Run:
        scope = self._scope(thread_id)
        return self._create(RUNS, scope, self._own(run, scope, ("thread_id",)))

    def get_run(self, thread_id: str, run_id: str) -> Run:
        return self._get(RUNS, self._scope(thread_id), run_id)

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
        changes = _given(
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
        _with(Run(assistant_id=""), changes)
        target = None if isinstance(status, Unset) else _run_status(status)
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
        changes = {} if error is None else {"last_error": _error(error)}
        return self._move_run(
            thread_id, run_id, _run_status(status), changes, expected, force=False
        )

    def force_update_run_status(
        self,
        thread_id: str,
        run_id: str,
        status: RunStatus | str,
        error: ErrorInput = None,
    ) -> Run:
        changes = {} if error is None else {"last_error": _error(error)}
        return self._move_run(thread_id, run_id, _run_status(status), changes, None, force=True)

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
        want = None if expected is None else _run_status(expected, "expected status")

        def change(run: Run) -> Run:
            if status is not None and not force and run.status.is_terminal:
                raise RunInTerminalState(
                    f"run {run.id!r} is {run.status.value}; it cannot become {status.value}"
                )
            if want is not None and run.status is not want:
                raise ConflictError(
                    f"run {run.id!r} is {run.status.value}, not {want.value} as expected"
                )
            if status is None:
                return _with(run, changes)
            return _with(run, {"status": status, **_run_transition(run, status, changes)})

        return self._change(RUNS, self._scope(thread_id), run_id, change)

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
            RUNS, self._scope(thread_id), limit=limit, order=order, after=after, before=before
        )

    # --- run steps --------------------------------------------------------

    def append_step(self, thread_id: str, run_id: str, step: RunStep) -> RunStep:
        scope = self._scope(thread_id, run_id)
        step = self._own(step, scope, ("thread_id", "run_id"))
        if step.assistant_id is None:
            run = self._get(RUNS, scope[:1], run_id)
            step = _with(step, {"assistant_id": run.assistant_id})
        return self._create(STEPS, scope, step)

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> RunStep:
        return self._get(STEPS, self._scope(thread_id, run_id), step_id)

    def update_step_status(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        status: RunStepStatus | str,
        error: ErrorInput = None,
    ) -> RunStep:
        changes = {} if error is None else {"last_error": _error(error)}
        return self._move_step(thread_id, run_id, step_id, _step_status(status), changes)

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
        changes = _given(
            last_error=last_error,
            usage=usage,
            metadata=metadata,
            expired_at=expired_at,
            cancelled_at=cancelled_at,
            failed_at=failed_at,
            completed_at=completed_at,
        )
        if not isinstance(step_details, Unset):
            with _input_rules():
                probe = RunStep.model_validate({"step_details": step_details})
            changes["step_details"] = probe.step_details
            changes["type"] = probe.type
        target = None if isinstance(status, Unset) else _step_status(status)
        return self._move_step(thread_id, run_id, step_id, target, changes)

    def _move_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        status: RunStepStatus | None,
        changes: dict[str, Any],
    ) -> RunStep:
        if status is not None:
            stamp = _STEP_STAMPS.get(status)
            changes = {"status": status, **({stamp: now()} if stamp else {}), **changes}
        return self._change(
            STEPS, self._scope(thread_id, run_id), step_id, lambda step: _rebuilt(step, changes)
        )

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
            self._scope(thread_id, run_id),
            limit=limit,
            order=order,
            after=after,
            before=before,
        )

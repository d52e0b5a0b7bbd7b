"""A Hypothesis state machine that drives a backend and the memory model side by side.

It covers both families: threads with their messages, runs and steps, and
conversations with their items.

Every rule applies one operation to the store under test and to a private memory
store (the model) and demands the same outcome: equal records, or errors of the same
class. Pages are checked against a brute-force oracle computed from the machine's own
record of each list's order, so a bug in the pagination code the model shares with
most backends (``BaseThreadStore``) is caught too.

The suite runs it as ``StateMachineTests.test_state_machine``; run it yourself
with :func:`run_state_machine`. The budget comes from a profile chosen by
``THREADSTORE_HYPOTHESIS_PROFILE``: ``ci`` (the default: bounded, derandomized, no
shrinking), ``quick`` (less of the same, for backends behind a network), ``debug``
(the ci examples, a failure shrunk to a minimal sequence) or ``long`` (many new random
sequences).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any, ClassVar, Generic, TypeVar, cast

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import BaseModel, TypeAdapter

from threadstore.errors import (
    ConversationNotFound,
    InvalidRequestError,
    NotFoundError,
    RunNotFound,
    ThreadNotFound,
    ThreadStoreError,
)
from threadstore.models import (
    Conversation,
    ConversationItem,
    LastError,
    Message,
    MessageStatus,
    Page,
    Record,
    Run,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
)
from threadstore.protocol import UNSET, Capability, ThreadStore
from threadstore.registry import open_store

__all__ = [
    "PROFILES",
    "PROFILE_VARIABLE",
    "ThreadStoreStateMachine",
    "profile",
    "run_state_machine",
]

Opener = Callable[[], ThreadStore]
"""Opens one more store object on one location."""
NewLocation = Callable[[], Opener]
"""Makes a fresh, empty location and returns its opener."""

PROFILE_VARIABLE = "THREADSTORE_HYPOTHESIS_PROFILE"
_PATIENT = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_CI = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_PATIENT,
)
PROFILES: dict[str, settings] = {
    # The same examples on every run, and a failure is reported as found: shrinking a
    # long sequence can take minutes.
    "ci": _CI,
    # The ci examples, with the failing sequence shrunk to a minimal one.
    "debug": settings(_CI, phases=[Phase.explicit, Phase.generate, Phase.shrink]),
    # For a backend whose every request crosses a network: a fifth of the ci work.
    "quick": settings(_CI, max_examples=8, stateful_step_count=20),
    # New random sequences each run, many more of them, shrunk on failure.
    "long": settings(
        max_examples=1000,
        stateful_step_count=80,
        deadline=None,
        suppress_health_check=_PATIENT,
    ),
}


def profile(name: str | None = None, *, default: str = "ci") -> settings:
    """The settings named ``name``, else by ``$THREADSTORE_HYPOTHESIS_PROFILE``, else ``default``.

    A slow backend's test class asks for ``profile(default="quick")``: its CI runs less,
    and the environment can still ask for ``long``.
    """
    chosen = name or os.environ.get(PROFILE_VARIABLE) or default
    if chosen not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE}={chosen!r}; known profiles: {', '.join(PROFILES)}")
    return PROFILES[chosen]


# Caller IDs come from small pools so creates collide; the MISSING ones are never created.
THREAD_IDS = ("thread_a", "thread_b", "thread_c")
MESSAGE_IDS = ("msg_a", "msg_b")
RUN_IDS = ("run_a", "run_b")
STEP_IDS = ("step_a", "step_b")
MISSING_THREAD, MISSING_MESSAGE, MISSING_RUN, MISSING_STEP = (
    "thread_missing",
    "msg_missing",
    "run_missing",
    "step_missing",
)
CONVERSATION_IDS = ("conv_a", "conv_b", "thread_a")  # a thread's ID names a conversation too
ITEM_IDS = ("msg_a", "fc_a")
MISSING_CONVERSATION, MISSING_ITEM = "conv_missing", "item_missing"
ITEM_SHAPES: list[dict[str, Any]] = [
    {"role": "user", "content": "hi"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "yo"}]},
    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    {
        "type": "function_call_output",
        "call_id": "c1",
        "output": [{"type": "input_text", "text": "4"}],
    },
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]},
    {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
    {"type": "message", "role": "robot", "content": "x"},  # refused: no such role
]
_ITEMS: TypeAdapter[ConversationItem] = TypeAdapter(ConversationItem)
VALID_METADATA: list[dict[str, str]] = [{}, {"a": "1"}, {"a": "2", "b": ""}, {"c": "v" * 512}]
METADATA = [*VALID_METADATA, {f"k{i}": "v" for i in range(17)}]  # the last is refused
USAGE = {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3}
ERRORS: list[Any] = [
    None,
    {"code": "server_error", "message": "boom"},
    LastError(code="rate_limit_exceeded", message="slow"),
    {"code": "no_such_code", "message": ""},  # refused
]
_OPEN = [s for s in RunStatus if not s.is_terminal]
# Enum members and wire strings; open statuses weigh more, or runs would soon all be done.
RUN_STATUSES: list[Any] = [*_OPEN, *(s.value for s in _OPEN), *_OPEN] + [
    s if i % 2 else s.value for i, s in enumerate(RunStatus) if s.is_terminal
]
STEP_STATUSES: list[Any] = [*RunStepStatus, "queued"]  # "queued" is no step status
STEP_DETAILS = [
    {"type": "message_creation", "message_creation": {"message_id": "msg_a"}},
    {"type": "tool_calls", "tool_calls": []},
]
LIMITS = [1, 2, 3, 1, 2, 4, 5, 100, 0, 101]  # mostly small pages; 0 and 101 are refused
STAMPED = ("started_at", "completed_at", "failed_at", "cancelled_at", "expired_at")
STAMP_SLACK = 120
"""Seconds two stores may differ on a timestamp each sets to "now" on its own."""

LIVE_WEIGHT = 5
"""How many times likelier a rule picks an existing record than a deleted or missing one."""

R = TypeVar("R")
T = TypeVar("T")
M = TypeVar("M", bound=Record)


@dataclass
class _Thread:
    """What the machine knows of one thread: each list's order, and what was deleted."""

    messages: list[str] = field(default_factory=list)
    message_runs: dict[str, str | None] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    steps: dict[str, list[str]] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)


@dataclass
class _Conversation:
    """What the machine knows of one conversation: its items' order, and what was deleted."""

    items: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


@dataclass
class _Listing(Generic[M]):
    """One list as the machine sees it: how to page it, its order, how to fetch an item."""

    what: str
    page: Callable[..., Page[M]]
    fetch: Callable[[ThreadStore, str], M]
    ids: list[str] | None  # None: the list's owner does not exist
    missing: type[NotFoundError] = ThreadNotFound
    keep: Callable[[str], bool] | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _attempt(call: Callable[[ThreadStore], R], store: ThreadStore) -> tuple[Any, Any]:
    try:
        return call(store), None
    except ThreadStoreError as error:
        return None, error


def _describe(result: Any, error: BaseException | None) -> str:
    if error is not None:
        return f"raised {type(error).__name__}: {error}"
    return f"returned {result!r}"


def _agree(got: Any, want: Any, what: str) -> None:
    """Assert two results are the same, allowing store-set timestamps a little slack."""
    assert type(got) is type(want), f"{what}: backend returned {got!r}, model {want!r}"
    if isinstance(got, list) and len(got) == len(want):
        for one, other in zip(got, want, strict=True):
            _agree(one, other, what)
        return
    if not isinstance(got, BaseModel):
        assert got == want, f"{what}: backend returned {got!r}, model {want!r}"
        return
    mine, theirs = got.model_dump(mode="json"), want.model_dump(mode="json")
    if isinstance(got, Run | RunStep):
        for name in STAMPED:
            a, b = mine.pop(name, None), theirs.pop(name, None)
            assert (a is None) == (b is None), f"{what}: {name} is {a}, model has {b}"
            assert a is None or abs(a - b) <= STAMP_SLACK, f"{what}: {name} is {a}, model has {b}"
    differing = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    assert not differing, (
        f"{what}: backend and model differ in {differing}: "
        f"backend {[mine.get(k) for k in differing]}, model {[theirs.get(k) for k in differing]}"
    )


def _fit(ids: list[str]) -> int:
    """A page limit that holds the whole list."""
    return min(100, max(1, len(ids)))


def _window(
    ids: list[str],
    *,
    limit: int,
    order: str,
    after: str | None,
    before: str | None,
    keep: Callable[[str], bool] | None,
) -> tuple[list[str], bool]:
    """The oracle: the page's IDs and ``has_more``, computed from the whole list."""
    line = ids if order == "asc" else ids[::-1]
    if after is not None:
        rest = line[line.index(after) + 1 :]
    elif before is not None:
        rest = line[: line.index(before)]
    else:
        rest = line
    if keep is not None:
        rest = [item for item in rest if keep(item)]
    page = rest[-limit:] if before is not None else rest[:limit]
    return page, len(rest) > limit


class ThreadStoreStateMachine(RuleBasedStateMachine):
    """Random operation sequences on a backend and the model; any difference fails.

    Bind it to a backend with :meth:`bind` (or use :func:`run_state_machine`): the
    machine calls ``new_location()`` once per example for a fresh, empty store.
    Capabilities decide the extra rules: ``PERSISTENT`` reopens the store mid-run,
    ``SHARED`` switches between two store objects on the same location.
    """

    new_location: ClassVar[NewLocation]

    @classmethod
    def bind(cls, new_location: NewLocation) -> type[ThreadStoreStateMachine]:
        """A machine class whose examples each run on ``new_location()``."""

        bound = type(cls.__name__, (cls,), {"new_location": staticmethod(new_location)})
        return cast(type[ThreadStoreStateMachine], bound)

    def __init__(self) -> None:
        super().__init__()
        self.open = type(self).new_location()
        self.handles: list[ThreadStore] = []
        self.open_handles()
        self.capabilities = frozenset(self.store.capabilities)
        self.model = open_store("memory://")
        self.threads: dict[str, _Thread] = {}
        self.seen_threads: set[str] = set()
        self.touched: tuple[str, str | None, frozenset[str]] | None = None
        self.conversations: dict[str, _Conversation] = {}  # in creation order
        self.seen_conversations: set[str] = set()
        self.touched_conversation: str | None = None

    def open_handles(self) -> None:
        """Open the store; for a ``SHARED`` backend, a second object reads what the first wrote."""
        self.handles = [self.open()]
        if Capability.SHARED in self.handles[0].capabilities:
            self.handles.append(self.open())
        self.store, self.reader = self.handles[0], self.handles[-1]

    # --- the comparison ---------------------------------------------------------

    def both(
        self, what: str, call: Callable[[ThreadStore], R], via: ThreadStore | None = None
    ) -> tuple[R, R] | None:
        """Run ``call`` on the backend and the model; return both results, or None on errors."""
        got, got_error = _attempt(call, via or self.store)
        want, want_error = _attempt(call, self.model)
        assert type(got_error) is type(want_error), (
            f"{what}: backend {_describe(got, got_error)}; model {_describe(want, want_error)}"
        )
        if want_error is not None:
            return None
        _agree(got, want, what)
        return got, want

    def touch(self, thread_id: str, run_id: str | None, *parts: str) -> None:
        """Mark what the step may have changed, for the invariant to check after it."""
        self.touched = (thread_id, run_id, frozenset(parts))

    def touch_conversation(self, conversation_id: str) -> None:
        """Mark a conversation (and its items) changed, for the invariant to check."""
        self.touched_conversation = conversation_id

    def page(
        self,
        listing: _Listing[M],
        *,
        limit: int,
        order: str,
        after: str | None = None,
        before: str | None = None,
        via: ThreadStore | None = None,
    ) -> Page[M] | None:
        """Ask the backend and the model for one page; check both against the oracle."""
        cursor = after if after is not None else before
        what = f"{listing.what}(limit={limit}, order={order}, after={after}, before={before})"
        expected: type[ThreadStoreError] | None = None
        if not 1 <= limit <= 100 or (after is not None and before is not None):
            expected = InvalidRequestError
        elif listing.ids is None:
            expected = listing.missing
        elif cursor is not None and cursor not in listing.ids:
            expected = InvalidRequestError
        options = {"limit": limit, "order": order, "after": after, "before": before}
        call: Callable[[ThreadStore], Page[M]] = lambda s: listing.page(
            s, **options, **listing.options
        )
        got, got_error = _attempt(call, via or self.store)
        want, want_error = _attempt(call, self.model)
        if expected is not None or listing.ids is None:
            for who, result, error in (("backend", got, got_error), ("model", want, want_error)):
                assert type(error) is expected, (
                    f"{what}: {who} {_describe(result, error)}; expected {expected}"
                )
            return None
        ids, has_more = _window(
            listing.ids, limit=limit, order=order, after=after, before=before, keep=listing.keep
        )
        for who, result, error in (("backend", got, got_error), ("model", want, want_error)):
            assert error is None, f"{what}: {who} {_describe(result, error)}"
            shown = [item.id for item in result.data]
            assert shown == ids, f"{what}: {who} listed {shown}, expected {ids}"
            assert result.has_more is has_more, (
                f"{what}: {who} says has_more={result.has_more}, expected {has_more}"
            )
            assert (result.first_id, result.last_id) == (
                ids[0] if ids else None,
                ids[-1] if ids else None,
            ), f"{what}: {who} page has first_id/last_id {result.first_id}/{result.last_id}"
        for item in got.data:
            _agree(item, listing.fetch(self.model, item.id), f"{what} item {item.id}")
        page: Page[M] = got
        return page

    def walk(
        self,
        listing: _Listing[M],
        *,
        limit: int,
        order: str,
        backwards: bool = False,
        via: ThreadStore | None = None,
    ) -> None:
        """Follow cursors through a whole list; every item must appear exactly once."""
        if listing.ids is None:
            self.page(listing, limit=limit, order=order, via=via)
            return
        line = listing.ids if order == "asc" else listing.ids[::-1]
        if backwards and not line:
            return
        start = line[-1] if backwards else None
        if backwards:
            line = line[:-1]
        expected = [i for i in line if listing.keep is None or listing.keep(i)]
        seen: list[str] = []
        page = self.page(listing, limit=limit, order=order, before=start, via=via)
        for _ in range(len(line) + 1):
            assert page is not None
            ids = [item.id for item in page.data]
            seen = ids + seen if backwards else seen + ids
            if not page.has_more:
                break
            if backwards:
                page = self.page(listing, limit=limit, order=order, before=page.first_id, via=via)
            else:
                page = self.page(listing, limit=limit, order=order, after=page.last_id, via=via)
        assert seen == expected, f"walking {listing.what} saw {seen}, expected {expected}"

    # --- what the machine knows ---------------------------------------------------

    @staticmethod
    def pick(data: st.DataObject, live: list[T], other: list[T]) -> T:
        """Mostly something that exists; now and then something deleted or never made."""
        if live and data.draw(st.integers(0, LIVE_WEIGHT)) > 0:
            return data.draw(st.sampled_from(live))
        return data.draw(st.sampled_from(other))

    def pick_thread(self, data: st.DataObject) -> str:
        gone = sorted(self.seen_threads - self.threads.keys())
        return self.pick(data, sorted(self.threads), [*gone, MISSING_THREAD])

    def pick_message(self, data: st.DataObject) -> tuple[str, str]:
        threads = sorted(self.threads.items())
        return self.pick(
            data,
            [(t, m) for t, lists in threads for m in lists.messages],
            [(t, m) for t, lists in threads for m in lists.gone if m.startswith("msg_")]
            + [(t, MISSING_MESSAGE) for t, _ in threads]
            + [(MISSING_THREAD, MISSING_MESSAGE)],
        )

    def pick_run(self, data: st.DataObject) -> tuple[str, str]:
        threads = sorted(self.threads.items())
        return self.pick(
            data,
            [(t, r) for t, lists in threads for r in lists.runs],
            [(t, MISSING_RUN) for t, _ in threads] + [(MISSING_THREAD, MISSING_RUN)],
        )

    def pick_step(self, data: st.DataObject) -> tuple[str, str, str]:
        threads = sorted(self.threads.items())
        runs = [(t, r) for t, lists in threads for r in lists.runs]
        return self.pick(
            data,
            [(t, r, s) for t, lists in threads for r in lists.runs for s in lists.steps[r]],
            [(t, r, MISSING_STEP) for t, r in runs]
            + [(t, MISSING_RUN, MISSING_STEP) for t, _ in threads]
            + [(MISSING_THREAD, MISSING_RUN, MISSING_STEP)],
        )

    def pick_conversation(self, data: st.DataObject) -> str:
        gone = sorted(self.seen_conversations - self.conversations.keys())
        return self.pick(data, list(self.conversations), [*gone, MISSING_CONVERSATION])

    def pick_item(self, data: st.DataObject) -> tuple[str, str]:
        conversations = list(self.conversations.items())
        return self.pick(
            data,
            [(c, i) for c, known in conversations for i in known.items],
            [(c, i) for c, known in conversations for i in known.gone]
            + [(c, MISSING_ITEM) for c, _ in conversations]
            + [(MISSING_CONVERSATION, MISSING_ITEM)],
        )

    def listing(self, data: st.DataObject, kind: str) -> _Listing[Any]:
        """Pick a list of ``kind`` (its owner may be missing) and describe it."""
        if kind == "conversations":
            return self.conversations_listing()
        if kind == "items":
            return self.items_of(self.pick_conversation(data))
        if kind == "threads":
            return _Listing(
                "list_threads",
                lambda s, **kw: s.list_threads(**kw),
                lambda s, i: s.get_thread(i),
                list(self.threads),  # creation order: a thread made again goes last
            )
        if kind == "steps":
            return self.steps_of(*self.pick_run(data))
        thread_id = self.pick_thread(data)
        if kind == "runs":
            return self.runs_of(thread_id)
        return self.messages_of(thread_id, data.draw(st.sampled_from([None, None, *RUN_IDS])))

    def messages_of(self, thread_id: str, run_id: str | None = None) -> _Listing[Message]:
        lists = self.threads.get(thread_id)
        owners = {} if lists is None else lists.message_runs
        return _Listing(
            f"list_messages({thread_id}, run_id={run_id})",
            lambda s, **kw: s.list_messages(thread_id, **kw),
            lambda s, i: s.get_message(thread_id, i),
            None if lists is None else lists.messages,
            keep=None if run_id is None else (lambda i: owners[i] == run_id),
            options={"run_id": run_id},
        )

    def runs_of(self, thread_id: str) -> _Listing[Run]:
        lists = self.threads.get(thread_id)
        return _Listing(
            f"list_runs({thread_id})",
            lambda s, **kw: s.list_runs(thread_id, **kw),
            lambda s, i: s.get_run(thread_id, i),
            None if lists is None else lists.runs,
        )

    def steps_of(self, thread_id: str, run_id: str) -> _Listing[RunStep]:
        lists = self.threads.get(thread_id)
        return _Listing(
            f"list_steps({thread_id}, {run_id})",
            lambda s, **kw: s.list_steps(thread_id, run_id, **kw),
            lambda s, i: s.get_step(thread_id, run_id, i),
            None if lists is None else lists.steps.get(run_id),
            ThreadNotFound if lists is None else RunNotFound,
        )

    def conversations_listing(self) -> _Listing[Conversation]:
        return _Listing(
            "list_conversations",
            lambda s, **kw: s.list_conversations(**kw),
            lambda s, i: s.get_conversation(i),
            list(self.conversations),
        )

    def items_of(self, conversation_id: str) -> _Listing[Any]:
        known = self.conversations.get(conversation_id)
        return _Listing(
            f"list_items({conversation_id})",
            lambda s, **kw: s.list_items(conversation_id, **kw),
            lambda s, i: s.get_item(conversation_id, i),
            None if known is None else known.items,
            ConversationNotFound,
        )

    def cursor(self, data: st.DataObject, listing: _Listing[Any]) -> str | None:
        ids = listing.ids or []
        strays = [MISSING_MESSAGE, MISSING_THREAD, MISSING_ITEM, *self.known_gone()]
        return data.draw(st.sampled_from([None, *ids, *strays]))

    def known_gone(self) -> Iterator[str]:
        for lists in self.threads.values():
            yield from lists.gone
        for known in self.conversations.values():
            yield from known.gone
        yield from sorted(self.seen_conversations - self.conversations.keys())

    # --- threads -----------------------------------------------------------------

    @initialize(
        messages=st.integers(0, 12),
        runs=st.integers(1, 2),
        steps=st.integers(0, 4),
        run_ids=st.sampled_from([None, *RUN_IDS]),
    )
    def start(self, messages: int, runs: int, steps: int, run_ids: str | None) -> None:
        """Begin with a thread that has messages, and runs that have steps."""
        thread = self.add_thread(Thread())
        for n in range(messages):
            self.add_message(thread, Message.user(f"{n}", run_id=run_ids if n % 2 else None))
        for _ in range(runs):
            run = self.add_run(thread, Run(assistant_id="asst_1"))
            for _ in range(steps):
                step = RunStep.model_validate({"step_details": STEP_DETAILS[0]})
                self.add_step(thread, run, step)

    def add_thread(self, thread: Thread) -> str:
        if self.both("create_thread", lambda s: s.create_thread(thread)):
            self.threads[thread.id] = _Thread()
            self.seen_threads.add(thread.id)
        self.touch(thread.id, None, "messages", "runs")
        return thread.id

    def add_message(self, thread_id: str, message: Message) -> None:
        self.touch(thread_id, None, "messages")
        if self.both("append_message", lambda s: s.append_message(thread_id, message)):
            lists = self.threads[thread_id]
            lists.messages.append(message.id)
            lists.message_runs[message.id] = message.run_id

    def add_run(self, thread_id: str, run: Run) -> str:
        self.touch(thread_id, run.id, "run", "runs", "steps")
        if self.both("create_run", lambda s: s.create_run(thread_id, run)):
            lists = self.threads[thread_id]
            lists.runs.append(run.id)
            lists.steps[run.id] = []
        return run.id

    def add_step(self, thread_id: str, run_id: str, step: RunStep) -> None:
        self.touch(thread_id, run_id, "steps")
        if self.both("append_step", lambda s: s.append_step(thread_id, run_id, step)):
            self.threads[thread_id].steps[run_id].append(step.id)

    @rule(thread_id=st.sampled_from([None, *THREAD_IDS]), metadata=st.sampled_from(VALID_METADATA))
    def create_thread(self, thread_id: str | None, metadata: dict[str, str]) -> None:
        self.add_thread(Thread(metadata=metadata, **({"id": thread_id} if thread_id else {})))

    @rule(
        data=st.data(),
        kind=st.sampled_from(["thread", "message", "run", "step", "conversation", "item"]),
    )
    def get(self, data: st.DataObject, kind: str) -> None:
        """Read one record, which may have been deleted or never made."""
        ids: tuple[str, ...]
        if kind == "conversation":
            ids = (self.pick_conversation(data),)
        elif kind == "item":
            ids = self.pick_item(data)
        elif kind == "thread":
            ids = (self.pick_thread(data),)
        elif kind == "message":
            ids = self.pick_message(data)
        elif kind == "run":
            ids = self.pick_run(data)
        else:
            ids = self.pick_step(data)
        self.both(f"get_{kind}", methodcaller(f"get_{kind}", *ids))

    @rule(
        data=st.data(),
        metadata=st.sampled_from([UNSET, *METADATA]),
        tool_resources=st.sampled_from([UNSET, None, {"code_interpreter": {"file_ids": ["f"]}}]),
    )
    def update_thread(self, data: st.DataObject, metadata: Any, tool_resources: Any) -> None:
        thread_id = self.pick_thread(data)
        self.touch(thread_id, None)
        self.both(
            "update_thread",
            lambda s: s.update_thread(thread_id, metadata=metadata, tool_resources=tool_resources),
        )

    @precondition(lambda self: len(self.threads) > 1)  # rarely leave the machine empty-handed
    @rule(data=st.data())
    def delete_thread(self, data: st.DataObject) -> None:
        thread_id = self.pick_thread(data)
        self.touch(thread_id, None, "messages", "runs")
        if self.both("delete_thread", lambda s: s.delete_thread(thread_id)):
            del self.threads[thread_id]

    # --- messages ----------------------------------------------------------------

    @rule(
        data=st.data(),
        message_id=st.sampled_from([None, *MESSAGE_IDS]),
        role=st.sampled_from(["user", "assistant"]),
        run_id=st.sampled_from([None, *RUN_IDS]),
        writing=st.booleans(),
        metadata=st.sampled_from(VALID_METADATA),
        count=st.sampled_from([1, 1, 3, 7]),
    )
    def append_messages(
        self,
        data: st.DataObject,
        message_id: str | None,
        role: str,
        run_id: str | None,
        writing: bool,
        metadata: dict[str, str],
        count: int,
    ) -> None:
        """Append ``count`` messages (the first may bring a caller ID) to one thread."""
        thread_id = self.pick_thread(data)
        for n in range(count):
            message = Message.model_validate(
                {
                    "role": role,
                    "content": "" if writing else f"{role} {n}",
                    "run_id": run_id,
                    "status": MessageStatus.IN_PROGRESS if writing else MessageStatus.COMPLETED,
                    "metadata": metadata,
                    **({"id": message_id} if message_id and n == 0 else {}),
                }
            )
            self.add_message(thread_id, message)

    @rule(
        data=st.data(),
        fields=st.one_of(
            st.fixed_dictionaries({"metadata": st.sampled_from(METADATA)}),
            st.fixed_dictionaries(
                {},
                optional={
                    "metadata": st.sampled_from(VALID_METADATA),
                    "status": st.sampled_from(["in_progress", "completed", "incomplete"]),
                    "content": st.sampled_from(["partial", "the answer"]),
                    "completed_at": st.sampled_from([None, 1700000000]),
                },
            ),
        ),
    )
    def update_message(self, data: st.DataObject, fields: dict[str, Any]) -> None:
        """Metadata may always change; the rest only while a run is writing the message."""
        thread_id, message_id = self.pick_message(data)
        self.touch(thread_id, None, "messages")
        self.both("update_message", lambda s: s.update_message(thread_id, message_id, **fields))

    @rule(data=st.data())
    def delete_message(self, data: st.DataObject) -> None:
        thread_id, message_id = self.pick_message(data)
        self.touch(thread_id, None, "messages")
        if self.both("delete_message", lambda s: s.delete_message(thread_id, message_id)):
            lists = self.threads[thread_id]
            lists.messages.remove(message_id)
            lists.gone.append(message_id)

    # --- runs ----------------------------------------------------------------------

    @rule(
        data=st.data(),
        run_id=st.sampled_from([None, *RUN_IDS]),
        status=st.sampled_from([RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.COMPLETED]),
    )
    def create_run(self, data: st.DataObject, run_id: str | None, status: RunStatus) -> None:
        thread_id = self.pick_thread(data)
        self.add_run(
            thread_id,
            Run(assistant_id="asst_1", status=status, **({"id": run_id} if run_id else {})),
        )

    def expected_status(self, data: st.DataObject, thread_id: str, run_id: str) -> Any:
        """None, the run's status now (the CAS wins), or any status (it usually loses)."""
        how = data.draw(st.sampled_from(["none", "current", "any"]))
        if how == "none":
            return None
        if how == "any":
            return data.draw(st.sampled_from(RUN_STATUSES))
        try:
            return self.model.get_run(thread_id, run_id).status
        except NotFoundError:
            return RunStatus.QUEUED

    @rule(
        data=st.data(),
        moves=st.lists(
            st.tuples(st.sampled_from(RUN_STATUSES), st.sampled_from(ERRORS[:3])),
            min_size=1,
            max_size=4,
        ),
    )
    def update_run_status(self, data: st.DataObject, moves: list[tuple[Any, Any]]) -> None:
        """Move one run through a few statuses, each move maybe a compare-and-set."""
        thread_id, run_id = self.pick_run(data)
        self.touch(thread_id, run_id, "run")
        for status, error in moves:
            expected = self.expected_status(data, thread_id, run_id)
            move = methodcaller(
                "update_run_status", thread_id, run_id, status, error, expected=expected
            )
            self.both("update_run_status", move)

    @rule(data=st.data(), status=st.sampled_from(RUN_STATUSES), error=st.sampled_from(ERRORS))
    def force_update_run_status(self, data: st.DataObject, status: Any, error: Any) -> None:
        thread_id, run_id = self.pick_run(data)
        self.touch(thread_id, run_id, "run")
        self.both(
            "force_update_run_status",
            lambda s: s.force_update_run_status(thread_id, run_id, status, error),
        )

    @rule(
        data=st.data(),
        fields=st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(RUN_STATUSES),
                "metadata": st.sampled_from(VALID_METADATA),
                "usage": st.sampled_from([None, USAGE]),
                "expires_at": st.sampled_from([None, 1700000000]),
                "last_error": st.sampled_from(ERRORS[:3]),
                "incomplete_details": st.sampled_from([None, {"reason": "max_tokens"}]),
            },
        ),
    )
    def update_run(self, data: st.DataObject, fields: dict[str, Any]) -> None:
        thread_id, run_id = self.pick_run(data)
        expected = self.expected_status(data, thread_id, run_id)
        self.touch(thread_id, run_id, "run")
        self.both(
            "update_run", lambda s: s.update_run(thread_id, run_id, expected=expected, **fields)
        )

    # --- steps ---------------------------------------------------------------------

    @rule(
        data=st.data(),
        step_id=st.sampled_from([None, *STEP_IDS]),
        details=st.sampled_from(STEP_DETAILS),
    )
    def append_step(self, data: st.DataObject, step_id: str | None, details: Any) -> None:
        thread_id, run_id = self.pick_run(data)
        step = RunStep.model_validate(
            {"step_details": details, **({"id": step_id} if step_id else {})}
        )
        self.add_step(thread_id, run_id, step)

    @rule(data=st.data(), status=st.sampled_from(STEP_STATUSES), error=st.sampled_from(ERRORS))
    def update_step_status(self, data: st.DataObject, status: Any, error: Any) -> None:
        thread_id, run_id, step_id = self.pick_step(data)
        self.touch(thread_id, run_id, "steps")
        self.both(
            "update_step_status",
            lambda s: s.update_step_status(thread_id, run_id, step_id, status, error),
        )

    @rule(
        data=st.data(),
        fields=st.fixed_dictionaries(
            {},
            optional={
                "status": st.sampled_from(STEP_STATUSES),
                "metadata": st.sampled_from(METADATA),
                "usage": st.sampled_from([None, USAGE]),
                "step_details": st.sampled_from(STEP_DETAILS),
            },
        ),
    )
    def update_step(self, data: st.DataObject, fields: dict[str, Any]) -> None:
        thread_id, run_id, step_id = self.pick_step(data)
        self.touch(thread_id, run_id, "steps")
        self.both("update_step", lambda s: s.update_step(thread_id, run_id, step_id, **fields))

    # --- conversations -----------------------------------------------------------

    @initialize(items=st.integers(0, 10), given=st.integers(0, 3))
    def start_conversation(self, items: int, given: int) -> None:
        """Begin with a conversation: ``given`` items at its creation, the rest added after."""
        shapes = [ITEM_SHAPES[n % 6] for n in range(items)]
        conversation_id = self.add_conversation(Conversation(), self.items(shapes[:given]))
        if shapes[given:]:
            self.add_items_to(conversation_id, self.items(shapes[given:]))

    @staticmethod
    def items(shapes: list[dict[str, Any]], first_id: str | None = None) -> list[Any]:
        """Items made once, so both stores get the same IDs; a refused shape stays a dict."""
        made: list[Any] = []
        for n, shape in enumerate(shapes):
            given = {**shape, **({"id": first_id} if first_id and n == 0 else {})}
            made.append(given if shape is ITEM_SHAPES[-1] else _ITEMS.validate_python(given))
        return made

    def add_conversation(self, conversation: Conversation, items: list[Any]) -> str:
        self.touch_conversation(conversation.id)
        call = lambda s: s.create_conversation(conversation, items=items)
        if self.both("create_conversation", call):
            self.conversations[conversation.id] = _Conversation(items=[i.id for i in items])
            self.seen_conversations.add(conversation.id)
        return conversation.id

    def add_items_to(self, conversation_id: str, items: list[Any]) -> None:
        self.touch_conversation(conversation_id)
        if self.both("add_items", lambda s: s.add_items(conversation_id, items)):
            self.conversations[conversation_id].items.extend(i.id for i in items)

    @rule(
        conversation_id=st.sampled_from([None, *CONVERSATION_IDS]),
        metadata=st.sampled_from(VALID_METADATA),
        shapes=st.lists(st.sampled_from(ITEM_SHAPES), max_size=3),
        first_id=st.sampled_from([None, *ITEM_IDS]),
    )
    def create_conversation(
        self,
        conversation_id: str | None,
        metadata: dict[str, str],
        shapes: list[dict[str, Any]],
        first_id: str | None,
    ) -> None:
        given = {"id": conversation_id} if conversation_id else {}
        conversation = Conversation(metadata=metadata, **given)
        self.add_conversation(conversation, self.items(shapes, first_id))

    @rule(
        data=st.data(),
        shapes=st.lists(st.sampled_from(ITEM_SHAPES), max_size=5),
        first_id=st.sampled_from([None, None, *ITEM_IDS]),
    )
    def add_items(
        self, data: st.DataObject, shapes: list[dict[str, Any]], first_id: str | None
    ) -> None:
        """One batch, perhaps empty, perhaps with a caller ID or a refused item."""
        self.add_items_to(self.pick_conversation(data), self.items(shapes, first_id))

    @rule(data=st.data(), metadata=st.sampled_from([UNSET, *METADATA]))
    def update_conversation(self, data: st.DataObject, metadata: Any) -> None:
        conversation_id = self.pick_conversation(data)
        self.touch_conversation(conversation_id)
        self.both(
            "update_conversation",
            lambda s: s.update_conversation(conversation_id, metadata=metadata),
        )

    @rule(data=st.data())
    def delete_item(self, data: st.DataObject) -> None:
        conversation_id, item_id = self.pick_item(data)
        self.touch_conversation(conversation_id)
        if self.both("delete_item", lambda s: s.delete_item(conversation_id, item_id)):
            known = self.conversations[conversation_id]
            known.items.remove(item_id)
            known.gone.append(item_id)

    @precondition(lambda self: len(self.conversations) > 1)
    @rule(data=st.data())
    def delete_conversation(self, data: st.DataObject) -> None:
        conversation_id = self.pick_conversation(data)
        self.touch_conversation(conversation_id)
        if self.both("delete_conversation", lambda s: s.delete_conversation(conversation_id)):
            del self.conversations[conversation_id]

    @rule(
        data=st.data(),
        limit=st.integers(1, 4),
        order=st.sampled_from(["desc", "asc"]),
        backwards=st.booleans(),
    )
    def walk_items(self, data: st.DataObject, limit: int, order: str, backwards: bool) -> None:
        listing = self.items_of(self.pick_conversation(data))
        self.walk(listing, limit=limit, order=order, backwards=backwards)

    # --- lists -------------------------------------------------------------------

    LISTS = st.sampled_from(["threads", "runs", "steps", "conversations", "items"])

    @rule(
        data=st.data(),
        kind=st.just("messages") | LISTS,
        limit=st.sampled_from(LIMITS),
        order=st.sampled_from(["desc", "asc"]),
        direction=st.sampled_from(["after", "before", "both"]),
    )
    def list_page(
        self, data: st.DataObject, kind: str, limit: int, order: str, direction: str
    ) -> None:
        listing = self.listing(data, kind)
        cursor = self.cursor(data, listing)
        after = cursor if direction != "before" else None
        before = cursor if direction == "before" else None
        if direction == "both":
            before = self.cursor(data, listing)
        self.page(listing, limit=limit, order=order, after=after, before=before)

    @rule(
        data=st.data(),
        kind=st.just("messages") | LISTS,
        limit=st.integers(1, 4),
        order=st.sampled_from(["desc", "asc"]),
        backwards=st.booleans(),
    )
    def walk_list(
        self, data: st.DataObject, kind: str, limit: int, order: str, backwards: bool
    ) -> None:
        self.walk(self.listing(data, kind), limit=limit, order=order, backwards=backwards)

    @rule(
        data=st.data(),
        limit=st.integers(1, 4),
        order=st.sampled_from(["desc", "asc"]),
        backwards=st.booleans(),
    )
    def walk_messages(self, data: st.DataObject, limit: int, order: str, backwards: bool) -> None:
        """Messages are the longest lists: walk them more often than the rest."""
        self.walk(self.listing(data, "messages"), limit=limit, order=order, backwards=backwards)

    # --- store objects -------------------------------------------------------------

    @precondition(lambda self: Capability.PERSISTENT in self.capabilities)
    @rule()
    def reopen(self) -> None:
        """Close every store object and open the location again: everything is still there."""
        for handle in self.handles:
            handle.close()
        self.open_handles()
        self.check_everything()

    @precondition(lambda self: Capability.SHARED in self.capabilities)
    @rule()
    def switch_store_objects(self) -> None:
        """Write through the object that was reading, and read through the other."""
        self.store, self.reader = self.reader, self.store

    # --- after every change: read through the other store object if there is one ------

    @invariant()
    def changes_agree(self) -> None:
        """What the last step may have changed agrees with the model (reads check themselves)."""
        if self.touched is not None:
            thread_id, run_id, parts = self.touched
            self.touched = None
            self.thread_ids_agree()
            self.check_thread(thread_id, run_id, parts)
        if self.touched_conversation is not None:
            conversation_id, self.touched_conversation = self.touched_conversation, None
            self.check_conversation(conversation_id)

    def check_conversation(self, conversation_id: str) -> None:
        """The list of conversations, and the conversation with all its items, in one page."""
        listing = self.conversations_listing()
        self.walk(listing, limit=_fit(listing.ids or []), order="asc", via=self.reader)
        self.both(
            "get_conversation",
            methodcaller("get_conversation", conversation_id),
            via=self.reader,
        )
        items = self.items_of(conversation_id)
        self.walk(items, limit=_fit(items.ids or []), order="asc", via=self.reader)

    def thread_ids_agree(self) -> None:
        ids = self.reader.list_thread_ids()
        expected = list(self.threads)
        assert ids == expected, f"list_thread_ids: {ids}, expected {expected}"

    def check_thread(self, thread_id: str, run_id: str | None, parts: frozenset[str]) -> None:
        """The thread, and those of its messages, runs, one run and its steps named by parts."""
        self.both("get_thread", methodcaller("get_thread", thread_id), via=self.reader)
        lists = self.threads.get(thread_id)
        if lists is None:  # gone, with everything under it
            self.page(self.messages_of(thread_id), limit=100, order="asc", via=self.reader)
            self.page(self.runs_of(thread_id), limit=100, order="asc", via=self.reader)
            return
        # One page holding exactly the whole list: has_more must be false at that boundary.
        if "messages" in parts:
            self.walk(
                self.messages_of(thread_id),
                limit=_fit(lists.messages),
                order="asc",
                via=self.reader,
            )
        if "runs" in parts:
            self.walk(self.runs_of(thread_id), limit=_fit(lists.runs), order="asc", via=self.reader)
        if run_id is not None and "run" in parts:
            self.both("get_run", methodcaller("get_run", thread_id, run_id), via=self.reader)
        if run_id is not None and "steps" in parts:
            steps = lists.steps.get(run_id, [])
            self.walk(
                self.steps_of(thread_id, run_id), limit=_fit(steps), order="asc", via=self.reader
            )

    def check_everything(self) -> None:
        """Every thread, message, run and step agrees with the model."""
        self.thread_ids_agree()
        for thread_id, lists in self.threads.items():
            self.check_thread(thread_id, None, frozenset({"messages", "runs"}))
            for order, expected in (("asc", lists.messages), ("desc", lists.messages[::-1])):
                found = list(self.reader.iter_messages(thread_id, order=order))  # type: ignore[arg-type]
                got = [m.id for m in found]
                assert got == expected, f"iter_messages({thread_id}, {order}) gave {got}"
                for message in found:
                    _agree(message, self.model.get_message(thread_id, message.id), "iter_messages")
            for run_id in lists.runs:
                self.check_thread(thread_id, run_id, frozenset({"run", "steps"}))
        for conversation_id, known in self.conversations.items():
            self.check_conversation(conversation_id)
            for order, expected in (("asc", known.items), ("desc", known.items[::-1])):
                found = list(self.reader.iter_items(conversation_id, order=order))  # type: ignore[arg-type]
                got = [i.id for i in found]
                assert got == expected, f"iter_items({conversation_id}, {order}) gave {got}"
                for item in found:
                    _agree(item, self.model.get_item(conversation_id, item.id), "iter_items")

    def teardown(self) -> None:
        try:
            if sys.exc_info()[1] is None:  # a failing example keeps its own error
                self.check_everything()
        finally:
            for handle in self.handles:
                handle.close()


def run_state_machine(new_location: NewLocation, machine_settings: settings | None = None) -> None:
    """Run the state machine on fresh locations from ``new_location`` (default profile)."""
    run_state_machine_as_test(
        ThreadStoreStateMachine.bind(new_location), settings=machine_settings or profile()
    )

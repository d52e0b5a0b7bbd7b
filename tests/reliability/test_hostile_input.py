"""Hostile input at every public entry point: IDs, metadata, statuses, paging, content,
URLs and options. Each gets a threadstore error (or succeeds when it is in fact valid),
nothing is written outside the store's root, and the store's threads stay as they were.
"""

from __future__ import annotations

import string
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadstore.errors import BackendError, InvalidRequestError, ThreadStoreError
from threadstore.models import Message, Run, RunStatus, RunStep, RunStepStatus, Thread
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.snapshot import read_thread

from .budget import BUDGET
from .figures import record
from .hostile import (
    HOSTILE_IDS,
    HOSTILE_METADATA,
    answers_cleanly,
    is_valid_id,
    nothing_written_outside,
)

SETTINGS = settings(
    max_examples=BUDGET.hypothesis_examples,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Existing:
    """IDs of records that exist, to pair with a hostile one."""

    thread: str
    message: str
    run: str
    step: str


def _step(message_id: str) -> RunStep:
    return RunStep.model_validate(
        {
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            }
        }
    )


Call = Callable[[ThreadStore, Existing, str], object]
ENTRY_POINTS: dict[str, Call] = {
    "create_thread": lambda s, e, h: s.create_thread(Thread.model_construct(id=h)),
    "get_thread": lambda s, e, h: s.get_thread(h),
    "update_thread": lambda s, e, h: s.update_thread(h, metadata={"k": "v"}),
    "delete_thread": lambda s, e, h: s.delete_thread(h),
    "list_threads after": lambda s, e, h: s.list_threads(after=h),
    "list_threads before": lambda s, e, h: s.list_threads(before=h),
    "append_message to": lambda s, e, h: s.append_message(h, Message.user("x")),
    "append_message id": lambda s, e, h: s.append_message(
        e.thread, Message.model_construct(**{**dict(Message.user("x")), "id": h})
    ),
    "append_message thread_id field": lambda s, e, h: s.append_message(
        e.thread, Message.model_construct(**{**dict(Message.user("x")), "thread_id": h})
    ),
    "get_message": lambda s, e, h: s.get_message(e.thread, h),
    "get_message thread": lambda s, e, h: s.get_message(h, e.message),
    "update_message": lambda s, e, h: s.update_message(e.thread, h, metadata={"k": "v"}),
    "delete_message": lambda s, e, h: s.delete_message(e.thread, h),
    "list_messages": lambda s, e, h: s.list_messages(h),
    "list_messages after": lambda s, e, h: s.list_messages(e.thread, after=h),
    "list_messages run_id": lambda s, e, h: s.list_messages(e.thread, run_id=h),
    "iter_messages": lambda s, e, h: list(s.iter_messages(h)),
    "create_run": lambda s, e, h: s.create_run(h, Run(assistant_id="asst_1")),
    "create_run id": lambda s, e, h: s.create_run(
        e.thread, Run.model_construct(**{**dict(Run(assistant_id="a")), "id": h})
    ),
    "get_run": lambda s, e, h: s.get_run(e.thread, h),
    "update_run": lambda s, e, h: s.update_run(e.thread, h, metadata={"k": "v"}),
    "update_run_status": lambda s, e, h: s.update_run_status(e.thread, h, "completed"),
    "force_update_run_status": lambda s, e, h: s.force_update_run_status(h, e.run, "failed"),
    "list_runs before": lambda s, e, h: s.list_runs(e.thread, before=h),
    "append_step run": lambda s, e, h: s.append_step(e.thread, h, _step(e.message)),
    "get_step": lambda s, e, h: s.get_step(e.thread, e.run, h),
    "update_step_status": lambda s, e, h: s.update_step_status(e.thread, e.run, h, "completed"),
    "update_step run": lambda s, e, h: s.update_step(e.thread, h, e.step, metadata={"k": "v"}),
    "list_steps": lambda s, e, h: s.list_steps(e.thread, h),
    "list_steps after": lambda s, e, h: s.list_steps(e.thread, e.run, after=h),
}


@pytest.fixture(params=["file", "memory"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ThreadStore, Existing, Path]]:
    """A store holding one of everything, its root deep inside ``tmp_path``."""
    root = tmp_path / "parent" / "store"
    url = str(root) if request.param == "file" else f"memory://hostile-{id(request)}"
    with open_store(url) as store:
        thread = store.create_thread(Thread(metadata={"k": "v"}))
        message = store.append_message(thread.id, Message.user("hello"))
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, _step(message.id))
        yield store, Existing(thread.id, message.id, run.id, step.id), tmp_path


def test_hostile_ids_at_every_entry_point(world: tuple[ThreadStore, Existing, Path]) -> None:
    store, existing, top = world
    before = read_thread(store, existing.thread).to_json()
    answers: Counter[str] = Counter()

    @SETTINGS
    @given(value=HOSTILE_IDS, entry=st.sampled_from(sorted(ENTRY_POINTS)))
    def hostile(value: str, entry: str) -> None:
        call = ENTRY_POINTS[entry]
        answers[
            answers_cleanly(lambda: call(store, existing, value), invalid=not is_valid_id(value))
        ] += 1

    with nothing_written_outside(top, top / "parent" / "store"):
        hostile()
    assert_kept(store, existing.thread, before)
    assert answers["InvalidRequestError"] > 0
    record(
        "hostile/ids",
        {"inputs tried": sum(answers.values()), **{f"answer: {k}": v for k, v in answers.items()}},
    )


def assert_kept(store: ThreadStore, thread_id: str, before: dict[str, Any]) -> None:
    """Every object the thread held before is still there, unchanged (a hostile input
    that was in fact a valid new ID may have added records; none may have changed one)."""
    after: dict[str, Any] = read_thread(store, thread_id).to_json()
    assert after["thread"] == before["thread"]
    for name in ("messages", "runs", "steps"):
        kept = {item["id"]: item for item in after[name]}
        for item in before[name]:
            assert kept.get(item["id"]) == item, f"{name}: {item['id']} changed or went away"


def test_metadata_beyond_limits_is_refused_and_changes_nothing(
    world: tuple[ThreadStore, Existing, Path],
) -> None:
    store, existing, _ = world
    before = read_thread(store, existing.thread).to_json()
    setters: dict[str, Callable[[Any], object]] = {
        "thread": lambda m: store.update_thread(existing.thread, metadata=m),
        "message": lambda m: store.update_message(existing.thread, existing.message, metadata=m),
        "run": lambda m: store.update_run(existing.thread, existing.run, metadata=m),
        "step": lambda m: store.update_step(
            existing.thread, existing.run, existing.step, metadata=m
        ),
        "new message": lambda m: store.append_message(
            existing.thread, Message.model_construct(**{**dict(Message.user("x")), "metadata": m})
        ),
        "new thread": lambda m: store.create_thread(Thread.model_construct(metadata=m)),
    }
    tried = Counter[str]()

    @SETTINGS
    @given(metadata=HOSTILE_METADATA, target=st.sampled_from(sorted(setters)))
    def hostile(metadata: Any, target: str) -> None:
        with warnings.catch_warnings():
            # A model built with model_construct skips validation; dumping it before
            # the store re-validates makes pydantic warn. The refusal is what counts.
            warnings.filterwarnings("ignore", "Pydantic serializer warnings", UserWarning)
            answers_cleanly(lambda: setters[target](metadata), invalid=True)
        tried[target] += 1

    hostile()
    assert read_thread(store, existing.thread).to_json() == before
    record("hostile/metadata", {"inputs tried": sum(tried.values())})


def test_hostile_statuses_orders_and_limits_are_refused(
    world: tuple[ThreadStore, Existing, Path],
) -> None:
    store, existing, _ = world
    t, r, s = existing.thread, existing.run, existing.step
    calls: dict[str, Callable[[Any], object]] = {
        "run status": lambda v: store.update_run_status(t, r, v),
        "expected": lambda v: store.update_run_status(t, r, "in_progress", expected=v),
        "forced status": lambda v: store.force_update_run_status(t, r, v),
        "step status": lambda v: store.update_step_status(t, r, s, v),
        "order": lambda v: store.list_messages(t, order=v),
        "iter order": lambda v: list(store.iter_messages(t, order=v)),
        "limit": lambda v: store.list_runs(t, limit=v),
        "error": lambda v: store.update_run_status(t, r, "in_progress", error=v),
    }
    bad = st.one_of(
        st.text(max_size=30),
        st.integers(),
        st.floats(allow_nan=True),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    )
    tried = Counter[str]()

    @SETTINGS
    @given(value=bad, name=st.sampled_from(sorted(calls)))
    def hostile(value: Any, name: str) -> None:
        outcome = _answer(lambda: calls[name](value))
        if not _acceptable(name, value):
            assert outcome == "InvalidRequestError", (name, value, outcome)
        tried[name] += 1

    hostile()
    record("hostile/arguments", {"inputs tried": sum(tried.values())})


RUN_STATUSES = {s.value for s in RunStatus}
STEP_STATUSES = {s.value for s in RunStepStatus}


def _acceptable(name: str, value: Any) -> bool:
    """Whether ``value`` is a valid argument ``name`` (then any threadstore answer will do)."""
    if not isinstance(value, str | None):
        return name == "limit" and type(value) is int and 1 <= value <= 100
    if name in ("run status", "forced status"):
        return value in RUN_STATUSES
    if name == "expected":
        return value is None or value in RUN_STATUSES
    if name == "step status":
        return value in STEP_STATUSES
    if name in ("order", "iter order"):
        return value in ("asc", "desc")
    if name == "limit":
        return False
    return value is None  # error: None, or a LastError dict, which these never are


def _answer(call: Callable[[], object]) -> str:
    """``"ok"`` or the threadstore error's class name; anything else fails the test."""
    try:
        call()
    except ThreadStoreError as error:
        return type(error).__name__
    return "ok"


@pytest.mark.parametrize("size", [1 << 20, 4 << 20])
def test_oversized_content_round_trips_exactly(
    world: tuple[ThreadStore, Existing, Path], size: int
) -> None:
    """There is no content limit in the contract: a big message is stored whole, or the
    store says clearly that it cannot."""
    store, existing, _ = world
    text = (string.printable * (size // len(string.printable) + 1))[:size]
    try:
        message = store.append_message(existing.thread, Message.user(text))
    except (InvalidRequestError, BackendError):
        return  # refused clearly
    assert store.get_message(existing.thread, message.id).text == text
    assert store.list_messages(existing.thread, limit=1).data[0].text == text


def test_content_that_cannot_be_encoded_is_refused_as_invalid(
    world: tuple[ThreadStore, Existing, Path],
) -> None:
    store, existing, _ = world
    with pytest.raises(InvalidRequestError):
        store.append_message(existing.thread, Message.user("half a pair: \ud800"))


MALFORMED_URLS = [
    "",
    " ",
    "://",
    "nope://x",
    "fsspec+nope://x",
    "memory://a/b?colour=blue",
    "memory://?x=1&x=2",
    "file://remotehost/tmp/x",
    "file://",
    "file:///tmp/x?durable=maybe",
    "file:///tmp/x#frag",
    "s3://",
    "s3:///prefix",
    "s3://bucket/a/../b",
    "s3://bucket/./b",
    "s3://bucket//b",
    "s3://bucket/x?max_attempts=lots",
    "s3://bucket/x?max_attempts=0",
    "s3://bucket/x?read_timeout=-1",
    "s3://bucket/x?anon=perhaps",
    "s3://bucket/x?client_kwargs=notjson",
    "s3://bucket/x?unknown=1",
    "gs://bucket/x",
    "az://container/x",
    "fsspec+memory://bucket/x",
    "fsspec+file://bucket/x",
    "s3://h:99999/x",
    "s3://h:port/x",
    "memory://\x00",
    "x" * 10_240 + "://y",
]
_SCHEMES = st.sampled_from(["s3", "memory", "file", "fsspec+s3", "gs", "nope", "S3", "FILE"])
HOSTILE_URLS = st.one_of(
    st.sampled_from(MALFORMED_URLS),
    st.builds(
        lambda scheme, rest: f"{scheme}://{rest}",
        _SCHEMES,
        st.text(max_size=40),
    ),
)
HOSTILE_OPTIONS = st.dictionaries(
    st.sampled_from(["durable", "max_attempts", "read_timeout", "anon", "colour", "protocol"]),
    st.one_of(st.text(max_size=10), st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
    max_size=2,
)
CLOSED_PORT = "http://127.0.0.1:9"
"""Nothing listens here: an S3 URL that gets as far as the network fails fast, on loopback."""


@pytest.mark.parametrize("url", ["s3://[", "s3://[::1/x", "memory://]x["])
def test_an_unbalanced_bracket_in_a_url_is_invalid(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        open_store(url)


def test_malformed_urls_and_options_are_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a URL read as a relative path lands here
    answers: Counter[str] = Counter()

    @SETTINGS
    @given(url=HOSTILE_URLS, options=HOSTILE_OPTIONS)
    def hostile(url: str, options: dict[str, Any]) -> None:
        if url.lower().split("://")[0] in ("s3", "fsspec+s3"):
            options = {
                **options,
                "endpoint_url": CLOSED_PORT,
                "max_attempts": 1,
                "connect_timeout": 0.5,
            }
        try:
            store = open_store(url, **options)
        except ThreadStoreError as error:
            answers[type(error).__name__] += 1
            return
        store.close()
        answers["opened"] += 1

    with nothing_written_outside(tmp_path.parent, tmp_path):
        hostile()
    assert answers["InvalidRequestError"] > 0
    record(
        "hostile/urls",
        {"inputs tried": sum(answers.values()), **{f"answer: {k}": v for k, v in answers.items()}},
    )

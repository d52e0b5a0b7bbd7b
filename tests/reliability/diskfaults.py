"""ENOSPC, EIO and short writes at every write and sync point of the local engine (libfiu).

Run by :mod:`.test_disk_faults` as ``fiu-run -x python -m tests.reliability.diskfaults
KIND LIMIT`` (Debian's ``fiu-utils``): libfiu's POSIX preload wraps ``write``,
``pwrite``, ``ftruncate``, ``fsync``, ``fdatasync``, ``open`` and ``rename``, and this
process tells it, through ``libfiu``, which call to fail. For each scenario (a call on a
prepared store), a first run counts the wrapped calls the call makes; then, on a fresh
copy of the store each time, the N-th of them fails (``ENOSPC`` or ``EIO``, or writes
fewer bytes than asked), for every N (or ``LIMIT`` of them, spread out). Each time:

- the call succeeds, or raises ``BackendError``; an error that does not say the outcome
  is unknown means nothing was stored, and one that does says how to settle it;
- with the fault gone, the same store object works (an append lands);
- a fresh store object reads exactly the state before the call, or the state after it
  (the one the outcome allows), and ``check_storage(repair=True)`` leaves a store that
  ``verify`` finds clean, holding the same.

It prints one JSON line: the cases run, their outcomes, and the problems found.
"""

from __future__ import annotations

import ctypes
import errno
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadstore.backends.local import LocalThreadStore, entries
from threadstore.backends.local.index import Header
from threadstore.backends.local.layout import Incarnation
from threadstore.errors import BackendError, NotFoundError
from threadstore.integrity import verify_store
from threadstore.models import Message, Run, RunStep, Thread
from threadstore.records import THREADS
from threadstore.snapshot import read_thread

from .logfiles import write_at_end

__all__ = ["FAULTS", "POINTS", "main"]

POINTS = {
    "errno": [
        "posix/io/rw/write",
        "posix/io/rw/pwrite",
        "posix/io/rw/ftruncate",
        "posix/io/sync/fsync",
        "posix/io/sync/fdatasync",
        "posix/io/oc/open",
        "posix/io/dir/rename",
        "posix/io/dir/unlink",
    ],
    "short": ["posix/io/rw/write/reduce", "posix/io/rw/pwrite/reduce"],
}
FAULTS = {"enospc": ("errno", errno.ENOSPC), "eio": ("errno", errno.EIO), "short": ("short", 0)}
"""Fault kinds: which failure points, and the errno they set."""

SETTLE = ("read it back", "again")
"""An error that says the outcome is unknown says how to settle it, in one of these words."""

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_int),
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.POINTER(ctypes.c_uint),
)


class Injector:
    """Fails the ``fail_at``-th wrapped call (counting from 1) while armed; counts them."""

    def __init__(self, names: list[str], error: int) -> None:
        self.lib = ctypes.CDLL("libfiu.so.0")
        self.lib.fiu_enable_external.argtypes = [
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_uint,
            _CALLBACK,
        ]
        self.lib.fiu_disable.argtypes = [ctypes.c_char_p]
        self.names = [name.encode() for name in names]
        self.error = error
        self.calls = 0
        self.fail_at = 0
        self.failed: list[str] = []
        self._callback = _CALLBACK(self._decide)  # kept alive while libfiu holds it

    def _decide(self, name: bytes, *_: Any) -> int:
        self.calls += 1
        if self.calls == self.fail_at:
            self.failed.append(name.decode())
            return 1
        return 0

    def arm(self, fail_at: int) -> None:
        self.calls, self.fail_at, self.failed = 0, fail_at, []
        for name in self.names:
            self.lib.fiu_enable_external(
                name, 1, ctypes.c_void_p(self.error or None), 0, self._callback
            )

    def disarm(self) -> None:
        for name in self.names:
            self.lib.fiu_disable(name)


# --- the store the scenarios start from ---------------------------------------------------


def _step(message_id: str, step_id: str | None = None) -> RunStep:
    details = {"type": "message_creation", "message_creation": {"message_id": message_id}}
    return RunStep.model_validate({"step_details": details, **({"id": step_id} if step_id else {})})


def build(root: Path) -> None:
    """The store every scenario starts from: a thread with messages, a run and a step, an
    empty thread, a thread whose next append grows its index, a half-deleted thread."""
    with LocalThreadStore(root) as store:
        store.create_thread(Thread(id="thread_a"))
        messages = [store.append_message("thread_a", Message.user(f"a{i}")).id for i in range(3)]
        run = store.create_run("thread_a", Run(id="run_a", assistant_id="asst_1"))
        store.append_step("thread_a", run.id, _step(messages[0]))
        store.create_thread(Thread(id="thread_empty"))
        store.create_thread(Thread(id="thread_after"))
        store.create_thread(Thread(id="thread_big"))
        index = None
        while True:  # until the next append makes the list's index grow
            store.append_message("thread_big", Message.user("b"))
            index = index or next(root.glob("lists/threads/*/thread_big.*.idx"))
            header = Header.unpack(index.read_bytes())
            assert header is not None
            if header.moved >= header.old_capacity and header.used + 3 > header.capacity * 0.85:
                break
        store.create_thread(Thread(id="thread_half"))
        store.append_message("thread_half", Message.user("h"))
    with LocalThreadStore(root) as store:  # a deleter of thread_half dies after its first step
        seq = store._incarnation(THREADS, "thread_half").seq
        incarnation = Incarnation(THREADS, "thread_half", seq)
        journal = store._open_list(incarnation, create=False)
        assert journal is not None
        with journal.locked(exclusive=True):
            journal.append(entries.place(journal, [entries.gone(incarnation)]))
        store._done_with(incarnation, journal)


def state(store: LocalThreadStore) -> dict[str, Any]:
    """Every thread but ``thread_after`` (the follow-up append's), read whole, without the
    times the store sets (a run's ``started_at``): two runs of a call differ in those."""
    found: dict[str, Any] = {}
    for thread_id in store.list_thread_ids():
        if thread_id != "thread_after":
            try:
                found[thread_id] = _timeless(read_thread(store, thread_id).to_json())
            except NotFoundError:  # its deleter died: reading it finishes the delete
                continue
    return found


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


# --- the scenarios ------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    call: Callable[[LocalThreadStore], object]
    prepare: Callable[[Path], None] | None = None
    """Changes the copy before the store is opened (damage for a repair to meet)."""
    settles_alone: bool = False
    """A repair or a read: records must read the same before and after, whatever it says."""


def _torn_tail_and_no_index(root: Path) -> None:
    log = next(root.glob("lists/threads/*/thread_a.*.jsonl"))
    write_at_end(log, b'{"seq":9,"kind":"message","op":"add","id":"msg_torn')
    log.with_suffix(".idx").unlink()


def scenarios() -> list[Scenario]:
    message = Message.user("new", id="msg_fault1")
    batch = [Message.user(f"n{i}", id=f"msg_batch{i}") for i in range(3)]
    return [
        Scenario("create thread", lambda s: s.create_thread(Thread(id="thread_new"))),
        Scenario("append", lambda s: s.append_message("thread_a", message)),
        Scenario("first append", lambda s: s.append_message("thread_empty", message)),
        Scenario("append batch", lambda s: s.append_messages("thread_a", batch)),
        Scenario("index growth", lambda s: s.append_message("thread_big", message)),
        Scenario(
            "update message",
            lambda s: s.update_message("thread_a", _first(s), metadata={"k": "v"}),
        ),
        Scenario("delete message", lambda s: s.delete_message("thread_a", _last(s))),
        Scenario(
            "create run", lambda s: s.create_run("thread_a", Run(id="run_new", assistant_id="x"))
        ),
        Scenario("move run", lambda s: s.update_run_status("thread_a", "run_a", "in_progress")),
        Scenario(
            "append step",
            lambda s: s.append_step("thread_a", "run_a", _step(_first(s), "step_new")),
        ),
        Scenario("update thread", lambda s: s.update_thread("thread_a", metadata={"k": "v"})),
        Scenario("delete thread", lambda s: s.delete_thread("thread_a")),
        Scenario(
            "create over a half-deleted thread", lambda s: s.create_thread(Thread(id="thread_half"))
        ),
        Scenario(
            "repair",
            lambda s: s.check_storage(repair=True),
            _torn_tail_and_no_index,
            settles_alone=True,
        ),
        Scenario("read rebuilding the index", lambda s: state(s), _torn_tail_and_no_index, True),
    ]


def _first(store: LocalThreadStore) -> str:
    return store.list_messages("thread_a", order="asc", limit=1).data[0].id


def _last(store: LocalThreadStore) -> str:
    """A message no step names."""
    return store.list_messages("thread_a", order="desc", limit=1).data[0].id


# --- running them --------------------------------------------------------------------------


def run_case(
    template: Path, work: Path, scenario: Scenario, injector: Injector | None, fail_at: int
) -> tuple[str, LocalThreadStore]:
    """One run of the scenario on a fresh copy: its answer, and the store object it used."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    if scenario.prepare is not None:
        scenario.prepare(work)
    store = LocalThreadStore(work)
    if injector is not None:
        injector.arm(fail_at)
    try:
        scenario.call(store)
        outcome = "ok"
    except BackendError as exc:
        outcome = "unknown" if "unknown" in str(exc) else "not stored"
        if outcome == "unknown" and not any(how in str(exc) for how in SETTLE):
            outcome = f"wrong: an unknown outcome without a way to settle it: {exc}"
    except Exception as exc:  # "not found" included: every record these calls name exists
        outcome = f"wrong: {type(exc).__name__}: {exc}"
    finally:
        if injector is not None:
            injector.disarm()
    return outcome, store


def after(work: Path) -> dict[str, Any]:
    with LocalThreadStore(work) as fresh:
        return state(fresh)


def spread(total: int, limit: int) -> list[int]:
    """Call numbers 1..``total``: all of them, or ``limit`` evenly spaced, first and last
    included (``limit`` 0: all)."""
    if not limit or total <= limit:
        return list(range(1, total + 1))
    if limit == 1:
        return [total]
    return sorted({1 + round(i * (total - 1) / (limit - 1)) for i in range(limit)})


def main(argv: list[str]) -> int:
    kind, limit = argv[0], int(argv[1])
    points, error = FAULTS[kind]
    injector = Injector(POINTS[points], error)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    cases = 0
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        build(template)
        work = Path(scratch) / "work"
        for scenario in scenarios():
            outcome, store = run_case(template, work, scenario, None, 0)  # imports warmed up
            store.close()
            if outcome != "ok":
                problems.append(f"{scenario.name}: without a fault it says {outcome}")
                continue
            done = after(work)
            nothing = Scenario("nothing", lambda s: None, scenario.prepare)
            run_case(template, work, nothing, None, 0)[1].close()
            before = after(work)
            run_case(template, work, scenario, injector, 0)[1].close()  # counts the points
            for fail_at in spread(injector.calls, limit):
                cases += 1
                outcome, store = run_case(template, work, scenario, injector, fail_at)
                where = f"{scenario.name}, {kind} at call {fail_at} ({','.join(injector.failed)})"
                outcomes[outcome.split(":")[0]] += 1
                if outcome.startswith("wrong"):
                    problems.append(f"{where}: {outcome}")
                try:
                    store.append_message("thread_after", Message.user("after"))
                except Exception as exc:
                    problems.append(f"{where}: the store object fails after the fault: {exc!r}")
                store.close()
                problems += _judge(work, where, outcome, before, done, scenario.settles_alone)
    print(json.dumps({"cases": cases, "outcomes": dict(outcomes), "problems": problems}))
    return 0


def _judge(
    work: Path, where: str, outcome: str, before: dict[str, Any], done: dict[str, Any], alone: bool
) -> list[str]:
    """The store read fresh, then repaired: the state the outcome allows, and clean."""
    allowed = {"ok": [done], "not stored": [before], "unknown": [before, done]}.get(outcome, [])
    if alone:
        allowed = [done]  # a repair or read changes no record, whether or not it finished
    try:
        found = after(work)
    except BackendError as exc:
        return [f"{where}: the store cannot be read after the fault: {exc}"]
    problems = []
    if allowed and found not in allowed:
        problems.append(
            f"{where}: answered {outcome}, but the store holds {_diff(found, allowed[0])}"
        )
    with LocalThreadStore(work) as store:
        fixed = verify_store(store, repair=True)
        again = verify_store(store)
        repaired = state(store)
        messages = [m.text for m in store.iter_messages("thread_after")]
    if not fixed.ok or again.findings:
        problems.append(f"{where}: repair left {again.findings or fixed.findings}")
    if repaired != found:
        problems.append(f"{where}: repair changed records: {_diff(repaired, found)}")
    if messages != ["after"]:
        problems.append(f"{where}: the append after the fault reads {messages}")
    return problems


def _diff(got: dict[str, Any], want: dict[str, Any]) -> str:
    keys = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    return f"differences in {keys}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The writer every reliability test runs: a random mix of writes on one *lane*.

A lane is one thread written by one writer at a time: appends, run creates and run
transitions made with ``expected=``, step appends and status updates, message metadata
updates, message deletes, and side threads created and deleted. Before each call the
writer emits an *intent* naming every value the call may change (its *cells*); after the
call returns it emits an *ack*. Whoever receives the stream (a pipe to the parent, or an
:class:`~.oracle.Oracle` in the same process) then knows exactly what the store may hold.

Because one writer owns the lane, a lost compare-and-set or an "already exists" on a
fresh ID can only mean the store misreported an earlier write: it is emitted as an
``error``, which fails the test. A :class:`BackendError` (the storage failed, as under
injected faults) is emitted as ``fail``: the call's outcome is unknown, and the writer
reads the records it touched before it uses them again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from threadstore.errors import BackendError, NotFoundError, RunInTerminalState
from threadstore.models import Message, MessageCreationStepDetails, Run, RunStep, Thread
from threadstore.protocol import ThreadStore
from threadstore.snapshot import read_thread

__all__ = ["ABSENT", "TRANSITIONS", "Emit", "Workload", "lane_cells", "side_prefix"]

ABSENT = None
"""The value of a cell whose record does not exist."""

Emit = Callable[[dict[str, Any]], None]

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("in_progress", "in_progress", "cancelling", "cancelled", "expired", "failed"),
    "in_progress": ("requires_action", "completed", "failed", "cancelling", "incomplete"),
    "requires_action": ("in_progress", "in_progress", "cancelling", "expired", "failed"),
    "cancelling": ("cancelled", "failed", "completed"),
}
"""Moves the writer makes, by current status (repeats weight a choice); none from a
terminal status, which the writer only pokes to see the guard hold."""
STEP_ENDS = ("completed", "failed", "cancelled", "expired")


def side_prefix(lane: str) -> str:
    """The ID prefix of the side threads a lane's writers create and delete."""
    return f"thread_{lane}_side"


def _metadata(value: str) -> str:
    return '{"v":"' + value + '"}'


@dataclass
class Workload:
    """One writer on one lane. :meth:`resume` reads the lane's state from the store."""

    store: ThreadStore
    thread_id: str
    lane: str
    tag: str
    """Unique per writer: message texts are ``tag:n``, so a duplicate shows."""
    rng: random.Random
    emit: Emit
    messages: set[str] = field(default_factory=set)
    runs: dict[str, str] = field(default_factory=dict)
    steps: dict[tuple[str, str], str] = field(default_factory=dict)
    sides: set[str] = field(default_factory=set)
    referenced: set[str] = field(default_factory=set)
    """Messages a step names: never deleted, or the step's reference would dangle."""
    unsure: dict[tuple[str, ...], Callable[[], None]] = field(default_factory=dict)
    done: int = 0

    @classmethod
    def resume(
        cls, store: ThreadStore, thread_id: str, lane: str, tag: str, seed: int, emit: Emit
    ) -> Workload:
        snapshot = read_thread(store, thread_id)
        work = cls(store, thread_id, lane, tag, random.Random(seed), emit)
        work.messages = {m.id for m in snapshot.messages}
        work.runs = {r.id: r.status.value for r in snapshot.runs}
        work.steps = {(s.run_id or "", s.id): s.status.value for s in snapshot.steps}
        work.referenced = {
            s.step_details.message_creation.message_id
            for s in snapshot.steps
            if isinstance(s.step_details, MessageCreationStepDetails)
        }
        work.sides = {t for t in store.list_thread_ids() if t.startswith(side_prefix(lane))}
        return work

    # --- one operation ---------------------------------------------------------------------

    def step(self) -> None:
        """Resolve what an earlier failure left unsure (if the store answers), then make
        one random write."""
        for key, resolve in list(self.unsure.items()):
            try:
                resolve()
            except BackendError:
                continue
            del self.unsure[key]
        n = self.done
        self.done += 1
        choices = self._choices(n)
        operation = self.rng.choices(
            [operation for _, _, operation in choices], [weight for _, weight, _ in choices]
        )[0]
        operation()

    def _choices(self, n: int) -> list[tuple[str, int, Callable[[], None]]]:
        live_runs = [r for r, s in self.runs.items() if s in TRANSITIONS]
        ended_runs = [r for r, s in self.runs.items() if s not in TRANSITIONS]
        open_steps = [k for k, s in self.steps.items() if s == "in_progress"]
        messages = sorted(self.messages)
        deletable = sorted(self.messages - self.referenced)
        options: list[tuple[str, int, Callable[[], None]]] = [
            ("append", 30, lambda: self.append(n))
        ]
        if messages:
            options.append(("metadata", 12, lambda: self.metadata(n, self.rng.choice(messages))))
        if deletable:
            options.append(("delete", 2, lambda: self.delete(n, self.rng.choice(deletable))))
        if len(live_runs) < 4:
            options.append(("run", 6, lambda: self.create_run(n)))
        if live_runs:
            options.append(("move", 20, lambda: self.move(n, self.rng.choice(sorted(live_runs)))))
            if messages:
                run = self.rng.choice(sorted(live_runs))
                options.append(("step", 12, lambda: self.append_step(n, run, messages[-1])))
        if ended_runs:
            options.append(("guard", 3, lambda: self.guard(n, self.rng.choice(sorted(ended_runs)))))
        if open_steps:
            options.append(("end step", 10, lambda: self.end_step(n, self.rng.choice(open_steps))))
        options.append(("side thread", 3, lambda: self.create_side(n)))
        if self.sides:
            options.append(("drop side", 2, lambda: self.delete_side(n, min(self.sides))))
        return options

    def _call(
        self,
        n: int,
        op: str,
        changes: list[tuple[list[str], Any]],
        call: Callable[[], object],
        unsure: tuple[tuple[str, ...], Callable[[], None]] | None = None,
        append: tuple[str, str] | None = None,
    ) -> bool:
        """Emit the intent, make the call, emit its ack (or ``fail``); whether it was acked."""
        cells = [[cell, value] for cell, value in changes]
        self.emit({"t": "intent", "n": n, "op": op, "cells": cells, "append": append})
        try:
            call()
        except BackendError as exc:
            self.emit({"t": "fail", "n": n, "op": op, "error": str(exc)})
            if unsure is not None:
                self.unsure[unsure[0]] = unsure[1]
            return False
        self.emit({"t": "ack", "n": n, "op": op, "cells": cells})
        return True

    # --- the writes ------------------------------------------------------------------------

    def append(self, n: int) -> None:
        message = Message.user(f"{self.tag}:{n}")
        mid = message.id
        if self._call(
            n,
            "append",
            [(["message", mid], message.text), (["meta", mid], _metadata(""))],
            lambda: self.store.append_message(self.thread_id, message),
            (("message", mid), lambda: self._reread_message(mid)),
            append=(f"{self.thread_id}/messages", mid),
        ):
            self.messages.add(mid)

    def metadata(self, n: int, message_id: str) -> None:
        value = str(n)
        self._call(
            n,
            "metadata",
            [(["meta", message_id], _metadata(value))],
            lambda: self.store.update_message(self.thread_id, message_id, metadata={"v": value}),
        )

    def delete(self, n: int, message_id: str) -> None:
        self.messages.discard(message_id)
        self._call(
            n,
            "delete",
            [(["message", message_id], ABSENT), (["meta", message_id], ABSENT)],
            lambda: self.store.delete_message(self.thread_id, message_id),
            (("message", message_id), lambda: self._reread_message(message_id)),
        )

    def create_run(self, n: int) -> None:
        run = Run(assistant_id="asst_1", model="m")
        if self._call(
            n,
            "run",
            [(["run", run.id], "queued")],
            lambda: self.store.create_run(self.thread_id, run),
            (("run", run.id), lambda: self._reread_run(run.id)),
            append=(f"{self.thread_id}/runs", run.id),
        ):
            self.runs[run.id] = "queued"

    def move(self, n: int, run_id: str) -> None:
        current = self.runs.pop(run_id)
        target = self.rng.choice(TRANSITIONS[current])
        if self._call(
            n,
            "move",
            [(["run", run_id], target)],
            lambda: self.store.update_run_status(self.thread_id, run_id, target, expected=current),
            (("run", run_id), lambda: self._reread_run(run_id)),
        ):
            self.runs[run_id] = target

    def guard(self, n: int, run_id: str) -> None:
        """Poke a finished run: the terminal guard must refuse, and change nothing."""
        self.emit({"t": "intent", "n": n, "op": "guard", "cells": [], "append": None})
        try:
            self.store.update_run_status(self.thread_id, run_id, "in_progress")
        except RunInTerminalState:
            self.emit({"t": "ack", "n": n, "op": "guard", "cells": []})
            return
        except BackendError as exc:
            self.emit({"t": "fail", "n": n, "op": "guard", "error": str(exc)})
            return
        self.emit({"t": "error", "n": n, "error": f"finished run {run_id} moved without force"})

    def append_step(self, n: int, run_id: str, message_id: str) -> None:
        step = RunStep.model_validate(
            {
                "assistant_id": "asst_1",
                "step_details": {
                    "type": "message_creation",
                    "message_creation": {"message_id": message_id},
                },
            }
        )
        key = (run_id, step.id)
        self.referenced.add(message_id)
        if self._call(
            n,
            "step",
            [(["step", run_id, step.id], "in_progress")],
            lambda: self.store.append_step(self.thread_id, run_id, step),
            (("step", *key), lambda: self._reread_step(*key)),
            append=(f"{self.thread_id}/steps/{run_id}", step.id),
        ):
            self.steps[key] = "in_progress"

    def end_step(self, n: int, key: tuple[str, str]) -> None:
        target = self.rng.choice(STEP_ENDS)
        del self.steps[key]
        if self._call(
            n,
            "end step",
            [(["step", *key], target)],
            lambda: self.store.update_step_status(self.thread_id, *key, target),
            (("step", *key), lambda: self._reread_step(*key)),
        ):
            self.steps[key] = target

    def create_side(self, n: int) -> None:
        thread_id = f"{side_prefix(self.lane)}_{self.tag}_{n}"
        if self._call(
            n,
            "side thread",
            [(["thread", thread_id], "present")],
            lambda: self.store.create_thread(Thread(id=thread_id)),
            (("thread", thread_id), lambda: self._reread_side(thread_id)),
        ):
            self.sides.add(thread_id)

    def delete_side(self, n: int, thread_id: str) -> None:
        self.sides.discard(thread_id)
        self._call(
            n,
            "drop side",
            [(["thread", thread_id], ABSENT)],
            lambda: self.store.delete_thread(thread_id),
            (("thread", thread_id), lambda: self._reread_side(thread_id)),
        )

    # --- learning the truth after a failure ---------------------------------------------------

    def _reread_message(self, message_id: str) -> None:
        try:
            self.store.get_message(self.thread_id, message_id)
        except NotFoundError:
            self.messages.discard(message_id)
        else:
            self.messages.add(message_id)

    def _reread_run(self, run_id: str) -> None:
        try:
            self.runs[run_id] = self.store.get_run(self.thread_id, run_id).status.value
        except NotFoundError:
            self.runs.pop(run_id, None)

    def _reread_step(self, run_id: str, step_id: str) -> None:
        try:
            step = self.store.get_step(self.thread_id, run_id, step_id)
        except NotFoundError:
            self.steps.pop((run_id, step_id), None)
        else:
            self.steps[(run_id, step_id)] = step.status.value

    def _reread_side(self, thread_id: str) -> None:
        try:
            self.store.get_thread(thread_id)
        except NotFoundError:
            self.sides.discard(thread_id)
        else:
            self.sides.add(thread_id)


def lane_cells(
    store: ThreadStore, thread_id: str, lane: str
) -> tuple[dict[Any, Any], dict[str, list[str]]]:
    """What the store holds for a lane: its cells (see :class:`Workload`), and each of its
    lists in order (keyed as the writer names them in ``append``; ``texts`` too, so the
    same message stored twice under two IDs shows)."""
    snapshot = read_thread(store, thread_id)
    cells: dict[Any, Any] = {}
    orders: dict[str, list[str]] = {
        f"{thread_id}/messages": [m.id for m in snapshot.messages],
        f"{thread_id}/texts": [m.text for m in snapshot.messages],
        f"{thread_id}/runs": [r.id for r in snapshot.runs],
    }
    for message in snapshot.messages:
        cells[("message", message.id)] = message.text
        cells[("meta", message.id)] = _metadata(message.metadata.get("v", ""))
    for run in snapshot.runs:
        cells[("run", run.id)] = run.status.value
    for step in snapshot.steps:
        cells[("step", step.run_id or "", step.id)] = step.status.value
        orders.setdefault(f"{thread_id}/steps/{step.run_id}", []).append(step.id)
    for side in store.list_thread_ids():
        if side.startswith(side_prefix(lane)):
            cells[("thread", side)] = "present"
    return cells, orders

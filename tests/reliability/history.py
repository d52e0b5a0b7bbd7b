"""The oracle for concurrent churn: is a history of overlapping calls one a store may show?

Several processes create, delete, append to and read a few shared thread IDs at once.
Each call is logged with the moments it started and returned (``time.monotonic``, one
clock for every process on the machine) and what it answered. A call whose process was
killed before it answered is *unknown*: it may have taken effect, at any moment after it
started. From that log alone, with no knowledge of the store's internals:

- **no loss**: an acknowledged append is in the thread (in every read that starts after
  it, and in the final state) unless a delete of the thread may have come after it;
- **no ghost**: every message seen was appended by a call that may have succeeded, in a
  read that did not end before the append started; a thread seen was created by one;
- **no resurrection**: nothing seen belongs to an incarnation that a delete surely
  ended (one that started after the append returned and returned before the read);
- **no duplicate**: no message twice in a list;
- **an error means not stored**: a call that answered "not found" or "already exists"
  stored nothing, and said so truthfully: "not found" only if the thread may have been
  absent at some moment of the call, "already exists" only if it may have been present;
- acknowledged appends keep their real-time order, and a batch is all or nothing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OK", "History", "Op", "ThreadState"]

OK = "ok"
NOT_FOUND = "not found"
EXISTS = "exists"
_INITIAL = -1e12
"""When the state a round starts from was made: before any call of the round."""


@dataclass
class Op:
    """One call: what it did to which thread, when, and what it answered."""

    writer: str
    kind: str
    """``create``, ``delete``, ``append`` (one or a batch: ``ids``) or ``read``."""
    thread: str
    ids: tuple[str, ...]
    """The messages an append adds; the token a create writes into the thread's metadata."""
    start: float
    end: float = math.inf
    outcome: str | None = None
    """``ok``, ``not found``, ``exists``, anything else an error; ``None``: unknown."""
    seen: list[str] | None = None
    """What a read returned."""

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def might(self) -> bool:
        """Whether the call may have taken effect."""
        return self.outcome in (OK, None)


@dataclass(frozen=True)
class ThreadState:
    """What a thread ID holds: the token of the create that made it, its messages in order."""

    creator: str
    messages: tuple[str, ...]


@dataclass
class History:
    """The calls of one round, from a known starting state (see the module doc)."""

    ops: dict[tuple[str, int], Op] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def starting_from(cls, state: dict[str, ThreadState | None]) -> History:
        """A history whose past is ``state``: each thread made (or deleted) and each message
        appended, acknowledged, before the round began."""
        history = cls()
        for number, (thread, held) in enumerate(state.items()):
            at = _INITIAL + number * 1000
            if held is None:
                history.ops[("initial", number)] = Op("initial", "delete", thread, (), at, at, OK)
                continue
            history.ops[("initial", number)] = Op(
                "initial", "create", thread, (held.creator,), at, at, OK
            )
            for place, message in enumerate(held.messages, 1):
                history.ops[(f"initial-{number}", place)] = Op(
                    "initial", "append", thread, (message,), at + place, at + place, OK
                )
        return history

    def feed(self, writer: str, record: dict[str, Any]) -> None:
        """Take one record a worker sent: a call starting (``s``) or answering (``e``)."""
        key = (writer, record["n"])
        if "s" in record:
            ids = tuple(record["ids"])
            self.ops[key] = Op(writer, record["op"], record["thread"], ids, record["s"])
            return
        op = self.ops[key]
        op.end, op.outcome, op.seen = record["e"], record["out"], record.get("seen")
        answer = op.outcome if op.outcome in (OK, NOT_FOUND, EXISTS) else "error"
        self.counts[f"{op.kind}: {answer}"] += 1

    @property
    def unknown(self) -> int:
        return sum(op.outcome is None and op.writer != "initial" for op in self.ops.values())

    @property
    def answered(self) -> int:
        return sum(op.outcome is not None and op.writer != "initial" for op in self.ops.values())

    def check(self, final: dict[str, ThreadState | None]) -> list[str]:
        """Every way the log and the final state ``final`` break the rules; empty if none."""
        problems = [
            f"{op.writer} {op.kind} {op.thread}: {op.outcome}"
            for op in self.ops.values()
            if op.outcome not in (None, OK, NOT_FOUND, EXISTS)
        ]
        by_thread: dict[str, list[Op]] = defaultdict(list)
        for op in self.ops.values():
            by_thread[op.thread].append(op)
        for thread in sorted(set(by_thread) | set(final)):
            problems += _Thread(thread, by_thread.get(thread, [])).check(final.get(thread))
        return problems


class _Thread:
    """The checks of one thread ID's calls."""

    def __init__(self, thread: str, ops: Iterable[Op]) -> None:
        self.thread = thread
        ops = list(ops)
        self.creates = [op for op in ops if op.kind == "create"]
        self.tried_deletes = [op for op in ops if op.kind == "delete"]
        self.deletes = [op for op in self.tried_deletes if op.might]
        self.appends = [op for op in ops if op.kind == "append"]
        self.reads = [op for op in ops if op.kind == "read"]
        self.by_message = {message: op for op in self.appends for message in op.ids}
        self.by_token = {op.ids[0]: op for op in self.creates if op.ids}

    # --- when a delete may have, or surely has, happened -------------------------------

    def delete_may_follow(self, start: float, until: float = math.inf) -> bool:
        """Whether a delete may have taken effect after ``start`` (and before ``until``)."""
        return any(d.end > start and d.start < until for d in self.deletes)

    def surely_deleted_between(self, after: float, before: float) -> bool:
        return any(d.ok and d.start > after and d.end < before for d in self.deletes)

    def surely_present(self, start: float, end: float) -> bool:
        """Whether the thread existed throughout ``[start, end]``."""
        return any(
            c.ok and c.end < start and not self.delete_may_follow(c.start, end)
            for c in self.creates
        )

    def surely_absent(self, start: float, end: float) -> bool:
        """Whether the thread was missing throughout ``[start, end]``."""
        return any(
            d.ok
            and d.end < start
            and not any(c.might and c.end > d.start and c.start < end for c in self.creates)
            for d in self.deletes
        )

    # --- the checks --------------------------------------------------------------------

    def check(self, final: ThreadState | None) -> list[str]:
        name = self.thread
        problems = self._answers()
        for read in self.reads:
            if read.ok and read.seen is not None:
                problems += self._seen(f"a read by {read.writer}", read.seen, read.start, read.end)
        if final is None:
            for create in self.creates:
                if create.ok and not self.delete_may_follow(create.start):
                    problems.append(f"{name}: lost (created by {create.ids[0]}, never deleted)")
            for append in self.appends:
                if append.ok and not self.delete_may_follow(append.start):
                    problems.append(f"{name}: lost with acknowledged {append.ids} in it")
            return problems
        for create in self.creates:
            late = create.ok and not self.delete_may_follow(create.start)
            if late and create.ids[0] != final.creator:
                problems.append(f"{name}: made by {final.creator}, not by {create.ids[0]}")
        creator = self.by_token.get(final.creator)
        if creator is None or not creator.might:
            outcome = "no such create" if creator is None else creator.outcome
            problems.append(f"{name}: made by {final.creator}, whose create said {outcome}")
        elif self.surely_deleted_between(creator.end, math.inf):
            problems.append(f"{name}: resurrected (made by {final.creator}, deleted since)")
        born = creator.start if creator is not None else -math.inf
        problems += self._seen("the final state", list(final.messages), math.inf, math.inf, born)
        problems += self._order(final.messages)
        return problems

    def _answers(self) -> list[str]:
        """ "Not found" and "already exists" must each have been true at some moment."""
        problems = []
        for op in [*self.appends, *self.tried_deletes, *self.reads, *self.creates]:
            if op.outcome == NOT_FOUND and self.surely_present(op.start, op.end):
                problems.append(f"{self.thread}: {op.kind} by {op.writer} said not found")
            if op.outcome == EXISTS and (
                op.kind != "create" or self.surely_absent(op.start, op.end)
            ):
                problems.append(f"{self.thread}: {op.kind} by {op.writer} said already exists")
        return problems

    def _seen(
        self, who: str, seen: list[str], start: float, end: float, born: float = -math.inf
    ) -> list[str]:
        """A list seen between ``start`` and ``end`` (of an incarnation created no earlier
        than ``born``): ghosts, resurrections, duplicates, losses, torn batches."""
        name = self.thread
        problems = []
        repeated = [m for m, count in Counter(seen).items() if count > 1]
        if repeated:
            problems.append(f"{name}: {who} lists {repeated[:3]} more than once")
        present = set(seen)
        for message in present:
            append = self.by_message.get(message)
            if append is None or append.start > end:
                problems.append(f"{name}: {who} shows {message}, which nobody appended")
            elif not append.might:
                said = append.outcome
                problems.append(f"{name}: {who} shows {message}, whose append said {said}")
            elif append.end < born or self.surely_deleted_between(append.end, start):
                problems.append(f"{name}: {who} shows {message} of a deleted incarnation")
        for append in self.appends:
            inside = present.intersection(append.ids)
            if inside and len(inside) != len(append.ids):
                problems.append(f"{name}: {who} shows part of the batch {append.ids}")
            settled = append.ok and append.end < start
            if settled and not inside and not self.delete_may_follow(append.start, end):
                problems.append(f"{name}: {who} lost acknowledged {append.ids}")
        return problems

    def _order(self, listed: Iterable[str]) -> list[str]:
        """An append that returned before another started is listed before it."""
        placed = [(self.by_message[m], n) for n, m in enumerate(listed) if m in self.by_message]
        for first, at in placed:
            for second, later in placed:
                if first.end < second.start and at > later:
                    return [f"{self.thread}: {second.ids} is listed before {first.ids}"]
        return []

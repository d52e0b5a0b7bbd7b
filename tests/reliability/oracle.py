"""The oracle: what a store may hold, given the stream of intents and acks its writers sent.

Every value a writer can change is a *cell* (a message's text, its metadata, a run's
status, a step's status, whether a side thread exists). For each cell the oracle keeps
the set of values the store may hold:

- an *ack* sets it to exactly the written value: an acknowledged write must be there;
- an *intent* with no ack (the writer was killed mid-call, or the call failed) adds the
  new value to the old ones: the write may or may not have happened, but nothing else;
- a cell the writers never named must not exist at all.

:meth:`Oracle.check` compares what a store holds against that, and against the order of
appends: each list holds every acknowledged append once, in the order they were made; an
unacknowledged append that landed may come later than intended (an S3 append whose
writer died after claiming its ID is finished by the next repair, at the end of the
list) but never before an append acknowledged ahead of it. Then :meth:`Oracle.adopt`
takes the store's values and order as the new truth, since each was one it allowed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .workload import ABSENT

__all__ = ["Oracle", "Tally"]

Cell = tuple[str, ...]


@dataclass
class Tally:
    """What a stream carried: acknowledged operations, unacknowledged ones, errors."""

    acks: int = 0
    unacked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    by_op: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    """Operations whose outcome a check confirmed."""

    def add(self, oracle: Oracle) -> None:
        """Sum another oracle's stream into this tally."""
        other = oracle.tally
        self.acks += other.acks
        self.unacked += other.unacked
        self.failed += other.failed
        self.errors += other.errors
        self.by_op += other.by_op
        self.checked += oracle.checked


@dataclass
class Oracle:
    allowed: dict[Cell, set[Any]] = field(default_factory=dict)
    appended: dict[str, list[str]] = field(default_factory=dict)
    """Every intended append per list, in the order the writer made them."""
    acked: set[str] = field(default_factory=set)
    """Appends acknowledged (or seen in the store at a check)."""
    pending: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    checked: int = 0
    """Operations whose outcome a check has confirmed (acked or not)."""
    _since_check: int = 0

    def feed(self, record: dict[str, Any], writer: str = "") -> None:
        """Take one record of a writer's stream (see :mod:`.workload`)."""
        kind = record["t"]
        key = (writer, record.get("n", -1))
        if kind == "intent":
            self.pending[key] = record
            for cell, value in record["cells"]:
                self.allowed.setdefault(tuple(cell), {ABSENT}).add(value)
            if record.get("append"):
                name, record_id = record["append"]
                self.appended.setdefault(name, []).append(record_id)
        elif kind == "ack":
            intent = self.pending.pop(key, None)
            if intent is not None and intent.get("append"):
                self.acked.add(intent["append"][1])
            for cell, value in record["cells"]:
                self.allowed[tuple(cell)] = {value}
            self.tally.acks += 1
            self.tally.by_op[record["op"]] += 1
            self._since_check += 1
        elif kind == "fail":
            self.pending.pop(key, None)
            self.tally.failed += 1
            self._since_check += 1
        elif kind == "error":
            self.tally.errors.append(f"{writer}: {record['error']}")
        else:
            raise AssertionError(f"unknown record {record!r}")

    def feed_lines(self, lines: Iterable[bytes], writer: str) -> None:
        for line in lines:
            self.feed(json.loads(line), writer)

    def writer_gone(self, writer: str) -> None:
        """A writer died: its call in flight stays unacknowledged (either outcome allowed)."""
        for key in [k for k in self.pending if k[0] == writer]:
            del self.pending[key]
            self.tally.unacked += 1
            self._since_check += 1

    def check(self, cells: dict[Any, Any], orders: dict[str, list[str]]) -> list[str]:
        """Problems with what a store holds (``cells``, ``orders``): empty if none."""
        problems = [f"writer error: {error}" for error in self.tally.errors]
        for cell in sorted(set(self.allowed) | set(cells), key=repr):
            actual = cells.get(cell, ABSENT)
            allowed = self.allowed.get(cell, {ABSENT})
            if actual not in allowed:
                what = "nobody wrote it" if cell not in self.allowed else f"allowed {allowed!r}"
                problems.append(f"{'/'.join(cell)} holds {actual!r}: {what}")
        for name, listed in orders.items():
            duplicates = [item for item, count in Counter(listed).items() if count > 1]
            if duplicates:
                problems.append(f"{name}: stored more than once: {duplicates[:5]}")
            if name in self.appended:
                problems += self._order(name, listed)
        return problems

    def _order(self, name: str, listed: list[str]) -> list[str]:
        intended = self.appended[name]
        present = set(listed)
        acked = [item for item in listed if item in self.acked]
        if acked != [item for item in intended if item in present and item in self.acked]:
            return [f"{name}: acknowledged appends are not in the order they were made"]
        where = {item: position for position, item in enumerate(listed)}
        for number, item in enumerate(intended):
            if item in present and item not in self.acked:
                ahead = [x for x in intended[:number] if x in self.acked and x in present]
                if any(where[x] > where[item] for x in ahead):
                    return [f"{name}: {item} landed before an append acknowledged ahead of it"]
        return []

    def adopt(self, cells: dict[Any, Any], orders: dict[str, list[str]]) -> None:
        """After a clean check: the store's values and order are the truth from here on."""
        self.allowed = {cell: {value} for cell, value in cells.items()}
        self.appended = {name: list(orders.get(name, [])) for name in self.appended}
        self.acked = {item for listed in self.appended.values() for item in listed}
        self.checked += self._since_check
        self._since_check = 0

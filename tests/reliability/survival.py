"""After a crash or a storm of faults: is everything acknowledged there, once, intact?

:func:`check_store` opens the store afresh and holds it to the :class:`~.oracle.Oracle`
(nothing acknowledged missing, nothing twice, nothing torn or out of order, every run and
step status one the writers' log allows), then to
:func:`threadstore.integrity.verify_store`. Findings a dead writer may leave (a claim
without its commit, a late tail pointer, objects of a deleted thread) must be repairable:
``verify_store(repair=True)`` must make the store clean, and the oracle must still hold
afterwards, so the repair lost no acknowledged write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from threadstore.integrity import verify_store
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

from .oracle import Oracle
from .workload import lane_cells

__all__ = ["LOCAL_LEFTOVERS", "S3_LEFTOVERS", "check_store", "observe"]

LOCAL_LEFTOVERS = frozenset(
    {"unfinished-delete", "leftover", "temp-file", "unfinished-write", "index"}
)
"""What a local-disk writer killed mid-operation may leave: a thread whose delete stopped
halfway, the files of a deleted thread not yet removed, a temporary entry, bytes of a
write that never finished, an index behind."""

S3_LEFTOVERS = frozenset({"dangling-claim", "tail-hint-behind", "orphaned-data"})
"""What an S3 writer that dies (or gives up) mid-operation may leave, each repairable: an
append's claims without its commit, a tail pointer not yet moved on, the lists of a
record deleted before its clean-up."""


def observe(
    store: ThreadStore, lanes: Mapping[str, str]
) -> tuple[dict[Any, Any], dict[str, list[str]]]:
    """The cells and list orders of every lane (``lanes``: lane name → thread ID)."""
    cells: dict[Any, Any] = {}
    orders: dict[str, list[str]] = {}
    for lane, thread_id in lanes.items():
        lane_found, lane_orders = lane_cells(store, thread_id, lane)
        cells.update(lane_found)
        orders.update(lane_orders)
    return cells, orders


def check_store(
    url: str, oracle: Oracle, lanes: Mapping[str, str], leftovers: frozenset[str] = frozenset()
) -> Counter[str]:
    """Hold the store at ``url`` to ``oracle`` and to ``verify_store``; repair what a dead
    writer may leave (kinds in ``leftovers``). Returns the repairs made, by kind."""
    repaired: Counter[str] = Counter()
    with open_store(url) as store:
        cells, orders = observe(store, lanes)
        problems = oracle.check(cells, orders)
        assert not problems, "\n".join(problems)
        report = verify_store(store)
        unexpected = [f for f in report.findings if f.check not in leftovers]
        assert not unexpected, unexpected
        if report.findings:
            fixed = verify_store(store, repair=True)
            assert fixed.ok, [f for f in fixed.findings if not f.repaired]
            repaired.update(f.check for f in fixed.findings)
            again = verify_store(store)
            assert not again.findings, again.findings
            cells, orders = observe(store, lanes)
            problems = oracle.check(cells, orders)
            assert not problems, "after repair:\n" + "\n".join(problems)
        oracle.adopt(cells, orders)
    return repaired

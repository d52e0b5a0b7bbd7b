"""The churn oracle catches what it is there to catch: each rule broken once, on purpose."""

from __future__ import annotations

import pytest

from .history import History, ThreadState

T = "thread_t"


def history(*calls: tuple[str, str, tuple[str, ...], float, float, str]) -> History:
    """A history from ``(writer, kind, ids, start, end, outcome)``; ``end`` < 0: unknown."""
    made = History.starting_from({T: None})
    for n, (writer, kind, ids, start, end, outcome) in enumerate(calls):
        made.feed(writer, {"n": n, "op": kind, "thread": T, "ids": list(ids), "s": start})
        if end >= 0:
            seen = list(ids) if kind == "read" else None
            made.feed(writer, {"n": n, "e": end, "out": outcome, "seen": seen})
    return made


CREATE = ("w1", "create", ("w1:0",), 1.0, 2.0, "ok")
STATE = ThreadState("w1:0", ())


def test_a_true_history_passes() -> None:
    calls = history(
        CREATE,
        ("w2", "append", ("m1",), 3.0, 4.0, "ok"),
        ("w3", "append", ("m2",), 3.5, 6.0, "ok"),
        ("w4", "append", ("m3",), 3.0, -1, ""),  # killed in flight: may or may not be there
        ("w2", "read", ("m1",), 5.0, 5.5, "ok"),  # m2 may not have landed yet
    )
    assert calls.check({T: ThreadState("w1:0", ("m1", "m2"))}) == []
    assert calls.check({T: ThreadState("w1:0", ("m1", "m3", "m2"))}) == []


@pytest.mark.parametrize(
    ("calls", "final", "rule"),
    [
        ([("w2", "append", ("m1",), 3.0, 4.0, "ok")], STATE, "lost acknowledged"),
        ([("w2", "append", ("m1",), 3.0, 4.0, "ok")], None, "lost with acknowledged"),
        ([], None, "lost (created"),
        ([], ThreadState("w1:0", ("m9",)), "nobody appended"),
        ([("w2", "append", ("m1",), 3.0, 4.0, "not found")], ThreadState("w1:0", ("m1",)), "said"),
        ([("w2", "append", ("m1",), 3.0, 4.0, "ok")], ThreadState("w1:0", ("m1", "m1")), "once"),
        (
            [("w2", "append", ("m1", "m2"), 3.0, 4.0, "ok")],
            ThreadState("w1:0", ("m1",)),
            "part of the batch",
        ),
        (
            [("w2", "append", ("m1",), 3.0, 4.0, "ok"), ("w3", "append", ("m2",), 5, 6, "ok")],
            ThreadState("w1:0", ("m2", "m1")),
            "listed before",
        ),
        (
            [
                ("w2", "append", ("m1",), 3.0, 4.0, "ok"),
                ("w3", "delete", (), 5.0, 6.0, "ok"),
                ("w4", "create", ("w4:0",), 7.0, 8.0, "ok"),
            ],
            ThreadState("w4:0", ("m1",)),
            "deleted incarnation",
        ),
        ([("w3", "delete", (), 5.0, 6.0, "ok")], STATE, "resurrected"),
        ([("w2", "append", ("m1",), 3.0, 4.0, "not found")], STATE, "said not found"),
        ([("w2", "create", ("w2:0",), 3.0, 4.0, "exists")], STATE, None),
        ([("w2", "append", ("m1",), 3.0, 4.0, "BackendError: x")], STATE, "BackendError"),
        ([("w2", "read", ("m9",), 3.0, 4.0, "ok")], STATE, "nobody appended"),
    ],
)
def test_each_broken_rule_is_caught(
    calls: list[tuple[str, str, tuple[str, ...], float, float, str]],
    final: ThreadState | None,
    rule: str | None,
) -> None:
    problems = history(CREATE, *calls).check({T: final})
    if rule is None:  # the control: a true "already exists"
        assert problems == []
    else:
        assert any(rule in problem for problem in problems), problems


def test_already_exists_on_a_surely_absent_thread_is_caught() -> None:
    calls = history(("w2", "create", ("w2:0",), 3.0, 4.0, "exists"))
    assert any("already exists" in p for p in calls.check({T: None}))

"""Delete / re-create / append churn from several processes on a few shared thread IDs,
with and without SIGKILLs, held to the log of what every call answered (:mod:`.history`):
no loss, no ghost, no resurrection, no duplicate, and every answer true when given
(success, not found or already exists: nothing else may escape under races).
"""

from __future__ import annotations

import time
from pathlib import Path

from .budget import BUDGET
from .churn import Churn
from .figures import record
from .survival import LOCAL_LEFTOVERS

THREADS = ["thread_churn_a", "thread_churn_b", "thread_churn_c"]
WORKERS = 4


def report(area: str, churn: Churn, seconds: float) -> None:
    record(
        area,
        {
            "minutes": round(seconds / 60, 1),
            "kills survived": churn.kills,
            "operations checked": churn.checked,
            "in flight at a kill": churn.unknown,
            "repairs": sum(churn.repaired.values()),
            "losses": 0,
            **{f"repair: {kind}": count for kind, count in churn.repaired.items()},
            **{f"call: {kind}": count for kind, count in churn.calls.items()},
        },
    )


def test_churn_on_shared_threads_keeps_every_answer_true(tmp_path: Path) -> None:
    churn = Churn(str(tmp_path / "store"), THREADS, WORKERS, seed=11, leftovers=frozenset())
    started = time.monotonic()
    for _ in range(BUDGET.churn_rounds):
        churn.round(calls=BUDGET.churn_calls)
    for done in ("append: ok", "delete: ok", "create: ok"):
        assert churn.calls[done], f"no {done} call: the round proved nothing"
    report("churn/local", churn, time.monotonic() - started)


def test_churn_with_writers_killed_at_random_loses_nothing(tmp_path: Path) -> None:
    """Rounds until ``churn_kills`` kills and ``churn_minutes`` minutes (a soak's length;
    a bound on the loop, never a timing that is asserted)."""
    churn = Churn(str(tmp_path / "store"), THREADS, WORKERS, seed=12, leftovers=LOCAL_LEFTOVERS)
    started = time.monotonic()
    while (
        churn.kills < BUDGET.churn_kills or time.monotonic() - started < BUDGET.churn_minutes * 60
    ):
        churn.round(kills=BUDGET.churn_kills_per_round, acks=BUDGET.churn_acks_before_kill)
    assert churn.unknown > 0, "no kill landed inside a call"
    report("churn/local killed", churn, time.monotonic() - started)

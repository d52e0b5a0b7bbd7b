"""How much each reliability test does: a bounded CI budget, or a soak.

Every loop in the harness takes its size from :data:`BUDGET`. Under plain pytest that is
the CI budget: small enough that the whole harness stays well under three minutes of CPU
on two idle cores. ``THREADSTORE_SOAK=1`` switches to soak sizes, and each figure can be
set on its own with ``THREADSTORE_RELIABILITY_<NAME>`` (e.g. ``..._LOCAL_KILLS=500``);
``python -m tests.reliability.soak`` sets these for you.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["BUDGET", "Budget", "current"]


@dataclass(frozen=True)
class Budget:
    """Sizes of the bounded loops. Counts, never durations: no test asserts a timing."""

    local_kills: int = 16
    """SIGKILLs of local-disk writers (two writers per round)."""
    s3_kills: int = 6
    """SIGKILLs of S3 writers."""
    acks_before_kill: int = 30
    """A writer is killed after a random 1..N acknowledged operations (plus a random pause)."""
    s3_acks_before_kill: int = 15
    """The same for S3 writers, whose operations take longer."""
    fault_operations: int = 25
    """Operations per fault kind through the fault proxy."""
    fault_rate: float = 0.25
    """Chance that an eligible request meets the fault."""
    contention_processes: int = 8
    local_appends: int = 25
    """Appends per process on one local thread."""
    s3_appends: int = 6
    """Appends per process on one S3 thread."""
    local_claims: int = 5
    """Claims each process must win on the one contested local run."""
    s3_claims: int = 2
    """Claims each process must win on the one contested S3 run."""
    hypothesis_examples: int = 60
    """Examples per property (hostile input)."""
    churn_rounds: int = 2
    """Rounds of local-disk churn without kills (four processes, three shared thread IDs)."""
    churn_calls: int = 50
    """Calls per churn process per round without kills."""
    churn_kills: int = 8
    """SIGKILLs of local-disk churn processes (those killed at each round's end count)."""
    churn_kills_per_round: int = 4
    """Churn processes killed one by one in a round before the rest are killed and the
    store is checked."""
    churn_minutes: float = 0
    """With kills, churn goes on at least this long (a soak's length), kills or not."""
    churn_acks_before_kill: int = 25
    """A churn process is killed after a random 1..N answered calls (plus a pause)."""
    index_damages: int = 24
    """Index files damaged (bit flips, zeroed blocks, cut short, older copies), one each."""
    disk_fault_points: int = 3
    """Write and sync points failed per scenario and fault kind (0: every one)."""
    full_disk_calls: int = 1000
    """Calls made against a 1 MiB tmpfs until well past full."""
    soak: bool = False

    def scaled(self) -> Budget:
        """This budget with ``THREADSTORE_RELIABILITY_<NAME>`` overrides applied."""
        changes: dict[str, Any] = {}
        for spec in fields(self):
            raw = os.environ.get(f"THREADSTORE_RELIABILITY_{spec.name.upper()}")
            if raw is not None:
                kind = type(getattr(self, spec.name))
                changes[spec.name] = (
                    raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
                )
        return replace(self, **changes)


SOAK = Budget(
    local_kills=240,
    s3_kills=60,
    acks_before_kill=60,
    s3_acks_before_kill=30,
    fault_operations=600,
    contention_processes=8,
    local_appends=250,
    s3_appends=25,
    local_claims=40,
    s3_claims=6,
    hypothesis_examples=2000,
    churn_rounds=20,
    churn_calls=300,
    churn_kills=240,
    churn_kills_per_round=8,
    churn_acks_before_kill=40,
    churn_minutes=12,
    index_damages=1200,
    disk_fault_points=0,
    full_disk_calls=3000,
    soak=True,
)


def current() -> Budget:
    """The budget this run asked for (see the module doc)."""
    base = SOAK if os.environ.get("THREADSTORE_SOAK", "") not in ("", "0") else Budget()
    return base.scaled()


BUDGET = current()

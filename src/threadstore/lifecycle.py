"""The run and step lifecycles: which status moves are allowed, and what a move sets.

Plain functions over a record's current state, so every backend applies the same rules,
whether through :class:`~threadstore.base.BaseThreadStore`'s read-modify-write or through
one conditional statement of its own.
"""

from __future__ import annotations

from typing import Any

from threadstore.errors import ConflictError, InvalidRequestError, RunInTerminalState
from threadstore.models import LastError, Run, RunStatus, RunStepStatus, now
from threadstore.validation import input_rules

__all__ = [
    "RUN_STAMPS",
    "STEP_STAMPS",
    "check_run_move",
    "error_of",
    "run_move",
    "run_status",
    "step_move",
    "step_status",
]

RUN_STAMPS = {
    RunStatus.IN_PROGRESS: "started_at",
    RunStatus.COMPLETED: "completed_at",
    RunStatus.FAILED: "failed_at",
    RunStatus.CANCELLED: "cancelled_at",
}
"""The timestamp a run's move to each status sets (``started_at`` only the first time)."""

STEP_STAMPS = {
    RunStepStatus.COMPLETED: "completed_at",
    RunStepStatus.FAILED: "failed_at",
    RunStepStatus.CANCELLED: "cancelled_at",
    RunStepStatus.EXPIRED: "expired_at",
}
"""The timestamp a step's move to each status sets."""


def run_status(value: RunStatus | str, what: str = "status") -> RunStatus:
    """``value`` as a :class:`RunStatus`; an unknown one is bad input."""
    try:
        return RunStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidRequestError(f"unknown run {what} {value!r}; one of: {allowed}") from None


def step_status(value: RunStepStatus | str) -> RunStepStatus:
    """``value`` as a :class:`RunStepStatus`; an unknown one is bad input."""
    try:
        return RunStepStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStepStatus)
        raise InvalidRequestError(f"unknown step status {value!r}; one of: {allowed}") from None


def error_of(value: LastError | dict[str, Any] | None) -> LastError | None:
    """A ``last_error`` given as a model or as its dict."""
    if value is None or isinstance(value, LastError):
        return value
    with input_rules():
        return LastError.model_validate(value)


def check_run_move(
    run: Run, status: RunStatus | None, *, expected: RunStatus | None, force: bool
) -> None:
    """Refuse a move of a finished run (unless forced), and a compare-and-set that lost.

    The terminal guard is checked first; ``expected`` is checked even when only other
    fields change.
    """
    if status is not None and not force and run.status.is_terminal:
        raise RunInTerminalState(
            f"run {run.id!r} is {run.status.value}; it cannot become {status.value}"
        )
    if expected is not None and run.status is not expected:
        raise ConflictError(
            f"run {run.id!r} is {run.status.value}, not {expected.value} as expected"
        )


def run_move(run: Run, status: RunStatus, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields a move of ``run`` to ``status`` sets, beside the caller's ``changes``.

    The move's timestamp is set unless the caller sets it (``started_at`` only once), and
    ``required_action`` is cleared unless the run now requires action.
    """
    moved = {"status": status, **changes}
    stamp = RUN_STAMPS.get(status)
    if stamp and stamp not in changes and (stamp != "started_at" or run.started_at is None):
        moved[stamp] = now()
    if status is not RunStatus.REQUIRES_ACTION:
        moved.setdefault("required_action", None)
    return moved


def step_move(status: RunStepStatus, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields a move of a step to ``status`` sets, beside the caller's ``changes``."""
    stamp = STEP_STAMPS.get(status)
    return {"status": status, **({stamp: now()} if stamp else {}), **changes}

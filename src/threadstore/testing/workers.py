"""Functions the conformance suite runs in child processes (importable by ``spawn``)."""

from __future__ import annotations

from threadstore.errors import ConflictError
from threadstore.models import Message
from threadstore.registry import open_store


def append_messages(url: str, thread_id: str, worker: int, count: int) -> None:
    """Append ``count`` messages ``"<worker>:<i>"`` in order."""
    with open_store(url) as store:
        for i in range(count):
            store.append_message(thread_id, Message.user(f"{worker}:{i}"))


def claim_run(url: str, thread_id: str, run_id: str, worker: int) -> bool:
    """Try to move the run from queued to in_progress; return whether this worker won."""
    with open_store(url) as store:
        try:
            store.update_run_status(thread_id, run_id, "in_progress", expected="queued")
        except ConflictError:
            return False
        return True

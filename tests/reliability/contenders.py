"""Workers for the contention tests, each run in its own process (see :mod:`.processes`).

Both return what they did and for how long, measured from the moment all processes were
released together, so the figures command can report throughput and retries.
"""

from __future__ import annotations

import random
import time
from typing import Any

from threadstore.errors import ConflictError
from threadstore.models import Message
from threadstore.registry import open_store

__all__ = ["append_many", "claim_and_count"]


def append_many(url: str, thread_id: str, worker: int, count: int) -> dict[str, Any]:
    """Append ``count`` messages ``worker:i`` in order; return their IDs as acknowledged."""
    with open_store(url) as store:
        start = time.perf_counter()
        ids = [
            store.append_message(thread_id, Message.user(f"{worker}:{i}")).id for i in range(count)
        ]
        return {"ids": ids, "seconds": time.perf_counter() - start}


def claim_and_count(
    url: str, thread_id: str, run_id: str, worker: int, wins: int, pause: float
) -> dict[str, Any]:
    """Win the contested run ``wins`` times: claim it (``queued`` → ``in_progress`` with
    ``expected="queued"``), and while holding it, add one to its counter and hand it back
    (``expected="in_progress"``). Returns the counter values this worker wrote and how
    many claims it lost. Two holders at once, or a lost update, shows as a counter value
    written twice or skipped; a release that fails raises (and fails the test)."""
    rng = random.Random(worker)
    written: list[int] = []
    lost = 0
    attempts = 0
    with open_store(url) as store:
        start = time.perf_counter()
        while len(written) < wins and attempts < 50_000:
            attempts += 1
            try:
                run = store.update_run_status(thread_id, run_id, "in_progress", expected="queued")
            except ConflictError:
                lost += 1
                time.sleep(rng.uniform(0, pause))
                continue
            count = int(run.metadata.get("count", "0")) + 1
            store.update_run(
                thread_id,
                run_id,
                expected="in_progress",
                status="queued",
                metadata={"count": str(count), "holder": str(worker)},
            )
            written.append(count)
        return {"written": written, "lost": lost, "seconds": time.perf_counter() - start}

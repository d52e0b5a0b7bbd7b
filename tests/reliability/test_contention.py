"""Eight processes on one thread: appends exactly once, and one winner per claim of a run.

On local disk and on S3 (moto), eight processes are released together by a barrier.
They append to one thread (every acknowledged append is there once, each writer's in
its order, the list has no gap), then race to claim one run many times over, each
winner counting in the run's metadata while it holds the claim (every count is written
exactly once: one holder at a time, no lost update). Throughput and retries go to the
figures (:mod:`.figures`); nothing here asserts a speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from threadstore_fsspec.testing import FaultProxy

from threadstore.integrity import verify_store
from threadstore.models import Run, Thread
from threadstore.registry import open_store

from .budget import BUDGET
from .contenders import append_many, claim_and_count
from .figures import record
from .processes import run_together
from .stores import s3_url


class Target:
    """Where the contenders write, and how to count their retries."""

    def __init__(self, backend: str, url: str, proxy: FaultProxy | None) -> None:
        self.backend = backend
        self.url = url
        self.proxy = proxy

    @property
    def worker_url(self) -> str:
        """The URL the contenders open: the parent's open probed the store already, so
        theirs skip the probe (whose refused writes would blur the retry count)."""
        return self.url + "&check_conditional_writes=false" if self.proxy else self.url

    @property
    def refused_writes(self) -> int:
        """Conditional writes the store refused (412): each one a retry by a loser."""
        return self.proxy.statuses[412] if self.proxy is not None else 0


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "local":
        yield Target("local", str(tmp_path / "store"), None)
        return
    endpoint: str = request.getfixturevalue("s3_endpoint")
    with FaultProxy(endpoint) as proxy:  # no faults: it only counts the answers
        yield Target("s3", s3_url(proxy.url), proxy)


def test_appends_from_eight_processes_land_exactly_once(target: Target) -> None:
    processes = BUDGET.contention_processes
    each = BUDGET.local_appends if target.backend == "local" else BUDGET.s3_appends
    with open_store(target.url) as store:
        thread = store.create_thread(Thread())
    before = target.refused_writes
    results = run_together(
        append_many, [(target.worker_url, thread.id, worker, each) for worker in range(processes)]
    )
    with open_store(target.url) as store:
        stored = list(store.iter_messages(thread.id))
        report = verify_store(store)
    ids = [m.id for m in stored]
    acked = [message_id for result in results for message_id in result["ids"]]
    assert len(ids) == len(set(ids)) == processes * each
    assert sorted(ids) == sorted(acked)
    texts = [m.text for m in stored]
    for worker in range(processes):
        assert [t for t in texts if t.startswith(f"{worker}:")] == [
            f"{worker}:{i}" for i in range(each)
        ]
    assert report.ok, report.findings
    assert not report.findings
    seconds = max(result["seconds"] for result in results)
    record(
        f"contention/{target.backend}/appends",
        {
            "processes": processes,
            "appends": len(acked),
            "appends per second": round(len(acked) / seconds, 1),
            "refused conditional writes (retries)": target.refused_writes - before,
            "losses": 0,
        },
    )


def test_eight_processes_racing_for_one_run_have_one_winner_per_claim(target: Target) -> None:
    processes = BUDGET.contention_processes
    wins = BUDGET.local_claims if target.backend == "local" else BUDGET.s3_claims
    pause = 0.002 if target.backend == "local" else 0.02
    with open_store(target.url) as store:
        thread = store.create_thread(Thread())
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    before = target.refused_writes
    results = run_together(
        claim_and_count,
        [
            (target.worker_url, thread.id, run.id, worker, wins, pause)
            for worker in range(processes)
        ],
    )
    written = sorted(count for result in results for count in result["written"])
    assert written == list(range(1, processes * wins + 1)), "a claim had two winners"
    assert all(len(result["written"]) == wins for result in results)
    with open_store(target.url) as store:
        final = store.get_run(thread.id, run.id)
    assert final.status == "queued"
    assert final.metadata["count"] == str(processes * wins)
    seconds = max(result["seconds"] for result in results)
    lost = sum(result["lost"] for result in results)
    record(
        f"contention/{target.backend}/claims",
        {
            "processes": processes,
            "claims won": len(written),
            "claims lost (retries)": lost,
            "claims per second": round(len(written) / seconds, 1),
            "refused conditional writes": target.refused_writes - before,
            "losses": 0,
        },
    )

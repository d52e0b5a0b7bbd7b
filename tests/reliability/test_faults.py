"""S3 under injected faults: every write either happens exactly once or fails with a clear
``BackendError``; nothing acknowledged is lost, nothing is stored twice, no run is left in
a state its writer did not ask for.

A fault proxy on loopback (:mod:`threadstore_fsspec.testing`) sits between the store and
moto. For each kind of fault, one writer runs the :mod:`.workload` mix through it while
a seeded plan fails a share of the requests; then the store is read directly (no proxy)
and held to the writer's log (:func:`.survival.check_store`). The writer itself turns a
won write reported as lost (a ``ConflictError`` on its own run, an "already exists" on
a fresh ID) into a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from threadstore_fsspec.testing import Fault, FaultPlan, FaultProxy

from threadstore.models import Thread
from threadstore.registry import open_store

from .budget import BUDGET
from .figures import record
from .oracle import Oracle
from .stores import s3_url
from .survival import S3_LEFTOVERS, check_store
from .workload import Workload

READ_TIMEOUT = 0.5
"""The store's read timeout behind the proxy; a held answer waits longer than this."""
ATTEMPTS = 3
"""The store's attempts per request: few enough that some calls exhaust them and fail."""


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as running:
        running.hold_seconds = READ_TIMEOUT * 1.8
        yield running


def plan_for(kind: Fault, seed: int) -> FaultPlan:
    """A plan for ``kind``; held answers cost wall time, so they are fewer."""
    if kind is Fault.TIMEOUT:
        return FaultPlan(kind, rate=0.05, seed=seed, limit=max(3, BUDGET.fault_operations // 8))
    return FaultPlan(kind, rate=BUDGET.fault_rate, seed=seed)


@pytest.mark.parametrize("kind", list(Fault), ids=[kind.name.lower() for kind in Fault])
def test_writes_under_faults_happen_once_or_fail_clearly(
    kind: Fault, proxy: FaultProxy, s3_endpoint: str
) -> None:
    prefix = uuid.uuid4().hex
    direct = s3_url(s3_endpoint, prefix)
    with open_store(direct) as store:
        lanes = {"f": store.create_thread(Thread(id="thread_faults")).id}
    oracle = Oracle()
    through = s3_url(
        proxy.url, prefix, read_timeout=READ_TIMEOUT, connect_timeout=1, max_attempts=ATTEMPTS
    )
    with open_store(through) as store:
        work = Workload.resume(store, lanes["f"], "f", "f0", seed=len(kind.value), emit=oracle.feed)
        proxy.plan = plan_for(kind, seed=len(kind.value))
        for _ in range(BUDGET.fault_operations):
            work.step()
        proxy.plan = None
    # A request the store gave up on (read timeout) may still be on its way to moto:
    # a late write would land after the repair below.
    assert proxy.settle(), "requests still in flight after a minute"
    injected = proxy.injected[kind]
    assert injected > 0, "the plan injected nothing: the test would prove nothing"
    repaired = check_store(direct, oracle, lanes, S3_LEFTOVERS)
    record(
        f"faults/s3/{kind.value}",
        {
            "injected": injected,
            "operations checked": oracle.checked,
            "acknowledged": oracle.tally.acks,
            "failed with BackendError": oracle.tally.failed,
            "repairs": sum(repaired.values()),
            "losses": 0,
            **{f"repair: {name}": count for name, count in repaired.items()},
        },
    )

"""``ConcurrencyTests``: racing writers lose nothing and double nothing.

Writers start together (a barrier) and meet at each record: appends keep one order,
each writer's own in sequence; a compare-and-set claim has exactly one winner; racing
changes of different fields of threads, messages, runs and steps all survive. Each race
runs through one store object, through one per worker (``SHARED``) and across
processes (``MULTI_PROCESS``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from threadstore.errors import ConflictError
from threadstore.models import Message, Run, RunStatus, RunStepStatus, Thread
from threadstore.protocol import Capability, ThreadStore
from threadstore.testing import workers
from threadstore.testing.fixtures import ConformanceFixtures, step_for, text_message

__all__ = ["ConcurrencyTests"]


class ConcurrencyTests(ConformanceFixtures):
    """Concurrency: races from threads, from store objects and from processes."""

    @staticmethod
    def assert_appends(texts: list[str], writers: int, each: int) -> None:
        """Every ``"<writer>:<i>"`` appended once, and each writer's own in its order."""
        assert sorted(texts) == sorted(f"{w}:{i}" for w in range(writers) for i in range(each))
        for worker in range(writers):
            mine = [t for t in texts if t.startswith(f"{worker}:")]
            assert mine == [f"{worker}:{i}" for i in range(each)]

    @staticmethod
    def claim_all(stores: Sequence[ThreadStore], thread_id: str, runs: list[str]) -> None:
        """Worker ``i`` tries to claim every run through ``stores[i]``; each run has one winner."""
        wins: list[tuple[str, int]] = []
        lock = threading.Lock()

        def claim(worker: int) -> None:
            for run_id in runs:
                try:
                    stores[worker].update_run_status(
                        thread_id, run_id, "in_progress", expected="queued"
                    )
                except ConflictError:
                    continue
                with lock:
                    wins.append((run_id, worker))

        run_threads(claim, len(stores))
        assert sorted(run_id for run_id, _ in wins) == sorted(runs)

    @staticmethod
    def touch_plan(store: ThreadStore, count: int) -> list[workers.Touch]:
        """``count`` threads, each with a message being written, a run and a step."""
        plan = []
        for _ in range(count):
            thread = store.create_thread()
            draft = store.append_message(
                thread.id, Message.assistant("", status="in_progress", run_id="run_1")
            )
            run = store.create_run(thread.id, Run(assistant_id="asst_1"))
            step = store.append_step(thread.id, run.id, step_for(draft.id))
            plan.append((thread.id, draft.id, run.id, step.id))
        return plan

    @staticmethod
    def assert_touched(store: ThreadStore, plan: list[workers.Touch]) -> None:
        """Every worker's change of :func:`workers.touch` survived on every record."""
        for thread_id, message_id, run_id, step_id in plan:
            thread = store.get_thread(thread_id)
            assert thread.metadata == {"by": "0"}
            resources = thread.model_dump(mode="json")["tool_resources"]
            assert resources["code_interpreter"] == workers.TOOL_RESOURCES["code_interpreter"]
            message = store.get_message(thread_id, message_id)
            assert (message.metadata, message.text, message.completed_at) == (
                {"by": "0"},
                "written",
                5,
            )
            run = store.get_run(thread_id, run_id)
            assert (run.status, run.metadata) == (RunStatus.IN_PROGRESS, {"by": "2"})
            assert run.usage is not None
            step = store.get_step(thread_id, run_id, step_id)
            assert (step.status, step.metadata) == (RunStepStatus.COMPLETED, {"by": "2"})
            assert step.usage is not None

    def test_concurrent_appends_from_threads(self, store: ThreadStore, thread: Thread) -> None:
        writers, each = 8, 25

        def write(worker: int) -> None:
            for i in range(each):
                store.append_message(thread.id, text_message(f"{worker}:{i}"))

        run_threads(write, writers)
        texts = [m.text for m in store.iter_messages(thread.id)]
        self.assert_appends(texts, writers, each)
        assert [m.text for m in store.iter_messages(thread.id, order="desc")] == texts[::-1]

    def test_concurrent_appends_from_many_store_objects(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], thread: Thread
    ) -> None:
        """Writers each with a store object of their own: one order, nothing lost or doubled."""
        self.require(store, Capability.SHARED)
        writers, each = 6, 15
        stores = [reopen() for _ in range(writers)]

        def write(worker: int) -> None:
            for i in range(each):
                stores[worker].append_message(thread.id, text_message(f"{worker}:{i}"))

        run_threads(write, writers)
        seen = [[m.text for m in other.iter_messages(thread.id)] for other in [store, *stores]]
        self.assert_appends(seen[0], writers, each)
        assert all(texts == seen[0] for texts in seen), "store objects disagree on the order"

    def test_concurrent_claims_have_one_winner(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
        self.claim_all([store] * 8, thread.id, runs)

    def test_concurrent_claims_from_many_store_objects(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], thread: Thread
    ) -> None:
        self.require(store, Capability.SHARED)
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
        self.claim_all([reopen() for _ in range(6)], thread.id, runs)

    def test_no_lost_updates_between_threads(self, store: ThreadStore, thread: Thread) -> None:
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(10)]
        usage = {"completion_tokens": 1, "prompt_tokens": 1, "total_tokens": 2}

        def touch(worker: int) -> None:
            for run_id in runs:
                if worker == 0:
                    store.update_run_status(thread.id, run_id, "in_progress")
                elif worker == 1:
                    store.update_run(thread.id, run_id, usage=usage)
                else:
                    store.update_run(thread.id, run_id, expires_at=worker)

        run_threads(touch, 4)
        for run_id in runs:
            run = store.get_run(thread.id, run_id)
            assert run.status is RunStatus.IN_PROGRESS
            assert run.usage is not None
            assert run.expires_at in (2, 3)

    @pytest.mark.parametrize("objects", ["one", "many"])
    def test_no_lost_updates_on_any_record(
        self, store: ThreadStore, reopen: Callable[[], ThreadStore], objects: str
    ) -> None:
        """Threads, messages, runs and steps: racing changes of different fields all survive,
        through one store object or (``SHARED``) one per worker."""
        if objects == "many":
            self.require(store, Capability.SHARED)
        plan = self.touch_plan(store, 8)
        stores = [store] * 3 if objects == "one" else [reopen() for _ in range(3)]
        rounds = threading.Barrier(3)

        def work(worker: int) -> None:
            try:
                workers.touch(stores[worker], worker, plan, rounds.wait)
            except BaseException:
                rounds.abort()  # release the others rather than leave them waiting
                raise

        run_threads(work, 3)
        self.assert_touched(store, plan)

    def test_concurrent_appends_from_processes(
        self, store: ThreadStore, store_url: str, thread: Thread
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        processes, each = 4, 20
        workers.run_processes(
            workers.append_messages, [(store_url, thread.id, p, each) for p in range(processes)]
        )
        texts = [m.text for m in store.iter_messages(thread.id)]
        self.assert_appends(texts, processes, each)

    def test_concurrent_claims_from_processes(
        self, store: ThreadStore, store_url: str, thread: Thread
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        results = workers.run_processes(
            workers.claim_run, [(store_url, thread.id, run.id, p) for p in range(4)]
        )
        assert sorted(results) == [False, False, False, True]
        winner = store.get_run(thread.id, run.id)
        assert winner.status is RunStatus.IN_PROGRESS

    def test_no_lost_updates_between_processes(
        self, store: ThreadStore, store_url: str, open_options: dict[str, Any]
    ) -> None:
        self.require(store, Capability.MULTI_PROCESS)
        plan = self.touch_plan(store, 6)
        workers.run_processes(
            workers.touch_at, [(store_url, open_options, w, plan) for w in range(3)]
        )
        self.assert_touched(store, plan)


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(i)`` on ``count`` threads released at once; re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(worker: int) -> None:
        barrier.wait()
        try:
            target(worker)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    if errors:
        raise errors[0]

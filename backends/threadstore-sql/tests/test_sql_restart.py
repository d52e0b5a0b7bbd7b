"""The PostgreSQL server crashes and comes back (``pg_ctl restart -m immediate``) in the
middle of a workload: every acknowledged operation is there exactly once afterwards, and
the same store object carries on without being reopened."""

from __future__ import annotations

import threading
import time

from threadstore_sql.testing import PostgresServer, wait_until_accepting

from threadstore import Message, Run, open_store
from threadstore.errors import ConflictError

LANES = 3
PER_LANE = 60


def test_a_server_crash_mid_workload_loses_and_doubles_nothing(
    pg_server: PostgresServer, pg_url: str
) -> None:
    with open_store(pg_url, retry_timeout=60) as store:
        threads = [store.create_thread().id for _ in range(LANES)]
        runs = [store.create_run(t, Run(assistant_id="asst_1")).id for t in threads]
        acked: dict[int, list[str]] = {lane: [] for lane in range(LANES)}
        claims: dict[int, list[str]] = {lane: [] for lane in range(LANES)}
        failures: list[BaseException] = []
        halfway = threading.Barrier(LANES + 1)

        def lane(number: int) -> None:
            try:
                for i in range(PER_LANE):
                    if i == PER_LANE // 3:
                        halfway.wait(30)
                    message = store.append_message(
                        threads[number], Message.user(f"{i}", id=f"msg_{number}_{i}")
                    )
                    acked[number].append(message.id)
                    if i % 10 == 0:
                        status = ("in_progress", "queued")[i // 10 % 2]
                        expected = ("queued", "in_progress")[i // 10 % 2]
                        try:
                            store.update_run_status(
                                threads[number], runs[number], status, expected=expected
                            )
                        except ConflictError:
                            continue
                        claims[number].append(status)
            except BaseException as error:
                failures.append(error)

        workers = [threading.Thread(target=lane, args=(n,)) for n in range(LANES)]
        for worker in workers:
            worker.start()
        halfway.wait(30)
        time.sleep(0.05)
        pg_server.restart("immediate")
        for worker in workers:
            worker.join(120)
        assert not failures, failures
        for number in range(LANES):
            stored = [m.id for m in store.iter_messages(threads[number])]
            assert stored == acked[number] == [f"msg_{number}_{i}" for i in range(PER_LANE)]
            assert claims[number] == [("in_progress", "queued")[k % 2] for k in range(6)]
            assert store.get_run(threads[number], runs[number]).status == claims[number][-1]
        wait_until_accepting(pg_server)
        fresh = store.append_message(threads[0], Message.user("after"))
        assert store.list_messages(threads[0], limit=1).data == [fresh]

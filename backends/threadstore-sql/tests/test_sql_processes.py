"""Many processes on one SQL store: 8 writers on one thread, claim races with one winner,
and clients SIGKILLed in the middle of their writes."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

from threadstore import Message, Run, open_store
from threadstore.testing import workers
from threadstore.testing.workers import run_processes, run_together

WRITERS = 8


def positions(url: str, kind: str) -> list[int]:
    """The sequence numbers of a kind's records, read from the table itself."""
    with open_store(url) as store:
        rows = store._engine.query(  # type: ignore[attr-defined]
            "SELECT seq FROM {records} WHERE kind = ? ORDER BY seq", [kind]
        )
    return [int(row[0]) for row in rows]


def test_eight_writers_on_one_thread_land_exactly_once_in_one_order(shared_url: str) -> None:
    each = 12
    with open_store(shared_url) as store:
        thread = store.create_thread()
        run_processes(
            workers.append_messages, [(shared_url, thread.id, w, each) for w in range(WRITERS)]
        )
        texts = [m.text for m in store.iter_messages(thread.id)]
    assert sorted(texts) == sorted(f"{w}:{i}" for w in range(WRITERS) for i in range(each))
    for writer in range(WRITERS):
        mine = [text for text in texts if text.startswith(f"{writer}:")]
        assert mine == [f"{writer}:{i}" for i in range(each)]
    assert positions(shared_url, "messages") == list(range(1, WRITERS * each + 1))


def test_a_claim_race_between_processes_has_one_winner(shared_url: str) -> None:
    with open_store(shared_url) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        won = run_together(
            workers.claim_run,
            [(shared_url, thread.id, run.id, w) for w in range(WRITERS)],
            context=multiprocessing.get_context("spawn"),
            wait=60,
        )
        assert sorted(won) == [False] * (WRITERS - 1) + [True]
        assert store.get_run(thread.id, run.id).status == "in_progress"


WRITER = """
import sys
from threadstore import Message, open_store
url, thread_id, name = sys.argv[1:4]
with open_store(url) as store:
    for i in range(10_000):
        message = store.append_message(thread_id, Message.user(name, id=f"msg_{name}_{i}"))
        print(message.id, flush=True)
"""


def test_clients_killed_mid_write_leave_every_acknowledged_append_once(shared_url: str) -> None:
    rng = random.Random(7)
    with open_store(shared_url) as store:
        thread = store.create_thread()
        acked: list[str] = []
        for round_number in range(3):
            children = [
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, shared_url, thread.id, f"r{round_number}w{w}"],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for w in range(3)
            ]
            for child in children:
                assert child.stdout is not None
                for _ in range(rng.randint(1, 15)):
                    acked.append(child.stdout.readline().strip())
            time.sleep(rng.uniform(0, 0.02))
            for child in children:
                os.kill(child.pid, signal.SIGKILL)
            for child in children:
                assert child.stdout is not None
                with child.stdout:
                    acked.extend(line.strip() for line in child.stdout if line.strip())
                child.wait(30)
        ids = [m.id for m in store.iter_messages(thread.id)]
        assert len(ids) == len(set(ids)), "a message was stored twice"
        assert set(acked) <= set(ids), "an acknowledged append was lost"
        for writer in {i.rsplit("_", 1)[0] for i in ids}:
            numbers = [int(i.rsplit("_", 1)[1]) for i in ids if i.startswith(writer + "_")]
            assert numbers == list(range(len(numbers))), f"{writer}'s appends out of order"
        after = store.append_message(thread.id, Message.user("still works"))
        assert store.list_messages(thread.id, limit=1).data == [after]
    assert positions(shared_url, "messages") == list(range(1, len(ids) + 2))

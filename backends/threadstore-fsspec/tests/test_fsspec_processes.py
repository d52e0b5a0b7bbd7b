"""Several processes share one S3 prefix (moto on loopback): exactly-once, gap-free, one winner."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

from s3_bucket import chunks_of
from threadstore_fsspec import CHUNK_RECORDS

from threadstore import Message, Run, open_store
from threadstore.errors import AlreadyExistsError
from threadstore.integrity import verify_store
from threadstore.testing import workers
from threadstore.testing.workers import run_processes

PROCESSES = 4


def append_same_id(url: str, thread_id: str, worker: int) -> bool:
    with open_store(url) as store:
        try:
            store.append_message(thread_id, Message.user(f"{worker}", id="msg_contested"))
        except AlreadyExistsError:
            return False
        return True


def live_ids(url: str, thread_id: str) -> list[str]:
    """The messages as the bucket holds them, read directly: every chunk but the last
    full, the live records in order."""
    _, chunks = chunks_of(url, "threads", thread_id, "messages")
    assert all(len(entries) >= CHUNK_RECORDS for entries in chunks[:-1])
    return [e["id"] for entries in chunks for e in entries if "record" in e]


def test_appends_from_processes_are_exactly_once_and_gap_free(s3_url: str) -> None:
    each = 15
    with open_store(s3_url) as store:
        thread = store.create_thread()
        run_processes(
            workers.append_messages, [(s3_url, thread.id, p, each) for p in range(PROCESSES)]
        )
        messages = list(store.iter_messages(thread.id))
    texts = [m.text for m in messages]
    assert sorted(texts) == sorted(f"{p}:{i}" for p in range(PROCESSES) for i in range(each))
    for worker in range(PROCESSES):
        assert [t for t in texts if t.startswith(f"{worker}:")] == [
            f"{worker}:{i}" for i in range(each)
        ]
    assert live_ids(s3_url, thread.id) == [m.id for m in messages]


def test_one_process_wins_a_contested_message_id(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        results = run_processes(append_same_id, [(s3_url, thread.id, p) for p in range(PROCESSES)])
        assert sorted(results) == [False] * (PROCESSES - 1) + [True]
        assert [m.id for m in store.iter_messages(thread.id)] == ["msg_contested"]
    assert live_ids(s3_url, thread.id) == ["msg_contested"]


def test_processes_racing_to_claim_runs_have_one_winner_each(s3_url: str) -> None:
    with open_store(s3_url) as store:
        thread = store.create_thread()
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
        won = run_processes(workers.claim_runs, [(s3_url, thread.id, runs)] * PROCESSES)
        assert sorted(run for mine in won for run in mine) == sorted(runs)
        assert {store.get_run(thread.id, run).status for run in runs} == {"in_progress"}


BATCH = 10
KILLED_WRITER = """
import sys
from threadstore import Message, open_store

url, thread_id, tag, size = sys.argv[1:]
with open_store(url) as store:
    for batch in range(1_000):
        texts = [f"{tag}.{batch}:{i}" for i in range(int(size))]
        store.append_messages(thread_id, [Message.user(text) for text in texts])
        print(batch, flush=True)
"""


def test_a_writer_killed_mid_batch_leaves_whole_batches(s3_url: str) -> None:
    """SIGKILL a process appending batches at random moments: every batch is stored whole
    and contiguous, or not at all, and every acknowledged one is there."""
    rng = random.Random(3)
    with open_store(s3_url) as store:
        thread = store.create_thread()
    acked: list[str] = []
    for round_number in range(3):
        tag = f"r{round_number}"
        with subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, s3_url, thread.id, tag, str(BATCH)],
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            for _ in range(rng.randint(1, 3)):
                acked.append(f"{tag}.{child.stdout.readline().strip()}")
            time.sleep(rng.uniform(0, 0.4))  # a batch takes about this long
            child.send_signal(signal.SIGKILL)
            acked += [f"{tag}.{line.strip()}" for line in child.stdout]
            child.wait(timeout=60)
    with open_store(s3_url) as store:
        report = verify_store(store, repair=True)
        assert {f.check for f in report.findings} <= {"dangling-claim", "tail-hint-behind"}
        texts = [m.text for m in store.iter_messages(thread.id)]
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    stored = []
    for batch in batches:
        tag = batch[0].split(":")[0]
        assert batch == [f"{tag}:{i}" for i in range(BATCH)], "a batch is torn or interleaved"
        stored.append(tag)
    assert len(set(stored)) == len(stored)
    assert set(acked) <= set(stored)

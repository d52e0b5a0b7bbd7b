"""The local-disk backend under real processes: concurrent writers, racing claims, no lost
updates, and writers killed with SIGKILL at random moments.

Children are forked from a forkserver that has threadstore imported already: a child
starts in milliseconds, which keeps a 25-kill loop fast.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from reliability.logfiles import records_end
from threadstore import Message, Run, RunStep, Thread
from threadstore.backends.local import LocalThreadStore
from threadstore.backends.local.files import ReadCounter
from threadstore.backends.local.log import scan
from threadstore.errors import BackendError, NotFoundError
from threadstore.testing import workers

CONTEXT = multiprocessing.get_context("forkserver")
# What children need, imported once in the server; this module itself may not be on
# the server's sys.path, but what it imports is.
CONTEXT.set_forkserver_preload(["pytest", "threadstore.backends.local"])
WAIT = 60  # seconds: a bound on every wait, never an expectation
GENERATION_SPAN = 1_000_000
"""Writes one crash-writer child can make: the next child's values start past them."""


def run_together(target: Callable[..., Any], arguments: list[tuple[Any, ...]]) -> list[Any]:
    return workers.run_together(target, arguments, context=CONTEXT, wait=WAIT)


def step_for(message_id: str) -> RunStep:
    return RunStep.model_validate(
        {
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            }
        }
    )


# --- workers (run in child processes) ------------------------------------------


def append_worker(root: str, thread_id: str, worker: int, count: int) -> list[str]:
    with LocalThreadStore(root) as store:
        return [
            store.append_message(thread_id, Message.user(f"{worker}:{i}")).id for i in range(count)
        ]


def read_worker(root: str, thread_id: str, rounds: int) -> list[list[str]]:
    """Snapshots of the whole thread, taken while writers write."""
    with LocalThreadStore(root) as store:
        return [[m.id for m in store.iter_messages(thread_id)] for _ in range(rounds)]


def touch_worker(
    root: str, thread_id: str, run_id: str, step_id: str, role: int, rounds: int
) -> int:
    """Each role rewrites its own fields of the same thread, run and step, ``rounds`` times."""
    with LocalThreadStore(root) as store:
        for n in range(1, rounds + 1):
            if role == 0:
                store.update_thread(thread_id, metadata={"n": str(n)})
                store.update_run(thread_id, run_id, metadata={"n": str(n)})
                store.update_step(thread_id, run_id, step_id, metadata={"n": str(n)})
            elif role == 1:
                files = {"code_interpreter": {"file_ids": [f"file_{n}"]}}
                store.update_thread(thread_id, tool_resources=files)
                store.update_run(thread_id, run_id, expires_at=n)
                store.update_step(thread_id, run_id, step_id, expired_at=n)
            elif role == 2:
                usage = {"completion_tokens": n, "prompt_tokens": 0, "total_tokens": n}
                store.update_run(thread_id, run_id, usage=usage)
                store.update_step(thread_id, run_id, step_id, usage=usage)
            else:
                moving = n % 2 == 1
                store.update_run_status(
                    thread_id, run_id, "in_progress" if moving else "requires_action"
                )
                store.update_step_status(
                    thread_id, run_id, step_id, "in_progress" if moving else "completed"
                )
    return rounds


def crash_writer(
    root: str, tag: str, thread_id: str, run_id: str, first: int, acks: Connection
) -> None:
    """Write until killed; report each acknowledged write on ``acks``.

    ``tag`` is unique per child, so the threads it makes are its own. The run's
    metadata counts on from ``first``, which is past every value an earlier child
    could have written, so a later child's write is always the larger number.
    """
    with LocalThreadStore(root) as store:
        for i in range(GENERATION_SPAN):
            if i % 5 == 3:
                store.update_run(thread_id, run_id, metadata={"n": str(first + i)})
                done = f"r {first + i}"
            elif i % 10 == 4:
                done = "t+ " + store.create_thread(Thread(id=f"thread_{tag}_{i}")).id
            elif i % 10 == 9:
                store.delete_thread(f"thread_{tag}_{i - 5}")
                done = f"t- thread_{tag}_{i - 5}"
            else:
                done = "m " + store.append_message(thread_id, Message.user(f"{tag}:{i}")).id
            acks.send_bytes(f"{i} {done}".encode())


def permission_probe(root: str, thread_id: str) -> list[str]:
    """As an unprivileged user: is "permission denied" told apart from "not found"?"""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)  # root ignores file modes; nobody does not
    store = LocalThreadStore(root)
    outcomes = []
    for thread_id_to_read in (thread_id, "thread_missing"):
        try:
            store.list_messages(thread_id_to_read)
            outcomes.append("found")
        except NotFoundError:
            outcomes.append("not found")
        except BackendError as exc:
            outcomes.append(f"backend error: {exc}")
    return outcomes


# --- tests ----------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / "store")


def append_or_read(root: str, thread_id: str, role: str, number: int) -> Any:
    if role == "write":
        return append_worker(root, thread_id, number, 60)
    return read_worker(root, thread_id, 20)


def test_appends_from_processes_are_exactly_once_in_one_order(root: str) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
    roles = [("write", w) for w in range(4)] + [("read", r) for r in range(2)]
    results = run_together(append_or_read, [(root, thread.id, *role) for role in roles])
    with LocalThreadStore(root) as store:
        final = [m.id for m in store.iter_messages(thread.id)]
        texts = [m.text for m in store.iter_messages(thread.id)]
    acked = [message_id for ids in results[:4] for message_id in ids]
    assert sorted(final) == sorted(acked)  # every acknowledged append, exactly once
    assert len(set(final)) == len(final) == 4 * 60
    for w in range(4):  # each writer's appends keep its order
        assert [t for t in texts if t.startswith(f"{w}:")] == [f"{w}:{i}" for i in range(60)]
    for snapshots in results[4:]:  # readers racing the writers see prefixes of one order
        assert all(snapshot == final[: len(snapshot)] for snapshot in snapshots)
    assert run_together(read_worker, [(root, thread.id, 1)] * 2) == [[final], [final]]


def test_claims_from_processes_have_one_winner(root: str) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(12)]
    won = run_together(
        workers.claim_runs, [(root, thread.id, runs[::step]) for step in (1, 1, -1, -1)]
    )
    winners = [run_id for mine in won for run_id in mine]
    assert sorted(winners) == sorted(runs)  # each run claimed exactly once
    with LocalThreadStore(root) as store:
        assert all(store.get_run(thread.id, r).status == "in_progress" for r in runs)


def test_no_update_is_lost_between_processes(root: str) -> None:
    rounds = 25
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        step = store.append_step(thread.id, run.id, step_for("msg_1"))
    done = run_together(
        touch_worker, [(root, thread.id, run.id, step.id, role, rounds) for role in range(4)]
    )
    assert done == [rounds] * 4
    with LocalThreadStore(root) as store:
        thread = store.get_thread(thread.id)
        run = store.get_run(thread.id, run.id)
        step = store.get_step(thread.id, run.id, step.id)
    assert thread.metadata == {"n": str(rounds)}
    assert thread.tool_resources is not None
    assert thread.tool_resources.model_dump(exclude_none=True) == {
        "code_interpreter": {"file_ids": [f"file_{rounds}"]}
    }
    assert (run.metadata, run.expires_at) == ({"n": str(rounds)}, rounds)
    assert run.usage is not None
    assert run.usage.total_tokens == rounds
    assert (step.metadata, step.expired_at) == ({"n": str(rounds)}, rounds)
    assert step.usage is not None
    assert step.usage.total_tokens == rounds
    assert (run.status, step.status) == ("in_progress", "in_progress")  # rounds is odd


def test_permission_denied_is_a_backend_error() -> None:
    """EACCES must not read as "not found" (the seed reported every I/O error so)."""
    with tempfile.TemporaryDirectory() as name:  # in the system's temp dir: reachable
        root = Path(name) / "store"
        with LocalThreadStore(root) as store:
            thread = store.create_thread()
            store.append_message(thread.id, Message.user("x"))
        (log,) = root.glob(f"lists/threads/*/{thread.id}.*.jsonl")
        log.chmod(0o400)  # readable, not writable: opening it for its lock is refused
        if os.geteuid() == 0:  # root ignores modes: the probe drops to nobody, who must
            os.chmod(name, 0o755)  # noqa: S103 - reach the store
            for shared in ("catalog.jsonl", "catalog.idx"):
                os.chmod(root / shared, 0o606)  # noqa: S103 - and use its catalog
        found, missing = run_together(permission_probe, [(str(root), thread.id)])[0]
    assert found.startswith(f"backend error: cannot open {log}")
    assert "Permission denied" in found
    assert missing == "not found"


def test_writers_killed_at_random_moments_lose_nothing_acknowledged(root: str) -> None:
    """Two writers per generation, each SIGKILLed after a random number of acks; after
    every generation the store must hold every acknowledged write, once, in order.

    A write in flight when its writer dies may land or not. For the run's metadata that
    means the stored ``n`` may be a later, unacknowledged value, never an earlier one:
    so every child writes numbers above any earlier child's (``first``), and the check
    is that the stored ``n`` is at least the last acknowledged one. (Were each child to
    count from 0, a later child's unacknowledged small ``n`` would pass for a lost
    update: the test failed so, at random, on loaded machines.)
    """
    rng = random.Random(20240611)
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        runs = {tag: store.create_run(thread.id, Run(assistant_id="asst_1")).id for tag in "ab"}
    acked: dict[str, list[str]] = {"a": [], "b": []}
    last_run_update = {"a": -1, "b": -1}
    threads_made: set[str] = set()
    threads_gone: set[str] = set()
    maybe_gone: set[str] = set()  # deletes a kill interrupted: done or not, unacknowledged
    observer = LocalThreadStore(root)  # one long-lived reader watches the crashes happen
    for generation in range(15):  # two kills each
        children = []
        for tag in "ab":
            receive, send = CONTEXT.Pipe(duplex=False)
            child = CONTEXT.Process(
                target=crash_writer,
                args=(
                    root,
                    f"{tag}{generation}",
                    thread.id,
                    runs[tag],
                    generation * GENERATION_SPAN,
                    send,
                ),
            )
            child.start()
            send.close()
            children.append((tag, child, receive))
        for tag, child, receive in children:
            lines = receive_acks(receive, rng.randint(1, 30))
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
            child.join(WAIT)
            lines += receive_acks(receive, None)  # sent before the kill: they count too
            receive.close()
            last = -1
            for line in lines:
                number, what, value = [*line.decode().split(" "), ""][:3]
                last = int(number)
                if what == "m":
                    acked[tag].append(value)
                elif what == "r":
                    last_run_update[tag] = int(value)
                elif what == "t+":
                    threads_made.add(value)
                else:
                    threads_gone.add(value)
            if (last + 1) % 10 == 9:
                maybe_gone.add(f"thread_{tag}{generation}_{last + 1 - 5}")
        check_crash_invariants(observer, thread.id, runs, acked, last_run_update)
    observer.close()
    with LocalThreadStore(root) as store:  # a fresh open clears what the dead left
        assert os.listdir(Path(root) / "tmp") == []
        check_crash_invariants(store, thread.id, runs, acked, last_run_update)
        assert threads_made - threads_gone - maybe_gone <= set(store.list_thread_ids())
        assert not threads_gone & set(store.list_thread_ids())
        store.append_message(thread.id, Message.user("after"))  # a writer repairs the tail
        for thread_id in store.list_thread_ids():
            store.update_thread(thread_id, metadata={"checked": "yes"})
    for log in [Path(root) / "catalog.jsonl", *Path(root).glob("lists/*/*/*.jsonl")]:
        fd = os.open(log, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            _, end, clean = scan(fd, 0, size, str(log), ReadCounter())
        finally:
            os.close(fd)
        data = log.read_bytes()
        assert end == records_end(data), f"{log} keeps bytes that are not whole records"
        assert clean, f"{log} keeps bytes after its records"
        assert not data[end:].strip(b"\n\0"), f"{log} keeps bytes after its records"


def receive_acks(receive: Connection, count: int | None) -> list[bytes]:
    """Up to ``count`` acknowledgements (all, until the writer is gone, if ``None``)."""
    lines: list[bytes] = []
    while (count is None or len(lines) < count) and receive.poll(WAIT):
        try:
            lines.append(receive.recv_bytes())
        except EOFError:
            break
    return lines


def check_crash_invariants(
    store: LocalThreadStore,
    thread_id: str,
    runs: dict[str, str],
    acked: dict[str, list[str]],
    last_run_update: dict[str, int],
) -> None:
    messages = list(store.iter_messages(thread_id))
    ids = [m.id for m in messages]
    assert len(ids) == len(set(ids)), "a message was stored twice"
    assert [m.id for m in store.iter_messages(thread_id, order="desc")] == ids[::-1]
    for tag in "ab":
        mine = [m.id for m in messages if m.text.startswith(tag)]
        present = set(mine)
        assert all(m in present for m in acked[tag]), "an acknowledged append was lost"
        assert [m for m in mine if m in set(acked[tag])] == acked[tag], "acks out of order"
        assert len(mine) - len(acked[tag]) <= 25, "more unacknowledged appends than kills"
        run = store.get_run(thread_id, runs[tag])
        assert int(run.metadata.get("n", "-1")) >= last_run_update[tag], "an update was lost"
    if ids:
        page = store.list_messages(thread_id, limit=7, after=ids[len(ids) // 2], order="asc")
        assert [m.id for m in page.data] == ids[len(ids) // 2 + 1 :][:7]

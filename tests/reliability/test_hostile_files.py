"""Malformed files planted in a local store: random bytes in a log, a log cut short, a
broken index, a directory where a file should be, a link leading out of the store, a
truncated marker. Every call then gets a threadstore error or a right answer, never a
bare ``OSError``; nothing is written outside the root; the threads nobody touched read
back exactly as they were, and damage to derived data (the index) or a torn tail loses
no record: it is repaired on the way, or reported and put right by ``check_storage``.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadstore.backends.local import LocalThreadStore
from threadstore.errors import ThreadStoreError
from threadstore.integrity import verify_store
from threadstore.models import Message, Run, RunStep, Thread
from threadstore.snapshot import read_thread

from .budget import BUDGET
from .figures import record
from .hostile import nothing_written_outside

THREADS = ("thread_victim", "thread_bystander_1", "thread_bystander_2")
GLOBAL = frozenset(
    {"marker truncated", "marker garbage", "lists is a file", "catalog garbage", "catalog missing"}
)
"""Damage to the store as a whole: opening may fail (clearly), and then nothing reads."""
DERIVED = frozenset(
    {"index garbage", "index truncated", "log torn tail", "stray files", "catalog index garbage"}
)
"""Damage that loses no record: a derived index is rebuilt, a torn tail is cut."""


def build(root: Path) -> dict[str, dict[str, Any]]:
    """A store with three threads holding messages, runs and steps; their wire JSON."""
    with LocalThreadStore(root, durable=False) as store:
        for thread_id in THREADS:
            store.create_thread(Thread(id=thread_id, metadata={"k": "v"}))
            messages = [store.append_message(thread_id, Message.user(f"m{i}")) for i in range(4)]
            run = store.create_run(thread_id, Run(assistant_id="asst_1"))
            store.update_run_status(thread_id, run.id, "in_progress", expected="queued")
            step = RunStep.model_validate(
                {
                    "step_details": {
                        "type": "message_creation",
                        "message_creation": {"message_id": messages[-1].id},
                    }
                }
            )
            store.append_step(thread_id, run.id, step)
            store.update_message(thread_id, messages[0].id, metadata={"seen": "yes"})
        return {thread_id: read_thread(store, thread_id).to_json() for thread_id in THREADS}


def _replace_with_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as file:
        file.write(data)


def _overwrite(path: Path, data: bytes, where: float) -> None:
    with open(path, "r+b") as file:
        size = path.stat().st_size
        file.seek(min(int(size * where), max(0, size - len(data))))
        file.write(data)


def _truncate(path: Path, where: float) -> None:
    os.truncate(path, int(path.stat().st_size * where))


def _move_out(path: Path, outside: Path) -> None:
    """Move ``path`` out of the store and leave a link to it in its place."""
    shutil.move(path, outside)
    path.symlink_to(outside, target_is_directory=outside.is_dir())


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _file_for_dir(path: Path, data: bytes) -> None:
    shutil.rmtree(path)
    path.write_bytes(data)


def _strays(root: Path, log: Path, data: bytes) -> None:
    for stray in (
        root / "lists" / "threads" / "not-a-thread.txt",
        log.parent / "thread_stray.txt",
        log.parent / "thread_stray.7.jsonl",
        root / "tmp" / "stray",
        root / "notes.md",
    ):
        stray.write_bytes(data)


def victim_lists(root: Path) -> Path:
    (log,) = root.glob(f"lists/threads/*/{THREADS[0]}.*.jsonl")
    return log


def damage(root: Path, kind: str, data: bytes, where: float) -> None:
    """Plant ``kind`` of damage; ``data`` and ``where`` (0..1) pick the bytes and place."""
    log = victim_lists(root)
    index, marker = log.with_suffix(".idx"), root / "threadstore.json"
    catalog = root / "catalog.jsonl"
    actions: dict[str, Callable[[], None]] = {
        "log torn tail": lambda: _append(log, data.replace(b"\n", b"")),
        "log random tail": lambda: _append(log, data + b"\n"),
        "log overwritten": lambda: _overwrite(log, data, where),
        "log truncated": lambda: _truncate(log, where),
        "log garbage": lambda: _overwrite(log, data * 1000, 0),
        "log empty": lambda: _truncate(log, 0),
        "log is a directory": lambda: _replace_with_dir(log),
        "log is a fifo": lambda: _fifo(log),
        "log missing": log.unlink,
        "index garbage": lambda: _overwrite(index, data * 100, where),
        "index truncated": lambda: _truncate(index, where),
        "index is a directory": lambda: _replace_with_dir(index),
        "catalog index garbage": lambda: _overwrite(root / "catalog.idx", data * 100, where),
        "catalog garbage": lambda: _overwrite(catalog, data * 100, 0),
        "catalog missing": catalog.unlink,
        "shard links outside": lambda: _move_out(log.parent, root.parent / "elsewhere"),
        "log links outside": lambda: _move_out(log, root.parent / "elsewhere.jsonl"),
        "stray files": lambda: _strays(root, log, data),
        "marker truncated": lambda: _truncate(marker, where),
        "marker garbage": lambda: _overwrite(marker, data * 10, 0),
        "lists is a file": lambda: _file_for_dir(root / "lists", data),
    }
    actions[kind]()


KINDS = sorted(
    [
        "log torn tail",
        "log random tail",
        "log overwritten",
        "log truncated",
        "log garbage",
        "log empty",
        "log is a directory",
        "log is a fifo",
        "log missing",
        "index garbage",
        "index truncated",
        "index is a directory",
        "shard links outside",
        "log links outside",
        "stray files",
        "catalog index garbage",
        *GLOBAL,
    ]
)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``(error class name, None)`` for a threadstore error; any
    other exception fails the test."""
    try:
        return "ok", call()
    except ThreadStoreError as error:
        return type(error).__name__, None


def test_malformed_files_give_threadstore_errors_and_spare_other_threads(tmp_path: Path) -> None:
    numbers = count()
    seen: Counter[str] = Counter()

    @settings(
        max_examples=BUDGET.hypothesis_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        kind=st.sampled_from(KINDS),
        data=st.binary(min_size=1, max_size=300),
        where=st.floats(0, 1),
    )
    def planted(kind: str, data: bytes, where: float) -> None:
        top = tmp_path / str(next(numbers))
        root = top / "store"
        before = build(root)
        damage(root, kind, data, where)
        with nothing_written_outside(top, root):
            answers = exercise(root, kind, before)
        seen[f"damage: {kind}"] += 1
        for answer in answers:
            seen[f"answer: {answer}"] += 1

    planted()
    tried = sum(count for name, count in seen.items() if name.startswith("damage: "))
    record("hostile/files", {"inputs tried": tried, **seen})


def exercise(root: Path, kind: str, before: dict[str, dict[str, Any]]) -> list[str]:
    """Open the damaged store and use it; return the answers it gave."""
    opened, store = outcome(lambda: LocalThreadStore(root))
    if store is None:
        assert kind in GLOBAL, f"{kind}: opening failed with {opened}"
        return [opened]
    answers = [opened]
    with store:
        victim = THREADS[0]
        for bystander in THREADS[1:]:
            if kind not in GLOBAL:
                assert read_thread(store, bystander).to_json() == before[bystander]
        read, _ = outcome(lambda: read_thread(store, victim).to_json())
        if kind in DERIVED:
            # Whatever the read said (see test_every_damaged_index_slot_...), a repair
            # rebuilds the index from the log and cuts a torn tail: nothing is lost.
            store.check_storage(repair=True)
            assert read_thread(store, victim).to_json() == before[victim], f"{kind}: lost"
        answers += [
            read,
            outcome(lambda: store.append_message(victim, Message.user("after")))[0],
            outcome(lambda: store.update_thread(victim, metadata={"k": "w"}))[0],
            outcome(store.list_thread_ids)[0],
            outcome(lambda: store.list_threads(limit=100))[0],
            outcome(lambda: store.check_storage(repair=False))[0],
            outcome(lambda: verify_store(store))[0],
            outcome(lambda: verify_store(store, repair=True))[0],
            outcome(lambda: store.create_thread(Thread(id="thread_new")))[0],
        ]
        if kind not in GLOBAL:
            for bystander in THREADS[1:]:
                assert read_thread(store, bystander).to_json() == before[bystander]
    return answers


def test_every_damaged_index_slot_is_reported_or_harmless(tmp_path: Path) -> None:
    """Zero each 32-byte stretch of a thread's index in turn: every read must then be
    right or a CorruptDataError, never a silently shorter answer."""
    pristine = tmp_path / "pristine"
    before = build(pristine)[THREADS[0]]
    relative = victim_lists(pristine).with_suffix(".idx").relative_to(pristine)
    silent = []
    for offset in range(0, (pristine / relative).stat().st_size, 32):
        root = tmp_path / f"at-{offset}"
        shutil.copytree(pristine, root)
        with open(root / relative, "r+b") as file:
            file.seek(offset)
            file.write(bytes(32))
        with LocalThreadStore(root) as store:
            read, snapshot = outcome(lambda: read_thread(store, THREADS[0]).to_json())
        if read == "ok" and snapshot != before:
            silent.append(offset)
        shutil.rmtree(root)
    assert not silent, f"reads were silently wrong with index bytes zeroed at {silent}"

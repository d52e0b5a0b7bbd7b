"""Damage to the local engine's indexes: every read then gives the right answer or a clear
error (``CorruptDataError``, ``BackendError``), never a wrong one, short lists and "not
found" for a record that exists included; a write after the damage lands; and
``check_storage(repair=True)`` leaves a clean store holding everything.

The damage, to each index file of a store (the catalog's and each list's): bits flipped,
256-byte blocks zeroed, the file cut short, an older copy of the file put back, and the
same read through a store object that read everything before the damage (its remembered
probes) as well as through a fresh one.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from threadstore.backends.local import LocalThreadStore
from threadstore.errors import BackendError
from threadstore.integrity import verify_store
from threadstore.models import Message, Page, Run, RunStep, Thread
from threadstore.protocol import ThreadStore

from .budget import BUDGET
from .figures import record

BLOCK = 256
HEADER = 512
Damage = Callable[[Path, random.Random], str]


def build(root: Path) -> dict[Path, bytes]:
    """A store whose list indexes have grown (a move under way in one), with updates and
    deletes of every kind; returns each index file's bytes from a moment halfway through."""
    older: dict[Path, bytes] = {}
    with LocalThreadStore(root) as store:
        store.create_thread(Thread(id="thread_gone"))
        long = store.create_thread(Thread(id="thread_long", metadata={"k": "v"}))
        short = store.create_thread(Thread(id="thread_short"))
        store.append_message(short.id, Message.user("only"))
        messages = [store.append_message(long.id, Message.user(f"m{i}")).id for i in range(70)]
        older = {path: path.read_bytes() for path in root.rglob("*.idx")}
        messages += [
            m.id for m in store.append_messages(long.id, [Message.user("b1"), Message.user("b2")])
        ]
        for message_id in messages[1:40:5]:
            store.update_message(long.id, message_id, metadata={"seen": "1"})
        for message_id in messages[5:60:7]:
            store.delete_message(long.id, message_id)
        for _ in range(3):
            run = store.create_run(long.id, Run(assistant_id="asst_1"))
            for _ in range(4):
                step = RunStep.model_validate(
                    {"step_details": {"type": "tool_calls", "tool_calls": []}}
                )
                store.append_step(long.id, run.id, step)
            store.update_run_status(long.id, run.id, "in_progress")
        store.delete_thread("thread_gone")
        store.create_thread(Thread(id="thread_gone", metadata={"again": "yes"}))
        store.update_thread(short.id, metadata={"x": "y"})
        for i in range(40):
            store.append_message(long.id, Message.user(f"late{i}"))
    return older


def read_all(store: ThreadStore) -> dict[str, Any]:
    """Everything the store holds, read every way a caller can: lists both ways in small
    pages, and each record by ID."""
    found: dict[str, Any] = {"threads": [t.id for t in store.list_threads(order="asc").data]}
    for thread_id in found["threads"]:
        found[thread_id] = store.get_thread(thread_id).model_dump()
        messages = [m.model_dump() for m in store.iter_messages(thread_id)]
        found[f"{thread_id}/messages"] = messages
        found[f"{thread_id}/desc"] = _pages(
            partial(store.list_messages, thread_id, limit=9, order="desc")
        )
        found[f"{thread_id}/got"] = [
            store.get_message(thread_id, m["id"]).model_dump() for m in messages
        ]
        runs = _pages(partial(store.list_runs, thread_id, limit=2))
        found[f"{thread_id}/runs"] = runs
        for run in runs:
            found[f"{run['id']}/got"] = store.get_run(thread_id, run["id"]).model_dump()
            found[f"{run['id']}/steps"] = _pages(
                partial(store.list_steps, thread_id, run["id"], limit=3)
            )
    return found


class _Lister(Protocol):
    """A list method with every argument given but the cursor."""

    def __call__(self, *, after: str | None) -> Page[Any]: ...


def _pages(page: _Lister) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        got = page(after=after)
        items += [item.model_dump() for item in got.data]
        if not got.has_more:
            return items
        after = got.data[-1].id


# --- the damage --------------------------------------------------------------------------


def flip_bits(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    if not data:
        return "nothing to flip"
    at = rng.randrange(len(data))
    for _ in range(rng.choice((1, 1, 2, 3))):
        data[at] ^= 1 << rng.randrange(8)
        at = min(len(data) - 1, at + rng.randrange(4))
    path.write_bytes(bytes(data))
    return "bits flipped"


def zero_block(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    blocks = (len(data) - HEADER) // BLOCK
    if blocks <= 0:
        return "nothing to zero"
    start = HEADER + rng.randrange(blocks) * BLOCK
    data[start : start + BLOCK] = bytes(BLOCK)
    path.write_bytes(bytes(data))
    return "block zeroed"


def zero_header(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    data[:HEADER] = bytes(min(HEADER, len(data)))
    path.write_bytes(bytes(data))
    return "header zeroed"


def truncate(path: Path, rng: random.Random) -> str:
    size = path.stat().st_size
    cut = rng.choice((0, rng.randrange(HEADER), HEADER, rng.randrange(max(1, size))))
    cut = min(cut, size - 1) if size else 0
    with open(path, "r+b") as file:
        file.truncate(cut)
    return "cut short"


DAMAGE: list[Damage] = [flip_bits, flip_bits, zero_block, zero_block, truncate, zero_header]


def _classify(read: Callable[[], dict[str, Any]], truth: dict[str, Any]) -> str:
    try:
        got = read()
    except BackendError:  # CorruptDataError among them; "not found" is not one
        return "clear error"
    except Exception as exc:  # "not found" for what exists is a wrong answer
        return f"wrong: {type(exc).__name__}: {exc}"
    if got == truth:
        return "right"
    differ = sorted(k for k in set(got) | set(truth) if got.get(k) != truth.get(k))
    return f"wrong: {differ[:3]} differ"


def test_every_damaged_index_gives_right_answers_or_clear_errors(tmp_path: Path) -> None:
    template = tmp_path / "template"
    older = build(template)
    with LocalThreadStore(template) as store:
        truth = read_all(store)
    indexes = sorted(p.relative_to(template) for p in template.rglob("*.idx"))
    rng = random.Random(5)
    outcomes: Counter[str] = Counter()
    wrong: list[str] = []
    for case in range(BUDGET.index_damages):
        root = tmp_path / f"case{case}"
        shutil.copytree(template, root)
        target = root / rng.choice(indexes)
        warm = LocalThreadStore(root) if case % 2 else None
        if warm is not None:
            read_all(warm)  # remembers probes, then the file changes under it
        if case % 7 == 6 and template / target.relative_to(root) in older:
            target.write_bytes(older[template / target.relative_to(root)])
            what = "older copy"
        else:
            what = rng.choice(DAMAGE)(target, rng)
        fresh = LocalThreadStore(root)
        for reader, name in ((fresh, "fresh"), (warm, "warm")):
            if reader is None:
                continue
            outcome = _classify(partial(read_all, reader), truth)
            outcomes[f"{what}, {name}: {outcome.split(':')[0]}"] += 1
            if outcome.startswith("wrong"):
                wrong.append(f"{what} in {target.name} ({name} object): {outcome}")
        _write_then_repair(fresh, truth, wrong, f"{what} in {target.name}")
        fresh.close()
        if warm is not None:
            warm.close()
        shutil.rmtree(root)
    assert not wrong, "\n".join(wrong[:20])
    record(
        "index/local",
        {
            "damages": BUDGET.index_damages,
            "right answers": sum(v for k, v in outcomes.items() if k.endswith("right")),
            "clear errors": sum(v for k, v in outcomes.items() if k.endswith("clear error")),
            "silent wrong answers": 0,
            **{f"outcome: {k}": v for k, v in outcomes.items()},
        },
    )


def _write_then_repair(
    store: LocalThreadStore, truth: dict[str, Any], wrong: list[str], what: str
) -> None:
    """After the reads: an append lands or fails clearly; repair leaves a clean store
    that holds everything (and the append, if it was acknowledged)."""
    try:
        added = store.append_message("thread_short", Message.user("after")).model_dump()
    except BackendError:
        added = None
    fixed = verify_store(store, repair=True)
    if not fixed.ok or verify_store(store).findings:
        wrong.append(f"{what}: repair left {verify_store(store).findings}")
        return
    expected = dict(truth)
    if added is not None:
        expected["thread_short/messages"] = [*truth["thread_short/messages"], added]
    with LocalThreadStore(store.root) as again:
        got = read_all(again)
    for key in ("threads", "thread_long/messages", "thread_short/messages", "thread_gone"):
        if got.get(key) != expected.get(key):
            wrong.append(f"{what}: after the append and repair, {key} differs")

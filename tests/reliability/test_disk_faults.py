"""A full disk and a failing disk under the local engine: libfiu at every write and sync
point (:mod:`.diskfaults`), and a real tmpfs filled to the last byte.

libfiu comes from Debian's ``fiu-utils`` (``.ci/run`` installs it); the tmpfs is mounted
by the test, which needs root (CI and the development machines run as root). Without
either, the test fails and says why: a skipped test would hide a missing check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadstore.backends.local import LocalThreadStore
from threadstore.errors import BackendError, NotFoundError
from threadstore.integrity import verify_store
from threadstore.models import Message, Thread

from .budget import BUDGET
from .diskfaults import FAULTS
from .figures import record

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", list(FAULTS))
def test_every_write_and_sync_point_fails_cleanly(kind: str) -> None:
    fiu_run = shutil.which("fiu-run")
    if fiu_run is None:
        pytest.fail("fiu-run is missing: install Debian's fiu-utils (.ci/run does)")
    command = [fiu_run, "-x", "-f", "", sys.executable, "-m", "tests.reliability.diskfaults"]
    done = subprocess.run(
        [*command, kind, str(BUDGET.disk_fault_points)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cases"] > 0, "no fault was injected: the test would prove nothing"
    assert not result["problems"], "\n".join(result["problems"][:30])
    outcomes = result["outcomes"]
    record(
        f"disk/local/{kind}",
        {
            "faults injected": result["cases"],
            "operations checked": result["cases"],
            "ok": outcomes.get("ok", 0),
            "not stored": outcomes.get("not stored", 0),
            "outcome unknown": outcomes.get("unknown", 0),
            "losses": 0,
        },
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=4k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here ({done.stderr.strip()}): this test needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_disk_loses_nothing_acknowledged(small_disk: Path) -> None:
    """Write to a store on a small tmpfs until it is full and then some: every call
    succeeds or raises ``BackendError``; acknowledged records stay, refused ones never
    appear, and once space is freed the store repairs clean and takes writes again."""
    root = small_disk / "store"
    acked: dict[str, list[str]] = {}
    refused: set[str] = set()
    unknown: set[str] = set()
    answers: Counter[str] = Counter()
    with LocalThreadStore(root) as store:
        for number in range(BUDGET.full_disk_calls):
            if number % 25 == 0 or not acked:
                thread = Thread(metadata={"pad": "p" * 300})
                try:
                    store.create_thread(thread)
                except BackendError as exc:
                    answers["create: " + _said(exc)] += 1
                    continue
                acked[thread.id] = []
                answers["create: ok"] += 1
            thread_id = list(acked)[number % len(acked)]
            message = Message.user("x" * 700)
            try:
                store.append_message(thread_id, message)
            except BackendError as exc:
                said = _said(exc)
                answers["append: " + said] += 1
                (unknown if said == "unknown" else refused).add(message.id)
                continue
            acked[thread_id].append(message.id)
            answers["append: ok"] += 1
    assert answers["append: not stored"] + answers["append: unknown"] > 0, "the disk never filled"
    with LocalThreadStore(root) as store:  # full still: reads work
        _hold(store, acked, refused, unknown)
    filler = [p for p in small_disk.iterdir() if p.name != "store"]
    assert not filler
    for thread_id in list(acked)[: len(acked) // 2]:  # free space the way a user would
        with LocalThreadStore(root) as store:
            store.delete_thread(thread_id)
        del acked[thread_id]
    with LocalThreadStore(root) as store:
        fixed = verify_store(store, repair=True)
        assert fixed.ok, fixed.findings
        assert verify_store(store).findings == []
        _hold(store, acked, refused, unknown)
        thread_id = next(iter(acked))
        acked[thread_id].append(store.append_message(thread_id, Message.user("late")).id)
        _hold(store, acked, refused, unknown)
    record(
        "disk/local/tmpfs full",
        {
            "faults injected": answers["append: not stored"] + answers["append: unknown"],
            "operations checked": sum(answers.values()),
            "ok": answers["append: ok"] + answers["create: ok"],
            "not stored": answers["append: not stored"] + answers["create: not stored"],
            "outcome unknown": answers["append: unknown"] + answers["create: unknown"],
            "losses": 0,
        },
    )


def _said(exc: BackendError) -> str:
    return "unknown" if "unknown" in str(exc) else "not stored"


def _hold(
    store: LocalThreadStore, acked: dict[str, list[str]], refused: set[str], unknown: set[str]
) -> None:
    """Every acknowledged message there, in order; nothing refused; no thread missing."""
    for thread_id, messages in acked.items():
        try:
            stored = [m.id for m in store.iter_messages(thread_id)]
        except NotFoundError:
            pytest.fail(f"{thread_id} lost")
        assert [m for m in stored if m not in unknown] == messages, thread_id
        assert not refused.intersection(stored), f"{thread_id} holds a refused append"
    assert os.path.isdir(store.root)

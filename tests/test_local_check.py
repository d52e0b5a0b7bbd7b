"""The local backend's storage check: it finds what only the files show, and repairs safely."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from reliability.logfiles import write_at_end
from threadstore import Message, Thread, open_store
from threadstore.backends.local import LocalThreadStore
from threadstore.integrity import StorageCheck, verify_store


def make_store(root: Path) -> tuple[str, list[str]]:
    with open_store(root) as store:
        thread = store.create_thread()
        ids = [store.append_message(thread.id, Message.user(f"m{i}")).id for i in range(5)]
    return thread.id, ids


def lists_of(root: Path, thread_id: str) -> Path:
    (path,) = root.glob(f"lists/threads/*/{thread_id}.*.jsonl")
    return path


def check(root: Path, repair: bool = False) -> list[tuple[str, bool]]:
    store = LocalThreadStore(root)
    try:
        return [(f.check, f.repaired) for f in store.check_storage(repair)]
    finally:
        store.close()


def texts(root: Path, thread_id: str) -> list[str]:
    with open_store(root) as store:
        return [m.text for m in store.iter_messages(thread_id)]


def test_a_clean_store_has_no_findings(tmp_path: Path) -> None:
    make_store(tmp_path)
    store = LocalThreadStore(tmp_path)
    assert isinstance(store, StorageCheck)
    assert store.check_storage(repair=False) == []
    assert verify_store(store).findings == []
    store.close()


@pytest.mark.parametrize("where", ["lists", "catalog"])
def test_unfinished_write_is_found_and_cut_off(tmp_path: Path, where: str) -> None:
    thread_id, _ = make_store(tmp_path)
    log = lists_of(tmp_path, thread_id) if where == "lists" else tmp_path / "catalog.jsonl"
    write_at_end(log, b'{"seq":5,"kind":"message","op":"add","id":"msg_to')
    assert ("unfinished-write", False) in check(tmp_path)
    assert ("unfinished-write", True) in check(tmp_path, repair=True)
    assert check(tmp_path) == []
    assert texts(tmp_path, thread_id) == [f"m{i}" for i in range(5)]


def test_damaged_index_is_found_and_rebuilt(tmp_path: Path) -> None:
    thread_id, _ = make_store(tmp_path)
    index = lists_of(tmp_path, thread_id).with_suffix(".idx")
    data = bytearray(index.read_bytes())
    for offset in range(len(data) // 2, len(data)):
        data[offset] = 0xFF
    index.write_bytes(bytes(data))
    assert [name for name, _ in check(tmp_path)] == ["index"]
    assert check(tmp_path, repair=True) == [("index", True)]
    assert check(tmp_path) == []
    assert texts(tmp_path, thread_id) == [f"m{i}" for i in range(5)]


def test_damage_inside_the_log_is_reported_not_dropped(tmp_path: Path) -> None:
    thread_id, _ = make_store(tmp_path)
    log = lists_of(tmp_path, thread_id)
    lines = log.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"m1", b"mX")
    log.write_bytes(b"\n".join(lines))
    for repair in (False, True):
        assert check(tmp_path, repair=repair) == [("corrupt-log", False)]
    assert b"mX" in log.read_bytes()


def test_leftovers_and_foreign_entries(tmp_path: Path) -> None:
    make_store(tmp_path)
    store = LocalThreadStore(tmp_path)  # opening cleans up leftovers: plant them after
    os.mkdir(tmp_path / "tmp" / "deadbeef")
    (tmp_path / "lists" / "threads" / "notes.txt").write_text("hello")
    found = sorted((f.check, f.repaired) for f in store.check_storage(repair=False))
    assert found == [("foreign-entry", False), ("temp-file", False)]
    fixed = sorted((f.check, f.repaired) for f in store.check_storage(repair=True))
    assert fixed == [("foreign-entry", False), ("temp-file", True)]
    store.close()
    assert check(tmp_path) == [("foreign-entry", False)]
    assert (tmp_path / "lists" / "threads" / "notes.txt").read_text() == "hello"


def test_the_lists_of_a_deleted_record_are_removed(tmp_path: Path) -> None:
    """A deleter died after the catalog's tombstone, before it removed the list files."""
    thread_id, _ = make_store(tmp_path)
    log = lists_of(tmp_path, thread_id)
    kept = log.read_bytes()
    with open_store(tmp_path) as store:
        store.delete_thread(thread_id)
    log.write_bytes(kept)
    assert check(tmp_path) == [("leftover", False)]
    assert check(tmp_path, repair=True) == [("leftover", True)]
    assert not log.exists()
    assert check(tmp_path) == []


def test_one_repair_removes_both_files_of_a_deleted_record(tmp_path: Path) -> None:
    """A deleter died after the catalog's tombstone, leaving the log and its index: one
    repair removes both, so the store is clean after it."""
    thread_id, _ = make_store(tmp_path)
    log = lists_of(tmp_path, thread_id)
    index = log.with_suffix(".idx")
    kept = log.read_bytes(), index.read_bytes()
    with open_store(tmp_path) as store:
        store.delete_thread(thread_id)
    log.write_bytes(kept[0])
    index.write_bytes(kept[1])
    assert check(tmp_path, repair=True) == [("leftover", True)]
    assert not log.exists()
    assert not index.exists()
    assert check(tmp_path) == []


class _Died(BaseException):
    """The deleter's process ends here."""


def _die(*_: object) -> None:
    raise _Died


def half_delete(root: Path, thread_id: str) -> None:
    """Delete a thread in a deleter that dies after marking its lists gone, before the
    catalog's tombstone."""
    store = LocalThreadStore(root)
    try:
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(LocalThreadStore, "_finish_delete", _die)
            with pytest.raises(_Died):
                store.delete_thread(thread_id)
    finally:
        store.close()


@pytest.mark.parametrize("messages", [0, 5])
def test_a_delete_a_dead_process_started_is_finished(tmp_path: Path, messages: int) -> None:
    with open_store(tmp_path) as store:  # a thread with no list file yet, or with one
        thread = store.create_thread()
        for n in range(messages):
            store.append_message(thread.id, Message.user(f"m{n}"))
    half_delete(tmp_path, thread.id)
    assert check(tmp_path) == [("unfinished-delete", False)]
    assert check(tmp_path, repair=True) == [("unfinished-delete", True)]
    assert check(tmp_path) == []
    with open_store(tmp_path) as store:
        assert store.list_thread_ids() == []
        store.create_thread(Thread(id=thread.id))  # the ID is free again


def test_verify_skips_a_thread_whose_half_done_delete_a_read_finishes(tmp_path: Path) -> None:
    thread_id, _ = make_store(tmp_path)
    half_delete(tmp_path, thread_id)
    with LocalThreadStore(tmp_path) as store:  # listed, then gone once its lists are read
        report = verify_store(store)
        assert [f.check for f in report.findings] == ["unfinished-delete"]
        assert verify_store(store, repair=True).ok
        assert verify_store(store).findings == []
        assert store.list_thread_ids() == []


@pytest.mark.parametrize("repair", [False, True])
def test_check_writes_nothing_without_repair(tmp_path: Path, repair: bool) -> None:
    thread_id, _ = make_store(tmp_path)
    log = lists_of(tmp_path, thread_id)
    write_at_end(log, b"torn")
    before = log.read_bytes()
    check(tmp_path, repair=repair)
    assert (log.read_bytes() == before) is not repair


def test_a_store_that_skips_fsync_does_not_promise_durability(tmp_path: Path) -> None:
    from threadstore import Capability
    from threadstore.errors import CapabilityError

    fast = open_store(tmp_path, durable=False)
    assert Capability.DURABLE not in fast.capabilities
    assert Capability.PERSISTENT in fast.capabilities
    fast.close()
    with pytest.raises(CapabilityError, match="durable"):
        open_store(tmp_path, durable=False, require={"durable"})
    with open_store(tmp_path, require={"durable"}) as durable:
        assert Capability.DURABLE in durable.capabilities


def test_a_repair_running_beside_writers_removes_nothing_of_theirs(tmp_path: Path) -> None:
    """Records created while a repair walks the store are not taken for deleted ones."""
    make_store(tmp_path)
    stop = threading.Event()
    errors: list[BaseException] = []

    def repair() -> None:
        with LocalThreadStore(tmp_path) as store:
            while not stop.is_set():
                try:
                    store.check_storage(repair=True)
                except Exception as exc:  # the test fails on it below
                    errors.append(exc)

    repairer = threading.Thread(target=repair)
    repairer.start()
    try:
        with LocalThreadStore(tmp_path, durable=False) as store:
            written = {}
            for i in range(150):
                thread = store.create_thread()
                written[thread.id] = store.append_message(thread.id, Message.user(f"{i}")).id
                if i % 3 == 0:
                    store.delete_thread(thread.id)
                    del written[thread.id]
    finally:
        stop.set()
        repairer.join(60)
    assert errors == []
    with LocalThreadStore(tmp_path) as store:
        for thread_id, message_id in written.items():
            assert [m.id for m in store.iter_messages(thread_id)] == [message_id]

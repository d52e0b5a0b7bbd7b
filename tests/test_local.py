"""The local-disk backend: the conformance suite, then what only a disk store must show.

On-disk format, recovery from torn writes and lost indexes, corruption reported with
its path, I/O errors kept apart from "not found", hostile IDs kept off the disk, every
write decision checked against the log (never the index alone), and reads whose cost
does not grow with the thread or the store (counted, not timed).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import resource
import signal
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reliability.logfiles import lines_of, records_of, write_at_end
from threadstore import Message, Run, RunStep, Thread, open_store
from threadstore.backends.local import FORMAT, FORMAT_VERSION, LocalThreadStore
from threadstore.backends.local import entries as local_entries
from threadstore.backends.local import files as local_files
from threadstore.backends.local import index as local_index
from threadstore.backends.local import journal as local_journal
from threadstore.backends.local import store as local_store
from threadstore.backends.local.files import (
    PUNCHES_HOLES,
    ReadCounter,
    shared_lock,
    start_writeback,
)
from threadstore.backends.local.layout import Incarnation
from threadstore.backends.local.log import make_line, scan
from threadstore.backends.local.store import OPEN_LISTS
from threadstore.errors import (
    AlreadyExistsError,
    BackendError,
    ConflictError,
    CorruptDataError,
    InvalidRequestError,
    MessageNotFound,
    NotFoundError,
    RunNotFound,
    ThreadNotFound,
)
from threadstore.records import MESSAGES, RECORD_FORMAT, RUNS, STEPS, THREADS, Kind, encode
from threadstore.testing import ThreadStoreConformance

if TYPE_CHECKING:
    from _typeshed import HasFileno


class TestLocalConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path / 'store'}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> Iterator[LocalThreadStore]:
    with LocalThreadStore(root) as opened:
        yield opened


def lists_of(root: Path, thread_id: str) -> Path:
    """The list file of the thread's live incarnation (the newest one on disk)."""
    found = sorted(
        (root / "lists" / "threads").glob(f"*/{thread_id}.*.jsonl"),
        key=lambda path: int(path.name.split(".")[1]),
    )
    assert found, f"no list file for {thread_id}"
    return found[-1]


def index_of(log: Path) -> Path:
    return log.with_suffix(".idx")


def step_for(message_id: str) -> RunStep:
    return RunStep.model_validate(
        {
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            }
        }
    )


def message_line(thread_id: str, seq: int, text: str, *, more: bool = False) -> tuple[str, bytes]:
    """A message and its log line, written around the store."""
    message = Message.user(text, thread_id=thread_id)
    data = encode(message)
    return message.id, make_line(
        "add", MESSAGES, (), message.id, seq, data, version=RECORD_FORMAT, more=more
    )


# --- opening -----------------------------------------------------------------


def test_plain_paths_and_file_urls_open_the_same_store(root: Path) -> None:
    with open_store(str(root)) as first:
        thread = first.create_thread()
    with open_store(f"file://{root}") as second:
        assert second.get_thread(thread.id) == thread
    with open_store(f"file://localhost{root}?durable=false") as third:
        assert isinstance(third, LocalThreadStore)
        assert third.durable is False
        assert third.get_thread(thread.id) == thread


def test_options_are_validated(root: Path) -> None:
    with open_store(f"file://{root}?durable=true", durable=False) as store:
        assert isinstance(store, LocalThreadStore)
        assert store.durable is False  # keywords win over the query string
    with pytest.raises(InvalidRequestError, match="fsync"):
        open_store(f"file://{root}?fsync=0")
    with pytest.raises(InvalidRequestError, match="durable"):
        open_store(str(root), durable="maybe")
    with pytest.raises(InvalidRequestError, match="host"):
        open_store("file://elsewhere/data")


def test_a_foreign_directory_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BackendError, match="not a threadstore"):
        open_store(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_a_store_another_process_is_creating_opens(tmp_path: Path) -> None:
    """Processes opening a new store at once: one is writing the marker aside (its temp
    file is in the directory), the others must not take the directory for a foreign one."""
    (tmp_path / ".tmp-threadstore.json.0123456789abcdef").write_text("{")
    with open_store(str(tmp_path)) as store:
        store.create_thread()
    assert json.loads((tmp_path / "threadstore.json").read_text())["version"] == FORMAT_VERSION


def test_a_store_another_process_finished_making_meanwhile_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another opener made the marker and the store's directories after this one found
    no marker and before it listed the directory: a store, not a foreign directory."""
    open_store(str(tmp_path)).close()  # the other opener, finished
    marker, real = str(tmp_path / "threadstore.json"), os.path.exists
    missed: list[str] = []

    def too_early(path: Any) -> bool:
        if str(path) == marker and not missed:
            missed.append(marker)
            return False
        return real(path)

    monkeypatch.setattr(os.path, "exists", too_early)
    with open_store(str(tmp_path)) as store:
        store.create_thread()
    assert missed


def test_a_file_given_as_the_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine")
    with pytest.raises(InvalidRequestError, match="is a file; a file:// store is a directory"):
        open_store(str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "mine"


def test_format_version_is_recorded_and_checked(root: Path) -> None:
    LocalThreadStore(root).close()
    marker = root / "threadstore.json"
    assert json.loads(marker.read_text()) == {"format": FORMAT, "version": FORMAT_VERSION}
    marker.write_text(json.dumps({"format": FORMAT, "version": FORMAT_VERSION + 1}))
    with pytest.raises(BackendError, match="version"):
        LocalThreadStore(root)
    marker.write_text(json.dumps({"format": FORMAT, "version": 1}))
    with pytest.raises(BackendError, match=f"threadstore migrate file://{root}"):
        LocalThreadStore(root)
    marker.write_text("{not json")
    with pytest.raises(CorruptDataError, match=str(marker)):
        LocalThreadStore(root)


def test_a_closed_store_refuses_work(root: Path) -> None:
    store = LocalThreadStore(root)
    thread = store.create_thread()
    store.close()
    with pytest.raises(BackendError, match="closed"):
        store.get_thread(thread.id)


def test_opening_looks_at_no_thread(root: Path) -> None:
    """Opening reads the marker and lists ``tmp/``, whatever the store holds."""
    with LocalThreadStore(root, durable=False) as store:
        for _ in range(300):
            store.append_message(store.create_thread().id, Message.user("x"))
    listed: list[str] = []
    real = os.listdir

    def counting(path: Any = ".") -> list[str]:
        listed.append(os.fspath(path))
        return real(path)

    os.listdir = counting  # type: ignore[assignment]
    try:
        LocalThreadStore(root).close()
    finally:
        os.listdir = real
    assert listed == [str(root / "tmp")]


# --- what is on disk ---------------------------------------------------------


def test_threads_are_catalog_lines_holding_wire_objects(
    store: LocalThreadStore, root: Path
) -> None:
    thread = store.create_thread(Thread(metadata={"user": "u1"}))
    store.update_thread(thread.id, metadata={"user": "u2"})
    store.delete_thread(thread.id)
    lines = lines_of(root / "catalog.jsonl")
    assert [(line["op"], line["kind"], line["id"], line["seq"]) for line in lines] == [
        ("add", "thread", thread.id, 0),
        ("set", "thread", thread.id, 0),
        ("del", "thread", thread.id, 0),
    ]
    assert lines[0]["data"] == thread.model_dump(mode="json")
    assert lines[0]["v"] == RECORD_FORMAT
    assert lines[1]["data"]["metadata"] == {"user": "u2"}
    assert all(len(line["crc"]) == 8 for line in lines)


def test_a_threads_lists_are_json_lines_holding_wire_objects(
    store: LocalThreadStore, root: Path
) -> None:
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("hello"))
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    step = store.append_step(thread.id, run.id, step_for(message.id))
    store.update_message(thread.id, message.id, metadata={"k": "v"})
    store.delete_message(thread.id, message.id)
    path = lists_of(root, thread.id)
    assert path.name == f"{thread.id}.0.jsonl"
    lines = lines_of(path)
    assert [(line["op"], line["kind"], line["id"]) for line in lines] == [
        ("begin", "thread", thread.id),
        ("add", "message", message.id),
        ("add", "run", run.id),
        ("add", "step", step.id),
        ("set", "message", message.id),
        ("del", "message", message.id),
    ]
    assert lines[1]["data"] == message.model_dump(mode="json")
    assert lines[3]["run"] == run.id
    assert lines[4]["data"]["metadata"] == {"k": "v"}


def test_an_empty_thread_costs_no_file(store: LocalThreadStore, root: Path) -> None:
    for _ in range(5):
        store.create_thread()
    assert list((root / "lists").rglob("*.jsonl")) == []
    assert len(records_of(root / "catalog.jsonl")) < 5 * 300


def test_a_batch_is_one_commit_whose_lines_say_so(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    batch = store.append_messages(thread.id, [Message.user(f"b{i}") for i in range(3)])
    lines = lines_of(lists_of(root, thread.id))[1:]
    assert [line["id"] for line in lines] == [m.id for m in batch]
    assert [line.get("more", False) for line in lines] == [True, True, False]


def test_an_unfinished_batch_never_happened(store: LocalThreadStore, root: Path) -> None:
    """A writer killed after two lines of a three-line batch: the two are cut off."""
    thread = store.create_thread()
    kept = store.append_message(thread.id, Message.user("kept"))
    log = lists_of(root, thread.id)
    good = records_of(log)
    write_at_end(
        log, b"".join(message_line(thread.id, s, f"half {s}", more=True)[1] for s in (1, 2))
    )
    with LocalThreadStore(root) as again:
        assert [m.id for m in again.iter_messages(thread.id)] == [kept.id]
        after = again.append_message(thread.id, Message.user("after"))
    assert records_of(log).startswith(good)
    assert [m.id for m in store.iter_messages(thread.id)] == [kept.id, after.id]


def test_deleting_a_message_appends_a_tombstone(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(50)]
    log = lists_of(root, thread.id)
    before = records_of(log)
    store.delete_message(thread.id, sent[10].id)
    after = records_of(log)
    assert after.startswith(before)  # nothing rewritten
    assert len(after) - len(before) < 200
    assert store.list_messages(thread.id, limit=100).data == [
        m for i, m in enumerate(sent[::-1]) if i != 39
    ]


def test_deleting_a_thread_removes_its_lists(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("x"))
    store.delete_thread(thread.id)
    assert list((root / "lists").rglob("*.*")) == []
    again = store.create_thread(Thread(id=thread.id))
    store.append_message(again.id, Message.user("y"))
    assert lists_of(root, thread.id).name == f"{thread.id}.1.jsonl"  # a new incarnation


# --- hostile input -----------------------------------------------------------

HOSTILE = ["../x", "a/b", "..", ".", "/etc/passwd", "a\x00b", "x" * 10_000, "", "a\\b", "-x"]


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_ids_never_reach_the_disk(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "inner" / "store"
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        before = tree(tmp_path)
        calls: list[Callable[[], object]] = [
            lambda: store.create_thread(Thread.model_construct(id=bad)),
            lambda: store.get_thread(bad),
            lambda: store.update_thread(bad, metadata={"a": "b"}),
            lambda: store.delete_thread(bad),
            lambda: store.append_message(bad, Message.user("x")),
            lambda: store.append_message(thread.id, Message.model_construct(id=bad, role="user")),
            lambda: store.get_message(thread.id, bad),
            lambda: store.list_messages(bad),
            lambda: store.list_messages(thread.id, before=bad),
            lambda: store.create_run(thread.id, Run.model_construct(id=bad, assistant_id="a")),
            lambda: store.update_run(thread.id, bad, metadata={}),
            lambda: store.append_step(thread.id, bad, step_for("msg_1")),
            lambda: store.list_steps(thread.id, bad),
            lambda: store.get_step(thread.id, run.id, bad),
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                call()
        assert tree(tmp_path) == before
        assert store.list_thread_ids() == [thread.id]


def test_links_planted_in_the_store_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    root = tmp_path / "store"
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("x"))
        linked = store.create_thread()
    (root / "tmp" / "planted").symlink_to(outside)
    log = lists_of(root, thread.id)
    target = log.parent.parent / "elsewhere.jsonl"
    log.rename(target)
    log.symlink_to(target)
    with LocalThreadStore(root) as store:  # clears tmp/, without entering the link
        assert (outside / "precious").read_text() == "keep"
        assert not (root / "tmp" / "planted").exists()
        with pytest.raises(BackendError, match=str(log)):
            store.list_messages(thread.id)
        assert store.get_thread(linked.id) == linked


# --- corruption is reported, with its path ---------------------------------


def test_a_damaged_record_is_reported_with_its_path(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(3)]
    log = lists_of(root, thread.id)
    data = bytearray(log.read_bytes())
    data[data.index(b'"m1"') + 1] = ord("X")  # flip a byte inside a middle record
    log.write_bytes(bytes(data))
    with pytest.raises(CorruptDataError, match=str(log)):
        store.list_messages(thread.id)
    with pytest.raises(CorruptDataError, match=str(log)):
        store.get_message(thread.id, sent[1].id)
    index_of(log).unlink()
    again = LocalThreadStore(root)
    try:  # rebuilding the index meets it too
        with pytest.raises(CorruptDataError, match=rf"{log} at byte \d+"):
            again.get_message(thread.id, sent[0].id)
    finally:
        again.close()


def test_a_record_that_is_not_a_valid_model_is_reported(
    store: LocalThreadStore, root: Path
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("x"))
    log = lists_of(root, thread.id)
    # checksummed, but not a message
    write_at_end(log, make_line("add", MESSAGES, (), "msg_bad", 1, b'{"id":"msg_bad"}'))
    with pytest.raises(CorruptDataError, match=str(log)):
        store.list_messages(thread.id)


# --- crash leftovers: torn tails, stale indexes, temp files ---------------


@pytest.mark.parametrize("tail", [b'{"seq":3,"kind":"mess', b"\0" * 700, b"garbage\n\0\0"])
def test_an_unfinished_write_is_ignored_then_cut_off(
    store: LocalThreadStore, root: Path, tail: bytes
) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(3)]
    log = lists_of(root, thread.id)
    good = records_of(log)
    write_at_end(log, tail)
    with LocalThreadStore(root) as again:
        assert [m.id for m in again.iter_messages(thread.id)] == [m.id for m in sent]
        more = again.append_message(thread.id, Message.user("after"))
    assert [m.id for m in store.iter_messages(thread.id)] == [m.id for m in sent] + [more.id]
    data = records_of(log)
    assert data.startswith(good)
    assert data[len(good) :].startswith(
        b'{"seq":3,"kind":"message","op":"add","id":"%s"' % more.id.encode()
    )
    assert not log.read_bytes()[len(data) :].strip(b"\n\0")  # only spare space after them
    fd = os.open(log, os.O_RDONLY)
    try:
        entries, end, clean = scan(fd, 0, os.fstat(fd).st_size, str(log), store.stats)
    finally:
        os.close(fd)
    assert (len(entries), end, clean) == (5, len(data), True)


def test_a_commit_writes_over_spare_space_and_the_file_keeps_its_length(
    store: LocalThreadStore, root: Path
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("first"))
    log = lists_of(root, thread.id)
    length, before = log.stat().st_size, records_of(log)
    assert length % 4096 == 0
    assert length > len(before)
    store.append_message(thread.id, Message.user("second"))
    after = records_of(log)
    assert log.stat().st_size == length
    assert after.startswith(before)
    assert len(after) > len(before)
    assert set(log.read_bytes()[len(after) :]) == {ord("\n")}  # blank lines, for jq too


@pytest.mark.parametrize("durable", [True, False])
def test_a_durable_append_starts_writing_its_lines_before_the_flush(
    root: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    """The disk is set writing a commit's lines (and any new spare space) as soon as they
    are in the log, while the index is updated, so the flush has less to wait for; a
    store that does not flush asks for nothing."""
    hinted: list[tuple[int, int, int]] = []
    monkeypatch.setattr(local_journal, "start_writeback", lambda *region: hinted.append(region))
    with LocalThreadStore(root, durable=durable) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        hinted.clear()
        second = store.append_message(thread.id, Message.user("second"))
        data = lists_of(root, thread.id).read_bytes()
    if not durable:
        assert hinted == []
        return
    ((_, offset, length),) = hinted
    at = data.index(second.id.encode())
    line = data[data.rindex(b"\n", 0, at) + 1 : data.index(b"\n", at) + 1]
    assert offset == data.index(line)
    assert len(line) <= length <= len(data) - offset


def test_a_threads_first_append_starts_its_list_file_in_one_write(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's ``begin`` line and the first records go in together: one write, one
    index update, one region for the disk to start on (each costs a new file's first
    append, which also pays for the file and its directory entry)."""
    hinted: list[tuple[int, int, int]] = []
    monkeypatch.setattr(local_journal, "start_writeback", lambda *region: hinted.append(region))
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        hinted.clear()
        first, second = store.append_messages(thread.id, [Message.user("a"), Message.user("b")])
        data = records_of(lists_of(root, thread.id))
    ((_, offset, length),) = hinted
    begin, *lines = data.splitlines(keepends=True)
    assert b'"op":"begin"' in begin
    assert thread.id.encode() in begin
    assert [first.id.encode() in lines[0], second.id.encode() in lines[1]] == [True, True]
    assert offset == 0
    assert length >= len(data)


def test_a_write_to_a_thread_deleted_elsewhere_leaves_no_file(root: Path) -> None:
    """A store object that knew a thread (holding nothing yet) deleted by another: its
    append is told the thread is gone, and the list file it made meanwhile is removed."""
    with LocalThreadStore(root) as one, LocalThreadStore(root) as two:
        thread = one.create_thread()
        one.get_thread(thread.id)
        two.delete_thread(thread.id)
        with pytest.raises(ThreadNotFound):
            one.append_message(thread.id, Message.user("late"))
    assert list((root / "lists").rglob(f"{thread.id}.*")) == []


class _TellsWhenTried:
    """A journal's mutex that sets ``tried`` when a thread tries it without waiting."""

    def __init__(self, lock: threading.Lock, tried: threading.Event) -> None:
        self.lock, self.tried = lock, tried

    def acquire(self, blocking: bool = True) -> bool:
        got = self.lock.acquire(blocking)
        if not blocking:
            self.tried.set()
        return got

    def release(self) -> None:
        self.lock.release()


@pytest.mark.parametrize("holder", ["process", "thread"])
def test_a_commit_that_queued_for_the_lock_leaves_the_writeback_to_the_flush(
    root: Path, monkeypatch: pytest.MonkeyPatch, holder: str
) -> None:
    """When writers queue for a journal's lock, the time it is held is what limits them:
    a commit that had to wait (for another process's ``flock``, or another thread of its
    own) sends no writeback hint (a system call of tens of microseconds; the flush after
    the lock sends the lines all the same). The next commit, unhindered, sends it again."""
    hinted: list[tuple[int, int, int]] = []
    monkeypatch.setattr(local_journal, "start_writeback", lambda *region: hinted.append(region))
    waiting = threading.Event()
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        journal = store._open_list(store._incarnation(THREADS, thread.id), create=False)
        assert journal is not None
        if holder == "process":
            other = os.open(lists_of(root, thread.id), os.O_RDONLY)
            fcntl.flock(other, fcntl.LOCK_EX)
            free = local_files.try_exclusive

            def try_and_tell(fd: int) -> bool:
                got = free(fd)
                waiting.set()
                return got

            monkeypatch.setattr(local_journal, "try_exclusive", try_and_tell)
        else:
            monkeypatch.setattr(journal, "mutex", _TellsWhenTried(journal.mutex, waiting))
            journal.mutex.acquire()  # another thread of the process holds the journal
        hinted.clear()
        appended: list[Message] = []
        writer = threading.Thread(
            target=lambda: appended.append(store.append_message(thread.id, Message.user("q"))),
            daemon=True,
        )
        writer.start()
        assert waiting.wait(10)
        if holder == "process":
            fcntl.flock(other, fcntl.LOCK_UN)
            os.close(other)
        else:
            journal.mutex.release()
        writer.join(10)
        store._done_with(store._incarnation(THREADS, thread.id), journal)
        assert len(appended) == 1
        assert hinted == []
        store.append_message(thread.id, Message.user("alone"))
        assert len(hinted) == 1
        assert [m.id for m in store.iter_messages(thread.id)][1] == appended[0].id


def test_a_writeback_hint_on_a_closed_descriptor_reports_nothing(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"line\n")
    start_writeback(fd, 0, 5)
    os.close(fd)
    start_writeback(fd, 0, 5)
    assert (tmp_path / "f").read_bytes() == b"line\n"


def test_a_log_without_room_for_spare_space_takes_the_lines_alone(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        log = lists_of(root, thread.id)
        end = len(records_of(log))
        os.truncate(log, end)  # its spare space used up, and no room for more
        with file_size_limit(end + 2000):
            fits = store.append_message(thread.id, Message.user("fits"))
        assert log.stat().st_size == len(records_of(log)) < end + 2000
        later = store.append_message(thread.id, Message.user("later"))
        assert log.stat().st_size > len(records_of(log))  # room again: spare space again
    with LocalThreadStore(root) as store:
        assert [m.id for m in store.iter_messages(thread.id)][1:] == [fits.id, later.id]


def test_what_a_power_loss_left_after_a_hole_in_the_spare_space_is_cut_after_a_reboot(
    root: Path,
) -> None:
    """A crash in the middle of a flush may keep a later page of a write and not the one
    before it: a line after blank space was never acknowledged. Even with the index
    trusted after the reboot, it is cut off, never read or written after."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(20)]
    log = lists_of(root, thread.id)
    end = len(records_of(log))
    _, line = message_line(thread.id, 21, "after a hole")
    with log.open("r+b") as file:
        file.seek(end + 1)
        file.write(line)
    index = index_of(log)
    header = header_of(index)
    assert header.flags & 1, "close() syncs the index and marks it clean"
    header.boot = b"\x01" * 16
    rewrite_header(index, header)
    with LocalThreadStore(root) as store:
        assert [m.id for m in store.iter_messages(thread.id)] == [m.id for m in sent]
        assert b"after a hole" not in log.read_bytes()
        more = store.append_message(thread.id, Message.user("after"))
        assert [m.id for m in store.iter_messages(thread.id)][-2:] == [sent[-1].id, more.id]
        assert store.check_storage(repair=False) == []


def test_a_line_written_but_not_indexed_is_picked_up(store: LocalThreadStore, root: Path) -> None:
    """A writer killed between its log write and its index update left a whole line."""
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("indexed"))
    late_id, line = message_line(thread.id, 1, "late")
    write_at_end(lists_of(root, thread.id), line)
    assert store.get_message(thread.id, late_id).text == "late"
    assert [m.text for m in store.iter_messages(thread.id)] == ["indexed", "late"]


def test_a_record_from_a_newer_writer_is_read_and_keeps_what_it_does_not_know(
    store: LocalThreadStore, root: Path
) -> None:
    """A rolling deploy: a newer version wrote a message with fields this one does not
    model (on the message and inside its content). It is read, listed and updated, and
    the unknown fields survive the update in the stored form; nothing calls it corrupt."""
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("before"))
    wire = Message.user("from the future", thread_id=thread.id).model_dump(mode="json")
    wire["annotations_v2"] = {"kept": [1, 2]}
    wire["content"][0]["text"]["tone"] = "calm"
    line = make_line(
        "add", MESSAGES, (), wire["id"], 1, json.dumps(wire).encode(), version=RECORD_FORMAT + 1
    )
    write_at_end(lists_of(root, thread.id), line)
    read = store.get_message(thread.id, wire["id"])
    assert read.text == "from the future"
    assert [m.text for m in store.iter_messages(thread.id)] == ["before", "from the future"]
    store.update_message(thread.id, wire["id"], metadata={"seen": "yes"})
    with LocalThreadStore(root) as fresh:
        stored = json.loads(encode(fresh.get_message(thread.id, wire["id"])))
    assert stored["annotations_v2"] == {"kept": [1, 2]}
    assert stored["content"][0]["text"]["tone"] == "calm"
    assert stored["metadata"] == {"seen": "yes"}
    assert store.check_storage(repair=False) == []


def header_of(path: Path) -> local_index.Header:
    header = local_index.Header.unpack(path.read_bytes())
    assert header is not None
    return header


def rewrite_header(path: Path, header: local_index.Header) -> None:
    with path.open("r+b") as file:
        file.write(header.pack())


def fill_thread(store: LocalThreadStore) -> tuple[Thread, list[Message]]:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(200)]
    store.delete_message(thread.id, sent[5].id)
    return thread, sent[:5] + sent[6:]


@pytest.mark.parametrize("damage", ["missing", "garbage", "other boot, not clean", "truncated"])
def test_an_index_in_doubt_is_rebuilt_from_the_log(root: Path, damage: str) -> None:
    with LocalThreadStore(root) as store:
        thread, kept = fill_thread(store)
    index = index_of(lists_of(root, thread.id))
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(os.urandom(5000))
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[:100])
    else:  # written in another boot and never synced: a power loss may have torn it
        header = header_of(index)
        header.boot, header.flags = b"\x01" * 16, 0
        rewrite_header(index, header)
    with LocalThreadStore(root) as store:
        assert [m.id for m in store.iter_messages(thread.id)] == [m.id for m in kept]
        assert store.get_message(thread.id, kept[100].id) == kept[100]
        assert header_of(index).boot == local_index.BOOT_ID


def test_a_clean_index_is_trusted_after_a_reboot(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread, kept = fill_thread(store)
    index = index_of(lists_of(root, thread.id))
    header = header_of(index)
    assert header.flags & 1, "close() syncs the index and marks it clean"
    header.boot = b"\x01" * 16
    rewrite_header(index, header)
    log = lists_of(root, thread.id)
    spare = log.stat().st_size - len(records_of(log))
    with LocalThreadStore(root) as store:
        store.get_thread(thread.id)
        store.stats.reset()
        assert store.get_message(thread.id, kept[-1].id) == kept[-1]
        # no replay of the log; its spare space is read once, as a power loss may have
        # left there a later page of an unfinished write
        assert store.stats.bytes_read < 12_000 + spare
        assert header_of(index).boot == local_index.BOOT_ID
        store.stats.reset()
        assert store.get_message(thread.id, kept[-2].id) == kept[-2]
        assert store.stats.bytes_read < 12_000


def test_leftover_temporary_files_are_removed_on_open(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
    leftovers = [root / "tmp" / "threadstore.json.0123", root / "tmp" / "upgrade"]
    leftovers[0].write_text("{}")
    leftovers[1].mkdir()
    (leftovers[1] / "catalog.jsonl").write_text("partial")
    with shared_lock(str(root / "threadstore.lock")):  # a live writer is making some
        LocalThreadStore(root).close()
        assert all(path.exists() for path in leftovers)
    with LocalThreadStore(root) as store:
        assert not any(path.exists() for path in leftovers)
        assert store.list_thread_ids() == [thread.id]


def plant_gone(store: LocalThreadStore, root: Path, thread_id: str) -> None:
    """What a deleter killed after marking the lists and before the catalog leaves."""
    log = lists_of(root, thread_id)
    seq = int(log.name.split(".")[1])
    write_at_end(log, make_line("gone", THREADS, (), thread_id, seq))


def test_a_thread_whose_deleter_died_midway_is_deleted(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread(Thread(id="thread_x", metadata={"v": "1"}))
    store.append_message(thread.id, Message.user("m"))
    plant_gone(store, root, thread.id)
    with LocalThreadStore(root) as other:
        with pytest.raises(ThreadNotFound):
            other.list_messages(thread.id)  # the lists say gone: the delete is finished
        with pytest.raises(ThreadNotFound):
            other.get_thread(thread.id)
    again = store.create_thread(Thread(id="thread_x", metadata={"v": "2"}))
    assert store.get_thread("thread_x") == again
    assert store.list_messages(again.id).data == []


# --- issue regressions: every write decision is checked against the log ---------


def test_recreating_a_half_deleted_thread_never_touches_the_new_one(root: Path) -> None:
    """A deleter died after marking the lists gone; two creators then race for the ID.
    The winner's acknowledged messages must stay: nothing acts by name on the files of
    an incarnation it has not checked, and the loser is told the ID is taken."""
    with LocalThreadStore(root) as setup:
        setup.create_thread(Thread(id="thread_x"))
        setup.append_message("thread_x", Message.user("old"))
        plant_gone(setup, root, "thread_x")
    one, two = LocalThreadStore(root), LocalThreadStore(root)
    try:
        two.get_thread("thread_x")  # the second creator knows the old incarnation
        one.create_thread(Thread(id="thread_x"))
        acked = [one.append_message("thread_x", Message.user(f"m{i}")).id for i in range(5)]
        with pytest.raises(AlreadyExistsError):
            two.create_thread(Thread(id="thread_x"))
        more = two.append_message("thread_x", Message.user("via two"))  # the new incarnation
        assert [m.id for m in one.iter_messages("thread_x")] == [*acked, more.id]
    finally:
        one.close()
        two.close()


def test_a_store_object_holding_a_deleted_incarnation_never_loses_an_append(root: Path) -> None:
    with LocalThreadStore(root) as one, LocalThreadStore(root) as two:
        one.create_thread(Thread(id="thread_x"))
        one.append_message("thread_x", Message.user("old"))  # one holds incarnation 0 open
        two.delete_thread("thread_x")
        two.create_thread(Thread(id="thread_x"))
        acked = one.append_message("thread_x", Message.user("new"))
        assert [m.id for m in two.iter_messages("thread_x")] == [acked.id]


def test_a_writer_killed_between_index_slots_and_header_makes_no_duplicate(root: Path) -> None:
    """The slots of a whole line are written, the index header is not: another store
    object must not trust its cached view of the table, and the ID stays taken."""
    with LocalThreadStore(root) as one, LocalThreadStore(root) as two:
        thread = one.create_thread()
        for i in range(20):
            one.append_message(thread.id, Message.user(f"m{i}"))
        assert two.list_messages(thread.id, limit=3).data  # two caches probes of the table
        journal = two._open_list(two._incarnation(THREADS, thread.id), create=False)
        assert journal is not None
        late_id, line = message_line(thread.id, 20, "late")
        from threadstore.backends.local.files import pwrite_all
        from threadstore.backends.local.log import entry_of

        with journal.mutex:
            import fcntl

            fcntl.flock(journal.log_fd, fcntl.LOCK_EX)
            offset = len(records_of(lists_of(root, thread.id)))
            pwrite_all(journal.log_fd, line, offset)
            entry = entry_of(line, offset)
            assert entry is not None
            journal.index.load()
            journal.index.apply([entry])  # the slots, and then the writer "dies"
            fcntl.flock(journal.log_fd, fcntl.LOCK_UN)
        two._done_with(two._incarnation(THREADS, thread.id), journal)
        with pytest.raises(AlreadyExistsError):
            one.append_message(thread.id, Message.user("again", id=late_id))
        with LocalThreadStore(root) as fresh:
            assert fresh.get_message(thread.id, late_id).text == "late"
            ids = [m.id for m in fresh.iter_messages(thread.id)]
        assert ids.count(late_id) == 1
        assert len(ids) == 21


def test_a_growing_index_answers_every_lookup_and_gives_back_what_it_moved(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While a table's slots move into a larger one, every record is found, by the writer
    and by another store object, and the index is never found damaged (nor rebuilt); the
    old table's pages whose slots have all moved read as zeros (given back)."""
    caplog.set_level(logging.INFO, logger="threadstore")
    with LocalThreadStore(root, durable=False) as writer, LocalThreadStore(root) as reader:
        thread = writer.create_thread()
        ids: list[str] = []
        released = 0
        for i in range(2500):
            ids.append(writer.append_message(thread.id, Message.user(f"m{i}")).id)
            if i % 61:
                continue
            index = lists_of(root, thread.id).with_suffix(".idx")
            header = header_of(index)
            if header.old_capacity and PUNCHES_HOLES:
                first = -(-header.old_table // 4096) * 4096
                if first + 4096 <= header.old_table + header.moved // 15 * 256:
                    with index.open("rb") as file:
                        file.seek(first)
                        assert file.read(4096) == bytes(4096)
                    released += 1
            for wanted in [*ids[::37], ids[-1]]:
                assert reader.get_message(thread.id, wanted).id == wanted
            assert [m.id for m in reader.list_messages(thread.id, limit=2).data] == ids[:-3:-1]
        assert released
        assert [m.id for m in reader.iter_messages(thread.id)] == ids
    rebuilt = [r.message for r in caplog.records if r.message.startswith("rebuilding")]
    assert all(" from 0 log records" in message for message in rebuilt), rebuilt


def empty_index(tmp_path: Path) -> tuple[local_index.Index, Path]:
    """A new index file, ``index``, built for an empty log file, ``log``, beside it."""
    log = tmp_path / "log"
    log.write_bytes(b"")
    path = tmp_path / "index"
    index = local_index.Index(
        os.open(path, os.O_RDWR | os.O_CREAT, 0o644), str(path), ReadCounter()
    )
    index.rebuild([], 0, log.stat())
    return index, log


def test_a_probe_in_a_moving_table_passes_over_slots_already_moved(tmp_path: Path) -> None:
    """A key whose probe starts among the moved slots of the old table, but which sits
    past them (not moved yet), is found even when the moved slots' blocks read as zeros
    (given back to the file system)."""
    index, log = empty_index(tmp_path)
    path = Path(index.path)
    header = index.header
    assert header is not None
    capacity = header.capacity
    homed = (f"k{n}" for n in range(10**6))
    home = partial(local_index._home, capacity=capacity, ordered=header.flags)
    cluster = [k for k in homed if home(local_index._digest(k)) == 14][:3]
    for offset, key in enumerate(cluster):  # slots 14 (block 0), 15 and 16 (block 1)
        index.put(key, local_index.Slot(offset))
    index._grow()
    index._move(15)  # slots 0-14 moved: block 0 of the old table is no longer needed
    index.commit(0, log.stat())  # the writer's commit writes the moved slots
    with path.open("r+b") as file:
        file.seek(header.old_table)
        file.write(bytes(256))
    index.forget()
    assert [index.get(key) for key in cluster] == [local_index.Slot(n) for n in range(3)]
    os.close(index.fd)


def test_an_index_of_the_earlier_hashing_is_used_as_it_is_and_grows_into_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before homes followed tags (version 2: ``tag % capacity``), here
    in the middle of a move, is trusted as it stands: the move goes on, the next table is
    ordered (version 3 on disk), and every key is found by a fresh reader at each step."""
    index, log = empty_index(tmp_path)
    with monkeypatch.context() as earlier:
        earlier.setattr(local_index, "_home", lambda tag, capacity, ordered: tag % capacity)
        index.rebuild([], 0, log.stat())
        keys = [f"k{n}" for n in range(60)]
        for n, key in enumerate(keys):
            index.put(key, local_index.Slot(n))
        index._grow()
        index._move(30)
        header = index.header
        assert header is not None
        header.flags = 0  # what the earlier version wrote: no flag it did not know
        index.commit(0, log.stat())
    raw = Path(index.path).read_bytes()
    assert struct.unpack_from("<I", raw, 8) == (2,)
    assert 0 < header.moved < header.old_capacity

    def everything_found() -> None:
        reader = local_index.Index(os.open(index.path, os.O_RDONLY), index.path, ReadCounter())
        try:
            assert reader.load() is not None
            assert reader.current(log.stat(), 0)  # trusted: never rebuilt
            assert [reader.get(key) for key in keys] == [
                local_index.Slot(n) for n in range(len(keys))
            ]
        finally:
            os.close(reader.fd)

    everything_found()
    index.forget()
    index.load()
    versions = set()
    for n in range(60, 400):  # the move ends; then growths into ordered tables
        keys.append(f"k{n}")
        index.put(keys[-1], local_index.Slot(n))
        index.commit(0, log.stat())
        versions.add(struct.unpack_from("<I", Path(index.path).read_bytes(), 8)[0])
        if n % 37 == 0:
            everything_found()
    everything_found()
    assert versions == {2, 3}
    header = index.header
    assert header is not None
    assert header.flags & local_index._ORDERED
    os.close(index.fd)


def test_an_ordered_table_is_a_version_an_earlier_reader_refuses(tmp_path: Path) -> None:
    """Tables whose homes follow tags are written as version 3, which a version that knows
    only ``tag % capacity`` (version 2) takes for damage and rebuilds from the log, rather
    than probing from the wrong homes; a version-2 header that claims order is damage."""
    index, _ = empty_index(tmp_path)
    header = index.header
    assert header is not None
    assert header.flags & local_index._ORDERED
    raw = header.pack()
    assert struct.unpack_from("<I", raw, 8) == (3,)
    older = bytearray(raw)
    struct.pack_into("<I", older, 8, 2)
    struct.pack_into(
        "<I", older, local_index._HEADER.size, zlib.crc32(older[: local_index._HEADER.size])
    )
    assert local_index.Header.unpack(bytes(older)) is None
    os.close(index.fd)


def test_old_pages_are_given_back_only_once_what_moved_out_is_written(tmp_path: Path) -> None:
    """Moving slots changes blocks in memory; the old table's pages go when those blocks
    are written (the commit), never before: in between, the old table is all there is."""
    index, log = empty_index(tmp_path)
    path = Path(index.path)
    keys = [f"k{n}" for n in range(50)]
    for n, key in enumerate(keys):
        index.put(key, local_index.Slot(n))
    index.commit(0, log.stat())
    header = index.header
    assert header is not None
    old, size = header.table, header.capacity // 15 * 256
    index._grow()
    index._move(header.old_capacity)  # every slot moved: the whole old table can go
    assert path.read_bytes()[old : old + size] != bytes(size)
    index.commit(0, log.stat())
    if PUNCHES_HOLES:
        assert path.read_bytes()[old : old + size] == bytes(size)
    index.forget()
    assert [index.get(key) for key in keys] == [local_index.Slot(n) for n in range(50)]
    os.close(index.fd)


def fill_to_the_brim(
    index: local_index.Index, log: Path, keys: Iterator[str], put: list[str]
) -> list[str]:
    """Put keys one commit each (the n-th put at offset n) until the next one would make
    the table grow."""
    header = index.header
    assert header is not None
    while header.used + 1 <= header.capacity * local_index._FULL:
        put.append(next(keys))
        index.put(put[-1], local_index.Slot(len(put)))
        index.commit(0, log.stat())
    return put


def test_the_next_table_is_written_ahead_so_a_growth_writes_none_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the last inserts before a growth, the next table's empty blocks are written a
    page at a time at the file's end and counted in the header; the growth takes them
    and writes nothing more, and every key is still found, through eight growths."""
    index, log = empty_index(tmp_path)
    keys = (f"k{n}" for n in range(10**6))
    written: list[int] = []

    def counted(fd: int, parts: Any, offset: int) -> None:
        written.append(sum(len(part) for part in parts))
        real(fd, parts, offset)

    real = local_files.pwrite_parts
    monkeypatch.setattr(local_index, "pwrite_parts", counted)
    put: list[str] = []
    for _ in range(8):  # capacity 75 -> 120 -> ... -> 2,100: the later tables span pages
        fill_to_the_brim(index, log, keys, put)
        header = header_of(Path(index.path))
        size = -(-int(header.capacity * 1.5) // 15) * 256
        assert (header.ahead_of, header.ahead) == (header.table, size)
        start = header.ahead_start
        assert Path(index.path).read_bytes()[start : start + size] == (
            local_index._EMPTY_BLOCK * (size // 256)
        )
        put.append(next(keys))
        index.put(put[-1], local_index.Slot(len(put)))  # grows into the blocks written ahead
        index.commit(0, log.stat())
        assert header_of(Path(index.path)).table == start
        assert written[-1] == 0
        while index.header is not None and index.header.old_capacity:
            put.append(next(keys))
            index.put(put[-1], local_index.Slot(len(put)))
            index.commit(0, log.stat())
    index.forget()
    assert [index.get(key) for key in put] == [local_index.Slot(n + 1) for n in range(len(put))]
    os.close(index.fd)


def test_a_writer_that_dies_in_the_table_written_ahead_leaves_it_to_no_one(
    tmp_path: Path,
) -> None:
    """A writer that grows into the blocks written ahead, writes a slot there and dies
    before its header: the next writer must not take those blocks for empty ones (it
    would find the dead writer's slot for a key that was never committed)."""
    dying, log = empty_index(tmp_path)
    put = fill_to_the_brim(dying, log, (f"k{n}" for n in range(10**6)), [])
    ahead = header_of(Path(dying.path)).ahead_start
    dying.put("never committed", local_index.Slot(999))  # grows: a slot in the new table
    assert header_of(Path(dying.path)).table != ahead  # the header on disk: not yet
    assert dying._header().table == ahead
    os.close(dying.fd)  # dies before its header
    heir = local_index.Index(os.open(dying.path, os.O_RDWR), dying.path, ReadCounter())
    heir.load()
    heir.put("late", local_index.Slot(1000))  # grows too
    heir.commit(0, log.stat())
    assert heir._header().table != ahead
    heir.forget()
    assert heir.get("never committed") is None
    assert heir.get("late") == local_index.Slot(1000)
    assert [heir.get(key) for key in put] == [local_index.Slot(n + 1) for n in range(len(put))]
    os.close(heir.fd)


def test_a_small_table_is_read_in_one_go_and_forgotten_at_the_first_write(
    tmp_path: Path,
) -> None:
    """A table within the file's first page comes in one read when the header is new, so
    lookups of keys in different blocks read nothing more; once a commit writes blocks,
    what was read before is not used again (a block dropped from memory is read anew)."""
    writer, log = empty_index(tmp_path)
    keys = [f"k{n}" for n in range(40)]  # in every block of the 64-slot table
    for n, key in enumerate(keys):
        writer.put(key, local_index.Slot(n))
    writer.commit(0, log.stat())
    reader = local_index.Index(os.open(writer.path, os.O_RDWR), writer.path, ReadCounter())
    reader.load()
    before = reader.counter.reads
    assert [reader.get(key) for key in keys] == [local_index.Slot(n) for n in range(40)]
    assert reader.counter.reads == before
    reader.put("late", local_index.Slot(99))
    reader.commit(0, log.stat())
    reader._blocks.clear()  # as when the blocks it keeps are too many
    reader._found.clear()
    assert reader.get("late") == local_index.Slot(99)
    for index in (writer, reader):
        os.close(index.fd)


def test_probes_are_forgotten_oldest_first_and_no_absence_outlives_its_gap(
    tmp_path: Path,
) -> None:
    """An index object that remembers too many probes forgets the oldest few, not all
    (forgetting all at once was a stall), and every key it remembered as absent: such a
    key is absent only while the slot its probe ended at stays empty, and what tracks
    those slots goes too. A key written later is then found, not taken as absent."""
    index, log = empty_index(tmp_path)
    limit = local_index._REMEMBERED
    keys = [f"k{n}" for n in range(limit + 8)]
    for n, key in enumerate(keys):
        index._put(key, local_index.Slot(n))
    index.commit(0, log.stat())
    index.forget()  # the table stays as it is from here on: only lookups
    for key in keys[: limit - 8]:
        index.get(key)
    assert index.get("absent") is None
    for key in keys[limit - 8 :]:
        index.get(key)
    assert "absent" not in index._found
    assert keys[0] not in index._found
    assert all(key in index._found for key in keys[-64:])
    assert limit - local_index._FORGOTTEN <= len(index._found) <= limit + 1
    gaps = {key for waiting in index._gaps.values() for key in waiting}
    assert all(key in gaps for key, (_, _, slot) in index._found.items() if slot is None)
    index.put("absent", local_index.Slot(7))
    assert index.get("absent") == local_index.Slot(7)
    assert [index.get(key) for key in keys] == [local_index.Slot(n) for n in range(len(keys))]
    os.close(index.fd)


def flip_bits(path: Path, start: int, count: int, every: int = 1) -> None:
    data = bytearray(path.read_bytes())
    for at in range(start, min(len(data), start + count), every):
        data[at] ^= 0x10
    path.write_bytes(bytes(data))


def slots(path: Path) -> list[int]:
    """Where the used slots of an index file lie (16 bytes each; every 16th of a block
    is its checksum, not a slot)."""
    data = path.read_bytes()
    header = header_of(path)
    start, end = header.table, header.table + header.capacity // 15 * 256
    return [
        at
        for at in range(start, end, 16)
        if (at - start) % 256 != 240 and data[at : at + 16] != bytes(16)
    ]


def reseal(data: bytearray, path: Path) -> None:
    """Redo the checksum of every block of the table: damage that a checksum cannot see."""
    header = header_of(path)
    for start in range(header.table, header.table + header.capacity // 15 * 256, 256):
        block = bytearray(data[start : start + 256])
        if block != bytes(256):
            data[start : start + 256] = local_index._sealed(block)


@pytest.mark.parametrize("operation", ["delete", "update", "list", "count"])
def test_index_damage_is_never_copied_into_the_log(root: Path, operation: str) -> None:
    """Bits flipped in every slot's offset field: whatever the index says is checked
    against the log, the damage is found, the index rebuilt, and the right record
    changed (a message neither lost, doubled nor resurrected)."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        sent = [store.append_message(thread.id, Message.user(f"m{i}")).id for i in range(30)]
        store.create_run(thread.id, Run(assistant_id="asst_1"))
    index = index_of(lists_of(root, thread.id))
    for at in slots(index):
        flip_bits(index, at + 8, 1)  # the low byte of the offset
    with LocalThreadStore(root) as store:
        if operation == "delete":
            store.delete_message(thread.id, sent[7])
            expected = sent[:7] + sent[8:]
        elif operation == "update":
            store.update_message(thread.id, sent[7], metadata={"k": "v"})
            assert store.get_message(thread.id, sent[7]).metadata == {"k": "v"}
            expected = sent
        elif operation == "count":
            assert len(store.list_runs(thread.id).data) == 1
            expected = sent
        else:
            expected = sent
        assert [m.id for m in store.iter_messages(thread.id)] == expected
    index.unlink()
    with LocalThreadStore(root) as store:
        assert [m.id for m in store.iter_messages(thread.id)] == expected
        assert store.check_storage(repair=False) == []


def test_a_slot_that_points_at_the_wrong_line_is_caught(root: Path) -> None:
    """A damaged slot whose checksum still holds (made on purpose): the log decides."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        sent = [store.append_message(thread.id, Message.user(f"m{i}")).id for i in range(10)]
    index = index_of(lists_of(root, thread.id))
    data = bytearray(index.read_bytes())
    taken = [struct.unpack_from("<QQ", data, at) for at in slots(index)]
    offsets = sorted({value & ((1 << 40) - 1) for _, value in taken})
    for at, (tag, value) in zip(slots(index), taken, strict=True):
        offset = value & ((1 << 40) - 1)
        if offset in offsets[1:-1]:  # point to the neighbouring line
            struct.pack_into(
                "<QQ", data, at, tag, value - offset + offsets[offsets.index(offset) + 1]
            )
    reseal(data, index)  # checksums redone: only the log can tell
    index.write_bytes(bytes(data))
    with LocalThreadStore(root) as store:
        store.delete_message(thread.id, sent[4])
        assert [m.id for m in store.iter_messages(thread.id)] == sent[:4] + sent[5:]
        assert store.get_message(thread.id, sent[5]).text == "m5"


def test_a_damaged_offset_is_corrupt_data_not_a_crash(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        sent = store.append_message(thread.id, Message.user("m"))
    index = index_of(lists_of(root, thread.id))
    data = bytearray(index.read_bytes())
    for at in slots(index):
        tag, value = struct.unpack_from("<QQ", data, at)
        struct.pack_into("<QQ", data, at, tag, value | ((1 << 40) - 1))
    reseal(data, index)
    index.write_bytes(bytes(data))
    with LocalThreadStore(root) as store:  # the index is rebuilt: the log is whole
        assert store.get_message(thread.id, sent.id) == sent


def test_stray_entries_are_findings_never_fatal(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("m"))
    shard = lists_of(root, thread.id).parent
    (root / "lists" / "threads" / "README").write_text("notes")
    (shard / "junk.txt").write_text("junk")
    (root / "lists" / "threads" / "linked").symlink_to(root)
    (root / "notes.md").write_text("mine")
    with LocalThreadStore(root) as store:
        assert store.list_thread_ids() == [thread.id]
        assert [m.text for m in store.iter_messages(thread.id)] == ["m"]
        found = store.check_storage(repair=True)
    assert sorted((f.check, Path(f.location).name, f.repaired) for f in found) == [
        ("foreign-entry", "README", False),
        ("foreign-entry", "junk.txt", False),
        ("foreign-entry", "linked", False),
        ("foreign-entry", "notes.md", False),
    ]
    assert (root / "notes.md").read_text() == "mine"


def test_a_thread_never_touched_is_clean(store: LocalThreadStore) -> None:
    store.create_thread()
    store.update_thread(store.create_thread().id, metadata={"a": "b"})
    assert store.check_storage(repair=False) == []


def test_metadata_keys_without_utf8_are_refused(store: LocalThreadStore) -> None:
    with pytest.raises(InvalidRequestError, match="UTF-8"):
        store.create_thread(Thread.model_construct(id="thread_s", metadata={"a\ud800": "1"}))
    thread = store.create_thread()
    with pytest.raises(InvalidRequestError, match="UTF-8"):
        store.update_thread(thread.id, metadata={chr(0xDC00): "x", chr(0xDC01): "y"})
    assert store.get_thread(thread.id).metadata == {}


def test_a_damaged_count_slot_is_found_not_a_short_list(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(5)]
    index = index_of(lists_of(root, thread.id))
    for at in slots(index):
        flip_bits(index, at + 8, 2)  # every slot, the count's among them
    with LocalThreadStore(root) as store:
        assert [r.id for r in store.list_runs(thread.id, order="asc").data] == runs


@pytest.mark.parametrize("which", ["catalog", "lists"])
def test_a_zeroed_index_block_is_damage_not_a_missing_record(root: Path, which: str) -> None:
    """A block of zeros in a table is not "never written": every block is written with
    its checksum, so a zeroed one is found, and no record goes missing."""
    with LocalThreadStore(root) as store:
        threads = [store.create_thread().id for _ in range(30)]
        messages = [store.append_message(threads[0], Message.user(f"{i}")).id for i in range(40)]
    index = root / "catalog.idx" if which == "catalog" else index_of(lists_of(root, threads[0]))
    kept = index.read_bytes()
    header = header_of(index)
    for block in range(header.capacity // 15):
        data = bytearray(kept)
        start = header.table + block * 256
        data[start : start + 256] = bytes(256)
        index.write_bytes(bytes(data))
        with LocalThreadStore(root) as store:
            for thread_id in threads:
                assert store.get_thread(thread_id).id == thread_id
            for message_id in messages:
                assert store.get_message(threads[0], message_id).id == message_id
            assert [m.id for m in store.iter_messages(threads[0])] == messages


def test_an_index_rebuilt_in_memory_holds_the_whole_log(root: Path) -> None:
    """When writing an index fails (a full disk), the journal indexes its log in memory
    instead: the table it builds there must hold every record, not none."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        message = store.append_message(thread.id, Message.user("m"))
    with LocalThreadStore(root) as store:
        catalog = store.catalog()
        with catalog.locked(exclusive=True):
            catalog.index.memory = {}  # what Journal.repair does after an OSError
            catalog.repair(rebuild=True)
        assert store.get_thread(thread.id) == thread
        assert store.get_message(thread.id, message.id) == message


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes of any file fail (EFBIG), as on a disk that is full."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    before = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, before)


def test_a_delete_the_catalog_cannot_record_says_its_outcome_is_unknown(root: Path) -> None:
    """The thread's lists say deleted, the catalog's write fails: the caller is not told
    "nothing was stored", and deleting again settles it."""
    with LocalThreadStore(root) as store:
        for _ in range(20):
            store.create_thread(Thread(metadata={"pad": "x" * 200}))
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("m"))
        catalog = root / "catalog.jsonl"
        os.truncate(catalog, len(records_of(catalog)))  # no spare space: the del must grow it
        with (
            file_size_limit(catalog.stat().st_size),
            pytest.raises(BackendError, match="outcome is unknown") as caught,
        ):
            store.delete_thread(thread.id)
        assert "nothing was stored" not in str(caught.value)
        with pytest.raises(ThreadNotFound):
            store.delete_thread(thread.id)
        with pytest.raises(ThreadNotFound):
            store.get_thread(thread.id)
        assert store.check_storage(repair=False) == []


def test_a_read_of_an_empty_list_file_writes_nothing(root: Path) -> None:
    """A first append that could not write its first line leaves an empty list file; a
    read then holds only a shared lock, and must not write that line (nor fail for want
    of space to write it)."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("m"))
        empty = store.create_thread()
        made = Path(store.layout.list_path(Incarnation(THREADS, empty.id, 1)))
    made.parent.mkdir(exist_ok=True)
    made.touch()
    with LocalThreadStore(root) as store, file_size_limit(0):
        assert store.list_messages(empty.id).data == []
        assert [m.text for m in store.iter_messages(thread.id)] == ["m"]
    assert made.stat().st_size == 0
    with LocalThreadStore(root) as store:
        store.append_message(empty.id, Message.user("first"))
        assert [m.text for m in store.iter_messages(empty.id)] == ["first"]


# --- I/O errors are not "not found" -------------------------------------------


def test_io_errors_are_backend_errors(store: LocalThreadStore, root: Path) -> None:
    is_dir = store.create_thread()
    store.append_message(is_dir.id, Message.user("x"))
    log = lists_of(root, is_dir.id)
    log.unlink()
    log.mkdir()  # EISDIR
    with LocalThreadStore(root) as fresh:
        with pytest.raises(BackendError) as caught:
            fresh.list_messages(is_dir.id)
        assert not isinstance(caught.value, NotFoundError)
        assert str(log) in str(caught.value)
        with pytest.raises(ThreadNotFound):
            fresh.get_thread("thread_missing")


# --- within one process: sharing and open files --------------------------------


def test_store_objects_on_one_root_see_one_store(root: Path) -> None:
    with LocalThreadStore(root) as one, LocalThreadStore(root) as two:
        thread = one.create_thread()
        first = one.append_message(thread.id, Message.user("1"))
        second = two.append_message(thread.id, Message.user("2"))
        assert [m.id for m in one.iter_messages(thread.id)] == [first.id, second.id]
        two.delete_thread(thread.id)
        with pytest.raises(ThreadNotFound):
            one.append_message(thread.id, Message.user("3"))
        again = two.create_thread(Thread(id=thread.id))
        assert one.get_thread(thread.id) == again
        assert one.list_messages(thread.id).data == []


def test_store_objects_on_one_root_race_from_threads(root: Path) -> None:
    with LocalThreadStore(root) as setup:
        thread = setup.create_thread()
        runs = [setup.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(6)]
    stores = [LocalThreadStore(root, durable=False) for _ in range(4)]
    won: list[list[str]] = [[] for _ in stores]
    barrier = threading.Barrier(len(stores))

    def work(number: int) -> None:
        store = stores[number]
        barrier.wait()
        for i in range(25):
            store.append_message(thread.id, Message.user(f"{number}:{i}"))
            if i < len(runs):
                try:
                    store.update_run_status(thread.id, runs[i], "in_progress", expected="queued")
                    won[number].append(runs[i])
                except ConflictError:
                    pass

    workers = [threading.Thread(target=work, args=(n,)) for n in range(len(stores))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    texts = [m.text for m in stores[0].iter_messages(thread.id)]
    assert sorted(texts) == sorted(f"{n}:{i}" for n in range(4) for i in range(25))
    for n in range(4):
        assert [t for t in texts if t.startswith(f"{n}:")] == [f"{n}:{i}" for i in range(25)]
    assert sorted(r for mine in won for r in mine) == sorted(runs)
    for store in stores:
        assert [m.text for m in store.iter_messages(thread.id)] == texts
        store.close()


def test_delete_and_recreate_races_only_say_found_missing_or_taken(root: Path) -> None:
    """Threads of one process delete, re-create, append to and read a few shared IDs:
    every call succeeds, or says not found or already exists; nothing else escapes."""
    ids = ["thread_a", "thread_b"]
    stores = [LocalThreadStore(root, durable=False) for _ in range(4)]
    surprises: list[str] = []

    def churn(number: int) -> None:
        store = stores[number]
        for i in range(60):
            thread_id = ids[(i + number) % len(ids)]
            calls: list[Callable[[], object]] = [
                partial(store.create_thread, Thread(id=thread_id)),
                partial(store.append_message, thread_id, Message.user(f"{number}:{i}")),
                partial(lambda t: list(store.iter_messages(t)), thread_id),
                partial(store.delete_thread, thread_id),
            ]
            for call in calls:
                try:
                    call()
                except (NotFoundError, AlreadyExistsError):
                    pass
                except Exception as exc:
                    surprises.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(len(stores))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    for store in stores:
        store.close()
    assert surprises == []
    with LocalThreadStore(root) as store:
        assert store.check_storage(repair=False) == []


def test_a_lists_directory_replaced_by_a_link_after_use_is_not_followed(root: Path) -> None:
    """The store keeps ``lists/threads`` open once reached; moved away and replaced by a
    link to where it went, it is walked again, and the link is refused."""
    with LocalThreadStore(root) as store:
        first = store.create_thread()
        store.append_message(first.id, Message.user("x"))
        kind_dir, elsewhere = root / "lists" / "threads", root.parent / "elsewhere"
        kind_dir.rename(elsewhere)
        kind_dir.symlink_to(elsewhere, target_is_directory=True)
        second = store.create_thread()
        with pytest.raises(BackendError):
            store.append_message(second.id, Message.user("y"))
        assert not list(elsewhere.glob(f"*/{second.id}.*"))


def test_threads_writing_to_more_lists_than_stay_open_sync_their_own_files(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing idle list files to stay under the bound never closes one a writer is
    about to fsync (that would fail, or worse, fsync whatever file took its number)."""
    monkeypatch.setattr(local_store, "OPEN_LISTS", 1)  # every other write closes one
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns between any two steps
    try:
        with LocalThreadStore(root) as store:
            threads = [store.create_thread().id for _ in range(12)]
            errors: list[BaseException] = []

            def write(mine: list[str]) -> None:
                try:
                    for round_number in range(8):
                        for thread_id in mine:
                            store.append_message(thread_id, Message.user(f"r{round_number}"))
                except BaseException as error:
                    errors.append(error)

            shares = [threads[n::6] for n in range(6)]
            workers = [threading.Thread(target=write, args=(share,)) for share in shares]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert errors == []
            assert all(len(store.list_messages(t, limit=100).data) == 8 for t in threads)
    finally:
        sys.setswitchinterval(switching)


@contextmanager
def synced_files(fail: str | None = None) -> Iterator[list[str]]:
    """The names of the files ``os.fdatasync`` is called on meanwhile, in order (each
    still synced for real); with ``fail``, syncing a file of that name fails (EIO)."""
    real, names = os.fdatasync, []

    def spy(fd: int | HasFileno) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        names.append(name)
        if name == fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    os.fdatasync = spy
    try:
        yield names
    finally:
        os.fdatasync = real


def test_a_first_write_waits_for_the_line_that_created_its_thread_to_be_durable(
    root: Path,
) -> None:
    """A thread created by another process whose catalog line is written but not synced
    yet (its creator is paused before its fsync): the first write under it makes that
    line durable before its own, or a power loss could take the thread, and with it a
    write already acknowledged. A store that synced the line itself does not sync again,
    and if the sync fails, the write is refused with nothing stored."""
    with LocalThreadStore(root) as creator, LocalThreadStore(root) as writer:
        creator.catalog().sync = lambda what: None  # type: ignore[method-assign]
        paused = creator.create_thread().id
        with synced_files() as synced:
            writer.append_message(paused, Message.user("after a create not yet synced"))
        lists = [name for name in synced if name.endswith(".jsonl") and name != "catalog.jsonl"]
        assert synced.index("catalog.jsonl") < synced.index(lists[0])

        own = writer.create_thread().id
        with synced_files() as synced:
            writer.append_message(own, Message.user("after my own create"))
        assert "catalog.jsonl" not in synced
        assert any(name.endswith(".jsonl") for name in synced)  # its list's own sync

        another = creator.create_thread().id
        with synced_files(fail="catalog.jsonl"), pytest.raises(BackendError) as caught:
            writer.append_message(another, Message.user("not stored"))
        assert "nothing was stored" in str(caught.value)
        assert writer.list_messages(another).data == []
        writer.append_message(another, Message.user("stored"))
        assert [m.text for m in writer.list_messages(another).data] == ["stored"]


def test_open_files_stay_bounded(root: Path) -> None:
    store = LocalThreadStore(root, durable=False)
    before = len(os.listdir("/proc/self/fd"))
    threads = [store.create_thread() for _ in range(OPEN_LISTS + 40)]
    for thread in threads:
        store.append_message(thread.id, Message.user("x"))
    for thread in threads:
        assert store.list_messages(thread.id).data[0].text == "x"
    kinds = 1  # the directory of each top-level kind's lists stays open
    assert len(os.listdir("/proc/self/fd")) - before <= 2 * OPEN_LISTS + 2 + kinds
    store.close()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_message_from_a_deleted_run_is_still_listed_but_steps_are_not(
    store: LocalThreadStore,
) -> None:
    thread = store.create_thread()
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    message = store.append_message(thread.id, Message.user("x", run_id=run.id))
    store.append_step(thread.id, run.id, step_for(message.id))
    store._remove(RUNS, (thread.id,), run.id)  # no public call deletes a run
    with pytest.raises(RunNotFound):
        store.list_steps(thread.id, run.id)
    with pytest.raises(RunNotFound):
        store._remove(RUNS, (thread.id,), run.id)
    assert store.get_message(thread.id, message.id) == message
    with pytest.raises(MessageNotFound):
        store.get_message(thread.id, "msg_other")
    again = store.create_run(thread.id, Run(id=run.id, assistant_id="asst_1"))
    assert store.list_steps(thread.id, again.id).data == []  # the old steps went with it


# --- reads cost O(page), whatever the thread's length -------------------------

FILLER = "a message of a typical length: a sentence or two, as people write them."


def grow(store: LocalThreadStore, root: Path, what: str, count: int) -> tuple[str, str, list[str]]:
    """A thread holding ``count`` messages, runs or steps, written straight into its log.

    Going around the store keeps the test fast; the store then meets a log it has not
    indexed, which it must take in (that is tested here too).
    """
    thread = store.create_thread()
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    blank = "x" * 24
    model: Any
    kind: Kind[Any]
    under: tuple[str, ...]
    if what == "messages":
        model, kind, under, first = Message.user(FILLER, thread_id=thread.id), MESSAGES, (), 0
    elif what == "runs":
        model, kind, under, first = run, RUNS, (), 1
    else:
        model = step_for("msg_1").model_copy(
            update={"thread_id": thread.id, "run_id": run.id, "assistant_id": "asst_1"}
        )
        kind, under, first = STEPS, (run.id,), 0
    template = encode(model.model_copy(update={"id": blank}))
    ids = [f"{kind.singular[:3]}_{n:020d}"[:24].ljust(24, "0") for n in range(count)]
    lines = [
        make_line(
            "add",
            kind,
            under,
            record_id,
            first + n,
            template.replace(blank.encode(), record_id.encode()),
            version=RECORD_FORMAT,
        )
        for n, record_id in enumerate(ids)
    ]
    write_at_end(lists_of(root, thread.id), b"".join(lines))
    return thread.id, run.id, ([run.id] if what == "runs" else []) + ids


def forget_reads(store: LocalThreadStore) -> None:
    """Drop what the store's open journals remember of their files, so what is counted
    next is what an operation reads from disk."""
    for journal in [store._catalog, *store._lists.values()]:
        if journal is not None:
            journal.forget()


def page_costs(
    store: LocalThreadStore, what: str, thread_id: str, run_id: str, ids: list[str]
) -> dict[str, tuple[int, int, int]]:
    """Reads, bytes read and records decoded by each kind of page and by a get."""
    middle = ids[len(ids) // 2]
    lists: dict[str, Callable[..., object]] = {
        "messages": lambda **kw: store.list_messages(thread_id, **kw),
        "runs": lambda **kw: store.list_runs(thread_id, **kw),
        "steps": lambda **kw: store.list_steps(thread_id, run_id, **kw),
    }
    gets: dict[str, Callable[[], object]] = {
        "messages": lambda: store.get_message(thread_id, middle),
        "runs": lambda: store.get_run(thread_id, middle),
        "steps": lambda: store.get_step(thread_id, run_id, middle),
    }
    shapes: dict[str, Any] = {
        "newest": lambda: lists[what](limit=20),
        "oldest": lambda: lists[what](limit=20, order="asc"),
        "after asc": lambda: lists[what](limit=20, order="asc", after=middle),
        "after desc": lambda: lists[what](limit=20, after=middle),
        "before asc": lambda: lists[what](limit=20, order="asc", before=middle),
        "before desc": lambda: lists[what](limit=20, before=middle),
        "get": gets[what],
    }
    lists[what](limit=1)  # take in the log written around the store
    costs = {}
    for name, read in shapes.items():
        forget_reads(store)
        store.stats.reset()
        read()
        costs[name] = (store.stats.reads, store.stats.bytes_read, store.stats.records_decoded)
    return costs


def test_a_line_read_before_is_checked_again_against_the_position_asked_for(root: Path) -> None:
    """A page remembers what each line it read was checked to hold. Read again, a line is
    compared with the position and the list asked for now: a slot that leads position 1
    to position 0's line, or a run's position to a message, is found out as on a first
    read."""
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
        sent = [store.append_message(thread.id, Message.user(f"m{n}")) for n in range(3)]
        page = store.list_messages(thread.id, order="asc").data
        assert [m.id for m in page] == [m.id for m in sent]
        incarnation = store._incarnation(THREADS, thread.id)
        journal = store._open_list(incarnation, create=False)
        assert journal is not None
        try:
            with journal.locked(False):
                slots = local_entries.live_slots(journal, MESSAGES, (), 0, 1, 3, 3)
                assert all(slot.offset in journal.learned for _, slot in slots)
                again = local_entries.records_in(journal, MESSAGES, (), slots)
                assert [MESSAGES.parse_json(data or b"").id for data in again] == [
                    m.id for m in sent
                ]
                for kind, slot in ((MESSAGES, (1, slots[0][1])), (RUNS, (0, slots[0][1]))):
                    with pytest.raises(local_entries.IndexMismatch):
                        local_entries.records_in(journal, kind, (), [slot])
        finally:
            store._done_with(incarnation, journal)


@pytest.mark.parametrize(
    ("what", "big"), [("messages", 100_000), ("runs", 20_000), ("steps", 20_000)]
)
def test_a_page_costs_the_same_on_a_long_thread(root: Path, what: str, big: int) -> None:
    with LocalThreadStore(root, durable=False) as store:
        small_thread = grow(store, root, what, 100)
        large_thread = grow(store, root, what, big)
        small = page_costs(store, what, *small_thread)
        large = page_costs(store, what, *large_thread)
    with LocalThreadStore(root) as cold:  # a new opener reads the index from disk
        cold_costs = page_costs(cold, what, *large_thread)
    with lists_of(root, large_thread[0]).open("rb") as log:
        record_size = max(len(line) for line in log)
    for name in small:  # probes of a fuller table may read a second block: never O(thread)
        reads, size, decoded = large[name]
        assert decoded == small[name][2] <= 20, name  # the record after a page: not decoded
        assert reads <= 2 * small[name][0] + 8, name
        assert size <= 2 * small[name][1] + 4 * record_size + 8192, name
        assert cold_costs[name][2] == decoded, name
        assert cold_costs[name][0] <= 2 * reads + 8, name


def test_the_thread_list_costs_the_same_in_a_big_store(root: Path) -> None:
    with LocalThreadStore(root, durable=False) as store:
        first = [store.create_thread().id for _ in range(100)]
        store.stats.reset()
        store.list_threads(limit=20, after=first[50])
        small = (store.stats.reads, store.stats.records_decoded)
        many = [store.create_thread().id for _ in range(3000)]
        store.stats.reset()
        store.list_threads(limit=20, after=many[1500])
        large = (store.stats.reads, store.stats.records_decoded)
        store.stats.reset()
        page = store.list_threads(limit=20)
        assert [t.id for t in page.data] == many[::-1][:20]
    assert large[1] == small[1] == 20  # has_more comes from the next line, not decoded
    # A page probes one slot per thread on it, each a read or two: never O(threads).
    assert large[0] <= 3 * 21 + 10


@pytest.mark.parametrize(
    ("op", "kind", "under", "data", "more"),
    [
        ("add", MESSAGES, (), b'{"id":"msg_1"}', False),
        ("set", MESSAGES, (), b'{"id":"msg_1"}', True),
        ("del", MESSAGES, (), None, False),
        ("add", STEPS, ("run_1",), b'{"id":"msg_1"}', True),
        ("add", THREADS, (), b'{"id":"msg_1","more":true}', False),
    ],
)
def test_a_line_read_from_its_fixed_form_says_what_parsing_it_says(
    op: str, kind: Kind[Any], under: tuple[str, ...], data: bytes | None, more: bool
) -> None:
    from threadstore.backends.local.log import entry_about, entry_in

    line = make_line(op, kind, under, "msg_1", 1234, data, version=1 if data else None, more=more)
    parsed = entry_in(line, 77)
    assert parsed is not None
    assert entry_about(line, 77, kind, under, "msg_1", (op,)) == parsed
    assert entry_about(line, 77, kind, under, "msg_1", ("add", "set", "del")) == parsed
    for other in (
        ("msg_", kind, under),  # another ID, its prefix
        ("msg_12", kind, under),
        ("msg_1", RUNS if kind is not RUNS else MESSAGES, ()),  # another kind
    ):
        assert entry_about(line, 77, other[1], other[2], other[0], (op,)) is None
    wrong = tuple(o for o in ("add", "set", "del") if o != op)
    assert entry_about(line, 77, kind, under, "msg_1", wrong) is None
    padded = line.replace(b'{"seq":1234', b'{"seq":01234', 1)
    assert entry_about(padded, 77, kind, under, "msg_1", (op,)) is None

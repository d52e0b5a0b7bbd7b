"""The local-disk backend: the conformance suite, then what only a disk store must show.

On-disk format, recovery from torn writes and lost indexes, corruption reported with
its path, I/O errors kept apart from "not found", hostile IDs kept off the disk, and
reads whose cost does not grow with the thread (counted, not timed).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from threadstore import Message, Run, RunStep, Thread, open_store
from threadstore.backends import _local_index
from threadstore.backends._local_files import shared_lock
from threadstore.backends._local_log import make_line, scan
from threadstore.backends.local import (
    FORMAT,
    FORMAT_VERSION,
    OPEN_THREADS,
    LocalThreadStore,
)
from threadstore.errors import (
    BackendError,
    ConflictError,
    CorruptDataError,
    InvalidRequestError,
    MessageNotFound,
    NotFoundError,
    RunNotFound,
    ThreadNotFound,
)
from threadstore.records import RUNS, encode
from threadstore.testing import ThreadStoreConformance


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


def thread_dir(root: Path, thread_id: str) -> Path:
    return root / "threads" / thread_id


def log_lines(root: Path, thread_id: str) -> list[dict[str, Any]]:
    text = (thread_dir(root, thread_id) / "log.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def step_for(message_id: str) -> RunStep:
    return RunStep.model_validate(
        {
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            }
        }
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


def test_format_version_is_recorded_and_checked(root: Path) -> None:
    LocalThreadStore(root).close()
    marker = root / "threadstore.json"
    assert json.loads(marker.read_text()) == {"format": FORMAT, "version": FORMAT_VERSION}
    marker.write_text(json.dumps({"format": FORMAT, "version": FORMAT_VERSION + 1}))
    with pytest.raises(BackendError, match="version"):
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


# --- what is on disk ---------------------------------------------------------


def test_the_log_is_json_lines_holding_wire_objects(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread(Thread(metadata={"user": "u1"}))
    message = store.append_message(thread.id, Message.user("hello"))
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    step = store.append_step(thread.id, run.id, step_for(message.id))
    store.update_message(thread.id, message.id, metadata={"k": "v"})
    store.delete_message(thread.id, message.id)
    lines = log_lines(root, thread.id)
    assert [(line["op"], line["kind"], line["id"]) for line in lines] == [
        ("add", "thread", thread.id),
        ("add", "message", message.id),
        ("add", "run", run.id),
        ("add", "step", step.id),
        ("set", "message", message.id),
        ("del", "message", message.id),
    ]
    assert lines[0]["data"] == thread.model_dump(mode="json")
    assert lines[1]["data"] == message.model_dump(mode="json")
    assert lines[3]["run"] == run.id
    assert lines[4]["data"]["metadata"] == {"k": "v"}
    assert all(len(line["crc"]) == 8 for line in lines)


def test_deleting_a_message_appends_a_tombstone(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(50)]
    log = thread_dir(root, thread.id) / "log.jsonl"
    before = log.read_bytes()
    store.delete_message(thread.id, sent[10].id)
    after = log.read_bytes()
    assert after.startswith(before)  # nothing rewritten
    assert len(after) - len(before) < 200
    assert store.list_messages(thread.id, limit=100).data == [
        m for i, m in enumerate(sent[::-1]) if i != 39
    ]


def test_deleting_a_thread_removes_its_directory(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("x"))
    store.delete_thread(thread.id)
    assert os.listdir(root / "threads") == []


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
        calls = [
            lambda: store.create_thread(Thread.model_construct(id=bad)),
            lambda: store.get_thread(bad),
            lambda: store.update_thread(bad, metadata={"a": "b"}),
            lambda: store.delete_thread(bad),
            lambda: store.append_message(bad, Message.user("x")),
            lambda: store.append_message(thread.id, Message.model_construct(id=bad)),
            lambda: store.get_message(thread.id, bad),
            lambda: store.list_messages(bad),
            lambda: store.list_messages(thread.id, before=bad),
            lambda: store.create_run(thread.id, Run.model_construct(id=bad, assistant_id="a")),
            lambda: store.update_run(thread.id, bad, metadata={}),
            lambda: store.append_step(thread.id, bad, step_for("msg_1")),
            lambda: store.list_steps(thread.id, bad),
            lambda: store.get_step(thread.id, run.id, bad),
            lambda: store._thread_path(bad),  # the backend's own guard, behind the base's
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
    (root / "threads" / ".tmp-planted").symlink_to(outside)
    (root / "threads" / "thread_linked").symlink_to(root / "threads" / thread.id)
    with LocalThreadStore(root) as store:  # cleans up .tmp-* entries
        assert (outside / "precious").read_text() == "keep"
        assert not (root / "threads" / ".tmp-planted").exists()
        with pytest.raises(BackendError, match="thread_linked"):
            store.get_thread("thread_linked")


# --- corruption is reported, with its path ---------------------------------


def test_a_damaged_record_is_reported_with_its_path(store: LocalThreadStore, root: Path) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(3)]
    log = thread_dir(root, thread.id) / "log.jsonl"
    data = bytearray(log.read_bytes())
    data[data.index(b'"m1"') + 1] = ord("X")  # flip a byte inside a middle record
    log.write_bytes(bytes(data))
    with pytest.raises(CorruptDataError, match=str(log)):
        store.list_messages(thread.id)
    with pytest.raises(CorruptDataError, match=str(log)):
        store.get_message(thread.id, sent[1].id)
    with LocalThreadStore(root) as again:  # rebuilding the index meets it too
        (thread_dir(root, thread.id) / "index.bin").unlink()
        with pytest.raises(CorruptDataError, match=rf"{log} at byte \d+"):
            again.get_thread(thread.id)


def test_a_record_that_is_not_a_valid_model_is_reported(
    store: LocalThreadStore, root: Path
) -> None:
    thread = store.create_thread()
    log = thread_dir(root, thread.id) / "log.jsonl"
    with log.open("ab") as file:  # checksummed, but not a message
        file.write(make_line("add", "message", "msg_bad", 0, data=b'{"id":"msg_bad"}'))
    with pytest.raises(CorruptDataError, match=str(log)):
        store.list_messages(thread.id)


def test_a_thread_directory_without_its_log_is_reported(
    store: LocalThreadStore, root: Path
) -> None:
    store.create_thread(Thread(id="thread_a"))
    (root / "threads" / "thread_b").mkdir()
    with pytest.raises(CorruptDataError, match="thread_b"):
        store.list_threads()
    with pytest.raises(CorruptDataError, match="thread_b"):
        store.get_thread("thread_b")


# --- crash leftovers: torn tails, stale indexes, temp files ---------------


@pytest.mark.parametrize("tail", [b'{"op":"add","kind":"mess', b"\0" * 700, b"garbage\n\0\0"])
def test_an_unfinished_write_is_ignored_then_cut_off(
    store: LocalThreadStore, root: Path, tail: bytes
) -> None:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(3)]
    log = thread_dir(root, thread.id) / "log.jsonl"
    good = log.read_bytes()
    with log.open("ab") as file:
        file.write(tail)
    with LocalThreadStore(root) as again:
        assert [m.id for m in again.iter_messages(thread.id)] == [m.id for m in sent]
        more = again.append_message(thread.id, Message.user("after"))
    assert [m.id for m in store.iter_messages(thread.id)] == [m.id for m in sent] + [more.id]
    data = log.read_bytes()
    assert data.startswith(good)
    assert data[len(good) :].startswith(
        b'{"op":"add","kind":"message","id":"%s"' % more.id.encode()
    )
    fd = os.open(log, os.O_RDONLY)
    try:
        entries, end = scan(fd, 0, len(data), str(log), store.stats)
    finally:
        os.close(fd)
    assert (len(entries), end) == (5, len(data))


def test_a_line_written_but_not_indexed_is_picked_up(store: LocalThreadStore, root: Path) -> None:
    """A writer killed between its log write and its index update left a whole line."""
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("indexed"))
    late = Message.user("late", thread_id=thread.id)
    log = thread_dir(root, thread.id) / "log.jsonl"
    with log.open("ab") as file:
        file.write(make_line("add", "message", late.id, 1, data=encode(late)))
    assert store.get_message(thread.id, late.id) == late
    assert [m.text for m in store.iter_messages(thread.id)] == ["indexed", "late"]


def index_header(root: Path, thread_id: str) -> _local_index.Header:
    data = (thread_dir(root, thread_id) / "index.bin").read_bytes()
    header = _local_index.Header.unpack(data)
    assert header is not None
    return header


def rewrite_header(root: Path, thread_id: str, header: _local_index.Header) -> None:
    with (thread_dir(root, thread_id) / "index.bin").open("r+b") as file:
        file.write(header.pack())


def wipe_table(root: Path, thread_id: str) -> None:
    path = thread_dir(root, thread_id) / "index.bin"
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(128)
        file.write(b"\xff" * (size - 128))


def fill_thread(store: LocalThreadStore) -> tuple[Thread, list[Message]]:
    thread = store.create_thread()
    sent = [store.append_message(thread.id, Message.user(f"m{i}")) for i in range(200)]
    store.delete_message(thread.id, sent[5].id)
    return thread, sent[:5] + sent[6:]


@pytest.mark.parametrize("damage", ["missing", "garbage", "other boot, not clean", "truncated"])
def test_an_index_in_doubt_is_rebuilt_from_the_log(root: Path, damage: str) -> None:
    with LocalThreadStore(root) as store:
        thread, kept = fill_thread(store)
    index = thread_dir(root, thread.id) / "index.bin"
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(os.urandom(5000))
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[:100])
    else:  # written in another boot and never synced: a power loss may have torn it
        header = index_header(root, thread.id)
        header.boot, header.flags = b"\x01" * 16, 0
        rewrite_header(root, thread.id, header)
        wipe_table(root, thread.id)
    with LocalThreadStore(root) as store:
        assert [m.id for m in store.iter_messages(thread.id)] == [m.id for m in kept]
        assert store.get_message(thread.id, kept[100].id) == kept[100]
        assert index_header(root, thread.id).boot == _local_index.BOOT_ID


def test_a_clean_index_is_trusted_after_a_reboot(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread, kept = fill_thread(store)
    header = index_header(root, thread.id)
    assert header.flags & 1, "close() syncs the index and marks it clean"
    header.boot = b"\x01" * 16
    rewrite_header(root, thread.id, header)
    with LocalThreadStore(root) as store:
        store.stats.reset()
        assert store.get_message(thread.id, kept[-1].id) == kept[-1]
        assert store.stats.bytes_read < 2000  # no replay of the log


def test_leftover_temporary_files_are_removed_on_open(root: Path) -> None:
    with LocalThreadStore(root) as store:
        thread = store.create_thread()
    leftovers = [
        root / ".tmp-threadstore.json.0123",
        root / "threads" / ".tmp-0123",
        root / "threads" / ".tmp-deleted-4567",
    ]
    leftovers[0].write_text("{}")
    for directory in leftovers[1:]:
        directory.mkdir()
        (directory / "log.jsonl").write_text("partial")
    with shared_lock(str(root / "threadstore.lock")):  # a live writer is making some
        LocalThreadStore(root).close()
        assert all(path.exists() for path in leftovers)
    with LocalThreadStore(root) as store:
        assert not any(path.exists() for path in leftovers)
        assert store.list_thread_ids() == [thread.id]


def test_a_deleted_thread_whose_directory_stayed_is_gone(
    store: LocalThreadStore, root: Path
) -> None:
    """A deleter killed after its tombstone but before it moved the directory away."""
    thread = store.create_thread(Thread(id="thread_x", metadata={"v": "1"}))
    log = thread_dir(root, thread.id) / "log.jsonl"
    with log.open("ab") as file:
        file.write(make_line("del", "thread", thread.id, 0))
    with pytest.raises(ThreadNotFound):
        store.get_thread(thread.id)
    assert store.list_thread_ids() == []
    again = store.create_thread(Thread(id="thread_x", metadata={"v": "2"}))
    assert store.get_thread("thread_x") == again


# --- I/O errors are not "not found" -------------------------------------------


def test_io_errors_are_backend_errors(store: LocalThreadStore, root: Path) -> None:
    is_dir, is_file = store.create_thread(), store.create_thread()
    log = thread_dir(root, is_dir.id) / "log.jsonl"
    log.unlink()
    log.mkdir()  # EISDIR
    for path in thread_dir(root, is_file.id).iterdir():
        path.unlink()
    thread_dir(root, is_file.id).rmdir()
    thread_dir(root, is_file.id).write_text("")  # ENOTDIR
    with LocalThreadStore(root) as fresh:
        for thread_id in (is_dir.id, is_file.id):
            with pytest.raises(BackendError) as caught:
                fresh.get_thread(thread_id)
            assert not isinstance(caught.value, NotFoundError)
            assert thread_id in str(caught.value)
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


def test_open_files_stay_bounded(root: Path) -> None:
    store = LocalThreadStore(root, durable=False)
    before = len(os.listdir("/proc/self/fd"))
    threads = [store.create_thread() for _ in range(OPEN_THREADS + 40)]
    for thread in threads:
        store.append_message(thread.id, Message.user("x"))
    for thread in threads:
        assert store.list_messages(thread.id).data[0].text == "x"
    assert len(os.listdir("/proc/self/fd")) - before <= 2 * OPEN_THREADS
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
    if what == "messages":
        model, kind, run_field, first = Message.user(FILLER, thread_id=thread.id), "message", "", 0
    elif what == "runs":
        model, kind, run_field, first = run, "run", "", 1
    else:
        model = step_for("msg_1").model_copy(
            update={"thread_id": thread.id, "run_id": run.id, "assistant_id": "asst_1"}
        )
        kind, run_field, first = "step", run.id, 0
    template = encode(model.model_copy(update={"id": blank}))
    ids = [f"{kind[:3]}_{n:020d}"[:24].ljust(24, "0") for n in range(count)]
    lines = [
        make_line(
            "add",
            kind,
            record_id,
            first + n,
            run_field,
            template.replace(blank.encode(), record_id.encode()),
        )
        for n, record_id in enumerate(ids)
    ]
    with (thread_dir(root, thread.id) / "log.jsonl").open("ab") as file:
        file.write(b"".join(lines))
    return thread.id, run.id, ([run.id] if what == "runs" else []) + ids


def page_costs(
    store: LocalThreadStore, what: str, thread_id: str, run_id: str, ids: list[str]
) -> dict[str, tuple[int, int, int]]:
    """Reads, bytes read and records decoded by each kind of page and by a get."""
    middle = ids[len(ids) // 2]
    lists = {
        "messages": lambda **kw: store.list_messages(thread_id, **kw),
        "runs": lambda **kw: store.list_runs(thread_id, **kw),
        "steps": lambda **kw: store.list_steps(thread_id, run_id, **kw),
    }
    gets = {
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
        store.stats.reset()
        read()
        costs[name] = (store.stats.reads, store.stats.bytes_read, store.stats.records_decoded)
    return costs


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
    with (thread_dir(root, large_thread[0]) / "log.jsonl").open("rb") as log:
        record_size = max(len(line) for line in log)
    for name in small:
        reads, size, decoded = large[name]
        assert decoded == small[name][2] <= 21, name
        assert reads <= small[name][0] + 4, name
        assert reads <= 2 * 21 + 6, name
        assert size <= 21 * (record_size + 2 * 256) + 1024, name
        assert cold_costs[name][0] <= reads + 4, name

"""``check_storage``: what a writer that died mid-operation leaves in the bucket is found,
and a repair finishes or removes it without losing an acknowledged write.

Each leftover is made for real: a write refused by the fault proxy in front of moto stops
an operation at the exact step where a killed writer would stop; damage no writer makes
is written into the bucket directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from s3_bucket import bucket, chunks_of, read_object
from threadstore_fsspec import CHUNK_RECORDS, FsspecThreadStore, check
from threadstore_fsspec.testing import Fault, FaultPlan, FaultProxy

from threadstore import Message, Run, RunStep, open_store
from threadstore.errors import BackendError
from threadstore.integrity import verify_store


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as running:
        yield running


@pytest.fixture
def store(proxy: FaultProxy, make_s3_url: Callable[..., str]) -> Iterator[FsspecThreadStore]:
    """A fresh store reached through the proxy, with no retries: a refused write stops
    the operation right there."""
    opened = open_store(make_s3_url(proxy.url, max_attempts=1))
    assert isinstance(opened, FsspecThreadStore)
    with opened:
        yield opened


def refuse(proxy: FaultProxy, method: str, fragment: str) -> None:
    """From now on, answer 500 to every ``method`` request whose path has ``fragment``."""
    proxy.plan = FaultPlan(
        Fault.INTERNAL_ERROR,
        rate=1.0,
        eligible=lambda request: request.method == method and fragment in request.path,
    )


def checks(store: FsspecThreadStore, repair: bool = False) -> list[tuple[str, bool]]:
    return sorted((f.check, f.repaired) for f in store.check_storage(repair=repair))


def repaired_clean(store: FsspecThreadStore, *expected: str) -> None:
    """The check finds ``expected`` (one each), a repair fixes them, and then all is clean."""
    assert checks(store) == sorted((name, False) for name in expected)
    assert checks(store, repair=True) == sorted((name, True) for name in expected)
    assert checks(store) == []
    assert verify_store(store).ok


def url_of(store: FsspecThreadStore) -> str:
    return store._shown_as


def test_a_store_written_normally_has_no_findings(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("hi"))
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    store.append_step(thread.id, run.id, RunStep.model_validate(_creation(message.id)))
    store.delete_message(thread.id, store.append_message(thread.id, Message.user("x")).id)
    store.delete_thread(store.create_thread().id)
    assert store.check_storage(repair=False) == []
    report = verify_store(store)
    assert report.ok
    assert report.storage_checked


def test_an_append_that_stopped_after_its_claim_is_aborted(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    kept = store.append_message(thread.id, Message.user("kept"))
    stopped = Message.user("stopped after its claim")
    refuse(proxy, "PUT", "/messages/chunks/")
    with pytest.raises(BackendError):
        store.append_message(thread.id, stopped)
    proxy.plan = None
    repaired_clean(store, "dangling-claim")
    assert [m.text for m in store.iter_messages(thread.id)] == ["kept"]
    assert store.get_message(thread.id, kept.id) == kept
    again = store.append_message(thread.id, stopped)  # the ID is free again
    assert [m.id for m in store.iter_messages(thread.id)] == [kept.id, again.id]


def test_aborting_a_stopped_append_that_fills_the_chunk_leaves_the_pointer_right(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    store.append_messages(thread.id, [Message.user(f"{i}") for i in range(CHUNK_RECORDS - 1)])
    refuse(proxy, "PUT", "/messages/chunks/")
    with pytest.raises(BackendError):
        store.append_message(thread.id, Message.user("stopped after its claim"))
    proxy.plan = None
    repaired_clean(store, "dangling-claim")  # its abort entry is the chunk's last
    kept = store.append_message(thread.id, Message.user("starts the next chunk"))
    assert [m.id for m in store.list_messages(thread.id, limit=1).data] == [kept.id]
    assert checks(store) == []


def test_a_second_append_of_a_stopped_id_aborts_the_first(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    refuse(proxy, "PUT", "/messages/chunks/")
    with pytest.raises(BackendError):
        store.append_message(thread.id, Message.user("first try", id="msg_retried"))
    proxy.plan = None
    store.append_message(thread.id, Message.user("second try", id="msg_retried"))
    assert [m.text for m in store.iter_messages(thread.id)] == ["second try"]
    assert checks(store) == []


def test_a_tail_pointer_left_behind_is_moved_on(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    store.append_messages(thread.id, [Message.user(f"{i}") for i in range(CHUNK_RECORDS - 1)])
    refuse(proxy, "PUT", "/threads/chunks/")  # the thread's entry keeps the list's pointer
    store.append_message(thread.id, Message.user("fills the chunk; the pointer stays"))
    proxy.plan = None
    repaired_clean(store, "tail-hint-behind")
    texts = [m.text for m in store.list_messages(thread.id, limit=2).data]
    assert texts == ["fills the chunk; the pointer stays", f"{CHUNK_RECORDS - 2}"]


def test_what_a_deleted_thread_left_behind_is_removed(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("gone with the thread"))
    kept = store.create_thread()
    store.append_message(kept.id, Message.user("stays"))
    fs, root = bucket(url_of(store))
    refuse(proxy, "POST", "?delete")
    store.delete_thread(thread.id)  # deleted; its messages could not be removed
    proxy.plan = None
    assert fs.find(f"{root}threads/owned/{thread.id}/")
    repaired_clean(store, "orphaned-data")
    assert not fs.find(f"{root}threads/owned/{thread.id}/")
    assert [m.text for m in store.iter_messages(kept.id)] == ["stays"]


def test_steps_of_a_deleted_run_are_removed(store: FsspecThreadStore, proxy: FaultProxy) -> None:
    thread = store.create_thread()
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    store.append_step(thread.id, run.id, RunStep.model_validate(_creation("msg_1")))
    prefix, chunks = chunks_of(url_of(store), "threads", thread.id, "runs")
    entry = chunks[0][0]
    assert entry["id"] == run.id
    fs, _ = bucket(url_of(store))
    # a run deleted by a writer that died before it removed the run's steps
    key = f"{prefix}chunks/{0:012d}"
    stored = json.loads(fs.cat(key))
    tombstone = {"id": run.id, "t": entry["t"], "w": "x", "p": entry["w"], "deleted": True}
    stored["data"]["entries"] = [tombstone]
    fs.pipe(key, json.dumps(stored).encode())
    fresh = open_store(url_of(store), check_conditional_writes=False)
    with fresh:
        assert isinstance(fresh, FsspecThreadStore)
        repaired_clean(fresh, "orphaned-data")


def test_probe_leftovers_are_removed_only_when_old(
    proxy: FaultProxy, make_s3_url: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_s3_url(proxy.url, max_attempts=1)
    proxy.plan = FaultPlan(  # the probe's clean-up, not its conditional DELETE
        Fault.INTERNAL_ERROR,
        rate=1.0,
        eligible=lambda r: (
            r.method == "DELETE" and "/probe/" in r.path and "if-match" not in r.headers
        ),
    )
    with open_store(url) as opened:
        opened.create_thread()  # the probe passed; its clean-up failed
    proxy.plan = None
    with open_store(url) as opened:
        assert isinstance(opened, FsspecThreadStore)
        assert checks(opened, repair=True) == [("probe-leftover", False)]  # may be live
        monkeypatch.setattr(check, "PROBE_GRACE_SECONDS", 0.0)
        repaired_clean(opened, "probe-leftover")


def test_a_record_live_twice_keeps_the_claimed_one(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    first = store.append_message(thread.id, Message.user("first"))
    store.append_message(thread.id, Message.user("second"))
    fs, _ = bucket(url_of(store))
    prefix, _ = chunks_of(url_of(store), "threads", thread.id, "messages")
    key = f"{prefix}chunks/{0:012d}"
    stored = json.loads(fs.cat(key))
    stored["data"]["entries"].append(dict(stored["data"]["entries"][0], t="copied"))
    fs.pipe(key, json.dumps(stored).encode())
    fresh = open_store(url_of(store), check_conditional_writes=False)
    with fresh:
        assert isinstance(fresh, FsspecThreadStore)
        assert [m.id for m in fresh.iter_messages(thread.id)].count(first.id) == 2
        repaired_clean(fresh, "duplicate-record")
        assert [m.text for m in fresh.iter_messages(thread.id)] == ["first", "second"]


def test_a_record_without_a_claim_gets_one(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("orphan"))
    fs, _ = bucket(url_of(store))
    prefix, _ = chunks_of(url_of(store), "threads", thread.id, "messages")
    fs.rm(f"{prefix}ids/{message.id}")
    fresh = open_store(url_of(store), check_conditional_writes=False)
    with fresh:
        assert isinstance(fresh, FsspecThreadStore)
        repaired_clean(fresh, "unclaimed-record")
        assert fresh.get_message(thread.id, message.id) == message


def test_objects_of_the_old_layout_in_a_migrated_store_are_removed(
    store: FsspecThreadStore,
) -> None:
    store.create_thread()
    fs, root = bucket(url_of(store))
    fs.pipe(f"{root}thread-data/thread_x/0123456789abcdef/messages/head", b"{}")
    repaired_clean(store, "legacy-object")


def test_damage_no_writer_makes_is_reported_not_repaired(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("one"))
    fs, root = bucket(url_of(store))
    prefix, _ = chunks_of(url_of(store), "threads", thread.id, "messages")
    fs.pipe(f"{prefix}chunks/{3:012d}", fs.cat(f"{prefix}chunks/{0:012d}"))
    fs.pipe(f"{prefix}chunks/{4:012d}", b"not json")
    fs.pipe(f"{root}stray.txt", b"hello")
    found = checks(store, repair=True)
    assert ("chunk-gap", False) in found
    assert ("corrupt-object", False) in found
    assert ("unknown-object", False) in found
    assert fs.exists(f"{root}stray.txt")
    assert read_object(fs, f"{prefix}chunks/{3:012d}")


def _creation(message_id: str) -> dict[str, object]:
    return {
        "step_details": {
            "type": "message_creation",
            "message_creation": {"message_id": message_id},
        }
    }

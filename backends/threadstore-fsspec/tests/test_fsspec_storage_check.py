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
import s3fs
from threadstore_fsspec import FsspecThreadStore, check
from threadstore_fsspec.testing import Fault, FaultPlan, FaultProxy

from threadstore import Message, Run, RunStep, open_store
from threadstore.errors import BackendError, RunNotFound
from threadstore.integrity import verify_store
from threadstore.url import StoreURL


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


def bucket_files(store: FsspecThreadStore) -> tuple[s3fs.S3FileSystem, str]:
    """Direct access to the bucket, under the store's prefix (no threadstore code)."""
    url = StoreURL.parse(store._shown_as)
    fs = s3fs.S3FileSystem(endpoint_url=url.params["endpoint_url"], skip_instance_cache=True)
    return fs, f"{url.host}/{url.path.strip('/')}/"


def messages_prefix(store: FsspecThreadStore, thread_id: str) -> str:
    fs, root = bucket_files(store)
    generation = json.loads(fs.cat(f"{root}threads/{thread_id}"))["data"]["gen"]
    return f"{root}thread-data/{thread_id}/{generation}/messages/"


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


def test_a_claim_without_its_slot_is_placed_once(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    kept = store.append_message(thread.id, Message.user("kept"))
    refuse(proxy, "PUT", "/messages/seq/")
    with pytest.raises(BackendError):
        store.append_message(thread.id, Message.user("stopped after its claim"))
    proxy.plan = None
    repaired_clean(store, "dangling-claim")
    texts = [m.text for m in store.iter_messages(thread.id)]
    assert texts == ["kept", "stopped after its claim"]
    assert store.get_message(thread.id, kept.id) == kept


def test_slots_beyond_the_head_hint_are_found_and_the_hint_rewritten(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("one"))
    refuse(proxy, "PUT", "/messages/head")
    with pytest.raises(BackendError):
        store.append_message(thread.id, Message.user("two, hint not written"))
    proxy.plan = None
    repaired_clean(store, "head-hint-behind")
    assert [m.text for m in store.iter_messages(thread.id)] == ["one", "two, hint not written"]


def test_a_head_hint_past_the_last_slot_is_repaired(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("one"))
    fs, _ = bucket_files(store)
    hint = {"creator": "x", "writer": "x", "prev": None, "data": {"head": 40}}
    fs.pipe(messages_prefix(store, thread.id) + "head", json.dumps(hint).encode())
    fresh = open_store(store._shown_as, check_conditional_writes=False)
    with fresh:
        assert isinstance(fresh, FsspecThreadStore)
        repaired_clean(fresh, "head-hint-ahead")
        assert [m.text for m in fresh.list_messages(thread.id).data] == ["one"]


def test_a_deleted_generation_left_behind_is_removed(
    store: FsspecThreadStore, proxy: FaultProxy
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("gone with the thread"))
    kept = store.create_thread()
    store.append_message(kept.id, Message.user("stays"))
    refuse(proxy, "POST", "?delete")
    with pytest.raises(BackendError):
        store.delete_thread(thread.id)
    proxy.plan = None
    repaired_clean(store, "orphaned-generation")
    fs, root = bucket_files(store)
    assert not fs.find(f"{root}thread-data/{thread.id}/")
    assert [m.text for m in store.iter_messages(kept.id)] == ["stays"]


def test_steps_of_a_run_that_does_not_exist_are_removed(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    step = RunStep.model_validate({**_creation("msg_1"), "assistant_id": "asst_1"})
    with pytest.raises(RunNotFound):
        store.append_step(thread.id, "run_missing", step)
    repaired_clean(store, "orphaned-steps")


def test_probe_leftovers_are_removed_only_when_old(
    proxy: FaultProxy, make_s3_url: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_s3_url(proxy.url, max_attempts=1)
    refuse(proxy, "DELETE", "/probe/")
    with pytest.raises(BackendError):
        open_store(url)
    proxy.plan = None
    with open_store(url) as opened:
        assert isinstance(opened, FsspecThreadStore)
        assert checks(opened, repair=True) == [("probe-leftover", False)]  # may be live
        monkeypatch.setattr(check, "PROBE_GRACE_SECONDS", 0.0)
        repaired_clean(opened, "probe-leftover")


def test_a_record_in_two_slots_keeps_the_claimed_one(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    first = store.append_message(thread.id, Message.user("first"))
    store.append_message(thread.id, Message.user("second"))
    fs, _ = bucket_files(store)
    prefix = messages_prefix(store, thread.id)
    fs.pipe(f"{prefix}seq/{3:020d}", fs.cat(f"{prefix}seq/{1:020d}"))
    fs.pipe(f"{prefix}head", fs.cat(f"{prefix}head").replace(b'"head":2', b'"head":3'))
    assert [m.id for m in store.iter_messages(thread.id)].count(first.id) == 2
    repaired_clean(store, "duplicate-record")
    assert [m.text for m in store.iter_messages(thread.id)] == ["first", "second"]


def test_a_record_without_a_claim_gets_one(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("orphan"))
    fs, _ = bucket_files(store)
    fs.rm(f"{messages_prefix(store, thread.id)}id/{message.id}")
    fresh = open_store(store._shown_as, check_conditional_writes=False)
    with fresh:
        assert isinstance(fresh, FsspecThreadStore)
        repaired_clean(fresh, "unclaimed-record")
        assert fresh.get_message(thread.id, message.id) == message


def test_damage_no_writer_makes_is_reported_not_repaired(store: FsspecThreadStore) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("one"))
    fs, root = bucket_files(store)
    prefix = messages_prefix(store, thread.id)
    fs.pipe(f"{prefix}seq/{3:020d}", fs.cat(f"{prefix}seq/{1:020d}").replace(b"one", b"own"))
    fs.pipe(f"{prefix}seq/{4:020d}", b"not json")
    fs.pipe(f"{root}stray.txt", b"hello")
    found = checks(store, repair=True)
    assert ("slot-gap", False) in found
    assert ("corrupt-object", False) in found
    assert ("unknown-object", False) in found
    assert fs.exists(f"{root}stray.txt")


def _creation(message_id: str) -> dict[str, object]:
    return {
        "step_details": {
            "type": "message_creation",
            "message_creation": {"message_id": message_id},
        }
    }

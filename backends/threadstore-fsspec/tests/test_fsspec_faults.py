"""The probe fails closed; lost answers are reconciled; options are checked; no secret leaks."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from threadstore_fsspec import FsspecThreadStore
from threadstore_fsspec.probe import check_client
from threadstore_fsspec.testing import FaultProxy

from threadstore import Message, Run, open_store
from threadstore.errors import (
    AlreadyExistsError,
    BackendError,
    BackendNotFoundError,
    InvalidRequestError,
    ThreadNotFound,
)


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as running:
        yield running


@pytest.fixture
def url_via(proxy: FaultProxy, make_s3_url: Callable[..., str]) -> Callable[..., str]:
    """A fresh store reached through the proxy."""
    return lambda **options: make_s3_url(proxy.url, max_attempts=4, **options)


def test_probe_refuses_a_store_that_ignores_conditions(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    proxy.strip_conditions = True
    url = url_via()
    with open_store(url) as store:  # reading needs no conditions, and writes nothing
        assert store.list_threads().data == []
        assert {method for method, _ in proxy.requests} == {"GET"}
        with pytest.raises(BackendError, match="ignored If-None-Match"):
            store.create_thread()
    with pytest.raises(BackendError, match="ignored If-None-Match"):
        open_store(url, check_conditional_writes="always")


def test_probe_can_be_switched_off_explicitly(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    proxy.strip_conditions = True
    with open_store(url_via(check_conditional_writes="false")) as store:
        assert store.create_thread().id


def test_a_probe_that_passed_is_not_run_again(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    url = url_via()

    def probes() -> int:
        return sum("/probe/" in path for _, path in proxy.requests)

    with open_store(url) as store:
        store.create_thread()
    assert probes() == 6  # five checks and the clean-up
    proxy.requests.clear()
    with open_store(url) as store:
        store.create_thread()
    assert probes() == 0
    with open_store(url, check_conditional_writes="always"):
        assert probes() == 6


def test_probe_refuses_a_botocore_without_the_fields(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(s3_url, check_conditional_writes=False) as store:
        assert isinstance(store, FsspecThreadStore)
        client = store._run(store._objects.client)
        members = client.meta.service_model.operation_model("PutObject").input_shape.members
        monkeypatch.delitem(members, "IfNoneMatch")
        with pytest.raises(BackendError, match="does not know PutObject IfNoneMatch"):
            check_client(client)


@pytest.mark.parametrize("url", ["gs://bucket/x", "az://c/x", "abfs://c/x", "fsspec+memory://b/x"])
def test_only_s3_schemes_are_served(url: str) -> None:
    with pytest.raises(BackendNotFoundError, match="no backend for"):
        open_store(url)


def test_only_s3_schemes_are_listed() -> None:
    """``threadstore backends`` shows what works, and nothing else from this distribution."""
    script = Path(sys.executable).with_name("threadstore")
    listed = subprocess.run(
        [str(script), "backends", "--json"], capture_output=True, text=True, check=True
    )
    rows = json.loads(listed.stdout)
    ours = {row["scheme"] for row in rows if row["distribution"] == "threadstore-fsspec"}
    assert ours == {"s3", "s3a"}


def test_lost_answer_to_a_commit_is_reconciled(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    """The chunk PUT lands but its answer is lost; the retry sees 412, and the chunk
    shows the batch's token: committed once."""
    with open_store(url_via()) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("first"))
        proxy.lose_answer = lambda method, path, headers: (
            method == "PUT" and "/messages/chunks/" in path and not proxy.lost
        )
        sent = store.append_message(thread.id, Message.user("once"))
        store.append_message(thread.id, Message.user("twice"))
        assert proxy.lost
        assert [m.text for m in store.iter_messages(thread.id)] == ["first", "once", "twice"]
        assert store.get_message(thread.id, sent.id) == sent


def test_lost_answer_to_a_claim_is_reconciled(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    """The ID claim lands but its answer is lost: no AlreadyExistsError, no duplicate."""
    with open_store(url_via()) as store:
        thread = store.create_thread()
        proxy.lose_answer = lambda method, path, headers: (
            method == "PUT" and "/ids/msg_mine" in path and not proxy.lost
        )
        store.append_message(thread.id, Message.user("mine", id="msg_mine"))
        assert proxy.lost
        assert [m.id for m in store.iter_messages(thread.id)] == ["msg_mine"]
        with pytest.raises(AlreadyExistsError):
            store.append_message(thread.id, Message.user("again", id="msg_mine"))


def test_lost_answer_to_a_compare_and_set_is_reconciled(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    """The run's If-Match PUT lands but the answer is lost: the claim still reports a win."""
    with open_store(url_via()) as store:
        thread = store.create_thread()
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        proxy.lose_answer = lambda method, path, headers: (
            method == "PUT" and "if-match" in headers and not proxy.lost
        )
        moved = store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        assert proxy.lost
        assert moved.status == "in_progress"
        assert store.get_run(thread.id, run.id) == moved


def test_lost_answer_to_a_thread_delete_is_reconciled(
    proxy: FaultProxy, url_via: Callable[..., str]
) -> None:
    """The tombstone's If-Match PUT lands but its answer is lost: the retry sees 412, the
    entry names our write, and the caller who deleted it is told so, not "not found"."""
    with open_store(url_via()) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("gone"))
        proxy.lose_answer = lambda method, path, headers: (
            method == "PUT"
            and "/threads/chunks/" in path
            and "if-match" in headers
            and not proxy.lost
        )
        assert store.delete_thread(thread.id).deleted
        assert proxy.lost
        with pytest.raises(ThreadNotFound):
            store.get_thread(thread.id)


def test_unknown_options_and_bad_urls_are_refused(s3_url: str) -> None:
    with pytest.raises(InvalidRequestError, match="colour"):
        open_store(s3_url, colour="blue")
    with pytest.raises(InvalidRequestError, match="needs a bucket"):
        open_store("s3:///prefix")
    with pytest.raises(InvalidRequestError, match="prefix"):
        open_store("s3://bucket/a/../b")


def test_keyword_options_win_over_the_query(
    s3_endpoint: str, make_s3_url: Callable[..., str]
) -> None:
    with open_store(make_s3_url("http://127.0.0.1:9"), endpoint_url=s3_endpoint) as store:
        assert store.create_thread().id


SECRETS = ["AKIA-NOT-REAL-KEY-ID", "very-secret-access-key", "very-secret-session-token"]


def test_secrets_never_show(
    s3_endpoint: str, make_s3_url: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: botocore logs request headers at DEBUG
    key, secret, token = SECRETS
    with open_store(make_s3_url(s3_endpoint, key=key, secret=secret, token=token)) as store:
        shown = repr(store) + str(store)
        store.create_thread()
    dead = make_s3_url("http://127.0.0.1:9", max_attempts=1, connect_timeout=1)
    with pytest.raises(BackendError) as failure:
        open_store(dead, key=key, secret=secret, token=token)
    with pytest.raises(InvalidRequestError) as bad:
        open_store(make_s3_url(s3_endpoint, secret=secret), anon="not-a-bool")
    text = "\n".join([shown, str(failure.value), str(bad.value), caplog.text])
    assert "***" in shown
    for value in SECRETS:
        assert value not in text

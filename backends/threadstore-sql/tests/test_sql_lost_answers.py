"""A write whose acknowledgement is lost (the connection drops after the server
committed) is retried without becoming a duplicate or a false conflict.

:class:`~threadstore_sql.testing.AnswerDropper` sits between the store and the server
and cuts the connection right after a statement (or a COMMIT) went through.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sql_support import DATABASE, fresh_schema
from threadstore_sql.testing import AnswerDropper, PostgresServer

from threadstore import Message, Run, open_store
from threadstore.errors import AlreadyExistsError, ThreadNotFound
from threadstore.protocol import ThreadStore


@pytest.fixture
def dropper(pg_server: PostgresServer) -> Iterator[AnswerDropper]:
    proxy = AnswerDropper(pg_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def schema() -> str:
    return fresh_schema()


@pytest.fixture
def store(pg_server: PostgresServer, dropper: AnswerDropper, schema: str) -> Iterator[ThreadStore]:
    url = pg_server.url(DATABASE, port=dropper.port, schema=schema)
    with open_store(url, pool_min_size=1, pool_max_size=1) as opened:
        yield opened


def versions(server: PostgresServer, schema: str, kind: str) -> list[int]:
    with server.connect(DATABASE) as connection:
        rows = connection.execute(
            f'SELECT version FROM "{schema}".records WHERE kind = %s ORDER BY seq',  # noqa: S608
            [kind],
        ).fetchall()
    return [row[0] for row in rows]


def test_an_append_whose_answer_was_lost_is_stored_once(
    store: ThreadStore, dropper: AnswerDropper
) -> None:
    thread = store.create_thread()
    dropper.arm()
    message = store.append_message(thread.id, Message.user("once"))
    assert dropper.dropped == 1
    assert [m.id for m in store.iter_messages(thread.id)] == [message.id]


def test_a_create_whose_answer_was_lost_is_stored_once(
    store: ThreadStore, dropper: AnswerDropper
) -> None:
    dropper.arm()
    thread = store.create_thread()
    assert dropper.dropped == 1
    assert store.list_thread_ids() == [thread.id]


def test_a_taken_id_is_refused_even_when_the_refusal_was_lost(
    store: ThreadStore, dropper: AnswerDropper
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("first", id="msg_taken"))
    dropper.arm()
    with pytest.raises(AlreadyExistsError):
        store.append_message(thread.id, Message.user("second", id="msg_taken"))
    assert dropper.dropped == 1
    assert [m.text for m in store.iter_messages(thread.id)] == ["first"]


def test_a_claim_whose_answer_was_lost_is_won(store: ThreadStore, dropper: AnswerDropper) -> None:
    thread = store.create_thread()
    run = store.create_run(thread.id, Run(assistant_id="asst_1"))
    dropper.arm()
    claimed = store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
    assert dropper.dropped == 1
    assert claimed.status == "in_progress"
    assert store.get_run(thread.id, run.id) == claimed


def test_a_claim_and_an_append_are_one_round_trip_each(
    store: ThreadStore, dropper: AnswerDropper
) -> None:
    """Once prepared on the connection (its first use takes a round trip to prepare)."""
    thread = store.create_thread()
    runs = [store.create_run(thread.id, Run(assistant_id="asst_1")).id for _ in range(2)]
    for run_id in runs:
        before = dropper.statements
        store.update_run_status(thread.id, run_id, "in_progress", expected="queued")
        store.append_message(thread.id, Message.user("one"))
    assert dropper.statements - before == 2


def test_an_update_whose_answer_was_lost_is_applied_once(
    store: ThreadStore, dropper: AnswerDropper, pg_server: PostgresServer, schema: str
) -> None:
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("hi"))
    dropper.arm(skip=1)  # the read goes through; the conditional update's answer is lost
    updated = store.update_message(thread.id, message.id, metadata={"k": "v"})
    assert dropper.dropped == 1
    assert updated.metadata == {"k": "v"}
    assert versions(pg_server, schema, "messages") == [2]


def test_a_delete_whose_commit_answer_was_lost_is_done(
    store: ThreadStore, dropper: AnswerDropper
) -> None:
    thread = store.create_thread()
    store.append_message(thread.id, Message.user("gone with it"))
    dropper.arm(on_commit=True)
    store.delete_thread(thread.id)
    assert dropper.dropped == 1
    with pytest.raises(ThreadNotFound):
        store.get_thread(thread.id)

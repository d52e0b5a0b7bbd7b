"""Every failure the server can answer with becomes a threadstore error whose message
says what to do, never shows the password, and keeps the driver's exception as its cause."""

from __future__ import annotations

import socket
import threading

import psycopg
import pytest
from sql_support import DATABASE, fresh_schema
from threadstore_sql.testing import PostgresServer

from threadstore import Message, open_store
from threadstore.errors import BackendError, InvalidRequestError

SECRET = "s3cr3t-Pa55word"  # noqa: S105


def assert_clean(error: BaseException, *secrets: str) -> None:
    """Neither the error nor its cause shows a secret; the driver's error is the cause."""
    assert isinstance(error.__cause__, psycopg.Error), repr(error.__cause__)
    for secret in secrets:
        for text in (str(error), repr(error), str(error.__cause__), repr(error.__cause__)):
            assert secret not in text


@pytest.fixture
def role(pg_server: PostgresServer) -> str:
    """A login role with SECRET as its password and no privileges beyond connecting."""
    name = f"app_{fresh_schema()[2:10]}"
    pg_server.admin(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'")
    return name


def test_connection_refused(pg_server: PostgresServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = pg_server.url(DATABASE, password=SECRET, port=port)
    with pytest.raises(BackendError, match=r"connection refused\. Is the server running") as caught:
        open_store(url)
    assert_clean(caught.value, SECRET)


def test_bad_credentials(pg_server: PostgresServer) -> None:
    with pytest.raises(BackendError, match="check the credentials in the URL") as caught:
        open_store(pg_server.url(DATABASE, password=SECRET))
    assert_clean(caught.value, SECRET)


def test_missing_database(pg_server: PostgresServer) -> None:
    with pytest.raises(BackendError, match=r"does not exist.*createdb nowhere") as caught:
        open_store(pg_server.url("nowhere"))
    assert_clean(caught.value, pg_server.password)


def test_a_role_that_may_not_create_the_tables_is_told_how_to_proceed(
    pg_server: PostgresServer, role: str
) -> None:
    schema = fresh_schema()
    url = pg_server.url(DATABASE, user=role, password=SECRET, schema=schema)
    with pytest.raises(BackendError, match="threadstore migrate URL") as caught:
        open_store(url)
    assert_clean(caught.value, SECRET)
    open_store(pg_server.url(DATABASE, schema=schema)).close()  # an owner creates them
    pg_server.admin(f"GRANT USAGE ON SCHEMA {schema} TO {role}", database=DATABASE)
    with pytest.raises(BackendError, match="GRANT SELECT") as denied:
        open_store(url)
    assert_clean(denied.value, SECRET)
    pg_server.admin(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        database=DATABASE,
    )
    with open_store(url) as store:
        thread = store.create_thread()
        assert store.get_thread(thread.id) == thread


def test_a_statement_past_its_timeout_is_reported_and_writes_nothing(
    pg_server: PostgresServer, pg_url: str
) -> None:
    with open_store(pg_url, statement_timeout=0.3) as store:
        thread = store.create_thread()
        schema = pg_url.rsplit("schema=", 1)[1]
        holding, release = threading.Event(), threading.Event()

        def hold_the_message_list() -> None:
            with pg_server.connect(DATABASE) as connection:
                connection.execute("BEGIN")
                connection.execute(
                    f'SELECT 1 FROM "{schema}".heads WHERE scope = %s FOR UPDATE',  # noqa: S608
                    [thread.id],
                )
                holding.set()
                release.wait(30)

        holder = threading.Thread(target=hold_the_message_list)
        holder.start()
        try:
            assert holding.wait(30)
            with pytest.raises(BackendError, match=r"statement_timeout.*nothing was written"):
                store.append_message(thread.id, Message.user("late"))
        finally:
            release.set()
            holder.join(30)
        assert store.list_messages(thread.id).data == []


def test_a_serialization_failure_is_retried(pg_server: PostgresServer, pg_url: str) -> None:
    schema = pg_url.rsplit("schema=", 1)[1]
    with open_store(pg_url) as store:
        thread = store.create_thread()
        pg_server.admin(
            f'CREATE SEQUENCE "{schema}".tries',
            f"""CREATE FUNCTION "{schema}".fail_twice() RETURNS trigger AS $$
            BEGIN
                IF nextval('"{schema}".tries') <= 2 THEN
                    RAISE EXCEPTION 'injected' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""",
            f'CREATE TRIGGER fail BEFORE INSERT ON "{schema}".records '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".fail_twice()',
            database=DATABASE,
        )
        message = store.append_message(thread.id, Message.user("third time"))
        assert [m.id for m in store.iter_messages(thread.id)] == [message.id]


def test_options_are_checked_and_secrets_never_shown(pg_server: PostgresServer) -> None:
    with pytest.raises(InvalidRequestError, match="known options"):
        open_store(pg_server.url(DATABASE), colour="blue")
    with pytest.raises(InvalidRequestError):
        open_store(pg_server.url(DATABASE, schema="bad-name"))
    url = pg_server.url(DATABASE, schema=fresh_schema(), scheme="postgresql+psycopg")
    with open_store(url) as store:
        assert pg_server.password not in repr(store)
        assert "***" in repr(store)
        assert store.create_thread().object == "thread"

"""What is particular to ``sqlite://``: where the file is, the settings it runs with,
what it promises with each, and how a file that is not a store is reported."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from threadstore_sql.sqlite import MEMORY, database_path

from threadstore import Capability, Message, open_store
from threadstore.errors import BackendError, CorruptDataError, InvalidRequestError
from threadstore.url import StoreURL


def test_paths_follow_sqlalchemy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_path(StoreURL.parse("sqlite:///rel/x.db")) == str(tmp_path / "rel/x.db")
    assert database_path(StoreURL.parse("sqlite:////abs/x.db")) == "/abs/x.db"
    assert database_path(StoreURL.parse("sqlite://")) == MEMORY
    assert database_path(StoreURL.parse("sqlite:///:memory:")) == MEMORY
    with pytest.raises(BackendError, match="takes no host"):
        database_path(StoreURL.parse("sqlite://host/x.db"))


def test_a_file_store_runs_in_wal_with_full_sync(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        thread = store.create_thread()
        store.append_message(thread.id, Message.user("hi"))
        assert Capability.DURABLE in store.capabilities
    path = database_path(StoreURL.parse(sqlite_url))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT count(*) FROM records").fetchone() == (2,)


def test_weaker_sync_gives_up_durable_and_memory_promises_nothing(sqlite_url: str) -> None:
    with open_store(sqlite_url, synchronous="NORMAL") as store:
        assert Capability.DURABLE not in store.capabilities
        assert Capability.MULTI_PROCESS in store.capabilities
    with open_store("sqlite://") as store:
        assert store.capabilities == frozenset()
    with pytest.raises(InvalidRequestError, match="known options"):
        open_store(sqlite_url, synchronous="SOMETIMES")


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just words " * 100)
    with pytest.raises(BackendError, match=r"notes\.db"):
        open_store(f"sqlite:///{path}")


def test_the_directory_is_made(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'a' / 'b' / 'store.db'}") as store:
        store.create_thread()
    assert os.path.exists(tmp_path / "a" / "b" / "store.db")


def test_a_list_without_its_head_row_is_reported_not_looped_on(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        thread = store.create_thread()
        store._engine.query(  # type: ignore[attr-defined]
            "DELETE FROM {heads} WHERE kind = 'messages' AND scope = ?", [thread.id]
        )
        with pytest.raises(CorruptDataError, match="no row in the heads table"):
            store.append_message(thread.id, Message.user("lost"))

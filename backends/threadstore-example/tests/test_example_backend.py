"""The example backend passes the conformance suite, as any plugin's tests would show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from threadstore_example import JsonDirThreadStore

from threadstore.errors import CorruptDataError, InvalidRequestError
from threadstore.models import Message
from threadstore.registry import open_store
from threadstore.testing import ThreadStoreConformance


class TestJsonDirConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"example://{tmp_path}/store"


def test_a_thread_is_one_json_file(tmp_path: Path) -> None:
    store = open_store(f"example://{tmp_path}")
    assert isinstance(store, JsonDirThreadStore)
    thread = store.create_thread()
    message = store.append_message(thread.id, Message.user("hi"))
    document = json.loads((tmp_path / "threads" / f"{thread.id}.json").read_text())
    assert document["record"]["id"] == thread.id
    assert document["lists"] == {"messages": [message.model_dump(mode="json")], "runs": []}


@pytest.mark.parametrize("url", ["example://relative/path", "example://"])
def test_the_url_names_an_absolute_path(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="absolute path"):
        open_store(url)


def test_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="fsync"):
        open_store(f"example://{tmp_path}?fsync=1")


def test_a_damaged_file_is_reported(tmp_path: Path) -> None:
    store = open_store(f"example://{tmp_path}")
    thread = store.create_thread()
    (tmp_path / "threads" / f"{thread.id}.json").write_text("{not json")
    with pytest.raises(CorruptDataError, match=thread.id):
        store.get_thread(thread.id)

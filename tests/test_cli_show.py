"""``threadstore show`` on long threads, run in a subprocess: pages, a tail, streaming."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli_support import cli, data
from reliability.logfiles import records_of
from threadstore import Message, Run, RunStep, Thread, open_store

MESSAGES = 250
RUNS = 30


@pytest.fixture(scope="module")
def long_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A thread of 250 messages and 30 runs, each run with a step that wrote msg_answer."""
    url = f"file://{tmp_path_factory.mktemp('show') / 'store'}?durable=false"
    with open_store(url) as store:
        store.create_thread(Thread(id="thread_long"))
        for index in range(MESSAGES):
            store.append_message("thread_long", Message.user(f"text {index}", id=f"msg_{index}"))
        for index in range(RUNS):
            run = store.create_run("thread_long", Run(id=f"run_{index}", assistant_id="asst_1"))
            details = {"type": "message_creation", "message_creation": {"message_id": "msg_answer"}}
            store.append_step(
                "thread_long", run.id, RunStep(type="message_creation", step_details=details)
            )
    return url


def shown_ids(text: str, prefix: str) -> list[str]:
    """The IDs of the records listed (indented), not of titles or "More: ..." hints."""
    listed = "\n".join(line for line in text.splitlines() if line.startswith("  "))
    return re.findall(rf"\b({prefix}_\d+)\b", listed)


def test_show_prints_everything_oldest_first_by_default(long_store: str) -> None:
    result = cli("show", long_store, "thread_long")
    assert result.returncode == 0, result.stderr
    assert shown_ids(result.stdout, "msg") == [f"msg_{i}" for i in range(MESSAGES)]
    assert shown_ids(result.stdout, "run") == [f"run_{i}" for i in range(RUNS)]
    assert "More" not in result.stdout


def test_limit_and_after_page_through_each_list(long_store: str) -> None:
    first = cli("show", long_store, "thread_long", "--limit", "20")
    assert first.returncode == 0, first.stderr
    assert shown_ids(first.stdout.split("\nruns")[0], "msg") == [f"msg_{i}" for i in range(20)]
    assert "messages, the first 20, oldest first" in first.stdout
    more = re.findall(r"More messages: (threadstore show .*)", first.stdout)
    assert more == [f"threadstore show {long_store} thread_long --limit 20 --after msg_19"]
    assert f"More runs: threadstore show {long_store} thread_long --limit 20 --after run_19" in (
        first.stdout
    )

    seen: list[str] = []
    after = "msg_19"
    while after:
        page = cli("show", long_store, "thread_long", "--limit", "100", "--after", after)
        assert page.returncode == 0, page.stderr
        assert "\nruns" not in page.stdout  # --after a message pages the messages only
        seen += shown_ids(page.stdout, "msg")
        found = re.search(r"More messages: .* --after (msg_\d+)", page.stdout)
        after = found.group(1) if found else ""
    assert seen == [f"msg_{i}" for i in range(20, MESSAGES)]

    runs = cli("show", long_store, "thread_long", "--limit", "20", "--after", "run_19")
    assert shown_ids(runs.stdout, "run") == [f"run_{i}" for i in range(20, RUNS)]
    assert shown_ids(runs.stdout, "msg") == []
    assert "More" not in runs.stdout


def test_tail_shows_the_last_of_each_list_oldest_first(long_store: str) -> None:
    result = cli("show", long_store, "thread_long", "--tail", "3")
    assert result.returncode == 0, result.stderr
    messages, runs = result.stdout.split("\nruns")
    assert shown_ids(messages, "msg") == ["msg_247", "msg_248", "msg_249"]
    assert shown_ids(runs, "run") == ["run_27", "run_28", "run_29"]
    assert "the last 3" in result.stdout


def test_json_pages_too(long_store: str) -> None:
    page = data(cli("show", long_store, "thread_long", "--limit", "5", "--json"))
    assert page["thread"]["id"] == "thread_long"
    assert [m["id"] for m in page["messages"]] == [f"msg_{i}" for i in range(5)]
    assert [r["id"] for r in page["runs"]] == [f"run_{i}" for i in range(5)]
    assert [s["run_id"] for s in page["steps"]] == [f"run_{i}" for i in range(5)]
    runs = data(cli("show", long_store, "thread_long", "--after", "run_27", "--json"))
    assert set(runs) == {"thread", "runs", "steps"}
    assert [r["id"] for r in runs["runs"]] == ["run_28", "run_29"]
    empty = data(cli("show", long_store, "thread_long", "--after", "msg_249", "--json"))
    assert empty["messages"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--tail", "3", "--limit", "2"), "--tail cannot be combined"),
        (("--tail", "3", "--after", "msg_1"), "--tail cannot be combined"),
        (("--limit", "0"), "0 is not in the range"),
        (("--after", "step_1"), "'step_1' is neither a message nor a run"),
    ],
)
def test_bad_paging_is_a_usage_error(long_store: str, args: tuple[str, ...], says: str) -> None:
    result = cli("show", long_store, "thread_long", *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert result.stdout == ""


def test_show_streams_what_it_has_read_before_a_later_page_fails(tmp_path: Path) -> None:
    """A record damaged near the end of a long thread: the messages before it are printed
    as they are read, then the error stops the command (exit 4). Loading the whole
    thread first would print nothing."""
    url = f"file://{tmp_path / 'store'}"
    with open_store(url) as store:
        store.create_thread(Thread(id="thread_long"))
        for index in range(300):
            store.append_message("thread_long", Message.user(f"text {index}", id=f"msg_{index}"))
    (log,) = (tmp_path / "store").glob("lists/threads/*/thread_long.*.jsonl")
    lines = records_of(log).splitlines(keepends=True)
    lines[-10] = lines[-10].replace(b'"text 290"', b'"text 29!"')  # its checksum now fails
    log.write_bytes(b"".join(lines))

    result = cli("show", url, "thread_long")
    assert result.returncode == 4
    assert result.stderr.startswith("Error: ")
    printed = shown_ids(result.stdout, "msg")
    assert printed[:100] == [f"msg_{i}" for i in range(100)]
    assert "msg_290" not in printed

    as_json = cli("show", url, "thread_long", "--json")
    assert as_json.returncode == 4
    assert '"id": "msg_0"' in as_json.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(as_json.stdout)

"""``threadstore copy``, run in a subprocess: exact, resumable, idempotent, dry runs."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import CONVERSATION_ITEMS, SCRIPT, TIMEOUT, cli, cli_after, data, dump, fill
from threadstore import Message, Thread, open_store
from threadstore.snapshot import read_thread

NONE = dict.fromkeys(("thread", "message", "run", "step", "conversation", "item"), 0)
THREAD = {**NONE, "thread": 1, "message": 3, "run": 3, "step": 2}
CONVERSATIONS = {"conversation": 2, "item": CONVERSATION_ITEMS}
ALL_CREATED = {**NONE, "thread": 3, "message": 9, "run": 9, "step": 6, **CONVERSATIONS}


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"file://{tmp_path / 'source'}"
    with open_store(url) as store:
        fill(store)
    return url


@pytest.fixture
def target(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'target'}"


def same(source: str, target: str) -> bool:
    with open_store(source) as one, open_store(target) as two:
        return dump(one) == dump(two)


def test_copy_file_to_file_is_exact_and_idempotent(source: str, target: str) -> None:
    first = data(cli("copy", source, target, "--json"))
    assert first["ok"] is True
    assert (first["created"], first["unchanged"]) == (ALL_CREATED, NONE)
    assert same(source, target)
    with open_store(source) as one, open_store(target) as two:
        assert one.list_thread_ids() == two.list_thread_ids()  # creation order kept
    shown = [cli("show", url, "thread_cli_2", "--json").stdout for url in (source, target)]
    assert shown[0] == shown[1]
    again = data(cli("copy", source, target, "--json"))
    assert (again["created"], again["unchanged"]) == (NONE, ALL_CREATED)
    assert same(source, target)


def test_copy_memory_to_file(tmp_path: Path) -> None:
    target = tmp_path / "from-memory"
    result = cli_after(
        "from threadstore import open_store\nfrom cli_support import fill\n"
        "fill(open_store('memory://source'))",
        "copy",
        "memory://source",
        str(target),
        "--json",
    )
    assert data(result)["created"] == ALL_CREATED
    with open_store("memory://") as expected, open_store(target) as copied:
        fill(expected)
        assert dump(copied) == dump(expected)


def test_copy_a_subset_then_the_rest(source: str, target: str) -> None:
    subset = data(cli("copy", source, target, "--thread", "thread_cli_1", "--json"))
    assert subset["created"] == THREAD
    with open_store(target) as store:
        assert store.list_thread_ids() == ["thread_cli_1"]
    rest = data(cli("copy", source, target, "--json"))
    assert rest["created"] == {
        **THREAD,
        "thread": 2,
        "message": 6,
        "run": 6,
        "step": 4,
        **CONVERSATIONS,
    }
    assert rest["unchanged"] == THREAD
    assert same(source, target)


def test_copy_finishes_a_thread_an_interruption_left_half_done(source: str, target: str) -> None:
    with open_store(source) as origin, open_store(target) as store:
        snapshot = read_thread(origin, "thread_cli_0")
        store.create_thread(snapshot.thread)
        store.append_message("thread_cli_0", snapshot.messages[0])
        store.create_run("thread_cli_0", snapshot.runs[0])
        store.append_step("thread_cli_0", snapshot.runs[0].id, snapshot.steps[0])
    report = data(cli("copy", source, target, "--json"))
    assert report["unchanged"] == {**NONE, "thread": 1, "message": 1, "run": 1, "step": 1}
    assert report["created"] == {
        **NONE,
        "thread": 2,
        "message": 8,
        "run": 8,
        "step": 5,
        **CONVERSATIONS,
    }
    assert same(source, target)


@pytest.fixture
def big(tmp_path: Path) -> tuple[str, str]:
    """A source of 3 threads of 1000 messages, and a target beside it (no fsync)."""
    source = f"file://{tmp_path / 'big'}?durable=false"
    with open_store(source) as store:
        for number in range(3):
            thread = store.create_thread(Thread(id=f"thread_big_{number}"))
            for index in range(1000):
                store.append_message(thread.id, Message.user(f"message {index}"))
    return source, f"file://{tmp_path / 'half'}?durable=false"


def copy_logging(source: str, target: str, lines: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``copy --verbose``, which logs every record on stderr once it is written, and
    read its first ``lines`` lines, then stop reading: the pipe fills and the copy blocks
    long before its end (it has far more than a pipe's 64 KiB to log), so whatever the
    test does next lands mid-copy. The copy starts with SIGINT's default action, as a
    terminal's foreground command has it, even when these tests run with it ignored (a
    shell's background job does), which the copy would keep."""
    copying = subprocess.Popen(
        [str(SCRIPT), "copy", source, target, "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert copying.stderr is not None
    return copying, [copying.stderr.readline() for _ in range(lines)]


def copied_messages(target: str) -> tuple[int, int]:
    """Threads and messages in the target."""
    with open_store(target) as store:
        threads = store.list_thread_ids()
        return len(threads), sum(len(list(store.iter_messages(t))) for t in threads)


def test_copy_resumes_after_the_process_is_killed(big: tuple[str, str]) -> None:
    source, target = big
    copying, logged = copy_logging(source, target, 100)
    copying.kill()
    copying.communicate(timeout=TIMEOUT)
    _, copied = copied_messages(target)
    assert logged[0].startswith("created thread thread_big_0")
    assert all(line.startswith("created message") for line in logged[1:])
    assert 99 <= copied < 3000

    resumed = data(cli("copy", source, target, "--json"))
    assert resumed["created"]["message"] == 3000 - copied
    assert resumed["unchanged"]["message"] == copied
    assert same(source, target)
    assert cli("verify", target).returncode == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_a_finalizer_swallowed_is_raised_at_the_next_step() -> None:
    """Python drops an exception raised while a finalizer runs: a Ctrl-C that lands there
    would let the copy run to its end. The copy's loop raises it again at its next step."""
    from threadstore.cli.commands import _ctrl_c_remembered

    def closed_by_the_collector() -> Iterator[None]:
        try:
            yield
        finally:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the handler runs in here, and its exception is dropped
                pass

    ignored_or_not = signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal
    try:
        with _ctrl_c_remembered() as interrupted:
            interrupted()  # nothing pressed yet
            finalized = closed_by_the_collector()
            next(finalized)
            del finalized
            with pytest.raises(KeyboardInterrupt):
                interrupted()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, ignored_or_not)


def test_ctrl_c_says_what_was_copied_and_that_running_again_resumes(
    big: tuple[str, str],
) -> None:
    source, target = big
    copying, _ = copy_logging(source, target, 100)
    copying.send_signal(signal.SIGINT)  # as Ctrl-C does
    out, rest = copying.communicate(timeout=TIMEOUT)
    assert copying.returncode == 130
    assert out == ""
    threads, copied = copied_messages(target)
    assert 99 <= copied < 3000
    kinds = "1 thread" if threads == 1 else f"{threads} threads"
    assert f"Interrupted: copied {kinds}, {copied} messages." in rest
    assert "Run the same command again to finish" in rest

    resumed = data(cli("copy", source, target, "--json"))
    assert (resumed["created"]["message"], resumed["unchanged"]["message"]) == (
        3000 - copied,
        copied,
    )
    assert same(source, target)


def test_conflicts_are_reported_and_nothing_is_overwritten(source: str, target: str) -> None:
    with open_store(target) as store:
        store.create_thread(Thread(id="thread_cli_0", metadata={"mine": "yes"}))
        store.create_thread(
            Thread(
                id="thread_cli_1",
                created_at=1_700_000_001,
                metadata={"n": "1"},
                tool_resources={"code_interpreter": {"file_ids": ["file_1"]}},
            )
        )
        store.append_message("thread_cli_1", Message.user("only in the target", id="msg_extra"))
    result = cli("copy", source, target)
    assert result.returncode == 1
    assert "thread_cli_0: the target's thread differs" in result.stdout
    assert "messages of thread_cli_1 diverge here: it has 'msg_extra'" in result.stdout
    with open_store(target) as store:
        assert store.get_thread("thread_cli_0").metadata == {"mine": "yes"}
        assert [m.id for m in store.iter_messages("thread_cli_0")] == ["msg_z", "msg_y", "msg_x"]
        assert [m.id for m in store.iter_messages("thread_cli_1")] == ["msg_extra"]
        assert len(store.list_runs("thread_cli_1").data) == 3


def test_dry_run_writes_nothing(source: str, target: str, tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    planned = data(cli("copy", source, str(missing), "--dry-run", "--json"))
    assert planned["dry_run"] is True
    assert planned["created"] == ALL_CREATED
    assert not missing.exists()

    cli("copy", source, target, "--thread", "thread_cli_2")
    with open_store(target) as store:
        before = dump(store)
    planned = data(cli("copy", source, target, "--dry-run", "--json"))
    with open_store(target) as store:
        assert dump(store) == before
    done = data(cli("copy", source, target, "--json"))
    assert (planned["created"], planned["unchanged"]) == (done["created"], done["unchanged"])


def _read_terminal(fd: int) -> Iterator[bytes]:
    while select.select([fd], [], [], TIMEOUT)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed
            return
        if not chunk:
            return
        yield chunk


def _on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run the command line with stderr on a pseudo-terminal; returns what it showed there."""
    controller, terminal = pty.openpty()
    running = subprocess.Popen(
        [str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(terminal)
    try:
        shown = b"".join(_read_terminal(controller)).decode()
    finally:
        os.close(controller)
        out, _ = running.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(running.args, running.returncode, out), shown


def test_progress_counts_records_with_a_rate_and_time_left(tmp_path: Path) -> None:
    """One long thread: the bar counts its records, not the one thread."""
    source = f"file://{tmp_path / 'long'}?durable=false"
    with open_store(source) as store:
        thread = store.create_thread(Thread(id="thread_long"))
        for index in range(299):
            store.append_message(thread.id, Message.user(f"m{index}"))
    copied, shown = _on_a_terminal("copy", source, f"file://{tmp_path / 'copy'}?durable=false")
    assert copied.returncode == 0
    assert "copying records" in shown
    assert "300/300" in shown  # the thread and its 299 messages
    assert re.search(r"[\d,]+/s", shown), shown
    assert "ETA" in shown


def test_progress_bar_on_a_terminal(source: str, target: str) -> None:
    copied, shown = _on_a_terminal("copy", source, target)
    assert copied.returncode == 0
    total = sum(ALL_CREATED.values())  # threads, conversations and everything under them
    assert f"{total}/{total}" in shown


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("{dir}", "{dir}"),
        ("{dir}", "file://{dir}/"),
        ("file://{dir}?durable=false", "{link}"),
        ("memory://shared", "memory://shared"),
    ],
)
def test_a_copy_onto_itself_is_refused(tmp_path: Path, first: str, second: str) -> None:
    directory = tmp_path / "store"
    with open_store(directory) as store:
        fill(store, threads=1)
    (tmp_path / "link").symlink_to(directory)
    names = {"dir": str(directory), "link": str(tmp_path / "link")}
    result = cli("copy", first.format(**names), second.format(**names))
    assert result.returncode == 2
    assert "name the same store" in result.stderr
    assert "Copied" not in result.stdout


def test_a_failed_copy_creates_no_target(tmp_path: Path, source: str) -> None:
    target = tmp_path / "new"
    missing = cli("copy", source, str(target), "--thread", "thread_nope")
    assert missing.returncode == 3
    assert "thread 'thread_nope' not found" in missing.stderr
    empty = tmp_path / "empty"
    with open_store(empty):
        pass
    nothing = cli("copy", str(empty), str(target))
    assert nothing.returncode == 0, nothing.stderr
    assert not target.exists()


def test_copy_one_conversation_then_the_rest(source: str, target: str) -> None:
    one = data(cli("copy", source, target, "--conversation", "conv_cli_1", "--json"))
    assert one["created"] == {**NONE, "conversation": 1, "item": 3}
    with open_store(target) as store:
        assert [c.id for c in store.list_conversations().data] == ["conv_cli_1"]
        assert store.list_thread_ids() == []
    rest = data(cli("copy", source, target, "--json"))
    assert rest["unchanged"] == {**NONE, "conversation": 1, "item": 3}
    assert rest["created"]["item"] == CONVERSATION_ITEMS - 3
    assert same(source, target)
    missing = cli("copy", source, target, "--conversation", "conv_nope")
    assert missing.returncode == 3
    assert "conversation 'conv_nope' not found" in missing.stderr

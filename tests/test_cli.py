"""The ``threadstore`` console script, run in a subprocess: demo, backends, ls, show, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli, data, fill
from threadstore import Thread, open_store
from threadstore.snapshot import read_thread

COMMANDS = ("backends", "copy", "demo", "ls", "show", "verify")


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A local-disk store with three threads of every kind of record."""
    path = tmp_path / "store"
    with open_store(path) as store:
        fill(store)
    return path


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"  {command} " in result.stdout
    assert "Exit codes" in result.stdout


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys\nfrom threadstore.cli.commands import run\nrun(['--help'])\n"
        "heavy = {'pydantic', 'rich', 'stevedore'}\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("threadstore, version ")


def test_no_command_is_a_usage_error() -> None:
    assert cli().returncode == 2


def test_demo_into_the_default_folder(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "threadstore-demo").is_dir()
    assert str(tmp_path / "threadstore-demo") in result.stdout
    for status in ("queued", "in_progress", "completed", "message_creation", "has_more=true"):
        assert status in result.stdout
    listing = data(cli("ls", "threadstore-demo", "--json", cwd=tmp_path))
    [thread] = listing["data"]
    assert f"threadstore show threadstore-demo {thread['id']}" in result.stdout

    shown = data(cli("show", "threadstore-demo", thread["id"], "--json", cwd=tmp_path))
    messages, runs, steps = shown["messages"], shown["runs"], shown["steps"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert all(r["started_at"] and r["completed_at"] and r["usage"] for r in runs)
    answers = [m for m in messages if m["role"] == "assistant"]
    assert [a["run_id"] for a in answers] == [r["id"] for r in runs]
    assert [s["step_details"]["message_creation"]["message_id"] for s in steps] == [
        a["id"] for a in answers
    ]
    assert all(s["status"] == "completed" and s["type"] == "message_creation" for s in steps)
    assert cli("verify", "threadstore-demo", cwd=tmp_path).returncode == 0


def test_demo_into_memory_says_nothing_is_kept(tmp_path: Path) -> None:
    result = cli("demo", "--store", "memory://", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "keeps nothing" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_backends_lists_each_backend_and_one_that_fails_to_load(tmp_path: Path) -> None:
    info = tmp_path / "threadstore_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: threadstore-broken\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[threadstore.backends]\nbroken = threadstore_no_such_module:Store\n"
    )
    environment = {"PYTHONPATH": str(tmp_path)}
    rows = {row["scheme"]: row for row in data(cli("backends", "--json", env=environment))}
    assert rows["memory"]["distribution"] == "threadstore"
    assert rows["memory"]["capabilities"] == ["shared"]
    assert rows["memory"]["error"] is None
    assert {"persistent", "multi-process", "durable"} <= set(rows["file"]["capabilities"])
    assert rows["file"]["version"]
    assert rows["broken"]["distribution"] == "threadstore-broken"
    assert "ModuleNotFoundError" in rows["broken"]["error"]
    text = cli("backends", env=environment)
    assert text.returncode == 0
    assert "memory://" in text.stdout
    assert "failed to load" in text.stdout


def test_ls_pages_through_every_thread(store_dir: Path) -> None:
    seen: list[str] = []
    page = data(cli("ls", str(store_dir), "--limit", "2", "--order", "asc", "--json"))
    seen += [thread["id"] for thread in page["data"]]
    for _ in range(5):
        if not page["has_more"]:
            break
        page = data(
            cli(
                "ls",
                str(store_dir),
                "--limit",
                "2",
                "--order",
                "asc",
                "--after",
                page["last_id"],
                "--json",
            )
        )
        seen += [thread["id"] for thread in page["data"]]
    assert seen == ["thread_cli_0", "thread_cli_1", "thread_cli_2"]
    assert page["object"] == "list"


def test_ls_text_says_how_to_get_the_next_page(store_dir: Path) -> None:
    result = cli("ls", str(store_dir), "--limit", "2")
    assert result.returncode == 0
    assert "thread_cli_2" in result.stdout
    assert "thread_cli_0" not in result.stdout
    assert "--after thread_cli_1" in result.stdout


def test_show_json_is_the_wire_objects(store_dir: Path) -> None:
    shown = data(cli("show", str(store_dir), "thread_cli_1", "--json"))
    with open_store(store_dir) as store:
        assert shown == read_thread(store, "thread_cli_1").to_json()
    assert [m["id"] for m in shown["messages"]] == ["msg_z", "msg_y", "msg_x"]
    assert [s["id"] for s in shown["steps"]] == ["step_b", "step_a"]


def test_show_prints_stored_text_as_text(store_dir: Path) -> None:
    result = cli("show", str(store_dir), "thread_cli_0")
    assert result.returncode == 0
    out = result.stdout
    assert "plain [bold]markup[/bold]" in out
    assert "\x1b[" not in out  # no colour codes when not a terminal
    for shown in ("run_waiting", "requires_action", "server_error: boom", "-> msg_y", "function"):
        assert shown in out


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("show", "memory://", "thread_nope"), 3, "no thread or conversation 'thread_nope'"),
        (("show", "memory://", "../etc"), 2, "invalid thread id"),
        (("ls", "nosuch://x"), 2, "no backend for nosuch:// (installed: "),
        (("ls", "memory://x:notaport"), 2, "bad port"),
        (("ls", "memory://?colour=blue"), 2, "bad options for memory://"),
        (("copy", "memory://", "memory://", "--thread", "thread_nope"), 3, "not found"),
    ],
)
def test_errors_are_one_line_with_a_documented_code(
    args: tuple[str, ...], code: int, says: str
) -> None:
    result = cli(*args)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("Error: ")
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_a_bad_option_is_a_usage_error() -> None:
    result = cli("ls", "memory://", "--limit", "0")
    assert result.returncode == 2
    assert "0 is not in the range" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_local_store_is_not_found_and_not_created(tmp_path: Path) -> None:
    for args in (("ls",), ("verify",), ("show", "thread_1")):
        command, *rest = args
        result = cli(command, str(tmp_path / "nowhere"), *rest)
        assert result.returncode == 3
        assert "no store at" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_a_storage_failure_exits_4(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a store")
    result = cli("ls", str(tmp_path))
    assert result.returncode == 4
    assert "not a threadstore" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "not a store"


def test_secrets_in_urls_are_never_printed(tmp_path: Path) -> None:
    secret_url = "memory://user:hunter2@name?token=tok3n-value"
    failed = cli("ls", secret_url)
    assert failed.returncode == 2
    shown = cli("demo", "--store", "memory://user:hunter2@demo")
    assert shown.returncode == 0
    assert "memory://user:***@demo" in shown.stdout
    for result in (failed, shown):
        assert "hunter2" not in result.stdout + result.stderr
        assert "tok3n" not in result.stdout + result.stderr


@pytest.mark.parametrize("module", ["threadstore", "threadstore.cli"])
def test_python_dash_m_runs_the_same_cli(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "ls", "memory://", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["object"] == "list"
    usage = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert usage.stdout.startswith("Usage: threadstore ")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("file:/tmp/x", "file:///tmp/x"),
        ("s3:/bucket/p", "s3://bucket/p"),
        ("memory:/x", "memory://x"),
    ],
)
def test_a_url_typo_is_refused_and_creates_nothing(tmp_path: Path, typo: str, meant: str) -> None:
    for args in (("demo", "--store", typo), ("ls", typo), ("copy", "memory://", typo)):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert f"did you mean {meant}?" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_near_miss_scheme_says_what_was_meant() -> None:
    result = cli("ls", "memroy://")
    assert result.returncode == 2
    assert "no backend for memroy://" in result.stderr
    assert "did you mean memory://?" in result.stderr


def test_an_encoded_nul_is_bad_input(tmp_path: Path) -> None:
    result = cli("demo", "--store", f"file://{tmp_path}/x%00y")
    assert result.returncode == 2
    assert result.stderr == "Error: a store URL must not contain NUL, not even as %00\n"


def test_a_file_given_as_a_store_is_refused_alike_by_every_command(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a store")
    commands = [
        ("ls", str(notes)),
        ("show", str(notes), "thread_1"),
        ("verify", str(notes)),
        ("demo", "--store", str(notes)),
        ("demo", "--store", str(notes / "below")),
        ("copy", "memory://", str(notes)),
        ("copy", str(notes), "memory://"),
    ]
    for args in commands:
        result = cli(*args)
        assert result.returncode == 4, (args, result.stderr)
        assert f"{notes} is a file; expected a directory holding a threadstore" in result.stderr
    assert notes.read_text() == "not a store"


def test_install_hints_name_what_installs_today() -> None:
    """The hint for a scheme whose backend is not installed names a directory of this
    repository that holds a distribution serving that scheme."""
    import tomllib

    from threadstore.registry import INSTALL_HINTS

    root = Path(__file__).resolve().parent.parent
    for scheme, hint in INSTALL_HINTS.items():
        found = re.search(r"pip install \./(backends/[\w-]+)", hint)
        assert found, hint
        project = tomllib.loads((root / found.group(1) / "pyproject.toml").read_text())
        assert scheme in project["project"]["entry-points"]["threadstore.backends"]


def test_ls_conversations_lists_them_not_the_threads(store_dir: Path) -> None:
    page = data(cli("ls", str(store_dir), "--conversations", "--order", "asc", "--json"))
    assert [c["id"] for c in page["data"]] == ["conv_cli_0", "conv_cli_1"]
    assert all(c["object"] == "conversation" for c in page["data"])
    text = cli("ls", str(store_dir), "--conversations", "--limit", "1")
    assert text.returncode == 0
    assert "conv_cli_1" in text.stdout
    assert "thread_cli" not in text.stdout
    assert f"threadstore ls file://{store_dir} --conversations --limit 1" in text.stdout
    assert "--after conv_cli_1" in text.stdout


def test_show_a_conversation(store_dir: Path) -> None:
    shown = data(cli("show", str(store_dir), "conv_cli_1", "--json"))
    with open_store(store_dir) as store:
        assert shown["conversation"] == store.get_conversation("conv_cli_1").model_dump(mode="json")
        expected = [item.model_dump(mode="json") for item in store.iter_items("conv_cli_1")]
    assert shown["items"] == expected
    assert [item["id"] for item in shown["items"]] == ["msg_z", "msg_y", "fco_x"]
    text = cli("show", str(store_dir), "conv_cli_1", "--limit", "2")
    assert text.returncode == 0, text.stderr
    out = text.stdout
    for said in ("conversation conv_cli_1", "plain [bold]markup[/bold]", "an answer", "user"):
        assert said in out
    assert "fco_x" not in out
    assert (
        f"More items: threadstore show file://{store_dir} conv_cli_1 --conversation --limit 2 "
        "--after msg_y" in out
    )
    rest = data(
        cli("show", str(store_dir), "conv_cli_1", "--conversation", "--after", "msg_y", "--json")
    )
    assert [item["id"] for item in rest["items"]] == ["fco_x"]


def test_show_an_id_that_names_a_thread_and_a_conversation(tmp_path: Path) -> None:
    with open_store(tmp_path / "both") as store:
        fill(store, threads=0)
        store.create_thread(Thread(id="conv_cli_0"))
    as_thread = data(cli("show", str(tmp_path / "both"), "conv_cli_0", "--json"))
    assert as_thread["thread"]["id"] == "conv_cli_0"
    as_conversation = data(
        cli("show", str(tmp_path / "both"), "conv_cli_0", "--conversation", "--json")
    )
    assert as_conversation["conversation"]["id"] == "conv_cli_0"
    missing = cli("show", str(tmp_path / "both"), "conv_nope", "--conversation")
    assert missing.returncode == 3
    assert "conversation 'conv_nope' not found" in missing.stderr

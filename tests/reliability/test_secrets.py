"""Credentials in URLs and options never show: not in ``repr``/``str``, not in an error
(with its whole chain of causes), not in a log record at DEBUG from any library, not in
anything the command line prints.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cli_support import cli
from threadstore.errors import ThreadStoreError
from threadstore.integrity import verify_store
from threadstore.models import Message, Run, Thread
from threadstore.registry import open_store
from threadstore.url import StoreURL

from .figures import record
from .stores import BUCKET, KEY_ID, SECRET, TOKEN, s3_url

PASSWORD = "pw-Zq81-hunter2-pw"
OTHER = "0ther-s3cret-value-x"
SECRETS = (KEY_ID, SECRET, TOKEN, PASSWORD, OTHER)
CLOSED = "http://127.0.0.1:9"
"""Nothing listens on this port: an unreachable endpoint that stays on loopback."""


def shows_no_secret(text: str) -> None:
    for value in SECRETS:
        assert value not in text, (
            f"a credential shows: ...{text[max(0, text.find(value) - 60) :][:120]}"
        )
        assert quote(value, safe="") not in text


def full_text(error: BaseException) -> str:
    """The error as a traceback would print it, with every cause and context."""
    return "".join(traceback.format_exception(error))


SECRET_URLS = [
    f"s3://{BUCKET}/p?endpoint_url={CLOSED}&key={KEY_ID}&secret={SECRET}&token={TOKEN}",
    f"s3://user:{PASSWORD}@{BUCKET}/p",
    f"memory://admin:{PASSWORD}@name",
    f"file://u:{PASSWORD}@localhost/var/x?durable=true",
    f"custom://h/p?password={PASSWORD}&access_key={KEY_ID}&client_secret={OTHER}",
    f"custom://h/p?sas_token={TOKEN}&aws_secret_access_key={SECRET}&api_token={OTHER}",
    f"custom://h/p?db_password={PASSWORD}&private_key={OTHER}",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_a_parsed_url_never_shows_its_secrets(url: str) -> None:
    parsed = StoreURL.parse(url)
    shows_no_secret(repr(parsed) + str(parsed) + parsed.render() + f"{parsed!r}")
    assert "***" in parsed.render()


def failing_opens(s3_endpoint: str, tmp_path: Path) -> dict[str, Callable[[], object]]:
    """Opens that fail, each with credentials in its URL or options."""
    live = s3_url(s3_endpoint, token=TOKEN)
    return {
        "unreachable endpoint": lambda: open_store(
            s3_url(CLOSED, token=TOKEN, max_attempts=1, connect_timeout=0.5)
        ),
        "bucket that does not exist": lambda: open_store(
            live.replace(f"s3://{BUCKET}/", "s3://no-such-bucket-here/")
        ),
        "option of the wrong type": lambda: open_store(live + "&max_attempts=lots"),
        "credential of the wrong type": lambda: open_store(live, secret=[OTHER, SECRET]),
        "credential as a number": lambda: open_store(
            s3_url(s3_endpoint).replace(SECRET, "1234567"), secret={"value": OTHER}
        ),
        "unknown option holding a secret": lambda: open_store(live, colour=OTHER),
        "password in a memory URL": lambda: open_store(f"memory://u:{PASSWORD}@n?x={OTHER}"),
        "password in a file URL, remote host": lambda: open_store(
            f"file://u:{PASSWORD}@elsewhere{tmp_path}/store"
        ),
        "password in a file URL, bad option": lambda: open_store(
            f"file://u:{PASSWORD}@localhost{tmp_path}/store?durable={OTHER}"
        ),
        "password in an s3 URL, bad prefix": lambda: open_store(
            f"s3://k:{PASSWORD}@{BUCKET}/a/../b?secret={SECRET}"
        ),
        "unknown scheme": lambda: open_store(f"nosuch://u:{PASSWORD}@h/p?token={TOKEN}"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unreachable endpoint",
        "bucket that does not exist",
        "option of the wrong type",
        "credential of the wrong type",
        "credential as a number",
        "unknown option holding a secret",
        "password in a memory URL",
        "password in a file URL, remote host",
        "password in a file URL, bad option",
        "password in an s3 URL, bad prefix",
        "unknown scheme",
    ],
)
def test_errors_never_show_secrets(case: str, s3_endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ThreadStoreError) as failure:
        failing_opens(s3_endpoint, tmp_path)[case]()
    shows_no_secret(full_text(failure.value))


@pytest.fixture
def every_record(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Capture every logger at DEBUG; returns a function giving all of it as text."""
    caplog.set_level(logging.DEBUG)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def text() -> str:
        return "\n".join(formatter.format(item) for item in caplog.records)

    return text


def test_log_records_never_show_secrets(
    s3_endpoint: str, tmp_path: Path, every_record: Callable[[], str]
) -> None:
    url = s3_url(s3_endpoint, token=TOKEN)
    with open_store(url) as store:
        thread = store.create_thread(Thread())
        store.append_message(thread.id, Message.user("hello"))
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        store.update_run_status(thread.id, run.id, "in_progress", expected="queued")
        list(store.iter_messages(thread.id))
        assert verify_store(store, repair=True).ok
    with pytest.raises(ThreadStoreError):
        open_store(s3_url(CLOSED, token=TOKEN, max_attempts=2, connect_timeout=0.5))
    with open_store(f"file://u:{PASSWORD}@localhost{tmp_path}/local") as local:
        local.create_thread()
    with open_store(f"memory://u:{PASSWORD}@logs") as memory:
        memory.create_thread()
    text = every_record()
    assert "Sending http request" in text, "botocore's DEBUG records were not captured"
    shows_no_secret(text)
    record("secrets/logs", {"log records checked": text.count("\n") + 1})


@pytest.fixture
def cli_store(s3_endpoint: str) -> str:
    """An S3 store with one thread, reached by a URL full of credentials."""
    url = s3_url(quote(s3_endpoint, safe=""), token=TOKEN)
    with open_store(url) as store:
        store.create_thread(Thread(id="thread_cli"))
        store.append_message("thread_cli", Message.user("hi"))
    return url


def test_the_command_line_never_shows_secrets(cli_store: str, tmp_path: Path) -> None:
    dead = s3_url(quote(CLOSED, safe=""), token=TOKEN, max_attempts=1, connect_timeout=0.5)
    local = f"file://u:{PASSWORD}@localhost{tmp_path}/copy"
    runs = {
        "ls": cli("ls", cli_store),
        "show": cli("show", cli_store, "thread_cli"),
        "copy -v": cli("copy", cli_store, local, "-v"),
        "verify --repair": cli("verify", cli_store, "--repair", "--json"),
        "ls, unreachable": cli("ls", dead),
        "ls, memory password": cli("ls", f"memory://u:{PASSWORD}@m?bad={OTHER}"),
    }
    outcomes: dict[str, Any] = {name: run.returncode for name, run in runs.items()}
    assert outcomes["ls"] == outcomes["show"] == outcomes["copy -v"] == 0, runs["copy -v"].stderr
    assert outcomes["verify --repair"] == 0, runs["verify --repair"].stdout
    assert outcomes["ls, unreachable"] == 4
    assert outcomes["ls, memory password"] == 2
    for name, run in runs.items():
        shows_no_secret(f"{name}\n{run.stdout}\n{run.stderr}")
    assert "***" in runs["copy -v"].stdout + runs["copy -v"].stderr
    record("secrets/cli", {"command lines checked": len(runs)})

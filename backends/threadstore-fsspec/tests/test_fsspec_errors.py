"""What a user sees when opening or writing fails, through the API and through the
``threadstore`` command line in a subprocess: the first step that failed, what it needs
(the bucket, credentials, the endpoint), how to fix it, and never a secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import botocore.exceptions  # type: ignore[import-untyped]
import pytest
from s3_bucket import BUCKET
from threadstore_fsspec.testing import Fault, FaultPlan, FaultProxy

from threadstore import Message, Thread, open_store
from threadstore.errors import BackendError, InvalidRequestError
from threadstore.integrity import verify_store

CLOSED = "http://127.0.0.1:9"
"""Nothing listens on this port: an unreachable endpoint that stays on loopback."""
SCRIPT = Path(sys.executable).with_name("threadstore")
NO_CREDENTIALS = {
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""No credentials anywhere botocore looks (and no instance metadata service to ask)."""
_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def cli(*args: str, without_credentials: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed ``threadstore`` script, as a user would."""
    env = {**os.environ, **NO_CREDENTIALS}
    if without_credentials:
        for name in (*_CREDENTIAL_VARIABLES, "AWS_PROFILE"):
            env.pop(name, None)
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def quoted(url: str) -> str:
    """The URL with its endpoint percent-encoded, as a shell user writes it."""
    base, _, rest = url.partition("?endpoint_url=")
    endpoint, sep, others = rest.partition("&")
    return f"{base}?endpoint_url={quote(endpoint, safe='')}{sep}{others}" if rest else url


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as running:
        yield running


def test_an_unreachable_endpoint_is_named_with_the_fix(make_s3_url: Callable[..., str]) -> None:
    url = make_s3_url(CLOSED, max_attempts=1, connect_timeout=1)
    with pytest.raises(BackendError) as failure:
        open_store(url)
    message = str(failure.value)
    assert f"could not reach the object store at {CLOSED}" in message
    assert "endpoint_url" in message
    assert isinstance(failure.value.__cause__, botocore.exceptions.EndpointConnectionError)
    run = cli("ls", quoted(url))
    assert run.returncode == 4
    assert "could not reach the object store" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_bucket_is_named_with_the_fix(s3_endpoint: str) -> None:
    url = f"s3://no-such-bucket-here/p?endpoint_url={s3_endpoint}"
    with pytest.raises(BackendError) as failure:
        open_store(url)
    message = str(failure.value)
    assert "the bucket 'no-such-bucket-here' does not exist" in message
    assert "aws s3 mb s3://no-such-bucket-here" in message
    assert isinstance(failure.value.__cause__, botocore.exceptions.ClientError)
    run = cli("ls", quoted(url))
    assert run.returncode == 4
    assert "no-such-bucket-here' does not exist" in run.stderr


def test_missing_credentials_say_where_to_give_them(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in NO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in _CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BackendError) as failure:
        open_store(s3_url)
    message = str(failure.value)
    assert "no AWS credentials" in message
    assert "key= and secret=" in message
    assert "AWS_ACCESS_KEY_ID" in message
    assert isinstance(failure.value.__cause__, botocore.exceptions.NoCredentialsError)
    run = cli("ls", quoted(s3_url), without_credentials=True)
    assert run.returncode == 4
    assert "no AWS credentials" in run.stderr
    assert "key= and secret=" in run.stderr


def test_a_failing_probe_names_its_step_not_the_clean_up(
    proxy: FaultProxy, make_s3_url: Callable[..., str]
) -> None:
    url = make_s3_url(proxy.url, max_attempts=1)
    proxy.plan = FaultPlan(
        Fault.INTERNAL_ERROR, rate=1.0, eligible=lambda r: "/probe/" in r.path
    )  # every request of the probe fails, its clean-up too
    with open_store(url) as store, pytest.raises(BackendError) as failure:
        store.create_thread()
    message = str(failure.value)
    assert "the start-up probe's first write" in message
    assert "InternalError (HTTP 500)" in message
    assert "delete" not in message.replace("put and delete permission", "")
    assert isinstance(failure.value.__cause__, botocore.exceptions.ClientError)


def test_a_user_part_in_the_url_is_refused_naming_the_options(s3_endpoint: str) -> None:
    key, secret = "AKIAUSERPARTKEY1", "user-part-secret-value"
    url = f"s3://{key}:{secret}@{BUCKET}/p?endpoint_url={s3_endpoint}"
    with pytest.raises(InvalidRequestError) as failure:
        open_store(url)
    message = str(failure.value)
    assert "key=" in message
    assert "secret=" in message
    run = cli("ls", quoted(url))
    assert run.returncode == 2
    assert "key=" in run.stderr
    for shown in (message, run.stdout, run.stderr):
        assert key not in shown
        assert secret not in shown


def test_a_password_in_the_endpoint_is_refused_unseen(
    s3_endpoint: str, make_s3_url: Callable[..., str]
) -> None:
    hidden = "endpoint-pass-w0rd"
    endpoint = f"http://user:{hidden}@{s3_endpoint.removeprefix('http://')}"
    with pytest.raises(InvalidRequestError, match="endpoint_url takes no user") as failure:
        open_store(make_s3_url(s3_endpoint), endpoint_url=endpoint)
    assert hidden not in str(failure.value)


def test_credentials_in_client_options_never_reach_a_log(
    s3_endpoint: str, make_s3_url: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: botocore logs requests at DEBUG
    key, secret = "AKIACLIENTKWARGS1", "client-kwargs-s3cret"
    client = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    with open_store(make_s3_url(s3_endpoint), client_kwargs=client) as store:
        store.create_thread()
    assert "Sending http request" in caplog.text, "botocore's DEBUG records were not captured"
    assert key not in caplog.text
    assert secret not in caplog.text


def test_reading_never_writes(proxy: FaultProxy, make_s3_url: Callable[..., str]) -> None:
    """Opening, listing, showing and verifying send only GETs, from the API and from the
    command line; opening a probed store is one of them."""
    url = make_s3_url(proxy.url)
    with open_store(url) as store:
        store.create_thread(Thread(id="thread_read"))
        store.append_message("thread_read", Message.user("hi"))
    proxy.requests.clear()
    with open_store(url) as store:
        assert len(proxy.requests) == 1
        assert [t.id for t in store.list_threads().data] == ["thread_read"]
        assert [m.text for m in store.list_messages("thread_read").data] == ["hi"]
        assert verify_store(store).ok
    for command in (["ls"], ["show", "thread_read"], ["verify"]):
        run = cli(command[0], quoted(url), *command[1:])
        assert run.returncode == 0, run.stderr
    assert {method for method, _ in proxy.requests} == {"GET"}

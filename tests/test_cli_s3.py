"""``threadstore copy`` between local disk and S3 (a moto server on 127.0.0.1), both ways."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from cli_support import CONVERSATION_ITEMS, cli, data, dump, fill
from threadstore import open_store

BUCKET = "threadstore-cli-tests"
KEY, SECRET = "cli-key-id", "cli-s3cr3t-value"
# The subprocess must never find real credentials or endpoints, only the ones in the URL.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "unused",
    "AWS_SECRET_ACCESS_KEY": "unused",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def test_copy_file_to_s3_and_back(s3_endpoint: str, tmp_path: Path) -> None:
    source, back = tmp_path / "source", tmp_path / "back"
    with open_store(source) as store:
        fill(store, threads=1)
    bucket_url = (
        f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={quote(s3_endpoint, safe='')}"
        f"&key={KEY}&secret={SECRET}"
    )
    there = cli("copy", str(source), bucket_url, env=ENVIRONMENT)
    assert there.returncode == 0, there.stderr
    assert "secret=***" in there.stdout
    returned = data(cli("copy", bucket_url, str(back), "--json", env=ENVIRONMENT))
    assert returned["created"] == {
        "thread": 1,
        "message": 3,
        "run": 3,
        "step": 2,
        "conversation": 2,
        "item": CONVERSATION_ITEMS,
    }
    assert SECRET not in there.stdout + there.stderr + str(returned)
    with open_store(source) as original, open_store(back) as copied:
        assert dump(copied) == dump(original)

"""One moto S3 server per test session on 127.0.0.1, and a fresh prefix per test.

Dummy AWS credentials replace the environment's before anything else, so no request can
reach real AWS, unless ``THREADSTORE_TEST_S3_URL`` asks for a real endpoint (then the
environment's credentials are kept for it; moto tests still only talk to 127.0.0.1).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from s3_bucket import BUCKET
from threadstore_fsspec.testing import moto_server, use_dummy_credentials

if not os.environ.get("THREADSTORE_TEST_S3_URL"):
    use_dummy_credentials()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server with the test bucket in it."""
    with moto_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture
def make_s3_url() -> Callable[..., str]:
    """``make_s3_url(endpoint, **options)``: the URL of a fresh, empty store there."""

    def make(endpoint: str, **options: object) -> str:
        query = "".join(f"&{name}={value}" for name, value in options.items())
        return f"s3://{BUCKET}/{uuid.uuid4().hex}?endpoint_url={endpoint}{query}"

    return make


@pytest.fixture
def s3_url(s3_endpoint: str, make_s3_url: Callable[..., str]) -> str:
    """A fresh, empty store on the moto server."""
    return make_s3_url(s3_endpoint)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_s3: runs against THREADSTORE_TEST_S3_URL; deselected when it is unset"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip, not pass) the real-endpoint tests when no endpoint is given."""
    if os.environ.get("THREADSTORE_TEST_S3_URL"):
        return
    deselected = [item for item in items if item.get_closest_marker("real_s3")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("real_s3")]

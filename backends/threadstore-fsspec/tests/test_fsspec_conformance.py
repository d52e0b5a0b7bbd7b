"""The whole conformance suite against S3: a moto server on loopback, and optionally a real
endpoint named by ``THREADSTORE_TEST_S3_URL`` (deselected when it is not set)."""

from __future__ import annotations

import os
import uuid

import pytest

from threadstore.testing import ThreadStoreConformance
from threadstore.url import StoreURL

REAL_S3 = os.environ.get("THREADSTORE_TEST_S3_URL")


class TestS3Conformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, s3_url: str) -> str:
        return s3_url


@pytest.mark.real_s3
class TestRealS3Conformance(ThreadStoreConformance):
    """Runs only when ``THREADSTORE_TEST_S3_URL`` (and credentials) are in the environment."""

    @pytest.fixture
    def store_url(self) -> str:
        assert REAL_S3, "THREADSTORE_TEST_S3_URL is not set"
        return StoreURL.parse(REAL_S3).joinpath(uuid.uuid4().hex).render(hide_secrets=False)

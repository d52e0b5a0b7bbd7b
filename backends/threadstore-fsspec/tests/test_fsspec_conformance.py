"""The whole conformance suite against S3: a moto server on loopback, and optionally a real
endpoint named by ``THREADSTORE_TEST_S3_URL`` (deselected when it is not set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.testing import ThreadStoreConformance, stateful
from threadstore.url import StoreURL

REAL_S3 = os.environ.get("THREADSTORE_TEST_S3_URL")


class TestS3Conformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, s3_url: str) -> str:
        return s3_url

    @pytest.fixture
    def stateful_settings(self) -> settings:
        """Every state-machine step is several HTTP round trips: a smaller default budget."""
        return stateful.profile(default="quick")

    @pytest.fixture
    def new_location(
        self, store_url: str, open_options: dict[str, Any]
    ) -> Callable[[], Callable[[], ThreadStore]]:
        """Fresh prefixes on the moto server, opened without the start-up probe (the probe
        has tests of its own; the state machine reopens its store many times)."""
        options = {**open_options, "check_conditional_writes": False}

        def make() -> Callable[[], ThreadStore]:
            url = StoreURL.parse(store_url).joinpath(f"sm{uuid.uuid4().hex[:12]}")
            return lambda: open_store(url, **options)

        return make


@pytest.mark.real_s3
class TestRealS3Conformance(ThreadStoreConformance):
    """Runs only when ``THREADSTORE_TEST_S3_URL`` (and credentials) are in the environment."""

    @pytest.fixture
    def store_url(self) -> str:
        assert REAL_S3, "THREADSTORE_TEST_S3_URL is not set"
        return StoreURL.parse(REAL_S3).joinpath(uuid.uuid4().hex).render(hide_secrets=False)

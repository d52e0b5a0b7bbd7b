"""The suite against the store named by ``--threadstore-url`` (see the plugin)."""

from __future__ import annotations

import uuid

import pytest

from threadstore.testing.conformance import ThreadStoreConformance
from threadstore.url import StoreURL


class TestStoreAtURL(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, request: pytest.FixtureRequest) -> str:
        base = request.config.getoption("--threadstore-url")
        if base is None:
            pytest.skip("give --threadstore-url=URL to run the suite against a store")
        return StoreURL.parse(base).joinpath(f"t{uuid.uuid4().hex[:12]}").render(hide_secrets=False)

"""The local-disk backend against the whole conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstore.testing import ThreadStoreConformance


class TestLocalConformance(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path / 'store'}"

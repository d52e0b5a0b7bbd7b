"""``ThreadStoreConformance``: the behaviour every backend must show, as pytest tests.

A backend's test module subclasses it and says where a fresh store lives::

    from threadstore.testing import ThreadStoreConformance

    class TestMyBackend(ThreadStoreConformance):
        @pytest.fixture
        def store_url(self, tmp_path):
            return f"mybackend://{tmp_path}"

The suite opens ``store_url`` for each test and opens it again to check what another
store object (or a reopened store) sees. Tests that need a capability the backend does
not declare (``Capability.PERSISTENT``, ``MULTI_PROCESS``...) are skipped with that
reason; tests of what a backend declares are never skipped.

The suite is split by area, one class per module (``ThreadTests`` in ``threads``,
``MessageTests`` in ``messages``, ``ConversationTests`` in ``conversations``...), each
deriving from ``ConformanceFixtures``; a test
class that subclasses one area runs that area alone.
"""

from __future__ import annotations

from threadstore.testing.capabilities import CapabilityTests
from threadstore.testing.concurrency import ConcurrencyTests
from threadstore.testing.conversations import ConversationTests
from threadstore.testing.messages import MessageTests
from threadstore.testing.pagination import PaginationTests
from threadstore.testing.persistence import PersistenceTests
from threadstore.testing.runs import RunTests
from threadstore.testing.state_machine import StateMachineTests
from threadstore.testing.steps import StepTests
from threadstore.testing.threads import ThreadTests
from threadstore.testing.validation import ValidationTests

__all__ = ["SUITE_VERSION", "ThreadStoreConformance"]

SUITE_VERSION = "1.3"
"""Bumped when the suite tightens; see the changelog in docs/writing-a-backend.md."""


class ThreadStoreConformance(
    ConcurrencyTests,
    StateMachineTests,
    ConversationTests,
    PersistenceTests,
    CapabilityTests,
    ValidationTests,
    StepTests,
    RunTests,
    PaginationTests,
    MessageTests,
    ThreadTests,
):
    """The whole suite. Override ``store_url``; nothing else is required.

    pytest collects the last base first: the areas are listed last to first so that
    threads run first and the slow races last.
    """

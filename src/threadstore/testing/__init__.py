"""The conformance suite every backend runs, shipped with the package.

Subclass :class:`ThreadStoreConformance` in a test module and override its
``store_url`` fixture, or run the whole suite against any URL with::

    pytest --threadstore-url=URL --pyargs threadstore.testing

Each area of the suite is a class of its own (``MessageTests``, ``RunTests``...);
subclass one to run that area alone.
"""

from threadstore.testing.capabilities import CapabilityTests
from threadstore.testing.concurrency import ConcurrencyTests
from threadstore.testing.conformance import SUITE_VERSION, ThreadStoreConformance
from threadstore.testing.conversations import ConversationTests
from threadstore.testing.fixtures import ConformanceFixtures
from threadstore.testing.messages import MessageTests
from threadstore.testing.pagination import PaginationTests
from threadstore.testing.persistence import PersistenceTests
from threadstore.testing.runs import RunTests
from threadstore.testing.state_machine import StateMachineTests
from threadstore.testing.steps import StepTests
from threadstore.testing.threads import ThreadTests
from threadstore.testing.validation import ValidationTests

__all__ = [
    "SUITE_VERSION",
    "CapabilityTests",
    "ConcurrencyTests",
    "ConformanceFixtures",
    "ConversationTests",
    "MessageTests",
    "PaginationTests",
    "PersistenceTests",
    "RunTests",
    "StateMachineTests",
    "StepTests",
    "ThreadStoreConformance",
    "ThreadTests",
    "ValidationTests",
]

"""``CapabilityTests``: what a store declares is ``Capability`` members that hang together.

A claim brings the claims it implies (``MULTI_HOST`` needs ``MULTI_PROCESS``, which
needs ``SHARED``; ``DURABLE`` needs ``PERSISTENT``). That the store keeps each promise
is proved where the promise matters: the persistence and concurrency areas.
"""

from __future__ import annotations

from threadstore.protocol import Capability, ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures

__all__ = ["CapabilityTests"]


class CapabilityTests(ConformanceFixtures):
    """Capabilities: declared claims are consistent."""

    def test_declared_capabilities_are_consistent(self, store: ThreadStore) -> None:
        """Capabilities are Capability members, and a claim brings the ones it implies.

        A store object may claim less than its class (an option such as ``durable=false``
        gives a promise up); ``open_store(require=)`` checks the object it opened.
        """
        declared = set(store.capabilities)
        assert all(isinstance(c, Capability) for c in declared)
        implies = {
            Capability.MULTI_HOST: Capability.MULTI_PROCESS,
            Capability.MULTI_PROCESS: Capability.SHARED,
            Capability.DURABLE: Capability.PERSISTENT,
        }
        for claim, needed in implies.items():
            if claim in declared:
                assert needed in declared, f"{claim.value!r} implies {needed.value!r}"

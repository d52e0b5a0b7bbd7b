"""``StateMachineTests``: random operation sequences agree with the memory model.

One test runs :class:`threadstore.testing.stateful.ThreadStoreStateMachine` (see that
module) against a fresh location per example: every record and error class is compared
with a private memory store, and every page with a brute-force oracle.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings

from threadstore.protocol import ThreadStore
from threadstore.testing import stateful
from threadstore.testing.fixtures import ConformanceFixtures

__all__ = ["StateMachineTests"]


class StateMachineTests(ConformanceFixtures):
    """The state machine, on the budget of the ``stateful_settings`` fixture."""

    def test_state_machine(
        self,
        new_location: Callable[[], Callable[[], ThreadStore]],
        stateful_settings: settings,
    ) -> None:
        """Random operation sequences agree with the memory model and a pagination oracle."""
        stateful.run_state_machine(new_location, stateful_settings)

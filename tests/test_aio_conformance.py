"""The whole conformance suite, run through ``AsyncThreadStore`` on asyncio and on trio.

A blocking portal runs an event loop in a background thread; :class:`PortalFacade` presents
the sync protocol by awaiting each call of the async store on that loop. So the suite's
every test drives the adapter, and the adapter's every call crosses into its worker pool.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings

from threadstore.aio import AsyncThreadStore
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store
from threadstore.testing import ThreadStoreConformance, stateful
from threadstore.testing.portal import PortalFacade
from threadstore.url import StoreURL

T = TypeVar("T")

NOT_HERE: Any = None
"""Bound to an inherited test's name, leaves that test out: pytest collects no ``None``.
(``Any``: to the type checker the name must stay a test method, which ``None`` is not.)"""


class AdapterConformance(ThreadStoreConformance):
    """The suite with every store opened through ``threadstore.aio`` behind a portal."""

    @pytest.fixture(params=["asyncio", "trio"])
    def portal(self, request: pytest.FixtureRequest) -> Iterator[BlockingPortal]:
        with start_blocking_portal(request.param) as portal:
            yield portal

    @pytest.fixture
    def through_adapter(self, portal: BlockingPortal) -> Iterator[Callable[[str], ThreadStore]]:
        """Open a URL as an AsyncThreadStore seen through the portal; all closed at teardown."""
        with ExitStack() as opened:

            def open_url(url: str) -> ThreadStore:
                store = AsyncThreadStore(open_store(url, **self.options), max_workers=4)
                facade = opened.enter_context(PortalFacade(portal, store))
                assert isinstance(facade, ThreadStore)
                return facade

            yield open_url

    @pytest.fixture
    def reopen(
        self, store_url: str, open_options: dict[str, Any], through_adapter: Any
    ) -> Callable[[], ThreadStore]:
        self.options = open_options
        return functools.partial(through_adapter, store_url)

    @pytest.fixture
    def new_location(
        self, store_url: str, open_options: dict[str, Any], through_adapter: Any
    ) -> Callable[[], Callable[[], ThreadStore]]:
        self.options = open_options

        def make() -> Callable[[], ThreadStore]:
            url = StoreURL.parse(store_url).joinpath(f"sm{uuid.uuid4().hex[:12]}")
            return functools.partial(through_adapter, url.render(hide_secrets=False))

        return make

    @pytest.fixture
    def stateful_settings(self) -> settings:
        """A smaller budget: each step makes dozens of calls, each a trip through the portal."""
        chosen = stateful.profile()
        return settings(chosen, max_examples=max(3, chosen.max_examples // 8))


class TestAdapterOverMemory(AdapterConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return f"memory://aio-{uuid.uuid4().hex}"


class TestAdapterOverLocalDisk(AdapterConformance):
    """On one event loop only. Left out: the tests whose other writers are processes (they
    open the sync store in children, so the adapter adds nothing to them) and the state
    machine (its sequences already run through the adapter over memory)."""

    @pytest.fixture(params=["asyncio"])
    def portal(self, request: pytest.FixtureRequest) -> Iterator[BlockingPortal]:
        with start_blocking_portal(request.param) as portal:
            yield portal

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path / 'store'}"

    test_data_outlives_the_process = NOT_HERE
    test_acknowledged_writes_survive_a_killed_writer = NOT_HERE
    test_concurrent_appends_from_processes = NOT_HERE
    test_concurrent_claims_from_processes = NOT_HERE
    test_no_lost_updates_between_processes = NOT_HERE
    test_state_machine = NOT_HERE

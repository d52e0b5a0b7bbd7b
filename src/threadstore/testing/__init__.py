"""The conformance suite every backend runs, shipped with the package.

Subclass :class:`ThreadStoreConformance` in a test module and override its
``store_url`` fixture, or run the whole suite against any URL with::

    pytest --threadstore-url=URL --pyargs threadstore.testing
"""

from threadstore.testing.conformance import SUITE_VERSION, ThreadStoreConformance

__all__ = ["SUITE_VERSION", "ThreadStoreConformance"]

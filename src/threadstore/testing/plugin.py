"""pytest plugin: ``--threadstore-url=URL`` runs the conformance suite against any store.

Loaded by pytest through the ``pytest11`` entry point. Kept import-light: it imports
nothing of threadstore until a test asks for it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("threadstore")
    group.addoption(
        "--threadstore-url",
        action="store",
        default=None,
        metavar="URL",
        help="run the threadstore conformance suite against the store at URL "
        "(each test gets a fresh location below it): "
        "pytest --threadstore-url=URL --pyargs threadstore.testing",
    )

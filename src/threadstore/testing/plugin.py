"""pytest plugin: ``--threadstore-url=URL`` runs the conformance suite against any store.

Loaded by pytest through the ``pytest11`` entry point. Kept import-light: it imports
nothing of threadstore unless the option is given. The URL is checked once, before any
test runs, so a typo stops the run with one message instead of a failure per test.
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


def pytest_configure(config: pytest.Config) -> None:
    url = config.getoption("--threadstore-url", default=None)
    if url is not None:
        check_url(url)


def check_url(url: str) -> None:
    """Open (and close) a store at a fresh location below ``url``, or stop the run."""
    import uuid

    from threadstore.errors import ThreadStoreError
    from threadstore.masking import Masker
    from threadstore.registry import open_store
    from threadstore.url import StoreURL

    try:
        parsed = StoreURL.parse(url)
    except ThreadStoreError as error:
        raise pytest.UsageError(f"--threadstore-url: {error}") from None
    try:
        with open_store(parsed.joinpath(f"t{uuid.uuid4().hex[:12]}")):
            pass
    except ThreadStoreError as error:
        secrets = Masker()
        secrets.add(parsed.secrets)
        raise pytest.UsageError(
            f"--threadstore-url={parsed.render()}: no store opens there: {secrets.mask(str(error))}"
        ) from None

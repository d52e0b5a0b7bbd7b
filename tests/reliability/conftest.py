"""Fixtures of the reliability harness: a moto S3 server, and a guard that keeps every
connection on loopback.

Dummy AWS credentials replace the environment's, as in the backend's own tests (the
harness's S3 URLs carry their own dummy keys as well). The guard is a Python audit
hook: while a reliability test runs, a connection or a name lookup for anything but
127.0.0.1 / ::1 / localhost raises :class:`NonLoopbackNetwork` (and is remembered, so a
test that swallowed the error still fails).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from threadstore_fsspec.testing import moto_server, use_dummy_credentials

from .stores import BUCKET

if not os.environ.get("THREADSTORE_TEST_S3_URL"):  # kept for the backend's real-S3 tests
    use_dummy_credentials()

_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost", b"127.0.0.1", b"localhost", None}


class NonLoopbackNetwork(RuntimeError):
    """A test tried to reach a host other than this machine's loopback."""


_guard: dict[str, Any] = {"on": False, "violations": []}


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return host in _LOOPBACK_HOSTS or (isinstance(host, str) and host.startswith("127."))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guard["on"]:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _loopback(address[0]):
            _guard["violations"].append(address)
            raise NonLoopbackNetwork(f"connection to {address!r} refused by the test guard")
    elif event == "socket.getaddrinfo" and not _loopback(args[0]):
        _guard["violations"].append(args[0])
        raise NonLoopbackNetwork(f"name lookup of {args[0]!r} refused by the test guard")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Refuse any connection off this machine during the test, and fail the test if one
    was attempted (even if the code under test swallowed the error)."""
    _guard["on"] = True
    start = len(_guard["violations"])
    try:
        yield
    finally:
        _guard["on"] = False
    attempted = _guard["violations"][start:]
    assert not attempted, f"the test tried to leave loopback: {attempted}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto S3 server with the harness's bucket in it."""
    with moto_server(BUCKET) as endpoint:
        yield endpoint

"""open_store and backend discovery: scheme → entry point, hints, options, capabilities."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import threadstore
from threadstore import Capability, ThreadStore, open_store, register_backend
from threadstore.backends.memory import MemoryThreadStore
from threadstore.errors import BackendNotFoundError, CapabilityError
from threadstore.registry import (
    INSTALL_HINTS,
    available_backends,
    backend_class,
    unregister_backend,
)


@pytest.fixture
def scheme() -> Iterator[str]:
    name = f"test{uuid.uuid4().hex[:8]}"
    yield name
    unregister_backend(name)


class RenamedMemory(MemoryThreadStore):
    """A subclass registered under another scheme works unchanged."""


def test_core_backends_come_from_entry_points() -> None:
    assert {"memory", "file"} <= set(available_backends())
    assert backend_class("memory") is MemoryThreadStore
    assert backend_class("MEMORY") is MemoryThreadStore


def test_open_store_returns_a_thread_store() -> None:
    store = open_store("memory://")
    assert isinstance(store, ThreadStore)
    assert isinstance(store, MemoryThreadStore)


def test_unknown_scheme_names_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendNotFoundError, match=r"nosuch://.*installed: .*memory://"):
        open_store("nosuch://x")
    monkeypatch.setitem(INSTALL_HINTS, "nosuch", "pip install threadstore-nosuch")
    with pytest.raises(BackendNotFoundError, match="pip install threadstore-nosuch"):
        open_store("nosuch://x")


def test_register_backend_by_class_and_by_path(scheme: str) -> None:
    register_backend(scheme, RenamedMemory)
    assert isinstance(open_store(f"{scheme}://"), RenamedMemory)
    with pytest.raises(ValueError, match="already"):
        register_backend(scheme, MemoryThreadStore)
    register_backend(scheme, "threadstore.backends.memory:MemoryThreadStore", replace=True)
    assert type(open_store(f"{scheme}://")) is MemoryThreadStore
    assert scheme in available_backends()


def test_plus_scheme_falls_back_to_its_base(scheme: str) -> None:
    register_backend(scheme, RenamedMemory)
    assert isinstance(open_store(f"{scheme}+variant://name"), RenamedMemory)


def test_broken_registration_is_a_clear_error(scheme: str) -> None:
    register_backend(scheme, "threadstore.no_such_module:Store")
    with pytest.raises(BackendNotFoundError, match=r"failed to load.*no_such_module"):
        open_store(f"{scheme}://")


def test_required_capabilities(scheme: str) -> None:
    store = open_store("memory://", require=[Capability.SHARED])
    assert Capability.SHARED in store.capabilities
    with pytest.raises(CapabilityError, match="persistent"):
        open_store("memory://", require={"persistent"})


def test_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"env-{uuid.uuid4().hex}"
    monkeypatch.setenv("THREADSTORE_URL", f"memory://{name}")
    thread = open_store().create_thread()
    assert open_store(f"memory://{name}").get_thread(thread.id) == thread
    monkeypatch.delenv("THREADSTORE_URL")
    with pytest.raises(BackendNotFoundError, match="THREADSTORE_URL"):
        open_store()


def test_public_names() -> None:
    from threadstore import _EXPORTS

    assert set(threadstore.__all__) == {*_EXPORTS, "__version__"}  # written out for type checkers
    for name in threadstore.__all__:
        assert getattr(threadstore, name) is not None
    with pytest.raises(AttributeError):
        threadstore.no_such_name  # noqa: B018

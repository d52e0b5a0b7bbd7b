"""From a URL to a store: backend discovery through entry points, and ``open_store``.

The URL's scheme names an entry point in the ``threadstore.backends`` group; only that
one is imported (stevedore). ``base+driver`` schemes fall back to the ``base`` entry, so
``fsspec+memory://`` finds the ``fsspec`` backend. :func:`register_backend` adds a
backend at run time, ahead of entry points, for tests and frozen applications.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Collection
from typing import Any, Protocol, TypeAlias, cast

from threadstore.errors import BackendNotFoundError, CapabilityError
from threadstore.protocol import Capability, ThreadStore
from threadstore.url import StoreURL

__all__ = [
    "BackendClass",
    "available_backends",
    "backend_class",
    "open_store",
    "register_backend",
    "unregister_backend",
]

GROUP = "threadstore.backends"
ENV_VAR = "THREADSTORE_URL"
log = logging.getLogger("threadstore")

# Schemes users commonly ask for, with the command that installs their backend today:
# the backend distributions are not published yet, so they install from a checkout of
# this repository (once they are, a hint becomes `pip install threadstore-fsspec`).
_FSSPEC = "from a threadstore checkout, pip install ./backends/threadstore-fsspec"
_SQL = "from a threadstore checkout, pip install ./backends/threadstore-sql"
INSTALL_HINTS = {
    "s3": _FSSPEC,
    "s3a": _FSSPEC,
    "postgresql": _SQL,
    "postgres": _SQL,
    "sqlite": _SQL,
}


class _Backend(Protocol):
    """A store of a backend: what its class declares and how the class opens one."""

    capabilities: frozenset[Capability]

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> ThreadStore: ...


BackendClass: TypeAlias = type[_Backend]
"""What an entry point names: a store class that opens itself from a URL. (The class of a
protocol, not a protocol of classes: stores set ``capabilities`` in their class body,
which a type checker takes for an instance attribute, so no store class would fit.)"""


_registered: dict[str, BackendClass | str] = {}


def register_backend(scheme: str, backend: BackendClass | str, *, replace: bool = False) -> None:
    """Serve ``scheme`` with ``backend`` (a class, or ``"package.module:Class"``)."""
    scheme = scheme.lower()
    if scheme in _registered and not replace:
        raise ValueError(f"scheme {scheme!r} is registered already; pass replace=True")
    _registered[scheme] = backend


def unregister_backend(scheme: str) -> None:
    """Forget a backend added with :func:`register_backend`."""
    _registered.pop(scheme.lower(), None)


def available_backends() -> list[str]:
    """Every scheme an installed or registered backend serves, sorted. Imports none."""
    from importlib.metadata import entry_points

    schemes = {ep.name for ep in entry_points(group=GROUP)}
    return sorted(schemes | set(_registered))


def _import(scheme: str, target: str) -> BackendClass:
    module, _, attr = target.partition(":")
    try:
        value: Any = importlib.import_module(module)
        for part in attr.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise BackendNotFoundError(
            f"the backend for {scheme}:// ({target}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return cast(BackendClass, value)


_loaded: dict[str, BackendClass] = {}
"""Entry points already imported, by scheme: a class, once loaded, stays the same."""


def _load_entry_point(scheme: str) -> BackendClass | None:
    """The class the entry point named ``scheme`` names, imported once; ``None`` if none."""
    if scheme in _loaded:
        return _loaded[scheme]
    from stevedore import DriverManager
    from stevedore.exception import MultipleMatches, NoMatches

    failure: list[BaseException] = []

    def on_failure(_manager: Any, entry_point: Any, error: BaseException) -> None:
        failure.append(error)

    try:
        manager = DriverManager(
            namespace=GROUP,
            name=scheme,
            invoke_on_load=False,
            on_load_failure_callback=on_failure,
        )
    except NoMatches:
        if not failure:
            return None
        error = failure[0]
        raise BackendNotFoundError(
            f"the backend for {scheme}:// is installed but failed to load: "
            f"{type(error).__name__}: {error}"
        ) from error
    except MultipleMatches as exc:
        raise BackendNotFoundError(f"cannot choose a backend for {scheme}://: {exc}") from None
    _loaded[scheme] = cast(BackendClass, manager.driver)
    return _loaded[scheme]


def backend_class(scheme: str) -> BackendClass:
    """The class serving ``scheme``; raises :class:`BackendNotFoundError` with a hint."""
    scheme = scheme.lower()
    candidates = [scheme]
    if "+" in scheme:
        candidates.append(scheme.partition("+")[0])
    for candidate in candidates:
        registered = _registered.get(candidate)
        if registered is not None:
            return _import(candidate, registered) if isinstance(registered, str) else registered
        found = _load_entry_point(candidate)
        if found is not None:
            return found
    installed = available_backends()
    message = f"no backend for {scheme}:// (installed: "
    message += ", ".join(f"{s}://" for s in installed) or "none"
    message += ")"
    hint = INSTALL_HINTS.get(scheme) or INSTALL_HINTS.get(scheme.partition("+")[0])
    if hint:
        message += f"; to add it: {hint}"
    else:
        from difflib import get_close_matches

        close = get_close_matches(scheme, installed, n=1)
        if close:
            message += f"; did you mean {close[0]}://?"
    raise BackendNotFoundError(message)


def _url_from_environment() -> str:
    from threadstore.settings import Settings

    url = Settings().url
    if not url:
        raise BackendNotFoundError(
            f"no store URL given and {ENV_VAR} is not set; "
            "pass one, e.g. open_store('file:///var/lib/app/threads')"
        )
    return url


def open_store(
    url: str | os.PathLike[str] | StoreURL | None = None,
    *,
    require: Collection[Capability | str] = (),
    **options: Any,
) -> ThreadStore:
    """Open the store at ``url`` (or ``$THREADSTORE_URL``) with the backend its scheme names.

    ``options`` are the backend's own; they win over the URL's query string, and an
    unknown one is an error. ``require`` names capabilities the store must have.
    """
    parsed = StoreURL.parse(url if url is not None else _url_from_environment())
    cls = backend_class(parsed.scheme)
    wanted = {Capability(c) for c in require}
    _check_capabilities(parsed, wanted, cls.capabilities, "backend")
    store = cls.from_url(parsed, **options)
    try:  # options may give a promise up (e.g. durable=false): check the store itself
        _check_capabilities(parsed, wanted, store.capabilities, "store, as opened,")
    except CapabilityError:
        store.close()
        raise
    log.debug("opened %s with %s", parsed, type(store).__name__)
    return store


def _check_capabilities(
    url: StoreURL, wanted: set[Capability], offered: Collection[Capability], what: str
) -> None:
    missing = wanted - set(offered)
    if missing:
        names = ", ".join(sorted(missing))
        raise CapabilityError(f"the {url.scheme}:// {what} lacks required capabilities: {names}")

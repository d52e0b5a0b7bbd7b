"""``memory://``: every record in a Python dict, guarded by one lock.

``memory://`` opens a private store; ``memory://NAME`` opens the store of that name,
shared by every opener in the process. Records are kept as encoded JSON, so a caller
that mutates a returned model never changes the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.backend import (
    KINDS,
    AlreadyExistsError,
    BaseThreadStore,
    Capability,
    CursorNotFound,
    Kind,
    NotFoundError,
    Record,
    Scope,
    StoreURL,
    decode,
    decode_many,
    encode,
)

__all__ = ["MemoryThreadStore"]

R = TypeVar("R", bound=Record)


class MemoryOptions(BaseModel):
    """``memory://`` takes no options."""

    model_config = ConfigDict(extra="forbid")


class _Log:
    """One ordered list of records, in append order."""

    def __init__(self) -> None:
        self.order: list[str | None] = []  # None marks a deleted slot
        self.position: dict[str, int] = {}
        self.data: dict[str, bytes] = {}

    def add(self, record_id: str, data: bytes) -> None:
        self.position[record_id] = len(self.order)
        self.order.append(record_id)
        self.data[record_id] = data

    def remove(self, record_id: str) -> None:
        del self.data[record_id]
        self.order[self.position.pop(record_id)] = None

    def scan(self, cursor: str | None, descending: bool, count: int) -> list[bytes]:
        order = self.order
        if cursor is None:
            index = len(order) if descending else -1
        elif cursor not in self.data:
            raise CursorNotFound(cursor)
        else:
            index = self.position[cursor]
        step = -1 if descending else 1
        found: list[bytes] = []
        index += step
        while 0 <= index < len(order) and len(found) < count:
            record_id = order[index]
            if record_id is not None:
                found.append(self.data[record_id])
            index += step
        return found


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    logs: dict[tuple[str, Scope], _Log] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in KINDS:
            if kind.owner is None:
                self.logs[(kind.name, ())] = _Log()


_named: dict[str, _State] = {}
_named_lock = threading.Lock()


class MemoryThreadStore(BaseThreadStore):
    """A thread store in this process's memory: fast, thread-safe, gone at exit."""

    capabilities: frozenset[Capability] = frozenset({Capability.SHARED})

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        if name is None:
            self._state = _State()
        else:
            with _named_lock:
                self._state = _named.setdefault(name, _State())

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        url.options(MemoryOptions, options)
        name = url.host + url.path.rstrip("/")
        return cls(name or None)

    def __repr__(self) -> str:
        return f"<MemoryThreadStore {self.name or '(private)'}>"

    # A scope's logs exist exactly while its owner record exists.
    def _log(self, kind: Kind[Any], scope: Scope) -> _Log:
        log = self._state.logs.get((kind.name, scope))
        if log is None:
            raise self._missing_owner(kind, scope)
        return log

    def _missing_owner(self, kind: Kind[Any], scope: Scope) -> NotFoundError:
        for level, owner in enumerate(kind.lineage[:-1]):
            log = self._state.logs.get((owner.name, scope[:level]))
            if log is None or scope[level] not in log.data:
                return kind.owner_missing(scope, level)
        raise AssertionError(f"no {kind.name} list in {scope}, yet its owners exist")

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        encoded = [(record.id, encode(record)) for record in records]
        with self._state.lock:
            log = self._log(kind, scope)
            for record_id, _ in encoded:
                if record_id in log.data:
                    raise AlreadyExistsError(f"{kind.singular} {record_id!r} already exists")
            for record_id, data in encoded:
                log.add(record_id, data)
                for child in kind.children:
                    self._state.logs[(child.name, (*scope, record_id))] = _Log()

    def _stored(self, kind: Kind[Any], scope: Scope, record_id: str) -> tuple[_Log, bytes]:
        log = self._log(kind, scope)
        data = log.data.get(record_id)
        if data is None:
            raise kind.missing(record_id)
        return log, data

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        with self._state.lock:
            _, data = self._stored(kind, scope, record_id)
        return decode(kind, data, f"memory:{kind.name}/{record_id}")

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        with self._state.lock:
            log, data = self._stored(kind, scope, record_id)
            updated = change(decode(kind, data, f"memory:{kind.name}/{record_id}"))
            log.data[record_id] = encode(updated)
            return updated

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        with self._state.lock:
            log, _ = self._stored(kind, scope, record_id)
            log.remove(record_id)
            self._drop_children(kind, (*scope, record_id))

    def _drop_children(self, kind: Kind[Any], path: Scope) -> None:
        """Forget the lists a removed record held, and theirs: no more than was removed."""
        for child in kind.children:
            held = self._state.logs.pop((child.name, path))
            for record_id in held.data:
                self._drop_children(child, (*path, record_id))

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        with self._state.lock:
            found = self._log(kind, scope).scan(cursor, descending, count)
        return decode_many(kind, found, lambda _: f"memory:{kind.name}")

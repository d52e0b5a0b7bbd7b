"""``memory://``: every record in a Python dict, guarded by one lock.

``memory://`` opens a private store; ``memory://NAME`` opens the store of that name,
shared by every opener in the process. Records are kept as encoded JSON, so a caller
that mutates a returned model never changes the store.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.base import BaseThreadStore, CursorNotFound
from threadstore.errors import AlreadyExistsError
from threadstore.models import WireModel
from threadstore.protocol import Capability
from threadstore.records import THREADS, Kind, Scope, decode, encode, missing_scope
from threadstore.url import StoreURL

__all__ = ["MemoryThreadStore"]

M = TypeVar("M", bound=WireModel)


class MemoryOptions(BaseModel):
    """``memory://`` takes no options."""

    model_config = ConfigDict(extra="forbid")


class _Log:
    """One ordered list of records: append order, or ID order for threads."""

    def __init__(self, sort_by_id: bool = False) -> None:
        self.sort_by_id = sort_by_id
        self.order: list[str | None] = []  # append order; None marks a deleted slot
        self.sorted_ids: list[str] = []  # ID order, for threads
        self.position: dict[str, int] = {}
        self.data: dict[str, bytes] = {}

    def add(self, record_id: str, data: bytes) -> None:
        if self.sort_by_id:
            bisect.insort(self.sorted_ids, record_id)
        else:
            self.position[record_id] = len(self.order)
            self.order.append(record_id)
        self.data[record_id] = data

    def remove(self, record_id: str) -> None:
        del self.data[record_id]
        if self.sort_by_id:
            del self.sorted_ids[bisect.bisect_left(self.sorted_ids, record_id)]
        else:
            self.order[self.position.pop(record_id)] = None

    def scan(self, cursor: str | None, descending: bool, count: int) -> list[bytes]:
        order: list[str] | list[str | None] = self.sorted_ids if self.sort_by_id else self.order
        if cursor is None:
            index = len(order) if descending else -1
        elif cursor not in self.data:
            raise CursorNotFound(cursor)
        elif self.sort_by_id:
            index = bisect.bisect_left(self.sorted_ids, cursor)
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
        self.logs[(THREADS.name, ())] = _Log(sort_by_id=True)


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
    def _log(self, kind: Kind[Any], scope: Scope) -> _Log | None:
        return self._state.logs.get((kind.name, scope))

    def _insert(self, kind: Kind[M], scope: Scope, record: M) -> None:
        with self._state.lock:
            log = self._log(kind, scope)
            if log is None:
                raise missing_scope(scope)
            record_id: str = getattr(record, "id")  # noqa: B009
            if record_id in log.data:
                raise AlreadyExistsError(f"{kind.name[:-1]} {record_id!r} already exists")
            log.add(record_id, encode(record))
            inner = (*scope, record_id)
            for child in self._children(kind):
                self._state.logs[(child, inner)] = _Log()

    @staticmethod
    def _children(kind: Kind[Any]) -> tuple[str, ...]:
        return {"threads": ("messages", "runs"), "runs": ("steps",)}.get(kind.name, ())

    def _fetch(self, kind: Kind[M], scope: Scope, record_id: str) -> M | None:
        with self._state.lock:
            log = self._log(kind, scope)
            data = None if log is None else log.data.get(record_id)
        return None if data is None else decode(kind, data, f"memory:{kind.name}/{record_id}")

    def _modify(
        self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]
    ) -> M | None:
        with self._state.lock:
            log = self._log(kind, scope)
            data = None if log is None else log.data.get(record_id)
            if log is None or data is None:
                return None
            updated = change(decode(kind, data, f"memory:{kind.name}/{record_id}"))
            log.data[record_id] = encode(updated)
            return updated

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> bool:
        with self._state.lock:
            log = self._log(kind, scope)
            if log is None or record_id not in log.data:
                return False
            log.remove(record_id)
            inner = (*scope, record_id)
            for key in [k for k in self._state.logs if k[1][: len(inner)] == inner]:
                del self._state.logs[key]
            return True

    def _scan(
        self, kind: Kind[M], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[M]:
        with self._state.lock:
            log = self._log(kind, scope)
            if log is None:
                raise missing_scope(scope)
            found = log.scan(cursor, descending, count)
        return [decode(kind, data, f"memory:{kind.name}") for data in found]

"""``example:///path``: a directory with one JSON file per thread.

Small on purpose. A thread's file holds the thread and everything under it, and every
change rewrites that file: a temporary file renamed over the old one, so a reader never
sees half a file. One lock per directory, shared by every store object in the process,
makes each hook atomic. The store claims what that gives, ``PERSISTENT`` and
``SHARED``, and nothing more: nothing locks out another process and nothing is fsynced,
so ``MULTI_PROCESS`` and ``DURABLE`` are not claimed (and the suite skips their tests).
Every operation costs O(size of the thread).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.base import BaseThreadStore, CursorNotFound
from threadstore.errors import AlreadyExistsError, CorruptDataError, InvalidRequestError
from threadstore.models import WireModel
from threadstore.protocol import Capability
from threadstore.records import MESSAGES, RUNS, THREADS, Kind, Scope, decode_object, missing_scope
from threadstore.url import StoreURL

__all__ = ["JsonDirThreadStore"]

M = TypeVar("M", bound=WireModel)
Document = dict[str, Any]
"""A thread's file: ``{"thread": ..., "messages": [...], "runs": [...], "steps": {run: [...]}}``."""

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


class JsonDirOptions(BaseModel):
    """``example://`` takes no options."""

    model_config = ConfigDict(extra="forbid")


class JsonDirThreadStore(BaseThreadStore):
    """Threads as JSON files in one directory; see the module's docstring."""

    capabilities: frozenset[Capability] = frozenset({Capability.PERSISTENT, Capability.SHARED})

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        with _locks_guard:
            self._lock = _locks.setdefault(os.path.realpath(self.root), threading.RLock())

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        """Open ``example:///absolute/path``; a backend never assumes its own scheme."""
        url.options(JsonDirOptions, options)
        if url.host or not url.path.startswith("/"):
            raise InvalidRequestError(
                f"{url.scheme}:// takes an absolute path, as in {url.scheme}:///var/lib/threads"
            )
        return cls(url.path)

    def __repr__(self) -> str:
        return f"<JsonDirThreadStore {self.root}>"

    # --- files --------------------------------------------------------------------

    def _path(self, thread_id: str) -> str:
        return os.path.join(self.root, f"{thread_id}.json")

    def _load(self, thread_id: str) -> Document | None:
        path = self._path(thread_id)
        try:
            with open(path, "rb") as file:
                document: Document = json.load(file)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise CorruptDataError(f"{path} is not JSON: {exc}") from None
        return document

    def _save(self, thread_id: str, document: Document) -> None:
        path = self._path(thread_id)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(document, file, separators=(",", ":"))
        os.replace(temporary, path)

    @staticmethod
    def _items(document: Document, kind: Kind[Any], scope: Scope) -> list[dict[str, Any]] | None:
        """The ``kind`` records of ``scope`` in a thread's file; None if their run is gone."""
        if kind is MESSAGES:
            items: list[dict[str, Any]] = document["messages"]
            return items
        if kind is RUNS:
            items = document["runs"]
            return items
        found: list[dict[str, Any]] | None = document["steps"].get(scope[1])
        return found

    def _thread_ids(self) -> list[str]:
        return sorted(name[:-5] for name in os.listdir(self.root) if name.endswith(".json"))

    # --- the five hooks -------------------------------------------------------------

    def _insert(self, kind: Kind[M], scope: Scope, record: M) -> None:
        data = record.model_dump(mode="json")
        with self._lock:
            if kind is THREADS:
                if os.path.exists(self._path(data["id"])):
                    raise AlreadyExistsError(f"thread {data['id']!r} already exists")
                document = {"thread": data, "messages": [], "runs": [], "steps": {}}
                self._save(data["id"], document)
                return
            loaded = self._load(scope[0])
            items = None if loaded is None else self._items(loaded, kind, scope)
            if loaded is None or items is None:
                raise missing_scope(scope)
            if any(item["id"] == data["id"] for item in items):
                raise AlreadyExistsError(f"{kind.name[:-1]} {data['id']!r} already exists")
            items.append(data)
            if kind is RUNS:
                loaded["steps"][data["id"]] = []
            self._save(scope[0], loaded)

    def _fetch(self, kind: Kind[M], scope: Scope, record_id: str) -> M | None:
        with self._lock:
            document = self._load(record_id if kind is THREADS else scope[0])
        if document is None:
            return None
        if kind is THREADS:
            return decode_object(kind, document["thread"], self._path(record_id))
        for item in self._items(document, kind, scope) or []:
            if item["id"] == record_id:
                return decode_object(kind, item, self._path(scope[0]))
        return None

    def _modify(
        self, kind: Kind[M], scope: Scope, record_id: str, change: Callable[[M], M]
    ) -> M | None:
        thread_id = record_id if kind is THREADS else scope[0]
        with self._lock:
            document = self._load(thread_id)
            if document is None:
                return None
            if kind is THREADS:
                updated = change(decode_object(kind, document["thread"], self._path(thread_id)))
                document["thread"] = updated.model_dump(mode="json")
                self._save(thread_id, document)
                return updated
            items = self._items(document, kind, scope) or []
            for index, item in enumerate(items):
                if item["id"] == record_id:
                    updated = change(decode_object(kind, item, self._path(thread_id)))
                    items[index] = updated.model_dump(mode="json")
                    self._save(thread_id, document)
                    return updated
            return None

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> bool:
        with self._lock:
            if kind is THREADS:
                try:
                    os.remove(self._path(record_id))
                except FileNotFoundError:
                    return False
                return True
            document = self._load(scope[0])
            items = None if document is None else self._items(document, kind, scope)
            kept = [item for item in items or [] if item["id"] != record_id]
            if document is None or items is None or len(kept) == len(items):
                return False
            items[:] = kept
            if kind is RUNS:
                del document["steps"][record_id]
            self._save(scope[0], document)
            return True

    def _scan(
        self, kind: Kind[M], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[M]:
        with self._lock:
            if kind is THREADS:
                ids = self._thread_ids()
                records = {}
            else:
                document = self._load(scope[0])
                items = None if document is None else self._items(document, kind, scope)
                if items is None:
                    raise missing_scope(scope)
                records = {item["id"]: item for item in items}
                ids = [item["id"] for item in items]
            line = ids[::-1] if descending else ids
            try:
                start = 0 if cursor is None else line.index(cursor) + 1
            except ValueError:
                raise CursorNotFound(cursor) from None
            chosen = line[start : start + count]
            if kind is THREADS:
                return [found for i in chosen if (found := self._fetch(kind, scope, i))]
        return [decode_object(kind, records[i], self._path(scope[0])) for i in chosen]

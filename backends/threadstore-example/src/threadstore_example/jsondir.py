"""``example:///path``: a directory with one JSON file per thread.

Small on purpose. A thread's file holds the thread and every list under it, and every
change rewrites that file: a temporary file renamed over the old one, so a reader never
sees half a file. One lock per directory, shared by every store object in the process,
makes each hook atomic. The store claims what that gives, ``PERSISTENT`` and
``SHARED``, and nothing more: nothing locks out another process and nothing is fsynced,
so ``MULTI_PROCESS`` and ``DURABLE`` are not claimed (and the suite skips their tests).
Every operation costs O(size of the thread). No kind of record is named here: each
:class:`Kind` says what owns it and what it holds, so new kinds need no new code.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.backend import (
    AlreadyExistsError,
    BaseThreadStore,
    Capability,
    CorruptDataError,
    CursorNotFound,
    InvalidRequestError,
    Kind,
    NotFoundError,
    Record,
    Scope,
    StoreURL,
    decode_object,
)

__all__ = ["JsonDirThreadStore"]

R = TypeVar("R", bound=Record)
Document = dict[str, Any]
"""A file: ``{"record": {...}, "lists": {"messages": [...], "steps/RUN": [...]}, "made": ns}``."""

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


class JsonDirOptions(BaseModel):
    """``example://`` takes no options."""

    model_config = ConfigDict(extra="forbid")


def _list_name(kind: Kind[Any], scope: Scope) -> str:
    """A list's name in its top-level record's file: the kind, then the owners below the top."""
    return "/".join((kind.name, *scope[1:]))


class JsonDirThreadStore(BaseThreadStore):
    """Top-level records as JSON files in one directory; see the module's docstring."""

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

    def _path(self, kind: Kind[Any], record_id: str) -> str:
        return os.path.join(self.root, kind.name, f"{record_id}.json")

    def _load(self, path: str, missing: NotFoundError) -> Document:
        try:
            with open(path, "rb") as file:
                document: Document = json.load(file)
        except FileNotFoundError:
            raise missing from None
        except ValueError as exc:
            raise CorruptDataError(f"{path} is not JSON: {exc}") from None
        return document

    def _save(self, path: str, document: Document) -> None:
        with open(temporary := f"{path}.{uuid.uuid4().hex}.tmp", "w", encoding="utf-8") as file:
            json.dump(document, file, separators=(",", ":"))
        os.replace(temporary, path)

    def _file(self, kind: Kind[Any], scope: Scope, record_id: str) -> str:
        """The file that holds a record: its top-level owner's, or its own."""
        return self._path(kind.lineage[0], (*scope, record_id)[0])

    def _open(self, kind: Kind[Any], scope: Scope) -> tuple[Document, list[Document]]:
        """The file of a list's top-level owner, and the list; a missing owner is raised."""
        document = self._load(self._file(kind, scope, ""), kind.owner_missing(scope, 0))
        items = document["lists"].get(_list_name(kind, scope))
        if items is None:  # a list exists exactly while its owner does
            raise kind.owner_missing(scope, kind.depth - 1)
        return document, items

    def _locate(self, kind: Kind[Any], scope: Scope, record_id: str) -> tuple[Document, Document]:
        """A record's file, and the record in it (changed in place, then saved)."""
        if kind.owner is None:
            document = self._load(self._path(kind, record_id), kind.missing(record_id))
            return document, document["record"]
        document, items = self._open(kind, scope)
        for item in items:
            if item["id"] == record_id:
                return document, item
        raise kind.missing(record_id)

    # --- the five hooks -------------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        data = [record.model_dump(mode="json") for record in records]
        with self._lock:
            if kind.owner is None:
                os.makedirs(os.path.join(self.root, kind.name), exist_ok=True)
                for item in data:
                    if os.path.exists(self._path(kind, item["id"])):
                        raise AlreadyExistsError(f"{kind.singular} {item['id']!r} already exists")
                    document: Document = {"record": item, "lists": {}, "made": time.time_ns()}
                    _hold(document, kind, (item["id"],))
                    self._save(self._path(kind, item["id"]), document)
                return
            document, items = self._open(kind, scope)
            taken = {item["id"] for item in items} & {item["id"] for item in data}
            if taken:
                raise AlreadyExistsError(f"{kind.singular} {min(taken)!r} already exists")
            for item in data:
                items.append(item)
                _hold(document, kind, (*scope, item["id"]))
            self._save(self._file(kind, scope, ""), document)

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        with self._lock:
            _, item = self._locate(kind, scope, record_id)
        return decode_object(kind, item, self._file(kind, scope, record_id))

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        with self._lock:
            document, item = self._locate(kind, scope, record_id)
            updated = change(decode_object(kind, item, self._file(kind, scope, record_id)))
            item.clear()
            item.update(updated.model_dump(mode="json"))
            self._save(self._file(kind, scope, record_id), document)
            return updated

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        with self._lock:
            document, item = self._locate(kind, scope, record_id)
            if kind.owner is None:
                os.remove(self._path(kind, record_id))
                return
            document["lists"][_list_name(kind, scope)].remove(item)
            _drop(document, kind, (*scope, record_id))
            self._save(self._file(kind, scope, record_id), document)

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        with self._lock:
            if kind.owner is None:
                folder = os.path.join(self.root, kind.name)
                names = os.listdir(folder) if os.path.isdir(folder) else []
                files = {n[:-5]: os.path.join(folder, n) for n in names if n.endswith(".json")}
                made = {i: self._load(path, kind.missing(i))["made"] for i, path in files.items()}
                ids = sorted(made, key=made.__getitem__)  # creation order
            else:
                _, items = self._open(kind, scope)
                ids = [item["id"] for item in items]
            line = ids[::-1] if descending else ids
            try:
                start = 0 if cursor is None else line.index(cursor) + 1
            except ValueError:
                raise CursorNotFound(cursor) from None
            return [self._fetch(kind, scope, i) for i in line[start : start + count]]


def _hold(document: Document, kind: Kind[Any], path: Scope) -> None:
    """Give a new record the (empty) lists it holds."""
    for child in kind.children:
        document["lists"][_list_name(child, path)] = []


def _drop(document: Document, kind: Kind[Any], path: Scope) -> None:
    """Remove the lists a removed record held, and theirs."""
    for child in kind.children:
        for item in document["lists"].pop(_list_name(child, path)):
            _drop(document, child, (*path, item["id"]))

"""Everything a backend author imports, from one place.

A backend subclasses :class:`BaseThreadStore`, implements its five storage hooks for one
medium, and is registered under a URL scheme in the ``threadstore.backends`` entry-point
group (see docs/writing-a-backend.md)::

    from threadstore.backend import BaseThreadStore, Kind, Scope, encode, decode

The hooks' contract is on :class:`BaseThreadStore`; the kinds of record, their scopes and
their stored form are described in :mod:`threadstore.records`.
"""

from __future__ import annotations

from threadstore.base import MAX_LIMIT, BaseThreadStore, CursorNotFound
from threadstore.errors import (
    AlreadyExistsError,
    BackendError,
    ConflictError,
    CorruptDataError,
    InvalidRequestError,
    NotFoundError,
)
from threadstore.integrity import Finding, StorageCheck
from threadstore.models import Record
from threadstore.protocol import Capability
from threadstore.records import (
    CONVERSATIONS,
    ITEMS,
    KINDS,
    MESSAGES,
    RECORD_FORMAT,
    RUNS,
    STEPS,
    THREADS,
    Kind,
    Scope,
    decode,
    decode_many,
    decode_object,
    encode,
)
from threadstore.url import StoreURL

__all__ = [
    "CONVERSATIONS",
    "ITEMS",
    "KINDS",
    "MAX_LIMIT",
    "MESSAGES",
    "RECORD_FORMAT",
    "RUNS",
    "STEPS",
    "THREADS",
    "AlreadyExistsError",
    "BackendError",
    "BaseThreadStore",
    "Capability",
    "ConflictError",
    "CorruptDataError",
    "CursorNotFound",
    "Finding",
    "InvalidRequestError",
    "Kind",
    "NotFoundError",
    "Record",
    "Scope",
    "StorageCheck",
    "StoreURL",
    "decode",
    "decode_many",
    "decode_object",
    "encode",
]

"""The SQL both dialects share, built per kind of list (how deep its scope is).

Every statement finds a list by ``kind`` and ``scope`` (the owner IDs joined with ``/``)
and a record by ``id`` within it. The owners of a list are the records of its lineage
(a step's thread and run); statements count those that exist, and since an owner is
never there without its own owner, the count is the level of the first one missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "CAS_UPDATE",
    "CHANGED_BY",
    "DELETE_RECORD",
    "FETCH",
    "NEW_LISTS",
    "TOKENS_KEPT",
    "Place",
    "delete_below",
    "owners_count",
    "owners_found",
    "scan",
    "scan_check",
    "take_params",
    "take_positions",
    "taken",
]

TOKENS_KEPT = 8
"""How many of a record's latest writers ``changed_by`` remembers (tokens of 12 hex
characters, newest first), so a retry can tell whether its own write landed."""
_CHANGED_BY_WIDTH = TOKENS_KEPT * 13 - 1

SEP = "/"
"""Joins owner IDs into a scope key; IDs never contain it. ``0`` is the next character."""


@dataclass(frozen=True)
class Place:
    """A list in the table: its kind and scope key, and the keys of its owners top-down."""

    kind: str
    scope: str
    owners: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, kind: Any, scope: tuple[str, ...]) -> Place:
        lineage = kind.lineage[:-1]
        owners = tuple(
            (owner.name, SEP.join(scope[:level]), scope[level])
            for level, owner in enumerate(lineage)
        )
        return cls(kind.name, SEP.join(scope), owners)

    @property
    def depth(self) -> int:
        return len(self.owners)

    @property
    def list_key(self) -> str:
        """The list's key in ``records.list``: kind and scope in one column."""
        return f"{self.kind}{SEP}{self.scope}"

    def owner_params(self) -> list[str]:
        return [value for owner in self.owners for value in owner]

    def below(self, record_id: str) -> str:
        """The scope key of the lists a record of this list owns."""
        return f"{self.scope}{SEP}{record_id}" if self.scope else record_id


@lru_cache(maxsize=16)
def owners_count(depth: int) -> str:
    """An expression: how many owners of a list of this depth exist (``depth`` x 3 params)."""
    if not depth:
        return "0"
    found = " OR ".join(["(kind = ? AND scope = ? AND id = ?)"] * depth)
    return f"(SELECT count(*) FROM {{records}} WHERE {found})"  # noqa: S608


@lru_cache(maxsize=16)
def owners_found(depth: int) -> str:
    """How many owners of a list of this depth exist. Params: the owners' keys."""
    return f"SELECT {owners_count(depth)}"


FETCH = "SELECT data, version, changed_by FROM {records} WHERE kind = ? AND scope = ? AND id = ?"
"""The record, its version and its latest writers (no row: look at the owners)."""


@lru_cache(maxsize=4)
def scan(cursor: bool, descending: bool) -> str:
    """``id, data`` of up to ``count`` records past the cursor, in list order. Rows mean
    the owners and the cursor exist (a deleted owner takes its rows with it); no row asks
    :func:`scan_check` why. Params: the list's key, [kind, scope, cursor], count.

    Lists are read through ``list`` and its own index; a lookup by ID names kind and
    scope, which only the primary key serves, so no planner (with or without statistics)
    walks a list to find one record."""
    direction, beyond = ("DESC", "<") if descending else ("ASC", ">")
    after = ""
    if cursor:
        after = (
            f" AND seq {beyond} (SELECT seq FROM {{records}} "  # noqa: S608
            "WHERE kind = ? AND scope = ? AND id = ?)"
        )
    return (
        "SELECT id, data FROM {records} "  # noqa: S608
        f"WHERE list = ?{after} ORDER BY seq {direction} LIMIT ?"
    )


@lru_cache(maxsize=16)
def scan_check(depth: int, cursor: bool) -> str:
    """Why a scan found nothing: how many owners exist, and whether the cursor does.
    Params: owners, [kind, scope, cursor]."""
    found = "(SELECT count(*) FROM {records} WHERE kind = ? AND scope = ? AND id = ?)"
    return f"SELECT {owners_count(depth)}, {found if cursor else '1'}"


CHANGED_BY = f"changed_by = substr(? || ' ' || changed_by, 1, {_CHANGED_BY_WIDTH})"
"""Puts the parameter's token in front of the record's latest writers."""

CAS_UPDATE = (
    f"UPDATE {{records}} SET data = ?, format = ?, version = version + 1, {CHANGED_BY} "  # noqa: S608
    "WHERE kind = ? AND scope = ? AND id = ? AND version = ? RETURNING version"
)
"""Params: data, format, token, kind, scope, id, the version the change was made from."""

DELETE_RECORD = "DELETE FROM {records} WHERE kind = ? AND scope = ? AND id = ? RETURNING 1"

NEW_LISTS = (
    "INSERT INTO {heads} (kind, scope, head) VALUES (?, ?, 0) ON CONFLICT (kind, scope) DO NOTHING"
)
"""The head of a list a new record owns (params: the list's kind, its scope). Its row
exists exactly while the owner does: appends take positions from it, and a delete
removes it first, which makes appenders to the lists of a record being deleted wait."""


def take_positions(depth: int) -> str:
    """Advance a list's head by ``count`` and return the new head; no row when the list's
    owner is gone. Params: kind, scope, count. Top-level lists have no owner: their
    store-wide head is made on first use."""
    if depth:
        return "UPDATE {heads} SET head = head + ? WHERE kind = ? AND scope = ? RETURNING head"
    return (
        "INSERT INTO {heads} AS h (kind, scope, head) VALUES (?, ?, ?) "
        "ON CONFLICT (kind, scope) DO UPDATE SET head = h.head + excluded.head RETURNING head"
    )


def take_params(place: Place, count: int) -> list[Any]:
    if place.depth:
        return [count, place.kind, place.scope]
    return [place.kind, place.scope, count]


@lru_cache(maxsize=16)
def delete_below(table: str, kinds: int) -> str:
    """Delete from ``table`` every row of these kinds in scope ``p`` or below it.
    Params: the kinds, then ``p``, ``p/``, ``p0`` (the scopes below ``p`` sort between)."""
    names = ", ".join(["?"] * kinds)
    return (
        f"DELETE FROM {{{table}}} WHERE kind IN ({names}) "  # noqa: S608
        "AND (scope = ? OR (scope > ? AND scope < ?))"
    )


def below_params(prefix: str) -> list[str]:
    return [prefix, prefix + SEP, prefix + "0"]


@lru_cache(maxsize=16)
def taken(count: int) -> str:
    """Which of ``count`` IDs exist in a list, and the token that created each."""
    ids = ", ".join(["?"] * count)
    return f"SELECT id, created_by FROM {{records}} WHERE kind = ? AND scope = ? AND id IN ({ids})"  # noqa: S608

"""What every contender offers the workloads, and which workloads it takes part in.

A contender is one way a user could keep conversations: a threadstore backend behind a
URL, or a peer they would pick instead (SQLite, the Agents SDK's session, the seed's
JSONL files, a dict). Each one is a small dataclass that names where its data lives; the
live handle is made by :meth:`Contender.open`, so a closed contender can be sent to a
writer process and opened there.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar, Self

from threadstore.models import Message

__all__ = ["PAGE_SIZE", "Contender", "Family", "Role"]

PAGE_SIZE = 20


class Family(StrEnum):
    """Whose code it is: ours, a peer a user might choose, or the design we replace."""

    THREADSTORE = "threadstore"
    PEER = "peer"
    BASELINE = "baseline"


class Role(StrEnum):
    """The workloads a contender is measured in (what it supports and what is worth showing)."""

    APPEND = "append"
    """Single-writer appends."""
    WRITERS = "writers"
    """Appends from several processes to one thread."""
    LATEST_PAGE = "latest-page"
    """The newest 20 messages."""
    CURSOR_PAGE = "cursor-page"
    """A page of 20 after a cursor (the API's ``after=``)."""
    FULL_READ = "full-read"
    """Every message of a thread, oldest first (prompt building)."""
    RUNS = "runs"
    """Creating a run and moving it through statuses with a compare-and-set."""
    COLD_OPEN = "cold-open"
    """Opening a store that already holds many threads and listing the newest 20."""


@dataclasses.dataclass(kw_only=True)
class Contender(ABC):
    """One store under test. Fields describe it; :meth:`open` makes the live handle."""

    label: str
    """Short name used in tables and plots."""
    dataset: str = ""
    """Contenders with the same dataset read and write the same data (e.g. one SQLite
    file opened with FULL and with NORMAL), so read fixtures are built once for all."""
    family: ClassVar[Family]
    durable: bool = False
    """Whether an acknowledged write survives a machine crash (an fsync per commit)."""
    roles: frozenset[Role] = frozenset(Role)
    max_messages: int | None = None
    """The largest thread this contender is measured at (None: every size)."""
    max_threads: int | None = None
    """The most threads built for its cold-open figure (None: the profile's count)."""
    slow: bool = False
    """Each operation takes tens of milliseconds (S3 on moto): timed on its own rather
    than in turns with the others, and given smaller loops where a loop is long."""

    def __post_init__(self) -> None:
        if not self.dataset:
            self.dataset = self.label

    @property
    def description(self) -> str:
        """One line for the report: what exactly this contender does per operation."""
        return self.__doc__.splitlines()[0] if self.__doc__ else self.label

    def closed_copy(self) -> Self:
        """A fresh, unopened contender with the same settings (picklable)."""
        return dataclasses.replace(self)

    def takes(self, role: Role, messages: int = 0) -> bool:
        """Whether this contender is measured in ``role`` at a thread of ``messages``."""
        fits = self.max_messages is None or messages <= self.max_messages
        return role in self.roles and fits

    # --- lifecycle -----------------------------------------------------------------

    @abstractmethod
    def open(self) -> None:
        """Make the live handle (connect, open the store)."""

    @abstractmethod
    def close(self) -> None:
        """Release the live handle."""

    # --- messages ------------------------------------------------------------------

    @abstractmethod
    def new_thread(self) -> str:
        """Create an empty thread and return its ID."""

    def attach(self, thread_id: str) -> None:
        """Get ready to write to ``thread_id`` (untimed): per-thread handles, if any."""

    @abstractmethod
    def append(self, thread_id: str, message: Message) -> None:
        """Append one message as one durable commit (where the contender is durable)."""

    def load(self, thread_id: str, messages: Sequence[Message]) -> list[str]:
        """Fill a thread for the read fixtures and return the IDs in order.

        Untimed; a contender may use a bulk path (and then its own messages).
        """
        for message in messages:
            self.append(thread_id, message)
        return [message.id for message in messages]

    @abstractmethod
    def page(self, thread_id: str, after: str | None) -> Sequence[object]:
        """The 20 messages that precede ``after`` (newest first), or the newest 20."""

    @abstractmethod
    def read_all(self, thread_id: str) -> int:
        """Read every message of the thread, oldest first; return how many."""

    # --- runs ------------------------------------------------------------------------

    def create_run(self, thread_id: str) -> str:
        """Create a queued run and return its ID."""
        raise NotImplementedError(f"{self.label} has no runs")

    def move_run(self, thread_id: str, run_id: str, status: str, expected: str) -> None:
        """Move a run to ``status`` if, and only if, it is in ``expected`` now."""
        raise NotImplementedError(f"{self.label} has no runs")

    # --- many threads ----------------------------------------------------------------

    def create_threads(self, count: int) -> None:
        """Create ``count`` empty threads (the cold-open fixture). Untimed."""
        for _ in range(count):
            self.new_thread()

    def cold_open(self) -> int:
        """Open a new handle on the same data, list the newest 20 threads, close it.

        Returns how many threads the listing held.
        """
        raise NotImplementedError(f"{self.label} cannot be reopened")

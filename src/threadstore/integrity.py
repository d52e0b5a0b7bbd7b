"""Integrity checks of a store: every record parses, references resolve, lists agree.

:func:`verify_store` reads a store through the :class:`~threadstore.ThreadStore` protocol
alone, so it works on any backend. It reports, as :class:`Finding` objects:

- records that do not parse (a :class:`~threadstore.errors.CorruptDataError` from a read);
  a list that breaks on one is read from both ends, so the rest is still checked;
- listings that disagree with gets, or name an ID twice;
- records whose owner IDs (``thread_id``, ``run_id``) are not the list they sit in;
- the same of conversations and their items;
- references that do not resolve: a message's ``run_id`` must name a run of its thread,
  a ``message_creation`` step's message must exist.

A thread or conversation deleted while it is checked (the store may be in use) is
skipped, with whatever its check found.

What only the backend can see (orphaned temporary files, gaps in a sequence, an index
out of step with the records) comes from :class:`StorageCheck`, which a backend MAY
implement; ``verify_store`` calls it first when present, passing ``repair`` on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import repeat
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from threadstore.errors import CorruptDataError, NotFoundError
from threadstore.models import (
    Conversation,
    MessageCreationStepDetails,
    Page,
    Record,
    Run,
    Thread,
)
from threadstore.protocol import ThreadStore
from threadstore.snapshot import page_sizes

__all__ = ["Finding", "StorageCheck", "StoreVerifier", "VerifyReport", "verify_store"]

M = TypeVar("M", bound=Record)


@dataclass(frozen=True)
class Finding:
    """One integrity problem: which check found it, where, and what is wrong.

    ``check`` is a short stable name (``corrupt-record``, ``dangling-reference``...);
    ``location`` names the record (``thread_1/messages/msg_2``) or, for a backend's own
    checks, the file or key. ``repaired`` says a repair already fixed it.
    """

    check: str
    location: str
    detail: str
    repaired: bool = False

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@runtime_checkable
class StorageCheck(Protocol):
    """Optional for backends: checks of the storage medium the protocol cannot see.

    ``check_storage(repair=False)`` only reports. With ``repair=True`` it fixes what it
    can fix without losing an acknowledged write, and marks those findings
    ``repaired=True``; what it cannot fix it reports as usual.
    """

    def check_storage(self, repair: bool) -> list[Finding]: ...


@dataclass
class VerifyReport:
    """Every finding, and how many records of each kind were read."""

    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("threads", "messages", "runs", "steps", "conversations", "items"), 0
        )
    )
    storage_checked: bool = False

    @property
    def ok(self) -> bool:
        """No finding is left unrepaired."""
        return all(finding.repaired for finding in self.findings)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "storage_checked": self.storage_checked,
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass
class _Listing(Generic[M]):
    """What could be read of one list, and whether that was all of it."""

    items: list[M]
    complete: bool

    def ids(self) -> set[str]:
        return {item.id for item in self.items}


class StoreVerifier:
    """Checks one store, thread by thread and conversation by conversation, collecting a
    :class:`VerifyReport`.

    Use :func:`verify_store` for the whole job; this class lets a caller show progress
    (``check_storage``, then ``threads`` and ``check_thread`` for each, then
    ``conversations`` and ``check_conversation`` for each).
    """

    def __init__(self, store: ThreadStore) -> None:
        self.store = store
        self.report = VerifyReport()

    def check_storage(self, *, repair: bool = False) -> None:
        """Run the backend's own checks, if it offers them."""
        if isinstance(self.store, StorageCheck):
            self.report.storage_checked = True
            self.report.findings.extend(self.store.check_storage(repair=repair))

    def threads(self) -> list[Thread]:
        """Every thread the listing yields (checked against ``list_thread_ids``)."""
        listing = self._walk(self.store.list_threads, "threads")
        try:
            ids = self.store.list_thread_ids()
        except CorruptDataError:
            return listing.items  # reported by the walk already
        listed = [thread.id for thread in listing.items]
        if listing.complete and ids != listed:
            missing = sorted(set(listed) - set(ids)) or sorted(set(ids) - set(listed))
            shown = ", ".join(missing[:5]) if missing else "the same IDs in another order"
            self._find(
                "listing-differs",
                "threads",
                f"list_thread_ids disagrees with list_threads: {shown}",
            )
        return listing.items

    def conversations(self) -> list[Conversation]:
        """Every conversation the listing yields."""
        return self._walk(self.store.list_conversations, "conversations").items

    def check_conversation(self, conversation: Conversation) -> None:
        """Check one conversation as listed, and its items (nothing, if it was deleted
        since it was listed)."""
        get = partial(self.store.get_conversation, conversation.id)
        self._unless_deleted(partial(self._check_conversation, conversation), get, conversation.id)

    def _check_conversation(self, conversation: Conversation) -> None:
        store, conversation_id = self.store, conversation.id
        self.report.checked["conversations"] += 1
        self._agrees(
            conversation, partial(store.get_conversation, conversation_id), conversation_id
        )
        items = self._walk(partial(store.list_items, conversation_id), f"{conversation_id}/items")
        for item in items.items:
            self.report.checked["items"] += 1
            where = f"{conversation_id}/items/{item.id}"
            self._agrees(item, partial(store.get_item, conversation_id, item.id), where)

    def check_thread(self, thread: Thread) -> None:
        """Check one thread as listed and everything under it (nothing, if it was
        deleted since it was listed)."""
        get = partial(self.store.get_thread, thread.id)
        self._unless_deleted(partial(self._check_thread, thread), get, thread.id)

    def _unless_deleted(
        self, check: Callable[[], None], get: Callable[[], object], where: str
    ) -> None:
        """Run ``check`` on one record. If it fails with a not-found or finds something,
        and the record is gone now, what it found is void: another writer deleted the
        record meanwhile, or a read finished a delete that a dead writer began."""
        before = len(self.report.findings)
        missing: NotFoundError | None = None
        try:
            check()
        except NotFoundError as error:
            missing = error
        if missing is None and len(self.report.findings) == before:
            return
        try:
            get()
        except NotFoundError:
            del self.report.findings[before:]
            return
        except CorruptDataError:
            pass  # it is there: what was found stands
        if missing is not None:
            self._find("listing-differs", where, f"it exists, but reading it says: {missing}")

    def _check_thread(self, thread: Thread) -> None:
        store, thread_id = self.store, thread.id
        self.report.checked["threads"] += 1
        self._agrees(thread, partial(store.get_thread, thread_id), thread_id)
        messages = self._walk(partial(store.list_messages, thread_id), f"{thread_id}/messages")
        runs = self._walk(partial(store.list_runs, thread_id), f"{thread_id}/runs")
        message_ids, run_ids = messages.ids(), runs.ids()
        for message in messages.items:
            self.report.checked["messages"] += 1
            where = f"{thread_id}/messages/{message.id}"
            self._agrees(message, partial(store.get_message, thread_id, message.id), where)
            self._owned(where, thread_id=(message.thread_id, thread_id))
            if message.run_id is not None and not self._resolves(
                message.run_id, run_ids, runs.complete, partial(store.get_run, thread_id)
            ):
                self._find(
                    "dangling-reference",
                    where,
                    f"run_id {message.run_id!r} names no run of the thread",
                )
        for run in runs.items:
            self.report.checked["runs"] += 1
            where = f"{thread_id}/runs/{run.id}"
            self._agrees(run, partial(store.get_run, thread_id, run.id), where)
            self._owned(where, thread_id=(run.thread_id, thread_id))
            self._check_steps(thread_id, run, message_ids, messages.complete)

    def _check_steps(
        self, thread_id: str, run: Run, message_ids: set[str], messages_complete: bool
    ) -> None:
        store = self.store
        steps = self._walk(
            partial(store.list_steps, thread_id, run.id), f"{thread_id}/runs/{run.id}/steps"
        )
        for step in steps.items:
            self.report.checked["steps"] += 1
            where = f"{thread_id}/runs/{run.id}/steps/{step.id}"
            self._agrees(step, partial(store.get_step, thread_id, run.id, step.id), where)
            self._owned(where, thread_id=(step.thread_id, thread_id), run_id=(step.run_id, run.id))
            details = step.step_details
            if isinstance(details, MessageCreationStepDetails):
                message_id = details.message_creation.message_id
                if not self._resolves(
                    message_id,
                    message_ids,
                    messages_complete,
                    partial(store.get_message, thread_id),
                ):
                    self._find(
                        "dangling-reference",
                        where,
                        f"message_creation names message {message_id!r}, which does not exist",
                    )

    # --- reading with corruption in mind -----------------------------------

    def _walk(self, list_page: Callable[..., Page[M]], where: str) -> _Listing[M]:
        """Read a whole list. A page that does not parse is a finding; the list is
        then read from its other end too, so only the records around the bad one are
        left unread."""
        forward, failure = self._read_one_way(list_page, "asc", frozenset())
        if failure is None:
            return _Listing(forward, complete=True)
        self._corrupt(where, failure)
        seen = frozenset(item.id for item in forward)
        backward, second = self._read_one_way(list_page, "desc", seen)
        if second is not None and str(second) != str(failure):
            self._corrupt(where, second)
        return _Listing(forward + backward[::-1], complete=False)

    def _read_one_way(
        self, list_page: Callable[..., Page[M]], order: Literal["asc", "desc"], stop: Iterable[str]
    ) -> tuple[list[M], CorruptDataError | None]:
        """Page through a list until its end, an ID in ``stop``, or a page that does not
        parse (then retried one record at a time to get as close to it as possible)."""
        items: list[M] = []
        seen: set[str] = set()
        stop_at = set(stop)
        after: str | None = None
        sizes = page_sizes()
        limit = next(sizes)
        while True:
            try:
                page = list_page(limit=limit, order=order, after=after)
            except CorruptDataError as error:
                if limit == 1:
                    return items, error
                sizes, limit = repeat(1), 1
                continue
            for item in page.data:
                item_id = item.id
                if item_id in stop_at:
                    return items, None
                if item_id in seen:
                    self._find("duplicate-id", item_id, f"listed twice while paging {order}")
                    return items, None
                seen.add(item_id)
                items.append(item)
            if not page.has_more or not page.data:
                return items, None
            after = page.last_id
            limit = next(sizes)

    def _agrees(self, listed: M, get: Callable[[], M], where: str) -> None:
        """A get must return exactly what the listing returned."""
        try:
            fetched = get()
        except CorruptDataError as error:
            self._corrupt(where, error)
            return
        except NotFoundError:
            self._find("listing-differs", where, "listed, but a get does not find it")
            return
        if fetched.model_dump(mode="json") != listed.model_dump(mode="json"):
            self._find("listing-differs", where, "a get returns something other than the listing")

    def _owned(self, where: str, **owners: tuple[str | None, str]) -> None:
        for name, (recorded, actual) in owners.items():
            if recorded != actual:
                self._find(
                    "wrong-owner", where, f"{name} is {recorded!r}, but it is listed in {actual!r}"
                )

    def _resolves(
        self, wanted: str, known: set[str], complete: bool, get: Callable[[str], object]
    ) -> bool:
        """Whether ``wanted`` exists: from the listing, or by a get if the list was not
        fully readable (a record that exists but does not parse was reported already)."""
        if wanted in known:
            return True
        if complete:
            return False
        try:
            get(wanted)
        except NotFoundError:
            return False
        except CorruptDataError:
            return True
        return True

    def _corrupt(self, where: str, error: CorruptDataError) -> None:
        if not any(f.detail == str(error) for f in self.report.findings):
            self._find("corrupt-record", where, str(error))

    def _find(self, check: str, location: str, detail: str) -> None:
        self.report.findings.append(Finding(check, location, detail))


def verify_store(store: ThreadStore, *, repair: bool = False) -> VerifyReport:
    """Check ``store`` (see the module doc); ``repair`` lets the backend fix what it safely can."""
    verifier = StoreVerifier(store)
    verifier.check_storage(repair=repair)
    for thread in verifier.threads():
        verifier.check_thread(thread)
    for conversation in verifier.conversations():
        verifier.check_conversation(conversation)
    return verifier.report

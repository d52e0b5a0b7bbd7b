"""``file://``: the embedded default. JSON lines on local disk, safe for many processes.

Top-level records (threads, conversations) live in one journal, the *catalog*; what
each one holds (messages, runs, steps; items) lives in a journal of its own, named for
the record's incarnation (see :mod:`.layout`). A write is one ``write`` of the journal's
log under its exclusive ``flock``, then one ``fdatasync`` after the lock is released,
so writers that came meanwhile share the flush. Reads take a shared lock and cost
O(page) through the index. docs/design.md §6.2 has the whole design.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from threadstore.backend import (
    AlreadyExistsError,
    BackendError,
    BaseThreadStore,
    Capability,
    CorruptDataError,
    CursorNotFound,
    Finding,
    InvalidRequestError,
    Kind,
    NotFoundError,
    Record,
    Scope,
    StoreURL,
    decode,
    decode_many,
    encode,
)
from threadstore.backends.local import entries
from threadstore.backends.local.files import (
    TEMP_PREFIX,
    ReadCounter,
    create_file,
    io_errors,
    make_dirs,
    remove_tree,
    try_exclusive,
)
from threadstore.backends.local.journal import Journal
from threadstore.backends.local.layout import FORMAT, FORMAT_VERSION, Incarnation, Layout
from threadstore.backends.local.log import data_in

__all__ = ["LocalOptions", "LocalThreadStore"]

R = TypeVar("R", bound=Record)
T = TypeVar("T")
log = logging.getLogger("threadstore")

OPEN_LISTS = 64
"""List journals one store object keeps open (least recently used are closed)."""
_ATTEMPTS = 4


class LocalOptions(BaseModel):
    """Options of ``file://`` URLs (query string or keywords)."""

    model_config = ConfigDict(extra="forbid")

    durable: bool = True
    """fsync every write (file and directory). ``False`` is faster and survives a killed
    process, but a machine crash or power loss may lose recent writes."""


class LocalThreadStore(BaseThreadStore):
    """A thread store in a directory: durable, shared by threads and processes."""

    capabilities: frozenset[Capability] = frozenset(
        {Capability.PERSISTENT, Capability.SHARED, Capability.MULTI_PROCESS, Capability.DURABLE}
    )

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.durable = durable
        if not durable:
            self.capabilities = type(self).capabilities - {Capability.DURABLE}
        self.stats = ReadCounter()
        self.layout = Layout(self.root, durable)
        self._catalog: Journal | None = None
        self._lists: OrderedDict[Incarnation, Journal] = OrderedDict()
        self._seqs: dict[tuple[str, str], int] = {}
        """The live incarnation of each top-level record, as last seen."""
        self._guard = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        with io_errors("open a store at", self.root):
            self._prepare()

    @classmethod
    def from_url(cls, url: StoreURL, **options: Any) -> Self:
        chosen = url.options(LocalOptions, options)
        if url.host not in ("", "localhost"):
            raise InvalidRequestError(
                f"{url.scheme}:// names a local directory; host {url.host!r} is not supported "
                f"(write {url.scheme}:///absolute/path)"
            )
        if not url.path:
            raise InvalidRequestError(f"a {url.scheme}:// URL needs a directory path")
        return cls(url.path, durable=chosen.durable)

    @classmethod
    def migrate_schema(cls, url: StoreURL, **options: Any) -> tuple[int | None, int]:
        """Bring the store at ``url`` to this format (``threadstore migrate URL``); return
        the format before (``None``: no store there yet, one is made) and after."""
        chosen = url.options(LocalOptions, options)
        layout = Layout(os.path.abspath(url.path), chosen.durable)
        if not os.path.exists(layout.marker):
            cls(url.path, durable=chosen.durable).close()
            return None, FORMAT_VERSION
        from threadstore.backends.local.upgrade import upgrade, version_of

        before = version_of(layout.marker)
        upgrade(layout.root)
        return before, FORMAT_VERSION

    def __repr__(self) -> str:
        durable = "" if self.durable else " durable=False"
        return f"<LocalThreadStore {self.root}{durable}>"

    # --- the store directory ------------------------------------------------------------

    def _prepare(self) -> None:
        """Create or check the store directory, then clear what dead writers left in tmp/.

        A directory is new if it holds nothing but markers being written aside by
        openers racing this one (the first ``link`` wins; the others find its marker). An
        opener that finished meanwhile made its marker before anything else, so a listing
        that shows its work shows the marker too."""
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise InvalidRequestError(
                f"{self.root} is a file; a file:// store is a directory (give a new or "
                "existing directory)"
            )
        make_dirs(self.root, self.durable)
        layout = self.layout
        if not os.path.exists(layout.marker):
            marker = os.path.basename(layout.marker)
            marking = TEMP_PREFIX + marker + "."
            names = os.listdir(self.root)
            if marker not in names:
                if [n for n in names if not n.startswith(marking)]:
                    raise BackendError(
                        f"{self.root} is not empty and holds no {marker}: "
                        "it is not a threadstore, and nothing was written to it"
                    )
                content = json.dumps({"format": FORMAT, "version": FORMAT_VERSION}, indent=2)
                create_file(layout.marker, content.encode() + b"\n", self.durable)
        _check_marker(layout.marker)
        make_dirs(layout.tmp, self.durable)
        make_dirs(layout.lists, self.durable)
        self._clean_up()

    def _clean_up(self) -> None:
        """Remove what dead writers left in ``tmp/``, if no process is using it now.

        Whoever makes a temporary file holds ``threadstore.lock`` shared meanwhile;
        getting it exclusively proves the leftovers belong to dead processes.
        """
        leftovers = os.listdir(self.layout.tmp)
        if not leftovers:
            return
        fd = os.open(self.layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if try_exclusive(fd):
                for name in leftovers:
                    log.info("removing unfinished %s", os.path.join(self.layout.tmp, name))
                    remove_tree(os.path.join(self.layout.tmp, name))
        finally:
            os.close(fd)

    # --- journals -----------------------------------------------------------------------

    def _check_process(self) -> None:
        if self._closed:
            raise BackendError(f"{self!r} is closed")
        if self._pid != os.getpid():  # a forked child must not share our flocks
            for journal in [self._catalog, *self._lists.values()]:
                if journal is not None:
                    journal.close()
            self._catalog, self._lists, self._pid = None, OrderedDict(), os.getpid()

    def catalog(self) -> Journal:
        """The journal of top-level records."""
        with self._guard:
            self._check_process()
            if self._catalog is None:
                self._catalog = Journal.open(
                    self.layout.catalog, self.stats, self.durable, create=True
                )
            assert self._catalog is not None
            return self._catalog

    def _open_list(self, incarnation: Incarnation, create: bool) -> Journal | None:
        with self._guard:
            self._check_process()
            journal = self._lists.get(incarnation)
            if journal is None or journal.stale:
                path = self.layout.list_path(incarnation)
                with io_errors("open", path):
                    shard = self.layout.shard_fd(incarnation, create)
                if shard is None:
                    return None
                try:
                    journal = Journal.open(
                        path, self.stats, self.durable, create=create, directory=shard
                    )
                finally:
                    os.close(shard)
                if journal is None:
                    return None
                old = self._lists.pop(incarnation, None)
                if old is not None and old.users == 0:
                    old.close()
                self._lists[incarnation] = journal
            self._lists.move_to_end(incarnation)
            journal.users += 1
            self._close_idle(len(self._lists) - OPEN_LISTS)
            return journal

    def _close_idle(self, count: int) -> None:
        """Close the ``count`` least recently used journals nobody is using (the guard is
        held). The walk stops as soon as it has found them: usually at the first."""
        idle: list[Incarnation] = []
        if count > 0:
            for key, held in self._lists.items():
                if held.users == 0:
                    idle.append(key)
                    if len(idle) == count:
                        break
        for key in idle:
            self._lists.pop(key).close()

    def _done_with(self, incarnation: Incarnation, journal: Journal) -> None:
        with self._guard:
            journal.users -= 1
            if journal.users == 0 and self._lists.get(incarnation) is not journal:
                journal.close()

    # --- top-level records: the catalog ---------------------------------------------------

    def _incarnation(self, kind: Kind[Any], record_id: str, fresh: bool = False) -> Incarnation:
        """The live incarnation of a top-level record (``kind.missing`` if none)."""
        known = None if fresh else self._seqs.get((kind.name, record_id))
        if known is None:
            catalog = self.catalog()
            found = self._checked(
                catalog, False, partial(entries.live, catalog, kind, (), record_id)
            )
            if found is None:
                self._seqs.pop((kind.name, record_id), None)
                raise kind.missing(record_id)
            known = self._seqs[(kind.name, record_id)] = found.seq
        return Incarnation(kind, record_id, known)

    @staticmethod
    def _checked(journal: Journal, exclusive: bool, step: Callable[[], T]) -> T:
        """Run ``step`` with the journal locked (see :meth:`Journal.checked`)."""
        with journal.locked(exclusive):
            return journal.checked(step)

    def _insert_top(self, kind: Kind[R], records: Sequence[R]) -> None:
        for record in records:
            taken = self._create_top(kind, record)
            if taken is not None and self._is_gone(taken):  # looked at with the catalog free
                self._finish_delete(taken)  # its deleter died midway: the ID is free again
                taken = self._create_top(kind, record)  # unless another creator was quicker
            if taken is not None:
                raise AlreadyExistsError(f"{kind.singular} {record.id!r} already exists")

    def _create_top(self, kind: Kind[R], record: R) -> Incarnation | None:
        """Add the record to the catalog; if its ID is taken, return who has it."""
        catalog = self.catalog()
        data = encode(record)

        def create() -> Incarnation | None:
            found = entries.live(catalog, kind, (), record.id)
            if found is not None:
                return Incarnation(kind, record.id, found.seq)
            seq = entries.count(catalog, kind, ())
            catalog.append(entries.batch(catalog, "add", [(kind, (), record.id, seq, data)]))
            self._seqs[(kind.name, record.id)] = seq
            return None

        taken = self._checked(catalog, True, create)
        if taken is None:
            catalog.sync(f"the create of {kind.singular} {record.id!r}")
        return taken

    def _is_gone(self, incarnation: Incarnation) -> bool:
        """Whether a live catalog entry's lists say it was deleted (its deleter died).
        Lists are locked before the catalog, never while it is held."""
        journal = self._open_list(incarnation, create=False)
        if journal is None:
            return False
        try:
            with journal.locked(exclusive=False):
                return journal.checked(partial(entries.is_gone, journal))
        finally:
            self._done_with(incarnation, journal)

    def _finish_delete(self, incarnation: Incarnation) -> None:
        """Write the catalog's tombstone for an incarnation whose lists are gone (the
        deleter died in between); nothing if another process did it first."""
        catalog = self.catalog()
        if self._checked(catalog, True, partial(entries.tombstone, catalog, incarnation)):
            catalog.sync(f"the delete of {incarnation.kind.singular} {incarnation.id!r}")
        self._seqs.pop((incarnation.kind.name, incarnation.id), None)

    def _fetch_top(self, kind: Kind[R], record_id: str) -> R:
        catalog = self.catalog()

        def read() -> R:
            found = entries.live_line(catalog, kind, (), record_id)
            if found is None:
                raise kind.missing(record_id)
            self._seqs[(kind.name, record_id)] = found[0].seq
            return self._decode(catalog, kind, data_in(found[1]), found[0].offset)

        result: R = self._checked(catalog, False, read)
        return result

    def _modify_top(self, kind: Kind[R], record_id: str, change: Callable[[R], R]) -> R:
        catalog = self.catalog()

        def modify() -> R:
            found = entries.live_line(catalog, kind, (), record_id)
            if found is None:
                raise kind.missing(record_id)
            entry, line = found
            updated = change(self._decode(catalog, kind, data_in(line), entry.offset))
            changes = [(kind, (), record_id, entry.seq, encode(updated))]
            catalog.append(entries.batch(catalog, "set", changes))
            return updated

        result: R = self._checked(catalog, True, modify)
        catalog.sync(f"the update of {kind.singular} {record_id!r}")
        return result

    def _remove_top(self, kind: Kind[Any], record_id: str) -> None:
        """Delete a top-level record: mark its lists gone, tombstone it in the catalog, then
        remove its list files. Its lists are locked throughout, so no writer can add to an
        incarnation that is being deleted."""
        for attempt in range(_ATTEMPTS):
            incarnation = self._incarnation(kind, record_id, fresh=attempt > 0)
            journal = self._open_list(incarnation, create=True)
            assert journal is not None
            try:
                journal.lock(exclusive=True)
                try:
                    if journal.stale or not self._lives(incarnation):
                        if journal.size == 0:
                            self._remove_files(journal)  # made just now, for nothing
                        continue  # deleted or replaced under us: look the record up again
                    if entries.is_gone(journal):  # another deleter got here first
                        self._finish_delete(incarnation)
                        self._remove_files(journal)
                        raise kind.missing(record_id)
                    journal.opening = entries.begin(incarnation)  # if it held nothing
                    journal.append(entries.place(journal, [entries.gone(incarnation)]))
                    try:
                        self._finish_delete(incarnation)
                    except BackendError as exc:  # its lists say deleted, the catalog not yet
                        cause = exc.__cause__
                        why = os.strerror(cause.errno or 0) if isinstance(cause, OSError) else exc
                        raise BackendError(
                            f"cannot record the delete of {kind.singular} {record_id!r} in "
                            f"{self.layout.catalog} ({why}): its outcome is unknown; delete it "
                            "again to settle it (not found then means it is deleted)"
                        ) from exc
                    self._remove_files(journal)
                    return
                finally:
                    journal.unlock()
            finally:
                self._done_with(incarnation, journal)
        raise kind.missing(record_id)  # deleted and created again under us, each time

    @staticmethod
    def _remove_files(journal: Journal) -> None:
        """Unlink a dead incarnation's files, locked through ``journal``: only the files the
        journal has open (whoever made a file at the path since is left alone); what is
        left behind, a check removes."""
        journal.stale = True
        for path, fd in ((journal.path, journal.log_fd), (journal.index.path, journal.index.fd)):
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:  # the record is deleted all the same: a check removes it
                log.warning("cannot remove %s (%s): the storage check removes it", path, exc)

    def _scan_top(
        self, kind: Kind[R], cursor: str | None, descending: bool, count: int, peek: bool
    ) -> tuple[list[R], bool]:
        catalog = self.catalog()
        result: tuple[list[R], bool] = self._checked(
            catalog, False, lambda: self._walk(catalog, kind, (), cursor, descending, count, peek)
        )
        return result

    # --- what top-level records hold: their list journals ---------------------------------

    def _under(
        self,
        kind: Kind[Any],
        scope: Scope,
        step: Callable[[Journal | None], T],
        *,
        write: str | None = None,
    ) -> T:
        """Run ``step`` on the list journal of the scope's top-level record, locked (for a
        ``write``, exclusively, and durable before returning) and current.

        ``step`` gets ``None`` when the record holds nothing yet (a read). A journal whose
        incarnation was deleted meanwhile is left, and the record looked up again; a new,
        empty one is checked against the catalog first. A damaged index is rebuilt from
        the log and ``step`` run again.
        """
        top = kind.lineage[0]
        for attempt in range(_ATTEMPTS):
            try:
                incarnation = self._incarnation(top, scope[0], fresh=attempt > 0)
            except NotFoundError as exc:
                if isinstance(exc, top.not_found):
                    raise kind.owner_missing(scope, 0) from None
                raise
            journal = self._open_list(incarnation, create=write is not None)
            if journal is None:  # nothing held yet (a writer's shard was removed: look again)
                if write is not None or not self._lives(incarnation):
                    continue
                return step(None)
            synced = False
            try:
                with journal.locked(write is not None):
                    try:
                        done, result = journal.checked(
                            partial(self._live_step, journal, incarnation, step, write is not None)
                        )
                    finally:
                        if journal.fresh:  # durable before any other writer may use it
                            synced = True
                            journal.sync(write or f"the start of {journal.path}")
                if done and write is not None and not synced:
                    journal.sync(write)  # unlocked, but still ours: it cannot be closed
            finally:
                self._done_with(incarnation, journal)
            if not done:
                continue
            return result  # type: ignore[return-value]
        raise kind.owner_missing(scope, 0)

    def _lives(self, incarnation: Incarnation) -> bool:
        """Whether the catalog says this incarnation is its record's live one, now."""
        try:
            return self._incarnation(incarnation.kind, incarnation.id, fresh=True) == incarnation
        except NotFoundError:
            return False

    def _live_step(
        self,
        journal: Journal,
        incarnation: Incarnation,
        step: Callable[[Journal | None], T],
        write: bool,
    ) -> tuple[bool, T | None]:
        """``step`` on a locked journal, if its incarnation lives (``(False, None)``: it was
        deleted meanwhile, or it is a new file of a dead one). An empty file (its maker
        could not write its first line) holds nothing yet: a read writes nothing to it."""
        if entries.is_gone(journal):
            if not journal.stale:
                self._finish_delete(incarnation)
            return False, None
        if journal.size == 0:
            if not write:
                return (True, step(None)) if self._lives(incarnation) else (False, None)
            if not self._starts(journal, incarnation):
                return False, None
        return True, step(journal)

    def _starts(self, journal: Journal, incarnation: Incarnation) -> bool:
        """Start a new list file, if its incarnation lives (else the file is a dead one's,
        and is removed): its first write begins with the ``begin`` line. The file, that
        write and its directory entry are made durable together before the lock is let
        go (see :meth:`_under`), so whoever writes to it next finds it durable."""
        if not self._lives(incarnation):
            self._remove_files(journal)
            return False
        self._catalog_durable(incarnation)
        journal.opening = entries.begin(incarnation)
        journal.fresh = True
        return True

    def _catalog_durable(self, incarnation: Incarnation) -> None:
        """Make the catalog line that created the incarnation durable, if this store does
        not know it is: its creator, in another process, may not have synced it yet, and
        a write acknowledged under a record that a power loss then took away would be
        lost with it. (Lists are locked before the catalog: the caller holds its list's.)
        The caller has just found the incarnation live, so the catalog as last read holds
        its line: if this store synced all of that, there is nothing to look up."""
        catalog = self.catalog()
        if catalog.synced >= catalog.size or not catalog.durable:
            return
        line = partial(entries.live_line, catalog, incarnation.kind, (), incarnation.id)
        found = self._checked(catalog, False, line)
        if found is not None:
            catalog.make_durable(found[0].offset + len(found[1]))

    @staticmethod
    def _owners_live(journal: Journal | None, kind: Kind[Any], scope: Scope) -> Journal:
        """The journal, once each owner below the top level lives (a step's run); else
        the first missing owner's not-found error. ``None`` (nothing held yet) has none."""
        if journal is None:
            if kind.depth > 1:
                raise kind.owner_missing(scope, 1)
            raise _NothingHeld
        for level in range(1, kind.depth):
            owner = kind.lineage[level]
            if entries.live(journal, owner, scope[1:level], scope[level]) is None:
                raise kind.owner_missing(scope, level)
        return journal

    def _insert_under(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        under = scope[1:]

        encoded = [encode(record) for record in records]  # before the lock: not under it

        def insert(held: Journal | None) -> None:
            journal = self._owners_live(held, kind, scope)
            first = entries.count(journal, kind, under)
            for record in records:
                if entries.live(journal, kind, under, record.id) is not None:
                    raise AlreadyExistsError(f"{kind.singular} {record.id!r} already exists")
            changes = [
                (kind, under, record.id, first + n, data)
                for n, (record, data) in enumerate(zip(records, encoded, strict=True))
            ]
            journal.append(entries.batch(journal, "add", changes))

        self._under(kind, scope, insert, write=f"the append of {kind.singular} {records[0].id!r}")

    def _fetch_under(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        def fetch(held: Journal | None) -> R:
            try:
                journal = self._owners_live(held, kind, scope)
            except _NothingHeld:
                raise kind.missing(record_id) from None
            found = entries.live_line(journal, kind, scope[1:], record_id)
            if found is None:
                raise kind.missing(record_id)
            return self._decode(journal, kind, data_in(found[1]), found[0].offset)

        return self._under(kind, scope, fetch)

    def _modify_under(
        self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]
    ) -> R:
        under = scope[1:]

        def modify(held: Journal | None) -> R:
            journal = self._owners_live(held, kind, scope)
            found = entries.live_line(journal, kind, under, record_id)
            if found is None:
                raise kind.missing(record_id)
            entry, line = found
            updated = change(self._decode(journal, kind, data_in(line), entry.offset))
            changes = [(kind, under, record_id, entry.seq, encode(updated))]
            journal.append(entries.batch(journal, "set", changes))
            return updated

        what = f"the update of {kind.singular} {record_id!r}"
        return self._under(kind, scope, modify, write=what)

    def _remove_under(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        under = scope[1:]

        def remove(held: Journal | None) -> None:
            journal = self._owners_live(held, kind, scope)
            found = entries.live(journal, kind, under, record_id)
            if found is None:
                raise kind.missing(record_id)
            deletes: list[entries.Change] = [(kind, under, record_id, found.seq, None)]
            deletes += entries.held_records(journal, kind, (*under, record_id))
            journal.append(entries.batch(journal, "del", deletes))

        self._under(kind, scope, remove, write=f"the delete of {kind.singular} {record_id!r}")

    def _scan_under(
        self,
        kind: Kind[R],
        scope: Scope,
        cursor: str | None,
        descending: bool,
        count: int,
        peek: bool,
    ) -> tuple[list[R], bool]:
        def scan(held: Journal | None) -> tuple[list[R], bool]:
            try:
                journal = self._owners_live(held, kind, scope)
            except _NothingHeld:
                if cursor is not None:
                    raise CursorNotFound(cursor) from None
                return [], False
            return self._walk(journal, kind, scope[1:], cursor, descending, count, peek)

        return self._under(kind, scope, scan)

    def _walk(
        self,
        journal: Journal,
        kind: Kind[R],
        under: tuple[str, ...],
        cursor: str | None,
        descending: bool,
        count: int,
        peek: bool,
    ) -> tuple[list[R], bool]:
        """Up to ``count`` live records after ``cursor``: O(page), through position slots;
        with ``peek``, also whether a live record follows them (its line is checked as
        theirs are, and not decoded)."""
        total = entries.count(journal, kind, under)
        if cursor is None:
            position = total if descending else -1
        else:
            found = entries.live(journal, kind, under, cursor)
            if found is None:
                raise CursorNotFound(cursor)
            position = found.seq
        step = -1 if descending else 1
        wanted = count + 1 if peek else count
        slots = entries.live_slots(journal, kind, under, position + step, step, total, wanted)
        held = entries.records_in(journal, kind, under, slots)
        more, held, slots = len(held) > count, held[:count], slots[:count]
        datas = [data for data in held if data is not None]
        if len(datas) < len(held):  # a line without a record: each alone, in order
            pairs = zip(held, slots, strict=True)
            return [self._decode(journal, kind, data, at.offset) for data, (_, at) in pairs], more
        records = decode_many(kind, datas, lambda n: _at(journal, slots[n][1].offset))
        self.stats.records_decoded += len(records)
        return records, more

    def _decode(self, journal: Journal, kind: Kind[R], data: bytes | None, offset: int) -> R:
        """The record a checked line carries (``data``, from :func:`data_in`)."""
        if data is None:
            raise CorruptDataError(f"corrupt log record in {_at(journal, offset)}")
        self.stats.records_decoded += 1
        return decode(kind, data, _at(journal, offset))

    # --- storage hooks ------------------------------------------------------------------

    def _insert(self, kind: Kind[R], scope: Scope, records: Sequence[R]) -> None:
        if kind.owner is None:
            self._insert_top(kind, records)
        else:
            self._insert_under(kind, scope, records)

    def _fetch(self, kind: Kind[R], scope: Scope, record_id: str) -> R:
        if kind.owner is None:
            return self._fetch_top(kind, record_id)
        return self._fetch_under(kind, scope, record_id)

    def _modify(self, kind: Kind[R], scope: Scope, record_id: str, change: Callable[[R], R]) -> R:
        if kind.owner is None:
            return self._modify_top(kind, record_id, change)
        return self._modify_under(kind, scope, record_id, change)

    def _remove(self, kind: Kind[Any], scope: Scope, record_id: str) -> None:
        if kind.owner is None:
            self._remove_top(kind, record_id)
        else:
            self._remove_under(kind, scope, record_id)

    def _scan(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> list[R]:
        return self._listing(kind, scope, cursor, descending, count, peek=False)[0]

    def _scan_page(
        self, kind: Kind[R], scope: Scope, cursor: str | None, descending: bool, count: int
    ) -> tuple[list[R], bool]:
        return self._listing(kind, scope, cursor, descending, count, peek=True)

    def _listing(
        self,
        kind: Kind[R],
        scope: Scope,
        cursor: str | None,
        descending: bool,
        count: int,
        peek: bool,
    ) -> tuple[list[R], bool]:
        if kind.owner is None:
            return self._scan_top(kind, cursor, descending, count, peek)
        return self._scan_under(kind, scope, cursor, descending, count, peek)

    # --- lifecycle ------------------------------------------------------------------------

    def check_storage(self, repair: bool) -> list[Finding]:
        """Check every file of the store (see ``threadstore.integrity.StorageCheck``)."""
        from threadstore.backends.local.check import check_store

        with io_errors("check", self.root):
            return check_store(self.layout, self.stats, repair)

    def _close(self) -> None:
        """Sync the indexes this object wrote (so a reboot need not rebuild them), close all."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
            journals = [j for j in (self._catalog, *self._lists.values()) if j is not None]
            self._catalog, self._lists = None, OrderedDict()
            forked = self._pid != os.getpid()
            self.layout.close()
        for journal in journals:
            if self.durable and journal.commits and not forked and not journal.stale:
                try:
                    with journal.locked(exclusive=True):
                        journal.index.sync()
                except (OSError, BackendError) as exc:  # derived: a reboot rebuilds it
                    log.warning("could not sync %s: %s", journal.index.path, exc)
            journal.close()


class _NothingHeld(Exception):
    """The top-level record exists and holds nothing yet (it has no list file)."""


def _at(journal: Journal, offset: int) -> str:
    """Where a line is, for an error about it."""
    return f"{journal.path} at byte {offset}"


def _check_marker(path: str) -> None:
    with open(path, "rb") as file:
        raw = file.read()
    try:
        marker = json.loads(raw)
    except ValueError:
        marker = None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        raise CorruptDataError(f"{path} is not a threadstore marker")
    version = marker.get("version")
    if version == 1:
        root = os.path.dirname(path)
        raise BackendError(
            f"{root} holds a store in format 1 (threadstore 0.1); this threadstore reads "
            f"format {FORMAT_VERSION}. Stop every process that uses it, then run: "
            f"threadstore migrate file://{root}"
        )
    if version != FORMAT_VERSION:
        raise BackendError(
            f"{path}: format version {version!r} is not supported "
            f"(this threadstore reads version {FORMAT_VERSION})"
        )

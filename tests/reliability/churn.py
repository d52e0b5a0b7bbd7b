"""Churn: processes that delete, re-create, append to and read a few shared thread IDs.

Each worker process picks a thread ID and a call at random and logs the call's start and
answer to the parent (:class:`~.history.History`), which may SIGKILL it at any moment and
start another. After each round, with every worker stopped, the store is read, held to
the log, checked and repaired (``check_storage(repair=True)`` must leave it clean and
drop nothing), and what it holds becomes the next round's starting state.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

from threadstore.errors import AlreadyExistsError, NotFoundError
from threadstore.integrity import StorageCheck, verify_store
from threadstore.models import Message, Thread
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

from .history import EXISTS, NOT_FOUND, OK, History, ThreadState
from .processes import CONTEXT, WAIT

__all__ = ["Churn", "observe_threads"]

CALLS = {"append": 50, "batch": 8, "read": 14, "create": 14, "delete": 10, "repair": 1}
"""The mix of calls (weights): enough deletes that threads die young and are born again,
and now and then ``check_storage(repair=True)`` beside the writers (it must succeed and
take nothing of theirs)."""
FOREVER = 1_000_000
"""Calls a worker that is meant to be killed would make before stopping by itself."""


def churn_worker(url: str, threads: list[str], tag: str, seed: int, calls: int, sink: Any) -> None:
    """Child: make ``calls`` random calls on ``threads``, logging each to ``sink``."""
    rng = random.Random(seed)

    def emit(record: dict[str, Any]) -> None:
        sink.send_bytes(json.dumps(record).encode())

    with open_store(url) as store:
        for n in range(calls):
            thread = rng.choice(threads)
            kind = rng.choices(list(CALLS), list(CALLS.values()))[0]
            ids, call = _call(store, kind, thread, f"{tag}:{n}", rng)
            emit({"n": n, "op": "append" if kind == "batch" else kind, "thread": thread,
                  "ids": ids, "s": time.monotonic()})  # fmt: skip
            seen = None
            try:
                seen = call()
                outcome = OK
            except NotFoundError:
                outcome = NOT_FOUND
            except AlreadyExistsError:
                outcome = EXISTS
            except Exception as exc:  # judged by the parent: nothing else may escape
                outcome = f"{type(exc).__name__}: {exc}"
            end = time.monotonic()
            emit({"n": n, "e": end, "out": outcome, "seen": seen})
    emit({"done": True})


def _call(
    store: ThreadStore, kind: str, thread: str, token: str, rng: random.Random
) -> tuple[list[str], Callable[[], list[str] | None]]:
    """The IDs a call writes, and the call (a read returns the message IDs it saw)."""
    if kind == "create":
        created = Thread(id=thread, metadata={"by": token})
        return [token], lambda: _none(store.create_thread(created))
    if kind == "delete":
        return [], lambda: _none(store.delete_thread(thread))
    if kind == "read":
        return [], lambda: [m.id for m in store.iter_messages(thread)]
    if kind == "repair":
        assert isinstance(store, StorageCheck)
        return [], lambda: _none(store.check_storage(repair=True))
    size = rng.randint(2, 4) if kind == "batch" else 1
    messages = [Message.user(f"{token}.{i}") for i in range(size)]
    if size == 1:
        return [messages[0].id], lambda: _none(store.append_message(thread, messages[0]))
    return [m.id for m in messages], lambda: _none(store.append_messages(thread, messages))


def _none(_: object) -> None:
    return None


def observe_threads(store: ThreadStore, threads: list[str]) -> dict[str, ThreadState | None]:
    """What each thread ID holds now (no writer running)."""
    state: dict[str, ThreadState | None] = {}
    for thread in threads:
        try:
            made = store.get_thread(thread)
            messages = tuple(m.id for m in store.iter_messages(thread))
        except NotFoundError:
            state[thread] = None
            continue
        state[thread] = ThreadState(made.metadata.get("by", ""), messages)
    return state


@dataclass
class _Worker:
    tag: str
    process: Any
    stream: Connection
    answered: int = 0
    done: bool = False
    finished: bool = False
    """It said it made all its calls (a worker whose stream ends otherwise crashed)."""

    def answered_at_least(self, calls: int) -> bool:
        return self.answered >= calls or self.done


@dataclass
class Churn:
    """Rounds of churn on one store; the figures of all rounds so far."""

    url: str
    threads: list[str]
    workers: int
    seed: int
    leftovers: frozenset[str]
    rng: random.Random = field(init=False)
    state: dict[str, ThreadState | None] = field(init=False)
    kills: int = 0
    checked: int = 0
    unknown: int = 0
    repaired: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    _started: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.state = {thread: None for thread in self.threads}

    def round(self, calls: int = 0, kills: int = 0, acks: int = 20, pause: float = 0.005) -> None:
        """One round: ``self.workers`` processes at once, each making ``calls`` calls (and
        exiting), or, with ``kills``, killed one at a time after 1..``acks`` answered calls
        and a pause, and replaced, until ``kills`` were killed; then the rest are killed
        too. Then the store is checked (the round's assertions)."""
        history = History.starting_from(self.state)
        running = [self._start(calls if not kills else FOREVER) for _ in range(self.workers)]
        try:
            for _ in range(kills):
                victim = self.rng.choice(running)
                self._drain(
                    running,
                    history,
                    partial(victim.answered_at_least, victim.answered + self.rng.randint(1, acks)),
                )
                time.sleep(self.rng.uniform(0, pause))
                self._kill(victim, running, history)
                running.append(self._start(FOREVER))
            if kills:
                for worker in list(running):
                    self._kill(worker, running, history)
            else:
                self._drain(running, history, lambda: all(w.done for w in running))
                crashed = [w.tag for w in running if not w.finished]
                assert not crashed, f"workers {crashed} died before making their calls"
        finally:
            for worker in running:
                _stop(worker)
        self._check(history)

    def _start(self, calls: int) -> _Worker:
        tag = f"w{self._started}"
        self._started += 1
        receive, send = CONTEXT.Pipe(duplex=False)
        process = CONTEXT.Process(
            target=churn_worker,
            args=(self.url, self.threads, tag, self.rng.randrange(2**32), calls, send),
            daemon=True,
        )
        process.start()
        send.close()
        return _Worker(tag, process, receive)

    def _drain(self, running: list[_Worker], history: History, until: Callable[[], bool]) -> None:
        """Feed what the workers send to ``history`` until ``until()`` (bounded by WAIT)."""
        deadline = time.monotonic() + WAIT
        while not until():
            streams = [w.stream for w in running if not w.done]
            left = deadline - time.monotonic()
            assert streams, "every worker is gone"
            assert left > 0, "workers stopped answering"
            for ready in wait(streams, timeout=left):
                worker = next(w for w in running if w.stream is ready)
                self._receive(worker, history)

    @staticmethod
    def _receive(worker: _Worker, history: History) -> bool:
        """Take one record from the worker; ``False`` once its stream is closed."""
        try:
            record = json.loads(worker.stream.recv_bytes())
        except (EOFError, OSError):
            worker.done = True
            return False
        if record.get("done"):
            worker.done = worker.finished = True
        else:
            history.feed(worker.tag, record)
            worker.answered += "e" in record
        return True

    def _kill(self, worker: _Worker, running: list[_Worker], history: History) -> None:
        assert not worker.done, f"worker {worker.tag} died before it was killed"
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(WAIT)
        while not worker.done and worker.stream.poll(0) and self._receive(worker, history):
            pass
        worker.stream.close()
        worker.done = True
        running.remove(worker)
        self.kills += 1

    def _check(self, history: History) -> None:
        with open_store(self.url) as store:
            final = observe_threads(store, self.threads)
            problems = history.check(final)
            assert not problems, "\n".join(problems)
            report = verify_store(store)
            unexpected = [f for f in report.findings if f.check not in self.leftovers]
            assert not unexpected, unexpected
            fixed = verify_store(store, repair=True)
            assert fixed.ok, [f for f in fixed.findings if not f.repaired]
            self.repaired.update(f.check for f in fixed.findings)
            again = verify_store(store).findings
            assert not again, f"repair left {again} (it found {fixed.findings})"
            after = observe_threads(store, self.threads)
            assert after == final, f"repair changed the store: {final} -> {after}"
        self.state = final
        self.checked += history.answered + history.unknown
        self.unknown += history.unknown
        self.calls += history.counts


def _stop(worker: _Worker) -> None:
    if worker.process.is_alive():
        os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(WAIT)
    worker.stream.close()

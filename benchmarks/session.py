"""The Agents SDK's session memory: ``ThreadStoreSession`` beside the SDK's ``SQLiteSession``.

    python -m benchmarks.session [--quick | --smoke] [--no-s3]

Every contender is a ``Session`` as the Runner is given one, driven through the SDK's
protocol on one asyncio loop, as the Runner drives it: ``add_items`` of one item (the
user's turn), ``add_items`` of five (a model's turn: reasoning, a tool call, its output,
the answer, the next question), and ``get_items(limit=20)`` on a session that holds
``session_items`` items (the history a turn reads). ``ThreadStoreSession`` runs on one
store per backend, opened once, as a server would; ``SQLiteSession`` on one file, as
documented (WAL, ``synchronous=FULL``). Durable contenders take turns one call at a
time, memory among the quick ones, S3 (moto on loopback) on its own. The main run
(``python -m benchmarks``) measures the same and puts it in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from itertools import count
from pathlib import Path

from agents import SQLiteSession
from agents.items import TResponseInputItem
from agents.memory import Session

from benchmarks.corpus import Corpus
from benchmarks.fixtures import Fixtures
from benchmarks.loopback_s3 import LoopbackS3, s3_available
from benchmarks.profiles import PROFILES, Profile
from benchmarks.results import ContenderInfo, Figure, Results
from benchmarks.units import duration, ratio
from benchmarks.workloads import Bench, Pace, in_turns
from threadstore.ids import new_id
from threadstore.integrations.agents import ThreadStoreSession
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

__all__ = [
    "ADD_ONE",
    "ADD_TURN",
    "LATEST",
    "SESSION_FILE",
    "SESSION_SQLITE",
    "main",
    "measure_sessions",
]

ADD_ONE = "session-add-1"
ADD_TURN = "session-add-5"
LATEST = "session-latest-20"
WORKLOADS = {ADD_ONE: "add_items, 1 item", ADD_TURN: "add_items, 5 items", LATEST: "get_items(20)"}

SESSION_MEMORY = "ThreadStoreSession memory"
SESSION_FILE = "ThreadStoreSession file"
SESSION_S3 = "ThreadStoreSession s3 (moto)"
SESSION_SQLITE = "agents SQLiteSession"

_TEXT = Corpus.fresh(2)


@dataclass
class SessionContender:
    """One way to keep an agent's sessions: opens a session by ID."""

    label: str
    open: Callable[[str], Session]
    pace: Pace
    durable: bool
    description: str


def _user(n: int) -> TResponseInputItem:
    return {"role": "user", "content": _TEXT[0].text + f" ({n})"}


def _turn(n: int) -> list[TResponseInputItem]:
    """A model's turn as the Runner saves it, with fresh IDs, and the next question."""
    call = f"call_{n}"
    return [
        {
            "id": new_id("rs"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "look it up"}],
        },
        {
            "id": new_id("fc"),
            "type": "function_call",
            "call_id": call,
            "name": "search",
            "arguments": '{"q": "fox"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": call, "output": _TEXT[1].text},
        {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": _TEXT[1].text, "annotations": []}],
        },
        _user(n),
    ]


def _batches(size: int, calls: int) -> Iterator[list[TResponseInputItem]]:
    """Batches built before they are timed: one user item, or a turn of five."""
    numbers = count()
    built = [[_user(next(numbers))] if size == 1 else _turn(next(numbers)) for _ in range(calls)]
    return iter(built)


def _in_store(store: ThreadStore, session_id: str) -> Session:
    return ThreadStoreSession(session_id, store)


def _add(
    loop: asyncio.AbstractEventLoop, session: Session, batches: Iterator[list[TResponseInputItem]]
) -> None:
    loop.run_until_complete(session.add_items(next(batches)))


def _latest(loop: asyncio.AbstractEventLoop, session: Session) -> int:
    return len(loop.run_until_complete(session.get_items(limit=20)))


def lineup(workdir: Path, s3: LoopbackS3 | None, cleanup: ExitStack) -> list[SessionContender]:
    """The sessions measured, each store opened once and closed by ``cleanup``."""
    found = []
    for label, url, options, pace in (
        (SESSION_MEMORY, "memory://", {}, Pace.QUICK),
        (SESSION_FILE, f"file://{workdir / 'sessions'}", {}, Pace.DISK),
        *(
            [(SESSION_S3, s3.url("sessions"), {"endpoint_url": s3.endpoint}, Pace.ALONE)]
            if s3 is not None
            else []
        ),
    ):
        store = cleanup.enter_context(open_store(url, **options))
        found.append(
            SessionContender(
                label,
                partial(_in_store, store),
                pace,
                durable=pace is not Pace.QUICK,
                description=f"`ThreadStoreSession` over one `{url.split(':')[0]}://` store",
            )
        )
    path = workdir / "agents-sessions.db"

    def sqlite(session_id: str) -> Session:
        session = SQLiteSession(session_id, path)
        cleanup.callback(session.close)
        return session

    found.append(
        SessionContender(
            SESSION_SQLITE,
            sqlite,
            Pace.DISK,
            durable=True,
            description="openai-agents `SQLiteSession` on one file (WAL, synchronous=FULL)",
        )
    )
    return found


def measure_sessions(bench: Bench, contenders: Sequence[SessionContender]) -> None:
    """The three session figures for every contender, the contenders in turns."""
    profile, results = bench.profile, bench.results
    loop = asyncio.new_event_loop()
    try:
        for contender in contenders:
            results.contenders[contender.label] = ContenderInfo(
                contender.label,
                "threadstore" if contender.label != SESSION_SQLITE else "peer",
                contender.durable,
                contender.description,
            )
        paces = {c.label: c.pace for c in contenders}
        for workload, size in ((ADD_ONE, 1), (ADD_TURN, 5)):
            ops: dict[str, Callable[[], object]] = {}
            for contender in contenders:
                session = contender.open(new_id("conv"))
                batches = _batches(size, profile.appends + 1)
                ops[contender.label] = partial(_add, loop, session, batches)
            for label, stats in in_turns(bench, ops, profile.appends, paces).items():
                results.add(Figure(workload, label, stats))
        reads: dict[str, Callable[[], object]] = {}
        for contender in contenders:
            session = contender.open(new_id("conv"))
            for batch in _batches(5, profile.session_items // 5):
                loop.run_until_complete(session.add_items(batch))
            read = partial(_latest, loop, session)
            got = read()
            if got != 20:
                bench.fail(f"{LATEST}: {contender.label}", AssertionError(f"got {got} items"))
                continue
            reads[contender.label] = read
        for label, stats in in_turns(bench, reads, profile.reads, paces, warmup=0).items():
            results.add(Figure(LATEST, label, stats, profile.session_items))
    finally:
        loop.close()


def table(results: Results) -> list[tuple[str, ...]]:
    """Per contender: each workload's median, and its ratio to ``SQLiteSession``'s."""
    rows = []
    for label in results.labels(ADD_ONE):
        row = [label]
        for workload in WORKLOADS:
            figure = next((f for f in results.of(workload) if f.contender == label), None)
            peer = next((f for f in results.of(workload) if f.contender == SESSION_SQLITE), None)
            if figure is None:
                row.append("-")
                continue
            shown = duration(figure.stats.median)
            if peer is not None and label != SESSION_SQLITE:
                shown += f" ({ratio(figure.stats.median / peer.stats.median)})"
            row.append(shown)
        rows.append(tuple(row))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.session", description=__doc__)
    parser.add_argument("--quick", dest="profile", action="store_const", const="quick")
    parser.add_argument("--smoke", dest="profile", action="store_const", const="smoke")
    parser.add_argument("--no-s3", action="store_true")
    parser.set_defaults(profile="default")
    args = parser.parse_args(argv)
    profile: Profile = PROFILES[args.profile]
    results = Results()
    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="threadstore-bench-") as root:
        why_not = "--no-s3" if args.no_s3 else s3_available()
        s3 = None if why_not else cleanup.enter_context(LoopbackS3(profile.s3_delay))

        def log(text: str) -> None:
            print(text, file=sys.stderr, flush=True)

        def fail(what: str, error: Exception) -> None:
            raise RuntimeError(what) from error

        corpus = Corpus()
        bench = Bench(profile, results, Fixtures(corpus), corpus, Path(root), log, fail)
        measure_sessions(bench, lineup(Path(root), s3, cleanup))
    header = ("session", *WORKLOADS.values())
    print(" | ".join(header))
    for row in table(results):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

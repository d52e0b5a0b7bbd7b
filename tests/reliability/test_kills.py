"""Writers SIGKILLed at random moments, on local disk and on S3 (moto): after every kill the
store is reopened and held to the log of what the writers were told had happened.

Each round starts one writer per lane; each writer resumes its lane from the store and
makes a random mix of writes (:mod:`.workload`), streaming an intent before each call and
an ack after it. The parent kills it after a random number of acks plus a random pause,
so the kill lands inside a call, then checks (:func:`.survival.check_store`).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

from threadstore.models import Thread
from threadstore.registry import open_store

from .budget import BUDGET
from .figures import record
from .logfiles import records_end
from .oracle import Oracle, Tally
from .processes import start_writer
from .stores import s3_url
from .survival import LOCAL_LEFTOVERS, S3_LEFTOVERS, check_store

LANES = ("a", "b")


ROUNDS_PER_LANE = 4
"""Rounds before the lanes start over on fresh threads: a check reads every lane whole,
so long soaks would otherwise pay more for each check than for the kills."""


def kill_rounds(
    url: str,
    kills: int,
    seed: int,
    pause: float,
    acks: int,
    leftovers: frozenset[str] = frozenset(),
) -> tuple[Tally, Counter[str], int]:
    """Kill ``kills`` writers (one per lane per round), each after 1..``acks`` acks and a
    pause of up to ``pause`` seconds, checking the store after each round; return what
    the writers' streams carried, the repairs made and the kills."""
    rng = random.Random(seed)
    total = Tally()
    repaired: Counter[str] = Counter()
    done = 0
    rounds = -(-kills // len(LANES))
    for first in range(0, rounds, ROUNDS_PER_LANE):
        with open_store(url) as store:
            lanes = {  # lane names are new with each set of threads: side threads too
                f"{lane}{first}": store.create_thread(Thread(id=f"thread_lane_{lane}{first}")).id
                for lane in LANES
            }
        oracle = Oracle()
        for round_number in range(first, min(rounds, first + ROUNDS_PER_LANE)):
            writers = [
                start_writer(url, thread_id, lane, f"{lane}r{round_number}", rng.randrange(2**32))
                for lane, thread_id in lanes.items()
            ]
            for writer in writers:
                writer.kill_after(rng.randint(1, acks), rng.uniform(0, pause), oracle)
                done += 1
            repaired += check_store(url, oracle, lanes, leftovers)
        assert not oracle.tally.errors, oracle.tally.errors
        assert oracle.tally.failed == 0, "a write failed with no fault injected"
        total.add(oracle)
    return total, repaired, done


def whole_lines(root: Path) -> int:
    """Every log is whole JSON lines (a torn tail was cut); return the line count."""
    lines = 0
    for log in [root / "catalog.jsonl", *root.glob("lists/*/*/*.jsonl")]:
        raw = log.read_bytes()
        records = raw[: records_end(raw)]
        assert not raw[len(records) :].strip(b"\n\0"), f"{log} keeps bytes after its records"
        assert not records or records.endswith(b"\n"), f"{log} ends inside a record"
        for line in records.splitlines():
            json.loads(line)  # a torn line would not parse
            lines += 1
    return lines


def report(area: str, tally: Tally, repaired: Counter[str], kills: int) -> None:
    record(
        area,
        {
            "kills survived": kills,
            "operations checked": tally.checked,
            "acknowledged": tally.acks,
            "in flight at a kill": tally.unacked,
            "repairs": sum(repaired.values()),
            "losses": 0,
            **{f"repair: {kind}": count for kind, count in repaired.items()},
            **{f"operation: {op}": count for op, count in tally.by_op.items()},
        },
    )


def test_local_writers_killed_at_random_lose_nothing_acknowledged(tmp_path: Path) -> None:
    root = tmp_path / "store"
    tally, repaired, kills = kill_rounds(
        str(root),
        BUDGET.local_kills,
        seed=1,
        pause=0.004,
        acks=BUDGET.acks_before_kill,
        leftovers=LOCAL_LEFTOVERS,
    )
    assert tally.acks > kills
    assert os.listdir(root / "tmp") == [], "an open after the kills left unfinished work"
    assert whole_lines(root) > tally.acks // 2
    report("kills/local", tally, repaired, kills)


def test_s3_writers_killed_at_random_lose_nothing_acknowledged(s3_endpoint: str) -> None:
    url = s3_url(s3_endpoint)
    tally, repaired, kills = kill_rounds(
        url,
        BUDGET.s3_kills,
        seed=2,
        pause=0.03,
        acks=BUDGET.s3_acks_before_kill,
        leftovers=S3_LEFTOVERS,
    )
    assert tally.acks > kills
    report("kills/s3", tally, repaired, kills)

"""The physical floors each figure is read against.

- Local disk: a durable commit cannot be cheaper than one ``write`` plus one
  ``fdatasync`` of a small record (about one message) on this disk. The cheapest form
  overwrites a preallocated file, so only data is flushed (a WAL that reuses its file
  does this); appending to a growing file also commits the new size to the file
  system's journal, which can cost several times more. Both are measured.

Other work on the machine moves these floors (an fsync waits for everyone's journal
commit), so they are measured at the start and again at the end of a run; ratios use
the lower of the two medians, the better estimate of what the hardware allows.
- A call's tail: on a shared machine, a fixed piece of CPU work also has slow calls (the
  scheduler, other tenants, the caches). :class:`CpuTask` is such a piece, sized to a
  given median and timed in the same turns, so a tail can be read against it.
- Object storage: a request cannot be cheaper than one round trip. With the proxy's
  injected delay that is the delay plus the server's own time for a tiny GET, measured
  with a bare HTTP client (no SDK, no signing) on a kept-alive connection.
"""

from __future__ import annotations

import http.client
import os
import statistics
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Self

from benchmarks.corpus import BODY_CHARS
from benchmarks.measure import Stats, sample
from benchmarks.results import Figure, Results

__all__ = [
    "ALONGSIDE_APPENDS",
    "ALONGSIDE_RUNS",
    "CPU_TASK",
    "FSYNC_FLOOR",
    "FSYNC_GROWING",
    "S3_DELAYED_FLOOR",
    "S3_FLOOR",
    "CpuTask",
    "FsyncRecord",
    "cpu_median",
    "floor",
    "fsync_floor",
    "round_trip_floor",
]

ALONGSIDE_APPENDS = "alongside appends"
ALONGSIDE_RUNS = "alongside run claims"
FSYNC_FLOOR = "write + fdatasync, preallocated file"
FSYNC_GROWING = "write + fdatasync, growing file"
S3_FLOOR = "S3 request, moto direct"
S3_DELAYED_FLOOR = "S3 request +delay"
CPU_TASK = "fixed CPU task"

RECORD = b"x" * (BODY_CHARS + 300) + b"\n"  # about one message's wire JSON
_WARMUP = 3


class FsyncRecord:
    """One durable ~1 KB commit per call: ``write`` + ``fdatasync`` (a context manager).

    ``grow``: append to a growing file; otherwise overwrite a file preallocated for
    ``count`` records, in turn (so only data is flushed).
    """

    def __init__(self, directory: Path, count: int, *, grow: bool) -> None:
        self.path = directory / f"fsync-floor-{'grow' if grow else 'overwrite'}.bin"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if grow else 0), 0o600)
        if not grow:
            os.write(self.fd, b"\0" * len(RECORD) * count)
            os.fsync(self.fd)
            os.lseek(self.fd, 0, os.SEEK_SET)

    def __call__(self) -> None:
        os.write(self.fd, RECORD)
        os.fdatasync(self.fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)
        self.path.unlink()


class CpuTask:
    """The same CPU work on every call (checksums of one record, no system call, nothing
    kept), as many rounds as take ``median`` seconds of thread CPU time here and now."""

    def __init__(self, median: float) -> None:
        self.rounds = 1000
        per_round = cpu_median(self, 50) / self.rounds
        self.rounds = max(1, round(median / per_round))

    def __call__(self) -> None:
        for _ in range(self.rounds):
            zlib.crc32(RECORD)


def cpu_median(op: Callable[[], object], count: int) -> float:
    """The median thread CPU time, in seconds, of ``count`` calls of ``op``."""
    spent = []
    for _ in range(count):
        start = time.thread_time_ns()
        op()
        spent.append((time.thread_time_ns() - start) / 1e9)
    return statistics.median(spent)


def fsync_floor(directory: Path, count: int, *, grow: bool) -> Stats:
    """Seconds per ``write`` + ``fdatasync`` of one ~1 KB record."""
    with FsyncRecord(directory, count + _WARMUP, grow=grow) as commit:
        return sample(commit, count=count, warmup=_WARMUP)


def round_trip_floor(port: int, path: str, count: int) -> Stats:
    """Seconds per bare HTTP GET of ``path`` on 127.0.0.1:``port`` (one round trip).

    ``path`` carries its query (a presigned URL's), so no SDK is involved per request.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:

        def get() -> None:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")

        return sample(get, count=count, warmup=2)
    finally:
        connection.close()


def floor(results: Results, label: str, alongside: str | None = None) -> Figure | None:
    """The floor to read a figure against: the one measured ``alongside`` its workload
    (in the same rounds) if there is one, else the lower of the start and end ones."""
    measured = [f for f in results.of("floor") if f.contender == label]
    beside = [f for f in measured if alongside is not None and f.position == alongside]
    return beside[0] if beside else min(measured, key=lambda f: f.stats.median, default=None)

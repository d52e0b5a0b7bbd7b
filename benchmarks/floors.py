"""The physical floors each figure is read against.

- Local disk: a durable commit cannot be cheaper than one ``write`` plus one
  ``fdatasync`` of a small record (about one message) on this disk. The cheapest form
  overwrites a preallocated file, so only data is flushed (a WAL that reuses its file
  does this); appending to a growing file also commits the new size to the file
  system's journal, which can cost several times more. Both are measured.

Other work on the machine moves these floors (an fsync waits for everyone's journal
commit), so they are measured at the start and again at the end of a run; ratios use
the lower of the two medians, the better estimate of what the hardware allows.
- Object storage: a request cannot be cheaper than one round trip. With the proxy's
  injected delay that is the delay plus the server's own time for a tiny GET, measured
  with a bare HTTP client (no SDK, no signing) on a kept-alive connection.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path

from benchmarks.corpus import BODY_CHARS
from benchmarks.measure import Stats, sample
from benchmarks.results import Figure, Results

__all__ = [
    "FSYNC_FLOOR",
    "FSYNC_GROWING",
    "S3_DELAYED_FLOOR",
    "S3_FLOOR",
    "floor",
    "fsync_floor",
    "round_trip_floor",
]

FSYNC_FLOOR = "write + fdatasync, preallocated file"
FSYNC_GROWING = "write + fdatasync, growing file"
S3_FLOOR = "S3 request, moto direct"
S3_DELAYED_FLOOR = "S3 request +delay"

RECORD = b"x" * (BODY_CHARS + 300) + b"\n"  # about one message's wire JSON
_WARMUP = 3


def fsync_floor(directory: Path, count: int, *, grow: bool) -> Stats:
    """Seconds per ``write`` + ``fdatasync`` of one ~1 KB record.

    ``grow``: append to a growing file; otherwise overwrite a preallocated one in turn.
    """
    path = directory / "fsync-floor.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if grow else 0), 0o600)
    try:
        if not grow:
            os.write(fd, b"\0" * len(RECORD) * (count + _WARMUP))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)

        def commit() -> None:
            os.write(fd, RECORD)
            os.fdatasync(fd)

        return sample(commit, count=count, warmup=_WARMUP)
    finally:
        os.close(fd)
        path.unlink()


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


def floor(results: Results, label: str) -> Figure | None:
    """The lower of the floor's measurements (start and end of the run)."""
    measured = [f for f in results.of("floor") if f.contender == label]
    return min(measured, key=lambda f: f.stats.median, default=None)

"""A local store's log files as tests read and write them around the store.

A log holds its records, then spare space (blank lines, or zeros a crash left) that the
next commit overwrites. Tests read the records, and write lines where a writer puts
them: over the spare space, as one that died before indexing them would leave them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def records_end(data: bytes) -> int:
    """Where the records end: at the first line that begins blank (or the end)."""
    end = 0
    while end < len(data) and data[end] not in b"\n\0":
        newline = data.find(b"\n", end)
        end = len(data) if newline < 0 else newline + 1
    return end


def records_of(path: Path) -> bytes:
    """The log's bytes before its spare space."""
    data = path.read_bytes()
    return data[: records_end(data)]


def lines_of(path: Path) -> list[dict[str, Any]]:
    """The log's records, parsed."""
    return [json.loads(line) for line in records_of(path).splitlines()]


def write_at_end(path: Path, data: bytes) -> None:
    """Write ``data`` where the next commit would: right after the records."""
    end = len(records_of(path))
    with path.open("r+b") as file:
        file.seek(end)
        file.write(data)

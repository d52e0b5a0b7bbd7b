"""Figures the reliability tests report: kills survived, faults injected, operations checked.

A test calls :func:`record` with what it did. When ``THREADSTORE_FIGURES`` names a file
(the soak command sets it), each record is appended there as one JSON line, and the soak
command sums them into ``docs/reliability.md``. Otherwise recording does nothing. Tests
assert on behaviour, never on these numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

__all__ = ["ENV_VAR", "record"]

ENV_VAR = "THREADSTORE_FIGURES"


def record(area: str, counts: Mapping[str, float]) -> None:
    """Add ``counts`` (numbers) under ``area`` (e.g. ``"kills/local"``) for this run.

    A name with ``": "`` in it (``"operation: append"``) is a breakdown: the report lists
    it under the area's table rather than as a column of it.
    """
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    line = json.dumps({"area": area, "counts": dict(counts)})
    with open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")

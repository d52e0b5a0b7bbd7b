"""Facts about the machine and software a run measured, for the report's header.

Only what helps read the numbers: CPU count and model, load (a busy machine inflates
every figure), the file system the stores lived on, and the versions of everything
compared. Never a path.
"""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["PACKAGES", "cpu_model", "file_system", "load", "shown", "versions"]

PACKAGES = (
    "threadstore",
    "threadstore-fsspec",
    "threadstore-sql",
    "pydantic",
    "psycopg",
    "sqlalchemy",
    "openai-agents",
    "s3fs",
    "moto",
    "matplotlib",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def file_system(directory: Path) -> str:
    """The type of the file system holding ``directory`` (from /proc/mounts), if known."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(directory.resolve())
    best = ("", "unknown")
    for fields in mounts:
        if len(fields) >= 3:
            point, kind = fields[1], fields[2]
            inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best[0]):
                best = (point, kind)
    return best[1]


def load() -> tuple[float, ...]:
    """The 1-, 5- and 15-minute load averages (empty where the system has none)."""
    try:
        return os.getloadavg()
    except OSError:
        return ()


def shown(averages: tuple[float, ...]) -> str:
    return " / ".join(f"{value:.2f}" for value in averages) or "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, SQLite and every package compared (or "not installed")."""
    found = {
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
    }
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found

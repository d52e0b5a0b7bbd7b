"""What a fresh process pays before its first call: importing threadstore, opening a store.

    python -m benchmarks.startup [--runs N]

Each case is a new ``python -c`` process, timed from spawn to exit; the cases take turns
run by run, so a busy machine weighs on each alike. Bare Python (``pass``) is the floor
every figure is read against; ``import sqlite3`` is the standard library's own store,
for scale. A second pass runs the open with ``-X importtime`` and sums what each
top-level package cost to import, to show where the time goes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from benchmarks.measure import Stats

__all__ = ["BARE", "CASES", "OPEN_MEMORY", "import_costs", "measure", "report"]

BARE = "bare python"
OPEN_MEMORY = "open_store('memory://')"
CASES = {
    BARE: "pass",
    "import sqlite3": "import sqlite3",
    "import threadstore": "import threadstore",
    "import threadstore.models": "import threadstore.models",
    OPEN_MEMORY: "from threadstore import open_store; open_store('memory://')",
    "open_store(a local directory)": (
        "import sys; from threadstore import open_store; open_store(sys.argv[1])"
    ),
    "threadstore --help": "from threadstore.cli import main; main(['--help'])",
}
"""Each case's code, run as ``python -c CODE DIRECTORY`` (a fresh directory per run)."""


def _run_once(code: str, directory: str) -> float:
    """Seconds from spawn to exit of ``python -c code directory``."""
    start = time.perf_counter_ns()
    subprocess.run(
        [sys.executable, "-c", code, directory],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return (time.perf_counter_ns() - start) / 1e9


def measure(runs: int) -> dict[str, Stats]:
    """Every case, ``runs`` times, in turns. With three runs or more, a first round
    (not counted) warms the caches; fewer only check that every case runs."""
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    warm = 1 if runs >= 3 else 0
    with tempfile.TemporaryDirectory(prefix="threadstore-startup-") as root:
        for number in range(runs + warm):
            for name, code in CASES.items():
                seconds = _run_once(code, os.path.join(root, f"{number}-{len(samples[name])}"))
                if number >= warm:
                    samples[name].append(seconds)
    return {name: Stats.of(times) for name, times in samples.items()}


def import_costs(code: str = CASES[OPEN_MEMORY], top: int = 12) -> list[tuple[str, float]]:
    """Seconds of import time per top-level package (``-X importtime``, self times)."""
    with tempfile.TemporaryDirectory(prefix="threadstore-startup-") as root:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code, root],
            check=True,
            capture_output=True,
            text=True,
        )
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*([\w.]+)", line)
        if found:
            package = found.group(2).split(".")[0]
            if package == "threadstore":  # the project's own modules, one by one
                package = ".".join(found.group(2).split(".")[:2])
            costs[package] = costs.get(package, 0.0) + int(found.group(1)) / 1e6
    return sorted(costs.items(), key=lambda item: item[1], reverse=True)[:top]


def report(stats: dict[str, Stats], costs: Sequence[tuple[str, float]]) -> list[str]:
    """The figures as printed lines: each case, and what it adds to bare Python."""
    bare = stats[BARE].median
    lines = [f"{'case':<32} {'median':>9} {'p25-p75':>17} {'above bare python':>18}"]
    for name, figure in stats.items():
        above = "" if name == BARE else f"{(figure.median - bare) * 1e3:+.1f} ms"
        spread = f"{figure.p25 * 1e3:.1f}-{figure.p75 * 1e3:.1f} ms"
        lines.append(f"{name:<32} {figure.median * 1e3:7.1f} ms {spread:>17} {above:>18}")
    lines += ["", f"import time of {OPEN_MEMORY}, by package (self, one run):"]
    lines += [f"  {package:<30} {seconds * 1e3:7.1f} ms" for package, seconds in costs]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each case")
    args = parser.parse_args(argv)
    for line in report(measure(args.runs), import_costs()):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the reliability harness at soak size (or at the CI budget) and publish its figures.

    python -m tests.reliability.soak                  # soak size (see budget.SOAK)
    python -m tests.reliability.soak --ci             # the CI budget, as plain pytest runs it
    python -m tests.reliability.soak --local-kills 500 --s3-kills 100
    python -m tests.reliability.soak -- -k kills      # anything after -- goes to pytest
    python -m tests.reliability.soak --local-engine   # only the local engine's harness

It runs ``pytest tests/reliability`` in a child process with the sizes in the
environment (:mod:`.budget`), collects what each test recorded (:mod:`.figures`), and,
if every test passed, rewrites the matching block of ``docs/reliability.md`` (``--ci``
and soak runs each have their own) with the command, date, machine and the figures.
Wall and CPU time cover every process of the run: this process adopts the orphaned
forkserver (Linux ``PR_SET_CHILD_SUBREAPER``) so the writers it forked are counted too.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import suppress
from pathlib import Path

from .figures import ENV_VAR

__all__ = ["main", "render", "summarise"]

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
DOC = REPOSITORY / "docs" / "reliability.md"
LOCAL_ENGINE = ["test_churn.py", "test_index_damage.py", "test_disk_faults.py", "test_history.py"]
"""The local engine's own harness: ``--local-engine`` runs these alone, with its own figures."""
OPTIONS = {
    "churn_kills": "SIGKILLs of local-disk churn processes",
    "index_damages": "index files damaged",
    "local_kills": "SIGKILLs of local-disk writers",
    "s3_kills": "SIGKILLs of S3 writers",
    "fault_operations": "operations per S3 fault kind",
    "hypothesis_examples": "examples per hostile-input property",
}
SECTIONS = {
    "churn": "Churn: four processes deleting, re-creating and appending to three thread IDs",
    "index": "Index damage (local disk)",
    "disk": "A full or failing disk (local disk): libfiu at every point, and a real tmpfs",
    "kills": "Writers killed with SIGKILL",
    "faults": "S3 through the fault proxy, by fault kind",
    "contention": "Eight processes on one thread, one run",
    "hostile": "Hostile input",
    "secrets": "Secrets",
}
_PR_SET_CHILD_SUBREAPER = 36


def _adopt_orphans() -> None:
    """Become the reaper of orphaned descendants (Linux), so their CPU time is counted."""
    with suppress(OSError, AttributeError):  # not Linux: their time goes uncounted
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap(seconds: float = 30.0) -> None:
    """Wait for the adopted orphans (the forkserver exits once pytest is gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def summarise(lines: list[str]) -> dict[str, dict[str, float]]:
    """Sum the recorded counts per area."""
    areas: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in lines:
        item = json.loads(line)
        for name, value in item["counts"].items():
            areas[item["area"]][name] += value
    return {area: dict(counts) for area, counts in sorted(areas.items())}


def _number(value: float) -> str:
    return f"{value:,.1f}" if value != int(value) else f"{int(value):,}"


def _total(areas: dict[str, dict[str, float]], prefix: str, name: str) -> float:
    return sum(c.get(name, 0) for area, c in areas.items() if area.startswith(prefix))


def _faults(areas: dict[str, dict[str, float]]) -> float:
    """S3 faults, disk faults and index damage: every fault put in the store's way."""
    return (
        _total(areas, "faults/", "injected")
        + _total(areas, "disk/", "faults injected")
        + _total(areas, "index/", "damages")
    )


def render(areas: dict[str, dict[str, float]], heading: str) -> str:
    """The figures as Markdown: a heading line, the totals, then a table per section."""
    kills: dict[str, float] = defaultdict(float)
    for area, counts in areas.items():
        if "kills survived" in counts:
            kills[area.split("/")[1] if area.startswith("kills/") else area] += counts[
                "kills survived"
            ]
    out = [
        heading,
        "",
        "| total | |",
        "|---|---|",
        f"| kills survived | {_number(sum(kills.values()))} "
        f"({', '.join(f'{k} {_number(v)}' for k, v in sorted(kills.items()))}) |",
        f"| faults injected | {_number(_faults(areas))} |",
        f"| operations checked | {_number(_total(areas, '', 'operations checked'))} |",
        f"| hostile inputs tried | {_number(_total(areas, 'hostile/', 'inputs tried'))} |",
        f"| losses | {_number(_total(areas, '', 'losses'))} |",
    ]
    for section, title in SECTIONS.items():
        rows = {area: counts for area, counts in areas.items() if area.split("/")[0] == section}
        if not rows:
            continue
        columns: list[str] = []
        for counts in rows.values():
            columns += [name for name in counts if ": " not in name and name not in columns]
        out += ["", f"**{title}**", "", "| | " + " | ".join(columns) + " |"]
        out.append("|---" * (len(columns) + 1) + "|")
        for area, counts in rows.items():
            cells = [_number(counts[name]) if name in counts else "" for name in columns]
            out.append(f"| {area.split('/', 1)[1]} | " + " | ".join(cells) + " |")
        for area, counts in rows.items():
            details = [f"{name} {_number(v)}" for name, v in sorted(counts.items()) if ": " in name]
            if details:
                out.append(f"\n{area}: " + "; ".join(details))
    return "\n".join(out)


def _write(doc: Path, block: str, run: str) -> None:
    begin, end = f"<!-- figures:{run}:begin -->", f"<!-- figures:{run}:end -->"
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no {begin} ... {end} block to rewrite")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{block}\n{end}", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--ci", action="store_true", help="the CI budget instead of soak size")
    for name, text in OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, help=text)
    parser.add_argument(
        "--local-engine", action="store_true", help="only the local engine's harness"
    )
    parser.add_argument("--no-write", action="store_true", help=f"leave {DOC.name} as it is")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    run = ("local-" if args.local_engine else "") + ("ci" if args.ci else "soak")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADSTORE_RELIABILITY_")}
    env.pop("THREADSTORE_SOAK", None)
    if not args.ci:
        env["THREADSTORE_SOAK"] = "1"
    command = ["python -m tests.reliability.soak"] + (["--ci"] if args.ci else [])
    command += ["--local-engine"] if args.local_engine else []
    targets = [str(HERE / name) for name in LOCAL_ENGINE] if args.local_engine else [str(HERE)]
    for name in OPTIONS:
        value = getattr(args, name)
        if value is not None:
            env[f"THREADSTORE_RELIABILITY_{name.upper()}"] = str(value)
            command.append(f"--{name.replace('_', '-')} {value}")
    timeout = 300 if args.ci else 6 * 3600
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as figures:
        env[ENV_VAR] = figures.name
        _adopt_orphans()
        load = os.getloadavg()[0]
        started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                *targets,
                "-p",
                "no:cacheprovider",
                "-q",
                "-o",
                f"timeout={timeout}",
                *args.pytest_args,
            ],
            cwd=REPOSITORY,
            env=env,
        )
        _reap()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - started
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        areas = summarise(figures.read().splitlines())
    heading = (
        f"`{' '.join(command)}`, {time.strftime('%Y-%m-%d', time.gmtime())} (UTC): "
        f"{'passed' if code == 0 else f'FAILED (pytest exit {code})'} in {wall / 60:.1f} min wall, "
        f"{cpu / 60:.1f} min CPU (all processes); Python {platform.python_version()}, "
        f"{platform.system()}, {os.cpu_count()} CPUs, load average {load:.1f} at the start."
    )
    block = render(areas, heading)
    print("\n" + block)
    if code == 0 and not args.no_write and not args.pytest_args:
        _write(DOC, block, run)
        print(f"\nwrote the {run} figures into {DOC.relative_to(REPOSITORY)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
